"""`clerk-mcp eval [-k NAME|TAG]... [--json FILE] [--junit FILE] -- AGENT COMMAND...`

Runs the selected scenarios against the agent command (the contract is in runner.py and the README), prints the
table on stdout and a line per finished scenario on stderr, and writes the JSON and JUnit reports when asked.
Exit code 0 when every scenario passed, 1 when one did not; a bad selection or scenario file is a usage error (2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import report
from .runner import CommandAgent, Outcome, run_suite
from .scenario import load_suite, select


def run(
    agent: list[str], *, patterns: list[str], directory: Path | None = None, timeout: float | None = None,
    json_path: Path | None = None, junit_path: Path | None = None, list_only: bool = False,
) -> int:
    import logging

    import anyio

    # A session manager starts and stops per scenario; its INFO lines would bury the progress lines.
    logging.getLogger("mcp.server.streamable_http_manager").setLevel(logging.WARNING)
    scenarios = select(load_suite(directory), patterns)
    if list_only:
        for s in scenarios:
            print(f"{s.name:<30} {','.join(s.tags):<40} {s.description}")
        return 0
    if timeout is not None and not timeout > 0:
        raise ValueError("--timeout must be a positive number of seconds")
    agent = agent[1:] if agent[:1] == ["--"] else agent
    if not agent:
        raise ValueError("give the agent command after --, e.g. clerk-mcp eval -- python my_agent.py")

    def progress(outcome: Outcome) -> None:
        verdict = "pass" if outcome.passed else f"FAIL ({outcome.explain().splitlines()[0]})"
        print(f"clerk-mcp eval: {outcome.scenario.name}: {verdict} in {outcome.seconds:.1f} s", file=sys.stderr, flush=True)

    outcomes = anyio.run(lambda: run_suite(scenarios, CommandAgent(tuple(agent)), timeout=timeout, progress=progress))
    print(report.table(outcomes))
    if json_path is not None:
        json_path.write_text(json.dumps(report.as_json(outcomes), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if junit_path is not None:
        junit_path.write_text(report.junit(outcomes), encoding="utf-8")
    return 0 if all(o.passed for o in outcomes) else 1
