"""Toolset `identifiers` in the sandbox, over HTTP: Clerk's rules for a user's email addresses, phone numbers,
web3 wallets and external accounts (clerk_mcp/sandbox/identifiers.py says where each comes from)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from .support import (
    ALAN,
    ALAN_GOOGLE,
    JANE,
    JANE_EMAIL,
    JOHN,
    JOHN_EMAIL,
    JOHN_PHONE,
    RITA_EMAIL,
    SATOSHI,
    SATOSHI_WALLET,
    assert_clerk_error,
)

ADA = "user_vBDf9fjdIEy9b3e5woqBTC8jES2"


def user(client: TestClient, user_id: str) -> dict[str, Any]:
    return client.get(f"/v1/users/{user_id}").json()


def add_email(client: TestClient, user_id: str, address: str, **flags: bool) -> dict[str, Any]:
    response = client.post("/v1/email_addresses", json={"user_id": user_id, "email_address": address, **flags})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_email_address_is_unverified_unless_asked_and_primary_only_if_first(client: TestClient) -> None:
    created = add_email(client, JANE, "Jane.Two@Example.com")
    assert (created["email_address"], created["verification"], created["reserved"]) == ("jane.two@example.com", None, False)
    assert client.get(f"/v1/email_addresses/{created['id']}").json() == created
    assert user(client, JANE)["primary_email_address_id"] == JANE_EMAIL
    first = add_email(client, SATOSHI, "satoshi@example.com", verified=True)
    assert first["verification"]["status"] == "verified"
    assert user(client, SATOSHI)["primary_email_address_id"] == first["id"]
    assert [u["id"] for u in client.get("/v1/users", params={"email_address": "satoshi@example.com"}).json()] == [SATOSHI]
    assert_clerk_error(client.post("/v1/email_addresses", json={"user_id": JOHN, "email_address": "JANE@example.com"}),
                       422, "form_identifier_exists", "email_address")
    assert_clerk_error(client.post("/v1/email_addresses", json={"user_id": JOHN, "email_address": "nope"}), 422, "form_param_format_invalid")
    assert_clerk_error(client.post("/v1/email_addresses", json={"user_id": "user_missing", "email_address": "x@example.com"}),
                       404, "resource_not_found")
    assert_clerk_error(client.post("/v1/email_addresses", json={"email_address": "x@example.com"}), 422, "form_param_missing", "user_id")


def test_update_verifies_and_makes_primary(client: TestClient) -> None:
    verified = client.patch(f"/v1/email_addresses/{RITA_EMAIL}", json={"verified": True}).json()
    assert (verified["reserved"], verified["verification"]["strategy"]) == (False, "admin")
    other = add_email(client, JOHN, "john.work@example.com", verified=True)
    client.patch(f"/v1/email_addresses/{other['id']}", json={"primary": True, "notify_primary_email_address_changed": True})
    john = user(client, JOHN)
    assert john["primary_email_address_id"] == other["id"]
    ordered = client.get("/v1/users", params={"user_id": [JOHN, JANE], "order_by": "email_address"}).json()
    assert [u["id"] for u in ordered] == [JANE, JOHN]  # jane@ < john.work@: the sortable copy follows the primary
    assert_clerk_error(client.patch("/v1/email_addresses/idn_missing", json={}), 404, "resource_not_found")


def test_deleting_the_primary_promotes_a_verified_one_and_the_last_identification_is_kept(client: TestClient) -> None:
    unverified = add_email(client, ADA, "ada.old@example.com")
    verified = add_email(client, ADA, "ada.new@example.com", verified=True)
    ada_primary = user(client, ADA)["primary_email_address_id"]
    assert client.delete(f"/v1/email_addresses/{ada_primary}").json() == {"object": "email_address", "id": ada_primary, "deleted": True}
    ada = user(client, ADA)
    assert ada["primary_email_address_id"] == verified["id"]
    assert {e["id"] for e in ada["email_addresses"]} == {unverified["id"], verified["id"]}
    assert_clerk_error(client.get(f"/v1/email_addresses/{ada_primary}"), 404, "resource_not_found")
    # Satoshi's wallet is all he has: refused, and kept; once he has an email address it may go.
    assert_clerk_error(client.delete(f"/v1/users/{SATOSHI}/web3_wallets/{SATOSHI_WALLET}"), 400, "identification_deletion_failed")
    assert user(client, SATOSHI)["primary_web3_wallet_id"] == SATOSHI_WALLET
    add_email(client, SATOSHI, "satoshi@example.com", verified=True)
    assert client.delete(f"/v1/users/{SATOSHI}/web3_wallets/{SATOSHI_WALLET}").json()["deleted"] is True
    satoshi = user(client, SATOSHI)
    assert (satoshi["web3_wallets"], satoshi["primary_web3_wallet_id"]) == ([], None)
    assert_clerk_error(client.delete(f"/v1/users/{JANE}/web3_wallets/{SATOSHI_WALLET}"), 404, "resource_not_found")


def test_an_email_address_linked_to_a_connected_account_stays_until_the_account_goes(client: TestClient) -> None:
    assert_clerk_error(client.delete(f"/v1/email_addresses/{JANE_EMAIL}"), 400, "delete_linked_identification_disallowed")
    assert_clerk_error(client.put(f"/v1/users/{JANE}/email_address", json={"email_address": "jane@new.example"}),
                       400, "delete_linked_identification_disallowed")
    assert [e["id"] for e in user(client, JANE)["email_addresses"]] == [JANE_EMAIL]
    [google] = [a["id"] for a in user(client, JANE)["external_accounts"]]
    assert client.delete(f"/v1/users/{JANE}/external_accounts/{google}").json() == {"object": "external_account", "id": google, "deleted": True}
    jane = user(client, JANE)
    assert (jane["external_accounts"], jane["email_addresses"][0]["linked_to"]) == ([], [])
    assert client.get(f"/v1/users/{JANE}/oauth_access_tokens/oauth_google").json() == []
    assert client.delete(f"/v1/email_addresses/{JANE_EMAIL}").status_code == 200
    assert_clerk_error(client.delete(f"/v1/users/{JANE}/external_accounts/{ALAN_GOOGLE}"), 404, "external_account_not_found")
    assert_clerk_error(client.delete(f"/v1/users/user_missing/external_accounts/{ALAN_GOOGLE}"), 404, "resource_not_found")


def test_replacing_email_addresses_leaves_one_primary_in_the_status_asked(client: TestClient) -> None:
    add_email(client, JOHN, "john.second@example.com")
    reserved = client.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "john@new.example", "identification_status": "reserved"}).json()
    assert (reserved["reserved"], reserved["verification"]) == (True, None)
    john = user(client, JOHN)
    assert [e["id"] for e in john["email_addresses"]] == [reserved["id"]] == [john["primary_email_address_id"]]
    assert_clerk_error(client.get(f"/v1/email_addresses/{JOHN_EMAIL}"), 404, "resource_not_found")
    again = client.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "JOHN@new.example"}).json()
    assert (again["id"], again["reserved"], again["verification"]["status"]) == (reserved["id"], False, "verified")  # kept, verified
    unverified = client.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "j@x.example", "identification_status": "unverified"}).json()
    assert (unverified["reserved"], unverified["verification"]) == (False, None)
    assert_clerk_error(client.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "ada@example.com"}), 422, "form_identifier_exists")
    assert_clerk_error(client.put(f"/v1/users/{JOHN}/email_address", json={"email_address": "x@x.example", "force": True}),
                       422, "form_param_unknown", "force")


def test_phone_numbers_as_second_factors(client: TestClient) -> None:
    assert_clerk_error(client.post("/v1/phone_numbers", json={"user_id": ALAN, "phone_number": "+15555550900", "reserved_for_second_factor": True}),
                       400, "identification_create_second_factor_unverified")
    phone = client.post("/v1/phone_numbers", json={"user_id": ALAN, "phone_number": "+15555550900", "verified": True}).json()
    alan = user(client, ALAN)
    assert (alan["primary_phone_number_id"], alan["two_factor_enabled"]) == (phone["id"], False)  # his first: primary
    factor = client.patch(f"/v1/phone_numbers/{phone['id']}", json={"reserved_for_second_factor": True}).json()
    assert (factor["reserved_for_second_factor"], factor["default_second_factor"]) == (True, True)
    assert user(client, ALAN)["two_factor_enabled"] is True
    assert client.get(f"/v1/phone_numbers/{phone['id']}").json() == factor
    assert client.delete(f"/v1/phone_numbers/{phone['id']}").json()["deleted"] is True
    alan = user(client, ALAN)
    assert (alan["phone_numbers"], alan["primary_phone_number_id"], alan["two_factor_enabled"]) == ([], None, False)
    assert_clerk_error(client.post("/v1/phone_numbers", json={"user_id": ALAN, "phone_number": "555-0100"}), 422, "form_param_format_invalid")


def test_replacing_a_second_factor_phone_number_turns_mfa_off(client: TestClient) -> None:
    assert user(client, JOHN)["totp_enabled"] is True
    new = client.put(f"/v1/users/{JOHN}/phone_number", json={"phone_number": "+15555550777"}).json()
    assert (new["reserved_for_second_factor"], new["verification"]["status"]) == (False, "verified")
    john = user(client, JOHN)
    assert [p["id"] for p in john["phone_numbers"]] == [new["id"]] == [john["primary_phone_number_id"]]
    assert (john["two_factor_enabled"], john["totp_enabled"], john["backup_code_enabled"]) == (False, False, False)
    assert john["mfa_disabled_at"] is not None
    assert_clerk_error(client.get(f"/v1/phone_numbers/{JOHN_PHONE}"), 404, "resource_not_found")
