"""Account lockout over HTTP, with the sandbox's clock frozen: failed verifications count, the limit locks the
user for the cooldown, the cooldown ends exactly, and the instance's policy is an emulator setting."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import bcrypt
import pyotp
import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.lockout import Lockout
from clerk_mcp.sandbox.store import Store

from .support import JANE, JOHN, TOTP_SECRET, assert_clerk_error

T0 = 1_700_000_000_000
PASSWORD = "correct-horse-battery"  # Jane's (SEED.md)


@contextlib.contextmanager
def _client(**settings: Any) -> Iterator[TestClient]:
    with TestClient(create_app(**settings), headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as client:
        client.post("/_sandbox/clock", json={"freeze_at": T0})
        yield client


@pytest.fixture
def strict() -> Iterator[TestClient]:
    """An instance that locks after 5 failures (Clerk's minimum limit) for 10 minutes."""
    with _client(lockout=Lockout(max_attempts=5, duration_s=600)) as client:
        yield client


def _lockout(client: TestClient, user_id: str) -> tuple[bool, int | None, int | None]:
    user = client.get(f"/v1/users/{user_id}").json()
    return user["locked"], user["lockout_expires_in_seconds"], user["verification_attempts_remaining"]


def _fail_password(client: TestClient, times: int) -> None:
    for _ in range(times):
        assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "wrong-horse"}).status_code == 422


def test_default_policy_is_clerks_for_new_instances() -> None:
    with _client() as client:
        assert _lockout(client, JANE) == (False, None, 10)
        _fail_password(client, 10)
        assert _lockout(client, JANE) == (True, 3600, 0)


def test_failures_lock_for_the_cooldown_and_it_ends_exactly(strict: TestClient) -> None:
    _fail_password(strict, 4)
    assert _lockout(strict, JANE) == (False, None, 1)
    _fail_password(strict, 1)
    assert _lockout(strict, JANE) == (True, 600, 0)
    error = assert_clerk_error(strict.post(f"/v1/users/{JANE}/verify_password", json={"password": PASSWORD}), 403, "user_locked")
    assert "try again in 10 minutes" in error["long_message"]
    strict.post("/_sandbox/clock", json={"advance_ms": 599_000})
    assert _lockout(strict, JANE) == (True, 1, 0)
    assert "try again in 1 second." in strict.post(f"/v1/users/{JANE}/verify_password", json={"password": PASSWORD}).json()["errors"][0]["long_message"]
    strict.post("/_sandbox/clock", json={"advance_ms": 1_000})
    assert _lockout(strict, JANE) == (False, None, 5)
    assert strict.post(f"/v1/users/{JANE}/verify_password", json={"password": PASSWORD}).json() == {"verified": True}


def test_a_success_clears_the_count_and_totp_failures_count_too(strict: TestClient) -> None:
    _fail_password(strict, 3)
    assert strict.post(f"/v1/users/{JANE}/verify_password", json={"password": PASSWORD}).status_code == 200
    assert _lockout(strict, JANE) == (False, None, 5)
    for _ in range(5):
        assert strict.post(f"/v1/users/{JOHN}/verify_totp", json={"code": "000000"}).status_code == 422
    assert _lockout(strict, JOHN) == (True, 600, 0)
    code = pyotp.TOTP(TOTP_SECRET).at(T0 // 1000)
    assert_clerk_error(strict.post(f"/v1/users/{JOHN}/verify_totp", json={"code": code}), 403, "user_locked")


def test_indefinite_and_disabled_lockout() -> None:
    with _client(lockout=Lockout(max_attempts=5, duration_s=None)) as client:
        _fail_password(client, 5)
        client.post("/_sandbox/clock", json={"advance_ms": 10 * 365 * 86_400_000})
        assert _lockout(client, JANE) == (True, None, 0)
        error = assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_password", json={"password": PASSWORD}), 403, "user_locked")
        assert error["long_message"] == "Your account is locked. For more information, please contact support."
    with _client(lockout=Lockout(max_attempts=None)) as disabled:
        _fail_password(disabled, 50)
        assert _lockout(disabled, JANE) == (False, None, None)


def test_a_user_created_locked_keeps_their_attempts(strict: TestClient) -> None:
    user = strict.post("/v1/users", json={"first_name": "Held", "locked": True,
                                          "password_digest": bcrypt.hashpw(b"held-pass", bcrypt.gensalt(4)).decode(),
                                          "password_hasher": "bcrypt"}).json()
    assert (user["locked"], user["lockout_expires_in_seconds"], user["verification_attempts_remaining"]) == (True, 600, 5)
    assert_clerk_error(strict.post(f"/v1/users/{user['id']}/verify_password", json={"password": "held-pass"}), 403, "user_locked")


def test_lockout_settings_refuse_what_clerk_refuses() -> None:
    for bad in ({"max_attempts": 4}, {"max_attempts": "10"}, {"duration_s": 0}, {"duration_s": 1.5}):
        with pytest.raises(ValueError, match="lockout"):
            Lockout(**bad)


def test_a_database_written_before_lockout_opens_with_the_new_columns(tmp_path) -> None:
    path = str(tmp_path / "old.db")
    Store(path).db.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE users DROP COLUMN lockout_expires_at")
    db.execute("ALTER TABLE users DROP COLUMN failed_verification_attempts")
    db.close()
    with TestClient(create_app(db_path=path), headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as client:
        assert _lockout(client, JANE) == (False, None, 10)


def test_the_seeded_locked_user_unlocks_after_the_cooldown(strict: TestClient) -> None:
    strict.post("/_sandbox/reset", json={"seed": True})  # seeded on the system's time; stop the clock right there
    strict.post("/_sandbox/clock", json={"freeze_at": strict.get("/_sandbox/clock").json()["now"]})
    lucy = strict.get("/v1/users", params={"email_address": "lucy@example.com"}).json()[0]["id"]
    assert _lockout(strict, lucy)[::2] == (True, 0) and 599 <= _lockout(strict, lucy)[1] <= 600
    strict.post("/_sandbox/clock", json={"advance_ms": 600_000})
    assert _lockout(strict, lucy) == (False, None, 5)


def test_fixture_lockout_fields_are_checked(client: TestClient) -> None:
    never = {"first_name": "Never", "locked": True, "lockout_expires_at": None, "failed_verification_attempts": 3}
    assert client.post("/_sandbox/seed", json={"users": [never]}).status_code == 200
    held = client.get("/v1/users", params={"query": "Never"}).json()[0]
    assert (held["locked"], held["lockout_expires_in_seconds"], held["verification_attempts_remaining"]) == (True, None, 7)
    for bad, code in (({"failed_verification_attempts": "3"}, "form_param_value_invalid"),  # a wrong type (fixtures.check)
                      ({"locked": True, "lockout_expires_at": "soon"}, "form_param_value_invalid"),
                      ({"failed_verification_attempts": -1}, "form_param_format_invalid")):
        response = client.post("/_sandbox/seed", json={"users": [{"first_name": "Bad", **bad}]})
        assert_clerk_error(response, 422, code, next(iter(k for k in bad if k != "locked")))
    assert client.get("/v1/users", params={"query": "Bad"}).json() == []
