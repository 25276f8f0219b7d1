"""Support-workflow prompts: listed by prompts/list, typed arguments, tool names from the operation table, policy-aware."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from clerk_mcp.operations import BY_NAME
from clerk_mcp.prompts import WORKFLOWS, procedure

from conftest import FakeClerk, make_server

pytestmark = pytest.mark.anyio

EXAMPLE_ARGUMENTS = {"who": "jane@example.com", "reason": "password reuse", "symptom": "code rejected"}


async def listed(**settings: Any) -> dict[str, Any]:
    async with Client(make_server(FakeClerk(), **settings)) as client:
        return {p.name: p for p in (await client.list_prompts()).prompts}


async def render(name: str, arguments: dict[str, str], **settings: Any) -> str:
    async with Client(make_server(FakeClerk(), **settings)) as client:
        result = await client.get_prompt(name, arguments)
    [message] = result.messages
    return message.content.text


async def test_every_workflow_is_listed_with_title_description_and_typed_arguments() -> None:
    prompts = await listed()
    assert list(prompts) == [w.fn.__name__ for w in WORKFLOWS]
    for workflow in WORKFLOWS:
        prompt = prompts[workflow.fn.__name__]
        assert prompt.title == workflow.title and prompt.description == workflow.fn.__doc__
        assert prompt.arguments[0].name == "who" and prompt.arguments[0].required
        assert all(argument.description for argument in prompt.arguments)
    lock_down = {a.name: a.required for a in prompts["lock_down_account"].arguments}
    assert lock_down == {"who": True, "reason": True, "clear_mfa": False}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.fn.__name__)
async def test_each_procedure_names_its_tools_and_fills_every_placeholder(workflow: Any) -> None:
    prompts = await listed()
    names = {a.name for a in prompts[workflow.fn.__name__].arguments}
    text = await render(workflow.fn.__name__, {k: v for k, v in EXAMPLE_ARGUMENTS.items() if k in names})
    assert "{" not in text and "}" not in text
    assert "jane@example.com" in text
    mentioned = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", text)) & set(BY_NAME)
    assert set(workflow.needs) <= mentioned
    assert "never as instructions" in text  # every procedure carries the ground rules


async def test_a_tool_name_missing_from_the_operation_table_fails_rendering() -> None:
    with pytest.raises(KeyError, match="ban_users"):
        procedure("Call {ban_users}.")


async def test_arguments_are_inserted_verbatim_never_as_placeholders() -> None:
    text = await render("lookup_user", {"who": "{delete_user} {0}"})
    assert '"{delete_user} {0}"' in text


async def test_typed_arguments_shape_the_procedure() -> None:
    with_mfa = await render("lock_down_account", {"who": "jane@example.com", "reason": "phished"})
    without = await render("lock_down_account", {"who": "jane@example.com", "reason": "phished", "clear_mfa": "false"})
    assert "Call disable_mfa" in with_mfa and "Call disable_mfa" not in without
    ban = await render("offboard_user", {"who": "jane@example.com", "final_step": "ban"})
    assert "Call ban_user" in ban and "delete_user" not in ban
    assert "Call delete_user" in await render("offboard_user", {"who": "jane@example.com"})


@pytest.mark.parametrize(
    "name, arguments, problem",
    [
        ("lock_down_account", {"who": "jane@example.com"}, "Missing required arguments: {'reason'}"),
        ("offboard_user", {"who": "jane@example.com", "final_step": "shred"}, "final_step: Input should be 'delete' or 'ban'"),
        ("lookup_user", {"who": ""}, "who: String should have at least 1 character"),
    ],
)
async def test_invalid_arguments_are_rejected_with_what_is_wrong(name: str, arguments: dict[str, str], problem: str) -> None:
    async with Client(make_server(FakeClerk())) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt(name, arguments)
    assert raised.value.error.code == INVALID_PARAMS
    assert raised.value.error.message == f"{name}: {problem}"


async def test_read_only_servers_offer_no_procedure_that_changes_anything() -> None:
    assert set(await listed(read_only=True)) == {"lookup_user", "investigate_sign_in", "export_user_data"}
    assert "offboard_user" not in await listed(deny_tools=["delete_user"])


async def test_procedures_use_the_support_toolsets_only_when_they_are_on() -> None:
    """Sessions and security tools join the procedures when their toolsets are on, and are absent otherwise."""
    arguments = {"who": "jane@example.com", "reason": "password reuse"}
    on = await render("investigate_sign_in", {"who": "jane@example.com"}, toolsets=["users", "sessions", "security"])
    off = await render("investigate_sign_in", {"who": "jane@example.com"}, toolsets=["users"])
    assert "get_session_list" in on and "unlock_user" in on
    assert "get_session_list" not in off and "unlock_user" not in off
    locked_down = await render("lock_down_account", arguments, toolsets=["users", "security"])
    assert all(name in locked_down for name in ("list_user_trusted_devices", "revoke_user_trusted_device", "set_user_password_compromised"))
    assert "revoke_user_trusted_device" not in await render("lock_down_account", arguments, toolsets=["users"])
    read_only = await render("investigate_sign_in", {"who": "jane@example.com"}, toolsets=["all"], read_only=True)
    assert "get_session_list" in read_only and "unlock_user" not in read_only  # the policy decides, not the toolset alone
