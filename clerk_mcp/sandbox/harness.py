"""Test-harness controls under `/_sandbox/` (never `/v1`): reset, seed, extra accounts and subscriptions, faults,
request log, clock.

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

from . import billing, fixtures
from .errors import ClerkError, param_missing, param_value
from .handlers import Call, checked_body, json_body
from .lockout import check_not_locked
from .store import Store

if TYPE_CHECKING:
    from .app import Sandbox

SECRET_FIELDS = frozenset({"password", "code", "totp_secret", "backup_codes", "password_digest", "access_token", "secret"})
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
        check_fault(fault)
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


# Each endpoint's JSON body, in the field notation of handlers.checked_body ("type", "type?" nullable, "type[]").
FAULT_FIELDS = {
    "path": "string", "method": "string?", "status": "integer?", "count": "integer?", "latency_ms": "integer",
    "retry_after": "integer?", "drop": "boolean", "body": "string?",
}
RESET_FIELDS = {"seed": "boolean?"}
MAX_LATENCY_MS, MAX_RETRY_AFTER = 60_000, 86_400


def _checked(data: Any, fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return checked_body(Call(body=data), fields, required)


def _within(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise param_value(name, value, f"must be between {low} and {high}.")


def check_fault(fault: Fault) -> None:
    """Raise Clerk's 422 naming the setting unless each of `fault`'s settings has its type and range:
    `Faults.add` calls it, so a malformed fault is never armed, whether it came over HTTP or from Python."""
    _checked(fault.public(), FAULT_FIELDS)
    _within("status", fault.status, 200, 599)
    _within("count", fault.count, 1, 2**31)
    _within("latency_ms", fault.latency_ms, 0, MAX_LATENCY_MS)
    _within("retry_after", fault.retry_after, 0, MAX_RETRY_AFTER)
    if not fault.path.startswith(("/", "*")):
        raise param_value("path", fault.path, 'must be a request path such as "/v1/users/{user_id}" or "/v1/users*".')
    if fault.method is not None and not fault.method.isalpha():
        raise param_value("method", fault.method, "must be an HTTP method such as GET.")
    if fault.status is None and fault.body is None and not fault.drop and not fault.latency_ms:
        raise ClerkError("FormAtLeastOneOptionalParameterMissing", parameters="status, body, drop, latency_ms")


def routes(sandbox: Sandbox) -> list[Route]:
    """The harness endpoints, bound to one sandbox."""
    store: Store = sandbox.store

    def endpoint(action: Callable[[Any], Any], *, status: int = 200) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            raw = await request.body()
            try:
                data = json_body(raw)
                result = await sandbox.run(lambda: action(data))
            except ClerkError as error:
                return JSONResponse(error.body(), error.status, headers=error.headers)
            except (sqlite3.Error, LookupError, TypeError, ValueError, AttributeError) as error:
                # A fixture item of the wrong shape deep inside (the checks above cover the top level).
                failure = ClerkError("FormValidationFailed", sanitizedField="fixture", detail=f"{type(error).__name__}: {error}"[:300])
                return JSONResponse(failure.body(), failure.status)
            return JSONResponse(result, status) if result is not None else Response(status_code=204)
        return run

    def reset(data: Any) -> Any:
        seeded = bool(_checked(data, RESET_FIELDS).get("seed"))
        sandbox.reset(seed=seeded)
        return {"reset": True, "seeded": seeded}

    def seed(data: Any) -> Any:
        return fixtures.load(store, data if data else fixtures.default_seed())

    def oauth_account(data: Any) -> Any:
        data = _checked(data, fixtures.ACCOUNT_FIELDS | {"user_id": "string"}, required=("user_id", "provider"))
        account_id = fixtures.add_external_account(store, data)
        user = store.user_json(data["user_id"])
        account = next(a for a in user["external_accounts"] if a["id"] == account_id)
        token = store.oauth_tokens(data["user_id"], account["provider"])
        return {"external_account": account, "oauth_access_token": next(t for t in token if t["external_account_id"] == account_id)}

    def membership(data: Any) -> Any:
        data = _checked(data, fixtures.MEMBERSHIP_FIELDS, required=("user_id",))
        if "organization_id" not in data and "organization" not in data:
            raise param_missing("organization_id")
        return store.membership_json(fixtures.add_membership(store, data))

    def billing_subscription(data: Any) -> Any:
        data = _checked(data, billing.SUBSCRIPTION_FIELDS | {"user_id": "string"}, required=("user_id",))
        return billing.subscribe(store, data.pop("user_id"), data)

    def sign_in(data: Any) -> Any:
        """A user signs in (as Clerk's Frontend API would let them): a new active session, or Clerk's 403 for a banned
        or locked user."""
        user = store.user(_checked(data, {"user_id": "string"}, required=("user_id",))["user_id"])
        now = store.clock()
        if user["banned"]:
            raise ClerkError("UserBanned")
        check_not_locked(user, now)
        session_id = store.add_session(user["id"])
        store.touch(user["id"], {"last_sign_in_at": now, "last_active_at": now})
        return store.session_json(session_id)

    def passkey(data: Any) -> Any:
        data = _checked(data, fixtures.PASSKEY_FIELDS | {"user_id": "string"}, required=("user_id",))
        passkey_id = fixtures.add_passkey(store, data)
        return next(p for p in store.user_json(data["user_id"])["passkeys"] if p["id"] == passkey_id)

    def trusted_device(data: Any) -> Any:
        data = _checked(data, fixtures.TRUSTED_DEVICE_FIELDS | {"user_id": "string"}, required=("user_id", "platform", "app_identifier"))
        return store.trusted_device(data["user_id"], fixtures.add_trusted_device(store, data))

    def invitation(data: Any) -> Any:
        data = _checked(data, fixtures.INVITATION_FIELDS, required=("email_address", "organization_id"))
        return store.invitation_json(fixtures.add_invitation(store, data))

    def add_fault(data: Any) -> Any:
        fault = Fault(**_checked(data, FAULT_FIELDS))
        sandbox.faults.add(fault)
        return fault.public()

    def clock(data: Any) -> Any:
        """One of {"freeze_at": ms}, {"advance_ms": ms} or {"unfreeze": true}; answers {"now": ms, "frozen": bool}."""
        actions = {"freeze_at": sandbox.clock.freeze, "advance_ms": sandbox.clock.advance, "unfreeze": lambda _: sandbox.clock.unfreeze()}
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in actions or data.get("unfreeze", True) is not True:
            raise param_value("clock", data, 'takes exactly one of {"freeze_at": <Unix ms>}, {"advance_ms": <ms>} or {"unfreeze": true}.')
        (name, value), = data.items()
        try:
            actions[name](value)
        except ValueError as error:
            raise param_value(name, value, str(error).removeprefix(f"{name} ")) from None
        return sandbox.clock.state()

    return [
        Route("/clock", endpoint(lambda _: sandbox.clock.state()), methods=["GET"]),
        Route("/clock", endpoint(clock), methods=["POST"]),
        Route("/reset", endpoint(reset), methods=["POST"]),
        Route("/seed", endpoint(seed), methods=["POST"]),
        Route("/oauth_accounts", endpoint(oauth_account, status=201), methods=["POST"]),
        Route("/organization_memberships", endpoint(membership, status=201), methods=["POST"]),
        Route("/billing_subscriptions", endpoint(billing_subscription, status=201), methods=["POST"]),
        Route("/sign_ins", endpoint(sign_in, status=201), methods=["POST"]),
        Route("/passkeys", endpoint(passkey, status=201), methods=["POST"]),
        Route("/trusted_devices", endpoint(trusted_device, status=201), methods=["POST"]),
        Route("/organization_invitations", endpoint(invitation, status=201), methods=["POST"]),
        Route("/faults", endpoint(add_fault, status=201), methods=["POST"]),
        Route("/faults", endpoint(lambda _: sandbox.faults.list()), methods=["GET"]),
        Route("/faults", endpoint(lambda _: sandbox.faults.clear()), methods=["DELETE"]),
        Route("/requests", endpoint(lambda _: sandbox.requests.entries()), methods=["GET"]),
        Route("/requests", endpoint(lambda _: sandbox.requests.clear()), methods=["DELETE"]),
    ]
