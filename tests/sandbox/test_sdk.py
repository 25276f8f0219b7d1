"""Clerk's official Python SDK, unchanged but for its server URL, drives every operation over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from clerk_backend_api import Clerk, models

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.harness import Fault

from .support import (
    ADA,
    ALAN,
    BACKUP_CODES,
    JANE,
    JANE_DEVICE,
    JANE_PASSKEY,
    JANE_SESSION,
    JOHN,
    MALLORY,
    OTHER_80_BITS,
    SECRET_80_BITS,
    TOTP_SECRET,
    serving,
    totp,
    unexercised_operations,
)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Clerk, object]]:
    app = create_app()
    with serving(app) as url, Clerk(bearer_auth=SANDBOX_SECRET_KEY, server_url=f"{url}/v1") as clerk:
        yield clerk, app


def test_sdk_drives_every_operation(live) -> None:
    clerk, app = live
    users = clerk.users

    listed = users.list(request={"email_address": ["jane@example.com", "john@example.com"], "order_by": "first_name"})
    assert [u.first_name for u in listed] == ["Jane", "John"]
    assert users.count(request={"banned": True}).total_count == 2
    jane = users.get(user_id=JANE)
    assert (jane.email_addresses[0].email_address, jane.username, jane.public_metadata) == ("jane@example.com", "janedoe", {"role": "admin", "plan": "pro"})

    created = users.create(email_address=["sdk@example.com"], password="sdk-password-1", username="sdkuser",
                           first_name="Sdk", private_metadata={"source": "sdk"}, totp_secret=SECRET_80_BITS)
    assert created.id.startswith("user_") and created.password_enabled and created.totp_enabled
    updated = users.update(user_id=created.id, last_name="Person", totp_secret=OTHER_80_BITS)
    assert (updated.last_name, updated.totp_enabled) == ("Person", True)
    merged = users.update_metadata(user_id=created.id, private_metadata={"source": None, "n": 1})
    assert merged.private_metadata == {"n": 1}
    with_image = users.set_profile_image(user_id=created.id, file={"file_name": "a.png", "content": b"\x89PNG", "content_type": "image/png"})
    assert with_image.has_image
    assert users.verify_password(user_id=created.id, password="sdk-password-1").verified is True

    assert users.verify_totp(user_id=JOHN, code=pyotp.TOTP(TOTP_SECRET).now()).code_type == "totp"
    assert users.verify_totp(user_id=JOHN, code=BACKUP_CODES[4]).code_type == "backup_code"
    assert users.disable_mfa(user_id=JOHN).user_id == JOHN
    assert users.get(user_id=JOHN).two_factor_enabled is False

    tokens = users.get_o_auth_access_token(user_id=ALAN, provider="oauth_google")
    assert [t.token for t in tokens] == ["sandbox_google_token_alan"]
    memberships = users.get_organization_memberships(user_id=JANE, limit=1)
    assert memberships.total_count == 2 and len(memberships.data) == 1

    assert users.ban(user_id=created.id).banned is True
    assert users.unban(user_id=created.id).banned is False
    # Every operation above ran on a user holding an 80-bit TOTP secret; verify it, then turn MFA off.
    assert users.verify_totp(user_id=created.id, code=totp(OTHER_80_BITS).now()).code_type == "totp"
    assert users.disable_mfa(user_id=created.id).user_id == created.id
    deleted = users.delete(user_id=created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)

    assert unexercised_operations(app) == set()


def test_sdk_drives_the_support_toolsets(live) -> None:
    """security, sessions, profile and bulk, on seeded users (SEED.md) and ones the harness signs in."""
    clerk, app = live
    users, sessions = clerk.users, clerk.sessions
    lucy = users.create(email_address=["lucy.sdk@example.com"], password="lucy-password-1", totp_secret=SECRET_80_BITS,
                        backup_codes=["111111"])
    assert users.lock(user_id=lucy.id).locked is True
    unlocked = users.unlock(user_id=lucy.id)
    assert (unlocked.locked, unlocked.lockout_expires_in_seconds) == (False, None)
    assert users.set_password_compromised(user_id=lucy.id, revoke_all_sessions=False).password_enabled is True
    assert users.unset_password_compromised(user_id=lucy.id).id == lucy.id
    assert users.delete_totp(user_id=lucy.id).user_id == lucy.id
    assert users.delete_backup_codes(user_id=lucy.id).user_id == lucy.id
    after = users.get(user_id=lucy.id)
    assert (after.totp_enabled, after.backup_code_enabled, after.two_factor_enabled) == (False, False, False)
    assert users.remove_password(user_id=lucy.id, sign_out_of_other_sessions=True).password_enabled is False

    deleted = users.delete_passkey(user_id=JANE, passkey_identification_id=JANE_PASSKEY)
    assert (deleted.id, deleted.deleted) == (JANE_PASSKEY, True) and users.get(user_id=JANE).passkeys == []
    devices = users.list_trusted_devices(user_id=JANE)
    assert [d.id for d in devices.data] == [JANE_DEVICE] and devices.total_count == 1
    assert users.revoke_trusted_device(user_id=JANE, trusted_device_id=JANE_DEVICE).status == "revoked"
    assert users.list_trusted_devices(user_id=JANE).total_count == 0

    listed = sessions.list(user_id=JANE, status="active")
    assert JANE_SESSION in [s.id for s in listed] and all(s.user_id == JANE for s in listed)
    assert sessions.get(session_id=JANE_SESSION).status == "active"
    assert sessions.revoke(session_id=JANE_SESSION).status == "revoked"
    assert sessions.get(session_id=JANE_SESSION).status == "revoked"

    imaged = users.set_profile_image(user_id=lucy.id, file={"file_name": "a.png", "content": b"\x89PNG", "content_type": "image/png"})
    assert imaged.has_image and users.delete_profile_image(user_id=lucy.id).has_image is False
    replaced = users.replace_metadata(user_id=JANE, public_metadata={"plan": "free"})
    assert (replaced.public_metadata, replaced.private_metadata["stripe_customer_id"]) == ({"plan": "free"}, "cus_sandbox_jane")
    invitations = users.get_organization_invitations(user_id=ADA, status="pending")
    assert invitations.total_count == 1 and invitations.data[0].public_organization_data.slug == "acme"

    assert [u.banned for u in users.bulk_unban(user_ids=[MALLORY])] == [False]
    assert sorted((u.id, u.banned) for u in users.bulk_ban(user_ids=[MALLORY, lucy.id])) == sorted([(MALLORY, True), (lucy.id, True)])

    assert unexercised_operations(app, ("security", "sessions", "profile", "bulk")) == set()


def test_sdk_sees_clerk_errors(live) -> None:
    clerk, _ = live
    with pytest.raises(models.ClerkErrors) as raised:
        clerk.users.get(user_id="user_missing")
    assert raised.value.status_code == 404 and raised.value.data.errors[0].code == "resource_not_found"
    with pytest.raises(models.ClerkErrors) as raised:
        clerk.users.create(email_address=["jane@example.com"])
    assert raised.value.status_code == 422 and raised.value.data.errors[0].code == "form_identifier_exists"
    with pytest.raises(models.SDKError) as failed:  # the spec gives verify_password's 422 no body schema
        clerk.users.verify_password(user_id=JANE, password="not-it-at-all")
    assert failed.value.status_code == 422 and '"incorrect_password"' in failed.value.body


def test_sdk_retries_an_injected_503(live) -> None:
    clerk, app = live
    app.state.sandbox.requests.clear()
    app.state.sandbox.faults.add(Fault(path="/v1/users/count", status=503))
    assert clerk.users.count().total_count >= 29
    assert [e["status"] for e in app.state.sandbox.requests.entries()] == [503, 200]


def test_sdk_drives_the_identifiers_and_billing_toolsets() -> None:
    """Every operation of toolsets identifiers and billing, through the SDK's own methods and response models."""
    app = create_app()
    with serving(app) as url, Clerk(bearer_auth=SANDBOX_SECRET_KEY, server_url=f"{url}/v1") as clerk:
        emails, phones, users = clerk.email_addresses, clerk.phone_numbers, clerk.users
        added = emails.create(request={"user_id": JOHN, "email_address": "John.Sdk@example.com", "verified": True})
        assert (added.email_address, added.verification.status) == ("john.sdk@example.com", "verified")
        assert emails.get(email_address_id=added.id).id == added.id
        assert emails.update(email_address_id=added.id, primary=True).id == users.get(user_id=JOHN).primary_email_address_id
        assert emails.delete(email_address_id=added.id).deleted is True
        replaced = emails.replace_for_user(user_id=JOHN, email_address="john@sdk.example", identification_status="reserved")
        assert (replaced.reserved, [e.id for e in users.get(user_id=JOHN).email_addresses]) == (True, [replaced.id])

        phone = phones.create(request={"user_id": ALAN, "phone_number": "+15555550321", "verified": True})
        assert phones.update(phone_number_id=phone.id, reserved_for_second_factor=True).default_second_factor is True
        assert phones.get(phone_number_id=phone.id).reserved_for_second_factor is True
        assert phones.delete(phone_number_id=phone.id).deleted is True
        assert phones.replace_for_user(user_id=JOHN, phone_number="+15555550322").phone_number == "+15555550322"
        assert users.get(user_id=JOHN).two_factor_enabled is False  # his SMS second factor went: MFA is off

        satoshi = "user_DTYtRwOI44BkEALiYXthG3GDDpG"
        emails.create(request={"user_id": satoshi, "email_address": "satoshi@example.com", "verified": True})
        wallet = users.get(user_id=satoshi).web3_wallets[0].id
        assert users.delete_web3_wallet(user_id=satoshi, web3_wallet_identification_id=wallet).deleted is True
        account = users.get(user_id=ALAN).external_accounts[0].id
        assert users.delete_external_account(user_id=ALAN, external_account_id=account).deleted is True

        subscription = users.get_billing_subscription(user_id=JANE)
        assert (subscription.status, subscription.subscription_items[0].plan.slug) == ("active", "pro")
        assert users.get_billing_credit_balance(user_id=JANE).balance.amount == 2500
        entry = users.adjust_billing_credit_balance(user_id=JANE, amount=500, action="decrease", idempotency_key="sdk-1", note="sdk")
        assert (entry.amount.amount, entry.note, entry.created_at.tzinfo is not None) == (-500, "sdk", True)
        assert users.get_billing_credit_balance(user_id=JANE).balance.amount == 2000
        with pytest.raises(models.ClerkErrors) as refused:
            users.adjust_billing_credit_balance(user_id=JANE, amount=5000, action="decrease", idempotency_key="sdk-2")
        assert refused.value.data.errors[0].code == "insufficient_credit_balance"

    assert unexercised_operations(app, toolsets={"identifiers", "billing"}) == set()
