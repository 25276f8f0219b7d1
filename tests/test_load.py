"""Load: 1,000 tool calls from 50 concurrent MCP clients over Streamable HTTP to the real `clerk-mcp serve --http`
(embedded sandbox) → no error, one audit line per call, and the server's memory levels off instead of growing."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from clerk_mcp.sandbox.harness import RequestLog

from serving import burst, serve_http

pytestmark = pytest.mark.anyio

CLIENTS, CALLS_EACH = 50, 20  # one run: 1,000 calls
MIB = 1024  # RSS is in KiB


async def test_1000_calls_from_50_concurrent_clients_all_audited_and_memory_levels_off(tmp_path: Path):
    """Warm-up batch, the run, then an equal second run: RSS is read from /proc after each."""
    audit = tmp_path / "audit.jsonl"
    with serve_http(tmp_path, "--audit-log", str(audit), lifetime=120) as served, anyio.fail_after(100):
        assert await burst(served.url, CLIENTS, 2) == []
        warm, started = served.rss_kib(), time.monotonic()
        assert await burst(served.url, CLIENTS, CALLS_EACH) == []
        run, elapsed = served.rss_kib(), time.monotonic() - started
        assert await burst(served.url, CLIENTS, CALLS_EACH) == []
        again = served.rss_kib()
    print(f"\n{CLIENTS * CALLS_EACH} calls in {elapsed:.1f}s; RSS warm {warm // MIB} → run {run // MIB} → again {again // MIB} MiB")
    assert len(audit.read_text().splitlines()) == CLIENTS * (2 + 2 * CALLS_EACH)
    assert again - warm < 50 * MIB
    first, second = run - warm, again - run
    assert second < max(first / 2, 4 * MIB), (first, second)  # 4 MiB: allocator noise


def test_the_sandbox_request_log_is_bounded():
    """The embedded sandbox logs every request (~2 KB each); a long-running server keeps only the newest 1,000."""
    log = RequestLog(limit=3)
    for index in range(5):
        log.add({"index": index})
    assert [entry["index"] for entry in log.entries()] == [2, 3, 4]
