"""The pytest plugin as a user's project sees it: one inner pytest session over a file of agent tests.

The inner tests pass when the plugin behaves; two of them fail on purpose, to check what a failing
assertion helper tells its user.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

AGENT_TESTS = '''
import pytest
from clerk_mcp.testing import ClerkTestClient


async def test_agent_bans_spammer(clerk_sandbox, clerk_mcp_client):
    clerk_mcp_client.confirmations.approve("ban_user")
    mallory = clerk_sandbox.user("Mallory@Example.com")["id"]
    result = await clerk_mcp_client.call_tool("ban_user", {"user_id": mallory})
    assert not result.is_error
    clerk_mcp_client.assert_tool_called("ban_user", user_id=mallory, times=1)
    clerk_sandbox.assert_called("POST", f"/v1/users/{mallory}/ban", times=1)
    assert clerk_sandbox.user(mallory)["banned"] is True


async def test_unscripted_confirmation_is_declined(clerk_sandbox, clerk_mcp_client):
    clerk_mcp_client.confirmations.approve("ban_user")
    jane = clerk_sandbox.user("jane@example.com")["id"]
    result = await clerk_mcp_client.call_tool("delete_user", {"user_id": jane})
    assert result.is_error and "declined" in result.content[0].text
    [asked] = clerk_mcp_client.confirmations.asked
    assert (asked.tool, asked.answer) == ("delete_user", "decline") and jane in asked.message
    clerk_sandbox.assert_not_called("DELETE", "/v1/users/*")
    assert clerk_sandbox.user(jane) is not None


async def test_cancel(clerk_sandbox, clerk_mcp_client):
    clerk_mcp_client.confirmations.cancel("disable_mfa")
    john = clerk_sandbox.user("john@example.com")["id"]
    result = await clerk_mcp_client.call_tool("disable_mfa", {"user_id": john})
    assert "cancelled" in result.content[0].text
    clerk_sandbox.assert_not_called("DELETE", "/v1/users/{user_id}/mfa")


async def test_legacy_protocol_confirmations(clerk_sandbox, clerk_mcp_server):
    async with ClerkTestClient(clerk_mcp_server, mode="legacy") as client:
        client.confirmations.approve("delete_user")
        jane = clerk_sandbox.user("jane@example.com")["id"]
        assert not (await client.call_tool("delete_user", {"user_id": jane})).is_error
    assert clerk_sandbox.user(jane) is None


async def test_faults_and_request_log(clerk_sandbox, clerk_mcp_client):
    clerk_sandbox.fail("/v1/users/{user_id}", "GET", status=404)
    result = await clerk_mcp_client.call_tool("get_user", {"user_id": "user_x"})
    assert result.is_error and result.content[0].text.startswith("404")
    [entry] = clerk_sandbox.assert_called("GET", "/v1/users/user_x", times=1)
    assert entry["status"] == 404 and entry["headers"]["authorization"] == "Bearer ***"


async def test_frozen_clock(clerk_clock, clerk_mcp_client):
    clerk_clock.freeze(1_700_000_000_000)
    created = (await clerk_mcp_client.call_tool("create_user", {"first_name": "Tick"})).structured_content
    clerk_clock.advance(60_000)
    updated = (await clerk_mcp_client.call_tool("update_user", {"user_id": created["id"], "first_name": "Tock"})).structured_content
    assert (created["created_at"], updated["updated_at"]) == (1_700_000_000_000, 1_700_000_060_000)


@pytest.mark.parametrize("clerk_sandbox_seed", [False, {"users": [{"first_name": "Solo"}]}])
async def test_empty_or_own_seed(clerk_sandbox_seed, clerk_mcp_client):
    result = await clerk_mcp_client.call_tool("get_users_count", {})
    assert result.structured_content["total_count"] == (1 if clerk_sandbox_seed else 0)


class TestOperatorSettings:
    @pytest.fixture
    def clerk_mcp_settings(self, monkeypatch):
        # The developer's environment must not leak into the server under test.
        monkeypatch.setenv("CLERK_MCP_CONFIRM", "approve")
        monkeypatch.setenv("CLERK_SECRET_KEY", "sk_live_must_not_be_used")
        return {"read_only": True}

    async def test_settings_apply_and_environment_does_not(self, clerk_mcp_client):
        names = {tool.name for tool in (await clerk_mcp_client.list_tools()).tools}
        assert "get_user" in names and "ban_user" not in names
        assert "Sandbox" in clerk_mcp_client.instructions


async def test_failing_request_assertion(clerk_sandbox, clerk_mcp_client):
    await clerk_mcp_client.call_tool("get_users_count", {})
    clerk_sandbox.assert_called("POST", "/v1/users/{user_id}/ban")


async def test_failing_tool_assertion(clerk_mcp_client):
    await clerk_mcp_client.call_tool("get_users_count", {})
    clerk_mcp_client.assert_tool_not_called("get_users_count")
'''


def test_plugin_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=AGENT_TESTS)
    result = pytester.runpytest("-p", "clerk_mcp.testing", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9, failed=2)
    output = result.stdout.str()
    assert "expected POST /v1/users/{user_id}/ban at least once, got 0; saw: ['GET /v1/users/count']" in output
    assert "expected get_users_count 0 time(s), got 1; saw: ['get_users_count({})']" in output


def test_the_plugin_does_not_load_the_mcp_sdk_until_a_fixture_is_used():
    """Installed, the plugin loads in every pytest run of the user's project, related to Clerk or not."""
    import subprocess
    import sys

    code = "import sys, clerk_mcp.testing as t; print(sorted(m for m in ('mcp', 'httpx', 'clerk_mcp.server') if m in sys.modules)); t.Sandbox"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
