"""Human confirmation through MCP elicitation, on both protocol generations, against the sandbox emulator.

Every test asserts through the emulator's request log (`GET /_sandbox/requests`) what reached the
backend — above all, that a declined, cancelled, refused, replayed, forged or crossed approval sent
nothing that changes a user. `mode="legacy"` speaks the stateful protocol (elicitation/create
mid-call); `mode="auto"` negotiates 2026-07-28 (InputRequiredResult + request_state), whose loop the
adversarial tests drive by hand through `client.session.call_tool(..., allow_input_required=True)`.
"""

from __future__ import annotations

import hashlib
import json

import anyio
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ElicitResult, ErrorData, InputRequiredResult

from clerk_mcp.operations import BY_NAME, OPERATIONS
from clerk_mcp.sandbox.fixtures import default_seed

from conftest import APPROVE, Sandbox, answering, text_of
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

MODES = ["legacy", "auto"]
# The users toolset's (the other toolsets' confirmations are tested beside them, e.g. test_identifiers_billing.py).
CONFIRM_TOOLS = [op for op in OPERATIONS if op.always_asks and op.toolset == "users"]
ACCEPT = ElicitResult(action="accept", content=APPROVE)


def primary_email(user: dict) -> str:
    return next(e["email_address"] for e in user["email_addresses"] if e["id"] == user["primary_email_address_id"])


async def target(sandbox: Sandbox, index: int = 0) -> dict:
    """A seeded, unbanned user with a name and a primary email; the log is cleared after looking it up."""
    users = [u for u in await sandbox.users() if not u["banned"] and u["first_name"] and u["primary_email_address_id"]]
    await sandbox.clear_log()
    return users[index]


# A seeded session of each seeded user that has one (clerk_mcp/sandbox/seed.json).
SEED_SESSIONS = {user["id"]: user["sessions"][0]["id"] for user in default_seed()["users"] if user.get("sessions")}


def confirm_args(op, user_id: str) -> dict:
    """The required arguments aimed at the user: their id, a list of it, or a session of theirs; another id is made
    up (the backend's answer to it does not matter here)."""
    known = {"user_id": user_id, "user_ids": [user_id], "provider": "oauth_google", "session_id": SEED_SESSIONS.get(user_id)}
    return {name: known.get(name) or f"{name}_1" for name, field in op.args.model_fields.items() if field.is_required()}


def test_the_confirm_rule_covers_destructive_secret_and_privilege_raising_tools():
    assert {op.effect.value for op in CONFIRM_TOOLS if not op.raises_privilege} == {"destructive", "secret"}
    assert [op.name for op in CONFIRM_TOOLS if op.raises_privilege and op.toolset == "users"] == ["unban_user"]
    assert len([op for op in CONFIRM_TOOLS if op.toolset == "users"]) == 5


@pytest.mark.parametrize("mode", MODES)
async def test_accept_sends_the_request_once_and_names_the_target(sandbox: Sandbox, mode):
    user = await target(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("accept", APPROVE, asked)) as client:
        result = await client.call_tool("delete_user", {"user_id": user["id"]})
    assert not result.is_error, text_of(result)
    assert result.structured_content["deleted"] is True and result.structured_content["id"] == user["id"]
    assert await sandbox.writes() == [("DELETE", f"/v1/users/{user['id']}")]
    # The human was asked once, about this user, with what will happen.
    assert len(asked) == 1
    question = asked[0]
    assert user["id"] in question and user["first_name"] in question and primary_email(user) in question
    assert BY_NAME["delete_user"].consequence in question
    assert (await sandbox.get_user(user["id"])).status_code == 404


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", CONFIRM_TOOLS, ids=lambda op: op.name)
async def test_every_confirm_tool_asks_and_runs_once_on_accept(sandbox: Sandbox, mode, op):
    user = await target(sandbox, 1)
    asked: list[str] = []
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("accept", APPROVE, asked)) as client:
        await client.call_tool(op.name, confirm_args(op, user["id"]))
    assert len(asked) == 1 and user["id"] in asked[0] and op.consequence in asked[0]
    # Whatever the backend answered, the operation itself reached it exactly once.
    sent = await sandbox.sent()
    assert sent.count((op.method, "/v1" + op.path.format(**confirm_args(op, user["id"])))) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("action", "word"), [("decline", "declined"), ("cancel", "cancelled")])
@pytest.mark.parametrize("op", CONFIRM_TOOLS, ids=lambda op: op.name)
async def test_decline_and_cancel_send_nothing(sandbox: Sandbox, mode, action, word, op):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering(action)) as client:
        result = await client.call_tool(op.name, confirm_args(op, user["id"]))
    assert result.is_error
    assert word in text_of(result) and "nothing was sent" in text_of(result)
    assert payload(result)["decision"] == word
    assert await sandbox.writes() == []
    assert all(method == "GET" for method, _ in await sandbox.sent())  # only the re-fetch


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", CONFIRM_TOOLS, ids=lambda op: op.name)
async def test_client_without_elicitation_is_refused_before_anything_is_sent(sandbox: Sandbox, mode, op):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode=mode) as client:
        result = await client.call_tool(op.name, confirm_args(op, user["id"]))
    assert result.is_error
    text = text_of(result)
    assert "cannot ask for it" in text and "--confirm approve" in text  # why, and how an operator can allow it
    assert await sandbox.sent() == []


WRONG_SHAPES = [{"approve": "yes"}, {"approve": "true"}, {"approve": 1}, {}, {"approve": False}, {"yes": True}, None]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("content", WRONG_SHAPES, ids=repr)
async def test_wrongly_shaped_answer_is_a_decline(sandbox: Sandbox, mode, content):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("accept", content)) as client:
        result = await client.call_tool("ban_user", {"user_id": user["id"]})
    assert result.is_error
    assert "declined" in text_of(result) and "nothing was sent" in text_of(result), text_of(result)
    assert await sandbox.writes() == []
    assert (await sandbox.get_user(user["id"])).json()["banned"] is False


async def _client_error(context, params):
    return ErrorData(code=-32603, message="the dialog crashed")


async def _client_raises(context, params):
    raise RuntimeError("elicitation handler failed")


@pytest.mark.parametrize("callback", [_client_error, _client_raises], ids=["error-response", "raising-callback"])
async def test_failed_elicitation_is_a_refusal_and_sends_nothing(sandbox: Sandbox, callback, tmp_path):
    user = await target(sandbox)
    audit = tmp_path / "audit.jsonl"
    async with Client(sandbox.server(audit_log=audit), mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("delete_user", {"user_id": user["id"]})
    assert result.is_error
    assert "nothing was sent" in text_of(result)
    assert payload(result)["decision"] == "refused"
    assert await sandbox.writes() == []
    assert [json.loads(line)["decision"] for line in audit.read_text().splitlines()] == ["refused"]


@pytest.mark.parametrize("mode", MODES)
async def test_confirmation_argument_cannot_approve(sandbox: Sandbox, mode):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode=mode) as client:
        for name in ("confirm", "confirmed", "force", "approval", "approve"):
            for value in (True, "yes", {"approve": True}):
                result = await client.call_tool("delete_user", {"user_id": user["id"], name: value})
                assert result.is_error and f"{name}: unknown argument" in text_of(result)
    assert await sandbox.sent() == []


# --- the 2026-07-28 loop, driven by hand ------------------------------------------------------------------------


async def first_round(client: Client, tool: str, arguments: dict) -> InputRequiredResult:
    result = await client.session.call_tool(tool, arguments, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    assert set(result.input_requests) == {"confirm"}
    return result


async def answer(client: Client, tool: str, arguments: dict, state: str | None, response: ElicitResult | None = ACCEPT):
    return await client.session.call_tool(
        tool,
        arguments,
        allow_input_required=True,
        input_responses={"confirm": response} if response is not None else None,
        request_state=state,
    )


async def never_called(context, params):  # advertises the capability; the tests answer by hand
    raise AssertionError("the manual loop answers itself")


async def test_input_required_round_trip(sandbox: Sandbox):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        args = {"user_id": user["id"]}
        pending = await first_round(client, "ban_user", args)
        assert user["id"] in pending.input_requests["confirm"].params.message
        assert await sandbox.writes() == []  # asking sends nothing
        result = await answer(client, "ban_user", args, pending.request_state)
    assert isinstance(result, CallToolResult) and not result.is_error
    assert result.structured_content["banned"] is True
    assert await sandbox.writes() == [("POST", f"/v1/users/{user['id']}/ban")]


async def test_replayed_request_state_is_refused(sandbox: Sandbox):
    """Same call, same state, same accepted answer: the approval was spent by the first run."""
    user = await target(sandbox)
    tokens_path = f"/v1/users/{user['id']}/oauth_access_tokens/oauth_google"
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        args = {"user_id": user["id"], "provider": "oauth_google"}
        pending = await first_round(client, "get_o_auth_access_token", args)
        first = await answer(client, "get_o_auth_access_token", args, pending.request_state)
        assert isinstance(first, CallToolResult)
        assert (await sandbox.sent()).count(("GET", tokens_path)) == 1
        replay = await answer(client, "get_o_auth_access_token", args, pending.request_state)
    assert isinstance(replay, CallToolResult) and replay.is_error
    assert "already used" in text_of(replay) and "nothing was sent" in text_of(replay)
    assert payload(replay)["decision"] == "replayed"
    assert (await sandbox.sent()).count(("GET", tokens_path)) == 1


async def test_replay_after_the_target_changed_asks_again(sandbox: Sandbox):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        args = {"user_id": user["id"]}
        pending = await first_round(client, "ban_user", args)
        assert not (await answer(client, "ban_user", args, pending.request_state)).is_error
        replay = await answer(client, "ban_user", args, pending.request_state)
    # The user is banned now, so the question differs: the old answer approves nothing, a new one is needed.
    assert isinstance(replay, InputRequiredResult)
    assert "banned" in replay.input_requests["confirm"].params.message
    assert await sandbox.writes() == [("POST", f"/v1/users/{user['id']}/ban")]


async def test_state_for_user_a_cannot_approve_user_b(sandbox: Sandbox):
    a, b = await target(sandbox, 0), await target(sandbox, 1)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        pending_a = await first_round(client, "delete_user", {"user_id": a["id"]})
        with pytest.raises(MCPError, match="requestState"):
            await answer(client, "delete_user", {"user_id": b["id"]}, pending_a.request_state)
        # Nor can it approve a different tool on the same user.
        with pytest.raises(MCPError, match="requestState"):
            await answer(client, "disable_mfa", {"user_id": a["id"]}, pending_a.request_state)
    assert await sandbox.writes() == []
    assert (await sandbox.get_user(a["id"])).status_code == 200
    assert (await sandbox.get_user(b["id"])).status_code == 200


async def test_forged_input_responses_without_state_just_ask_again(sandbox: Sandbox):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        result = await answer(client, "delete_user", {"user_id": user["id"]}, None)
    assert isinstance(result, InputRequiredResult)
    assert await sandbox.writes() == []


async def test_forged_request_state_is_rejected(sandbox: Sandbox):
    """A state the model computed itself — right nonce shape, right question digest — approves nothing."""
    user = await target(sandbox)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        args = {"user_id": user["id"]}
        pending = await first_round(client, "delete_user", args)
        message = pending.input_requests["confirm"].params.message
        forged = json.dumps({"nonce": "forged-nonce", "q": hashlib.sha256(message.encode()).hexdigest()[:32]})
        for state in (forged, pending.request_state[:-4] + "AAAA", "garbage"):
            with pytest.raises(MCPError, match="requestState"):
                await answer(client, "delete_user", args, state)
    assert await sandbox.writes() == []


@pytest.mark.parametrize("response", [ElicitResult(action="decline"), ElicitResult(action="cancel"), ElicitResult(action="accept", content={"approve": "yes"})])
async def test_input_required_decline_cancel_and_wrong_shape(sandbox: Sandbox, response):
    user = await target(sandbox)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        args = {"user_id": user["id"]}
        pending = await first_round(client, "disable_mfa", args)
        result = await answer(client, "disable_mfa", args, pending.request_state, response)
        # A declined state cannot be turned into an approval afterwards either.
        again = await answer(client, "disable_mfa", args, pending.request_state, ACCEPT)
    assert result.is_error and "nothing was sent" in text_of(result)
    assert again.is_error and "already used" in text_of(again)
    assert await sandbox.writes() == []


async def test_concurrent_pending_confirmations_never_cross_input_required(sandbox: Sandbox):
    a, b = await target(sandbox, 0), await target(sandbox, 1)
    async with Client(sandbox.server(), mode="auto", elicitation_callback=never_called) as client:
        pa = await first_round(client, "ban_user", {"user_id": a["id"]})
        pb = await first_round(client, "ban_user", {"user_id": b["id"]})
        assert pa.request_state != pb.request_state
        with pytest.raises(MCPError):
            await answer(client, "ban_user", {"user_id": b["id"]}, pa.request_state)
        assert await sandbox.writes() == []
        rb = await answer(client, "ban_user", {"user_id": b["id"]}, pb.request_state)
        assert not rb.is_error and rb.structured_content["id"] == b["id"]
        assert await sandbox.writes() == [("POST", f"/v1/users/{b['id']}/ban")]
        ra = await answer(client, "ban_user", {"user_id": a["id"]}, pa.request_state)
        assert not ra.is_error and ra.structured_content["id"] == a["id"]
    assert await sandbox.writes() == [("POST", f"/v1/users/{b['id']}/ban"), ("POST", f"/v1/users/{a['id']}/ban")]


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_pending_confirmations_never_cross(sandbox: Sandbox, mode):
    """Two calls wait for the human at once; the human approves only A's. Only A is banned."""
    a, b = await target(sandbox, 0), await target(sandbox, 1)
    both_asked = anyio.Event()
    asked: list[str] = []

    async def human(context, params):
        asked.append(params.message)
        if len(asked) == 2:
            both_asked.set()
        with anyio.fail_after(5):
            await both_asked.wait()
        if a["id"] in params.message:
            return ElicitResult(action="accept", content=APPROVE)
        return ElicitResult(action="decline")

    results = {}
    async with Client(sandbox.server(), mode=mode, elicitation_callback=human) as client:

        async def call(user):
            results[user["id"]] = await client.call_tool("ban_user", {"user_id": user["id"]})

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, b)
            tg.start_soon(call, a)
    assert not results[a["id"]].is_error and results[a["id"]].structured_content["id"] == a["id"]
    assert results[b["id"]].is_error and "declined" in text_of(results[b["id"]])
    assert await sandbox.writes() == [("POST", f"/v1/users/{a['id']}/ban")]


# --- update_user: confirmation only when credentials or identity change -----------------------------------------

IDENTITY_FIELDS = {
    "password": "a-Long-enough-passw0rd!",
    "skip_password_checks": True,
    "sign_out_of_other_sessions": True,
    "totp_secret": "JBSWY3DPEHPK3PXP",
    "backup_codes": ["12345678"],
    "primary_email_address_id": "idn_x",
    "primary_phone_number_id": "idn_y",
    "primary_web3_wallet_id": "idn_z",
    "username": "new_name",
    "external_id": "ext-1",
}


def test_update_user_confirm_fields_cover_credentials_and_identity():
    assert set(IDENTITY_FIELDS) <= BY_NAME["update_user"].confirm_fields


@pytest.mark.parametrize("mode", MODES)
async def test_update_user_profile_change_does_not_ask(sandbox: Sandbox, mode):
    user = await target(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("decline", None, asked)) as client:
        result = await client.call_tool("update_user", {"user_id": user["id"], "first_name": "Renamed"})
    assert not result.is_error, text_of(result)
    assert asked == []
    assert result.structured_content["first_name"] == "Renamed"
    assert await sandbox.writes() == [("PATCH", f"/v1/users/{user['id']}")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("field", sorted(IDENTITY_FIELDS))
async def test_update_user_identity_change_asks_and_decline_sends_nothing(sandbox: Sandbox, mode, field):
    user = await target(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("decline", None, asked)) as client:
        result = await client.call_tool("update_user", {"user_id": user["id"], "first_name": "X", field: IDENTITY_FIELDS[field]})
    assert result.is_error and "declined" in text_of(result)
    assert len(asked) == 1 and field in asked[0] and user["id"] in asked[0]
    if field in ("password", "totp_secret"):
        assert IDENTITY_FIELDS[field] not in asked[0]  # the question names the field, never a secret value
    assert await sandbox.writes() == []


@pytest.mark.parametrize("mode", MODES)
async def test_update_user_password_change_runs_once_on_accept(sandbox: Sandbox, mode):
    user = await target(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(), mode=mode, elicitation_callback=answering("accept", APPROVE, asked)) as client:
        result = await client.call_tool("update_user", {"user_id": user["id"], "password": IDENTITY_FIELDS["password"]})
    assert not result.is_error, text_of(result)
    assert len(asked) == 1 and IDENTITY_FIELDS["password"] not in asked[0]
    assert await sandbox.writes() == [("PATCH", f"/v1/users/{user['id']}")]


# --- operator confirmation modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_confirm_deny_refuses_without_asking_or_sending(sandbox: Sandbox, mode):
    user = await target(sandbox)
    asked: list[str] = []
    async with Client(sandbox.server(confirm="deny"), mode=mode, elicitation_callback=answering("accept", APPROVE, asked)) as client:
        for op in CONFIRM_TOOLS:
            result = await client.call_tool(op.name, confirm_args(op, user["id"]))
            assert result.is_error and "confirm=deny" in text_of(result)
        update = await client.call_tool("update_user", {"user_id": user["id"], "username": "x_y"})
        assert update.is_error
        fine = await client.call_tool("update_user", {"user_id": user["id"], "first_name": "Still allowed"})
        assert not fine.is_error
    assert asked == []
    assert await sandbox.writes() == [("PATCH", f"/v1/users/{user['id']}")]


@pytest.mark.parametrize("mode", MODES)
async def test_confirm_approve_runs_without_asking_and_audits_pre_approved(sandbox: Sandbox, mode, tmp_path):
    user = await target(sandbox)
    audit = tmp_path / "audit.jsonl"
    asked: list[str] = []
    server = sandbox.server(confirm="approve", audit_log=audit)
    async with Client(server, mode=mode, elicitation_callback=answering("decline", None, asked)) as client:
        result = await client.call_tool("ban_user", {"user_id": user["id"]})
    assert not result.is_error and result.structured_content["banned"] is True
    assert asked == []
    assert await sandbox.writes() == [("POST", f"/v1/users/{user['id']}/ban")]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(l["tool"], l["decision"], l["outcome"], l["target"]) for l in lines] == [("ban_user", "pre-approved", "ok", user["id"])]


# --- path injection, seen from the backend ------------------------------------------------------------------------

HOSTILE_IDS = ["x/ban", "../users", "%2F", "", "u" * 10_240, "user_1?x=1", "..", "user_1%2F..%2Fban"]


@pytest.mark.parametrize("mode", MODES)
async def test_hostile_ids_reach_no_endpoint(sandbox: Sandbox, mode):
    user = await target(sandbox)
    async with Client(sandbox.server(confirm="approve", toolsets=["all"]), mode=mode) as client:
        for op in OPERATIONS:
            if "user_id" not in op.path_params:
                continue
            for bad in HOSTILE_IDS:
                arguments = {"user_id": bad, "password": "pw", "code": "1", "provider": "oauth_google",
                             "file_base64": "iVBORw0KGgo=", "filename": "a.png"}  # fmt: skip
                allowed = set(op.args.model_fields)
                result = await client.call_tool(op.name, {k: v for k, v in arguments.items() if k in allowed})
                assert result.is_error and "user_id" in text_of(result), (op.name, bad[:20])
            result = await client.call_tool(op.name, {"user_id": user["id"] + "/../" + user["id"]})
            assert result.is_error
    assert await sandbox.sent() == []
