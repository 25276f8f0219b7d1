"""What the caller of the current request may do: the server's policy, or their role's (clerk_mcp/roles.py).

Each role's policy is the server's settings with the role's overrides, validated and built once at start-up
(a role naming a tool or toolset that does not exist stops start-up, as the server's own settings do). The
caller comes from `roles.CALLER`, set per request by `roles.CallerMiddleware`; without OAuth there is none,
and the server's policy applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .operations import Operation
from .policy import AttemptBudget, Policy
from .roles import CALLER, Caller, Role, Roles
from .settings import Settings
from .state import RateLimiter, SharedState


def role_settings(settings: Settings, role: Role) -> Settings:
    """The server's settings with `role`'s overrides, validated as the server's own are (a ValidationError,
    which is a ValueError, otherwise)."""
    return Settings.model_validate({**settings.model_dump(), **role.overrides()})


class Unmatched(Policy):
    """The policy of a caller that no role matches, when roles are configured: no tool at all."""

    def hidden_reason(self, op: Operation) -> str | None:
        return (
            f"{op.name} is not available: no role of the operator's policy matches this caller "
            "(ask the operator for one; roles match on token scopes, a roles claim or the Clerk user)"
        )

    @property
    def offers_status(self) -> bool:
        return False


@dataclass(frozen=True)
class Grant:
    """One policy with its verify budget, and the caller's own rate limit if their role sets one."""

    policy: Policy
    budget: AttemptBudget
    rate_limit: int | None = None


class Access:
    """The `Grant` for each role (and the server's), and which one the current caller gets."""

    def __init__(self, settings: Settings, state: SharedState, roles: Roles | None) -> None:
        self.state = state
        self.server = self._grant(settings)
        self.roles: dict[str, Grant] = {}
        self.unmatched = self.server
        if roles is not None and roles.roles:
            for name, role in roles.roles.items():
                try:  # validated as the server's own settings are: toolsets expanded, tool patterns checked
                    self.roles[name] = self._grant(role_settings(settings, role), rate_limit=role.rate_limit)
                except ValueError as exc:
                    raise ValueError(f"role {name}: {exc}") from None
            self.unmatched = self._grant(settings, Unmatched)

    def _grant(self, settings: Settings, policy: type[Policy] = Policy, rate_limit: int | None = None) -> Grant:
        return Grant(policy(settings), AttemptBudget(self.state, settings.verify_attempts, settings.verify_window), rate_limit)

    def policies(self) -> list[Policy]:
        """Every policy a caller may get: the server's and each role's."""
        return [self.server.policy, *(grant.policy for grant in self.roles.values())]

    def current(self) -> Grant:
        caller = CALLER.get()
        if caller is None or caller.role is None:
            return self.server
        return self.roles.get(caller.role, self.unmatched)

    def limiter(self, inner: Any, window: float, wait: float) -> Any:
        """`inner` (the server's limiter, or None), and after it each caller's own limit when their role sets one."""
        if all(grant.rate_limit is None for grant in self.roles.values()):
            return inner
        return CallerLimiter(self, inner, window, wait)


class CallerLimiter:
    """The adapter's limiter when a role sets `rate_limit`: the server's limit (`inner`), then the caller's own
    Clerk requests per window, counted in the shared state under their subject."""

    def __init__(self, access: Access, inner: Any, window: float, wait: float) -> None:
        self.access = access
        self.inner = inner
        self.window = window
        self.wait = wait

    async def acquire(self) -> None:
        if self.inner is not None:
            await self.inner.acquire()
        caller: Caller | None = CALLER.get()
        limit = self.access.current().rate_limit
        if caller is not None and limit is not None:
            await RateLimiter(self.access.state, f"rate:caller:{caller.subject}", limit, self.window, self.wait).acquire()
