"""Hostile and odd input never breaks the sandbox (issue 15, points 2-7): each answer is Clerk's 4xx for it,
nothing is changed, and the sandbox keeps serving. Over real HTTP where the point is what reaches the
server before the body (key check, body cap)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import bcrypt
import httpx
import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.errors import ClerkError
from clerk_mcp.sandbox.harness import Fault
from clerk_mcp.sandbox.hashers import LIMITS

from .support import JANE, JOHN, SEED_USERS, assert_clerk_error, serving

AUTH = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}


def raw_request(url: str, head: str) -> tuple[int, bytes]:
    """Send only a request's head (no body, whatever its Content-Length says) and read the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def _length(answer: bytes) -> int:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)


# -- point 2: passwords over 72 bytes -------------------------------------------------------------------


@pytest.mark.parametrize(("password", "code"), [
    ("A" * 73, "form_password_length_too_long"),
    ("é" * 40, "form_password_size_in_bytes_exceeded"),  # 40 characters, 80 bytes
    ("😀" * 19, "form_password_size_in_bytes_exceeded"),
])
def test_long_passwords_are_clerks_422_never_a_500(client: TestClient, password: str, code: str):
    assert_clerk_error(client.post("/v1/users", json={"password": password}), 422, code, "password")
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"password": password}), 422, code, "password")
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS
    # 72 bytes exactly is a valid password, and verifying a longer one is simply incorrect.
    assert client.patch(f"/v1/users/{JANE}", json={"password": "é" * 36}).status_code == 200
    assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "é" * 36}).json() == {"verified": True}
    assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_password", json={"password": password}), 422, "incorrect_password")


# -- point 5: bcrypt cost, backup codes, encodings, nesting ------------------------------------------------


def test_costly_bcrypt_digests_are_refused(client: TestClient):
    too_costly = "$2b$31$" + "a" * 53
    assert_clerk_error(client.post("/v1/users", json={"password_digest": too_costly, "password_hasher": "bcrypt"}),
                       422, "form_password_digest_invalid_code", "password_digest")
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"backup_codes": [too_costly]}), 422, "form_password_digest_invalid_code", "backup_codes")
    assert_clerk_error(client.post("/v1/users", json={"password_digest": "$2b$10$short", "password_hasher": "bcrypt"}),
                       422, "form_password_digest_invalid_code", "password_digest")
    assert client.post(f"/v1/users/{JANE}/verify_password", json={"password": "correct-horse-battery"}).json() == {"verified": True}


def test_a_backup_code_that_only_looks_like_bcrypt_is_a_plain_code(client: TestClient):
    assert client.patch(f"/v1/users/{JANE}", json={"backup_codes": ["$2-not-a-bcrypt-hash"]}).status_code == 200
    assert_clerk_error(client.post(f"/v1/users/{JANE}/verify_totp", json={"code": "12345678"}), 422, "totp_incorrect_code", "code")
    assert client.post(f"/v1/users/{JANE}/verify_totp", json={"code": "$2-not-a-bcrypt-hash"}).json() == {"verified": True, "code_type": "backup_code"}


def test_a_bcrypt_backup_code_within_the_bound_verifies(client: TestClient):
    digest = bcrypt.hashpw(b"90210-abc", bcrypt.gensalt(4)).decode()
    assert client.patch(f"/v1/users/{JANE}", json={"backup_codes": [digest]}).status_code == 200
    assert client.post(f"/v1/users/{JANE}/verify_totp", json={"code": "90210-abc"}).json()["code_type"] == "backup_code"


def test_lone_surrogates_are_refused_naming_the_field(client: TestClient):
    def post(raw: str, path: str = "/v1/users") -> Any:
        return client.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})

    assert_clerk_error(post('{"first_name": "Ada\\ud800"}'), 422, "form_param_value_invalid", "first_name")
    assert_clerk_error(post('{"public_metadata": {"a": ["\\udfff"]}}'), 422, "form_param_value_invalid", "public_metadata")
    assert_clerk_error(post('{"\\ud800": 1}'), 422, "form_param_value_invalid", "?")
    assert_clerk_error(post('{"code": "\\ud800\\udc00\\ud800"}', f"/v1/users/{JOHN}/verify_totp"), 422, "form_param_value_invalid", "code")
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS


@pytest.mark.parametrize("depth", [100_000, 70])
def test_deeply_nested_json_is_a_400(client: TestClient, depth: int):
    body = '{"public_metadata": ' + "[" * depth + "]" * depth + "}"
    error = assert_clerk_error(client.post("/v1/users", content=body, headers={"Content-Type": "application/json"}), 400, "request_body_invalid")
    assert "nest" in error["long_message"]
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_nothing_is_stored(client: TestClient, constant: str):
    json_headers = {"Content-Type": "application/json"}
    for method, path, body in (
        ("PATCH", f"/v1/users/{JANE}/metadata", '{"public_metadata": {"x": %s}}'),
        ("POST", "/v1/users", '{"email_address": ["nan@example.com"], "unsafe_metadata": {"x": [%s]}}'),
        ("POST", "/_sandbox/seed", '{"users": [{"first_name": "N", "public_metadata": {"x": %s}}]}'),
    ):
        answer = client.request(method, path, content=body % constant, headers=json_headers)
        assert_clerk_error(answer, 400, "request_body_invalid")
    assert client.get(f"/v1/users/{JANE}").status_code == 200
    assert client.get("/v1/users", params={"limit": 500}).status_code == 200
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS


def test_metadata_over_clerks_8_kb_is_refused_and_nothing_changes(client: TestClient):
    """"Metadata is limited to 8KB maximum" (clerk-docs metadata-callout.mdx): checked on what would be stored."""
    before = client.get(f"/v1/users/{JANE}").json()["public_metadata"]
    fits = client.patch(f"/v1/users/{JANE}/metadata", json={"public_metadata": {"notes": "x" * 4000}})
    assert fits.status_code == 200
    for attempt in (
        client.patch(f"/v1/users/{JANE}/metadata", json={"public_metadata": {"more": "y" * 4200}}),  # merged: over
        client.put(f"/v1/users/{JANE}/metadata", json={"private_metadata": {"a": "z" * 9000}}),
        client.post("/v1/users", json={"email_address": ["big@example.com"], "unsafe_metadata": {"a": "é" * 4500}}),
    ):
        error = assert_clerk_error(attempt, 422, "form_param_exceeds_allowed_size")
        assert "8 KB" in error["long_message"]
    assert client.get(f"/v1/users/{JANE}").json()["public_metadata"] == {**before, "notes": "x" * 4000}
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS


# -- point 5: keys before bodies, capped bodies, nothing kept from refused requests -----------------------


def test_a_keyless_request_is_refused_before_its_body_is_read():
    app = create_app()
    with serving(app) as url:
        # The head promises 50 MB that never come: the answer can only arrive if the body is not awaited.
        status, body = raw_request(url, "POST /v1/users HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 50000000\n")
        assert status == 401 and json.loads(body)["errors"][0]["code"] == "authentication_invalid"
        status, _ = raw_request(url, "POST /v1/users HTTP/1.1\nHost: x\nAuthorization: Bearer sk_test_nope\nContent-Length: 50000000\n")
        assert status == 401
        status, _ = raw_request(url, "POST /_sandbox/seed HTTP/1.1\nHost: x\nContent-Length: 50000000\n")
        assert status == 401
        with httpx.Client(base_url=url, headers=AUTH) as http:
            log = http.get("/_sandbox/requests").json()
    # Only method, path and status are kept of refused requests: no header, query or body.
    assert [(e["method"], e["path"], e["status"], e["headers"], e["query"], e["body"]) for e in log] == [
        ("POST", "/v1/users", 401, {}, [], None)] * 2


def test_an_oversized_body_is_a_413_before_it_is_read():
    app = create_app()
    with serving(app) as url:
        head = f"POST /v1/users HTTP/1.1\nHost: x\nAuthorization: Bearer {SANDBOX_SECRET_KEY}\nContent-Type: application/json\nContent-Length: 50000000\n"
        status, body = raw_request(url, head)
        assert status == 413 and json.loads(body)["errors"][0]["code"] == "request_body_too_large"
        with httpx.Client(base_url=url, headers=AUTH) as http:
            # Streamed without a Content-Length, the body is cut off at the cap just the same.
            chunks = (b" " * 65536 for _ in range(40))
            assert_clerk_error(http.post("/v1/users", content=chunks, headers={"Content-Type": "application/json"}), 413, "request_body_too_large")
            assert http.get("/v1/users/count").json()["total_count"] == SEED_USERS
            assert [e["body"] for e in http.get("/_sandbox/requests").json()][:2] == [None, None]


# -- point 4: profile images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "content_type", "status", "code"), [
    (b"hello, world", "text/plain", 400, "request_body_invalid"),
    (b"%PDF-1.7", "application/pdf", 400, "request_body_invalid"),
    (b"BM\x00\x00 a bitmap", "image/bmp", 400, "request_body_invalid"),
    (b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024), "image/png", 413, "image_too_large"),
])
def test_profile_images_clerk_refuses(client: TestClient, data: bytes, content_type: str, status: int, code: str):
    response = client.post(f"/v1/users/{JANE}/profile_image", files={"file": ("upload", data, content_type)})
    assert_clerk_error(response, status, code)
    assert client.get(f"/v1/users/{JANE}").json()["has_image"] is False


@pytest.mark.parametrize(("data", "content_type"), [
    (b"\xff\xd8\xff\xe0 a jpeg", "image/jpeg"), (b"GIF89a...", "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "application/octet-stream"),
])
def test_profile_images_clerk_takes(client: TestClient, sandbox: Any, data: bytes, content_type: str):
    user = client.post(f"/v1/users/{JANE}/profile_image", files={"file": ("upload", data, content_type)}).json()
    assert user["has_image"] is True
    stored = sandbox.store.rows("SELECT content_type FROM images WHERE user_id = ?", (JANE,))[0][0]
    assert stored.startswith("image/")


# -- point 5: harness inputs ---------------------------------------------------------------------------------


TYPE, VALUE, MISSING = "form_param_value_invalid", "form_param_value_invalid", "form_param_missing"


@pytest.mark.parametrize(("path", "body", "code", "param"), [
    ("/_sandbox/faults", {"path": "/v1/users", "status": 503, "count": "2"}, TYPE, "count"),
    ("/_sandbox/faults", {"path": "/v1/users", "latency_ms": "5"}, TYPE, "latency_ms"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": 500, "body": 42}, TYPE, "body"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": "500"}, TYPE, "status"),
    ("/_sandbox/faults", {"path": 7, "status": 500}, TYPE, "path"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": 500, "drop": "yes"}, TYPE, "drop"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": 99}, VALUE, "status"),
    ("/_sandbox/faults", {"path": "/v1/users", "latency_ms": 10**9}, VALUE, "latency_ms"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": 500, "count": 0}, VALUE, "count"),
    ("/_sandbox/faults", {"path": "/v1/users", "status": 429, "retry_after": -1}, VALUE, "retry_after"),
    ("/_sandbox/faults", {"path": "/v1/users", "method": "G ET", "status": 500}, VALUE, "method"),
    ("/_sandbox/faults", {"path": "users", "status": 500}, VALUE, "path"),
    ("/_sandbox/seed", {"users": "x"}, TYPE, "users"),
    ("/_sandbox/seed", {"users": [1, 2]}, TYPE, "users"),
    ("/_sandbox/reset", {"seed": "yes"}, TYPE, "seed"),
    ("/_sandbox/oauth_accounts", {"user_id": JANE, "provider": 5}, TYPE, "provider"),
    ("/_sandbox/oauth_accounts", {"provider": "oauth_google"}, MISSING, "user_id"),
    ("/_sandbox/organization_memberships", {"user_id": JANE, "organization": "Acme"}, TYPE, "organization"),
])
def test_wrong_harness_input_is_a_clear_422_and_changes_nothing(client: TestClient, path: str, body: Any, code: str, param: str):
    error = assert_clerk_error(client.post(path, json=body), 422, code, param)
    assert param in error["long_message"]
    assert client.get("/_sandbox/faults").json() == []
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS


@pytest.mark.parametrize("body", [[1, 2], "fault", 3, None])
def test_a_fault_that_is_not_an_object_is_refused(client: TestClient, body: Any):
    response = client.post("/_sandbox/faults", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert client.get("/_sandbox/faults").json() == []


def test_faults_answer_with_clerks_body_for_their_status(client: TestClient):
    client.post("/_sandbox/faults", json={"path": "/v1/users/count", "status": 502})
    response = client.get("/v1/users/count")
    assert (response.status_code, response.text) == (502, "502 Bad Gateway")  # what a proxy says: Clerk has no 502
    for status, code in ((500, "internal_clerk_error"), (503, "service_unavailable"), (504, "gateway_timeout"), (404, "resource_not_found")):
        client.post("/_sandbox/faults", json={"path": "/v1/users/count", "status": status})
        assert_clerk_error(client.get("/v1/users/count"), status, code)


# -- point 5: hashing off the event loop ------------------------------------------------------------------------


def test_a_costly_verification_does_not_stall_other_requests():
    """While a cost-14 bcrypt check (the bound, about a second) runs, the server keeps answering requests,
    reads of the store included."""
    app = create_app()
    digest = bcrypt.hashpw(b"slow-but-bounded", bcrypt.gensalt(LIMITS["bcrypt_cost"])).decode()
    with serving(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        user = http.post("/v1/users", json={"password_digest": digest, "password_hasher": "bcrypt"}).json()
        result: list[Any] = []
        slow = threading.Thread(target=lambda: result.append(http.post(f"/v1/users/{user['id']}/verify_password", json={"password": "slow-but-bounded"})))
        slow.start()
        answered_meanwhile = reads_meanwhile = 0
        with httpx.Client(base_url=url, timeout=60) as keyless:
            while slow.is_alive():
                assert keyless.get("/v1/users").status_code == 401
                answered_meanwhile += 1 if slow.is_alive() else 0
                # The hash runs outside the store's lock, so reads of the store go on too (not only refusals).
                assert http.get("/v1/users/count").status_code == 200
                reads_meanwhile += 1 if slow.is_alive() else 0
        slow.join()
    assert result[0].json() == {"verified": True}
    assert answered_meanwhile > 0
    assert reads_meanwhile >= 3, "reads waited for the hash: it holds the store's lock"


def test_a_backup_code_used_by_concurrent_requests_verifies_once():
    """Hashing runs outside the store's lock; the code is consumed under it, so it stays single-use."""
    app = create_app()
    with serving(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        user = http.post("/v1/users", json={"backup_codes": ["race-me-1"], "skip_password_requirement": True}).json()
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda: answers.append(
                http.post(f"/v1/users/{user['id']}/verify_totp", json={"code": "race-me-1"}).status_code))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # One verifies; the others find it used up (here the user's last code: 400 totp_disabled).
    assert len(answers) == 6 and answers.count(200) == 1, answers


# -- point 7: limit above 500 ------------------------------------------------------------------------------------


def test_a_limit_above_500_gives_the_default_page(client: TestClient):
    """clerk/clerk-sdk-python issue #166: Clerk answers `limit=501` with the default page of 10."""
    assert len(client.get("/v1/users", params={"limit": 501}).json()) == 10
    assert len(client.get("/v1/users", params={"limit": 500}).json()) == SEED_USERS
    assert len(client.get(f"/v1/users/{JANE}/organization_memberships", params={"limit": 10**6}).json()["data"]) == 2
    assert_clerk_error(client.get("/v1/users", params={"limit": 0}), 422, "form_param_value_invalid", "limit")


# -- point 6: Clerk-API-Version ------------------------------------------------------------------------------------


def test_api_versions(client: TestClient):
    for bogus in ("2099-01-01", "v1", "latest", ""):
        error = assert_clerk_error(client.get("/v1/users/count", headers={"Clerk-API-Version": bogus}), 400, "api_version_invalid")
        assert error["long_message"].startswith("Invalid Clerk API version: ")
    both = client.get("/v1/users/count", params={"__clerk_api_version": "2025-11-10"}, headers={"Clerk-API-Version": "2025-11-10"})
    assert_clerk_error(both, 400, "api_version_invalid")
    assert client.get("/v1/users/count", params={"__clerk_api_version": "2025-04-10"}).status_code == 200
    # 2026-05-12 took the metadata fields out of PATCH /users/{id}; older versions replace each one given.
    assert_clerk_error(client.patch(f"/v1/users/{JANE}", json={"public_metadata": {"a": 1}}), 422, "form_param_unknown", "public_metadata")
    older = client.patch(f"/v1/users/{JANE}", json={"public_metadata": {"plan": "pro"}, "first_name": "Janet"}, headers={"Clerk-API-Version": "2025-11-10"})
    assert older.status_code == 200, older.text
    assert (older.json()["public_metadata"], older.json()["first_name"]) == ({"plan": "pro"}, "Janet")
    assert client.get(f"/v1/users/{JANE}").json()["private_metadata"] != {}  # fields not sent are left alone


@pytest.mark.parametrize("settings", [{"status": 99}, {"status": "500"}, {"latency_ms": -5}, {"count": 0, "status": 500}, {}])
def test_a_malformed_fault_cannot_be_armed_in_process_either(sandbox: Any, settings: dict[str, Any]):
    with pytest.raises(ClerkError) as refused:
        sandbox.faults.add(Fault(path="/v1/users", **settings))
    assert refused.value.status == 422 and refused.value.long_message
    assert sandbox.faults.list() == []


@pytest.mark.parametrize(("fixture", "code", "param"), [
    ({"users": [{"id": "user_bad1", "created_at": "yesterday"}]}, "form_param_value_invalid", "created_at"),
    ({"users": [{"id": "user_bad2", "public_metadata": "x"}]}, "form_param_value_invalid", "public_metadata"),
    ({"users": [{"id": "user_bad3", "email_addresses": [5]}]}, "form_param_value_invalid", "email_addresses"),
    ({"users": [{"id": "user_bad4", "phone_numbers": [{"id": "idn_x"}]}]}, "form_param_missing", "phone_number"),
    ({"users": [{"id": "user_bad5", "external_accounts": [{"provider": "oauth_x", "scopes": "email"}]}]}, "form_param_value_invalid", "scopes"),
    ({"users": [{"id": "user_bad6", "shoe_size": 44}]}, "form_param_unknown", "shoe_size"),
    ({"organizations": [{"slug": "no-name"}]}, "form_param_missing", "name"),
    ({"organization_memberships": [{"user_id": JANE, "role": 1}]}, "form_param_value_invalid", "role"),
])
def test_a_fixture_is_checked_at_every_level_before_anything_is_stored(client: TestClient, fixture: Any, code: str, param: str):
    """A seeded value of the wrong type would later be rendered as it is, outside Clerk's schema."""
    assert_clerk_error(client.post("/_sandbox/seed", json=fixture), 422, code, param)
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS
