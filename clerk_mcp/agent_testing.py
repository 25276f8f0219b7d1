"""What the pytest plugin (`clerk_mcp.testing`) hands a test: a sandbox handle and a recording MCP client.

Kept apart from the plugin so that merely having clerk-mcp installed does not import the MCP SDK, the
sandbox and the server into every pytest run: the plugin's fixtures import this module when first used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
from mcp.client import Client
from mcp_types import CallToolResult, ElicitResult

from .operations import OPERATIONS
from .sandbox.clock import Clock
from .sandbox.harness import Fault
from .server import ClerkMCPServer, build_server
from .settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

Answer = Literal["approve", "decline", "cancel"]

# A confirmation question starts with "<tool title>?" (confirmation.build_question); that is how an answer finds its tool.
_TOOL_BY_QUESTION = {f"{op.title}?": op.name for op in OPERATIONS}


def _check_times(what: str, found: list[Any], times: int | None, seen: list[str]) -> None:
    if (times is None and not found) or (times is not None and len(found) != times):
        expected = "at least once" if times is None else f"{times} time(s)"
        raise AssertionError(f"expected {what} {expected}, got {len(found)}; saw: {seen or 'nothing'}")


class Sandbox:
    """A handle on one in-process sandbox: seed data, faults, the request log and assertions on it."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.emulator = app.state.sandbox

    @property
    def clock(self) -> Clock:
        """The sandbox's clock: `freeze(at_ms=None)`, `advance(ms)`, `unfreeze()`, and `clock()` for now in Unix ms."""
        return self.emulator.clock

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def seed(self, data: dict[str, Any] | None = None) -> dict[str, int]:
        """Add a fixture (format in sandbox/SEED.md); None adds the demo data set."""
        return self.emulator.seed(data)

    def reset(self, *, seed: bool = False) -> None:
        self.emulator.reset(seed=seed)

    def fail(
        self, path: str = "*", method: str | None = None, *, status: int | None = None, count: int | None = 1,
        latency_ms: int = 0, retry_after: int | None = None, drop: bool = False, body: str | None = None,
    ) -> None:
        """Make the next `count` matching `/v1` requests fail (None: all): an error status, latency, a 429, a drop."""
        self.emulator.faults.add(Fault(
            path=path, method=method, status=status, count=count, latency_ms=latency_ms,
            retry_after=retry_after, drop=drop, body=body,
        ))

    def user(self, who: str) -> dict[str, Any] | None:
        """A user's current Clerk record, by user id or email address; None when there is no such user."""
        store = self.emulator.store
        user_id = store.identifier_owner("email_address", who.lower()) if "@" in who else who
        rows = store.rows("SELECT * FROM users WHERE id = ?", (user_id,)) if user_id else []
        return store.users_json(rows)[0] if rows else None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every `/v1` request received, oldest first: method, path, query, headers (key masked), body, status."""
        return self.emulator.requests.entries()

    def requests_to(self, method: str, path: str) -> list[dict[str, Any]]:
        """Logged requests matching `method` and `path`, where `{name}` matches one path segment and `*` anything."""
        # Matched as faults are, so a pattern means the same to `fail` and to the assertions.
        matcher = Fault(path=path, method=method)
        return [r for r in self.requests if matcher.matches(r["method"], r["path"])]

    def assert_called(self, method: str, path: str, *, times: int | None = None) -> list[dict[str, Any]]:
        """Assert requests matching `method` and `path` reached the backend (`times`: exactly; None: at least once)."""
        found = self.requests_to(method, path)
        _check_times(f"{method.upper()} {path}", found, times, [f"{r['method']} {r['path']}" for r in self.requests])
        return found

    def assert_not_called(self, method: str, path: str) -> None:
        self.assert_called(method, path, times=0)


@dataclass
class Confirmation:
    tool: str | None
    message: str
    answer: Answer


@dataclass
class Confirmations:
    """The human's scripted answers to confirmation questions, per tool name; `default` for the rest."""

    default: Answer = "decline"
    answers: dict[str, Answer] = field(default_factory=dict)
    asked: list[Confirmation] = field(default_factory=list)

    def approve(self, *tools: str) -> None:
        self.answers.update(dict.fromkeys(tools, "approve"))

    def decline(self, *tools: str) -> None:
        self.answers.update(dict.fromkeys(tools, "decline"))

    def cancel(self, *tools: str) -> None:
        self.answers.update(dict.fromkeys(tools, "cancel"))

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        tool = _TOOL_BY_QUESTION.get(params.message.partition("\n")[0])
        answer = self.answers.get(tool, self.default) if tool else self.default
        self.asked.append(Confirmation(tool, params.message, answer))
        if answer == "approve":
            return ElicitResult(action="accept", content={"approve": True})
        return ElicitResult(action=answer)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    result: CallToolResult


@dataclass
class ClerkTestClient(Client):
    """An MCP client that records the tool calls made through it and answers confirmations from a script."""

    confirmations: Confirmations = field(default_factory=Confirmations)
    calls: list[ToolCall] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.elicitation_callback is None:
            self.elicitation_callback = self.confirmations
        super().__post_init__()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> CallToolResult:
        result = await super().call_tool(name, arguments, *args, **kwargs)
        self.calls.append(ToolCall(name, dict(arguments or {}), result))
        return result

    def tool_calls(self, name: str, **arguments: Any) -> list[ToolCall]:
        """Calls of `name` whose arguments include all of `arguments`."""
        return [c for c in self.calls if c.name == name and all(c.arguments.get(k) == v for k, v in arguments.items())]

    def assert_tool_called(self, name: str, *, times: int | None = None, **arguments: Any) -> list[ToolCall]:
        """Assert `name` was called with (at least) `arguments` (`times`: exactly; None: at least once)."""
        found = self.tool_calls(name, **arguments)
        what = name + (f" with {arguments}" if arguments else "")
        _check_times(what, found, times, [f"{c.name}({c.arguments})" for c in self.calls])
        return found

    def assert_tool_not_called(self, name: str, **arguments: Any) -> None:
        self.assert_tool_called(name, times=0, **arguments)


def sandbox_server(sandbox: Sandbox, **settings: Any) -> ClerkMCPServer:
    """A server in sandbox mode on `sandbox`, with these operator settings and nothing from the environment."""
    # model_validate skips the settings sources: a developer's CLERK_* variables must not change what tests see.
    # The URL only names the backend in messages; requests go to the sandbox's in-process transport.
    values = {"secret_key": None, "api_url": "http://sandbox.invalid", **settings}
    return build_server(Settings.model_validate(values), transport=sandbox.transport())
