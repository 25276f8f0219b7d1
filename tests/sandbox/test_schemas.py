"""Every response of every operation validates against Clerk's 2026-05-12 spec, and the sandbox's
request-body tables say exactly what the spec's request bodies say."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox import billing, handlers, identifiers

from .support import (
    ADA,
    ALAN,
    ALAN_GOOGLE,
    JANE,
    JANE_DEVICE,
    JANE_EMAIL,
    JANE_PASSKEY,
    JANE_PHONE,
    JANE_SESSION,
    JOHN,
    JOHN_EMAIL,
    JOHN_PHONE,
    MALLORY,
    RITA_EMAIL,
    SATOSHI,
    SATOSHI_WALLET,
    TOTP_SECRET,
    response_schema,
    spec,
    validate,
    validate_response,
)

CLERK_ERRORS = {"$ref": "#/components/schemas/ClerkErrors"}

# For each operation, calls that between them reach its success response and its errors.
SCENARIOS: dict[str, Callable[[TestClient], list[httpx.Response]]] = {
    "get_user": lambda c: [c.get(f"/v1/users/{u}") for u in (JANE, JOHN, ALAN)] + [c.get("/v1/users/user_missing")],
    "get_user_list": lambda c: [c.get("/v1/users", params={"limit": 500}), c.get("/v1/users", params={"limit": 0})],
    "get_users_count": lambda c: [c.get("/v1/users/count", params={"banned": "true"}), c.get("/v1/users/count", params={"banned": "x"})],
    "create_user": lambda c: [
        c.post("/v1/users", json={
            "email_address": ["a@example.org", "b@example.org"], "email_address_identification_status": ["verified", "reserved"],
            "phone_number": ["+15555559999"], "web3_wallet": ["0x" + "ab" * 20], "username": "schema_user",
            "password": "long-enough-pw", "totp_secret": TOTP_SECRET, "backup_codes": ["1234"], "external_id": "ext-9",
            "public_metadata": {"a": 1}, "created_at": "2024-05-01T10:00:00Z", "legal_accepted_at": "2024-05-01T10:00:00Z",
        }),
        c.post("/v1/users", json={"email_address": ["jane@example.com"]}),
    ],
    "update_user": lambda c: [c.patch(f"/v1/users/{JANE}", json={"first_name": "J", "username": None}),
                              c.patch(f"/v1/users/{JANE}", json={"public_metadata": {}})],
    "update_user_metadata": lambda c: [c.patch(f"/v1/users/{JANE}/metadata", json={"public_metadata": {"x": {"y": 1}}})],
    "delete_user": lambda c: [c.delete(f"/v1/users/{ALAN}"), c.delete(f"/v1/users/{ALAN}")],
    "ban_user": lambda c: [c.post(f"/v1/users/{JANE}/ban")],
    "unban_user": lambda c: [c.post(f"/v1/users/{JANE}/unban")],
    "disable_mfa": lambda c: [c.delete(f"/v1/users/{JOHN}/mfa"), c.delete("/v1/users/user_missing/mfa")],
    "verify_password": lambda c: [c.post(f"/v1/users/{JANE}/verify_password", json={"password": p}) for p in ("correct-horse-battery", "nope")],
    "verify_totp": lambda c: [c.post(f"/v1/users/{JOHN}/verify_totp", json={"code": code})
                              for code in (pyotp.TOTP(TOTP_SECRET).now(), "31415926", "000000")],
    "set_user_profile_image": lambda c: [c.post(f"/v1/users/{JANE}/profile_image", files={"file": ("a.png", b"\x89PNG", "image/png")}),
                                         c.post(f"/v1/users/{JANE}/profile_image", files={"other": ("a.png", b"x", "image/png")})],
    "get_o_auth_access_token": lambda c: [c.get(f"/v1/users/{ALAN}/oauth_access_tokens/oauth_github"),
                                          c.get("/v1/users/user_missing/oauth_access_tokens/oauth_github")],
    "users_get_organization_memberships": lambda c: [c.get(f"/v1/users/{JANE}/organization_memberships", params={"limit": 1})],
    # toolset identifiers
    "get_email_address": lambda c: [c.get(f"/v1/email_addresses/{JANE_EMAIL}"), c.get(f"/v1/email_addresses/{JANE_PHONE}")],
    "create_email_address": lambda c: [c.post("/v1/email_addresses", json={"user_id": JOHN, "email_address": "j2@example.org", "primary": True}),
                                       c.post("/v1/email_addresses", json={"user_id": JOHN, "email_address": "jane@example.com"})],
    "update_email_address": lambda c: [c.patch(f"/v1/email_addresses/{RITA_EMAIL}", json={"verified": True}),
                                       c.patch(f"/v1/email_addresses/{JANE_EMAIL}", json={"verified": "yes"})],
    "delete_email_address": lambda c: [c.delete(f"/v1/email_addresses/{JOHN_EMAIL}"), c.delete(f"/v1/email_addresses/{JANE_EMAIL}")],
    "replace_user_email_address": lambda c: [c.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "new@example.org"}),
                                             c.put(f"/v1/users/{JANE}/email_address", json={"email_address": "new2@example.org"})],
    "get_phone_number": lambda c: [c.get(f"/v1/phone_numbers/{JOHN_PHONE}"), c.get(f"/v1/phone_numbers/{JANE_EMAIL}")],
    "create_phone_number": lambda c: [c.post("/v1/phone_numbers", json={"user_id": ALAN, "phone_number": "+15555550999", "verified": True,
                                                                         "reserved_for_second_factor": True}),
                                      c.post("/v1/phone_numbers", json={"user_id": ALAN, "phone_number": "+15555550998",
                                                                         "reserved_for_second_factor": True})],
    "update_phone_number": lambda c: [c.patch(f"/v1/phone_numbers/{JANE_PHONE}", json={"reserved_for_second_factor": True, "primary": True}),
                                      c.patch(f"/v1/phone_numbers/{JANE_EMAIL}", json={})],
    "delete_phone_number": lambda c: [c.delete(f"/v1/phone_numbers/{JOHN_PHONE}"), c.delete(f"/v1/phone_numbers/{JOHN_PHONE}")],
    "replace_user_phone_number": lambda c: [c.put(f"/v1/users/{JOHN}/phone_number", json={"phone_number": "+15555550555", "identification_status": "reserved"}),
                                            c.put(f"/v1/users/{JOHN}/phone_number", json={"phone_number": "+15555550555", "identification_status": "maybe"})],
    "user_web3_wallet_delete": lambda c: [c.delete(f"/v1/users/{SATOSHI}/web3_wallets/{SATOSHI_WALLET}"),
                                          _with_username(c, SATOSHI, lambda: c.delete(f"/v1/users/{SATOSHI}/web3_wallets/{SATOSHI_WALLET}"))],
    "delete_external_account": lambda c: [c.delete(f"/v1/users/{ALAN}/external_accounts/{ALAN_GOOGLE}"),
                                          c.delete(f"/v1/users/{JANE}/external_accounts/{ALAN_GOOGLE}")],
    # toolset billing
    "get_user_billing_subscription": lambda c: [c.get(f"/v1/users/{JANE}/billing/subscription"), c.get(f"/v1/users/{JOHN}/billing/subscription"),
                                                _subscribed(c, JOHN, status="past_due", plan_period="annual"),
                                                _subscribed(c, ALAN, fee=0, status="incomplete")],
    "get_user_billing_credit_balance": lambda c: [c.get(f"/v1/users/{JANE}/billing/credits"), c.get(f"/v1/users/{JOHN}/billing/credits")],
    "adjust_user_billing_credit_balance": lambda c: [
        c.post(f"/v1/users/{JANE}/billing/credits", json={"amount": 150, "action": "decrease", "idempotency_key": "a", "note": "refund"}),
        c.post(f"/v1/users/{JOHN}/billing/credits", json={"amount": 1, "action": "decrease", "idempotency_key": "b"}),
    ],
    # toolsets security, sessions, profile and bulk
    "lock_user": lambda c: [c.post(f"/v1/users/{JANE}/lock"), c.post("/v1/users/user_missing/lock")],
    "unlock_user": lambda c: [c.post(f"/v1/users/{JANE}/lock"), c.post(f"/v1/users/{JANE}/unlock")],
    "delete_totp": lambda c: [c.delete(f"/v1/users/{JOHN}/totp"), c.delete("/v1/users/user_missing/totp")],
    "delete_backup_code": lambda c: [c.delete(f"/v1/users/{JOHN}/backup_code")],
    "remove_user_password": lambda c: [c.post(f"/v1/users/{JANE}/remove_password", json={"sign_out_of_other_sessions": True}),
                                       c.post(f"/v1/users/{JANE}/remove_password", json={"x": 1})],
    "set_user_password_compromised": lambda c: [c.post(f"/v1/users/{JANE}/password/set_compromised", json={"revoke_all_sessions": None}),
                                                c.post(f"/v1/users/{JOHN}/password/set_compromised")],
    "unset_user_password_compromised": lambda c: [c.post(f"/v1/users/{JANE}/password/unset_compromised")],
    "user_passkey_delete": lambda c: [c.delete(f"/v1/users/{JANE}/passkeys/{JANE_PASSKEY}"),
                                      c.delete(f"/v1/users/{JANE}/passkeys/{JANE_PASSKEY}")],
    "list_user_trusted_devices": lambda c: [c.get(f"/v1/users/{JANE}/trusted_devices")],
    "revoke_user_trusted_device": lambda c: [c.delete(f"/v1/users/{JANE}/trusted_devices/{JANE_DEVICE}"),
                                             c.delete(f"/v1/users/{JANE}/trusted_devices/{JANE_DEVICE}")],
    # paginated=true answers {data, total_count}, which the spec does not describe (as for OAuth tokens)
    "get_session_list": lambda c: [c.get("/v1/sessions", params={"user_id": JANE}), c.get("/v1/sessions", params={"status": "gone"})],
    "get_session": lambda c: [c.get(f"/v1/sessions/{JANE_SESSION}"), c.get("/v1/sessions/sess_missing")],
    "revoke_session": lambda c: [c.post(f"/v1/sessions/{JANE_SESSION}/revoke"), c.post("/v1/sessions/sess_missing/revoke")],
    "delete_user_profile_image": lambda c: [
        c.post(f"/v1/users/{JANE}/profile_image", files={"file": ("a.png", b"\x89PNG", "image/png")}),
        c.delete(f"/v1/users/{JANE}/profile_image"), c.delete(f"/v1/users/{JANE}/profile_image"),
    ],
    "replace_user_metadata": lambda c: [c.put(f"/v1/users/{JANE}/metadata", json={"public_metadata": {"x": 1}}),
                                        c.put(f"/v1/users/{JANE}/metadata", json={"public_metadata": 1})],
    "users_get_organization_invitations": lambda c: [c.get(f"/v1/users/{JANE}/organization_invitations", params={"status": "accepted"}),
                                                     c.get(f"/v1/users/{ADA}/organization_invitations")],
    "users_ban": lambda c: [c.post("/v1/users/ban", json={"user_ids": [JANE, JOHN]}), c.post("/v1/users/ban", json={"user_ids": []})],
    "users_unban": lambda c: [c.post("/v1/users/unban", json={"user_ids": [MALLORY]}), c.post("/v1/users/unban", json={"user_ids": ["user_missing"]})],
}


def _with_username(c: TestClient, user_id: str, then: Callable[[], httpx.Response]) -> httpx.Response:
    assert c.patch(f"/v1/users/{user_id}", json={"username": "satoshi"}).status_code == 200
    return then()


def _subscribed(c: TestClient, user_id: str, **subscription: object) -> httpx.Response:
    assert c.post("/_sandbox/billing_subscriptions", json={"user_id": user_id, **subscription}).status_code == 201
    return c.get(f"/v1/users/{user_id}/billing/subscription")


def test_every_operation_has_a_scenario() -> None:
    assert set(SCENARIOS) == {op.name for op in OPERATIONS}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_response_validates_against_the_spec(client: TestClient, op) -> None:
    responses = SCENARIOS[op.name](client)
    assert any(r.status_code == 200 for r in responses)
    for response in responses:
        if response.status_code == 200:
            validate_response(response, op.method, op.path)
        else:
            validate(response.json(), CLERK_ERRORS)


def test_every_seed_user_validates(client: TestClient) -> None:
    response = client.get("/v1/users", params={"limit": 500})
    assert len(response.json()) == 30
    validate_response(response, "GET", "/users")
    for user_id in [u["id"] for u in response.json()]:
        validate_response(client.get(f"/v1/users/{user_id}/organization_memberships"), "GET", "/users/{user_id}/organization_memberships")


def test_paginated_oauth_tokens_hold_valid_tokens(client: TestClient) -> None:
    body = client.get(f"/v1/users/{ALAN}/oauth_access_tokens/oauth_google", params={"paginated": "true"}).json()
    assert body["total_count"] == 1
    validate(body["data"], response_schema("GET", "/users/{user_id}/oauth_access_tokens/{provider}"))


def _declared(schema: dict) -> dict[str, str]:
    """The spec's request body properties in the handlers' notation ("string?", "string[]", ...)."""
    fields = {}
    for name, prop in schema["properties"].items():
        if "$ref" in prop:
            prop = spec()["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]]
        kind = f"{prop['items']['type']}[]" if prop["type"] == "array" else prop["type"]
        fields[name] = kind + ("?" if prop.get("nullable") else "")
    return fields


@pytest.mark.parametrize(("path", "method", "table"), [
    ("/users", "post", handlers.CREATE_USER_FIELDS),
    ("/users/{user_id}", "patch", handlers.UPDATE_USER_FIELDS),
    ("/users/{user_id}/metadata", "patch", handlers.METADATA_FIELDS),
    ("/users/{user_id}/metadata", "put", handlers.METADATA_FIELDS),
    ("/users/{user_id}/verify_password", "post", handlers.VERIFY_PASSWORD_FIELDS),
    ("/users/{user_id}/verify_totp", "post", handlers.VERIFY_TOTP_FIELDS),
    ("/users/{user_id}/remove_password", "post", handlers.REMOVE_PASSWORD_FIELDS),
    ("/users/{user_id}/password/set_compromised", "post", handlers.SET_COMPROMISED_FIELDS),
])
def test_request_body_tables_match_the_spec(path: str, method: str, table: dict[str, str]) -> None:
    schema = spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert table == _declared(schema)


@pytest.mark.parametrize(("path", "method", "table"), [
    ("/email_addresses", "post", identifiers.CREATE_EMAIL_FIELDS),
    ("/email_addresses/{email_address_id}", "patch", identifiers.UPDATE_EMAIL_FIELDS),
    ("/users/{user_id}/email_address", "put", identifiers.REPLACE_EMAIL_FIELDS),
    ("/phone_numbers", "post", identifiers.CREATE_PHONE_FIELDS),
    ("/phone_numbers/{phone_number_id}", "patch", identifiers.UPDATE_PHONE_FIELDS),
    ("/users/{user_id}/phone_number", "put", identifiers.REPLACE_PHONE_FIELDS),
    ("/users/{user_id}/billing/credits", "post", billing.ADJUST_FIELDS),
])
def test_toolset_body_tables_match_the_spec(path: str, method: str, table: dict[str, str]) -> None:
    schema = spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert table == _declared(schema)


@pytest.mark.parametrize("path", ["/users/ban", "/users/unban"])
def test_bulk_request_bodies_match_the_spec(path: str) -> None:
    """UsersBan and UsersUnban leave additionalProperties open; the sandbox refuses unknown fields all the same."""
    schema = spec()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert handlers.USER_IDS_FIELDS == _declared(schema) and schema["required"] == ["user_ids"]
    assert schema["properties"]["user_ids"]["maxItems"] == handlers.MAX_BULK_USERS


def test_user_filters_match_the_spec() -> None:
    from clerk_mcp.sandbox.store import USER_FILTERS

    paging = {"limit", "offset", "order_by", "starting_after"}
    listed = {p.get("name") for p in spec()["paths"]["/users"]["get"]["parameters"] if "name" in p} - paging
    counted = {p["name"] for p in spec()["paths"]["/users/count"]["get"]["parameters"] if "name" in p}
    assert set(USER_FILTERS) == listed == counted
