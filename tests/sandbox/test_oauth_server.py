"""The sandbox as an OAuth authorization server (clerk_mcp/sandbox/oauth.py): harness-minted access tokens,
the JWKS they verify against, Clerk's token-verify endpoint in the spec's shape, revocation and key rotation."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import create_app

from .support import JANE, assert_clerk_error, response_schema, validate

VERIFY = "/oauth_applications/access_tokens/verify"


def mint(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/_sandbox/oauth/tokens", json={"user_id": JANE, **body})
    assert response.status_code == 201, response.text
    return response.json()


def verified(client: TestClient, token: str) -> dict[str, Any]:
    """The verify endpoint's answer, checked against Clerk's spec (which predates the `aud` Clerk's SDKs now read)."""
    response = client.post(f"/v1{VERIFY}", json={"access_token": token})
    assert response.status_code == 200, response.text
    body = response.json()
    validate({k: v for k, v in body.items() if k != "aud"}, response_schema("POST", VERIFY))
    return body


def test_a_minted_jwt_verifies_against_the_published_keys(client: TestClient):
    token = mint(client, scopes=["profile", "email"], audience="http://127.0.0.1:8000/mcp", claims={"roles": ["lead"]})
    assert token["token_type"] == "Bearer" and token["scope"] == "profile email" and token["expires_in"] == 3600
    keys = client.get("/v1/jwks").json()
    validate(keys, response_schema("GET", "/jwks"))
    assert client.get("/.well-known/jwks.json", headers={"Authorization": ""}).json() == keys  # the public copy needs no key
    header = jwt.get_unverified_header(token["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    key = next(k for k in keys["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token["access_token"], jwt.PyJWK(key), algorithms=["RS256"], audience="http://127.0.0.1:8000/mcp")
    assert claims["iss"] == "http://testserver" and claims["sub"] == JANE and claims["scope"] == "profile email"
    assert claims["roles"] == ["lead"] and claims["jti"].startswith("oat_") and claims["exp"] - claims["iat"] == 3600


def test_the_verify_endpoint_describes_jwt_and_opaque_tokens(client: TestClient):
    as_jwt = verified(client, mint(client, scopes=["profile"], audience="http://a/mcp")["access_token"])
    assert (as_jwt["subject"], as_jwt["scopes"], as_jwt["aud"], as_jwt["revoked"], as_jwt["expired"]) == (JANE, ["profile"], "http://a/mcp", False, False)
    opaque = mint(client, format="opaque", scopes=["email"], client_id="client_agent")["access_token"]
    found = verified(client, opaque)
    assert found["id"] == opaque and found["client_id"] == "client_agent" and "aud" not in found
    assert client.post(f"/v1{VERIFY}", json={"secret": opaque}).json()["id"] == opaque  # the spec's deprecated name


def test_revocation_and_expiry_are_flags_on_the_answer(client: TestClient):
    opaque = mint(client, format="opaque")["access_token"]
    revoked = client.post("/_sandbox/oauth/revoke", json={"access_token": opaque, "reason": "left the team"}).json()
    assert revoked["revoked"] is True and revoked["revocation_reason"] == "left the team"
    assert verified(client, opaque)["revoked"] is True
    assert verified(client, mint(client, format="opaque", expires_in=-1)["access_token"])["expired"] is True
    assert verified(client, mint(client, expires_in=-1)["access_token"]) == {"active": False}  # an expired JWT


def test_unknown_tokens_and_bad_requests_get_clerks_errors(client: TestClient):
    assert_clerk_error(client.post(f"/v1{VERIFY}", json={"access_token": "oat_" + "0" * 32}), 404, "resource_not_found")
    assert_clerk_error(client.post(f"/v1{VERIFY}", json={"access_token": "a.b.c"}), 404, "resource_not_found")
    assert client.post(f"/v1{VERIFY}", json={}).json()["errors"][0]["meta"] == {"param_name": "access_token"}
    assert client.post(f"/v1{VERIFY}", json={"access_token": "x"}, headers={"Authorization": "Bearer sk_test_other"}).status_code == 401
    jwt_token = mint(client)["access_token"]
    assert_clerk_error(client.post("/_sandbox/oauth/revoke", json={"access_token": jwt_token}), 404, "resource_not_found")


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"user_id": "user_missing"}, 404, None),
        ({"format": "paseto"}, 422, "format"),
        ({"expires_in": 10**9}, 422, "expires_in"),
        ({"not_before_in": -5}, 422, "not_before_in"),
        ({"claims": {"sub": "user_someone_else"}}, 422, "claims"),
        ({"scopes": "profile"}, 422, "scopes"),
    ],
)
def test_the_harness_refuses_what_it_cannot_mint(client: TestClient, body: dict[str, Any], status: int, param: str | None):
    response = client.post("/_sandbox/oauth/tokens", json={"user_id": JANE, **body})
    assert response.status_code == status, response.text
    if param:
        assert response.json()["errors"][0]["meta"] == {"param_name": param}


def test_metadata_names_the_origin_reached_and_its_keys(client: TestClient):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = client.get(path, headers={"Authorization": ""}).json()
        assert metadata["issuer"] == "http://testserver" and metadata["jwks_uri"] == "http://testserver/.well-known/jwks.json"
        assert "profile" in metadata["scopes_supported"]


def test_rotation_reset_and_the_request_log(client: TestClient):
    old = client.get("/v1/jwks").json()["keys"][0]["kid"]
    kept = client.post("/_sandbox/oauth/rotate_key", json={"keep_previous": True}).json()["kid"]
    assert [k["kid"] for k in client.get("/v1/jwks").json()["keys"]] == [kept, old]
    new = client.post("/_sandbox/oauth/rotate_key", json={}).json()["kid"]
    assert [k["kid"] for k in client.get("/v1/jwks").json()["keys"]] == [new]
    opaque = mint(client, format="opaque")["access_token"]
    verified(client, opaque)
    assert opaque not in client.get("/_sandbox/requests").text  # the log masks tokens
    client.post("/_sandbox/reset", json={"seed": True})
    assert_clerk_error(client.post(f"/v1{VERIFY}", json={"access_token": opaque}), 404, "resource_not_found")


def test_the_authorization_code_flow_with_pkce_and_its_refusals():
    """OAuth errors (RFC 6749 §5.2), not Clerk's catalogue bodies, so a plain client rather than the fixture."""
    client = TestClient(create_app())
    registered = client.post("/oauth/register", json={"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "t"})
    assert registered.status_code == 201 and registered.json()["token_endpoint_auth_method"] == "none"
    client_id = registered.json()["client_id"]
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1:9/cb", "state": "s1",
             "code_challenge": challenge, "code_challenge_method": "S256", "scope": "profile", "resource": "http://a/mcp"}
    assert client.get("/oauth/authorize", params=query, follow_redirects=False).json()["error"] == "login_required"
    elsewhere = client.get("/oauth/authorize", params={**query, "login_hint": JANE, "redirect_uri": "http://evil.example/cb"}, follow_redirects=False)
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers  # never sent to an unregistered URI
    answer = client.get("/oauth/authorize", params={**query, "login_hint": JANE}, follow_redirects=False)
    assert answer.status_code == 302
    sent = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert sent["state"] == "s1" and sent["iss"] == "http://testserver"
    form = {"grant_type": "authorization_code", "code": sent["code"], "client_id": client_id,
            "redirect_uri": "http://127.0.0.1:9/cb", "resource": "http://a/mcp"}
    wrong = client.post("/oauth/token", data={**form, "code_verifier": "w" * 64})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    answer = client.get("/oauth/authorize", params={**query, "login_hint": JANE}, follow_redirects=False)
    form["code"] = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    token = client.post("/oauth/token", data={**form, "code_verifier": verifier})
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"
    claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["scope"], claims["client_id"]) == (JANE, "http://a/mcp", "profile", client_id)
    assert client.post("/oauth/token", data={**form, "code_verifier": verifier}).json()["error"] == "invalid_grant"  # used once
    assert client.post("/oauth/register", content=b"x" * 70_000).json()["error"] == "invalid_redirect_uri"
