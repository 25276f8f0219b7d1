"""Cold start: process spawn → `initialize` answered over stdio, clerk-mcp (sandbox) against a bare `MCPServer`.

Runs are paired and interleaved (baseline, then ours) so that load on the machine hits both alike.
The request is written by hand to the pipe before the server is even up, and the clock stops when
the response line arrives: no client library's own start-up is counted. The server's CPU time (user
+ system, until it is killed right after answering) is reported too: on a busy machine it says
more than wall time does.

Both servers run with bytecode cached, as an installed package has it: the children get a private
`PYTHONPYCACHEPREFIX` (filled by the warm-up pair) even where `PYTHONDONTWRITEBYTECODE` is set,
which would otherwise make us recompile clerk_mcp at every start while `mcp`'s wheel ships its .pyc.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
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


def time_to_initialize(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the `initialize` response line on stdout, and the CPU seconds the server used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if b'"result"' not in line:
        raise RuntimeError(f"{command[-1]} did not answer initialize: {line[:200]!r} {stderr[-500:]!r}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=21, help="paired runs (default 21; at least 15 for the README)")
    ns = p.parse_args(argv)
    runs = 1 if ns.smoke else ns.runs
    # Sandbox mode: no Clerk key and no operator settings from the caller's shell.
    skip = ("CLERK_SECRET_KEY", "CLERK_API_URL", "CLERK_MCP_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    baseline_cmd, ours_cmd = commands()
    with tempfile.TemporaryDirectory(prefix="clerk-mcp-bench-") as pycache:
        env["PYTHONPYCACHEPREFIX"] = pycache
        time_to_initialize(baseline_cmd, env)  # warm the OS file cache and bytecode for both
        time_to_initialize(ours_cmd, env)
        pairs = [(time_to_initialize(baseline_cmd, env), time_to_initialize(ours_cmd, env)) for _ in range(runs)]
    figures = [
        ratio_figure(f"{what}, median of {runs} pairs", median([o[i] for _, o in pairs]) * 1000,
                     median([b[i] for b, _ in pairs]) * 1000, "ms", BUDGET)
        for i, what in enumerate(("spawn → initialize (wall)", "spawn → initialize (server CPU)"))
    ]
    return finish("Cold start (baseline: one-tool bare MCPServer)", figures, smoke=ns.smoke)


if __name__ == "__main__":
    sys.exit(main())
