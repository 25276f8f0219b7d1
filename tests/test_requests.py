"""For each tool: the exact HTTP request that reaches Clerk and the parsed result.

Method and path are taken from the spec (by operationId), not from the operation table, so a wrong
path in the table fails here. Confirm-rule tools run with the operator's pre-approval
(`confirm="approve"`); the confirmation flow itself is tested in test_confirmation.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from mcp.client import Client

from clerk_mcp import __version__
from clerk_mcp.operations import OPERATIONS
from clerk_mcp.views import unfence

from conftest import OAUTH_TOKEN_VALUE, OTHER_USER_ID, PNG, SECRET_KEY, USER_ID, FakeClerk, spec_operation, text_of

pytestmark = pytest.mark.anyio

U = USER_ID

# create_user sends its arguments as the JSON body, unchanged.
NEW_USER = {
    "email_address": ["new@example.com"],
    "email_address_identification_status": ["reserved"],
    "first_name": "New",
    "password": "correct horse battery staple",
    "skip_password_checks": True,
    "public_metadata": {"plan": "free", "nested": {"a": [1, 2]}},
    "create_organizations_limit": 0,
}

# tool -> (arguments, expected query pairs in order, expected JSON body or None, check of the structured result)
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str]], Any]] = {
    "get_user_list": (
        {
            "email_address": ["a@example.com", "b@example.com"],
            "user_id": ["-user_x", "+user_y"],
            "banned": False,
            "created_at_after": 1700000000000,
            "name_query": "jan",
            "limit": 2,
            "order_by": "+username",
            "view": "summary",
        },
        [
            ("email_address", "a@example.com"), ("email_address", "b@example.com"),
            ("user_id", "-user_x"), ("user_id", "+user_y"),
            ("name_query", "jan"), ("banned", "false"), ("created_at_after", "1700000000000"),
            ("limit", "2"), ("order_by", "+username"),
        ],
        None,
    ),
    "get_users_count": (
        {"organization_id": ["org_1", "-org_2"], "provider": "oauth_google", "provider_user_id": ["g1"], "banned": True},
        [("organization_id", "org_1"), ("organization_id", "-org_2"), ("banned", "true"),
         ("provider", "oauth_google"), ("provider_user_id", "g1")],
        None,
    ),
    "get_user": ({"user_id": U}, [], None),
    "users_get_organization_memberships": ({"user_id": U, "limit": 5, "offset": 10}, [("limit", "5"), ("offset", "10")], None),
    "create_user": (NEW_USER, [], NEW_USER),
    "update_user": ({"user_id": U, "first_name": "Janet", "locale": None}, [], {"first_name": "Janet", "locale": None}),
    "update_user_metadata": (
        {"user_id": U, "public_metadata": {"plan": None, "seats": 3}, "private_metadata": {"k": "v"}},
        [],
        {"public_metadata": {"plan": None, "seats": 3}, "private_metadata": {"k": "v"}},
    ),
    "set_user_profile_image": ({"user_id": U, "file_base64": base64.b64encode(PNG).decode(), "filename": "me.PNG"}, [], None),
    "unban_user": ({"user_id": U}, [], None),
    "verify_password": ({"user_id": U, "password": "hunter2-secret"}, [], {"password": "hunter2-secret"}),
    "verify_totp": ({"user_id": U, "code": "123456"}, [], {"code": "123456"}),
    "get_o_auth_access_token": (
        {"user_id": U, "provider": "oauth_github", "paginated": False, "limit": 3},
        [("limit", "3"), ("paginated", "false")],
        None,
    ),
    "ban_user": ({"user_id": U}, [], None),
    "disable_mfa": ({"user_id": U}, [], None),
    "delete_user": ({"user_id": U}, [], None),
    # toolset identifiers: the id of an email address or phone number goes in the path, a new one's owner in the body
    "get_email_address": ({"email_address_id": "idn_e1"}, [], None),
    "create_email_address": (
        {"user_id": U, "email_address": "alt@example.com", "verified": True, "primary": False},
        [],
        {"user_id": U, "email_address": "alt@example.com", "verified": True, "primary": False},
    ),
    "update_email_address": ({"email_address_id": "idn_e1", "primary": True}, [], {"primary": True}),
    "delete_email_address": ({"email_address_id": "idn_e1"}, [], None),
    "replace_user_email_address": (
        {"user_id": U, "email_address": "only@example.com", "identification_status": "reserved"},
        [],
        {"email_address": "only@example.com", "identification_status": "reserved"},
    ),
    "get_phone_number": ({"phone_number_id": "idn_p1"}, [], None),
    "create_phone_number": (
        {"user_id": U, "phone_number": "+15555550100", "reserved_for_second_factor": None},
        [],
        {"user_id": U, "phone_number": "+15555550100", "reserved_for_second_factor": None},
    ),
    "update_phone_number": ({"phone_number_id": "idn_p1", "verified": False}, [], {"verified": False}),
    "delete_phone_number": ({"phone_number_id": "idn_p1"}, [], None),
    "replace_user_phone_number": ({"user_id": U, "phone_number": "+15555550101"}, [], {"phone_number": "+15555550101"}),
    "user_web3_wallet_delete": ({"user_id": U, "web3_wallet_identification_id": "idn_w1"}, [], None),
    "delete_external_account": ({"user_id": U, "external_account_id": "eac_1"}, [], None),
    # toolset billing
    "get_user_billing_subscription": ({"user_id": U}, [], None),
    "get_user_billing_credit_balance": ({"user_id": U}, [], None),
    "adjust_user_billing_credit_balance": (
        {"user_id": U, "amount": 250, "action": "increase", "idempotency_key": "t-1", "note": "goodwill"},
        [],
        {"amount": 250, "action": "increase", "idempotency_key": "t-1", "note": "goodwill"},
    ),
    # toolsets security, sessions, profile and bulk
    "lock_user": ({"user_id": U}, [], None),
    "unlock_user": ({"user_id": U}, [], None),
    "delete_totp": ({"user_id": U}, [], None),
    "delete_backup_code": ({"user_id": U}, [], None),
    "remove_user_password": ({"user_id": U, "sign_out_of_other_sessions": True}, [], {"sign_out_of_other_sessions": True}),
    "set_user_password_compromised": ({"user_id": U, "revoke_all_sessions": None}, [], {"revoke_all_sessions": None}),
    "unset_user_password_compromised": ({"user_id": U}, [], None),
    "user_passkey_delete": ({"user_id": U, "passkey_identification_id": "idn_pk1"}, [], None),
    "list_user_trusted_devices": ({"user_id": U}, [], None),
    "revoke_user_trusted_device": ({"user_id": U, "trusted_device_id": "td_1"}, [], None),
    "get_session_list": (
        {"user_id": U, "status": "active", "paginated": True, "limit": 2},
        [("user_id", U), ("status", "active"), ("paginated", "true"), ("limit", "2")],
        None,
    ),
    "get_session": ({"session_id": "sess_1"}, [], None),
    "revoke_session": ({"session_id": "sess_1"}, [], None),
    "delete_user_profile_image": ({"user_id": U}, [], None),
    "replace_user_metadata": ({"user_id": U, "public_metadata": {"plan": None}}, [], {"public_metadata": {"plan": None}}),
    "users_get_organization_invitations": ({"user_id": U, "status": "pending"}, [("status", "pending")], None),
    "users_ban": ({"user_ids": [U, "user_2"]}, [], {"user_ids": [U, "user_2"]}),
    "users_unban": ({"user_ids": [U]}, [], {"user_ids": [U]}),
}  # fmt: skip


def test_every_operation_has_a_request_case():
    assert set(CASES) == {op.name for op in OPERATIONS}


def expected_path(op, arguments) -> str:
    _, path, _ = spec_operation(op.operation_id)
    for name, value in arguments.items():
        path = path.replace("{" + name + "}", str(value))
    return "/v1" + path


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
async def test_exact_request(clerk: FakeClerk, server_factory, op):
    arguments, query, body = CASES[op.name]
    async with Client(server_factory(confirm="approve")) as client:
        result = await client.call_tool(op.name, arguments)
    assert not result.is_error, text_of(result)
    assert len(clerk.requests) == 1
    request = clerk.requests[0]
    spec_method, _, _ = spec_operation(op.operation_id)
    assert request.method == spec_method
    assert request.url.scheme == "http" and request.url.host == "clerk.test"
    assert request.url.path == expected_path(op, arguments)
    assert sorted(request.url.params.multi_items()) == sorted(query)
    # Repeated keys keep their order.
    for key in {k for k, _ in query}:
        assert request.url.params.get_list(key) == [v for k, v in query if k == key]
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["clerk-api-version"] == "2026-05-12"
    assert request.headers["user-agent"] == f"clerk-mcp/{__version__}"
    if body is not None:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == body
    elif op.name == "set_user_profile_image":
        _assert_multipart(request, filename="me.PNG", content=PNG, content_type="image/png")
    else:
        assert request.content == b""
        assert "content-type" not in request.headers


def _assert_multipart(request: httpx.Request, *, filename: str, content: bytes, content_type: str) -> None:
    ctype = request.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    boundary = ctype.split("boundary=", 1)[1].encode()
    parts = [p for p in request.content.split(b"--" + boundary) if p.strip(b"-\r\n")]
    assert len(parts) == 1, "exactly one part"
    head, _, payload = parts[0].partition(b"\r\n\r\n")
    assert b'name="file"' in head
    assert f'filename="{filename}"'.encode() in head
    assert f"Content-Type: {content_type}".encode() in head
    assert payload.removesuffix(b"\r\n") == content


async def test_parsed_results(clerk: FakeClerk, server_factory):
    """What each tool returns: structured content (objects, arrays wrapped) and the same JSON as text."""
    results = {}
    async with Client(server_factory(confirm="approve")) as client:
        for op in OPERATIONS:
            result = await client.call_tool(op.name, CASES[op.name][0])
            assert not result.is_error, (op.name, text_of(result))
            assert json.loads(unfence(text_of(result))) == result.structured_content
            results[op.name] = result.structured_content
    for op in OPERATIONS:
        data = results[op.name]
        if op.result.__name__ == "User":
            assert data["id"] == U and data["first_name"] == "Jane"
        op.result.model_validate(data)  # matches the declared output schema's model
    # Summaries by default; arrays wrapped in {"data": [...]}.
    assert results["get_user_list"] == {
        "data": [
            {"id": U, "name": "Jane Doe", "email": "jane@example.com", "username": "jdoe", "mfa": True, "created_at": 1700690400000},
            {"id": OTHER_USER_ID, "name": "Max Other", "email": "jane@example.com", "username": "jdoe", "mfa": True, "created_at": 1700690400000},
        ],
    }  # a full page, but ordered by username: Clerk takes no cursor there, so none is offered
    assert results["get_users_count"] == {"object": "total_count", "total_count": 2}
    assert results["delete_user"] == {"object": "user", "id": U, "deleted": True}
    assert results["disable_mfa"] == {"user_id": U}
    assert results["verify_password"] == {"verified": True}
    assert results["verify_totp"] == {"verified": True, "code_type": "totp"}
    assert results["get_o_auth_access_token"]["data"][0]["token"] == OAUTH_TOKEN_VALUE
    assert results["get_o_auth_access_token"]["data"][0]["provider"] == "oauth_github"
    assert results["users_get_organization_memberships"]["total_count"] == 1


async def test_full_view_returns_complete_records(clerk: FakeClerk, server_factory):
    async with Client(server_factory()) as client:
        result = await client.call_tool("get_user_list", {"view": "full", "limit": 10})
    assert clerk.requests[0].url.params.multi_items() == [("limit", "10")]  # `view` is local, never sent
    users = result.structured_content["data"]
    assert [u["id"] for u in users] == [U, OTHER_USER_ID]
    assert users[0]["public_metadata"] == {"plan": "pro"}
    assert "next_starting_after" not in result.structured_content  # fewer than `limit`: last page


async def test_defaults_are_not_sent(clerk: FakeClerk, server_factory):
    """Unset arguments stay off the wire: Clerk applies its own defaults."""
    async with Client(server_factory()) as client:
        await client.call_tool("get_user_list", {})
        await client.call_tool("users_get_organization_memberships", {"user_id": U})
    assert [r.url.query for r in clerk.requests] == [b"", b""]


async def test_query_values_are_encoded(clerk: FakeClerk, server_factory):
    async with Client(server_factory()) as client:
        await client.call_tool("get_user_list", {"query": "a&b=c d", "email_address": ["x+y@example.com"]})
    params = clerk.requests[0].url.params
    assert params.get_list("query") == ["a&b=c d"] and params.get_list("email_address") == ["x+y@example.com"]
    assert b"&b=" not in clerk.requests[0].url.query


async def test_api_url_origin_gets_v1(clerk: FakeClerk):
    from conftest import make_server

    server = make_server(clerk, api_url="http://127.0.0.1:9999/")
    async with Client(server) as client:
        await client.call_tool("get_user", {"user_id": U})
    assert str(clerk.requests[0].url) == f"http://127.0.0.1:9999/v1/users/{U}"
