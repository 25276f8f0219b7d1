"""Operator policy: read-only mode, allow/deny lists and their precedence, the verify attempt budget,
private_metadata redaction, and `clerk-mcp policy`."""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import httpx
import pytest
from mcp.client import Client

from clerk_mcp.operations import BY_NAME, OPERATIONS, Effect
from clerk_mcp.operations import STATUS_TOOL as STATUS

from conftest import OTHER_USER_ID, SECRET_KEY, USER_ID, FakeClerk, make_server, spec_arguments, text_of
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

READ = [op.name for op in OPERATIONS if op.effect is Effect.READ]
NOT_READ = [op for op in OPERATIONS if op.effect is not Effect.READ]


async def listed(server) -> list[str]:
    async with Client(server) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def test_read_only_lists_exactly_the_read_tools_and_refuses_the_others(clerk: FakeClerk):
    server = make_server(clerk, read_only=True)
    assert await listed(server) == [*READ, STATUS]
    assert len([op for op in OPERATIONS if op.name in READ and op.toolset == "users"]) == 4
    async with Client(server) as client:
        for op in NOT_READ:
            result = await client.call_tool(op.name, spec_arguments(op, required_only=True))
            assert result.is_error, op.name
            assert "read-only" in text_of(result) and op.name in text_of(result)
            assert payload(result)["decision"] == "hidden"
        ok = await client.call_tool("get_user", {"user_id": USER_ID})
    assert not ok.is_error
    assert clerk.sent == [("GET", f"/v1/users/{USER_ID}")]


async def test_allow_list_limits_the_tools(clerk: FakeClerk):
    server = make_server(clerk, tools=["get_user", "ban_user"])
    assert await listed(server) == [op.name for op in OPERATIONS if op.name in ("get_user", "ban_user")]
    async with Client(server) as client:
        result = await client.call_tool("delete_user", {"user_id": USER_ID})
    assert result.is_error and "allow-list" in text_of(result)
    assert clerk.requests == []


async def test_deny_beats_allow(clerk: FakeClerk):
    server = make_server(clerk, tools=["get_user", "delete_user"], deny_tools=["delete_user"], confirm="approve")
    assert await listed(server) == ["get_user"]
    async with Client(server) as client:
        result = await client.call_tool("delete_user", {"user_id": USER_ID})
    assert result.is_error and "denied" in text_of(result)
    assert clerk.requests == []


async def test_deny_beats_read_only(clerk: FakeClerk):
    server = make_server(clerk, read_only=True, deny_tools=["get_user"], tools=["get_user", "get_user_list"])
    assert await listed(server) == ["get_user_list"]
    async with Client(server) as client:
        result = await client.call_tool("get_user", {"user_id": USER_ID})
    assert "denied" in text_of(result)


async def test_read_only_beats_allow(clerk: FakeClerk):
    server = make_server(clerk, read_only=True, tools=["delete_user", "get_user"])
    assert await listed(server) == ["get_user"]


@pytest.mark.parametrize("setting", ["tools", "deny_tools"])
def test_unknown_tool_names_fail_at_startup(clerk: FakeClerk, setting):
    with pytest.raises(ValueError, match="delete_users"):
        make_server(clerk, **{setting: ["get_user", "delete_users"]})


def test_policy_settings_from_the_environment(clerk: FakeClerk, monkeypatch):
    monkeypatch.setenv("CLERK_MCP_DENY_TOOLS", "delete_user, ban_user")
    monkeypatch.setenv("CLERK_MCP_READ_ONLY", "false")
    server = make_server(clerk)
    assert set(server.tool_definitions) == {op.name for op in OPERATIONS} - {"delete_user", "ban_user"} | {STATUS}


# --- attempt budget ------------------------------------------------------------------------------------------


async def test_sixth_verify_attempt_is_refused_with_the_wait_and_nothing_sent(clerk: FakeClerk):
    wrong = httpx.Response(
        422, json={"errors": [{"message": "wrong", "long_message": "Incorrect password", "code": "incorrect_password"}]}
    )
    clerk.override("POST", f"/v1/users/{USER_ID}/verify_password", wrong)
    async with Client(make_server(clerk)) as client:
        for _ in range(5):
            result = await client.call_tool("verify_password", {"user_id": USER_ID, "password": "guess"})
            assert result.is_error and payload(result)["status"] == 422
        sixth = await client.call_tool("verify_password", {"user_id": USER_ID, "password": "guess"})
        # The budget is per user: another user is unaffected.
        other = await client.call_tool("verify_password", {"user_id": OTHER_USER_ID, "password": "guess"})
    assert sixth.is_error
    text = text_of(sixth)
    assert "Too many verification attempts" in text and "Try again in" in text
    assert payload(sixth)["decision"] == "over_budget"
    assert 590 <= payload(sixth)["retry_after_seconds"] <= 600
    assert not other.is_error
    assert clerk.sent.count(("POST", f"/v1/users/{USER_ID}/verify_password")) == 5


async def test_budget_is_shared_by_both_verify_tools_and_configurable(clerk: FakeClerk):
    async with Client(make_server(clerk, verify_attempts=2, verify_window=3.0)) as client:
        assert not (await client.call_tool("verify_password", {"user_id": USER_ID, "password": "pw"})).is_error
        assert not (await client.call_tool("verify_totp", {"user_id": USER_ID, "code": "123456"})).is_error
        refused = await client.call_tool("verify_totp", {"user_id": USER_ID, "code": "654321"})
        assert refused.is_error and "Too many verification attempts" in text_of(refused)
        assert len(clerk.requests) == 2
        await anyio.sleep(3.05)  # the window slides (3 s: three calls fit inside it on a loaded machine)
        again = await client.call_tool("verify_totp", {"user_id": USER_ID, "code": "654321"})
    assert not again.is_error
    assert len(clerk.requests) == 3


async def test_budget_does_not_count_invalid_calls(clerk: FakeClerk):
    async with Client(make_server(clerk, verify_attempts=1)) as client:
        for _ in range(3):
            bad = await client.call_tool("verify_password", {"user_id": USER_ID})
            assert bad.is_error and "password" in text_of(bad)
        ok = await client.call_tool("verify_password", {"user_id": USER_ID, "password": "pw"})
    assert not ok.is_error


# --- private_metadata ----------------------------------------------------------------------------------------

PRIVATE_CALLS = [
    ("get_user", {"user_id": USER_ID}),
    ("get_user_list", {"view": "full"}),
    ("users_get_organization_memberships", {"user_id": USER_ID}),
    ("update_user_metadata", {"user_id": USER_ID, "private_metadata": {"k": "v"}}),
    ("create_user", {"first_name": "A"}),
    ("ban_user", {"user_id": USER_ID}),
]


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | set().union(*map(_keys, node.values()))
    if isinstance(node, list):
        return set().union(*map(_keys, node)) if node else set()
    return set()


@pytest.mark.parametrize(("tool", "arguments"), PRIVATE_CALLS, ids=[c[0] for c in PRIVATE_CALLS])
async def test_private_metadata_is_hidden_by_default(clerk: FakeClerk, tool, arguments):
    async with Client(make_server(clerk, confirm="approve")) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error
    assert "private_metadata" not in _keys(result.structured_content)
    assert "private_metadata" not in text_of(result) and "PRIVATE-VALUE" not in text_of(result)


@pytest.mark.parametrize(("tool", "arguments"), PRIVATE_CALLS, ids=[c[0] for c in PRIVATE_CALLS])
async def test_private_metadata_is_shown_when_the_operator_exposes_it(clerk: FakeClerk, tool, arguments):
    async with Client(make_server(clerk, confirm="approve", expose_private_metadata=True)) as client:
        result = await client.call_tool(tool, arguments)
    assert "private_metadata" in _keys(result.structured_content)
    assert "PRIVATE-VALUE" in text_of(result)


# --- `clerk-mcp policy` --------------------------------------------------------------------------------------


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "CLERK_MCP_"))}
    return subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**base, "CLERK_SECRET_KEY": SECRET_KEY, "CLERK_API_URL": "http://127.0.0.1:9", "CLERK_MCP_TOOLSETS": "all", **env},
    )  # fmt: skip


def policy_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split(None, 2)
        if parts and parts[0] in {op.name for op in OPERATIONS}:
            rows[parts[0]] = parts[1:]
    return rows


def test_policy_command_prints_every_tool_with_its_effect_and_rule():
    proc = run_cli("policy", "--toolsets", "all")
    assert proc.returncode == 0, proc.stderr
    assert "confirmation mode: elicit" in proc.stdout
    rows = policy_rows(proc.stdout)
    assert list(rows) == [op.name for op in OPERATIONS]
    for op in OPERATIONS:
        effect, rule = rows[op.name]
        assert effect == op.effect.value
        if op.always_asks:
            assert rule == ("confirm (raises privilege)" if op.raises_privilege else "confirm")
        elif op.effect is Effect.VERIFY:
            assert "5 attempts" in rule and "600s" in rule
        elif op.confirm_fields:
            assert rule == "allowed; confirm when touching " + ", ".join(sorted(op.confirm_fields))
        elif op.metadata_fields:
            assert rule == "allowed; confirm when writing metadata keys role, roles, permissions, admin, is_admin"
        else:
            assert rule == "allowed"
    assert SECRET_KEY not in proc.stdout + proc.stderr


def test_policy_command_reflects_flags_and_environment():
    proc = run_cli("policy", "--read-only", "--confirm", "approve", CLERK_MCP_DENY_TOOLS="get_user", CLERK_MCP_TOOLSETS="all")
    assert proc.returncode == 0, proc.stderr
    rows = policy_rows(proc.stdout)
    for op in OPERATIONS:
        rule = rows[op.name][1]
        if op.name == "get_user":
            assert rule.startswith("hidden") and "denied" in rule
        elif op.effect is Effect.READ:
            assert rule == "allowed"
        else:
            assert rule.startswith("hidden") and "read-only" in rule
    assert "confirmation mode: approve" in proc.stdout


def test_policy_command_rejects_unknown_tool_names():
    proc = run_cli("policy", "--deny-tools", "delete_everything")
    assert proc.returncode == 2
    assert "delete_everything" in proc.stderr and "Traceback" not in proc.stderr
