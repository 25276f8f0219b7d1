"""A misbehaving upstream, injected through the sandbox's fault controls (`/_sandbox/faults`), ends in a
clear result, retried only where that is safe: the sandbox's request log shows no duplicated write.

Every test runs twice: against the sandbox in-process (`httpx.ASGITransport`, as the embedded default,
where httpx has no timeouts of its own) and over real loopback HTTP (uvicorn), where timeouts and dropped
connections are the network's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from clerk_mcp import adapter
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.harness import Fault
from clerk_mcp.server import ClerkMCPServer, build_server
from clerk_mcp.settings import Settings

from serving import serving
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"  # Jane Doe in the bundled seed
TIMEOUT = 0.4
DEADLINE = 1.5


@dataclass
class Upstream:
    app: Any
    url: str
    transport: httpx.AsyncBaseTransport | None
    harness: httpx.AsyncClient

    def server(self) -> ClerkMCPServer:
        settings = Settings(secret_key=SANDBOX_SECRET_KEY, api_url=self.url, timeout=TIMEOUT, retry_deadline=DEADLINE)
        return build_server(settings, transport=self.transport)

    async def arm(self, **fault: Any) -> None:
        response = await self.harness.post("/_sandbox/faults", json=fault)
        assert response.status_code == 201, response.text

    async def log(self, method: str, path: str) -> list[dict[str, Any]]:
        entries = (await self.harness.get("/_sandbox/requests")).json()
        return [e for e in entries if e["method"] == method and e["path"] == path]


@pytest.fixture(params=["in-process", "loopback"])
def where(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str, httpx.AsyncBaseTransport | None]]:
    app = create_app()
    if request.param == "in-process":
        yield app, "http://sandbox.test", httpx.ASGITransport(app=app)
    else:
        with serving(app) as url:
            yield app, url, None


@pytest.fixture
async def upstream(where: tuple[Any, str, httpx.AsyncBaseTransport | None]) -> AsyncIterator[Upstream]:
    app, url, transport = where
    headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
    async with httpx.AsyncClient(base_url=url, transport=transport or httpx.AsyncHTTPTransport(), headers=headers) as harness:
        yield Upstream(app, url, transport, harness)


async def call(upstream: Upstream, tool: str, arguments: dict[str, Any]) -> Any:
    async with Client(upstream.server()) as client:
        return await client.call_tool(tool, arguments)


def clear_error(result: Any, kind: str) -> str:
    """The one-line error text, after checking it is a real, non-empty, traceback-free error of `kind`."""
    assert result.is_error
    text = result.content[0].text
    assert text.strip() and "Traceback" not in text and "Error executing tool" not in text
    assert payload(result)["error"] == kind, result
    return text


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_then_success_is_retried_for_a_get(upstream: Upstream, status: int):
    await upstream.arm(method="GET", path="/v1/users/{user_id}", status=status, count=1)
    result = await call(upstream, "get_user", {"user_id": JANE})
    assert not result.is_error and result.structured_content["id"] == JANE
    assert [e["status"] for e in await upstream.log("GET", f"/v1/users/{JANE}")] == [status, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_on_a_post_is_not_retried(upstream: Upstream, status: int):
    await upstream.arm(method="POST", path="/v1/users", status=status, count=1)
    result = await call(upstream, "create_user", {"first_name": "Ada"})
    assert clear_error(result, "clerk_api_error").startswith(f"{status} ")
    assert len(await upstream.log("POST", "/v1/users")) == 1


async def test_429_waits_for_retry_after_then_succeeds(upstream: Upstream):
    await upstream.arm(method="POST", path="/v1/users", status=429, retry_after=1, count=1)
    started = time.monotonic()
    result = await call(upstream, "create_user", {"first_name": "Ada"})
    assert not result.is_error, result.content
    assert time.monotonic() - started >= 0.95
    # Clerk did nothing on a 429, so even a POST is retried; exactly one write happened.
    assert [e["status"] for e in await upstream.log("POST", "/v1/users")] == [429, 200]


async def test_429_asking_longer_than_the_cap_is_answered_at_once(upstream: Upstream):
    await upstream.arm(method="GET", path="/v1/users/count", status=429, retry_after=60, count=1)
    started = time.monotonic()
    result = await call(upstream, "get_users_count", {})
    assert clear_error(result, "clerk_api_error").startswith("429 too_many_requests")
    assert payload(result)["retry_after_seconds"] == 60
    assert time.monotonic() - started < 1
    assert len(await upstream.log("GET", "/v1/users/count")) == 1


async def test_latency_past_the_timeout_on_a_post_is_one_clear_timeout(upstream: Upstream):
    await upstream.arm(method="POST", path="/v1/users", latency_ms=1000, status=200, body="{}", count=None)
    result = await call(upstream, "create_user", {"first_name": "Ada"})
    assert "did not answer in time" in clear_error(result, "timeout")
    with anyio.fail_after(3):  # over loopback the sandbox logs the request only when its delay is over
        while not await upstream.log("POST", "/v1/users"):
            await anyio.sleep(0.05)
    await anyio.sleep(0.2)
    assert len(await upstream.log("POST", "/v1/users")) == 1


async def test_a_get_that_stays_slow_ends_at_the_deadline(upstream: Upstream):
    await upstream.arm(method="GET", path="/v1/users/{user_id}", latency_ms=5000, status=200, body="{}", count=None)
    started = time.monotonic()
    result = await call(upstream, "get_user", {"user_id": JANE})
    clear_error(result, "timeout")
    assert time.monotonic() - started < DEADLINE + 1


async def test_a_dropped_connection_is_retried_for_a_get_only(upstream: Upstream):
    await upstream.arm(method="GET", path="/v1/users/{user_id}", drop=True, count=1)
    await upstream.arm(method="POST", path="/v1/users", drop=True, count=1)
    got = await call(upstream, "get_user", {"user_id": JANE})
    created = await call(upstream, "create_user", {"first_name": "Ada"})
    assert not got.is_error and got.structured_content["id"] == JANE
    assert len(await upstream.log("GET", f"/v1/users/{JANE}")) == 2
    assert "failed" in clear_error(created, "unavailable")
    assert len(await upstream.log("POST", "/v1/users")) == 1


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (200, "OK", "bad_response", "HTTP 200 with a body that is not JSON"),
        (500, "<html>Internal Server Error</html>", "clerk_api_error", "500 http_error: HTTP 500 Internal Server Error"),
    ],
)
async def test_a_body_that_is_not_json(upstream: Upstream, status: int, body: str, kind: str, text: str):
    await upstream.arm(method="POST", path="/v1/users", status=status, body=body, count=1)
    result = await call(upstream, "create_user", {"first_name": "Ada"})
    assert clear_error(result, kind) == text
    assert len(await upstream.log("POST", "/v1/users")) == 1


async def test_a_huge_body_is_refused_unread(upstream: Upstream, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(adapter, "MAX_RESPONSE_BYTES", 64 * 1024)
    await upstream.arm(method="GET", path="/v1/users", status=200, body="[" + "0," * 200_000 + "0]", count=1)
    result = await call(upstream, "get_user_list", {})
    assert clear_error(result, "bad_response") == "response larger than 65536 bytes refused"
    assert len(await upstream.log("GET", "/v1/users")) == 1


async def test_a_cancelled_call_aborts_its_upstream_request():
    """The client gives up; the server cancels the tool call, and with it the request to Clerk (in-process sandbox,
    where the aborted request is logged at once, with no status)."""
    app = create_app()
    settings = Settings(secret_key=SANDBOX_SECRET_KEY, api_url="http://sandbox.test", timeout=10, retry_deadline=10)
    server = build_server(settings, transport=httpx.ASGITransport(app=app))
    sandbox = app.state.sandbox
    sandbox.faults.add(Fault(method="GET", path="/v1/users/count", latency_ms=5000, status=200, body="{}", count=None))
    async with Client(server) as client:
        with anyio.move_on_after(0.3):
            await client.call_tool("get_users_count", {})
        with anyio.fail_after(2):
            while not sandbox.requests.entries():
                await anyio.sleep(0.02)
    [entry] = sandbox.requests.entries()
    assert entry["status"] is None and entry["duration_ms"] < 1000
