"""Replica throughput: tools/call per second through 1 and through 3 `clerk-mcp serve --http --stateless` processes
sharing one Redis, all against one `clerk-mcp emulator` process. Figures, not budgets: the ratio says how much a
second and third replica add on this machine (the emulator and Redis are shared, so it is not 3×).

Needs `redis-server` on PATH; without it the script says so and exits 0. The rate limit is set far above what
the run can reach, so every call still asks Redis for a slot but none waits.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from _common import Figure, parser, print_table, run_async

CLIENTS_PER_REPLICA = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(command: list[str], ready: str, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `command` until the block ends; yields the first line of its output containing `ready`."""
    with log.open("w") as err:
        proc = subprocess.Popen(command, stdout=err, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (line := next((x for x in log.read_text().splitlines() if ready in x), "")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: {log.read_text()}")
            time.sleep(0.05)
        yield line
    finally:
        proc.terminate()
        proc.wait(15)


def measure(replica_urls: list[str], calls: int) -> float:
    """Calls per second of `get_users_count`, `calls` in all, from 8 concurrent clients per replica."""
    import anyio
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    async def one_client(url: str, count: int) -> None:
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            for _ in range(count):
                if (await client.call_tool("get_users_count", {})).is_error:
                    raise RuntimeError("a call failed")

    async def run() -> float:
        clients = [url for url in replica_urls for _ in range(CLIENTS_PER_REPLICA)]
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for url in clients:
                group.start_soon(one_client, url, calls // len(clients))
        return (calls // len(clients)) * len(clients) / (time.perf_counter() - started)

    return run_async(run)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2400, help="calls per measurement (default 2400)")
    ns = p.parse_args()
    server = shutil.which("redis-server")
    if server is None:
        print("replicas.py: skipped, redis-server is not installed (apt-get install redis-server)")
        return 0
    calls = 48 if ns.smoke else ns.calls
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        redis_port, clerk_port = free_port(), free_port()
        stack.enter_context(process(
            [server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            "Ready to accept connections", work / "redis.log",
        ))
        clerk = f"http://127.0.0.1:{clerk_port}"
        cli = [sys.executable, "-m", "clerk_mcp.cli"]
        stack.enter_context(process([*cli, "emulator", "--port", str(clerk_port)], "listening", work / "clerk.log"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLERK_MCP_", "CLERK_SECRET"))},
            "CLERK_SECRET_KEY": "sk_test_sandbox", "CLERK_API_URL": clerk, "CLERK_MCP_RATE_LIMIT": "1000000",
            "CLERK_MCP_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "CLERK_MCP_AUDIT_LOG": str(work / "audit.jsonl"),
        }
        urls = []
        for index in range(3):
            line = stack.enter_context(process(
                [*cli, "serve", "--http", "--stateless", "--port", "0"], "Streamable HTTP on", work / f"r{index}.log", env,
            ))
            urls.append(line.split(" on ")[1].split()[0].removesuffix("/mcp"))
        measure(urls, 24)  # warm-up: connections, first-call imports, Lua scripts loaded
        one = measure(urls[:1], calls)
        three = measure(urls, calls)
    figures = [
        Figure("calls/s, 1 replica", one, one, "calls/s", "none (figure)", True),
        Figure("calls/s, 3 replicas (ratio: vs 1 replica)", three, one, "calls/s", "none (figure)", True),
    ]
    print_table(f"Replicas sharing Redis, get_users_count, {calls} calls" + (" (smoke run)" if ns.smoke else ""), figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
