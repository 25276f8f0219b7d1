"""Privilege never rises without a human, and the alternative a question offers obeys the same policy.

Each case is one the policy review found (issue 16): a write that raises privilege ran with no one asked, and
"ban instead" was offered (and ran) where the operator's lists refused `ban_user`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from mcp.client import Client
from mcp_types import ElicitResult

from clerk_mcp.operations import OPERATIONS
from clerk_mcp.server import build_server
from clerk_mcp.settings import load_settings
from conftest import APPROVE, SECRET_KEY, Sandbox, answering, text_of
from test_policy import run_cli
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"
MALLORY = "user_IrLs6FgSaYG8lG0w1C4pDk1xHZy"  # banned in the demo data
NEW_ADMIN = {
    "email_address": ["new.admin@example.com"], "email_address_identification_status": ["verified"],
    "password": "A-chosen-pass-w0rd!", "public_metadata": {"role": "admin"},
}


class Asked:
    """An elicitation callback that records each question and its form, and answers as told."""

    def __init__(self, action: str = "decline", content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content
        self.questions: list[str] = []
        self.forms: list[dict[str, Any]] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        self.questions.append(params.message)
        self.forms.append(params.requested_schema)
        return ElicitResult(action=self.action, content=self.content)


async def call(server: Any, tool: str, arguments: dict[str, Any], asked: Asked | None = None, mode: str = "auto") -> Any:
    async with Client(server, mode=mode, elicitation_callback=asked or answering("decline")) as client:
        return await client.call_tool(tool, arguments)


# --- privileged metadata keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_creating_an_admin_with_a_verified_email_and_a_chosen_password_asks_first(sandbox: Sandbox, mode: str):
    await sandbox.clear_log()
    asked = Asked("decline")
    result = await call(sandbox.server(), "create_user", NEW_ADMIN, asked, mode)
    assert result.is_error and payload(result)["decision"] == "declined"
    [question] = asked.questions
    assert 'public_metadata.role = "admin"' in question and "Create user?" in question
    assert "A-chosen-pass-w0rd!" not in question  # the key and value asked about, never the password
    assert await sandbox.writes() == []


async def test_an_approved_privileged_write_runs_once(sandbox: Sandbox):
    await sandbox.clear_log()
    asked = Asked("accept", APPROVE)
    result = await call(sandbox.server(), "create_user", NEW_ADMIN, asked)
    assert not result.is_error, text_of(result)
    assert result.structured_content["public_metadata"] == {"role": "admin"}
    assert await sandbox.writes() == [("POST", "/v1/users")] and len(asked.questions) == 1


async def test_making_a_banned_user_an_admin_through_metadata_asks_first(sandbox: Sandbox):
    await sandbox.clear_log()
    asked = Asked("decline")
    result = await call(sandbox.server(), "update_user_metadata", {"user_id": MALLORY, "public_metadata": {"role": "admin"}}, asked)
    assert result.is_error and payload(result)["decision"] == "declined"
    [question] = asked.questions
    assert MALLORY in question and "[banned]" in question and 'public_metadata.role = "admin"' in question
    assert await sandbox.writes() == []


@pytest.mark.parametrize(
    ("metadata", "shown"),
    [
        ({"public_metadata": {"org": {"Role": "owner"}}}, 'public_metadata.org.Role = "owner"'),  # any depth, any case
        ({"unsafe_metadata": {"grants": [{"permissions": ["billing:*"]}]}}, 'unsafe_metadata.grants[0].permissions = ["billing:*"]'),
        ({"public_metadata": {"is_admin": True}}, "public_metadata.is_admin = true"),
        ({"public_metadata": {"roles": None}}, "public_metadata.roles deleted"),  # null deletes: still a change
        ({"private_metadata": {"admin": "yes"}}, "private_metadata.admin (new value hidden)"),
    ],
)  # fmt: skip
async def test_privileged_keys_ask_in_every_metadata_field_at_any_depth(sandbox: Sandbox, metadata, shown):
    await sandbox.clear_log()
    asked = Asked("decline")
    result = await call(sandbox.server(), "update_user_metadata", {"user_id": JANE, **metadata}, asked)
    assert result.is_error and len(asked.questions) == 1
    assert shown in asked.questions[0]
    if "hidden" in shown:
        assert '"yes"' not in asked.questions[0]  # a private_metadata value is kept out of the question
    assert await sandbox.writes() == []


@pytest.mark.parametrize("key", ["isAdmin", "is-admin", "IS_ADMIN", "Is_Admin"])
async def test_privileged_keys_match_whatever_their_case_underscores_or_hyphens(sandbox: Sandbox, key: str):
    asked = Asked("decline")
    result = await call(sandbox.server(), "update_user_metadata", {"user_id": JANE, "public_metadata": {key: True}}, asked)
    assert result.is_error and f"public_metadata.{key} = true" in asked.questions[0]


@pytest.mark.parametrize(
    ("before", "write", "shown"),
    [
        # A null on the parent deletes the privileged key inside it.
        ({"acl": {"role": "suspended"}}, {"acl": None}, "public_metadata.acl.role deleted"),
        # A list is replaced whole: the role object in it goes.
        ({"grants": [{"role": "restricted"}]}, {"grants": []}, "public_metadata.grants[0].role deleted"),
        # A scalar over an object replaces it, privileged keys and all.
        ({"org": {"permissions": ["read"]}}, {"org": "none"}, "public_metadata.org.permissions deleted"),
    ],
)  # fmt: skip
async def test_removing_what_holds_a_privileged_key_asks_too(sandbox: Sandbox, before, write, shown):
    async with sandbox.http() as http:
        (await http.patch(f"/v1/users/{JANE}/metadata", json={"public_metadata": before})).raise_for_status()
    await sandbox.clear_log()
    asked = Asked("decline")
    result = await call(sandbox.server(), "update_user_metadata", {"user_id": JANE, "public_metadata": write}, asked)
    assert result.is_error and len(asked.questions) == 1 and shown in asked.questions[0], asked.questions
    assert await sandbox.writes() == []
    # Merging beside it is still an ordinary write.
    sibling = await call(sandbox.server(), "update_user_metadata", {"user_id": JANE, "public_metadata": {"acl2": 1}}, Asked())
    assert not sibling.is_error


async def test_the_question_shows_every_argument_the_call_sends(sandbox: Sandbox):
    asked = Asked("decline")
    await call(sandbox.server(), "create_user", {**NEW_ADMIN, "first_name": "Newt", "username": "newt"}, asked)
    question = asked.questions[0]
    assert 'first_name = "Newt"' in question and 'username = "newt"' in question
    assert 'email_address = ["new.admin@example.com"]' in question and "password (new value hidden)" in question
    assert "A-chosen-pass-w0rd!" not in question


async def test_ordinary_metadata_writes_still_run_without_a_question(sandbox: Sandbox):
    asked = Asked("decline")
    result = await call(sandbox.server(), "update_user_metadata", {"user_id": JANE, "public_metadata": {"plan": "pro", "role_hint": "x"}}, asked)
    assert not result.is_error and asked.questions == []
    assert result.structured_content["public_metadata"]["plan"] == "pro"


async def test_the_operator_replaces_the_list_with_names_and_globs(sandbox: Sandbox):
    server = sandbox.server(privileged_metadata_keys=["tier", "acl.*"])
    asked = Asked("decline")
    assert not (await call(server, "update_user_metadata", {"user_id": JANE, "public_metadata": {"role": "admin"}}, asked)).is_error
    assert asked.questions == []  # role is no longer on the operator's list
    for metadata, shown in (({"tier": "gold"}, 'public_metadata.tier = "gold"'), ({"acl": {"write": True}}, "public_metadata.acl.write = true")):
        result = await call(server, "update_user_metadata", {"user_id": JANE, "public_metadata": metadata}, asked)
        assert result.is_error and shown in asked.questions[-1]


async def test_the_policy_file_can_turn_the_list_off(sandbox: Sandbox, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("privileged_metadata_keys = []\n")
    settings = load_settings(secret_key=SECRET_KEY, api_url="http://sandbox.test", policy_file=policy)
    asked = Asked("decline")
    result = await call(build_server(settings, transport=sandbox.transport), "update_user_metadata", {"user_id": JANE, "public_metadata": {"role": "admin"}}, asked)
    assert not result.is_error and asked.questions == []


async def test_a_dry_run_shows_the_privileged_keys_it_would_ask_about(sandbox: Sandbox):
    await sandbox.clear_log()
    result = await call(sandbox.server(), "create_user", {**NEW_ADMIN, "dry_run": True})
    preview = result.structured_content
    assert preview["decision"] == "confirm" and 'public_metadata.role = "admin"' in preview["confirmation"]
    assert await sandbox.writes() == []


# --- passwords chosen in create_user --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["password", "password_digest"])
async def test_create_user_with_a_chosen_password_asks_only_when_the_operator_turns_it_on(sandbox: Sandbox, field: str):
    secret = "An0ther-chosen-pass!" if field == "password" else "$2a$10$" + "a" * 53
    extra = {"password_hasher": "bcrypt"} if field == "password_digest" else {}
    arguments = {"email_address": [f"{field}@example.com"], field: secret, **extra}
    asked = Asked("decline")
    result = await call(sandbox.server(confirm_passwords=True), "create_user", arguments, asked)
    assert result.is_error and len(asked.questions) == 1
    assert f"{field} (new value hidden)" in asked.questions[0] and secret not in asked.questions[0]
    off = await call(sandbox.server(), "create_user", arguments, Asked("decline"))
    assert not off.is_error, text_of(off)


# --- unban_user -----------------------------------------------------------------------------------------------------


async def test_lifting_a_ban_asks_and_says_it_undoes_one(sandbox: Sandbox):
    await sandbox.clear_log()
    asked = Asked("decline")
    result = await call(sandbox.server(), "unban_user", {"user_id": MALLORY}, asked)
    assert result.is_error and payload(result)["decision"] == "declined"
    assert "undoing a ban that a human confirmed" in asked.questions[0] and "[banned]" in asked.questions[0]
    assert await sandbox.writes() == []


# --- the alternative obeys the policy -------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"deny_tools": ["ban_user"]}, {"tools": ["delete_user", "get_user"]}], ids=["denied", "not-allowed"])
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_ban_instead_is_not_offered_when_the_policy_refuses_ban_user(sandbox: Sandbox, settings, mode):
    await sandbox.clear_log()
    # Even a client that ticks the box anyway gets the question it was asked: delete, or nothing.
    asked = Asked("accept", {"approve": True, "instead": True})
    result = await call(sandbox.server(**settings), "delete_user", {"user_id": JANE}, asked, mode)
    [question], [form] = asked.questions, asked.forms
    assert "instead" not in question and "instead" not in form.get("properties", {})
    assert not result.is_error and result.structured_content["deleted"] is True
    assert await sandbox.writes() == [("DELETE", f"/v1/users/{JANE}")]


async def test_ban_instead_is_offered_and_runs_when_the_policy_allows_ban_user(sandbox: Sandbox):
    await sandbox.clear_log()
    asked = Asked("accept", {"approve": True, "instead": True})
    result = await call(sandbox.server(), "delete_user", {"user_id": JANE}, asked)
    assert "instead" in asked.forms[0]["properties"] and "Or tick 'instead' to ban user" in asked.questions[0]
    assert not result.is_error and result.structured_content["banned"] is True
    assert await sandbox.writes() == [("POST", f"/v1/users/{JANE}/ban")]


# --- the rules are shown --------------------------------------------------------------------------------------------


async def test_clerk_status_shows_the_escalation_rules_and_where_state_is_kept(sandbox: Sandbox):
    result = await call(sandbox.server(privileged_metadata_keys=["role", "acl.*"], confirm_passwords=True), "clerk_status", {})
    status = result.structured_content
    assert status["privileged_metadata_keys"] == ["role", "acl.*"] and status["confirm_passwords"] is True
    assert "local store" in status["state"] and "state.sqlite3" in status["state"]
    rules = {row["tool"]: row["rule"] for row in status["tools"]}
    assert rules["unban_user"] == "confirm (raises privilege)"
    assert rules["update_user_metadata"] == "allowed; confirm when writing metadata keys role, acl.*"
    assert rules["create_user"].startswith("allowed; confirm when touching password, password_digest; or writing metadata keys")
    metadata_tools = {op.name for op in OPERATIONS if op.metadata_fields}
    assert {"create_user", "update_user_metadata", "replace_user_metadata"} == metadata_tools  # replace too (profile toolset)
    assert all("metadata keys" in rules[name] for name in metadata_tools)


def test_clerk_mcp_policy_shows_the_escalation_rules():
    proc = run_cli("policy", "--privileged-metadata-keys", "tier,acl.*", "--confirm-passwords")
    assert proc.returncode == 0, proc.stderr
    assert "privileged metadata keys: tier, acl.*" in proc.stdout
    assert "passwords chosen in create_user: confirm" in proc.stdout
    assert re.search(r"^unban_user\s+write\s+confirm \(raises privilege\)$", proc.stdout, re.M)
    # A real key: every clerk-mcp process on this machine shares the store in the state directory.
    assert f"kept in: local store {os.environ['XDG_STATE_HOME']}/clerk-mcp/state.sqlite3" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith("create_user "))
    assert "password, password_digest" in row and "tier, acl.*" in row
    assert json.dumps("A-chosen-pass-w0rd!") not in proc.stdout


async def test_a_privileged_metadata_write_reads_the_user_once_for_the_policy_and_the_question(sandbox: Sandbox):
    """One read per round (the 2026-07-28 protocol runs the call again with the answer, and reads again then)."""
    await sandbox.clear_log()
    asked = Asked("accept", APPROVE)
    result = await call(
        sandbox.server(), "update_user_metadata", {"user_id": JANE, "public_metadata": {"role": "admin"}}, asked, "legacy"
    )
    assert not result.is_error and len(asked.questions) == 1
    assert await sandbox.sent() == [("GET", f"/v1/users/{JANE}"), ("PATCH", f"/v1/users/{JANE}/metadata")]
