"""`serve --http --auth clerk|oidc`: the server as an OAuth protected resource, the sandbox as its authorization server.

Everything runs over loopback HTTP: the sandbox (clerk_mcp/sandbox/oauth.py) serves its JWKS, metadata and
Clerk's token-verify endpoint and mints tokens through its harness; clerk-mcp verifies them (clerk_mcp/auth.py).
Forged tokens (another key, `alg: none`, HS256 keyed with the public key) are made here, as an attacker would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mcp.client.auth.utils import extract_resource_metadata_from_www_auth
from mcp.shared.auth import ProtectedResourceMetadata
from mcp.shared.exceptions import MCPError

from clerk_mcp.cli import main
from clerk_mcp.http import http_app
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.settings import Settings

from serving import mcp_client, serve_http, serving

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"  # Jane Doe in the bundled seed
SANDBOX = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@contextmanager
def oauth_server(clerk: str, audit: Path, **settings: Any) -> Iterator[str]:
    """clerk-mcp over HTTP, `--auth clerk` against the sandbox at `clerk` unless `settings` say otherwise; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = Settings(**{
        "secret_key": SANDBOX_SECRET_KEY, "api_url": clerk, "auth": "clerk", "auth_issuer": clerk,
        "resource_url": f"{base}/mcp", "audit_log": audit, **settings,
    })
    with serving(http_app(config), sock=sock):
        yield base


@pytest.fixture(scope="module")
def clerk() -> Iterator[str]:
    with serving(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def url(clerk: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oauth_server(clerk, tmp_path_factory.mktemp("oauth") / "audit.jsonl", auth_scopes=["profile"]) as base:
        yield base


def mint(clerk: str, via: str | None = None, **body: Any) -> str:
    """An access token from the sandbox's harness (requested through `via`, another name for the sandbox, if given)."""
    response = httpx.post(f"{via or clerk}/_sandbox/oauth/tokens", json={"user_id": JANE, **body}, headers=SANDBOX, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def post(url: str, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(f"{url}/mcp", json=INITIALIZE, headers=headers, timeout=10)


def claims(clerk: str, url: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": clerk, "sub": JANE, "aud": f"{url}/mcp", "client_id": "client_x", "scope": "profile",
            "jti": "oat_" + "0" * 32, "iat": now, "nbf": now, "exp": now + 600, **overrides}


def current_kid(clerk: str) -> str:
    return httpx.get(f"{clerk}/.well-known/jwks.json", timeout=10).json()["keys"][0]["kid"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(clerk: str, url: str) -> str:
    """The algorithm-confusion forgery: HS256 whose HMAC secret is the issuer's public key (which anyone can fetch)."""
    jwk = httpx.get(f"{clerk}/.well-known/jwks.json", timeout=10).json()["keys"][0]
    pem = jwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]}).encode()) + "." + b64(json.dumps(claims(clerk, url)).encode())
    return signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())


def metadata_url(url: str) -> str:
    return f"{url}/.well-known/oauth-protected-resource/mcp"


async def test_a_caller_with_a_sandbox_token_lists_and_calls_tools(clerk: str, url: str):
    token = mint(clerk, scopes=["profile", "email"], audience=f"{url}/mcp")
    async with mcp_client(url, {"Authorization": f"Bearer {token}"}) as client:
        assert "get_user" in {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("get_user", {"user_id": JANE})
    assert not result.is_error and result.structured_content["id"] == JANE


async def test_an_opaque_token_works_until_it_is_revoked(clerk: str, url: str):
    token = mint(clerk, format="opaque", scopes=["profile"], audience=f"{url}/mcp")
    assert token.startswith("oat_")
    assert post(url, token).status_code == 200
    revoked = httpx.post(f"{clerk}/_sandbox/oauth/revoke", json={"access_token": token}, headers=SANDBOX, timeout=10)
    assert revoked.json()["revoked"] is True
    refused = post(url, token)
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]


REFUSED = {
    "no token": lambda clerk, url: None,
    "not a token": lambda clerk, url: "abc.def.ghi",
    "signed by an unknown key": lambda clerk, url: jwt.encode(
        claims(clerk, url), rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
        headers={"kid": current_kid(clerk), "typ": "at+jwt"},  # the instance's key id, another key
    ),
    "expired": lambda clerk, url: mint(clerk, scopes=["profile"], audience=f"{url}/mcp", expires_in=-60),
    "not yet valid": lambda clerk, url: mint(clerk, scopes=["profile"], audience=f"{url}/mcp", not_before_in=600),
    "for another audience": lambda clerk, url: mint(clerk, scopes=["profile"], audience="https://other.example/mcp"),
    "for no audience": lambda clerk, url: mint(clerk, scopes=["profile"]),
    "from another issuer": lambda clerk, url: mint(clerk, clerk.replace("127.0.0.1", "localhost"), scopes=["profile"], audience=f"{url}/mcp"),
    "alg none": lambda clerk, url: jwt.encode(claims(clerk, url), None, algorithm="none", headers={"kid": current_kid(clerk), "typ": "at+jwt"}),
    "HS256 keyed with the public key": hs256_with_public_key,
    "opaque, unknown to Clerk": lambda clerk, url: "oat_" + "1" * 32,
    "opaque, for another audience": lambda clerk, url: mint(clerk, format="opaque", scopes=["profile"], audience="https://other.example/mcp"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_token_is_401_with_the_metadata_url(clerk: str, url: str, case: str):
    token = REFUSED[case](clerk, url)
    response = post(url, token)
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert f'resource_metadata="{metadata_url(url)}"' in challenge
    assert response.json()["error"] == "invalid_token" and (token is None or token not in response.text)


def test_a_token_without_the_required_scope_is_403(clerk: str, url: str):
    response = post(url, mint(clerk, scopes=["email"], audience=f"{url}/mcp"))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and f'resource_metadata="{metadata_url(url)}"' in challenge


def test_a_client_without_a_token_finds_the_authorization_server(clerk: str, url: str):
    """What an MCP client does first (MCP authorization spec, "Authorization Server Discovery"): the 401's
    resource_metadata → Protected Resource Metadata (RFC 9728) → the authorization server's metadata (RFC 8414)."""
    challenge = httpx.post(f"{url}/mcp", json=INITIALIZE, headers={"Accept": "application/json, text/event-stream"}, timeout=10)
    found = extract_resource_metadata_from_www_auth(challenge)  # the SDK client's own parser
    assert found == metadata_url(url)
    resource = ProtectedResourceMetadata.model_validate_json(httpx.get(found, timeout=10).content)
    assert str(resource.resource) == f"{url}/mcp" and [str(s).rstrip("/") for s in resource.authorization_servers] == [clerk]
    assert resource.scopes_supported == ["profile"]
    server = httpx.get(f"{clerk}/.well-known/oauth-authorization-server", timeout=10).json()
    assert server["issuer"] == clerk
    assert httpx.get(server["jwks_uri"], timeout=10).json()["keys"][0]["kty"] == "RSA"


async def test_a_rotated_signing_key_is_fetched_and_the_old_one_stops(tmp_path: Path):
    with serving(create_app()) as clerk, oauth_server(clerk, tmp_path / "audit.jsonl") as url:
        before = mint(clerk, audience=f"{url}/mcp")
        assert post(url, before).status_code == 200
        httpx.post(f"{clerk}/_sandbox/oauth/rotate_key", json={}, headers=SANDBOX, timeout=10).raise_for_status()
        after = mint(clerk, audience=f"{url}/mcp")
        assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
        assert post(url, after).status_code == 200  # an unknown key id: the JWKS is fetched again
        assert post(url, before).status_code == 401  # its key is gone from the set


async def test_oidc_mode_discovers_the_keys_and_takes_jwts_only(tmp_path: Path, clerk: str):
    with oauth_server(clerk, tmp_path / "audit.jsonl", auth="oidc", secret_key=None, api_url="https://api.clerk.com") as url:
        token = mint(clerk, audience=f"{url}/mcp")
        async with mcp_client(url, {"Authorization": f"Bearer {token}"}) as client:
            assert (await client.call_tool("get_user", {"user_id": JANE})).structured_content["id"] == JANE
        assert post(url, mint(clerk, format="opaque", audience=f"{url}/mcp")).status_code == 401


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--auth", "clerk"], {"CLERK_SECRET_KEY": SANDBOX_SECRET_KEY}, "--auth clerk needs --auth-issuer"),
        (["--auth", "clerk", "--auth-issuer", "http://127.0.0.1:9"], {}, "--auth clerk needs the secret key"),
        (["--auth", "oidc", "--auth-issuer", "http://127.0.0.1:9"], {"CLERK_MCP_AUTH_TOKEN": "t" * 32}, "unset CLERK_MCP_AUTH_TOKEN"),
        (["--auth", "oidc", "--auth-issuer", "http://127.0.0.1:9"], {"CLERK_MCP_AUTH_ALGORITHMS": "RS256,HS256"}, "asymmetric JWS algorithms only"),
    ],
)
def test_an_auth_setting_that_cannot_work_stops_start_up(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name in [n for n in os.environ if n.startswith(("CLERK_MCP_", "CLERK_SECRET", "CLERK_API"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--http", "--port", "0", *args]) == 2
    assert message in capsys.readouterr().err


JOHN = "user_kx2WmTGuBqHejxt5sblIrbgmEkk"  # John Smith: a member (not an admin) of acme
# Jane is an admin of acme: "lead". John with a "trainee" roles claim matches trainee and agent: the first wins.
ROLES = {
    "lead": {"match": {"org_role": "org:admin"}, "toolsets": ["users", "identifiers"], "confirm": "approve"},
    "trainee": {"match": {"roles": ["trainee"]}, "tools": ["get_*", "verify_password"], "verify_attempts": 1},
    "agent": {"match": {"scopes": ["profile"]}, "read_only": True, "rate_limit": 1},
}


async def tools_and_call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> tuple[set[str], Any]:
    async with mcp_client(url, {"Authorization": f"Bearer {token}"}) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        return listed, await client.call_tool(tool, arguments)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_two_callers_with_different_roles_see_different_tools_and_the_audit_names_each(clerk: str, tmp_path: Path):
    audit, transcript = tmp_path / "audit.jsonl", tmp_path / "transcript.jsonl"
    with oauth_server(clerk, audit, roles=ROLES, record=transcript) as url:
        jane = mint(clerk, user_id=JANE, scopes=["profile"], audience=f"{url}/mcp", client_id="client_desk",
                    claims={"name": "Jane Doe", "email": "jane@example.com"})
        john = mint(clerk, user_id=JOHN, scopes=["profile"], audience=f"{url}/mcp")
        lead_tools, banned = await tools_and_call(url, jane, "ban_user", {"user_id": "user_ovCZqjyyMHS7hTT7AFqusUfDUwS"})
        agent_tools, refused = await tools_and_call(url, john, "ban_user", {"user_id": "user_ovCZqjyyMHS7hTT7AFqusUfDUwS"})
        _, status = await tools_and_call(url, jane, "clerk_status", {})
    assert {"ban_user", "delete_user", "get_user", "delete_email_address"} <= lead_tools and not banned.is_error  # confirm=approve
    assert "get_user" in agent_tools and not agent_tools & {"ban_user", "delete_user", "update_user", "get_email_address"}
    assert refused.is_error and "read-only" in refused.content[0].text
    lines = audit_lines(audit)
    assert [line["caller"] for line in lines[:2]] == [
        {"subject": JANE, "name": "Jane Doe", "email": "jane@example.com", "client_id": "client_desk", "role": "lead"},
        {"subject": JOHN, "client_id": "client_sandbox", "role": "agent"},
    ]
    assert [(line["decision"], line["outcome"]) for line in lines[:2]] == [("pre-approved", "ok"), ("hidden", "refused")]
    assert [entry["caller"]["subject"] for entry in audit_lines(transcript)] == [JANE, JOHN, JANE]
    assert status.structured_content["caller"]["role"] == "lead" and status.structured_content["confirmation_mode"] == "approve"


async def test_the_first_matching_role_wins_and_a_caller_matching_none_gets_nothing(clerk: str, tmp_path: Path):
    with oauth_server(clerk, tmp_path / "audit.jsonl", roles=ROLES) as url:
        trainee = mint(clerk, user_id=JOHN, scopes=["profile"], audience=f"{url}/mcp", claims={"roles": ["trainee"]})
        listed, first = await tools_and_call(url, trainee, "verify_password", {"user_id": JANE, "password": "wrong-one"})
        _, second = await tools_and_call(url, trainee, "verify_password", {"user_id": JANE, "password": "wrong-two"})
        nobody = mint(clerk, user_id=JOHN, scopes=["email"], audience=f"{url}/mcp")  # not an admin, no profile scope, no roles claim
        none_listed, refused = await tools_and_call(url, nobody, "get_user", {"user_id": JANE})
    assert "verify_password" in listed and "update_user" not in listed  # trainee (listed before agent): its own tools
    assert first.is_error and "password" in first.content[0].text.lower()  # reached Clerk: a wrong password
    assert second.is_error and "Too many verification attempts" in second.content[0].text  # the trainee's budget: 1
    assert none_listed == set() and refused.is_error and "no role" in refused.content[0].text
    lines = audit_lines(tmp_path / "audit.jsonl")
    assert [line["caller"].get("role") for line in lines] == ["trainee", "trainee", ""]


async def test_a_roles_own_rate_limit_applies_to_its_callers_only(clerk: str, tmp_path: Path):
    with oauth_server(clerk, tmp_path / "audit.jsonl", roles=ROLES) as url:
        john = mint(clerk, user_id=JOHN, scopes=["profile"], audience=f"{url}/mcp")
        jane = mint(clerk, user_id=JANE, scopes=["profile"], audience=f"{url}/mcp")
        async with mcp_client(url, {"Authorization": f"Bearer {john}"}) as client:
            assert not (await client.call_tool("get_user", {"user_id": JANE})).is_error
            limited = await client.call_tool("get_user", {"user_id": JANE})  # agents: 1 Clerk request per 10 s
        async with mcp_client(url, {"Authorization": f"Bearer {jane}"}) as client:
            assert not (await client.call_tool("get_user", {"user_id": JANE})).is_error  # leads have no limit of their own
            assert not (await client.call_tool("get_user", {"user_id": JOHN})).is_error
    assert limited.is_error and "rate" in limited.content[0].text.lower()


def test_auth_on_stdio_stops_start_up(capsys: pytest.CaptureFixture[str]):
    assert main(["serve", "--auth", "oidc", "--auth-issuer", "http://127.0.0.1:9"]) == 2
    out, err = capsys.readouterr()
    assert "add --http" in err and out == ""


def test_roles_that_cannot_work_stop_start_up(tmp_path: Path):
    with pytest.raises(ValueError, match="role lead: .*matches no tool"):
        http_app(Settings(auth="oidc", auth_issuer="http://127.0.0.1:9", roles={"lead": {"tools": ["ban_*", "no_such_tool"]}}))
    with pytest.raises(ValueError, match="only --auth clerk can look up"):
        http_app(Settings(auth="oidc", auth_issuer="http://127.0.0.1:9", roles={"lead": {"match": {"org_role": "org:admin"}}}))
    with pytest.raises(ValueError, match="need --auth clerk or --auth oidc"):
        http_app(Settings(roles={"lead": {"read_only": True}}))


async def test_the_readme_walkthrough(clerk: str, tmp_path: Path):
    """README "OAuth: who is calling", as a newcomer follows it: the emulator as authorization server, the
    README's roles.toml, `clerk-mcp serve --http --auth clerk`, a token each for Jane and John, tools as each."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### OAuth: who is calling")[1].split("\n### ")[0]
    (tmp_path / "roles.toml").write_text(section.split("```toml\n")[1].split("```")[0])
    env = {"CLERK_SECRET_KEY": SANDBOX_SECRET_KEY, "CLERK_API_URL": clerk, "XDG_STATE_HOME": str(tmp_path)}
    args = ("--auth", "clerk", "--auth-issuer", clerk, "--policy-file", str(tmp_path / "roles.toml"))
    with serve_http(tmp_path, *args, token=False, env=env) as served:
        assert "OAuth clerk" in served.stderr.read_text()
        seen = {}
        for user in (JANE, JOHN):
            token = mint(clerk, user_id=user, scopes=["profile"], audience=f"{served.url}/mcp")
            seen[user], result = await tools_and_call(served.url, token, "get_user", {"user_id": JOHN})
            assert not result.is_error
    assert {"delete_user", "get_email_address"} <= seen[JANE] and "get_user" in seen[JOHN]
    assert not seen[JOHN] & {"delete_user", "get_email_address"}
    lines = audit_lines(tmp_path / "clerk-mcp" / "audit.jsonl")
    assert [(line["caller"]["subject"], line["caller"]["role"]) for line in lines] == [(JANE, "lead"), (JOHN, "agent")]


class Memory:
    """An MCP client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


async def test_an_mcp_client_without_a_token_logs_in_through_the_sandbox(clerk: str, url: str):
    """The SDK's OAuth client from nothing: 401 → metadata → registration → authorize (the sandbox signs Jane in
    at once: login_hint stands in for its missing sign-in page) → code + PKCE → token → tool call."""
    from urllib.parse import parse_qsl, urlsplit

    import httpx2
    from mcp.client import Client
    from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import OAuthClientMetadata

    redirected: dict[str, str] = {}

    async def browser(authorize_url: str) -> None:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{authorize_url}&login_hint={JANE}")
        assert answer.status_code == 302, answer.text
        redirected.update(parse_qsl(urlsplit(answer.headers["location"]).query))

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(**redirected)

    storage = Memory()
    provider = OAuthClientProvider(
        f"{url}/mcp", OAuthClientMetadata(redirect_uris=["http://127.0.0.1:9/callback"], scope="profile email"),
        storage, redirect_handler=browser, callback_handler=callback,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("get_user", {"user_id": JANE})
    assert not result.is_error and result.structured_content["id"] == JANE
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["sub"] == JANE and claims["aud"] == f"{url}/mcp" and claims["client_id"] == storage.client.client_id


async def test_a_role_can_match_on_the_callers_clerk_public_metadata(clerk: str, tmp_path: Path):
    roles = {"pro": {"match": {"public_metadata": {"plan": "pro"}}, "read_only": True}}  # Jane's public_metadata has it
    with oauth_server(clerk, tmp_path / "audit.jsonl", roles=roles) as url:
        jane, _ = await tools_and_call(url, mint(clerk, user_id=JANE, audience=f"{url}/mcp"), "get_users_count", {})
        john, _ = await tools_and_call(url, mint(clerk, user_id=JOHN, audience=f"{url}/mcp"), "get_users_count", {})
    assert "get_user" in jane and "update_user" not in jane and john == set()
    assert [line["caller"]["role"] for line in audit_lines(tmp_path / "audit.jsonl")] == ["pro", ""]


async def test_the_confirmation_question_names_who_asked(clerk: str, tmp_path: Path):
    roles = {"desk": {"confirm": "elicit"}}  # an empty match: every caller
    with oauth_server(clerk, tmp_path / "audit.jsonl", roles=roles) as url:
        token = mint(clerk, user_id=JANE, audience=f"{url}/mcp", client_id="client_desk",
                     claims={"name": "Jane\u202e Doe\n", "email": "jane@example.com"})
        _, preview = await tools_and_call(url, token, "ban_user", {"user_id": JOHN, "dry_run": True})
    question = preview.structured_content["confirmation"]
    assert f"\nRequested by Jane Doe <jane@example.com> ({JANE}, client client_desk).\n" in question  # control characters dropped


def test_clerk_mcp_policy_prints_each_roles_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "roles.toml").write_text(
        '[roles.agent]\nmatch = { scopes = ["profile"], roles = ["desk"] }\nread_only = true\n'
        '[roles.lead]\ntoolsets = ["users", "identifiers"]\nconfirm = "deny"\n'
    )
    assert main(["policy", "--policy-file", str(tmp_path / "roles.toml")]) == 0
    server, agent, lead = capsys.readouterr().out.split("\nrole ")
    assert agent.startswith("agent, for scopes profile; a roles claim of desk: confirmation mode elicit")
    assert lead.startswith("lead, for every caller: confirmation mode deny")
    rule = lambda text, tool: next(line.split(None, 2)[2] for line in text.splitlines() if line.startswith(f"{tool} "))
    assert rule(agent, "ban_user").startswith("hidden") and rule(lead, "ban_user") == "refused"
    assert rule(server, "get_email_address").startswith("hidden") and rule(lead, "get_email_address") == "allowed"


async def test_resources_and_prompts_follow_the_callers_role(clerk: str, tmp_path: Path):
    roles = {
        "lead": {"match": {"org_role": "org:admin"}},  # Jane
        "agent": {"match": {"scopes": ["profile"]}, "deny_tools": ["get_user"]},  # John with the profile scope
    }
    audit = tmp_path / "audit.jsonl"
    with oauth_server(clerk, audit, roles=roles) as url:
        seen: dict[str, Any] = {}
        for who, token in {
            "lead": mint(clerk, user_id=JANE, audience=f"{url}/mcp"),
            "agent": mint(clerk, user_id=JOHN, scopes=["profile"], audience=f"{url}/mcp"),
            "nobody": mint(clerk, user_id=JOHN, audience=f"{url}/mcp"),
        }.items():
            async with mcp_client(url, {"Authorization": f"Bearer {token}"}) as client:
                templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
                prompts = {p.name for p in (await client.list_prompts()).prompts}
                try:
                    read = (await client.read_resource(f"clerk://users/{JANE}")).contents[0].text
                except MCPError as exc:
                    read = exc
                try:
                    await client.get_prompt("lookup_user", {"who": "jane@example.com"})
                    prompt = None
                except MCPError as exc:
                    prompt = exc
            seen[who] = (templates, prompts, read, prompt)
    assert seen["lead"][0] == ["clerk://users/{user_id}"] and "lookup_user" in seen["lead"][1]
    assert f'"id":"{JANE}"' in seen["lead"][2] and seen["lead"][3] is None
    for who in ("agent", "nobody"):
        templates, prompts, read, prompt = seen[who]
        assert templates == [] and isinstance(read, MCPError) and isinstance(prompt, MCPError), who
        assert "lookup_user" not in prompts and prompt.error.message.startswith("Unknown prompt: lookup_user"), who
    assert "denied" in str(seen["agent"][2]) and "no role" in str(seen["nobody"][2])
    assert seen["nobody"][1] == set()
    lines = audit_lines(audit)
    assert [(line["tool"], line["caller"]["role"], line["outcome"]) for line in lines] == [
        ("get_user", "lead", "ok"), ("get_user", "agent", "refused"), ("get_user", "", "refused"),
    ]


async def test_no_caller_can_give_themselves_a_role_by_writing_metadata(clerk: str, tmp_path: Path):
    roles = {
        "lead": {"match": {"public_metadata": {"tier": "lead"}}},
        "agent": {"match": {"scopes": ["profile"]}, "confirm": "deny"},  # may write metadata; anything asking is refused
    }
    with oauth_server(clerk, tmp_path / "audit.jsonl", roles=roles, privileged_metadata_keys=["role"]) as url:
        john = mint(clerk, user_id=JOHN, scopes=["profile"], audience=f"{url}/mcp")
        async with mcp_client(url, {"Authorization": f"Bearer {john}"}) as client:
            status = (await client.call_tool("clerk_status", {})).structured_content
            promote = await client.call_tool("update_user_metadata", {"user_id": JOHN, "public_metadata": {"tier": "lead"}})
            other = await client.call_tool("update_user_metadata", {"user_id": JANE, "public_metadata": {"tier": "lead"}})
            own = await client.call_tool("update_user_metadata", {"user_id": JOHN, "unsafe_metadata": {"theme": "dark"}})
            someone_elses = await client.call_tool("update_user_metadata", {"user_id": JANE, "unsafe_metadata": {"theme": "dark"}})
    assert status["caller"]["role"] == "agent" and status["privileged_metadata_keys"] == ["role", "tier"]
    for refused in (promote, other, own):
        assert refused.is_error and "confirm=deny" in refused.content[0].text
    assert not someone_elses.is_error
    john_now = httpx.get(f"{clerk}/v1/users/{JOHN}", headers=SANDBOX, timeout=10).json()
    assert "tier" not in john_now["public_metadata"] and "theme" not in john_now["unsafe_metadata"]
