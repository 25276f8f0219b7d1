"""The audit log: one valid JSON line per tool call, whatever the concurrency, and no secret in it — nor on stderr."""

from __future__ import annotations

import json
import logging
import stat

import anyio
import httpx
import pytest
from mcp.client import Client

from conftest import APPROVE, OAUTH_TOKEN_VALUE, SECRET_KEY, USER_ID, FakeClerk, answering, make_server
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

PASSWORD = "Sup3r-Secret-Passw0rd!"
TOTP_CODE = "918273"
BACKUP_CODE = "bkp-7f3a9c1e"
TOTP_SECRET = "JBSWY3DPEHPK3PXPSECRET"
DIGEST = "$2a$10$abcdefghijklmnopqrstuvDIGESTvalue"
SECRETS = [PASSWORD, TOTP_CODE, BACKUP_CODE, TOTP_SECRET, DIGEST, SECRET_KEY, OAUTH_TOKEN_VALUE]


def read_audit(path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]  # every line is one valid JSON object


async def test_concurrent_calls_give_one_valid_line_each(clerk: FakeClerk, tmp_path):
    audit = tmp_path / "audit.jsonl"
    n = 50
    calls = [
        ("get_user", {"user_id": f"user_{i:04d}"}) if i % 3 == 0
        else ("get_user_list", {"limit": 1 + i}) if i % 3 == 1
        else ("get_user", {"user_id": "bad/id"})  # fails validation, still audited
        for i in range(n)
    ]  # fmt: skip
    async with Client(make_server(clerk, audit_log=audit)) as client, anyio.create_task_group() as tg:
        for tool, arguments in calls:
            tg.start_soon(client.call_tool, tool, arguments)
    records = read_audit(audit)
    assert len(records) == n
    for record in records:
        assert {"time", "tool", "arguments", "decision", "outcome", "duration_ms"} <= set(record)
        assert isinstance(record["duration_ms"], (int, float)) and record["duration_ms"] >= 0
    assert sorted(r["tool"] for r in records) == sorted(t for t, _ in calls)
    assert sum(r["outcome"] == "ok" for r in records) == len(clerk.requests) == n - n // 3
    assert sum(r["outcome"] == "invalid_arguments" for r in records) == n // 3
    targets = {r.get("target") for r in records if r["tool"] == "get_user" and r["outcome"] == "ok"}
    assert targets == {f"user_{i:04d}" for i in range(0, n, 3)}
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600


async def test_audit_appends_across_servers(clerk: FakeClerk, tmp_path):
    audit = tmp_path / "nested" / "audit.jsonl"
    for _ in range(2):
        async with Client(make_server(clerk, audit_log=audit)) as client:
            await client.call_tool("get_users_count", {})
    assert [r["tool"] for r in read_audit(audit)] == ["get_users_count", "get_users_count"]


async def test_decisions_and_outcomes(clerk: FakeClerk, tmp_path):
    audit = tmp_path / "audit.jsonl"
    clerk.override(
        "GET", "/v1/users/user_missing",
        httpx.Response(404, json={"errors": [{"message": "nf", "long_message": "User not found", "code": "resource_not_found"}], "clerk_trace_id": "tr_9"}),
    )  # fmt: skip
    async with Client(make_server(clerk, audit_log=audit, verify_attempts=1, deny_tools=["disable_mfa"]),
                      elicitation_callback=answering("accept", APPROVE)) as client:  # fmt: skip
        await client.call_tool("get_user", {"user_id": "user_missing"})
        await client.call_tool("ban_user", {"user_id": USER_ID})
        await client.call_tool("verify_password", {"user_id": USER_ID, "password": PASSWORD})
        await client.call_tool("verify_password", {"user_id": USER_ID, "password": PASSWORD})
        await client.call_tool("disable_mfa", {"user_id": USER_ID})
    async with Client(make_server(clerk, audit_log=audit), elicitation_callback=answering("decline")) as client:
        await client.call_tool("delete_user", {"user_id": USER_ID})
    async with Client(make_server(clerk, audit_log=audit)) as client:  # cannot elicit
        await client.call_tool("delete_user", {"user_id": USER_ID})
    records = read_audit(audit)
    summary = [(r["tool"], r["decision"], r["outcome"]) for r in records]
    assert summary == [
        ("get_user", "allowed", "clerk_api_error"),
        ("ban_user", "confirmed", "ok"),
        ("verify_password", "allowed", "ok"),
        ("verify_password", "over_budget", "refused"),
        ("disable_mfa", "hidden", "refused"),
        ("delete_user", "declined", "refused"),
        ("delete_user", "refused", "refused"),
    ]
    assert (records[0]["status"], records[0]["code"], records[0]["clerk_trace_id"]) == (404, "resource_not_found", "tr_9")
    assert records[1]["target"] == USER_ID


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_no_secret_in_audit_or_stderr(clerk: FakeClerk, tmp_path, caplog, capfd, mode):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "mcp", "clerk_mcp"):
        caplog.set_level(logging.DEBUG, logger=name)
    audit = tmp_path / "audit.jsonl"
    wrong = httpx.Response(422, json={"errors": [{"message": "wrong", "long_message": "Incorrect code", "code": "invalid"}]})
    calls = [
        ("verify_password", {"user_id": USER_ID, "password": PASSWORD}),
        ("verify_totp", {"user_id": USER_ID, "code": TOTP_CODE}),
        ("verify_totp", {"user_id": USER_ID, "code": BACKUP_CODE}),
        ("create_user", {"first_name": "A", "password": PASSWORD, "totp_secret": TOTP_SECRET, "backup_codes": [BACKUP_CODE]}),
        ("create_user", {"password_digest": DIGEST, "password_hasher": "bcrypt"}),
        ("update_user", {"user_id": USER_ID, "password": PASSWORD, "sign_out_of_other_sessions": True}),
        ("update_user", {"user_id": USER_ID, "totp_secret": TOTP_SECRET, "backup_codes": [BACKUP_CODE]}),
        ("get_o_auth_access_token", {"user_id": USER_ID, "provider": "oauth_google"}),
        # Invalid calls carrying secrets are audited too, still redacted.
        ("verify_password", {"user_id": "bad/id", "password": PASSWORD}),
        ("verify_totp", {"user_id": USER_ID, "code": TOTP_CODE, "force": True}),
        ("no_such_tool", {"password": PASSWORD}),
    ]
    results = []
    async with Client(make_server(clerk, audit_log=audit, verify_attempts=100), mode=mode,
                      elicitation_callback=answering("accept", APPROVE)) as client:  # fmt: skip
        for tool, arguments in calls:
            results.append(await client.call_tool(tool, arguments))
        clerk.fail = wrong  # and once more, with Clerk refusing
        for tool, arguments in calls[:3]:
            results.append(await client.call_tool(tool, arguments))
    # The OAuth token does reach the caller who confirmed; nothing else does.
    assert OAUTH_TOKEN_VALUE in json.dumps(results[7].structured_content)
    records = read_audit(audit)
    assert len(records) == len(calls) + 3
    audit_text = audit.read_text(encoding="utf-8")
    captured = capfd.readouterr()
    for secret in SECRETS:
        assert secret not in audit_text, secret
        assert secret not in captured.err and secret not in captured.out, secret
        assert secret not in caplog.text, secret
    # Redacted, not dropped: the audit still says which secret-bearing fields were given.
    assert records[0]["arguments"] == {"user_id": USER_ID, "password": "***"}
    assert records[3]["arguments"]["backup_codes"] == "***" and records[3]["arguments"]["first_name"] == "A"
    for result in results:
        text = "".join(getattr(c, "text", "") for c in result.content)
        for secret in (PASSWORD, TOTP_CODE, BACKUP_CODE, TOTP_SECRET, DIGEST, SECRET_KEY):
            assert secret not in text


async def test_secrets_nested_in_unexpected_places_are_redacted_too(clerk: FakeClerk, tmp_path, capfd):
    audit = tmp_path / "audit.jsonl"
    async with Client(make_server(clerk, audit_log=audit)) as client:
        await client.call_tool("verify_password", {"user_id": USER_ID, "options": {"password": PASSWORD}})
        await client.call_tool("create_user", {"first_name": "A", "extra": [{"code": TOTP_CODE, "backup_codes": [BACKUP_CODE]}]})
        await client.call_tool("no_such_tool", {"nested": {"deeper": {"totp_secret": TOTP_SECRET}}})
        # Misspelt or look-alike names hold secrets too: an undeclared field's value is never kept.
        for name in ("new_password", "Password", "pass\u200bword", "pass\u043eword", "backupCodes", "totp_code"):
            await client.call_tool("verify_password", {"user_id": USER_ID, name: PASSWORD})
    text = audit.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 9
    for secret in (PASSWORD, TOTP_CODE, BACKUP_CODE, TOTP_SECRET):
        assert secret not in text
    assert secret not in capfd.readouterr().err
    assert json.loads(text.splitlines()[0])["arguments"] == {"user_id": USER_ID, "options": "***"}
    assert clerk.requests == []


async def test_an_unexpected_failure_is_a_clear_error_result_and_still_audited(clerk: FakeClerk, tmp_path) -> None:
    """Clerk answering a list with an object is not a shape the tool can handle: the model is told, the log has more."""
    audit = tmp_path / "audit.jsonl"
    clerk.override("GET", "/v1/users", httpx.Response(200, json={"unexpected": True}))
    async with Client(make_server(clerk, audit_log=audit)) as client:
        result = await client.call_tool("get_user_list", {})
    assert result.is_error and payload(result)["error"] == "internal_error"
    assert "get_user_list failed inside clerk-mcp" in result.content[0].text and "Traceback" not in result.content[0].text
    (line,) = audit.read_text().splitlines()
    assert json.loads(line)["outcome"] == "internal_error"


async def test_json_it_cannot_send_is_refused_before_anything_is_sent(clerk: FakeClerk) -> None:
    """NaN (Python's JSON parser accepts it) and lone surrogates cannot be sent as JSON: refused by name, up front."""
    server = make_server(clerk)
    nan = await server.call_tool("update_user_metadata", {"user_id": USER_ID, "public_metadata": {"x": float("nan")}})
    surrogate = await server.call_tool("get_user_list", {"query": "\ud800"})
    assert nan.is_error and "public_metadata" in nan.content[0].text and "NaN" in nan.content[0].text
    assert surrogate.is_error and "query contains text that is not valid Unicode" in surrogate.content[0].text
    assert clerk.requests == []


def test_transcripts_mask_every_kind_of_oauth_secret() -> None:
    from mcp_types import CallToolResult

    from clerk_mcp.transcripts import entry

    tokens = {"data": [{"token": "t1", "token_secret": "t2", "id_token": "t3", "provider": "oauth_x"}]}
    line = json.dumps(entry("get_o_auth_access_token", {"user_id": USER_ID}, CallToolResult(content=[], structured_content=tokens)))
    assert all(secret not in line for secret in ('"t1"', '"t2"', '"t3"')) and "oauth_x" in line


async def test_private_metadata_stays_out_of_the_audit_log_and_the_transcript(clerk: FakeClerk, tmp_path) -> None:
    audit, transcript = tmp_path / "audit.jsonl", tmp_path / "transcript.jsonl"
    arguments = {"user_id": USER_ID, "private_metadata": {"api_key": "sk_live_PRIVATE-NOTE"}, "public_metadata": {"plan": "pro"}}
    async with Client(make_server(clerk, audit_log=audit, record=transcript)) as client:
        result = await client.call_tool("update_user_metadata", arguments)
    assert not result.is_error
    assert json.loads(clerk.requests[-1].content)["private_metadata"] == {"api_key": "sk_live_PRIVATE-NOTE"}, "Clerk gets it"
    for log in (audit, transcript):
        (line,) = log.read_text().splitlines()
        assert "PRIVATE-NOTE" not in line and json.loads(line)["arguments"]["private_metadata"] == "***"
        assert json.loads(line)["arguments"]["public_metadata"] == {"plan": "pro"}


async def test_an_audit_log_that_cannot_be_written_does_not_hide_a_call_that_ran(clerk: FakeClerk, caplog) -> None:
    """A full disk (/dev/full) after the call was sent: the result is the call's, and the failure is logged."""
    caplog.set_level(logging.ERROR)
    async with Client(make_server(clerk, audit_log="/dev/full")) as client:
        result = await client.call_tool("update_user_metadata", {"user_id": USER_ID, "public_metadata": {"a": 1}})
    assert not result.is_error and result.structured_content["id"] == USER_ID
    assert clerk.writes() == [("PATCH", f"/v1/users/{USER_ID}/metadata")]
    assert "could not append to /dev/full (No space left on device)" in caplog.text
