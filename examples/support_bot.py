"""A minimal support bot: tickets in, MCP prompts and tool calls out, a human confirming what policy says they must.

The "agent" here is a script, not a model: for each ticket it fetches the workflow prompt a model
would follow, then makes the calls that workflow describes. Swap `AGENT` for an LLM loop and keep
the rest. It runs against clerk-mcp's built-in sandbox, so no real user is touched:

    python examples/support_bot.py
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.client import Client
from mcp_types import ElicitResult

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

TICKETS = [
    ("investigate_sign_in", {"who": "lucy@example.com", "symptom": "it says my account is locked"}),
    ("lock_down_account", {"who": "john@example.com", "reason": "sign-ins from an unknown country"}),
    ("offboard_user", {"who": "grace@example.com"}),
]


class Escalate(Exception):
    """The bot cannot finish a ticket on its own; a person takes over."""


async def human(context: Any, params: Any) -> ElicitResult:
    """Stands in for the person at the keyboard: approves the lock-down, declines any deletion."""
    question, target = params.message.splitlines()[:2]
    approve = question != "Delete user?"
    print(f"    human asked: {question} {target} -> {'approve' if approve else 'decline'}")
    return ElicitResult(action="accept", content={"approve": True}) if approve else ElicitResult(action="decline")


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    print(f"    {tool}: {'refused' if result.is_error else 'ok'}")
    if result.is_error:
        raise Escalate(f"{tool}: {result.content[0].text}")
    return result.structured_content or {}


async def find(client: Client, who: str) -> dict[str, Any]:
    matches = (await call(client, "get_user_list", email_address=[who]))["data"]
    if len(matches) != 1:
        raise Escalate(f"{len(matches)} users match {who}")
    return await call(client, "get_user", user_id=matches[0]["id"])


async def investigate_sign_in(client: Client, who: str, **_: Any) -> str:
    user = await find(client, who)
    if user["banned"]:
        return "banned by an administrator"
    if user["locked"]:
        return "locked after too many failed sign-ins; it unlocks by itself"
    if user["two_factor_enabled"]:
        return "has two-factor on; check the authenticator or use a backup code"
    return "nothing blocks sign-in on Clerk's side"


async def lock_down_account(client: Client, who: str, **_: Any) -> str:
    user = await find(client, who)
    await call(client, "ban_user", user_id=user["id"])
    if user["two_factor_enabled"]:
        await call(client, "disable_mfa", user_id=user["id"])
    after = await call(client, "get_user", user_id=user["id"])
    return f"banned={after['banned']}, two-factor={after['two_factor_enabled']}"


async def offboard_user(client: Client, who: str, **_: Any) -> str:
    user = await find(client, who)
    memberships = await call(client, "users_get_organization_memberships", user_id=user["id"], limit=100)
    print("    member of " + ", ".join(f"{m['organization']['name']} ({m['role']})" for m in memberships["data"]))
    await call(client, "delete_user", user_id=user["id"])
    return "deleted"


AGENT: dict[str, Callable[..., Awaitable[str]]] = {
    "investigate_sign_in": investigate_sign_in,
    "lock_down_account": lock_down_account,
    "offboard_user": offboard_user,
}


async def main() -> None:
    server = build_server(Settings(secret_key=None))  # the built-in sandbox, whatever the environment holds
    async with Client(server, elicitation_callback=human) as client:
        for prompt, arguments in TICKETS:
            procedure = await client.get_prompt(prompt, arguments)
            print(f"ticket: {prompt} {arguments['who']} ({procedure.description})")
            try:
                outcome = await AGENT[prompt](client, **arguments)
            except Escalate as reason:
                outcome = f"escalated to a person: {reason}"
            print(f"  -> {arguments['who']}: {outcome}")


if __name__ == "__main__":
    anyio.run(main)
