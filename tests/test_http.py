"""Streamable HTTP as a shared service: Host/Origin/token checks answer before the MCP app runs, the health
endpoint needs none of them, stateless replicas sharing state keys complete each other's confirmations,
and the real `serve --http` command starts, serves and stops cleanly. (Load: tests/test_load.py.)

Servers run over real loopback HTTP: uvicorn in a thread (tests/serving.py) or `clerk-mcp serve --http` itself.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from clerk_mcp.http import LOOPBACK_HOSTS, LOOPBACK_ORIGINS, Guard, allowed, exposure, http_app
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

from conftest import APPROVE, answering
from serving import AUTH, TOKEN, base_url, clerk_mcp, mcp_client, serving

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"  # Jane Doe in the bundled seed
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@contextmanager
def http_server(tmp_path: Path, **settings: Any) -> Iterator[str]:
    """`serve --http` for `settings` (embedded sandbox, audit log in tmp_path), yielding its base URL."""
    config = Settings(auth_token=TOKEN, audit_log=tmp_path / "audit.jsonl", **settings)
    with serving(http_app(config)) as url:
        yield url


def post(url: str, headers: dict[str, str], body: Any = INITIALIZE) -> httpx.Response:
    return httpx.post(f"{url}/mcp", json=body, headers={**MCP_HEADERS, **headers}, timeout=10)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with http_server(tmp_path) as base:
        yield base


async def test_a_tool_call_with_the_token(url: str):
    async with mcp_client(url) as client:
        result = await client.call_tool("get_user", {"user_id": JANE})
    assert not result.is_error and result.structured_content["id"] == JANE


@pytest.mark.parametrize(
    ("headers", "error"),
    [({}, "unauthorized"), ({"Authorization": "Bearer nope"}, "invalid_token"), ({"Authorization": f"Basic {TOKEN}"}, "unauthorized")],
)
def test_a_missing_or_wrong_token_is_401(url: str, headers: dict[str, str], error: str):
    response = post(url, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="clerk-mcp"')
    assert response.json()["error"] == error and response.json()["message"]
    assert TOKEN not in response.text


def test_a_foreign_origin_is_403_and_a_loopback_one_passes(url: str):
    foreign = post(url, {**AUTH, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["error"] == "origin_not_allowed"
    assert post(url, {**AUTH, "Origin": "http://localhost:5173"}).status_code == 200


def test_a_foreign_host_is_rejected_before_the_token_is_looked_at(url: str):
    response = post(url, {"Host": "attacker.example:8000"})
    assert response.status_code == 421 and response.json()["error"] == "host_not_allowed"


def test_health_needs_no_token_and_says_nothing_secret(url: str):
    response = httpx.get(f"{url}/healthz", headers={"Host": "10.0.0.7:8000"}, timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok", "backend": "sandbox"}


def test_an_oversized_body_is_413(tmp_path: Path):
    with http_server(tmp_path, max_body_bytes=64 * 1024) as base:
        body = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * 100_000}}
        assert post(base, AUTH, body).status_code == 413


async def test_the_token_stops_at_the_guard():
    """The MCP app (and so Clerk, and every log) never sees the client's Authorization header."""
    seen: list[dict[bytes, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = Guard(app, token=TOKEN, hosts=["testserver"], origins=[], backend="sandbox")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://testserver") as client:
        assert (await client.post("/mcp", headers=AUTH)).status_code == 204
    assert b"authorization" not in seen[0]


def test_host_patterns():
    patterns = ["127.0.0.1:*", "[::1]:*", "mcp.example.com"]
    assert allowed("127.0.0.1:8000", patterns) and allowed("127.0.0.1", patterns) and allowed("[::1]:9", patterns)
    assert allowed("MCP.example.com", patterns)
    assert not allowed("127.0.0.1.evil.com:80", patterns) and not allowed("mcp.example.com.evil:80", patterns)
    assert not allowed("127.0.0.1:80x", patterns) and allowed("anything", ["*"])
    assert not allowed("127.0.0.1:\u0668\u0660", patterns) and not allowed("127.0.0.1:\u00b2", patterns)


async def test_duplicate_security_headers_and_padded_tokens_are_refused():
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = Guard(app, token=TOKEN, hosts=["testserver"], origins=[], backend="sandbox")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://testserver") as client:
        twice = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer other")]
        assert (await client.post("/mcp", headers=twice)).status_code == 400
        padded = await client.post("/mcp", headers={"Authorization": f"Bearer {TOKEN}\u00a0".encode("latin-1")})
        assert padded.status_code == 401
        assert (await client.post("/mcp", headers={"Authorization": f"Bearer  {TOKEN} "})).status_code == 204


def test_exposure_rules(tmp_path: Path):
    assert exposure(Settings()) == (None, [*LOOPBACK_HOSTS], [*LOOPBACK_ORIGINS])
    token, hosts, _ = exposure(Settings(host="192.0.2.10", auth_token=TOKEN))
    assert token == TOKEN and "192.0.2.10:*" in hosts
    with pytest.raises(ValueError, match="needs --allowed-hosts"):
        exposure(Settings(host="0.0.0.0", auth_token=TOKEN))
    assert "mcp.example.com" in exposure(Settings(host="::", auth_token=TOKEN, allowed_hosts="mcp.example.com"))[1]
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        exposure(Settings(auth_token_file=tmp_path / "token"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_a_non_loopback_bind_without_a_token_refuses_to_start(host: str):
    process = clerk_mcp("--host", host, "--port", "0")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"refusing to serve on {host}: a non-loopback address needs a bearer token" in err
    assert "Traceback" not in err


async def test_clerk_mcp_serve_http_stateless_then_sigterm(tmp_path: Path):
    """The real command: token from a file, --stateless --json-response, a tool call, then a clean SIGTERM exit.
    With no --audit-log, HTTP mode audits to $XDG_STATE_HOME/clerk-mcp/audit.jsonl."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    audit = tmp_path / "clerk-mcp" / "audit.jsonl"
    process = clerk_mcp(
        "--port", "0", "--stateless", "--json-response", "--auth-token-file", str(token_file),
        env={"XDG_STATE_HOME": str(tmp_path)},
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        line = ""
        while "Streamable HTTP on" not in line:
            line = process.stderr.readline()
            assert line, "clerk-mcp exited before serving"
        base = base_url(line)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{base}/healthz")).json()["status"] == "ok"
        async with mcp_client(base) as client:
            result = await client.call_tool("get_users_count", {})
        assert not result.is_error and result.structured_content["total_count"] > 0
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status still says SIGTERM.
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        watchdog.cancel()
        process.kill()
        _, err = process.communicate()
    assert "session manager shutting down" in err and "Traceback" not in err
    assert len(audit.read_text().splitlines()) == 1


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next replica's port."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)
        self.sent: list[int] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("shared_keys", [True, False])
async def test_a_confirmation_started_on_one_replica_completes_on_another(tmp_path: Path, shared_keys: bool):
    keys = ["k" * 32 + "-one", "k" * 32 + "-two"]
    with serving(create_app()) as clerk, ExitStack() as replicas:
        ports = []
        for index in range(2):
            config = Settings(
                secret_key=SANDBOX_SECRET_KEY, api_url=clerk, stateless=True, audit_log=tmp_path / f"audit{index}.jsonl",
                state_keys=keys if shared_keys else [keys[index]],
            )
            base = replicas.enter_context(serving(http_app(config, build_server(config))))
            ports.append(int(base.rsplit(":", 1)[1]))
        balancer = RoundRobin(ports)
        async with mcp_client(f"http://127.0.0.1:{ports[0]}", {}, balancer, elicitation_callback=answering("accept", APPROVE)) as client:
            if shared_keys:
                result = await client.call_tool("ban_user", {"user_id": JANE})
                assert not result.is_error and result.structured_content["banned"] is True, result.content
            else:
                with pytest.raises(MCPError, match="requestState"):
                    await client.call_tool("ban_user", {"user_id": JANE})
        assert set(balancer.sent) == set(ports)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as http:
            banned = (await http.get(f"{clerk}/v1/users/{JANE}")).json()["banned"]
        assert banned is shared_keys
