"""The /_sandbox/ controls: faults, request log, reset, seed, extra OAuth accounts and memberships."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.harness import Fault

from .support import ACME, JANE, JOHN, SEED_USERS, assert_clerk_error, serving

AUTH = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}


def test_status_fault_counts_down_and_matches_templates(client: TestClient) -> None:
    armed = client.post("/_sandbox/faults", json={"method": "get", "path": "/v1/users/{user_id}", "status": 503, "count": 2})
    assert armed.status_code == 201
    assert client.get("/v1/users").status_code == 200
    assert_clerk_error(client.get(f"/v1/users/{JANE}"), 503, "service_unavailable")
    assert client.get(f"/v1/users/{JANE}/organization_memberships").status_code == 200  # {user_id} is one segment
    assert client.delete(f"/v1/users/{JOHN}").status_code == 200  # another method
    assert_clerk_error(client.get(f"/v1/users/{JOHN}"), 503, "service_unavailable")
    assert_clerk_error(client.get(f"/v1/users/{JOHN}"), 404, "resource_not_found")  # count spent
    assert client.get("/_sandbox/faults").json() == []


def test_429_with_retry_after(client: TestClient) -> None:
    client.post("/_sandbox/faults", json={"path": "/v1/users*", "status": 429, "retry_after": 7, "count": None})
    for _ in range(3):
        response = client.get("/v1/users")
        assert_clerk_error(response, 429, "too_many_requests")
        assert response.headers["retry-after"] == "7"
    client.delete("/_sandbox/faults")
    assert client.get("/v1/users").status_code == 200


def test_non_json_body(client: TestClient) -> None:
    client.post("/_sandbox/faults", json={"path": "/v1/users/count", "status": 502, "body": "<html>Bad gateway</html>"})
    response = client.get("/v1/users/count")
    assert (response.status_code, response.text, response.headers["content-type"].split(";")[0]) == (502, "<html>Bad gateway</html>", "text/plain")


def test_latency(client: TestClient) -> None:
    client.post("/_sandbox/faults", json={"path": "/v1/users/count", "latency_ms": 150})
    started = time.perf_counter()
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS
    assert time.perf_counter() - started >= 0.15


def test_dropped_connection_in_process(client: TestClient) -> None:
    client.post("/_sandbox/faults", json={"path": "/v1/users", "method": "POST", "drop": True})
    with pytest.raises(httpx.TransportError):
        client.post("/v1/users", json={"username": "never"})
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS
    assert client.get("/_sandbox/requests").json()[0]["status"] == 200  # headers began; the body never came


def test_dropped_connection_over_http() -> None:
    app = create_app()
    app.state.sandbox.faults.add(Fault(path="/v1/users/count", drop=True))
    with serving(app) as url, httpx.Client(base_url=url, headers=AUTH) as http:
        with pytest.raises(httpx.TransportError):
            http.get("/v1/users/count")
        assert http.get("/v1/users/count").json()["total_count"] == SEED_USERS


def test_bad_fault_is_422(client: TestClient) -> None:
    assert_clerk_error(client.post("/_sandbox/faults", json={"path": "/v1/users", "colour": "red"}), 422, "form_param_unknown", "colour")
    assert_clerk_error(client.post("/_sandbox/faults", json={"path": "/v1/users"}), 422, "form_param_missing")


def test_request_log_masks_secrets(client: TestClient) -> None:
    client.post(f"/v1/users/{JANE}/verify_password", json={"password": "correct-horse-battery"})
    client.get("/v1/users", params=[("email_address", "a@x.com"), ("email_address", "b@x.com"), ("limit", "5")])
    client.post("/v1/users", json={"username": "masked", "password": "plain-text-pw", "backup_codes": ["1"], "totp_secret": None})
    client.post(f"/v1/users/{JANE}/profile_image", files={"file": ("a.png", b"\x89PNG12345", "image/png")})
    log = client.get("/_sandbox/requests").json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", f"/v1/users/{JANE}/verify_password", 200), ("GET", "/v1/users", 200),
        ("POST", "/v1/users", 200), ("POST", f"/v1/users/{JANE}/profile_image", 200),
    ]
    assert log[0]["body"] == {"password": "***"}
    assert log[1]["query"] == [["email_address", "a@x.com"], ["email_address", "b@x.com"], ["limit", "5"]]
    assert log[2]["body"] == {"username": "masked", "password": "***", "backup_codes": "***", "totp_secret": None}
    assert log[3]["body"].startswith("<") and "multipart/form-data" in log[3]["body"]
    assert all(e["headers"]["authorization"] == "Bearer ***" for e in log)
    assert "correct-horse-battery" not in str(log) and "plain-text-pw" not in str(log)
    assert client.delete("/_sandbox/requests").status_code == 204
    assert client.get("/_sandbox/requests").json() == []


def test_the_request_log_keeps_no_large_body(client: TestClient) -> None:
    """1,000 entries of up to 1 MiB each would hold a gigabyte: a body over 64 KiB is noted by size only."""
    client.delete("/_sandbox/requests")
    big = {"public_metadata": {"a": "x" * 200_000}}
    client.patch(f"/v1/users/{JANE}/metadata", json=big)
    (entry,) = client.get("/_sandbox/requests").json()
    assert entry["status"] == 422 and entry["body"].startswith("<") and "not kept" in entry["body"]
    assert len(str(entry)) < 2_000


def test_reset_and_seed(client: TestClient) -> None:
    client.post("/_sandbox/faults", json={"path": "/nowhere", "status": 500})
    assert client.post("/_sandbox/reset").json() == {"reset": True, "seeded": False}
    assert client.get("/v1/users/count").json()["total_count"] == 0
    assert client.get("/_sandbox/faults").json() == []
    fixture = {
        "organizations": [{"id": "org_fixture", "name": "Fixture Org"}],
        "users": [{"id": "user_fixture", "first_name": "Fix", "email_addresses": ["fix@example.org"], "public_metadata": {"k": 1}}],
        "organization_memberships": [{"organization_id": "org_fixture", "user_id": "user_fixture", "role": "org:admin"}],
    }
    assert client.post("/_sandbox/seed", json=fixture).json() == {"organizations": 1, "users": 1, "organization_memberships": 1}
    user = client.get("/v1/users/user_fixture").json()
    assert (user["email_addresses"][0]["email_address"], user["public_metadata"]) == ("fix@example.org", {"k": 1})
    assert client.get("/v1/users/user_fixture/organization_memberships").json()["data"][0]["role_name"] == "Admin"
    assert client.post("/_sandbox/reset", json={"seed": True}).json()["seeded"] is True
    assert client.get("/v1/users/count").json()["total_count"] == SEED_USERS
    assert_clerk_error(client.post("/_sandbox/seed", json={"users": [{"id": JANE}]}), 422, "form_param_value_invalid")


def test_add_oauth_account_and_membership(client: TestClient) -> None:
    added = client.post("/_sandbox/oauth_accounts", json={"user_id": JOHN, "provider": "oauth_github", "token": "gho_test", "scopes": ["repo"]})
    assert added.status_code == 201 and added.json()["oauth_access_token"]["token"] == "gho_test"
    assert [t["token"] for t in client.get(f"/v1/users/{JOHN}/oauth_access_tokens/oauth_github").json()] == ["gho_test"]
    assert client.get(f"/v1/users/{JOHN}").json()["external_accounts"][0]["provider"] == "oauth_github"
    assert_clerk_error(client.post("/_sandbox/oauth_accounts", json={"user_id": JOHN, "provider": "github"}), 422, "form_param_value_invalid")
    assert_clerk_error(client.post("/_sandbox/oauth_accounts", json={"user_id": "user_nope", "provider": "oauth_x"}), 404, "resource_not_found")

    membership = client.post("/_sandbox/organization_memberships", json={"user_id": JOHN, "organization": {"name": "New Co"}, "role": "org:admin"})
    assert membership.json()["organization"]["slug"] == "new-co"
    assert_clerk_error(client.post("/_sandbox/organization_memberships", json={"user_id": JOHN, "organization_id": ACME}), 422, "form_param_value_invalid")
    assert client.get(f"/v1/users/{JOHN}/organization_memberships").json()["total_count"] == 2
    assert client.get("/v1/users/count", params={"organization_id": ACME}).json()["total_count"] == 3


def test_state_persists_in_a_db_file(tmp_path) -> None:
    db = str(tmp_path / "sandbox.db")
    with TestClient(create_app(db_path=db), headers=AUTH) as first:
        first.delete(f"/v1/users/{JANE}")
        first.post("/v1/users", json={"username": "persisted"})
    with TestClient(create_app(db_path=db), headers=AUTH) as second:
        assert second.get("/v1/users/count").json()["total_count"] == SEED_USERS
        assert second.get("/v1/users", params={"username": "persisted"}).json()[0]["username"] == "persisted"
        assert second.get(f"/v1/users/{JANE}").status_code == 404
    with TestClient(create_app(db_path=str(tmp_path / "empty.db"), seed=False), headers=AUTH) as empty:
        assert empty.get("/v1/users/count").json()["total_count"] == 0


def test_concurrent_writes_from_threads(client: TestClient) -> None:
    def create(n: int) -> None:
        assert client.post("/v1/users", json={"username": f"thread{n:03d}"}).status_code == 200

    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.get("/v1/users/count", params={"username_query": "thread"}).json()["total_count"] == 20
