"""Transcripts: recorded calls (secrets masked) replay against a fresh sandbox; differences are reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp_types import ElicitResult

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings
from clerk_mcp.transcripts import replay, run_replay

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"


async def human(context: Any, params: Any) -> ElicitResult:
    """Approves everything but deleting a user."""
    if params.message.startswith("Delete user?"):
        return ElicitResult(action="decline")
    return ElicitResult(action="accept", content={"approve": True})


@pytest.fixture
async def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "calls.jsonl"
    server = build_server(Settings.model_validate({"secret_key": None, "record": path}))
    async with Client(server, elicitation_callback=human) as client:
        await client.call_tool("get_user_list", {"email_address": ["jane@example.com"]})
        created = await client.call_tool("create_user", {"email_address": ["new@example.com"], "first_name": "New"})
        await client.call_tool("ban_user", {"user_id": created.structured_content["id"]})
        await client.call_tool("delete_user", {"user_id": JANE})
        await client.call_tool("verify_password", {"user_id": JANE, "password": "hunter2-SECRET"})
        await client.call_tool("get_o_auth_access_token", {"user_id": JANE, "provider": "oauth_google"})
        await client.call_tool("get_user", {"user_id": "user_missing"})
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_every_call_is_recorded_with_secrets_masked(transcript: Path) -> None:
    recorded = lines(transcript)
    assert [r["tool"] for r in recorded] == [
        "get_user_list", "create_user", "ban_user", "delete_user", "verify_password", "get_o_auth_access_token", "get_user",
    ]
    assert recorded[3]["is_error"] and recorded[3]["result"]["decision"] == "declined"
    assert recorded[4]["arguments"]["password"] == "***"
    assert recorded[5]["result"]["data"][0]["token"] == "***"
    assert "hunter2-SECRET" not in transcript.read_text()


async def test_a_reproducible_trajectory_replays_the_same(transcript: Path) -> None:
    report = await replay(transcript)
    assert [(r.tool, r.difference) for r in report if r.difference] == [
        ("verify_password", "a secret argument was not recorded"),
    ]
    # The user created in the replay has its own id, and the ban went to it.
    assert report[2].tool == "ban_user" and report[2].difference is None


async def test_a_changed_result_is_reported_where_it_differs(transcript: Path) -> None:
    recorded = lines(transcript)
    recorded[2]["result"]["banned"] = False
    recorded[6]["result"]["message"] = "something else"
    transcript.write_text("".join(json.dumps(r) + "\n" for r in recorded))
    differing = [(r.line, r.difference) for r in await replay(transcript) if r.difference and not r.skipped]
    assert differing == [
        (3, "result.banned: recorded false, replayed true"),
        (7, 'result.message: recorded "something else", replayed "404 resource_not_found: No user was found with id user_missing"'),
    ]


def test_the_replay_command_prints_differences_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calls.jsonl"
    count = {"tool": "get_users_count", "arguments": {}, "is_error": False, "result": {"object": "total_count", "total_count": 3}}
    path.write_text(json.dumps(count) + "\n")
    assert run_replay(path) == 1
    out, err = capsys.readouterr()
    assert "line 1 get_users_count: result.total_count: recorded 3, replayed 30" in out
    assert "1 calls: 0 same, 1 differ, 0 skipped" in err


def test_cli_records_a_call_and_replays_it(tmp_path: Path) -> None:
    """`clerk-mcp call --record` writes the transcript that `clerk-mcp replay` reproduces (exit 0)."""
    path = tmp_path / "cli.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    cli = [sys.executable, "-m", "clerk_mcp.cli"]
    call = subprocess.run([*cli, "call", "get_users_count", "{}", "--record", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert call.returncode == 0, call.stderr
    assert json.loads(path.read_text().splitlines()[0])["tool"] == "get_users_count"
    replayed = subprocess.run([*cli, "replay", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
