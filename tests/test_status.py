"""`clerk_status`: the server describes itself — backend, API version, policy, budgets — and never a secret."""

from __future__ import annotations

import pytest
from conftest import FakeClerk, make_server
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.operations import STATUS_TOOL as STATUS

pytestmark = pytest.mark.anyio

KEY = "sk_live_" + "q" * 30


async def test_status_reports_backend_version_policy_and_budget_without_secrets(clerk: FakeClerk) -> None:
    server = make_server(clerk, secret_key=KEY, verify_attempts=3, read_only=True)
    async with Client(server) as client:
        await client.call_tool("verify_password", {"user_id": "user_a", "password": "x"})  # hidden: read-only
        result = await client.call_tool(STATUS, {"user_id": "user_a"})
    assert not result.is_error
    status = result.structured_content
    assert status["backend"] == "production" and status["api_version"] == "2026-05-12"
    assert [row["tool"] for row in status["tools"]] == [op.name for op in OPERATIONS]
    assert {row["rule"] for row in status["tools"] if row["effect"] != "read"} == {"hidden"}
    assert status["verify_attempts_left"] == {"user_id": "user_a", "remaining": 3}
    assert "not one of Clerk's operations" in status["note"]
    assert KEY not in result.content[0].text and status["key_fingerprint"] and clerk.sent == []


async def test_status_counts_verify_attempts(clerk: FakeClerk) -> None:
    async with Client(make_server(clerk, verify_attempts=3)) as client:
        await client.call_tool("verify_password", {"user_id": "user_a", "password": "x"})
        result = await client.call_tool(STATUS, {"user_id": "user_a"})
        bad = await client.call_tool(STATUS, {"user_id": "../x"})
    assert result.structured_content["verify_attempts_left"]["remaining"] == 2
    assert bad.is_error and "user_id" in bad.content[0].text


async def test_allow_and_deny_lists_apply_to_status_too(clerk: FakeClerk) -> None:
    only_reads = make_server(clerk, tools=["get_*"])
    assert STATUS not in only_reads.tool_definitions
    async with Client(only_reads) as client:
        refused = await client.call_tool(STATUS, {})
    assert refused.is_error
    assert STATUS in make_server(clerk, tools=["get_user", STATUS], read_only=True).tool_definitions
    assert STATUS not in make_server(clerk, deny_tools=["clerk_*"]).tool_definitions
