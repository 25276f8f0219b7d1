"""Every response of every operation validates against Clerk's 2026-05-12 spec, and the sandbox's
request-body tables say exactly what the spec's request bodies say."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.sandbox import handlers

from .support import (
    ALAN,
    JANE,
    JOHN,
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
}


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
])
def test_request_body_tables_match_the_spec(path: str, method: str, table: dict[str, str]) -> None:
    schema = spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert table == _declared(schema)


def test_user_filters_match_the_spec() -> None:
    from clerk_mcp.sandbox.store import USER_FILTERS

    paging = {"limit", "offset", "order_by", "starting_after"}
    listed = {p.get("name") for p in spec()["paths"]["/users"]["get"]["parameters"] if "name" in p} - paging
    counted = {p["name"] for p in spec()["paths"]["/users/count"]["get"]["parameters"] if "name" in p}
    assert set(USER_FILTERS) == listed == counted
