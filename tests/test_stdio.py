"""The server as an AI client runs it: `clerk-mcp` spawned over stdio, with nothing but protocol on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from mcp import StdioServerParameters
from mcp.client import Client
from mcp_types import ElicitResult

from clerk_mcp.operations import OPERATIONS, STATUS_TOOL

pytestmark = pytest.mark.anyio

ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
SERVER = StdioServerParameters(command=sys.executable, args=["-m", "clerk_mcp.cli"], env=ENV)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_stdio_client_lists_calls_and_confirms(mode: str) -> None:
    asked: list[str] = []

    async def human(context, params) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with Client(SERVER, mode=mode, elicitation_callback=human) as client:
        assert "Sandbox" in (client.instructions or "")
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == [op.name for op in OPERATIONS if op.toolset == "users"] + [STATUS_TOOL]
        found = await client.call_tool("get_user_list", {"email_address": ["jane@example.com"]})
        jane = found.structured_content["data"][0]["id"]
        banned = await client.call_tool("ban_user", {"user_id": jane})
    assert not banned.is_error and banned.structured_content["banned"] is True
    assert len(asked) == 1 and jane in asked[0]


def test_stdout_carries_only_json_rpc() -> None:
    """Every line the server writes to stdout is a JSON-RPC message; its notices go to stderr."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_users_count", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_user", "arguments": {"user_id": "../x"}}},
    ]
    proc = subprocess.Popen([sys.executable, "-m", "clerk_mcp.cli"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, text=True)
    try:
        replies = []
        for message in messages:  # one at a time, as a client does; stdin stays open until the last reply
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if "id" in message:
                replies.append(json.loads(proc.stdout.readline()))
        rest, stderr = proc.communicate(timeout=30)  # closes stdin: the server ends at EOF
    finally:
        proc.kill()
    assert rest.strip() == ""
    assert all(r.get("jsonrpc") == "2.0" for r in replies)
    by_id = {r["id"]: r for r in replies}
    assert by_id[2]["result"]["structuredContent"]["object"] == "total_count"
    assert by_id[3]["result"]["isError"] is True
    assert "sandbox mode" in stderr


def test_a_line_that_is_no_message_is_answered_not_dropped() -> None:
    """JSON-RPC 2.0 §5.1, as the HTTP transport answers: a client must never wait forever for a reply."""
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    lines = [
        json.dumps(initialize),
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_user","arguments":{"user_id":"\\ud800"}}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/li',
        "[1, 2]",
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "ping"}),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "clerk_mcp.cli"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=ENV,
    )
    watchdog = threading.Timer(60, process.kill)  # a hang bound, not a timing assertion: a killed server ends the read
    watchdog.start()
    try:
        process.stdin.write("\n".join(lines) + "\n")
        process.stdin.flush()
        answers: list[dict] = []
        while not any(a.get("id") == 4 for a in answers):  # the ping's answer comes last; the wait is only a hang bound
            line = process.stdout.readline()
            assert line, process.stderr.read()
            answers.append(json.loads(line))
    finally:
        process.stdin.close()
        stderr = process.stderr.read()
        process.wait(timeout=60)
        watchdog.cancel()
    by_id = {a["id"]: a for a in answers if a["id"] is not None}
    assert by_id[2]["error"]["code"] == -32600 and "result" in by_id[1] and by_id[4]["result"] == {}
    unnamed = sorted(a["error"]["code"] for a in answers if a["id"] is None)
    assert unnamed == [-32700, -32600], answers  # the cut-off line is not JSON; the array is JSON but no message
    assert "Traceback" not in stderr
