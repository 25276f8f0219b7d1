"""A pytest plugin for testing agents that use clerk-mcp, against a fresh in-process sandbox per test.

Fixtures:

- `clerk_sandbox` — a `Sandbox` handle: seed data, fault injection, the request log and assertions on it.
- `clerk_sandbox_seed` — what each sandbox starts with: True (the demo data of sandbox/SEED.md, the
  default), False (empty) or a fixture dict. Override it, or parametrize it, to change that.
- `clerk_clock` — the sandbox's clock (also `clerk_sandbox.clock`): `freeze(at_ms=None)`, `advance(ms)`,
  `unfreeze()`; timestamps, TOTP windows, lockout cooldowns and token expiry all read it, so tests of them
  need no sleeping.
- `clerk_mcp_settings` — operator settings for the server under test (e.g. `{"read_only": True}`).
- `clerk_mcp_server` — a `ClerkMCPServer` on that sandbox.
- `clerk_mcp_client` — an in-process `mcp.client.Client` connected to it that records every tool call
  and answers confirmation questions from a script: `client.confirmations.approve("ban_user")`;
  anything not scripted is declined.
- `clerk_scenario` — parametrizes a test over the evaluation scenarios (clerk_mcp/evals), all of them or those
  `--clerk-scenarios=NAME|TAG,...` selects (globs); `run_scenario` runs one against your agent in a fresh world:

    async def test_my_agent(clerk_scenario):
        outcome = await run_scenario(clerk_scenario, my_agent)   # my_agent(request, client) -> final answer
        outcome.check()                                          # fails naming each failed check

    async def test_agent_bans_spammer(clerk_sandbox, clerk_mcp_client):
        clerk_mcp_client.confirmations.approve("ban_user")
        await my_agent.run("ban the spammer mallory@example.com", clerk_mcp_client)
        clerk_mcp_client.assert_tool_called("ban_user", times=1)
        clerk_sandbox.assert_called("POST", "/v1/users/{user_id}/ban", times=1)

Async tests using these fixtures run under pytest's anyio plugin without a marker.
Enable with `-p clerk_mcp.testing` when the package's `pytest11` entry point is not installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .agent_testing import ClerkTestClient, Sandbox, sandbox_server
    from .sandbox.clock import Clock
    from .server import ClerkMCPServer

__all__ = ["ClerkTestClient", "CommandAgent", "Sandbox", "run_scenario", "sandbox_server"]
_FROM_EVALS = frozenset({"CommandAgent", "run_scenario"})


def __getattr__(name: str) -> Any:
    """`from clerk_mcp.testing import Sandbox` works, while the plugin itself stays cheap to load."""
    if name in __all__:
        from . import agent_testing, evals

        return getattr(evals if name in _FROM_EVALS else agent_testing, name)
    raise AttributeError(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("clerk-mcp").addoption(
        "--clerk-scenarios", metavar="NAME|TAG,...", default="",
        help="evaluation scenarios that tests taking `clerk_scenario` run: names or tags, globs, comma-separated "
        "(default: all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "clerk_scenario" in metafunc.fixturenames:
        from .evals import load_suite, select

        patterns = [p.strip() for p in metafunc.config.getoption("clerk_scenarios").split(",") if p.strip()]
        scenarios = select(load_suite(), patterns)
        metafunc.parametrize("clerk_scenario", scenarios, ids=[s.name for s in scenarios], indirect=True)


@pytest.fixture
def clerk_scenario(request: pytest.FixtureRequest, anyio_backend: Any) -> Any:
    """One evaluation scenario (`clerk_mcp.evals.Scenario`); `run_scenario(clerk_scenario, agent)` scores it."""
    return request.param


@pytest.fixture
def clerk_sandbox_seed() -> bool | dict[str, Any]:
    """What each test's sandbox starts with: True = the demo data set, False = empty, or a fixture dict."""
    return True


@pytest.fixture
def clerk_sandbox(clerk_sandbox_seed: bool | dict[str, Any], anyio_backend: Any) -> Sandbox:
    # Requesting anyio_backend makes every async test that uses these fixtures an anyio test: no marker needed.
    from .agent_testing import Sandbox
    from .sandbox import create_app

    sandbox = Sandbox(create_app(seed=False))
    if clerk_sandbox_seed:
        sandbox.seed(None if clerk_sandbox_seed is True else clerk_sandbox_seed)
    return sandbox


@pytest.fixture
def clerk_clock(clerk_sandbox: Sandbox) -> Clock:
    """The sandbox's clock, e.g. `clerk_clock.freeze(1_700_000_000_000)` then `clerk_clock.advance(3_600_000)`."""
    return clerk_sandbox.clock


@pytest.fixture
def clerk_mcp_settings() -> dict[str, Any]:
    """Operator settings for the server under test, e.g. {"read_only": True} or {"confirm": "deny"}."""
    return {}


@pytest.fixture
def clerk_mcp_server(clerk_sandbox: Sandbox, clerk_mcp_settings: dict[str, Any]) -> ClerkMCPServer:
    from .agent_testing import sandbox_server

    return sandbox_server(clerk_sandbox, **clerk_mcp_settings)


@pytest.fixture
async def clerk_mcp_client(clerk_mcp_server: ClerkMCPServer) -> AsyncIterator[ClerkTestClient]:
    from .agent_testing import ClerkTestClient

    async with ClerkTestClient(clerk_mcp_server) as client:
        yield client
