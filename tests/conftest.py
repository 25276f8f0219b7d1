"""Shared fixtures: a recording fake Clerk (`httpx.MockTransport`), server builders and spec access.

Tests talk to clerk-mcp only through its public surface: an in-process `mcp.client.Client`, the CLI,
or HTTP. The fake Clerk records every request that reaches it, so a test can assert exactly what was
sent — or that nothing was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp_types import ElicitResult

from clerk_mcp import results as r
from clerk_mcp.operations import OPERATIONS, Operation
from clerk_mcp.server import ClerkMCPServer, build_server
from clerk_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "spec" / "bapi-2026-05-12.yml"

# A recognisable key: tests assert it never appears in any output, log or audit line.
SECRET_KEY = "sk_test_CONFTESTsecretKEY0123456789abcdef"
API_URL = "http://clerk.test"
USER_ID = "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
OTHER_USER_ID = "user_2yOtherUserAAAAAAAAAAAAAAAA"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_operator_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests choose their settings explicitly: a developer's CLERK_* / CLERK_MCP_* variables must not leak in.
    Each test, and every process it starts, gets its own local state store (platformdirs reads XDG_STATE_HOME),
    so no budget or spent approval carries over from another test or from the developer's own use."""
    import os

    for name in [n for n in os.environ if n.startswith("CLERK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


# --- canned Clerk responses, one per result model -------------------------------------------------------------


def user(user_id: str = USER_ID, **extra: Any) -> dict[str, Any]:
    """A Clerk User (the fields tools and confirmation prompts use, plus private metadata)."""
    return {
        "id": user_id,
        "object": "user",
        "first_name": "Jane",
        "last_name": "Doe",
        "username": "jdoe",
        "external_id": None,
        "primary_email_address_id": "idn_1",
        "email_addresses": [{"id": "idn_1", "object": "email_address", "email_address": "jane@example.com"}],
        "phone_numbers": [],
        "banned": False,
        "locked": False,
        "two_factor_enabled": True,
        "public_metadata": {"plan": "pro"},
        "private_metadata": {"internal_note": "PRIVATE-VALUE"},
        "unsafe_metadata": {},
        "created_at": 1700690400000,
        "updated_at": 1700690400000,
        "last_sign_in_at": None,
        **extra,
    }


OAUTH_TOKEN_VALUE = "ya29.LIVE-oauth-TOKEN-value"


def session(session_id: str, user_id: str = USER_ID, **extra: Any) -> dict[str, Any]:
    """A Clerk Session (spec: Session, required fields)."""
    return {
        "object": "session", "id": session_id, "user_id": user_id, "client_id": "client_1", "status": "active",
        "last_active_at": 1700690400000, "expire_at": 1701295200000, "abandon_at": 1703282400000,
        "updated_at": 1700690400000, "created_at": 1700690400000, **extra,
    }


def trusted_device(device_id: str, **extra: Any) -> dict[str, Any]:
    """A Clerk TrustedDevice (spec: TrustedDevice, required fields)."""
    return {
        "object": "trusted_device", "id": device_id, "platform": "ios", "app_identifier": "com.example.app", "algorithm": "ES256",
        "status": "active", "created_at": 1700690400000, "updated_at": 1700690400000, **extra,
    }


def canned_body(op: Operation, path_values: dict[str, str]) -> Any:
    """Clerk's 200 body for `op`, chosen by the operation's result model."""
    uid = path_values.get("user_id", USER_ID)
    bodies: dict[type, Any] = {
        r.User: user(uid),
        r.UserList: [user(uid), user(OTHER_USER_ID, first_name="Max", last_name="Other")],
        r.TotalCount: {"object": "total_count", "total_count": 2},
        r.DeletedObject: {"object": "user", "id": uid, "deleted": True},
        r.UserIdResponse: {"user_id": uid},
        r.VerifyPasswordResponse: {"verified": True},
        r.VerifyTotpResponse: {"verified": True, "code_type": "totp"},
        r.OAuthAccessTokens: [
            {
                "object": "oauth_access_token",
                "external_account_id": "eac_1",
                "provider_user_id": "g-123",
                "token": OAUTH_TOKEN_VALUE,
                "expires_at": 1700690400,
                "provider": path_values.get("provider", "oauth_google"),
                "public_metadata": {},
                "label": None,
            }
        ],
        r.Session: session(path_values.get("session_id", "sess_1")),
        r.SessionList: [session("sess_1"), session("sess_2", status="revoked")],
        r.TrustedDevice: trusted_device(path_values.get("trusted_device_id", "td_1")),
        r.TrustedDevices: {"data": [trusted_device("td_1")], "total_count": 1},
        r.OrganizationInvitations: {
            "data": [
                {
                    "object": "organization_invitation", "id": "orginv_1", "email_address": "jane@example.com",
                    "role": "org:member", "role_name": "Member", "organization_id": "org_1", "inviter_id": None,
                    "public_inviter_data": None, "status": "pending", "public_metadata": {}, "url": None,
                    "expires_at": None, "created_at": 1, "updated_at": 1,
                    "public_organization_data": {"id": "org_1", "name": "Acme", "slug": "acme", "has_image": False},
                }
            ],
            "total_count": 1,
        },
        r.OrganizationMemberships: {
            "data": [
                {
                    "id": "orgmem_1",
                    "object": "organization_membership",
                    "role": "org:admin",
                    "permissions": [],
                    "public_metadata": {},
                    "private_metadata": {"secret_role_note": "PRIVATE-VALUE"},
                    "organization": {"object": "organization", "id": "org_1", "name": "Acme", "slug": "acme"},
                    "created_at": 1,
                    "updated_at": 1,
                }
            ],
            "total_count": 1,
        },
        # toolsets identifiers and billing
        r.EmailAddress: {"id": "idn_1", "object": "email_address", "email_address": "jane@example.com", "reserved": False,
                         "verification": None, "linked_to": [], "created_at": 1, "updated_at": 1},
        r.PhoneNumber: {"id": "idn_2", "object": "phone_number", "phone_number": "+15555550100", "reserved": False,
                        "reserved_for_second_factor": False, "verification": None, "linked_to": [], "created_at": 1, "updated_at": 1},
        r.BillingSubscription: {"object": "commerce_subscription", "id": "csub_1", "instance_id": "ins_1", "status": "active",
                                "payer_id": "cpayer_1", "created_at": 1, "updated_at": 1, "active_at": 1, "past_due_at": None,
                                "subscription_items": []},
        r.CreditBalance: {"object": "commerce_credit_balance", "balance": MONEY},
        r.CreditLedgerEntry: {"object": "commerce_credit_ledger", "id": "ccl_1", "payer_id": "cpayer_1", "amount": MONEY,
                              "source_type": "grant", "source_id": "cgrant_1", "note": None, "created_at": "2026-01-01T00:00:00Z"},
    }
    return bodies[op.result]


MONEY = {"amount": 2500, "amount_formatted": "25.00", "currency": "USD", "currency_symbol": "$"}


def _route(op: Operation) -> re.Pattern[str]:
    pattern = re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", op.path)
    return re.compile(f"^/v1{pattern}$")


ROUTES = [(op, _route(op)) for op in OPERATIONS]


class FakeClerk:
    """A MockTransport handler that records every request and answers like Clerk.

    `override(method, path, response_or_callable)` replaces the answer for one route; `fail` answers
    every request with the given response (or raises, when it is an exception).
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.overrides: dict[tuple[str, str], Any] = {}
        self.fail: Any = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.fail if self.fail is not None else self.overrides.get((request.method, request.url.path))
        if answer is not None:
            if isinstance(answer, BaseException):
                raise answer
            return answer(request) if callable(answer) else answer
        for op, pattern in ROUTES:
            match = pattern.match(request.url.path)
            if match and op.method == request.method:
                return httpx.Response(200, json=canned_body(op, match.groupdict()))
        return httpx.Response(
            404,
            json={
                "errors": [{"message": "not found", "long_message": "No such route", "code": "resource_not_found"}],
                "clerk_trace_id": "trace_route",
            },
        )

    def override(self, method: str, path: str, answer: Any) -> None:
        self.overrides[(method, path)] = answer

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(method, path) of every request that reached Clerk."""
        return [(req.method, req.url.path) for req in self.requests]

    def writes(self) -> list[tuple[str, str]]:
        """Requests other than GET: the ones that change something at Clerk."""
        return [s for s in self.sent if s[0] != "GET"]


@pytest.fixture
def clerk() -> FakeClerk:
    return FakeClerk()


def make_server(clerk: FakeClerk, **settings: Any) -> ClerkMCPServer:
    """A server wired to `clerk` through an injected MockTransport (no retries waiting long), with every toolset on
    unless `toolsets` says otherwise."""
    values: dict[str, Any] = {"secret_key": SECRET_KEY, "api_url": API_URL, "retry_deadline": 2.0, "toolsets": ["all"], **settings}
    return build_server(Settings(**values), transport=httpx.MockTransport(clerk))


@pytest.fixture
def server_factory(clerk: FakeClerk) -> Callable[..., ClerkMCPServer]:
    return lambda **settings: make_server(clerk, **settings)


# --- elicitation callbacks -------------------------------------------------------------------------------------


def answering(action: str, content: dict[str, Any] | None = None, asked: list[str] | None = None):
    """An elicitation callback that always answers `action` (with `content`), recording the questions."""

    async def callback(context: Any, params: Any) -> ElicitResult:
        if asked is not None:
            asked.append(params.message)
        return ElicitResult(action=action, content=content)

    return callback


APPROVE = {"approve": True}


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def all_output(result: Any) -> str:
    """Everything a client sees of a result: its text, its structured content and its `_meta`."""
    return text_of(result) + json.dumps(result.structured_content or {}) + json.dumps(result.meta or {})


# --- the spec ------------------------------------------------------------------------------------------------------


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        target: Any = spec()
        for part in parts:
            target = target[part]
        node = target
    return node


@cache
def spec_operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(METHOD, path, operation object) for an operationId."""
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise KeyError(operation_id)


def spec_parameters(operation_id: str) -> dict[str, dict[str, Any]]:
    """Path and query parameters by name: {"in": ..., "schema": ..., "required": ...}."""
    _, path, op = spec_operation(operation_id)
    params = [*spec()["paths"][path].get("parameters", []), *op.get("parameters", [])]
    return {p["name"]: p for p in map(_deref, params)}


def spec_body(operation_id: str) -> tuple[str | None, dict[str, Any]]:
    """(content type, body schema) of the request body, or (None, {}) when there is none."""
    _, _, op = spec_operation(operation_id)
    body = op.get("requestBody")
    if not body:
        return None, {}
    body = _deref(body)
    content_type, content = next(iter(body["content"].items()))
    return content_type, _deref(content["schema"])


def spec_property_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return _deref(schema)


def spec_error_statuses(operation_id: str) -> list[int]:
    _, _, op = spec_operation(operation_id)
    return sorted(int(code) for code in op.get("responses", {}) if code.isdigit() and int(code) >= 400)


# --- valid arguments generated from the spec -----------------------------------------------------------------

# Values for parameters the spec types as a bare string but Clerk (and our models) constrain further.
CONSTRAINED_VALUES: dict[str, Any] = {
    "user_id": USER_ID,
    "provider": "oauth_google",
    "order_by": "-created_at",
    "created_at": "2024-01-01T00:00:00Z",
    "legal_accepted_at": "2024-01-01T00:00:00Z",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def sample_value(name: str, schema: dict[str, Any]) -> Any:
    schema = _deref(schema)
    kind = schema.get("type")
    if kind == "array":
        return [sample_value(name, schema.get("items", {}))]
    if name in CONSTRAINED_VALUES and kind in (None, "string"):
        return CONSTRAINED_VALUES[name]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "boolean":
        return True
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "object":
        return {"k": "v"}
    return "abc"


def spec_arguments(op: Operation, *, required_only: bool = False) -> dict[str, Any]:
    """Arguments for `op` holding every parameter the spec documents (or only the required ones), as the tool takes them."""
    args: dict[str, Any] = {}
    for name, param in spec_parameters(op.operation_id).items():
        if param["in"] == "path" and name == "user_id":
            args[name] = USER_ID
        elif param["in"] == "path" or not required_only or param.get("required"):
            args[name] = sample_value(name, param.get("schema", {}))
    content_type, body = spec_body(op.operation_id)
    if content_type == "multipart/form-data":
        # The documented mapping: the multipart `file` part travels as base64 data plus a filename.
        import base64

        args.update(file_base64=base64.b64encode(PNG).decode(), filename="avatar.png")
    elif content_type:
        required = set(body.get("required", []))
        for name, prop in body.get("properties", {}).items():
            if not required_only or name in required:
                args[name] = sample_value(name, prop)
    return args


# --- the sandbox emulator, reached in-process over HTTP ------------------------------------------------------


class Sandbox:
    """The Clerk emulator behind an `httpx.ASGITransport`: servers talk to it, tests read its request log."""

    def __init__(self) -> None:
        from clerk_mcp.sandbox import create_app

        self.app = create_app(secret_key=SECRET_KEY, seed=True)
        self.transport = httpx.ASGITransport(app=self.app)

    def server(self, **settings: Any) -> ClerkMCPServer:
        values: dict[str, Any] = {
            "secret_key": SECRET_KEY, "api_url": "http://sandbox.test", "retry_deadline": 2.0, "toolsets": ["all"], **settings,
        }
        return build_server(Settings(**values), transport=self.transport)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport, base_url="http://sandbox.test", headers={"Authorization": f"Bearer {SECRET_KEY}"}
        )

    async def log(self) -> list[dict[str, Any]]:
        """Every /v1 request the emulator received, through its harness endpoint."""
        async with self.http() as http:
            response = await http.get("/_sandbox/requests")
            response.raise_for_status()
            return response.json()

    async def sent(self) -> list[tuple[str, str]]:
        return [(e["method"], e["path"]) for e in await self.log()]

    async def writes(self) -> list[tuple[str, str]]:
        return [s for s in await self.sent() if s[0] != "GET"]

    async def clear_log(self) -> None:
        async with self.http() as http:
            (await http.delete("/_sandbox/requests")).raise_for_status()

    async def users(self, **query: Any) -> list[dict[str, Any]]:
        """Users straight from the emulator (these requests are logged too: clear the log after set-up)."""
        async with self.http() as http:
            response = await http.get("/v1/users", params={"limit": 50, **query})
            response.raise_for_status()
        return response.json()

    async def get_user(self, user_id: str) -> httpx.Response:
        async with self.http() as http:
            return await http.get(f"/v1/users/{user_id}")


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()
