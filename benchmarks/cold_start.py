"""Cold start: process spawn → `initialize` answered over stdio, clerk-mcp (sandbox) against a bare `MCPServer`.

Runs are paired and interleaved (baseline, then ours) so that load on the machine hits both alike.
The request is written by hand to the pipe before the server is even up, and the clock stops when
the response line arrives: no client library's own start-up is counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, finish, median, parser, ratio_figure

BUDGET = 1.10
INITIALIZE = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}) + "\n"


def commands() -> tuple[list[str], list[str]]:
    """(baseline, ours): both on this interpreter; ours through the installed `clerk-mcp` script when present."""
    script = Path(sys.executable).with_name("clerk-mcp")
    ours = [str(script)] if script.exists() else [sys.executable, "-m", "clerk_mcp.cli"]
    return [sys.executable, str(ROOT / "benchmarks" / "bare_server.py")], ours


def time_to_initialize(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the `initialize` response line on stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(INITIALIZE.encode())
        proc.stdin.flush()
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
    finally:
        proc.kill()
        _, stderr = proc.communicate()
    if b'"result"' not in line:
        raise RuntimeError(f"{command[-1]} did not answer initialize: {line[:200]!r} {stderr[-500:]!r}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=21, help="paired runs (default 21; at least 15 for the README)")
    ns = p.parse_args(argv)
    runs = 1 if ns.smoke else ns.runs
    # Sandbox mode: no Clerk key and no operator settings from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_SECRET_KEY", "CLERK_API_URL", "CLERK_MCP_"))}
    baseline_cmd, ours_cmd = commands()
    time_to_initialize(baseline_cmd, env)  # warm the OS file cache and bytecode for both
    time_to_initialize(ours_cmd, env)
    baseline, ours = [], []
    for _ in range(runs):
        baseline.append(time_to_initialize(baseline_cmd, env))
        ours.append(time_to_initialize(ours_cmd, env))
    figures = [ratio_figure(f"spawn → initialize, median of {runs} pairs", median(ours) * 1000, median(baseline) * 1000, "ms", BUDGET)]
    return finish("Cold start (baseline: one-tool bare MCPServer)", figures, smoke=ns.smoke)


if __name__ == "__main__":
    sys.exit(main())
