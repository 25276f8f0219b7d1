"""MCP resources, so clients that browse resources can attach a user (or the sandbox's demo data) to a conversation.

`clerk://users/{user_id}` is read through the server's own `get_user` call path, so it gets the same
validation, policy (absent when the policy hides `get_user`), redaction of `private_metadata`,
error text, audit line and `<clerk-data>` fence as the tool: a client attaches a resource to the model's
context as it is, and a user's name or metadata is end-user text like any other. `clerk://sandbox/seed`
exists only in sandbox mode (our own text).

Over OAuth with roles, what a caller lists and reads follows their role's policy exactly as their tools do
(`offered`): the user record only if it offers `get_user`, nothing at all to a caller matching no role.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import TextContent

from .operations import BY_NAME

if TYPE_CHECKING:
    from .policy import Policy
    from .server import ClerkMCPServer

USER_URI = "clerk://users/{user_id}"
SEED_URI = "clerk://sandbox/seed"
GET_USER = BY_NAME["get_user"]


def register_resources(server: ClerkMCPServer) -> None:
    """Register the resources some policy (the server's, or a role's) may offer; `offered` picks per caller."""
    if any(policy.hidden_reason(GET_USER) is None for policy in server.access.policies()):

        @server.resource(
            USER_URI, name="user", title="Clerk user", mime_type="text/plain",
            description="One user's Clerk record as get_user returns it: JSON inside a <clerk-data> fence "
            "(private_metadata only if the operator exposes it).",
        )
        async def user(user_id: str) -> str:
            result = await server.call_tool(GET_USER.name, {"user_id": user_id})
            if result.is_error:
                raise ResourceError("\n".join(getattr(block, "text", "") for block in result.content))
            return "\n".join(block.text for block in result.content if isinstance(block, TextContent))

    if server.config.sandbox:
        server.resource(
            SEED_URI, name="sandbox-seed", title="Sandbox demo data", mime_type="text/markdown",
            description="The demo users and organizations the built-in sandbox starts with, and what each is for.",
        )(lambda: seed_description(server.policy))


def offered(policy: Policy, uri: str) -> bool:
    """Whether `policy` offers the resource or template `uri`: the user record with `get_user`, the rest to any
    policy that offers a tool at all, `clerk_status` included (none to a caller matching no role)."""
    if uri.startswith("clerk://users/"):
        return policy.hidden_reason(GET_USER) is None
    return bool(policy.visible) or policy.offers_status


def seed_description(policy: Policy) -> str:
    if not offered(policy, SEED_URI):
        raise ResourceError(f"{SEED_URI} is not available: the operator's policy offers this caller no tools")
    return resources.files("clerk_mcp.sandbox").joinpath("SEED.md").read_text(encoding="utf-8")
