"""Toolsets (design §2): the `toolset` column of the operation table decides what a server offers.

Through the public surface: an MCP client listing and calling tools, and the CLI as an operator runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import APPROVE, SECRET_KEY, FakeClerk, answering, make_server
from mcp.client import Client

from mcp_types import ElicitResult

from clerk_mcp.operations import BY_NAME, OPERATIONS, STATUS_TOOL, TOOLSETS, toolset_names, toolset_operations
from clerk_mcp.settings import SettingsError, load_settings
from clerk_mcp.toolsets import tool_tokens

pytestmark = pytest.mark.anyio


async def listed(server) -> list[str]:
    async with Client(server) as client:
        return [t.name for t in (await client.list_tools()).tools]


def test_every_operation_is_in_a_described_toolset_and_users_is_the_first():
    assert {op.toolset for op in OPERATIONS} <= set(TOOLSETS)
    assert toolset_names()[0] == "users"
    assert len(toolset_operations("users")) == 15


async def test_the_default_offers_the_users_toolset_only(clerk: FakeClerk):
    names = await listed(make_server(clerk, toolsets=load_settings().toolsets))
    assert names == [op.name for op in toolset_operations("users")] + [STATUS_TOOL]


@pytest.mark.parametrize("toolset", toolset_names())
async def test_each_toolset_alone_offers_exactly_its_rows(clerk: FakeClerk, toolset: str):
    assert await listed(make_server(clerk, toolsets=[toolset])) == [op.name for op in toolset_operations(toolset)] + [STATUS_TOOL]


async def test_all_is_every_toolset_and_allow_deny_read_only_apply_on_top(clerk: FakeClerk):
    assert await listed(make_server(clerk, toolsets=["all"])) == [op.name for op in OPERATIONS] + [STATUS_TOOL]
    reads = await listed(make_server(clerk, toolsets=["all"], read_only=True, deny_tools=["get_user"]))
    assert reads == [op.name for op in OPERATIONS if op.effect.value == "read" and op.name != "get_user"] + [STATUS_TOOL]


async def test_a_tool_of_a_toolset_that_is_off_is_refused_with_the_way_to_turn_it_on(clerk: FakeClerk):
    off = next(op for op in OPERATIONS if op.toolset != "users")
    async with Client(make_server(clerk, toolsets=["users"])) as client:
        result = await client.call_tool(off.name, {})
    assert result.is_error and f"{off.toolset} toolset" in result.content[0].text and "--toolsets" in result.content[0].text
    assert clerk.sent == []


@pytest.mark.parametrize("value", ["users,nope", ""])
def test_an_unknown_or_empty_toolset_list_stops_start_up_naming_the_valid_ones(monkeypatch, value):
    monkeypatch.setenv("CLERK_MCP_TOOLSETS", value)
    if value == "":  # an empty variable counts as unset
        assert load_settings().toolsets == ["users"]
        return
    with pytest.raises(SettingsError) as raised:
        load_settings()
    (problem,) = raised.value.problems
    assert problem.startswith("CLERK_MCP_TOOLSETS (setting toolsets): unknown toolset 'nope'; valid: ")
    assert problem.endswith(", ".join([*toolset_names(), "all"]))


def test_cli_tools_prints_a_toolsets_tools_and_its_token_cost():
    every = ",".join(toolset_names())
    proc = subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", "tools", "--toolsets", every], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.strip() and not line.startswith("#")] == [op.name for op in OPERATIONS] + [STATUS_TOOL]
    costs = [line for line in lines if line.startswith("# toolset ")]
    assert len(costs) == len(toolset_names())
    for name, line in zip(toolset_names(), costs, strict=True):
        ops = toolset_operations(name)
        assert line.startswith(f"# toolset {name}: {len(ops)} tools, {sum(map(tool_tokens, ops)):,} model-visible tokens")


def test_cli_refuses_an_unknown_toolset_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", "tools", "--toolsets", "nope"], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"clerk-mcp: CLERK_MCP_TOOLSETS (setting toolsets): unknown toolset 'nope'; valid: {', '.join([*toolset_names(), 'all'])}"
    ]


def test_tool_tokens_is_the_benchmarks_model_visible_measure():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import tokens  # benchmarks/tokens.py

    (default,) = [f for f in tokens.tool_list_figures() if "default toolset (" in f.name]
    assert default.ours == sum(tool_tokens(op) for op in toolset_operations("users"))


# --- the support toolsets through an MCP client, against the sandbox ------------------------------------------------

JANE_PASSKEY = "idn_2pKJanePasskeyMacBook000001"  # clerk_mcp/sandbox/SEED.md


async def jane(sandbox) -> str:
    return (await sandbox.users(email_address="jane@example.com"))[0]["id"]


async def test_lock_and_unlock_through_the_security_toolset(sandbox):
    """Locking is reversible and asks no one; unlocking lets sign-in attempts resume, so a human confirms it."""
    user_id = await jane(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=["security"]), elicitation_callback=answering("accept", APPROVE, asked)) as client:
        locked = await client.call_tool("lock_user", {"user_id": user_id})
        unlocked = await client.call_tool("unlock_user", {"user_id": user_id})
    assert locked.structured_content["locked"] is True and locked.structured_content["lockout_expires_in_seconds"] == 3600
    assert unlocked.structured_content["locked"] is False
    (question,) = asked
    assert question.startswith("Unlock user?") and user_id in question and "[locked]" in question
    assert await sandbox.writes() == [("POST", f"/v1/users/{user_id}/lock"), ("POST", f"/v1/users/{user_id}/unlock")]


async def test_deleting_a_passkey_asks_a_human_what_is_lost_and_a_decline_sends_nothing(sandbox):
    user_id = await jane(sandbox)
    asked: list[str] = []

    async def human(context, params):
        asked.append(params.message)
        return ElicitResult(action="decline")

    arguments = {"user_id": user_id, "passkey_identification_id": JANE_PASSKEY}
    async with Client(sandbox.server(toolsets=["security"]), elicitation_callback=human) as client:
        declined = await client.call_tool("user_passkey_delete", arguments)
    assert declined.is_error and await sandbox.writes() == []
    (question,) = asked
    assert user_id in question and "jane@example.com" in question and BY_NAME["user_passkey_delete"].consequence in question


async def test_sessions_are_listed_and_read_through_the_sessions_toolset(sandbox):
    user_id = await jane(sandbox)
    async with Client(sandbox.server(toolsets=["sessions"])) as client:
        listed = await client.call_tool("get_session_list", {"user_id": user_id, "status": "active"})
        first = listed.structured_content["data"][0]
        one = await client.call_tool("get_session", {"session_id": first["id"]})
    assert len(listed.structured_content["data"]) == 2 and {s["user_id"] for s in listed.structured_content["data"]} == {user_id}
    assert one.structured_content["id"] == first["id"] and one.structured_content["status"] == "active"


async def test_bulk_unban_lifts_every_ban_in_one_call_a_human_confirmed(sandbox):
    banned = [u["id"] for u in await sandbox.users(banned="true")]
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=["bulk"]), elicitation_callback=answering("accept", APPROVE, asked)) as client:
        result = await client.call_tool("users_unban", {"user_ids": banned})
    (question,) = asked
    assert all(user_id in question for user_id in banned) and question.count("[banned]") == len(banned) == 2
    assert sorted(u["id"] for u in result.structured_content["data"]) == sorted(banned)
    assert not any(u["banned"] for u in result.structured_content["data"]) and await sandbox.users(banned="true") == []


async def test_revoking_a_session_asks_about_its_user_and_ends_only_that_session(sandbox):
    user_id = await jane(sandbox)
    async with sandbox.http() as http:
        signed_in = (await http.post("/_sandbox/sign_ins", json={"user_id": user_id})).json()
    await sandbox.clear_log()
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=["sessions"]), elicitation_callback=answering("accept", APPROVE, asked)) as client:
        revoked = await client.call_tool("revoke_session", {"session_id": signed_in["id"]})
        others = await client.call_tool("get_session_list", {"user_id": user_id, "status": "active"})
    (question,) = asked
    assert user_id in question and "jane@example.com" in question and signed_in["id"] in question
    assert BY_NAME["revoke_session"].consequence in question
    assert revoked.structured_content["status"] == "revoked"
    assert len(others.structured_content["data"]) == 2  # the seeded ones stay active
    assert await sandbox.writes() == [("POST", f"/v1/sessions/{signed_in['id']}/revoke")]


async def test_a_bulk_ban_names_every_user_and_any_id_that_is_no_user(sandbox):
    users = [u for u in await sandbox.users() if not u["banned"]][:2]
    await sandbox.clear_log()
    asked: list[str] = []
    arguments = {"user_ids": [u["id"] for u in users] + ["user_nobody"]}
    async with Client(sandbox.server(toolsets=["bulk"]), elicitation_callback=answering("decline", None, asked)) as client:
        declined = await client.call_tool("users_ban", arguments)
    (question,) = asked
    assert all(u["id"] in question for u in users) and question.count("\nUser: ") == 2
    assert "No such user: user_nobody" in question
    assert declined.is_error and await sandbox.writes() == []


# --- --dynamic-toolsets ------------------------------------------------------------------------------------------------


def dynamic_server(sandbox, **settings):
    """A server started with --dynamic-toolsets and no --toolsets: only the discovery tools (and clerk_status)."""
    from clerk_mcp.server import build_server
    from clerk_mcp.settings import Settings

    values = {"secret_key": SECRET_KEY, "api_url": "http://sandbox.test", "dynamic_toolsets": True, **settings}
    return build_server(Settings(**values), transport=sandbox.transport)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_dynamic_toolsets_start_small_list_their_cost_and_enable_one_with_a_list_changed_notice(sandbox, mode):
    notices: list[str] = []

    async def on_message(message):
        notices.append(type(getattr(message, "root", message)).__name__)

    async with Client(dynamic_server(sandbox), mode=mode, message_handler=on_message) as client:
        before = [t.name for t in (await client.list_tools()).tools]
        listed = (await client.call_tool("list_available_toolsets", {})).structured_content["toolsets"]
        enabled = await client.call_tool("enable_toolset", {"toolset": "sessions"})
        after = [t.name for t in (await client.list_tools()).tools]
        again = await client.call_tool("enable_toolset", {"toolset": "sessions"})
        unknown = await client.call_tool("enable_toolset", {"toolset": "everything"})
        sessions = await client.call_tool("get_session_list", {"user_id": await jane(sandbox)})
    assert before == [STATUS_TOOL, "list_available_toolsets", "enable_toolset"]
    assert [t["name"] for t in listed] == list(toolset_names()) and not any(t["enabled"] for t in listed)
    by_name = {t["name"]: t for t in listed}
    assert by_name["sessions"]["tools"] == [op.name for op in toolset_operations("sessions")]
    assert by_name["sessions"]["tokens"] == sum(tool_tokens(op) for op in toolset_operations("sessions"))
    assert enabled.structured_content == {"toolset": "sessions", "tools": [op.name for op in toolset_operations("sessions")],
                                          "already_enabled": False}
    assert after == [op.name for op in toolset_operations("sessions")] + before
    assert again.structured_content["already_enabled"] is True
    assert unknown.is_error and "unknown toolset" in unknown.content[0].text
    assert not sessions.is_error and sessions.structured_content["data"]
    if mode == "legacy":
        assert notices.count("ToolListChangedNotification") == 1


async def test_dynamic_toolsets_advertise_list_changes_and_keep_the_named_toolsets_on(sandbox):
    async with Client(dynamic_server(sandbox, toolsets=["bulk"]), mode="legacy") as client:
        capabilities = client.server_capabilities
        names = [t.name for t in (await client.list_tools()).tools]
    assert capabilities.tools.list_changed is True
    assert names == [op.name for op in toolset_operations("bulk")] + [STATUS_TOOL, "list_available_toolsets", "enable_toolset"]
    async with Client(sandbox.server(toolsets=["bulk"]), mode="legacy") as client:
        assert not client.server_capabilities.tools.list_changed  # static toolsets: the list never changes
