"""Property-based: arguments generated from each tool's own input schema (schema-valid) and broken on purpose
(wrong types, unknown keys, stray values) never crash the server. Every answer is a result or a clear,
typed error — never a traceback, an empty message or a sandbox 5xx.

The embedded sandbox is the backend and confirmation mode is `deny`, so no destructive call runs.
One in-process MCP session serves every example (through a blocking portal) to keep the run short.
The strategies are built from the schemas by `from_schema` below: the published input schemas use only
type, properties, required, items, enum, pattern and length/range limits (hypothesis-jsonschema does not
work with current Hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox.fixtures import default_seed
from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings
from clerk_mcp.views import payload

# The in-process sandbox never times out or drops: only validation, policy and Clerk-style errors are expected.
ERROR_KINDS = {"invalid_arguments", "refused", "clerk_api_error"}
FUZZ = settings(
    max_examples=25, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


SEED_USER_IDS = [user["id"] for user in default_seed()["users"]]


def from_schema(schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values valid for `schema`; a `user_id` is often a seeded user so that calls get past the 404."""
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, name) for k in kind])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda v: len(v) <= schema.get("maxLength", 200))
        text = st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
        return st.sampled_from(SEED_USER_IDS) | text if name == "user_id" else text
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=3)
    if kind == "object" and "properties" in schema:
        properties = {key: from_schema(sub, key) for key, sub in schema["properties"].items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={k: v for k, v in properties.items() if k not in required},
        )
    if kind == "object":
        return st.dictionaries(st.text(max_size=8), JSON, max_size=3)
    return JSON


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[BlockingPortal, Client, dict[str, Any]]]:
    server = build_server(Settings(confirm="deny"))
    schemas = {name: tool.input_schema for name, tool in server.tool_definitions.items()}
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(server)) as client:
        yield portal, client, schemas


def check(session: tuple[BlockingPortal, Client, dict[str, Any]], tool: str, arguments: dict[str, Any]) -> None:
    portal, client, _ = session
    result = portal.call(client.call_tool, tool, arguments)
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    assert text.strip(), result
    assert "Traceback" not in text and "Error executing tool" not in text, text
    if result.is_error:
        # An error matches no output schema, so it carries none (TypeScript clients validate it even on errors).
        assert result.structured_content is None, result
        details = payload(result)
        assert details.get("error") in ERROR_KINDS, result
        assert details.get("status", 0) < 500, result  # a sandbox crash would show as a 5xx
    else:
        assert result.structured_content is not None


def broken(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid arguments with one thing wrong: a property of the wrong type, an unknown key, or pure noise."""
    properties = sorted(schema.get("properties", {}))
    valid = from_schema(schema)
    wrong_type = (
        st.tuples(valid, st.sampled_from(properties), JSON).map(lambda t: {**t[0], t[1]: t[2]}) if properties else st.nothing()
    )
    unknown_key = st.tuples(valid, JSON).map(lambda t: {**t[0], "not_a_parameter": t[1]})
    return wrong_type | unknown_key | st.dictionaries(st.text(max_size=12), JSON, max_size=4)


@pytest.mark.parametrize("tool", [op.name for op in OPERATIONS])
def test_valid_arguments_from_the_schema(session: Any, tool: str):
    @FUZZ
    @given(arguments=from_schema(session[2][tool]))
    def run(arguments: dict[str, Any]) -> None:
        check(session, tool, arguments)

    run()


@pytest.mark.parametrize("tool", [op.name for op in OPERATIONS])
def test_broken_arguments(session: Any, tool: str):
    @FUZZ
    @given(arguments=broken(session[2][tool]))
    def run(arguments: dict[str, Any]) -> None:
        check(session, tool, arguments)

    run()
