"""Testing an agent's tool calls with clerk-mcp's pytest plugin: a fresh sandbox and MCP client per test.

    python -m pytest examples/test_agent_with_plugin.py    # add `-p clerk_mcp.testing` if the plugin is not installed

The agent under test is the scripted one of support_bot.py; yours would take `clerk_mcp_client` the same way.
"""

import pytest
from support_bot import Escalate, investigate_sign_in, lock_down_account, offboard_user


async def test_agent_locks_down_a_compromised_account(clerk_sandbox, clerk_mcp_client):
    clerk_mcp_client.confirmations.approve("ban_user", "disable_mfa")
    await lock_down_account(clerk_mcp_client, "john@example.com")
    john = clerk_sandbox.user("john@example.com")
    assert john["banned"] and not john["two_factor_enabled"]
    clerk_mcp_client.assert_tool_called("ban_user", user_id=john["id"], times=1)
    clerk_sandbox.assert_called("DELETE", "/v1/users/{user_id}/mfa", times=1)


async def test_a_declined_deletion_never_reaches_clerk(clerk_sandbox, clerk_mcp_client):
    with pytest.raises(Escalate, match="declined"):
        await offboard_user(clerk_mcp_client, "grace@example.com")  # unscripted confirmations are declined
    assert [c.tool for c in clerk_mcp_client.confirmations.asked] == ["delete_user"]
    clerk_sandbox.assert_not_called("DELETE", "/v1/users/*")


BANNED_BO = {"users": [{"first_name": "Bo", "email_addresses": [{"email_address": "bo@example.com"}], "banned": True}]}


@pytest.mark.parametrize("clerk_sandbox_seed", [BANNED_BO])  # this test's own data instead of the demo set
async def test_agent_diagnoses_a_ban_on_its_own_data(clerk_mcp_client):
    assert await investigate_sign_in(clerk_mcp_client, "bo@example.com") == "banned by an administrator"


@pytest.mark.parametrize("clerk_mcp_settings", [{"retry_deadline": 0.2}])  # give up retrying quickly
async def test_agent_escalates_when_clerk_is_down(clerk_sandbox, clerk_mcp_client):
    clerk_sandbox.fail("/v1/users", "GET", status=503, count=None)
    with pytest.raises(Escalate, match="get_user_list"):
        await investigate_sign_in(clerk_mcp_client, "lucy@example.com")
    clerk_mcp_client.assert_tool_not_called("get_user")
