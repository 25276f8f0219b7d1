"""Roles: which policy each OAuth caller gets (`[roles.NAME]` tables of the policy file).

A role names conditions on the caller (`match`) and the settings it changes for them. Conditions come from the
verified access token — scopes, and a roles claim (`roles_claim`, default `roles`) — and, with `--auth clerk`,
from the calling user in the issuing Clerk instance, looked up by the token's subject: a role in one of their
organizations (`org_role = "org:admin"`) or values in their `public_metadata`. All of a role's conditions must
hold. **Several roles matching: the first in the policy file wins** (as firewall rules read, top to bottom;
put narrow roles first). With roles configured, a caller matching none gets no tools at all; with none
configured, every authenticated caller gets the server's policy.

```toml
[roles.lead]
match = { roles = ["support-lead"] }
confirm = "elicit"
verify_attempts = 10

[roles.agent]
match = { scopes = ["profile"], public_metadata = { team = "support" } }
read_only = true
rate_limit = 20
```

A role may set `read_only`, `toolsets`, `tools`, `deny_tools`, `confirm`, `verify_attempts`, `verify_window` and
`rate_limit` (this caller's Clerk requests per `rate_window`, on top of the server's limit); each replaces the
server's setting for its callers. The production guards (`allow_destructive_live`, `allow_approve_live`) stay
server-wide.
"""

from __future__ import annotations

import contextvars
import json
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)


class Match(BaseModel):
    """Conditions on a caller, all of which must hold; an empty match matches every caller."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[str] = Field(default_factory=list, description="the token carries every one of these scopes")
    roles: list[str] = Field(default_factory=list, description="the token's roles claim holds one of these")
    org_role: str | None = Field(None, description="--auth clerk: the user has this role in one of their organizations")
    public_metadata: dict[str, Any] = Field(default_factory=dict, description="--auth clerk: the user's public_metadata has these values")

    @property
    def needs_directory(self) -> bool:
        return self.org_role is not None or bool(self.public_metadata)

    def describe(self) -> str:
        """The conditions in words, as `clerk-mcp policy` prints them."""
        parts = [
            f"scopes {' '.join(self.scopes)}" if self.scopes else "",
            f"a roles claim of {' or '.join(self.roles)}" if self.roles else "",
            f"Clerk organization role {self.org_role}" if self.org_role else "",
            f"public_metadata {json.dumps(self.public_metadata, sort_keys=True)}" if self.public_metadata else "",
        ]
        return "; ".join(part for part in parts if part) or "every caller"


class Role(BaseModel):
    """A `[roles.NAME]` table: `match`, then the settings it changes for the callers it matches."""

    model_config = ConfigDict(extra="forbid")

    match: Match = Field(default_factory=Match)
    read_only: bool | None = None
    toolsets: list[str] | None = None
    tools: list[str] | None = None
    deny_tools: list[str] | None = None
    confirm: Literal["elicit", "deny", "approve"] | None = None
    verify_attempts: int | None = Field(None, ge=1)
    verify_window: float | None = Field(None, gt=0)
    rate_limit: int | None = Field(None, ge=1)

    def overrides(self) -> dict[str, Any]:
        return {name: value for name, value in self.model_dump(exclude={"match"}).items() if value is not None}


@dataclass(frozen=True)
class Caller:
    """Who made a request, from their verified access token; `role` is the role they got (None: roles are not
    configured, so the server's policy; "" with roles configured: none matched, so nothing)."""

    subject: str
    client_id: str
    name: str | None = None
    email: str | None = None
    role: str | None = None

    def record(self) -> dict[str, Any]:
        """What an audit line and a transcript entry keep of the caller."""
        fields = {"subject": self.subject, "name": self.name, "email": self.email, "client_id": self.client_id, "role": self.role}
        return {key: value for key, value in fields.items() if value is not None}

    def describe(self) -> str:
        """One line for a confirmation question: "Jane Doe <jane@example.com> (user_…, client client_…)"."""
        who = " ".join(part for part in (self.name, f"<{self.email}>" if self.email else None) if part) or self.subject
        details = ", ".join(part for part in (self.subject if who != self.subject else None, f"client {self.client_id}" if self.client_id else None) if part)
        return f"{who} ({details})" if details else who


# The caller of the request being handled: set per MCP request by `CallerMiddleware`, read by the server.
CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("clerk_mcp_caller", default=None)


class Roles:
    """Picks a caller's role from their token (and, for conditions that need it, their Clerk user)."""

    def __init__(self, roles: dict[str, Role], roles_claim: str, directory: Any = None) -> None:
        self.roles = roles
        self.roles_claim = roles_claim
        self.directory = directory  # auth.ClerkDirectory with --auth clerk, else None
        if directory is None:
            needing = [name for name, role in roles.items() if role.match.needs_directory]
            if needing:
                raise ValueError(
                    f"roles {', '.join(needing)} match on org_role or public_metadata, which only --auth clerk can look up"
                )

    async def caller(self, token: AccessToken) -> Caller:
        """The `Caller` a verified token stands for, with the first role (in file order) whose `match` holds."""
        claims = token.claims or {}
        caller = Caller(
            subject=token.subject or "", client_id=token.client_id,
            name=_text(claims.get("name")), email=_text(claims.get("email")),
        )
        if not self.roles:
            return caller
        for name, role in self.roles.items():
            if await self._matches(role.match, token, claims):
                return replace(caller, role=name)
        return replace(caller, role="")

    async def _matches(self, match: Match, token: AccessToken, claims: dict[str, Any]) -> bool:
        if not set(match.scopes) <= set(token.scopes):
            return False
        if match.roles:
            held = claims.get(self.roles_claim)
            held = [held] if isinstance(held, str) else held if isinstance(held, list) else []
            if not set(match.roles) & {str(r) for r in held}:
                return False
        if match.needs_directory:
            user = await self.directory.user(token.subject or "")
            if match.org_role is not None and match.org_role not in user.org_roles:
                return False
            if any(user.public_metadata.get(key) != value for key, value in match.public_metadata.items()):
                return False
        return True


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


class CallerMiddleware:
    """SDK server middleware: for each request that reaches Clerk data or names what a caller may do (tools,
    resources, prompts, completions) over OAuth-protected HTTP, resolve the caller (and role) from the token the
    SDK's bearer middleware verified, and hold it in `CALLER` while the request is handled. Without it a request
    gets the server's policy, so every such method must be here (tests/test_oauth.py reads each as a caller
    matching no role)."""

    METHODS = frozenset({
        "tools/list", "tools/call", "resources/list", "resources/templates/list", "resources/read",
        "prompts/list", "prompts/get", "completion/complete",
    })

    def __init__(self, roles: Roles) -> None:
        self.roles = roles

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        scope = getattr(ctx.request, "scope", None) or {}
        user = scope.get("user")
        token = getattr(user, "access_token", None)
        if ctx.method not in self.METHODS or token is None:
            return await call_next(ctx)
        reset = CALLER.set(await self.roles.caller(token))
        try:
            return await call_next(ctx)
        finally:
            CALLER.reset(reset)
