"""One test per documented behaviour of the single-user operations."""

from __future__ import annotations

import bcrypt
import pyotp
from starlette.testclient import TestClient

from clerk_mcp.sandbox import create_app

from .support import ALAN, BACKUP_CODES, JANE, JOHN, TOTP_SECRET, assert_clerk_error


def test_wrong_or_missing_key_is_401(app) -> None:
    with TestClient(app) as anonymous:
        assert_clerk_error(anonymous.get(f"/v1/users/{JANE}"), 401, "authentication_invalid")
        assert_clerk_error(anonymous.get(f"/v1/users/{JANE}", headers={"Authorization": "Bearer sk_test_wrong"}), 401, "clerk_key_invalid")
        assert_clerk_error(anonymous.post("/_sandbox/reset"), 401, "authentication_invalid")
    assert app.state.sandbox.store.is_empty() is False


def test_custom_secret_key() -> None:
    with TestClient(create_app(secret_key="sk_test_other")) as c:
        assert c.get("/v1/users/count", headers={"Authorization": "Bearer sk_test_other"}).json()["total_count"] == 30
        assert c.get("/v1/users/count", headers={"Authorization": "Bearer sk_test_sandbox"}).status_code == 401


def test_unknown_user_and_unknown_route_are_clerk_404s(client: TestClient) -> None:
    assert_clerk_error(client.get("/v1/users/user_doesnotexist"), 404, "resource_not_found")
    assert_clerk_error(client.get("/v1/nothing/here"), 404, "resource_not_found")
    assert_clerk_error(client.put(f"/v1/users/{JANE}"), 404, "resource_not_found")


def test_create_user_with_identifiers_and_credentials(client: TestClient) -> None:
    response = client.post("/v1/users", json={
        "email_address": ["New.Person@Example.com", "alt@example.com"],
        "email_address_identification_status": ["verified", "reserved"],
        "phone_number": ["+15555551234"], "username": "NewPerson", "external_id": "ext-42",
        "first_name": "New", "last_name": "Person", "password": "a-long-password",
        "private_metadata": {"tier": 2}, "banned": True,
    })
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["id"].startswith("user_") and len(user["id"]) == 32 and user["id"][5:].isalnum()
    primary, alt = user["email_addresses"]
    assert user["primary_email_address_id"] == primary["id"] and primary["id"].startswith("idn_")
    assert (primary["email_address"], primary["verification"]["status"], primary["reserved"]) == ("new.person@example.com", "verified", False)
    assert (alt["reserved"], alt["verification"]) == (True, None)
    assert user["primary_phone_number_id"] == user["phone_numbers"][0]["id"]
    assert (user["username"], user["external_id"], user["private_metadata"]) == ("newperson", "ext-42", {"tier": 2})
    assert user["password_enabled"] and user["banned"] and user["created_at"] == user["updated_at"] > 1_700_000_000_000
    assert client.post(f"/v1/users/{user['id']}/verify_password", json={"password": "a-long-password"}).json() == {"verified": True}


def test_create_user_rejects_duplicates_with_form_identifier_exists(client: TestClient) -> None:
    assert_clerk_error(client.post("/v1/users", json={"email_address": ["JANE@example.com"]}), 422, "form_identifier_exists", "email_address")
    assert_clerk_error(client.post("/v1/users", json={"username": "janedoe"}), 422, "form_identifier_exists", "username")
    assert_clerk_error(client.post("/v1/users", json={"external_id": "crm-1001"}), 422, "form_identifier_exists", "external_id")
    assert_clerk_error(client.post("/v1/users", json={"phone_number": ["+15555550101"]}), 422, "form_identifier_exists", "phone_number")
    assert client.get("/v1/users/count").json()["total_count"] == 30


def test_create_user_validation(client: TestClient) -> None:
    assert_clerk_error(client.post("/v1/users", json={"nickname": "x"}), 422, "form_param_unknown", "nickname")
    assert_clerk_error(client.post("/v1/users", json={"first_name": 5}), 422, "form_param_value_invalid", "first_name")
    assert_clerk_error(client.post("/v1/users", json={"create_organizations_limit": 2**64}), 422, "form_param_value_invalid")
    assert_clerk_error(client.post("/v1/users", json={"email_address": "a@b.co"}), 422, "form_param_value_invalid", "email_address")
    assert_clerk_error(client.post("/v1/users", json={"email_address": ["not-an-email"]}), 422, "form_param_format_invalid", "email_address")
    assert_clerk_error(client.post("/v1/users", json={"phone_number": ["555-1234"]}), 422, "form_param_format_invalid", "phone_number")
    assert_clerk_error(client.post("/v1/users", json={"password": "short"}), 422, "form_password_length_too_short", "password")
    assert_clerk_error(client.post("/v1/users", json={"password": "password1"}), 422, "form_password_pwned", "password")
    two_statuses = {"email_address": ["a@b.co"], "email_address_identification_status": ["verified", "verified"]}
    assert_clerk_error(client.post("/v1/users", json=two_statuses), 422, "form_param_array_length_mismatch")
    assert_clerk_error(client.post("/v1/users", json={"totp_secret": "not base32!"}), 422, "invalid_totp_secret_code", "totp_secret")
    assert_clerk_error(client.post("/v1/users", json={"created_at": "yesterday"}), 422, "form_param_invalid_time", "created_at")
    assert_clerk_error(client.post("/v1/users", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "request_body_invalid")
    assert client.get("/v1/users/count").json()["total_count"] == 30


def test_password_digest_import(client: TestClient) -> None:
    digest = bcrypt.hashpw(b"imported-secret", bcrypt.gensalt(4)).decode()
    user = client.post("/v1/users", json={"password_digest": digest, "password_hasher": "bcrypt"}).json()
    verify = f"/v1/users/{user['id']}/verify_password"
    assert client.post(verify, json={"password": "imported-secret"}).json() == {"verified": True}
    assert_clerk_error(client.post(verify, json={"password": "other"}), 422, "incorrect_password")
    assert_clerk_error(client.post("/v1/users", json={"password_digest": "x", "password_hasher": "rot13"}),
                       422, "form_param_value_invalid", "password_hasher")


def test_verify_password(client: TestClient) -> None:
    assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "correct-horse-battery"}).json() == {"verified": True}
    assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_password", json={"password": "wrong-horse"}), 422, "incorrect_password")
    assert_clerk_error(client.post(f"/v1/users/{JOHN}/verify_password", json={"password": "anything"}), 400, "no_password_set")
    assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_password", json={}), 422, "form_param_missing", "password")
    assert_clerk_error(client.post("/v1/users/user_nope/verify_password", json={"password": "x"}), 404, "resource_not_found")


def test_update_user_fields_and_username_removal(client: TestClient) -> None:
    user = client.patch(f"/v1/users/{JANE}", json={"first_name": "Janet", "locale": "fr-FR", "username": ""}).json()
    assert (user["first_name"], user["locale"], user["username"]) == ("Janet", "fr-FR", None)
    assert user["updated_at"] > user["created_at"]
    assert client.patch(f"/v1/users/{JANE}", json={"username": "janet"}).json()["username"] == "janet"
    assert client.patch(f"/v1/users/{JANE}", json={"username": None}).json()["username"] is None


def test_update_user_refuses_metadata_and_foreign_primary_ids(client: TestClient) -> None:
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"public_metadata": {"a": 1}}), 422, "form_param_unknown", "public_metadata")
    john_email = client.get(f"/v1/users/{JOHN}").json()["primary_email_address_id"]
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"primary_email_address_id": john_email}),
                       422, "form_param_value_invalid", "primary_email_address_id")
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"username": "jsmith"}), 422, "form_identifier_exists", "username")
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"sign_out_of_other_sessions": True}),
                       422, "form_param_value_invalid", "sign_out_of_other_sessions")


def test_update_user_switches_primary_email(client: TestClient) -> None:
    user = client.post("/v1/users", json={"email_address": ["one@example.org", "two@example.org"]}).json()
    second = user["email_addresses"][1]["id"]
    updated = client.patch(f"/v1/users/{user['id']}", json={"primary_email_address_id": second}).json()
    assert updated["primary_email_address_id"] == second
    listed = client.get("/v1/users", params={"order_by": "email_address", "user_id": user["id"]}).json()
    assert listed[0]["id"] == user["id"]


def test_update_password_signs_out_other_sessions(client: TestClient, sandbox) -> None:
    assert sandbox.store.session_statuses(JANE) == ["active", "active"]
    client.patch(f"/v1/users/{JANE}", json={"password": "brand-new-password", "sign_out_of_other_sessions": True})
    assert sandbox.store.session_statuses(JANE) == ["revoked", "revoked"]
    assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "brand-new-password"}).json() == {"verified": True}
    assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "correct-horse-battery"}).status_code == 422


def test_metadata_deep_merge_and_null_deletes(client: TestClient) -> None:
    before = client.get(f"/v1/users/{JANE}").json()
    assert before["private_metadata"] == {"stripe_customer_id": "cus_sandbox_jane", "notes": {"vip": True}}
    user = client.patch(f"/v1/users/{JANE}/metadata", json={
        "private_metadata": {"notes": {"vip": None, "tier": "gold"}, "stripe_customer_id": None, "new": {"a": None, "b": 1}},
        "public_metadata": {"plan": None},
    }).json()
    assert user["private_metadata"] == {"notes": {"tier": "gold"}, "new": {"b": 1}}
    assert user["public_metadata"] == {"role": "admin"}
    assert user["unsafe_metadata"] == before["unsafe_metadata"]
    assert_clerk_error(client.patch(f"/v1/users/{JANE}/metadata", json={"public_metadata": None}), 422, "form_param_value_invalid")
    assert_clerk_error(client.patch(f"/v1/users/{JANE}/metadata", json={"metadata": {}}), 422, "form_param_unknown", "metadata")


def test_put_metadata_replaces_supplied_fields_only(client: TestClient) -> None:
    user = client.put(f"/v1/users/{JANE}/metadata", json={"private_metadata": {"only": True}}).json()
    assert user["private_metadata"] == {"only": True}
    assert user["public_metadata"] == {"role": "admin", "plan": "pro"}


def test_ban_revokes_sessions_then_unban(client: TestClient, sandbox) -> None:
    assert client.post(f"/v1/users/{JANE}/ban").json()["banned"] is True
    assert sandbox.store.session_statuses(JANE) == ["revoked", "revoked"]
    assert client.get(f"/v1/users/{JANE}").json()["banned"] is True
    assert client.post(f"/v1/users/{JANE}/unban").json()["banned"] is False
    assert_clerk_error(client.post("/v1/users/user_nope/ban"), 404, "resource_not_found")


def test_delete_then_404(client: TestClient) -> None:
    assert client.delete(f"/v1/users/{ALAN}").json() == {"object": "user", "id": ALAN, "deleted": True}
    assert_clerk_error(client.get(f"/v1/users/{ALAN}"), 404, "resource_not_found")
    assert_clerk_error(client.delete(f"/v1/users/{ALAN}"), 404, "resource_not_found")
    assert client.get("/v1/users/count").json()["total_count"] == 29
    assert client.get("/v1/users", params={"provider": "oauth_github", "provider_user_id": "github-uid-1003"}).json() == []


def test_verify_totp_code(client: TestClient) -> None:
    code = pyotp.TOTP(TOTP_SECRET).now()
    assert client.post(f"/v1/users/{JOHN}/verify_totp", json={"code": code}).json() == {"verified": True, "code_type": "totp"}
    assert_clerk_error(client.post(f"/v1/users/{JOHN}/verify_totp", json={"code": "000000"}), 422, "totp_incorrect_code")
    assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_totp", json={"code": code}), 400, "totp_disabled")


def test_backup_code_works_once(client: TestClient) -> None:
    url = f"/v1/users/{JOHN}/verify_totp"
    assert client.post(url, json={"code": BACKUP_CODES[0]}).json() == {"verified": True, "code_type": "backup_code"}
    assert_clerk_error(client.post(url, json={"code": BACKUP_CODES[0]}), 422, "totp_incorrect_code")
    assert client.post(url, json={"code": BACKUP_CODES[1]}).json()["code_type"] == "backup_code"


def test_backup_codes_set_through_update_user(client: TestClient) -> None:
    user = client.patch(f"/v1/users/{JANE}", json={"backup_codes": ["abc-123"]}).json()
    assert user["backup_code_enabled"] and user["two_factor_enabled"] and user["mfa_enabled_at"]
    assert client.post(f"/v1/users/{JANE}/verify_totp", json={"code": "abc-123"}).json()["code_type"] == "backup_code"
    assert client.get(f"/v1/users/{JANE}").json()["backup_code_enabled"] is False


def test_disable_mfa(client: TestClient) -> None:
    before = client.get(f"/v1/users/{JOHN}").json()
    assert before["totp_enabled"] and before["backup_code_enabled"] and before["two_factor_enabled"]
    assert before["mfa_disabled_at"] is None
    assert client.delete(f"/v1/users/{JOHN}/mfa").json() == {"user_id": JOHN}
    after = client.get(f"/v1/users/{JOHN}").json()
    assert not (after["totp_enabled"] or after["backup_code_enabled"] or after["two_factor_enabled"])
    assert after["mfa_disabled_at"] >= after["created_at"] and after["mfa_enabled_at"] == before["mfa_enabled_at"]
    assert after["phone_numbers"][0]["reserved_for_second_factor"] is False
    assert_clerk_error(client.post(f"/v1/users/{JOHN}/verify_totp", json={"code": BACKUP_CODES[2]}), 400, "totp_disabled")


def test_set_profile_image(client: TestClient, sandbox) -> None:
    user = client.post(f"/v1/users/{JANE}/profile_image", files={"file": ("me.png", b"\x89PNG-bytes", "image/png")}).json()
    image_id = user["image_url"].rsplit("/", 1)[1]
    assert user["has_image"] and image_id.startswith("img_")
    assert sandbox.store.rows("SELECT data FROM images WHERE id = ?", (image_id,))[0][0] == b"\x89PNG-bytes"
    assert_clerk_error(client.post(f"/v1/users/{JANE}/profile_image", files={"image": ("me.png", b"x", "image/png")}), 400, "form_param_missing")


def test_oauth_access_tokens(client: TestClient) -> None:
    tokens = client.get(f"/v1/users/{ALAN}/oauth_access_tokens/oauth_github").json()
    assert [(t["provider"], t["token"], t["scopes"]) for t in tokens] == [("oauth_github", "sandbox_github_token_alan", ["read:user", "user:email"])]
    page = client.get(f"/v1/users/{ALAN}/oauth_access_tokens/oauth_github", params={"paginated": "true", "limit": 1}).json()
    assert page["total_count"] == 1 and page["data"] == tokens
    assert client.get(f"/v1/users/{JANE}/oauth_access_tokens/oauth_github").json() == []


def test_expired_oauth_token_is_refreshed(client: TestClient) -> None:
    client.post("/_sandbox/oauth_accounts", json={"user_id": JANE, "provider": "oauth_github", "token": "stale", "token_expires_at": 1})
    token = client.get(f"/v1/users/{JANE}/oauth_access_tokens/oauth_github").json()[0]
    assert token["token"] != "stale" and token["expires_at"] > 1_700_000_000_000


def test_organization_memberships_paginate(client: TestClient) -> None:
    page = client.get(f"/v1/users/{JANE}/organization_memberships", params={"limit": 1, "offset": 1}).json()
    assert page["total_count"] == 2 and len(page["data"]) == 1
    everything = client.get(f"/v1/users/{JANE}/organization_memberships").json()["data"]
    assert {(m["organization"]["slug"], m["role"]) for m in everything} == {("acme", "org:admin"), ("globex", "org:member")}
    assert everything[1] == page["data"][0]
    assert everything[0]["public_user_data"]["identifier"] == "jane@example.com"
    assert_clerk_error(client.get(f"/v1/users/{JANE}/organization_memberships", params={"limit": 0}), 422, "form_param_value_invalid", "limit")


def test_mfa_enabled_at_is_when_mfa_was_last_turned_on(client: TestClient) -> None:
    first = client.get(f"/v1/users/{JOHN}").json()["mfa_enabled_at"]
    client.delete(f"/v1/users/{JOHN}/mfa")
    again = client.patch(f"/v1/users/{JOHN}", json={"totp_secret": TOTP_SECRET}).json()
    assert again["mfa_enabled_at"] > first and again["mfa_enabled_at"] >= again["mfa_disabled_at"]
    # Adding backup codes to a user who already has TOTP is not "turning MFA on".
    assert client.patch(f"/v1/users/{JOHN}", json={"backup_codes": ["x1"]}).json()["mfa_enabled_at"] == again["mfa_enabled_at"]


def test_dates_must_be_full_rfc3339_with_an_offset(client: TestClient) -> None:
    for bad in ("2024-01-01", "2024-01-01T00:00:00", "20240101T000000Z", "yesterday"):
        assert_clerk_error(client.post("/v1/users", json={"email_address": ["d@example.com"], "created_at": bad}), 422, "form_param_invalid_time")
    made = client.post("/v1/users", json={"email_address": ["d@example.com"], "created_at": "2024-01-01T01:00:00+01:00"}).json()
    assert made["created_at"] == 1704067200000


def test_oauth_tokens_are_paged_only_when_asked_to_be(client: TestClient, sandbox) -> None:
    for n in range(3):
        client.post("/_sandbox/oauth_accounts", json={"user_id": JOHN, "provider": "oauth_gitlab", "token": f"glt_{n}"})
    everything = client.get(f"/v1/users/{JOHN}/oauth_access_tokens/oauth_gitlab", params={"limit": 1, "offset": 1}).json()
    assert [t["token"] for t in everything] == ["glt_0", "glt_1", "glt_2"]
    page = client.get(f"/v1/users/{JOHN}/oauth_access_tokens/oauth_gitlab", params={"paginated": "true", "limit": 1, "offset": 1}).json()
    assert page["total_count"] == 3 and [t["token"] for t in page["data"]] == ["glt_1"]


def test_order_by_takes_one_sign_at_most(client: TestClient) -> None:
    for bad in ("++created_at", "+-created_at", "-+email_address"):
        assert_clerk_error(client.get("/v1/users", params={"order_by": bad}), 422, "form_param_value_invalid")
