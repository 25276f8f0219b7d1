"""Toolsets (design §2): the `toolset` column of the operation table decides what a server offers.

Through the public surface: an MCP client listing and calling tools, and the CLI as an operator runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeClerk, make_server
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS, STATUS_TOOL, TOOLSETS, toolset_names, toolset_operations
from clerk_mcp.settings import SettingsError, load_settings
from clerk_mcp.toolsets import tool_tokens

pytestmark = pytest.mark.anyio


async def listed(server) -> list[str]:
    async with Client(server) as client:
        return [t.name for t in (await client.list_tools()).tools]


def test_every_operation_is_in_a_described_toolset_and_users_is_the_first():
    assert {op.toolset for op in OPERATIONS} <= set(TOOLSETS)
    assert toolset_names()[0] == "users"
    assert len(toolset_operations("users")) == 15


async def test_the_default_offers_the_users_toolset_only(clerk: FakeClerk):
    names = await listed(make_server(clerk, toolsets=load_settings().toolsets))
    assert names == [op.name for op in toolset_operations("users")] + [STATUS_TOOL]


@pytest.mark.parametrize("toolset", toolset_names())
async def test_each_toolset_alone_offers_exactly_its_rows(clerk: FakeClerk, toolset: str):
    assert await listed(make_server(clerk, toolsets=[toolset])) == [op.name for op in toolset_operations(toolset)] + [STATUS_TOOL]


async def test_all_is_every_toolset_and_allow_deny_read_only_apply_on_top(clerk: FakeClerk):
    assert await listed(make_server(clerk, toolsets=["all"])) == [op.name for op in OPERATIONS] + [STATUS_TOOL]
    reads = await listed(make_server(clerk, toolsets=["all"], read_only=True, deny_tools=["get_user"]))
    assert reads == [op.name for op in OPERATIONS if op.effect.value == "read" and op.name != "get_user"] + [STATUS_TOOL]


async def test_a_tool_of_a_toolset_that_is_off_is_refused_with_the_way_to_turn_it_on(clerk: FakeClerk):
    off = next((op for op in OPERATIONS if op.toolset != "users"), None)
    if off is None:
        pytest.skip("only the users toolset has operations")
    async with Client(make_server(clerk, toolsets=["users"])) as client:
        result = await client.call_tool(off.name, {})
    assert result.is_error and f"{off.toolset} toolset" in result.content[0].text and "--toolsets" in result.content[0].text
    assert clerk.sent == []


@pytest.mark.parametrize("value", ["users,nope", ""])
def test_an_unknown_or_empty_toolset_list_stops_start_up_naming_the_valid_ones(monkeypatch, value):
    monkeypatch.setenv("CLERK_MCP_TOOLSETS", value)
    if value == "":  # an empty variable counts as unset
        assert load_settings().toolsets == ["users"]
        return
    with pytest.raises(SettingsError) as raised:
        load_settings()
    (problem,) = raised.value.problems
    assert problem.startswith("CLERK_MCP_TOOLSETS (setting toolsets): unknown toolset 'nope'; valid: ")
    assert problem.endswith(", ".join([*toolset_names(), "all"]))


def test_cli_tools_prints_a_toolsets_tools_and_its_token_cost():
    every = ",".join(toolset_names())
    proc = subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", "tools", "--toolsets", every], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.strip() and not line.startswith("#")] == [op.name for op in OPERATIONS] + [STATUS_TOOL]
    costs = [line for line in lines if line.startswith("# toolset ")]
    assert len(costs) == len(toolset_names())
    for name, line in zip(toolset_names(), costs, strict=True):
        ops = toolset_operations(name)
        assert line.startswith(f"# toolset {name}: {len(ops)} tools, {sum(map(tool_tokens, ops)):,} model-visible tokens")


def test_cli_refuses_an_unknown_toolset_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", "tools", "--toolsets", "nope"], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"clerk-mcp: CLERK_MCP_TOOLSETS (setting toolsets): unknown toolset 'nope'; valid: {', '.join([*toolset_names(), 'all'])}"
    ]


def test_tool_tokens_is_the_benchmarks_model_visible_measure():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import tokens  # benchmarks/tokens.py

    (default,) = [f for f in tokens.tool_list_figures() if "default toolset (" in f.name]
    assert default.ours == sum(tool_tokens(op) for op in toolset_operations("users"))
