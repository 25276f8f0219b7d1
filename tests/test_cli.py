"""The `clerk-mcp` command, run as a subprocess with no CLERK_SECRET_KEY: it uses the embedded sandbox.

Exit codes: 0 success, 1 the tool returned an error, 2 bad usage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.client import Client

from clerk_mcp import __version__
from clerk_mcp.operations import OPERATIONS
from clerk_mcp.operations import STATUS_TOOL as STATUS
from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

CONSOLE_SCRIPT = Path(sys.executable).with_name("clerk-mcp")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return {**env, **extra}


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "clerk_mcp.cli", *args], capture_output=True, text=True, timeout=60, env=clean_env(**env),
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_version():
    exe = str(CONSOLE_SCRIPT) if CONSOLE_SCRIPT.exists() else shutil.which("clerk-mcp")
    assert exe, "the clerk-mcp console script is installed"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"clerk-mcp {__version__}"


@pytest.mark.anyio
async def test_tools_json_is_exactly_the_tools_array_of_tools_list():
    proc = cli("tools", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)  # stdout is the JSON and nothing else
    async with Client(build_server(Settings())) as client:
        listed = (await client.list_tools()).tools
    assert printed == [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
    assert [t["name"] for t in printed] == [op.name for op in OPERATIONS if op.toolset == "users"] + [STATUS]
    assert "sandbox" in proc.stderr  # the notice goes to stderr, never stdout


def test_tools_plain_lists_every_tool_and_honours_read_only():
    proc = cli("tools", "--read-only")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#")]
    assert names == [op.name for op in OPERATIONS if op.effect.value == "read" and op.toolset == "users"] + [STATUS]


def test_call_prints_the_result_as_json():
    proc = cli("call", "get_user_list", '{"limit": 2}')
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["data"]) == 2
    assert all(u["id"].startswith("user_") for u in result["data"])
    assert result["next_starting_after"] == result["data"][-1]["id"]
    following = json.loads(cli("call", "get_user_list", json.dumps({"limit": 2, "starting_after": result["next_starting_after"]})).stdout)
    assert following["data"] and following["data"][0]["id"] not in {u["id"] for u in result["data"]}


@pytest.mark.parametrize("arguments", [{"limit": 2, "order_by": "email_address"}, {"limit": 2, "offset": 2}])
def test_no_cursor_is_offered_where_clerk_would_refuse_it(arguments):
    """Clerk accepts starting_after only with created_at ordering and no offset."""
    result = json.loads(cli("call", "get_user_list", json.dumps(arguments)).stdout)
    assert len(result["data"]) == 2 and "next_starting_after" not in result


def test_unknown_tool_is_a_usage_error_and_an_api_url_may_end_in_v1():
    unknown = cli("call", "no_such_tool", "{}")
    assert unknown.returncode == 2 and "clerk-mcp tools" in unknown.stderr
    policy = cli("policy", CLERK_SECRET_KEY="sk_test_x", CLERK_API_URL="http://127.0.0.1:9/v1/")
    assert "development http://127.0.0.1:9 (key" in policy.stdout


@pytest.mark.parametrize("arguments", ['{"limit": 2', "not json", "[1, 2]", '"a string"'])
def test_bad_json_arguments_are_usage_errors(arguments):
    proc = cli("call", "get_user_list", arguments)
    assert proc.returncode == 2
    assert "JSON" in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("clerk-mcp:") or "JSON" in proc.stderr


def test_usage_errors_exit_2():
    assert cli("frobnicate").returncode == 2
    assert cli("call").returncode == 2


def test_tool_errors_exit_1_with_the_error_as_json():
    missing = cli("call", "get_user", '{"user_id": "user_doesnotexist000000000000000"}')
    assert missing.returncode == 1
    error = json.loads(missing.stdout)
    assert error["status"] == 404 and error["code"] == "resource_not_found"
    invalid = cli("call", "get_user_list", '{"limit": 0, "force": true}')
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout)["error"] == "invalid_arguments"


def test_confirm_tool_is_refused_without_a_terminal(tmp_path):
    db = str(tmp_path / "sandbox.db")
    listed = json.loads(cli("call", "get_user_list", '{"limit": 1}', "--sandbox-db", db).stdout)
    args = json.dumps({"user_id": listed["data"][0]["id"]})
    refused = cli("call", "delete_user", args, "--sandbox-db", db)
    assert refused.returncode == 1
    assert "confirmation" in json.loads(refused.stdout)["message"]
    assert "run `clerk-mcp call` in a terminal; --yes pre-approves" in refused.stderr
    assert cli("call", "get_user", args, "--sandbox-db", db).returncode == 0  # still there


def test_confirm_tool_runs_with_yes(tmp_path):
    db = str(tmp_path / "sandbox.db")
    listed = json.loads(cli("call", "get_user_list", '{"limit": 1}', "--sandbox-db", db).stdout)
    args = json.dumps({"user_id": listed["data"][0]["id"]})
    deleted = cli("call", "delete_user", args, "--sandbox-db", db, "--yes")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert json.loads(deleted.stdout)["deleted"] is True
    gone = cli("call", "get_user", args, "--sandbox-db", db)
    assert gone.returncode == 1 and json.loads(gone.stdout)["status"] == 404


def test_call_honours_policy_flags():
    proc = cli("call", "delete_user", '{"user_id": "user_x"}', "--read-only")
    assert proc.returncode == 1
    assert "read-only" in json.loads(proc.stdout)["message"]
    bad = cli("call", "get_user_list", "{}", "--deny-tools", "no_such_tool")
    assert bad.returncode == 2 and "no_such_tool" in bad.stderr


def test_yes_does_not_bypass_read_only():
    proc = cli("call", "delete_user", '{"user_id": "user_x"}', "--read-only", "--yes")
    assert proc.returncode == 1
    assert "read-only" in json.loads(proc.stdout)["message"]


def test_a_bad_setting_is_named_with_its_variable_and_its_value_is_not_echoed(tmp_path):
    proc = cli("policy", CLERK_MCP_CONFIRM="approve-everything-s3cret")
    assert proc.returncode == 2
    assert "CLERK_MCP_CONFIRM" in proc.stderr and "approve-everything-s3cret" not in proc.stderr
    policy = tmp_path / "policy.toml"
    policy.write_text('verify_attempts = "many"\n')
    proc = cli("tools", "--policy-file", str(policy))
    assert proc.returncode == 2 and "verify_attempts" in proc.stderr and proc.stdout == ""
