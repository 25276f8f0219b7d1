"""The sandbox's clock through `/_sandbox/clock`: frozen and advanced time drives timestamps and TOTP windows."""

from __future__ import annotations

import pyotp
from starlette.testclient import TestClient

from .support import JOHN, TOTP_SECRET, assert_clerk_error

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the start of a 30 s TOTP step


def test_frozen_and_advanced_time_is_what_the_api_stamps(client: TestClient) -> None:
    assert client.post("/_sandbox/clock", json={"freeze_at": T0}).json() == {"now": T0, "frozen": True}
    created = client.post("/v1/users", json={"first_name": "Tick"}).json()
    assert created["created_at"] == created["updated_at"] == T0
    assert client.post("/_sandbox/clock", json={"advance_ms": 1_500}).json() == {"now": T0 + 1_500, "frozen": True}
    updated = client.patch(f"/v1/users/{created['id']}", json={"first_name": "Tock"}).json()
    assert (updated["created_at"], updated["updated_at"]) == (T0, T0 + 1_500)
    assert client.get("/_sandbox/clock").json() == {"now": T0 + 1_500, "frozen": True}


def test_unfreeze_runs_on_from_the_frozen_time_and_reset_restores_the_system_time(client: TestClient) -> None:
    client.post("/_sandbox/clock", json={"freeze_at": T0})
    running = client.post("/_sandbox/clock", json={"unfreeze": True}).json()
    assert running["frozen"] is False and T0 <= running["now"] < T0 + 60_000
    assert client.post("/_sandbox/clock", json={"advance_ms": 86_400_000}).json()["now"] >= T0 + 86_400_000
    client.post("/_sandbox/reset", json={"seed": True})
    assert client.get("/_sandbox/clock").json()["now"] > T0 + 365 * 86_400_000  # years later: the system's time again


def test_totp_codes_follow_the_sandbox_clock(client: TestClient) -> None:
    client.post("/_sandbox/clock", json={"freeze_at": T0})
    totp = pyotp.TOTP(TOTP_SECRET)
    later_code = totp.at(T0 // 1000 + 120)  # four steps ahead: outside the one-step window
    assert_clerk_error(client.post(f"/v1/users/{JOHN}/verify_totp", json={"code": later_code}), 422, "totp_incorrect_code")
    client.post("/_sandbox/clock", json={"advance_ms": 120_000})
    assert client.post(f"/v1/users/{JOHN}/verify_totp", json={"code": later_code}).json() == {"verified": True, "code_type": "totp"}


def test_bad_clock_requests_say_what_is_wrong_and_change_nothing(client: TestClient) -> None:
    client.post("/_sandbox/clock", json={"freeze_at": T0})
    for body, param in [
        ({"freeze_at": "1700000000000"}, "freeze_at"), ({"freeze_at": -1}, "freeze_at"), ({"advance_ms": True}, "advance_ms"),
        ({"advance_ms": -5}, "advance_ms"), ({"advance_ms": 2**62}, "advance_ms"), ({"unfreeze": False}, "clock"),
        ({"freeze_at": T0, "advance_ms": 1}, "clock"), ({}, "clock"), ([T0], "clock"), ({"rewind_ms": 5}, "clock"),
    ]:
        error = assert_clerk_error(client.post("/_sandbox/clock", json=body), 422, "form_param_value_invalid", param)
        assert param in error["long_message"]
    assert client.get("/_sandbox/clock").json() == {"now": T0, "frozen": True}


def test_oauth_tokens_expire_on_the_sandbox_clock(client: TestClient) -> None:
    client.post("/_sandbox/clock", json={"freeze_at": T0})
    user_id = client.post("/v1/users", json={"first_name": "Oauth"}).json()["id"]
    linked = client.post("/_sandbox/oauth_accounts", json={"user_id": user_id, "provider": "oauth_google", "token": "tok_1",
                                                           "token_expires_at": T0 + 60_000}).json()
    assert linked["oauth_access_token"]["token"] == "tok_1"
    client.post("/_sandbox/clock", json={"advance_ms": 59_999})
    assert [t["token"] for t in client.get(f"/v1/users/{user_id}/oauth_access_tokens/oauth_google").json()] == ["tok_1"]
    client.post("/_sandbox/clock", json={"advance_ms": 1})
    [refreshed] = client.get(f"/v1/users/{user_id}/oauth_access_tokens/oauth_google").json()
    assert refreshed["token"] != "tok_1" and refreshed["expires_at"] == T0 + 60_000 + 3_600_000
