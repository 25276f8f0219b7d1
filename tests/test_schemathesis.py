"""schemathesis runs Clerk's spec, limited to the sandbox's 15 Users operations, against the emulator
(in process, through schemathesis' ASGI transport) with the bearer key: no server error (5xx), and every
response conforms to the spec's schema for its status code. The same operations without a valid key get
Clerk's 401, and the `/_sandbox/` harness endpoints, described from their own field tables
(`harness_spec`), answer any input with a success or a Clerk-shaped 4xx, never a 5xx.

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
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, billing, create_app, fixtures, harness, oauth
from clerk_mcp.sandbox.errors import catalogue
from clerk_mcp.sandbox.fixtures import default_seed

from conftest import spec

OPERATION_IDS = [op.operation_id for op in OPERATIONS]
SEEDED = {
    "user_id": [user["id"] for user in default_seed()["users"]],
    "provider": ["oauth_google", "oauth_github"],
    # toolset identifiers: the seed's email addresses, phone numbers, wallets and external accounts
    **{param: [item["id"] for user in default_seed()["users"] for item in user.get(key, []) if isinstance(item, dict) and "id" in item]
       for param, key in (("email_address_id", "email_addresses"), ("phone_number_id", "phone_numbers"),
                          ("web3_wallet_identification_id", "web3_wallets"), ("external_account_id", "external_accounts"))},
    **{
        name: [item["id"] for user in default_seed()["users"] for item in user.get(key, [])]
        for name, key in (("session_id", "sessions"), ("passkey_identification_id", "passkeys"), ("trusted_device_id", "trusted_devices"))
    },
}


def clerk_spec() -> dict[str, Any]:
    """Clerk's spec, with the 200 of GetOAuthAccessToken and GetSessionList also allowing the paginated envelope
    (paginated=true) around their arrays."""
    document = copy.deepcopy(spec())
    for response in ("OAuthAccessToken", "Session.List"):
        content = document["components"]["responses"][response]["content"]["application/json"]
        items = content["schema"]
        content["schema"] = {"oneOf": [items, {
            "type": "object", "additionalProperties": False, "required": ["data", "total_count"],
            "properties": {"data": items, "total_count": {"type": "integer"}},
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
    assert included == set(OPERATION_IDS) and len(included) == len(OPERATIONS)


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


def clerk_error_body(response: Any, *, status: int | None = None) -> None:
    """A 4xx with the body of a catalogue entry (of that status, when given)."""
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["errors"][0]
    assert (error["code"], response.status_code) in {(e.code, e.status) for e in catalogue().values()}, response.text
    assert error["message"] and error["long_message"]
    if status is not None:
        assert response.status_code == status


@schema.parametrize()
@settings(max_examples=3, phases=[Phase.generate], deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_requests_without_the_key_get_clerks_401(case: schemathesis.Case):
    """No key, a wrong one, or a malformed header: Clerk's 401, whatever the rest of the request."""
    for authorization in (None, "Bearer sk_test_not_the_key", "Basic c2s="):
        clerk_error_body(case.call(headers={"Authorization": authorization} if authorization else {}), status=401)


# -- the harness endpoints -----------------------------------------------------------------------------------

_OPENAPI_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "boolean": {"type": "boolean"}, "object": {"type": "object"}, "json": {}}


def _schema(kind: str) -> dict[str, Any]:
    """The harness's field notation ("type", "type?" nullable, "type[]") as an OpenAPI 3.0 schema."""
    if kind.endswith("[]"):
        return {"type": "array", "items": _schema(kind[:-2]), "maxItems": 3}
    base = dict(_OPENAPI_TYPES[kind.rstrip("?")])
    return {**base, "nullable": True} if kind.endswith("?") else base


def harness_spec() -> dict[str, Any]:
    """An OpenAPI document for /_sandbox/, from the field tables the harness checks bodies against."""
    def post(fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
        body = {"type": "object", "properties": {name: _schema(kind) for name, kind in fields.items()}, "additionalProperties": False}
        if required:
            body["required"] = list(required)
        return {"post": {
            "requestBody": {"required": False, "content": {"application/json": {"schema": body}}},
            "responses": {"default": {"description": "any"}},
        }}

    plain = {"responses": {"default": {"description": "any"}}}
    return {
        "openapi": "3.0.3", "info": {"title": "clerk-mcp sandbox harness", "version": "1"},
        "paths": {
            "/_sandbox/reset": post(harness.RESET_FIELDS),
            "/_sandbox/seed": post(fixtures.FIXTURE_FIELDS),
            "/_sandbox/oauth_accounts": post(fixtures.ACCOUNT_FIELDS | {"user_id": "string"}, ("user_id", "provider")),
            "/_sandbox/organization_memberships": post(fixtures.MEMBERSHIP_FIELDS, ("user_id",)),
            "/_sandbox/sign_ins": post({"user_id": "string"}, ("user_id",)),
            "/_sandbox/passkeys": post(fixtures.PASSKEY_FIELDS | {"user_id": "string"}, ("user_id",)),
            "/_sandbox/trusted_devices": post(
                fixtures.TRUSTED_DEVICE_FIELDS | {"user_id": "string"}, ("user_id", "platform", "app_identifier")
            ),
            "/_sandbox/organization_invitations": post(fixtures.INVITATION_FIELDS, ("email_address", "organization_id")),
            "/_sandbox/faults": {**post(harness.FAULT_FIELDS), "get": plain, "delete": plain},
            "/_sandbox/requests": {"get": plain, "delete": plain},
            "/_sandbox/clock": {**post({"freeze_at": "integer", "advance_ms": "integer", "unfreeze": "boolean"}), "get": plain},
            "/_sandbox/oauth/tokens": post(oauth.MINT_FIELDS, ("user_id",)),
            "/_sandbox/oauth/revoke": post(oauth.REVOKE_FIELDS, ("access_token",)),
            "/_sandbox/oauth/rotate_key": post({"keep_previous": "boolean"}),
            "/_sandbox/billing_subscriptions": post(billing.SUBSCRIPTION_FIELDS | {"user_id": "string"}, ("user_id",)),
        },
    }


harness_schema = schemathesis.openapi.from_dict(harness_spec())
harness_schema.app = create_app()


@harness_schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_harness_answers_any_input_without_a_5xx(case: schemathesis.Case):
    """Valid and invalid bodies: a success or a Clerk-shaped 4xx; no fault that is not valid is ever armed."""
    sandbox = harness_schema.app.state.sandbox
    armed = len(sandbox.faults.list())
    response = case.call(headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"})
    if response.status_code >= 400:
        clerk_error_body(response)
        assert len(sandbox.faults.list()) in (armed, 0)  # nothing armed by a refused request
    for fault in sandbox.faults.list():
        harness.check_fault(harness.Fault(**fault))  # every armed fault passes the checks it was armed through
    sandbox.faults.clear()
