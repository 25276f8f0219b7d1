"""Test-harness controls under `/_sandbox/` (never `/v1`): reset, seed, extra accounts, faults, request log, clock.

Faults let a test make the next N matching `/v1` requests fail the way networks and Clerk do:
an error status with Clerk's body, a 429 with `Retry-After`, added latency, a non-JSON body, or a
connection dropped mid-response. The request log records what reached the backend, with secrets
masked, so tool-call tests can assert on it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import fixtures
from .errors import ClerkError, param_value
from .handlers import json_body
from .store import Store

if TYPE_CHECKING:
    from .app import Sandbox

SECRET_FIELDS = frozenset({"password", "code", "totp_secret", "backup_codes", "password_digest"})
MASK = "***"


def mask(value: Any) -> Any:
    """A copy of a JSON value with every secret-bearing field replaced by "***"."""
    if isinstance(value, dict):
        return {k: MASK if k in SECRET_FIELDS and v is not None else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


@dataclass
class Fault:
    """What to do to the next `count` requests matching `method` and `path` (None count: all of them).

    `path` is a full request path where `{name}` matches one segment and `*` anything, e.g.
    "/v1/users/{user_id}" or "/v1/users*".
    """

    path: str = "*"
    method: str | None = None
    status: int | None = None
    count: int | None = 1
    latency_ms: int = 0
    retry_after: int | None = None
    drop: bool = False
    body: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"(\{\w+\}|\*)", self.path)
        regex = "".join("[^/]+" if p.startswith("{") else ".*" if p == "*" else re.escape(p) for p in parts)
        self.pattern = re.compile(regex + r"\Z")
        if self.method:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, method)) and self.pattern.match(path) is not None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "pattern"}


class Faults:
    """The armed faults, first match wins; thread-safe because requests may come from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.public() for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, counting it down (and disarming it when spent)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


class RequestLog:
    """The last `limit` `/v1` requests received, oldest first (bounded: a long-running sandbox must not keep them all)."""

    def __init__(self, limit: int = 1_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


def _fault(data: dict[str, Any]) -> Fault:
    known = {"path", "method", "status", "count", "latency_ms", "retry_after", "drop", "body"}
    for name in data:
        if name not in known:
            raise param_value(name, f"is not a fault setting ({', '.join(sorted(known))}).")
    fault = Fault(**data)
    if fault.status is not None and not 100 <= fault.status <= 599:
        raise param_value("status", "must be an HTTP status code.")
    if fault.status is None and fault.body is None and not fault.drop and not fault.latency_ms:
        raise param_value("status", "or body, drop or latency_ms must be set.")
    return fault


def routes(sandbox: Sandbox) -> list[Route]:
    """The harness endpoints, bound to one sandbox."""
    store: Store = sandbox.store

    def endpoint(action: Callable[[Any], Any], *, status: int = 200) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            raw = await request.body()
            try:
                data = json_body(raw)
                with store.atomic():
                    result = action(data)
            except ClerkError as error:
                return JSONResponse(error.body(), error.status, headers=error.headers)
            except (sqlite3.IntegrityError, KeyError, TypeError) as error:
                failure = ClerkError(422, "sandbox_fixture_invalid", "Invalid harness request", f"Invalid harness request: {error}")
                return JSONResponse(failure.body(), 422)
            return JSONResponse(result, status) if result is not None else Response(status_code=204)
        return run

    def reset(data: Any) -> Any:
        sandbox.reset(seed=bool(data and data.get("seed")))
        return {"reset": True, "seeded": bool(data and data.get("seed"))}

    def seed(data: Any) -> Any:
        return fixtures.load(store, data if data else fixtures.default_seed())

    def oauth_account(data: Any) -> Any:
        account_id = fixtures.add_external_account(store, data)
        user = store.user_json(data["user_id"])
        account = next(a for a in user["external_accounts"] if a["id"] == account_id)
        token = store.oauth_tokens(data["user_id"], account["provider"])
        return {"external_account": account, "oauth_access_token": next(t for t in token if t["external_account_id"] == account_id)}

    def membership(data: Any) -> Any:
        return store.membership_json(fixtures.add_membership(store, data))

    def add_fault(data: Any) -> Any:
        fault = _fault(data or {})
        sandbox.faults.add(fault)
        return fault.public()

    def clock(data: Any) -> Any:
        """One of {"freeze_at": ms}, {"advance_ms": ms} or {"unfreeze": true}; answers {"now": ms, "frozen": bool}."""
        actions = {"freeze_at": sandbox.clock.freeze, "advance_ms": sandbox.clock.advance, "unfreeze": lambda _: sandbox.clock.unfreeze()}
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in actions or data.get("unfreeze", True) is not True:
            raise param_value("clock", 'takes exactly one of {"freeze_at": <Unix ms>}, {"advance_ms": <ms>} or {"unfreeze": true}.')
        (name, value), = data.items()
        try:
            actions[name](value)
        except ValueError as error:
            raise param_value(name, str(error).removeprefix(f"{name} ")) from None
        return sandbox.clock.state()

    return [
        Route("/clock", endpoint(lambda _: sandbox.clock.state()), methods=["GET"]),
        Route("/clock", endpoint(clock), methods=["POST"]),
        Route("/reset", endpoint(reset), methods=["POST"]),
        Route("/seed", endpoint(seed), methods=["POST"]),
        Route("/oauth_accounts", endpoint(oauth_account, status=201), methods=["POST"]),
        Route("/organization_memberships", endpoint(membership, status=201), methods=["POST"]),
        Route("/faults", endpoint(add_fault, status=201), methods=["POST"]),
        Route("/faults", endpoint(lambda _: sandbox.faults.list()), methods=["GET"]),
        Route("/faults", endpoint(lambda _: sandbox.faults.clear()), methods=["DELETE"]),
        Route("/requests", endpoint(lambda _: sandbox.requests.entries()), methods=["GET"]),
        Route("/requests", endpoint(lambda _: sandbox.requests.clear()), methods=["DELETE"]),
    ]
