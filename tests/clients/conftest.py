"""Fixtures of the client matrix: the installed `clerk-mcp` command, a `serve --http` per test, the Node clients
(installed once with `npm ci` from the committed lock), and the session's record of outcomes.

Each matrix test runs the scenario (scenario.py) through one client over one transport, records every leg's
outcome (`matrix.check`), then fails if any leg failed. With UPDATE_COMPAT=1, a session that ran every cell writes
the record (compatibility.json) and README's table at its end (compat.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

from clients import compat
from clients.scenario import SCENARIO, judge
from serving import serve_http

NODE_MODULES = compat.HERE / "node_modules"
RECORDED = pytest.StashKey[dict[str, Any]]()


@pytest.fixture(scope="session")
def clerk_mcp_command() -> str:
    """The console script of the installed package, as a client's config names it."""
    command = shutil.which("clerk-mcp", path=str(Path(sys.executable).parent)) or shutil.which("clerk-mcp")
    assert command, "the clerk-mcp command is not installed (pip install -e '.[test]')"
    return command


@pytest.fixture
def mcp_url(tmp_path: Path) -> Iterator[str]:
    """`clerk-mcp serve --http` on a free loopback port, as the README starts it (loopback: no token)."""
    with serve_http(tmp_path, "--audit-log", str(tmp_path / "audit.jsonl"), token=False, lifetime=600) as served:
        yield f"{served.url}/mcp"


@pytest.fixture(scope="session")
def node() -> str:
    """`node`, with tests/clients/node_modules installed from package-lock.json (`npm ci`, once per lock change).
    Skips only where node or npm is absent; CI has both, so the Node cells run there."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("node and npm are not installed")
    installed = NODE_MODULES / ".package-lock.json"
    lock = compat.HERE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=compat.HERE, check=True, timeout=300, stdin=subprocess.DEVNULL,
        )
    return node


def node_package_version(name: str) -> str:
    """The version of an installed package (or npm alias) in tests/clients/node_modules."""
    return json.loads((NODE_MODULES / name / "package.json").read_text())["version"]


@pytest.fixture(scope="session")
def tool_names() -> set[str]:
    """The tools clerk-mcp lists (in-process, default settings): what every client must see."""

    async def listed() -> set[str]:
        async with Client(build_server(Settings())) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    return anyio.run(listed)


class Matrix:
    """Judges a client's observations, records each leg's outcome for the session, and fails on any failed leg."""

    def __init__(self, recorded: dict[str, Any], tool_names: set[str]) -> None:
        self.recorded = recorded
        self.tool_names = tool_names

    def check(self, client: str, transport: str, version: str, seen: dict[str, Any],
              not_applicable: dict[str, str] | None = None) -> None:
        """`seen`: leg → observation; `not_applicable`: leg → why the client cannot run it (no observation)."""
        not_applicable = not_applicable or {}
        legs: dict[str, str] = {}
        failures = []
        for step in SCENARIO:
            if step.leg in not_applicable:
                legs[step.leg] = f"n/a: {not_applicable[step.leg]}"
                continue
            why = judge(step.leg, seen[step.leg], self.tool_names)
            legs[step.leg] = "fail" if why else "pass"
            if why:
                failures.append(f"{step.leg} ({step.tool}): {why}")
        self.recorded[f"{client}/{transport}"] = {"version": version, "legs": legs}
        assert not failures, f"{client} over {transport} {version}:\n" + "\n".join(failures)


@pytest.fixture
def matrix(request: pytest.FixtureRequest, tool_names: set[str]) -> Matrix:
    return Matrix(request.config.stash.setdefault(RECORDED, {}), tool_names)


def pytest_sessionfinish(session: pytest.Session) -> None:
    recorded = session.config.stash.get(RECORDED, {})
    if compat.UPDATE and set(recorded) == set(compat.CELLS):
        compat.save(recorded)
        compat.write_readme(recorded)
