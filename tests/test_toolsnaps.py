"""Tool snapshots ("toolsnaps"): each tool exactly as `tools/list` returns it, one JSON file per tool.

A changed name, description, schema or annotation fails this test until the snapshot is updated on
purpose. After an intended change, rewrite the snapshots and review the diff:

    UPDATE_TOOLSNAPS=1 python -m pytest tests/test_toolsnaps.py

Snapshots live in tests/toolsnaps/<tool>.json and are
`Tool.model_dump(mode="json", by_alias=True, exclude_none=True)` — the tool as it goes on the wire.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp.client import Client

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.operations import STATUS_TOOL as STATUS
from clerk_mcp.toolsets import DISCOVERY_TOOLS

pytestmark = pytest.mark.anyio

SNAPSHOTS = Path(__file__).parent / "toolsnaps"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def listed_tools() -> dict[str, dict]:
    from conftest import FakeClerk, make_server

    async with Client(make_server(FakeClerk(), dynamic_toolsets=True)) as client:  # every toolset, and the discovery tools
        tools = (await client.list_tools()).tools
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}


def render(tool: dict) -> str:
    return json.dumps(tool, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


TOOLS = [op.name for op in OPERATIONS] + [STATUS, *DISCOVERY_TOOLS]


@pytest.mark.parametrize("name", TOOLS)
async def test_tool_matches_its_snapshot(listed_tools, name):
    path = SNAPSHOTS / f"{name}.json"
    current = listed_tools[name]
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(render(current), encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}; run: UPDATE_TOOLSNAPS=1 python -m pytest tests/test_toolsnaps.py"
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    assert current == snapshot, (
        f"{name} differs from tests/toolsnaps/{name}.json; if intended, run: "
        "UPDATE_TOOLSNAPS=1 python -m pytest tests/test_toolsnaps.py"
    )


async def test_no_stray_snapshots(listed_tools):
    """A snapshot for a tool that no longer exists fails too (and is removed by an update)."""
    stray = {p.stem for p in SNAPSHOTS.glob("*.json")} - set(TOOLS)
    if UPDATE:
        for name in stray:
            (SNAPSHOTS / f"{name}.json").unlink()
        stray = set()
    assert not stray, f"snapshots for unknown tools: {sorted(stray)}"
    assert set(listed_tools) == set(TOOLS)


async def test_snapshots_are_what_a_client_receives(listed_tools):
    """Snapshots use MCP's wire names (camelCase), so they read like the protocol."""
    delete = listed_tools[OPERATIONS[-1].name]
    assert "inputSchema" in delete and "outputSchema" in delete
    assert "readOnlyHint" in delete["annotations"]
