"""schemathesis runs Clerk's spec, limited to the sandbox's 15 Users operations, against the emulator
(in process, through schemathesis' ASGI transport) with the bearer key: no server error (5xx), and every
response conforms to the spec's schema for its status code.

One gap in the spec is filled first (`clerk_spec`): with `paginated=true` — which Clerk's JavaScript SDK
always sends — GetOAuthAccessToken answers `{data, total_count}`, while the spec documents only the bare array.

Half the generated user ids are seeded users (and providers seeded ones), so calls reach the success
responses too, not only the 404s; the emulator is reseeded before each operation. Examples are derandomized (as in test_fuzz.py): the run is
the same every time, ~10 s.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.fixtures import default_seed

from conftest import spec

OPERATION_IDS = [op.operation_id for op in OPERATIONS]
SEEDED = {
    "user_id": [user["id"] for user in default_seed()["users"]],
    "provider": ["oauth_google", "oauth_github"],
}


def clerk_spec() -> dict[str, Any]:
    """Clerk's spec, with GetOAuthAccessToken's 200 also allowing the paginated envelope around the token array."""
    document = copy.deepcopy(spec())
    content = document["components"]["responses"]["OAuthAccessToken"]["content"]["application/json"]
    tokens = content["schema"]
    content["schema"] = {"oneOf": [tokens, {
        "type": "object", "additionalProperties": False, "required": ["data", "total_count"],
        "properties": {"data": tokens, "total_count": {"type": "integer"}},
    }]}
    return document


schema = schemathesis.openapi.from_dict(clerk_spec()).include(operation_id=OPERATION_IDS)
schema.app = create_app()


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
    """Each path parameter with seeded values is one of them half the time."""
    choices = {name: st.sampled_from(SEEDED[name]) | st.just(value) for name, value in (path_parameters or {}).items() if name in SEEDED}
    return st.fixed_dictionaries(choices).map(lambda chosen: {**path_parameters, **chosen}) if choices else st.just(path_parameters)


@schema.hook
def filter_path_parameters(context: Any, path_parameters: dict[str, Any]) -> bool:
    """A user_id of "count" is `GET /users/count`, its own operation (on Clerk too), not GetUser's."""
    return (path_parameters or {}).get("user_id") != "count"


@pytest.fixture(autouse=True)
def _reseed() -> None:
    schema.app.state.sandbox.reset(seed=True)


def test_the_spec_has_every_sandbox_operation():
    included = {result.ok().definition.raw["operationId"] for result in schema.get_all_operations()}
    assert included == set(OPERATION_IDS) and len(included) == 15


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_emulator_answers_the_spec(case: schemathesis.Case):
    """Generated and coverage cases, valid and invalid: no 5xx, and each response is the spec's for its status."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}, checks=[not_a_server_error, response_schema_conformance],
    )


def test_a_search_holding_a_nul_is_answered():
    """Found by this run: a NUL ended the FTS5 trigram phrase early ("unterminated string", a 500)."""
    from starlette.testclient import TestClient

    with TestClient(create_app(), headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as client:
        response = client.get("/v1/users/count", params={"query": "jan\0e", "email_address_query": "a\0bc"})
    assert response.status_code == 200 and response.json()["total_count"] == 0
