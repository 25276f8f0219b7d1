"""Every response Clerk's spec allows passes through the tools and fits the published output schema.

Responses are built from the spec's own 200-response schemas (not from our result models): every nullable
field null, every optional field absent, unknown extra fields present, and random mixtures (hypothesis).
Each goes through the adapter and result shaping of a real tool call, and the structured content is checked
against the tool's `outputSchema` with a JSON Schema validator, as MCP clients do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS, Operation
from conftest import _deref, make_server, spec_arguments, spec_operation, text_of

INT64 = 2**63 - 1
EXTRA = {"x_field_clerk_may_add_later": {"nested": [1, "two", None]}}


def response_schema(op: Operation) -> dict[str, Any]:
    _, _, operation = spec_operation(op.operation_id)
    return _deref(operation["responses"]["200"])["content"]["application/json"]["schema"]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema behind `$ref`s, with `allOf` parts merged."""
    schema = _deref(schema)
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in map(resolve, schema["allOf"]):
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.setdefault("type", part.get("type"))
        return merged
    return schema


def extreme(schema: dict[str, Any], *, nulls: bool, optional: bool, depth: int = 0) -> Any:
    """One deterministic instance: nullable fields null (`nulls`), optional fields present or absent (`optional`)."""
    schema = resolve(schema)
    if nulls and schema.get("nullable"):
        return None
    if "oneOf" in schema or "anyOf" in schema:
        return extreme(next(iter(schema.get("oneOf") or schema["anyOf"])), nulls=nulls, optional=optional, depth=depth)
    kind = schema.get("type")
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    if kind == "array":
        return [extreme(schema.get("items", {}), nulls=nulls, optional=optional, depth=depth + 1)] if depth < 6 else []
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {
            **{
                name: extreme(sub, nulls=nulls, optional=optional, depth=depth + 1)
                for name, sub in schema.get("properties", {}).items()
                if name in required or optional
            },
            **EXTRA,
        }
    return {"string": "s", "integer": 1, "number": 1.5, "boolean": True}.get(kind, {})


def instances(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Any instance of `schema`: optional fields present or not, nullable fields null or not, extras or not."""
    schema = resolve(schema)
    inner = _instances(schema, depth)
    return st.none() | inner if schema.get("nullable") else inner


def _instances(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "oneOf" in schema or "anyOf" in schema:
        return st.one_of([instances(arm, depth) for arm in schema.get("oneOf") or schema["anyOf"]])
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        return st.text(max_size=12)
    if kind == "integer":
        return st.integers(-INT64 - 1, INT64)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(instances(schema.get("items", {}), depth + 1), max_size=2 if depth < 4 else 0)
    if kind == "object" or "properties" in schema:
        properties = {name: instances(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        fields = st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={**{k: v for k, v in properties.items() if k not in required}, **{k: st.just(v) for k, v in EXTRA.items()}},
        )
        return fields
    return st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=2)


class Stand:
    """A Clerk stand-in answering every request with the body under test."""

    body: Any = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.body)


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[BlockingPortal, Client, Stand, dict[str, Any]]]:
    """One server and client for the module (a server per body would cost a second per op)."""
    stand = Stand()
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        Client(make_server(stand, confirm="approve", verify_attempts=1_000_000))
    ) as client:
        schemas = {tool.name: tool.output_schema for tool in portal.call(client.list_tools).tools}
        yield portal, client, stand, schemas


def assert_fits(session: Any, op: Operation, body: Any, arguments: dict[str, Any]) -> None:
    """Clerk answers `body`; the tool's result is no error and its structured content fits the published schema.

    The MCP client validates it too, and raises if it does not fit.
    """
    portal, client, stand, schemas = session
    stand.body = body
    result = portal.call(client.call_tool, op.name, arguments)
    assert not result.is_error, (op.name, text_of(result), body)
    validator = Draft202012Validator(schemas[op.name])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(result.structured_content)]
    assert not errors, (op.name, errors, body)


def arguments_for(op: Operation) -> list[dict[str, Any]]:
    """The call with its required arguments and, for the user list, in both views."""
    base = spec_arguments(op, required_only=True)
    return [{**base, "view": "summary"}, {**base, "view": "full"}] if "view" in op.args.model_fields else [base]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize(("nulls", "optional"), [(True, True), (True, False), (False, True), (False, False)],
                         ids=["all-present-nullables-null", "required-only-nullables-null", "all-present", "required-only"])
def test_the_spec_s_extreme_responses_fit_the_output_schema(session, op, nulls, optional):
    body = extreme(response_schema(op), nulls=nulls, optional=optional)
    for arguments in arguments_for(op):
        assert_fits(session, op, body, arguments)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_any_response_the_spec_allows_fits_the_output_schema(session, op):
    schema = response_schema(op)
    arguments = arguments_for(op)

    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=instances(schema), which=st.sampled_from(arguments))
    def check(body: Any, which: dict[str, Any]) -> None:
        assert_fits(session, op, body, which)

    check()


def test_a_token_that_never_expires_fits(session):
    """GitHub's OAuth tokens have `expires_at: null`; the spec says nullable, so the schema must too."""
    (op,) = [op for op in OPERATIONS if op.name == "get_o_auth_access_token"]
    token = extreme(response_schema(op), nulls=False, optional=True)[0]
    assert_fits(session, op, [{**token, "expires_at": None}], spec_arguments(op, required_only=True))
