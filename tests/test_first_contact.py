"""First contact: what an operator meets when starting clerk-mcp, run as they run it (subprocesses).

Start-up refuses a malformed key or API URL, or an unknown CLERK_MCP_* variable, in one line per problem and exit 2
before any request is sent, never echoing a value; an empty key means the sandbox; retries say what is retried;
one Ctrl-C stops every long-running command without a traceback; the emulator says "listening" only once bound;
`python -m clerk_mcp` is `clerk-mcp`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY
from clerk_mcp.settings import Settings
from test_cli import clean_env, cli

SANDBOX = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("clerk-mcp"))
COMMANDS = {"clerk-mcp": [CONSOLE_SCRIPT], "python -m clerk_mcp": [sys.executable, "-m", "clerk_mcp"]}
INITIALIZE = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "first-contact", "version": "0"}},
}) + "\n"  # fmt: skip
DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port: a request sent by mistake fails, locally


def start(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMANDS["clerk-mcp"], *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=clean_env(COLUMNS="400", **env),
    )  # fmt: skip


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    """One SIGINT; the exit code and the whole stderr. The wait is a bound for a hang, not a timing assertion."""
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running 60 s after one SIGINT; stderr:\n{stderr}")
    return process.returncode, stderr


def assert_clean_stop(returncode: int, stderr: str) -> None:
    assert returncode in (0, 130), stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """`clerk-mcp emulator --port 0` in its own process; its base URL, read from the "listening" line."""
    process = start("emulator", "--port", "0")
    try:
        line = process.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        yield line.split(" on ")[1].split()[0]
    finally:
        process.kill()
        process.communicate()


@pytest.fixture
def clerk(emulator: str) -> Iterator[str]:
    """The emulator with no armed fault and an empty request log."""
    httpx.delete(f"{emulator}/_sandbox/faults", headers=SANDBOX).raise_for_status()
    httpx.delete(f"{emulator}/_sandbox/requests", headers=SANDBOX).raise_for_status()
    yield emulator
    httpx.delete(f"{emulator}/_sandbox/faults", headers=SANDBOX).raise_for_status()


def received(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/requests", headers=SANDBOX).json()


# --- the key and the API URL ----------------------------------------------------------------------------------

VALID_KEY = "sk_test_" + "a1" * 12


def test_an_empty_secret_key_means_the_sandbox():
    count = cli("call", "get_users_count", CLERK_SECRET_KEY="", CLERK_API_URL=DEAD_URL)
    assert count.returncode == 0, count.stdout + count.stderr
    assert json.loads(count.stdout)["total_count"] > 0  # the demo users, not a connection error
    assert "sandbox mode" in count.stderr
    assert cli("policy", CLERK_SECRET_KEY=" \t\n", CLERK_API_URL=DEAD_URL).stdout.startswith("backend: sandbox")
    assert Settings(secret_key="   ").sandbox and Settings(api_url="").api_url == "https://api.clerk.com"


PUBLISHABLE = "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"  # the shape of Clerk's publishable keys: pk_test_ + base64("host$")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (PUBLISHABLE, "a pk_… publishable key is not one"),
        ("garbage-S3CRET-value", "must be a Clerk secret key starting with sk_test_ or sk_live_"),
        ("sk_test_S3CRET value", "contains whitespace inside the key"),
    ],
)
def test_a_key_that_is_not_a_secret_key_stops_start_up_before_any_request(clerk, key, expected):
    proc = cli("call", "get_users_count", CLERK_SECRET_KEY=key, CLERK_API_URL=clerk)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()], "one line"
    assert proc.stderr.startswith("clerk-mcp: CLERK_SECRET_KEY ") and expected in proc.stderr
    assert "S3CRET" not in proc.stderr and key not in proc.stderr
    assert received(clerk) == []


@pytest.mark.parametrize(
    ("key", "problem"),
    [("pk_live_S3CRET", "must be a Clerk secret key"), ("Bearer sk_test_S3CRET", "whitespace inside the key"),
     ("sk_live_S3 CRET", "whitespace inside the key"), ("sk_live_S3\tCRET", "whitespace inside the key"),
     ("sk_test_S3CRETé", "not printable ASCII"), ("user_S3CRET", "starting with sk_test_ or sk_live_"),
     # Clerk's older key form: the Dashboard no longer issues it, and only the two prefixes are known to mean
     # what the production guard needs to know.
     ("test_S3CRET", "starting with sk_test_ or sk_live_"), ("live_S3CRET", "starting with sk_test_ or sk_live_")],
)  # fmt: skip
def test_other_non_keys_are_refused_by_the_settings(key, problem):
    with pytest.raises(ValidationError, match=problem) as refused:
        Settings(secret_key=key)
    assert "S3CRET" not in str(refused.value)


def test_a_live_key_pasted_with_a_leading_space_is_a_production_key_to_the_guard(tmp_path):
    """Trimmed before the production check: ` sk_live_…` is not a development key, so the guard stays on and
    `clerk-mcp call ban_user --yes` is refused without --allow-approve-live."""
    key = " sk_live_" + "b2" * 12
    policy = cli("policy", CLERK_SECRET_KEY=key, CLERK_API_URL=DEAD_URL)
    assert policy.returncode == 0 and policy.stdout.startswith("backend: production"), policy.stderr
    ban = cli("call", "ban_user", '{"user_id": "user_1"}', "--yes", CLERK_SECRET_KEY=key, CLERK_API_URL=DEAD_URL)
    assert ban.returncode == 2 and "--allow-approve-live" in ban.stderr
    assert key.strip() not in ban.stderr + ban.stdout + policy.stdout


@pytest.mark.parametrize(
    ("key", "backend"),
    [(VALID_KEY, "development"), ("sk_live_" + "b2" * 12, "production"), ("sk_live_", "production")],
)  # fmt: skip
def test_clerk_secret_keys_are_accepted_and_classified(key, backend):
    settings = Settings(secret_key=f" {key}\n")  # pasted with blanks around it
    assert settings.backend_kind == backend and settings.secret_key.get_secret_value() == key


def test_an_api_url_without_http_stops_start_up_before_any_request():
    proc = cli("serve", CLERK_SECRET_KEY=VALID_KEY, CLERK_API_URL="api.clerk-S3CRET.com")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "clerk-mcp: CLERK_API_URL (setting api_url): must be an http:// or https:// URL such as https://api.clerk.com "
        "(unset = Clerk's)"
    ]


@pytest.mark.parametrize("url", ["127.0.0.1:8787", "ftp://api.clerk.com", "https://", "//api.clerk.com", "localhost"])
def test_other_urls_without_http_are_refused_by_the_settings(url):
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        Settings(secret_key=VALID_KEY, api_url=url)


def test_a_generic_secret_key_variable_is_not_taken_for_clerks():
    """SECRET_KEY (Django's, Flask's) and API_URL belong to other programs."""
    proc = cli("policy", SECRET_KEY="django-insecure-" + "x" * 20, API_URL=DEAD_URL)
    assert proc.returncode == 0 and proc.stdout.startswith("backend: sandbox")


# --- unknown CLERK_MCP_* variables ----------------------------------------------------------------------------


def test_an_unknown_clerk_mcp_variable_stops_start_up_naming_the_closest_setting():
    env = {"CLERK_MCP_READONLY": "true-S3CRET", "CLERK_MCP_AUDITLOG": "/tmp/S3CRET", "CLERK_MCP_FROBNICATE": "S3CRET"}
    for command in (("policy",), ("serve",)):
        proc = cli(*command, **env)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.splitlines() == [
            "clerk-mcp: CLERK_MCP_AUDITLOG is not a clerk-mcp setting (did you mean CLERK_MCP_AUDIT_LOG?); rename or unset it",
            "clerk-mcp: CLERK_MCP_FROBNICATE is not a clerk-mcp setting "
            "(the README's configuration table lists every setting); rename or unset it",
            "clerk-mcp: CLERK_MCP_READONLY is not a clerk-mcp setting (did you mean CLERK_MCP_READ_ONLY?); rename or unset it",
        ]
        assert "S3CRET" not in proc.stderr


def test_every_documented_variable_is_known_in_any_case():
    proc = cli("tools", clerk_mcp_read_only="true", CLERK_MCP_VERIFY_ATTEMPTS="3")
    assert proc.returncode == 0, proc.stderr
    assert "delete_user" not in proc.stdout and "get_user_list" in proc.stdout


# --- retries --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "cause", "wait"),
    [({"status": 503, "count": 2}, "503 service_unavailable", None), ({"status": 429, "retry_after": 1, "count": 1}, "429", "in 1.0 s")],
)
def test_retry_lines_name_the_request_not_its_data(clerk, fault, cause, wait):
    httpx.post(f"{clerk}/_sandbox/faults", json={"method": "GET", "path": "/v1/users", **fault}, headers=SANDBOX).raise_for_status()
    key = "sk_test_sandbox"
    args = json.dumps({"email_address": ["jane@example.com"], "limit": 1})
    proc = cli("call", "get_user_list", args, CLERK_SECRET_KEY=key, CLERK_API_URL=clerk)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(json.loads(proc.stdout)["data"]) == 1 and "jane@example.com" in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "failed" in line]
    assert len(lines) == fault["count"], proc.stderr
    for attempt, line in enumerate(lines, start=2):
        assert line.startswith(f"clerk-mcp: get_user_list: GET /v1/users failed ({cause}"), line
        assert f"attempt {attempt} of 4 in " in line
        assert wait is None or line.endswith(wait)
    assert "jane@example.com" not in proc.stderr and key not in proc.stderr and "retry_scheduled" not in proc.stderr


# --- stopping, binding, python -m -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_python_m_clerk_mcp_is_clerk_mcp(command):
    help_text = subprocess.run([*COMMANDS[command], "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert help_text.returncode == 0
    assert help_text.stdout == cli("--help").stdout and "emulator" in help_text.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_one_ctrl_c_stops_the_stdio_server_cleanly(command):
    process = subprocess.Popen(
        COMMANDS[command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )  # fmt: skip
    process.stdin.write(INITIALIZE)
    process.stdin.flush()  # stdin stays open, as an MCP client keeps it
    answer = json.loads(process.stdout.readline())
    assert answer["result"]["serverInfo"]["name"] == "clerk-mcp"
    assert_clean_stop(*interrupt(process))


def test_one_ctrl_c_stops_serve_http_cleanly():
    process = start("serve", "--http", "--port", "0")
    line = next(line for line in process.stderr if "Streamable HTTP on" in line)
    url = line.split(" on ")[1].split()[0].removesuffix("/mcp")
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    assert_clean_stop(*interrupt(process))


def test_the_emulator_says_listening_once_bound_and_stops_on_one_ctrl_c():
    process = start("emulator", "--port", "0")
    line = process.stderr.readline()
    url = line.split(" on ")[1].split()[0]
    # No retry: the line promises the port is bound and listening.
    assert httpx.get(f"{url}/_sandbox/requests", headers=SANDBOX).status_code == 200
    assert_clean_stop(*interrupt(process))


@pytest.mark.parametrize("command", [("emulator",), ("serve", "--http")])
def test_a_busy_port_is_one_line_and_exit_2(command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli(*command, "--port", str(port))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"clerk-mcp: cannot bind 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("command", [("tools",), ("call", "get_user_list", '{"limit": 3}')])
def test_stdout_closed_early_is_a_quiet_stop(command):
    """`clerk-mcp tools | head -1`: the reader leaves before clerk-mcp writes; no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails with EPIPE
    try:
        proc = subprocess.run(
            [*COMMANDS["clerk-mcp"], *command], stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, timeout=120, env=clean_env(), check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.returncode == 141
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_the_emulator_takes_its_lockout_policy_from_flags():
    process = start("emulator", "--port", "0", "--lockout-attempts", "6", "--lockout-duration", "indefinite")
    try:
        line = process.stderr.readline()
        assert "listening on" in line, line
        url = line.split(" on ")[1].split()[0]
        users = httpx.get(f"{url}/v1/users", params={"limit": 100}, headers=SANDBOX).json()
        open_users = [u for u in users if not u["locked"]]
        assert open_users and {u["verification_attempts_remaining"] for u in open_users} == {6}
    finally:
        process.kill()
        process.communicate()


@pytest.mark.parametrize(("flag", "value"), [("--lockout-attempts", "4"), ("--lockout-attempts", "0"), ("--lockout-attempts", "ten"), ("--lockout-duration", "0"), ("--lockout-duration", "-5")])
def test_a_bad_lockout_flag_is_one_line_and_exit_2(flag, value):
    done = cli("emulator", "--port", "0", flag, value)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("clerk-mcp: ") and "Traceback" not in done.stderr


def test_the_emulator_refuses_a_public_address_with_its_well_known_key_and_never_prints_a_chosen_key():
    refused = cli("emulator", "--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 2 and "well-known key" in refused.stderr and "--secret-key" in refused.stderr
    process = start("emulator", "--port", "0", "--secret-key", "sk_test_MY-OWN-choice")
    try:
        line = process.stderr.readline()
        assert "listening on" in line and "MY-OWN-choice" not in line, line
    finally:
        process.kill()
        process.communicate()


def test_a_state_directory_that_cannot_hold_the_local_store_stops_start_up(tmp_path):
    """Approvals and verify budgets are kept across processes or not at all: no silent per-process fallback."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    proc = cli("call", "get_users_count", CLERK_SECRET_KEY=VALID_KEY, CLERK_API_URL=DEAD_URL, CLERK_MCP_STATE_DIR=str(blocker))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()], "one line"
    assert "cannot open the local state store" in proc.stderr and "CLERK_MCP_STATE_DIR" in proc.stderr
    assert VALID_KEY not in proc.stderr
