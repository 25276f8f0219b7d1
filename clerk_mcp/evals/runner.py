"""Running scenarios against an agent: for each, a fresh world, the agent in it, and its score.

The contract with an agent given as a command (`CommandAgent`, `clerk-mcp eval -- CMD...`):

- for each scenario the harness starts a fresh sandbox, seeded as the scenario says with its clock frozen, and a
  clerk-mcp server on it; the agent runs with the scenario's request on stdin and, in its environment,
  `CLERK_EVAL_MCP_URL` (a Streamable HTTP endpoint on loopback) and `CLERK_EVAL_MCP_COMMAND` (a command line,
  shell-quoted, that bridges stdio to that same endpoint), so it can connect either way; `CLERK_EVAL_SCENARIO`
  names the scenario. No `CLERK_*` variable of the harness's own environment reaches it;
- what it prints on stdout is its final answer (the first `MAX_ANSWER_BYTES`); stderr is kept for the report;
- after the scenario's time limit the agent and every process it started are killed;
- the scenario plays the human: the server answers every confirmation as the scenario says (audited as "scripted"),
  so the agent's client needs no elicitation support and cannot answer for the human.

The server under evaluation runs only in the harness's process, with the scenario's answers, the audit records and
the transcript in memory, and the sandbox in memory too; the stdio command carries none of them (evals/bridge.py).
So nothing the agent can write to (its environment, files, the bridge) decides the human's answers or the record
the score comes from. The agent still runs as your user, on your machine: it is no sandbox against a hostile program.

An agent can also be a Python coroutine function `agent(request, client) -> answer` taking a connected
`mcp.client.Client` (in-process: no ports, no subprocess), which is how the pytest plugin runs fast.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
import zlib
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..views import count_tokens
from .checks import Verdict, is_confirmation, judge, respected, said_no
from .process import run_process
from .scenario import Scenario

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from mcp.client import Client

    from ..agent_testing import Sandbox
    from ..server import ClerkMCPServer

URL_VARIABLE, COMMAND_VARIABLE, SCENARIO_VARIABLE = "CLERK_EVAL_MCP_URL", "CLERK_EVAL_MCP_COMMAND", "CLERK_EVAL_SCENARIO"
MAX_ANSWER_BYTES = 1 << 20
# Trace ids are fresh random hex on every error; counted as one fixed id, the token figure repeats.
_TRACE_ID = re.compile(r'("(?:clerk_)?trace_id": ")[0-9a-f]*"')

InProcessAgent = Callable[[str, "Client"], Awaitable[str]]


@dataclass(frozen=True)
class CommandAgent:
    """An agent run as a command (argv), under the contract above."""

    argv: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("the agent command is empty")


Agent = InProcessAgent | CommandAgent


@dataclass
class Outcome:
    """One scenario's score: the checks' verdicts and what the run cost."""

    scenario: Scenario
    answer: str
    verdicts: list[Verdict]
    calls: int
    confirmations: int
    said_no: int  # confirmations the human declined, cancelled or answered "instead"
    respected: int  # of those, how many the agent did not try again
    tokens: int  # cl100k tokens of the tool calls' arguments and results, as the transcript holds them
    seconds: float
    error: str | None = None  # the agent crashed, exited non-zero or ran out of time
    stderr: str = field(default="", repr=False)

    @property
    def task_success(self) -> bool:
        return self.error is None and all(v.passed for v in self.verdicts if not v.safety)

    @property
    def safety_violations(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.safety and not v.passed]

    @property
    def passed(self) -> bool:
        return self.task_success and not self.safety_violations

    def explain(self) -> str:
        """Why the scenario failed, one line per failed check (empty when it passed)."""
        lines = [f"agent: {self.error}"] if self.error else []
        lines += [f"{'SAFETY' if v.safety else 'task'}: {v.label}: {v.detail}" for v in self.verdicts if not v.passed]
        return "\n".join(lines)

    def check(self) -> None:
        """Raise AssertionError naming each failed check (for tests)."""
        if not self.passed:
            raise AssertionError(f"scenario {self.scenario.name} failed:\n{self.explain()}\nanswer: {self.answer[:500]!r}")


class World:
    """One scenario's fresh sandbox, and the settings and scripted human of the server under evaluation on it."""

    def __init__(self, scenario: Scenario) -> None:
        from ..agent_testing import Sandbox
        from ..sandbox import create_app

        self.scenario = scenario
        self.sandbox: Sandbox = Sandbox(create_app(seed=False))
        self.sandbox.clock.freeze(scenario.seed.clock)  # before seeding: default timestamps repeat too
        if scenario.seed.demo:
            self.sandbox.seed()
        self.sandbox.seed(scenario.seed.fixture())
        # User references in checks, resolved before the agent runs: a deleted user is then still the same user.
        refs = {c.state["user"] for c in scenario.checks if c.state} | {c.user for c in scenario.checks if c.user}
        self.ids = {ref: (self.sandbox.user(ref) or {}).get("id", ref) for ref in refs}
        for fault in scenario.seed.faults:
            self.sandbox.fail(**fault)
        self.audit, self.transcript = MemoryLog(), MemoryLog()

    def server(self) -> ClerkMCPServer:
        """The server under evaluation, in-process on the sandbox, answering confirmations as the scenario says."""
        from ..confirmation import ScriptedAnswers
        from ..server import build_server
        from ..settings import Settings

        # model_validate: nothing from the environment (a developer's CLERK_* variables must not change a score).
        # No audit file, transcript file or state directory: with no key and an in-process sandbox, the state
        # (budgets, approvals) is the process's own, and the records go to this world's memory below.
        settings = Settings.model_validate({"secret_key": None, "api_url": "http://sandbox.invalid", **self.scenario.settings})
        server = build_server(settings, transport=self.sandbox.transport(), answerer=ScriptedAnswers(self.scenario.answers))
        server.audit, server.transcript = self.audit, self.transcript
        return server

    def calls(self) -> list[dict[str, Any]]:
        """The audit records of the run, in order."""
        return self.audit.records

    def tokens(self) -> int:
        """cl100k tokens of every call's arguments and result, as the transcript holds them (secrets masked)."""
        texts = (_TRACE_ID.sub(r"\g<1>" + "0" * 32 + '"', json.dumps(e, sort_keys=True)) for e in self.transcript.records)
        return sum(map(count_tokens, texts))

    def score(self, answer: str, seconds: float, error: str | None, stderr: str = "") -> Outcome:
        calls = self.calls()
        kept, _ = respected(calls)
        return Outcome(
            scenario=self.scenario, answer=answer,
            verdicts=judge(self.scenario, answer, calls, self.sandbox.user, self.ids),
            calls=len(calls), confirmations=sum(map(is_confirmation, calls)), said_no=sum(map(said_no, calls)),
            respected=kept, tokens=self.tokens(), seconds=seconds, error=error, stderr=stderr,
        )


class MemoryLog:
    """An `AuditLog` kept in memory: each record as its JSON line would read back (so checks see the same types)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(json.loads(json.dumps(record, default=str)))

    def close(self) -> None:
        pass


async def run_scenario(scenario: Scenario, agent: Agent, *, timeout: float | None = None) -> Outcome:
    """Run `agent` on a fresh world for `scenario` and score it. `timeout` (seconds) overrides the scenario's."""
    from ..sandbox.store import seeded_ids

    limit = timeout or scenario.timeout
    # Seeded by the scenario's name: the ids the sandbox makes (fixture users, created users) repeat run after run.
    with seeded_ids(zlib.crc32(scenario.name.encode())):
        world = World(scenario)
        server = world.server()
        started = time.perf_counter()
        try:
            if isinstance(agent, CommandAgent):
                answer, error, stderr = await _run_command(agent, world, server, limit)
            else:
                answer, error, stderr = await _run_in_process(agent, scenario.request, server, limit)
        finally:
            await server.aclose()
        return world.score(answer, time.perf_counter() - started, error, stderr)


async def run_suite(
    scenarios: list[Scenario], agent: Agent, *, timeout: float | None = None, progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Each scenario in turn (one world at a time: scores never depend on another run's timing)."""
    outcomes = []
    for scenario in scenarios:
        outcome = await run_scenario(scenario, agent, timeout=timeout)
        if progress:
            progress(outcome)
        outcomes.append(outcome)
    return outcomes


async def _run_in_process(agent: InProcessAgent, request: str, server: ClerkMCPServer, limit: float) -> tuple[str, str | None, str]:
    from mcp.client import Client

    try:
        with anyio.fail_after(limit):
            async with Client(server) as client:
                return str(await agent(request, client)), None, ""
    except TimeoutError:
        return "", f"stopped after the time limit of {limit:g} s", ""
    except Exception as exc:  # the agent under evaluation failed: that is its score, not the harness's crash
        while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:  # the client's task group wraps it
            exc = exc.exceptions[0]
        return "", f"the agent raised {type(exc).__name__}: {exc}", ""


async def _run_command(agent: CommandAgent, world: World, server: ClerkMCPServer, limit: float) -> tuple[str, str | None, str]:
    from ..http import MCP_PATH, http_app
    from ..settings import Settings

    async with _served(http_app(Settings.model_validate({"secret_key": None}), server)) as mcp_origin:
        url = mcp_origin + MCP_PATH
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
        environment |= {
            URL_VARIABLE: url, COMMAND_VARIABLE: shlex.join([sys.executable, "-m", "clerk_mcp.evals.bridge", url]),
            SCENARIO_VARIABLE: world.scenario.name,
        }
        return await run_process(agent.argv, world.scenario.request, environment, limit, MAX_ANSWER_BYTES)


@asynccontextmanager
async def _served(app: Any) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port in this event loop while the block runs; yields its origin."""
    import uvicorn

    from ..http import listening_socket, origin

    sock = listening_socket("127.0.0.1", 0)  # listening already: connections queue until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve, [sock])
        try:
            yield origin(sock)
        finally:
            server.should_exit = True
    sock.close()
