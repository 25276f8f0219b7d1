"""Property-based: arguments generated from each tool's own input schema (schema-valid) and broken on purpose
(wrong types, unknown keys, stray values) never crash the server. Every answer is a result or a clear,
typed error — never a traceback, an empty message or a sandbox 5xx. The sandbox itself, sent any JSON
(lone surrogates, NULs, over-long passwords, odd nesting) on its write operations and harness endpoints,
answers a success or a catalogue 4xx.

The embedded sandbox is the backend and confirmation mode is `deny`, so no destructive call runs.
One in-process MCP session serves every example (through a blocking portal) to keep the run short.
The strategies are built from the schemas by `from_schema` below: the published input schemas use only
type, properties, required, items, enum, pattern and length/range limits (hypothesis-jsonschema does not
work with current Hypothesis).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client import Client
from starlette.testclient import TestClient

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.errors import catalogue
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
    server = build_server(Settings(confirm="deny", toolsets=["all"]))
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


# -- the sandbox itself, under raw HTTP ------------------------------------------------------------------------

# Text with what breaks naive servers: lone surrogates (as JSON escapes), NULs, long strings.
HOSTILE_TEXT = st.text(max_size=20) | st.sampled_from(["\ud800", "a\udfffb", "\0", "$2-not-a-bcrypt-hash", "é" * 40, "A" * 73])
HOSTILE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def sandbox_client() -> Iterator[TestClient]:
    with TestClient(create_app(), headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as client:
        yield client


def sandbox_answer_is_clean(response: Any) -> None:
    """A success, or a 4xx carrying a catalogue entry's code: never a 5xx or a body of our own."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["errors"][0]
        assert (error["code"], response.status_code) in {(e.code, e.status) for e in catalogue().values()}, response.text


@pytest.mark.parametrize("operation", [op.name for op in OPERATIONS if op.method != "GET"])
def test_sandbox_answers_any_json_body(sandbox_client: Any, operation: str):
    """Any JSON (or nested fields of a real request made wrong) posted to a write operation of a seeded user."""
    op = next(o for o in OPERATIONS if o.name == operation)
    path = "/v1" + op.path.replace("{user_id}", SEED_USER_IDS[1]).replace("{provider}", "oauth_google")

    @FUZZ
    @given(body=HOSTILE_JSON | st.dictionaries(st.sampled_from(sorted(op.args.model_fields)), HOSTILE_JSON, max_size=4))
    def run(body: Any) -> None:
        content = json.dumps(body)  # lone surrogates travel as \ud800 escapes, as a client library would send them
        sandbox_answer_is_clean(sandbox_client.request(op.method, path, content=content, headers={"Content-Type": "application/json"}))

    run()


@pytest.mark.parametrize("path", ["/_sandbox/faults", "/_sandbox/seed", "/_sandbox/reset", "/_sandbox/oauth_accounts", "/_sandbox/organization_memberships", "/_sandbox/clock",
                                  "/_sandbox/billing_subscriptions"])
def test_sandbox_harness_answers_any_json_body(sandbox_client: Any, path: str):
    @FUZZ
    @given(body=HOSTILE_JSON)
    def run(body: Any) -> None:
        response = sandbox_client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        sandbox_answer_is_clean(response)
        sandbox_client.delete("/_sandbox/faults")

    run()
    sandbox_client.post("/_sandbox/reset", json={"seed": True})
