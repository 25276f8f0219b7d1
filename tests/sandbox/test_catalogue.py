"""Clerk's error catalogue as the sandbox's reference: every entry of clerk_mcp/sandbox/api_errors.json is
reached by a request here and answered with exactly that entry's code, status and messages (placeholders
filled). The `app` fixture (conftest.py) checks every other error the sandbox tests provoke against the
same table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY
from clerk_mcp.sandbox.errors import catalogue

from .support import ALAN_GOOGLE, JANE, JANE_EMAIL, JANE_PHONE, JOHN, JOHN_PHONE, MALLORY, SATOSHI, SATOSHI_WALLET

DATA = Path(__file__).resolve().parents[2] / "clerk_mcp" / "sandbox" / "api_errors.json"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
MB = 1024 * 1024


def create(**body: Any) -> Callable[[TestClient], Any]:
    return lambda c: c.post("/v1/users", json=body)


def fault(status: int) -> Callable[[TestClient], Any]:
    def run(c: TestClient) -> Any:
        assert c.post("/_sandbox/faults", json={"path": "/v1/users/count", "status": status}).status_code == 201
        return c.get("/v1/users/count")
    return run


def image(data: bytes, content_type: str = "image/png") -> Callable[[TestClient], Any]:
    return lambda c: c.post(f"/v1/users/{JANE}/profile_image", files={"file": ("f", data, content_type)})


# One request per catalogue entry: the entry's name and how to provoke it from outside.
REACHES: dict[str, Callable[[TestClient], Any]] = {
    "InvalidAuthentication": lambda c: c.get("/v1/users", headers={"Authorization": ""}),
    "InvalidAuthorizationHeaderFormat": lambda c: c.get("/v1/users", headers={"Authorization": f"Basic {SANDBOX_SECRET_KEY}"}),
    "InvalidClerkSecretKey": lambda c: c.get("/v1/users", headers={"Authorization": "Bearer sk_test_wrong"}),
    "UserNotFound": lambda c: c.get("/v1/users/user_missing"),
    "OrganizationNotFound": lambda c: c.post("/_sandbox/organization_memberships", json={"user_id": JANE, "organization_id": "org_missing"}),
    "ResourceNotFound": lambda c: c.get("/v1/no_such_route"),
    "FormUnknownParameter": create(favourite_colour="red"),
    "FormMissingParameter": lambda c: c.post(f"/v1/users/{JANE}/verify_password", json={}),
    "FailedToParseRequestBody": create(first_name=5),
    "FormInvalidParameterFormat": lambda c: c.get("/v1/users", params={"limit": "ten"}),
    "FormInvalidParameterValue": lambda c: c.get("/v1/users", params={"order_by": "shoe_size"}),
    "FormInvalidEncodingParameterValue": lambda c: c.post("/v1/users", content=b'{"first_name": "\\ud800"}', headers={"Content-Type": "application/json"}),
    "FormIdentifierExists": create(email_address=["jane@example.com"]),
    "FormInvalidUsernameLength": create(username="abc"),
    "FormInvalidUsernameCharacter": create(username="not ok!"),
    "FormInvalidEmailAddress": create(email_address=["not-an-email"]),
    "FormInvalidPhoneNumber": create(phone_number=["555-1234"]),
    "FormInvalidWeb3WalletAddress": create(web3_wallet=["0x123"]),
    "FormInvalidTime": create(created_at="yesterday"),
    "FormParameterArrayLengthMismatch": create(email_address=["a@example.com"], email_address_identification_status=["verified", "reserved"]),
    "FormParameterSizeTooLarge": create(public_metadata={"notes": "x" * 8200}),
    "FormParameterArraySizeExceeded": lambda c: c.get("/v1/users", params={"user_id": [f"user_{i}" for i in range(101)]}),
    "FormInvalidPasswordLengthTooShort": create(password="short"),
    "FormInvalidPasswordLengthTooLong": create(password="A" * 73),
    "FormInvalidPasswordSizeInBytesExceeded": create(password="é" * 40),
    "FormPwnedPassword": create(password="password1"),
    "FormPasswordDigestInvalid": create(password_digest="$2b$31$" + "a" * 53, password_hasher="bcrypt"),
    "InvalidTOTPSecret": create(totp_secret="not base32!"),
    "NoPasswordSet": lambda c: c.post(f"/v1/users/{JOHN}/verify_password", json={"password": "anything-at-all"}),
    "IncorrectPassword": lambda c: c.post(f"/v1/users/{JANE}/verify_password", json={"password": "wrong-horse"}),
    "TOTPDisabled": lambda c: c.post(f"/v1/users/{JANE}/verify_totp", json={"code": "123456"}),
    "IncorrectTOTP": lambda c: c.post(f"/v1/users/{JOHN}/verify_totp", json={"code": "000000"}),
    "InvalidLengthTOTP": lambda c: _patch_then(c, {"totp_secret": "KVKFKRCPNZQUYMLXOVYDSQKJKZDTSRLD"}, "/verify_totp", {"code": "1234"}),
    "RequestWithoutImage": lambda c: c.post(f"/v1/users/{JANE}/profile_image", files={"other": ("f", PNG, "image/png")}),
    "ImageTooLarge": image(PNG + bytes(10 * MB)),
    "ImageTypeNotSupported": image(b"just some text", "text/plain"),
    "ImageDecodingFailed": image(b"not really a png", "image/png"),
    "InvalidRequestBody": lambda c: c.post("/v1/users", content=b"{not json", headers={"Content-Type": "application/json"}),
    "RequestBodyTooLarge": lambda c: c.post("/v1/users", content=b" " * (2 * MB), headers={"Content-Type": "application/json"}),
    "InvalidAPIVersion": lambda c: c.get("/v1/users", headers={"Clerk-API-Version": "1999-01-01"}),
    "UnsupportedContentType": lambda c: c.post(f"/v1/users/{JANE}/profile_image", json={"file": "x"}),
    "FormValidationFailed": lambda c: c.post("/_sandbox/seed", json={"users": [{"id": JANE}]}),
    "FormAtLeastOneOptionalParameterMissing": lambda c: c.post("/_sandbox/faults", json={"path": "/v1/users"}),
    "UserLocked": lambda c: _lock(c, "by_attempts"),
    "UserLockedIndefinitely": lambda c: _lock(c, "loaded_locked"),
    "SessionNotFound": lambda c: c.get("/v1/sessions/sess_missing"),
    "PasskeyNotRegistered": lambda c: c.delete(f"/v1/users/{JANE}/passkeys/idn_missing"),
    "ImageNotFound": lambda c: c.delete(f"/v1/users/{JOHN}/profile_image"),
    "UserBanned": lambda c: c.post("/_sandbox/sign_ins", json={"user_id": MALLORY}),
    "BadRequest": fault(400),
    "CouldNotAuthenticateRequest": fault(401),
    "QuotaExceeded": fault(403),
    "Conflict": fault(409),
    "TooManyRequests": fault(429),
    "Unexpected": fault(500),
    "ServiceUnavailable": fault(503),
    "GatewayTimeout": fault(504),
    # toolsets identifiers and billing
    "IdentificationNotFound": lambda c: c.get(f"/v1/email_addresses/{JOHN_PHONE}"),  # a phone number's id is no email's
    "LastIdentificationDeletionFailed": lambda c: c.delete(f"/v1/users/{SATOSHI}/web3_wallets/{SATOSHI_WALLET}"),
    "DeleteLinkedCommNotAllowed": lambda c: c.delete(f"/v1/email_addresses/{JANE_EMAIL}"),
    "CreateSecondFactorUnverified": lambda c: c.post("/v1/phone_numbers", json={"user_id": JANE, "phone_number": "+15555550900",
                                                                                "reserved_for_second_factor": True}),
    "UpdateSecondFactorUnverified": lambda c: c.patch(f"/v1/phone_numbers/{JANE_PHONE}", json={"verified": False, "reserved_for_second_factor": True}),
    "LastIdentificationSetFor2FAFailed": lambda c: _only_phone(c),
    "ExternalAccountNotFound": lambda c: c.delete(f"/v1/users/{JANE}/external_accounts/{ALAN_GOOGLE}"),
    "SubscriptionNotFound": lambda c: c.get(f"/v1/users/{JOHN}/billing/subscription"),
    "InvalidCreditAmount": lambda c: _adjust(c, amount=0),
    "InvalidCreditAction": lambda c: _adjust(c, action="refund"),
    "InsufficientCreditBalance": lambda c: _adjust(c, amount=2501),  # Jane's seeded balance is 2500
    "CurrencyInvalid": lambda c: _adjust(c, currency="XTS"),
}


def _adjust(c: TestClient, **body: Any) -> Any:
    return c.post(f"/v1/users/{JANE}/billing/credits", json={"amount": 1, "action": "decrease", "idempotency_key": "k", **body})


def _only_phone(c: TestClient) -> Any:
    """A user whose only identification is a verified phone number, made their second factor."""
    assert c.post("/_sandbox/seed", json={"users": [{"id": "user_phone_only", "phone_numbers": ["+15555550901"]}]}).status_code == 200
    phone = c.get("/v1/users/user_phone_only").json()["phone_numbers"][0]["id"]
    return c.patch(f"/v1/phone_numbers/{phone}", json={"reserved_for_second_factor": True})


def _lock(c: TestClient, kind: str) -> Any:
    """A verification by a locked user: locked by 10 failed attempts (for an hour), or loaded locked (indefinitely)."""
    if kind == "by_attempts":
        for _ in range(10):
            c.post(f"/v1/users/{JANE}/verify_password", json={"password": "wrong-horse"})
        return c.post(f"/v1/users/{JANE}/verify_password", json={"password": "correct-horse-battery"})
    digest = "$2b$04$" + "a" * 53
    held = {"id": "user_held", "locked": True, "lockout_expires_at": None, "password_digest": digest}
    assert c.post("/_sandbox/seed", json={"users": [held]}).status_code == 200
    return c.post("/v1/users/user_held/verify_password", json={"password": "anything-at-all"})


def _patch_then(c: TestClient, update: dict[str, Any], action: str, body: dict[str, Any]) -> Any:
    assert c.patch(f"/v1/users/{JANE}", json=update).status_code == 200
    return c.post(f"/v1/users/{JANE}{action}", json=body)


def test_every_catalogue_entry_is_reached():
    assert set(REACHES) == set(catalogue())


def test_the_data_file_names_its_source():
    data = json.loads(DATA.read_text(encoding="utf-8"))
    assert data["source"]["repository"] == "clerk/clerk-docs" and data["source"]["path"] == "data/api_errors.json"
    assert re.fullmatch(r"[0-9a-f]{40}", data["source"]["commit"])
    assert "refresh_api_errors.py" in data["refresh"] and (DATA.parents[2] / "scripts" / "refresh_api_errors.py").exists()


@pytest.mark.parametrize("name", sorted(REACHES))
def test_entry_is_answered_as_in_the_catalogue(client: TestClient, name: str):
    entry = catalogue()[name]
    response = REACHES[name](client)
    assert response.status_code == entry.status, response.text
    error = response.json()["errors"][0]
    assert error["code"] == entry.code
    for ours, theirs in ((error["message"], entry.message), (error["long_message"], entry.long_message)):
        # The catalogue's text with its placeholders filled in (and a detail appended), or, where the
        # catalogue has none, the sandbox's own non-empty text.
        pattern = re.escape(theirs.rstrip("."))
        pattern = re.sub(r"<\w+>|%[dvsq]", lambda _: ".+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
        assert ours and re.match(pattern, ours, re.DOTALL), (ours, theirs)
