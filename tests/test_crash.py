"""Crash safety: SIGKILL `clerk-mcp serve --http` in the middle of a burst of audited calls; the audit log it
leaves has no torn line (each line is one `os.write` on an O_APPEND fd)."""

from __future__ import annotations

import json
import signal
from contextlib import suppress
from pathlib import Path

import anyio
import pytest

from serving import burst, serve_http

pytestmark = pytest.mark.anyio


async def test_sigkill_during_a_burst_leaves_only_whole_audit_lines(tmp_path: Path):
    audit = tmp_path / "audit.jsonl"
    with serve_http(tmp_path, "--audit-log", str(audit)) as served, anyio.fail_after(30):

        async def calls() -> None:
            with suppress(Exception):  # the clients' connections die with the server
                await burst(served.url, 20, 50)  # far more calls than finish before the kill

        async with anyio.create_task_group() as group:
            group.start_soon(calls)
            while not audit.exists() or audit.read_text().count("\n") < 100:
                await anyio.sleep(0.01)
            served.process.send_signal(signal.SIGKILL)
            assert await anyio.to_thread.run_sync(served.process.wait, 10) == -signal.SIGKILL
            group.cancel_scope.cancel()
    text = audit.read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert 100 <= len(lines) < 1000
    for line in lines:
        assert json.loads(line)["tool"]
