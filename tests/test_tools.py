"""tools/list through an in-process MCP client: the 15 tools, their annotations, and their input schemas.

The tool set is iterated from `OPERATIONS`; only `test_the_specified_tool_names` pins the names the
project was specified with.
"""

from __future__ import annotations

import json

import pytest
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS, Effect, compact_schema
from clerk_mcp.operations import STATUS_TOOL as STATUS

from conftest import USER_ID, spec_arguments, spec_body, spec_parameters, text_of
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

READ_TOOLS = {op.name for op in OPERATIONS if op.effect is Effect.READ}


async def list_tools(server, mode: str = "legacy"):
    async with Client(server, mode=mode) as client:
        return {tool.name: tool for tool in (await client.list_tools()).tools}


def test_the_specified_tool_names():
    # The one hand-written list: the operation names the project was specified with.
    assert sorted(op.name for op in OPERATIONS if op.toolset == "users") == [
        "ban_user", "create_user", "delete_user", "disable_mfa", "get_o_auth_access_token", "get_user",
        "get_user_list", "get_users_count", "set_user_profile_image", "unban_user", "update_user",
        "update_user_metadata", "users_get_organization_memberships", "verify_password", "verify_totp",
    ]  # fmt: skip
    assert len({op.operation_id for op in OPERATIONS if op.toolset == "users"}) == 15
    assert len({op.operation_id for op in OPERATIONS}) == len(OPERATIONS)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_list_is_exactly_the_operation_table(server_factory, mode):
    tools = await list_tools(server_factory(), mode)
    assert list(tools) == [op.name for op in OPERATIONS] + [STATUS]
    for op in OPERATIONS:
        tool = tools[op.name]
        assert tool.title == op.title and tool.annotations.title == op.title
        assert tool.description == op.description and tool.description.strip()
        assert tool.input_schema["type"] == "object"
        # Left out for google-genai (it crashes on it); unknown arguments are refused all the same (test below).
        assert "additionalProperties" not in json.dumps(tool.input_schema)
        assert tool.output_schema and tool.output_schema["type"] == "object"


async def test_annotations_follow_the_effect_class(server_factory):
    tools = await list_tools(server_factory())
    for op in OPERATIONS:
        a = tools[op.name].annotations
        assert a.read_only_hint is (op.effect is Effect.READ), op.name
        if op.effect is Effect.DESTRUCTIVE:
            assert a.destructive_hint is True, op.name
        else:
            # Explicitly false: MCP's default for destructiveHint is true.
            assert a.destructive_hint is False, op.name
        assert a.open_world_hint is (op.effect is Effect.SECRET), op.name
        assert a.idempotent_hint is op.idempotent, op.name
    status = tools[STATUS].annotations
    assert status.read_only_hint is True and status.destructive_hint is False and status.open_world_hint is False


async def test_annotation_invariants_on_the_wire(server_factory):
    """The static check design §3 asks for, on the JSON a client receives."""
    tools = await list_tools(server_factory())
    for op in OPERATIONS:
        wire = tools[op.name].model_dump(mode="json", by_alias=True, exclude_none=True)["annotations"]
        if op.effect is not Effect.READ:
            assert wire["readOnlyHint"] is False, op.name
        if op.effect is Effect.DESTRUCTIVE:
            assert wire["destructiveHint"] is True, op.name
        if op.effect in (Effect.WRITE, Effect.VERIFY, Effect.SECRET):
            assert wire["destructiveHint"] is False, op.name
        if op.effect is Effect.SECRET:
            assert wire["openWorldHint"] is True, op.name
    assert len([op for op in OPERATIONS if op.toolset == "users" and op.name in READ_TOOLS]) == 4


async def test_every_input_schema_lists_every_spec_parameter(server_factory):
    tools = await list_tools(server_factory())
    for op in OPERATIONS:
        properties = set(tools[op.name].input_schema["properties"])
        expected = set(spec_parameters(op.operation_id))
        content_type, body = spec_body(op.operation_id)
        if content_type == "multipart/form-data":
            expected |= {"file_base64", "filename"}
        else:
            expected |= set(body.get("properties", {}))
        assert expected <= properties, (op.name, sorted(expected - properties))
        required = set(tools[op.name].input_schema.get("required", []))
        spec_required = {n for n, p in spec_parameters(op.operation_id).items() if p.get("required")}
        spec_required |= set(body.get("required", [])) if content_type == "application/json" else set()
        if content_type == "multipart/form-data":
            spec_required |= {"file_base64", "filename"}
        assert required == spec_required, op.name


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
async def test_every_spec_parameter_is_accepted(clerk, server_factory, op):
    arguments = spec_arguments(op)
    async with Client(server_factory(confirm="approve")) as client:
        result = await client.call_tool(op.name, arguments)
    assert not result.is_error, text_of(result)
    assert len(clerk.requests) == 1
    assert clerk.requests[0].method == op.method


UNKNOWN = ["confirm", "confirmed", "force", "approval", "metadata", "emailAddress"]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("confirm_mode", ["elicit", "approve"])
async def test_unknown_arguments_are_rejected_and_nothing_is_sent(clerk, server_factory, op, confirm_mode):
    async with Client(server_factory(confirm=confirm_mode), elicitation_callback=_must_not_ask) as client:
        for name in UNKNOWN:
            result = await client.call_tool(op.name, {**spec_arguments(op, required_only=True), name: True})
            assert result.is_error
            text = text_of(result)
            assert f"{name}: unknown argument" in text, text
            assert payload(result)["error"] == "invalid_arguments"
    assert clerk.requests == []


# Values of the wrong JSON type for each schema type: none may be coerced into the right one.
WRONG_TYPES = {"integer": [True, "5", 5.5], "boolean": ["true", 1, 0]}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
async def test_a_value_of_the_wrong_type_is_refused_naming_the_field(clerk, server_factory, op):
    schema = compact_schema(op.args)
    typed = {name: prop["type"] for name, prop in schema["properties"].items() if prop.get("type") in WRONG_TYPES}
    async with Client(server_factory(confirm="approve"), elicitation_callback=_must_not_ask) as client:
        for name, kind in typed.items():
            for wrong in WRONG_TYPES[kind]:
                result = await client.call_tool(op.name, {**spec_arguments(op, required_only=True), name: wrong})
                assert result.is_error, (op.name, name, wrong)
                assert payload(result)["problems"] == [f"{name}: Input should be a valid {kind}"], text_of(result)
    assert clerk.requests == []


async def _must_not_ask(context, params):  # pragma: no cover - failing path
    raise AssertionError("an invalid call must not ask for confirmation")


async def test_update_user_does_not_take_metadata(clerk, server_factory):
    async with Client(server_factory(confirm="approve")) as client:
        for field in ("public_metadata", "private_metadata", "unsafe_metadata"):
            result = await client.call_tool("update_user", {"user_id": USER_ID, field: {"a": 1}})
            assert result.is_error and f"{field}: unknown argument" in text_of(result)
    assert clerk.requests == []


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("get_user_list", {"limit": 0}, "limit"),
        ("get_user_list", {"limit": 501}, "limit"),
        ("get_user_list", {"offset": -1}, "offset"),
        ("get_user_list", {"order_by": "password"}, "order_by"),
        ("get_user_list", {"email_address": "a@example.com"}, "email_address"),
        ("get_users_count", {"user_id": [f"user_{i}" for i in range(101)]}, "user_id"),  # Clerk caps at 100 values
        ("get_user_list", {"banned": "maybe"}, "banned"),
        ("get_user_list", {"view": "everything"}, "view"),
        ("users_get_organization_memberships", {"user_id": USER_ID, "limit": 1000}, "limit"),
        ("create_user", {"email_address_identification_status": ["pending"]}, "email_address_identification_status"),
        ("verify_password", {"user_id": USER_ID}, "password"),
        ("verify_totp", {"user_id": USER_ID, "code": ""}, "code"),
        ("get_o_auth_access_token", {"user_id": USER_ID, "provider": "../x"}, "provider"),
        ("set_user_profile_image", {"user_id": USER_ID, "file_base64": "iVBORw0KGgo=", "filename": "a.exe"}, "filename"),
        ("set_user_profile_image", {"user_id": USER_ID, "file_base64": "not base64!", "filename": "a.png"}, "base64"),
        ("set_user_profile_image", {"user_id": USER_ID, "file_base64": "R0lGODlhAQABAAAAACw=", "filename": "a.png"}, "png"),
    ],
)
async def test_invalid_values_name_the_field_and_send_nothing(clerk, server_factory, tool, arguments, field):
    async with Client(server_factory(confirm="approve")) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert field in text_of(result)
    assert clerk.requests == []


async def test_unknown_tool_is_an_error_naming_the_available_ones(clerk, server_factory):
    async with Client(server_factory()) as client:
        result = await client.call_tool("drop_all_users", {})
    assert result.is_error
    assert "unknown tool" in text_of(result) and "get_user" in text_of(result)
    assert clerk.requests == []


async def test_a_query_too_long_for_a_url_is_an_invalid_argument_and_nothing_is_sent(clerk, server_factory):
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_user_list", {"query": "q" * 70_000})
        preview = await client.call_tool("get_users_count", {"email_address": ["a" * 70_000]})
    for refused in (result, preview):
        assert refused.is_error and payload(refused)["error"] == "invalid_arguments", text_of(refused)
        assert "URL too long" in text_of(refused) and "failed inside clerk-mcp" not in text_of(refused)
    assert clerk.requests == []
