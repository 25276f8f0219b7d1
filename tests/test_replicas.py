"""Three stateless replicas sharing one real Redis behave as one server: no confirmation, verify budget or rate
limit can be escaped by landing on another replica, and a Redis outage refuses only what needs shared state.
Without Redis, replicas on one host and successive `clerk-mcp call` processes share the local store just as well.

A real `redis-server` (the distribution's package; .ci/run installs it) runs on a loopback port; the replicas are
`clerk-mcp serve --http --stateless` processes; the Clerk emulator is a `clerk-mcp emulator` process, so its request log
(`GET /_sandbox/requests`, with arrival times) is what every replica's traffic is checked against.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import redis
from redis.exceptions import RedisError

from clerk_mcp.adapter import ClerkClient
from clerk_mcp.errors import PolicyRefusal
from clerk_mcp.models import GetUsersCountArgs
from clerk_mcp.operations import BY_NAME
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY
from clerk_mcp.settings import Settings
from clerk_mcp.state import LocalState, RateLimiter, rotate_state_keys, state_keys

from conftest import APPROVE, answering
from test_http import JANE, mcp_client
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

REDIS_SERVER = shutil.which("redis-server")
SANDBOX = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
WRONG_PASSWORD = {"user_id": JANE, "password": "not-jane's-password"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (OSError, httpx.HTTPError, RedisError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


class RedisServer:
    """`redis-server` on a loopback port, nothing persisted; `stop()` and `start()` simulate an outage."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL)
        wait_until(lambda: redis.Redis.from_url(self.url).ping(), "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def clerk() -> Iterator[str]:
    """One emulator for every replica, in its own process, so its clock and log are not ours."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clerk_mcp.cli", "emulator", "--port", str(port)], stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/_sandbox/requests", headers=SANDBOX).is_success, "clerk-mcp emulator")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def fresh(redis_server: RedisServer, clerk: str) -> None:
    """Each test starts with Redis empty, the demo data reloaded and the request log cleared."""
    if redis_server.process is None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    httpx.post(f"{clerk}/_sandbox/reset", json={"seed": True}, headers=SANDBOX).raise_for_status()


@pytest.fixture
def fresh_clerk(clerk: str) -> None:
    """The demo data reloaded and the request log cleared, for tests that use no Redis."""
    httpx.post(f"{clerk}/_sandbox/reset", json={"seed": True}, headers=SANDBOX).raise_for_status()


def operator_env(clerk: str, **settings: Any) -> dict[str, str]:
    """The environment of a clerk-mcp process talking to the emulator at `clerk` with a real (sk_test_) key. The
    local store's directory (XDG_STATE_HOME, one per test) is inherited, as every process of one operator would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_MCP_", "CLERK_SECRET"))}
    overrides = {f"CLERK_MCP_{name.upper()}": str(value) for name, value in settings.items()}
    return {**environment, "CLERK_SECRET_KEY": SANDBOX_SECRET_KEY, "CLERK_API_URL": clerk, **overrides}


@contextmanager
def replicas(tmp_path: Path, redis_url: str | None, clerk: str, count: int = 3, **settings: Any) -> Iterator[list[str]]:
    """`count` `clerk-mcp serve --http --stateless` processes sharing `redis_url` (or, with None, this host's local
    store) and the emulator at `clerk` (stderr in tmp_path/replicaN.log); yields their base URLs. Processes, as in
    production: threads sharing one interpreter would delay each other's requests and blur what the emulator sees."""
    processes, urls = [], []
    try:
        for index in range(count):
            log = tmp_path / f"replica{index}.log"
            shared = {"redis_url": redis_url} if redis_url else {}
            env = operator_env(clerk, audit_log=tmp_path / f"audit{index}.jsonl", **shared, **settings)
            command = [sys.executable, "-m", "clerk_mcp.cli", "serve", "--http", "--stateless", "--port", "0"]
            processes.append((subprocess.Popen(command, env=env, stderr=log.open("w")), log))
        for process, log in processes:
            wait_until(lambda p=process, f=log: "Streamable HTTP on" in f.read_text() or p.poll() is not None, "clerk-mcp serve")
            line = next((x for x in log.read_text().splitlines() if "Streamable HTTP on" in x), None)
            assert line, log.read_text()
            urls.append(line.split(" on ")[1].split()[0].removesuffix("/mcp"))
        yield urls
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(15)


def clerk_requests(clerk: str, path: str | None = None) -> list[dict[str, Any]]:
    log = httpx.get(f"{clerk}/_sandbox/requests", headers=SANDBOX).raise_for_status().json()
    return [entry for entry in log if path is None or entry["path"] == path]


class Split(httpx2.AsyncBaseTransport):
    """A load balancer that sends a confirmation's answer (the retry carrying requestState) to another replica
    than the question, and keeps that answer so a test can replay it."""

    def __init__(self, ask: str, answer: str) -> None:
        self.ask, self.answer = httpx2.URL(ask), httpx2.URL(answer)
        self.answers: list[tuple[dict[str, str], bytes]] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        target = self.answer if b'"requestState"' in body else self.ask
        if target is self.answer:
            self.answers.append((dict(request.headers), body))
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_confirmation_asked_on_one_replica_runs_once_and_cannot_be_replayed_on_another(
    tmp_path: Path, redis_server: RedisServer, clerk: str, fresh: None
):
    with replicas(tmp_path, redis_server.url, clerk) as (first, second, third):
        await ban_jane_then_replay(first, second, third, clerk)


async def ban_jane_then_replay(first: str, second: str, third: str, clerk: str) -> tuple[dict[str, str], bytes]:
    """Jane banned through `first` with the human's answer landing on `second`; she is unbanned again behind the
    server's back (so a replay meets the very same question), and the replay sent to `third` must be refused.
    Returns the answer's request, to replay elsewhere."""
    balancer = Split(first, second)
    async with mcp_client(first, {}, balancer, elicitation_callback=answering("accept", APPROVE)) as client:
        result = await client.call_tool("ban_user", {"user_id": JANE})
    assert not result.is_error and result.structured_content["banned"] is True, result.content
    headers, body = balancer.answers[0]
    headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
    await replay_is_refused(third, clerk, headers, body)
    return headers, body


async def replay_is_refused(url: str, clerk: str, headers: dict[str, str], body: bytes) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        (await http.post(f"{clerk}/v1/users/{JANE}/unban", headers=SANDBOX)).raise_for_status()
        replay = await http.post(f"{url}/mcp", content=body, headers=headers)
    assert replay.status_code == 200 and "already used" in replay.text, replay.text
    assert len(clerk_requests(clerk, f"/v1/users/{JANE}/ban")) == 1


async def test_without_redis_replicas_on_one_host_spend_an_approval_once_even_across_a_restart(
    tmp_path: Path, clerk: str, fresh_clerk: None
):
    """Shared sealing keys and no Redis: the replicas share this host's local store, so one approval runs once —
    not once more on every other replica, and not again after they restart."""
    keys = {"state_keys": secrets.token_hex(32)}
    with replicas(tmp_path, None, clerk, count=2, **keys) as (first, second):
        headers, body = await ban_jane_then_replay(first, second, first, clerk)
        await replay_is_refused(second, clerk, headers, body)
    with replicas(tmp_path, None, clerk, count=1, **keys) as (restarted,):
        await replay_is_refused(restarted, clerk, headers, body)


def test_verify_attempts_and_the_rate_limit_hold_from_one_clerk_mcp_call_to_the_next(clerk: str, fresh_clerk: None):
    """Each `clerk-mcp call` is a new process; the local store counts for all of them."""

    def call(tool: str, arguments: dict[str, Any], **settings: Any) -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-m", "clerk_mcp.cli", "call", tool, json.dumps(arguments)],
            env=operator_env(clerk, **settings), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return json.loads(proc.stdout)

    limited = {"rate_limit": 2, "rate_window": 600, "rate_wait": 0.2}
    counts = [call("get_users_count", {}, **limited) for _ in range(3)]
    assert [r.get("decision") for r in counts] == [None, None, "rate_limited"], counts
    assert len(clerk_requests(clerk, "/v1/users/count")) == 2

    budget = [call("verify_password", WRONG_PASSWORD, verify_attempts=2) for _ in range(3)]
    assert [r.get("decision") for r in budget] == [None, None, "over_budget"], budget
    assert len(clerk_requests(clerk, f"/v1/users/{JANE}/verify_password")) == 2


async def test_verify_attempts_spread_over_replicas_share_one_budget(
    tmp_path: Path, redis_server: RedisServer, clerk: str, fresh: None
):
    with replicas(tmp_path, redis_server.url, clerk) as urls:
        results = []
        for attempt in range(8):
            async with mcp_client(urls[attempt % 3], {}) as client:
                results.append(await client.call_tool("verify_password", WRONG_PASSWORD))
    refused = [r for r in results if payload(r).get("decision") == "over_budget"]
    assert len(refused) == 3 and all(r.is_error for r in refused)
    assert len(clerk_requests(clerk, f"/v1/users/{JANE}/verify_password")) == 5


async def test_a_burst_over_three_replicas_stays_within_the_shared_rate_limit(
    tmp_path: Path, redis_server: RedisServer, clerk: str, fresh: None
):
    limit, window = 50, 1.0
    failures: list[Any] = []
    with replicas(tmp_path, redis_server.url, clerk, rate_limit=limit, rate_window=window) as urls:

        async def one_client(index: int) -> None:
            async with mcp_client(urls[index % 3], {}) as client:
                for _ in range(10):
                    result = await client.call_tool("get_users_count", {})
                    if result.is_error:
                        failures.append(result.content)

        started = time.monotonic()
        with anyio.fail_after(45):
            async with anyio.create_task_group() as group:
                for index in range(30):
                    group.start_soon(one_client, index)
        elapsed = time.monotonic() - started
    assert failures == []
    log = clerk_requests(clerk)
    assert len(log) == 300 and {entry["status"] for entry in log} == {200}
    # Any `limit` + 1 requests, as the emulator saw them arrive, span about a window or more: the limiter holds each
    # slot 10 % longer than the window to absorb arrival jitter, and a loaded machine can bunch arrivals by that much
    # (seen: 51 within 934 ms at load 9 on 2 cores). Without the limiter, all 300 arrive within a fraction of a window.
    arrivals = sorted(entry["time"] for entry in log)
    tightest = min(later - earlier for earlier, later in zip(arrivals, arrivals[limit:]))
    assert tightest > window * 1000 * 0.8, f"{limit + 1} requests within {tightest} ms"
    assert elapsed >= (300 - limit) / limit * window * 0.9  # they really queued


async def test_a_redis_outage_refuses_only_what_needs_shared_state_and_heals(
    tmp_path: Path, redis_server: RedisServer, clerk: str, fresh: None
):
    with replicas(tmp_path, redis_server.url, clerk, count=2) as (first, second):
        async with mcp_client(first, {}) as one, mcp_client(second, {}) as two:
            assert not payload((await one.call_tool("verify_password", WRONG_PASSWORD))).get("decision")
            redis_server.stop()
            try:
                for client in (one, two):
                    read = await client.call_tool("get_user", {"user_id": JANE})
                    assert not read.is_error and read.structured_content["id"] == JANE
                    refused = await client.call_tool("verify_password", WRONG_PASSWORD)
                    assert refused.is_error and payload(refused)["decision"] == "state_unavailable"
                    assert "Redis" in refused.content[0].text and "Nothing was sent" in refused.content[0].text
            finally:
                redis_server.start()
            healed = await two.call_tool("verify_password", WRONG_PASSWORD)
            assert healed.is_error and payload(healed)["code"] == "incorrect_password"
    assert len(clerk_requests(clerk, f"/v1/users/{JANE}/verify_password")) == 2
    assert all("without the shared rate limit" in (tmp_path / f"replica{i}.log").read_text() for i in range(2))


async def test_a_confirmation_answered_while_redis_is_down_is_refused(
    tmp_path: Path, redis_server: RedisServer, clerk: str, fresh: None
):
    """The single-use claim cannot be made, so the approval is not honoured (and not silently kept per replica)."""
    with replicas(tmp_path, redis_server.url, clerk, count=2) as (first, second):
        balancer = Split(first, second)

        async def answer_after_an_outage(context: Any, params: Any) -> Any:
            redis_server.stop()
            return await answering("accept", APPROVE)(context, params)

        try:
            async with mcp_client(first, {}, balancer, elicitation_callback=answer_after_an_outage) as client:
                result = await client.call_tool("ban_user", {"user_id": JANE})
        finally:
            redis_server.start()
    assert result.is_error and payload(result)["decision"] == "state_unavailable"
    assert clerk_requests(clerk, f"/v1/users/{JANE}/ban") == []


def test_state_keys_are_provisioned_once_and_rotate(redis_server: RedisServer, fresh: None):
    shared = Settings(redis_url=redis_server.url)
    ring = state_keys(shared)
    assert len(ring) == 1 and len(ring[0]) == 64 and state_keys(shared) == ring  # every replica gets the same
    assert rotate_state_keys(redis_server.url) == 2
    rotated = state_keys(shared)
    assert rotated[1] == ring[0] and rotated[0] != ring[0]
    assert rotate_state_keys(redis_server.url) == 2 and state_keys(shared)[1] == rotated[0]  # the oldest is gone
    assert state_keys(Settings(redis_url=redis_server.url, state_keys=["x" * 32])) == ["x" * 32]  # explicit keys win


async def test_the_limiter_queues_every_attempt_then_refuses_clearly():
    """In-process too: each attempt (a retried 429 included) takes a slot; past `max_wait` the call is refused."""
    limiter = RateLimiter(LocalState(), "rate:test", limit=2, window=30, max_wait=0.2)
    answers = iter([httpx.Response(429), httpx.Response(200, json={"object": "total_count", "total_count": 3})])
    client = ClerkClient("sk_test_x", transport=httpx.MockTransport(lambda request: next(answers)), limiter=limiter)
    count = BY_NAME["get_users_count"]
    try:
        assert (await client.call(count, GetUsersCountArgs()))["total_count"] == 3
        with pytest.raises(PolicyRefusal, match=r"2 requests per 30 s across all replicas") as refused:
            await client.call(count, GetUsersCountArgs())
    finally:
        await client.aclose()
    assert refused.value.decision == "rate_limited" and refused.value.retry_after > 29
