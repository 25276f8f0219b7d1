"""Serve clerk-mcp over real loopback HTTP for a test, and talk MCP to it.

- `serving(app)`: an ASGI app under uvicorn on an ephemeral port in a daemon thread;
- `clerk_mcp(...)` / `serve_http(...)`: the real `clerk-mcp serve --http` command as a subprocess;
- `mcp_client(url)`: an MCP client over Streamable HTTP carrying the test bearer token.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "tok_" + "s3cret" * 6
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def serving(app: Any, *, startup_timeout: float = 10.0, sock: socket.socket | None = None) -> Iterator[str]:
    """Yield the base URL ("http://127.0.0.1:PORT") while `app` is served (on `sock` if given, bound to loopback:
    for an app that must know its own URL); stop it (bounded) on exit."""
    if sock is None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=0.5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@asynccontextmanager
async def mcp_client(url: str, headers: dict[str, str] = AUTH, transport: Any = None, **options: Any) -> AsyncIterator[Client]:
    """An MCP client over Streamable HTTP carrying `headers` (how the SDK client sends a bearer token)."""
    async with (
        httpx2.AsyncClient(headers=headers, transport=transport, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), **options) as client,
    ):
        yield client


def clerk_mcp(*args: str, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """`clerk-mcp serve --http ARGS` in a clean environment (no CLERK_* of the developer's). With `rich` installed
    the MCP SDK logs through rich, which wraps at 80 columns off a terminal: COLUMNS keeps each message on one line."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_MCP_", "CLERK_SECRET"))}
    environment["COLUMNS"] = "400"
    return subprocess.Popen(
        [sys.executable, "-m", "clerk_mcp.cli", "serve", "--http", *args],
        env={**environment, **(env or {})}, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )


def base_url(stderr_line: str) -> str:
    """The base URL in serve --http's "Streamable HTTP on http://…/mcp (…)" notice."""
    return stderr_line.split(" on ")[1].split()[0].removesuffix("/mcp")


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    stderr: Path

    def rss_kib(self) -> int:
        """The server process's resident set size (VmRSS, KiB)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


@contextmanager
def serve_http(
    tmp_path: Path, *args: str, lifetime: float = 60.0, token: bool = True, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`clerk-mcp serve --http --port 0 ARGS` (TOKEN required unless `token` is False; stderr to a file; `env` added
    to its environment), killed on exit or after `lifetime` s."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    auth = ["--auth-token-file", str(tmp_path / "token")] if token else []
    stderr = tmp_path / "serve.stderr"
    with stderr.open("w") as sink:
        process = clerk_mcp("--port", "0", *auth, *args, env=env, stderr=sink)
    watchdog = threading.Timer(lifetime, process.kill)
    watchdog.start()
    try:
        deadline = time.monotonic() + 30
        while "Streamable HTTP on" not in (text := stderr.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, f"clerk-mcp did not start:\n{text}"
            time.sleep(0.05)
        line = next(line for line in text.splitlines() if "Streamable HTTP on" in line)
        yield Served(process, base_url(line), stderr)
    finally:
        watchdog.cancel()
        process.kill()
        process.communicate()


JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"  # Jane Doe in the bundled seed
CALLS = [
    ("get_users_count", {}),
    ("get_user", {"user_id": JANE}),
    ("get_user_list", {"limit": 5}),
    ("update_user_metadata", {"user_id": JANE, "public_metadata": {"load": True}}),
]


async def burst(url: str, clients: int, calls_each: int) -> list[Any]:
    """`clients` concurrent MCP clients, each making `calls_each` calls from CALLS; returns the error results."""
    import anyio

    failures: list[Any] = []

    async def one_client(index: int) -> None:
        async with mcp_client(url) as client:
            for turn in range(calls_each):
                name, arguments = CALLS[(index + turn) % len(CALLS)]
                result = await client.call_tool(name, arguments)
                if result.is_error:
                    failures.append((name, result.content))

    async with anyio.create_task_group() as group:
        for index in range(clients):
            group.start_soon(one_client, index)
    return failures
