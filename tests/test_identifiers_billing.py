"""Toolsets `identifiers` and `billing` through an MCP client against the sandbox: what runs alone, what asks a human
(and what the question says is lost), and what reached the backend (the emulator's request log)."""

from __future__ import annotations

import pytest
from mcp.client import Client

from clerk_mcp.operations import BY_NAME, Effect, toolset_operations

from conftest import APPROVE, Sandbox, answering, text_of
from clerk_mcp.views import payload

pytestmark = pytest.mark.anyio

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"
JOHN = "user_kx2WmTGuBqHejxt5sblIrbgmEkk"
SATOSHI = "user_DTYtRwOI44BkEALiYXthG3GDDpG"
JANE_GOOGLE = "eac_2nMQz9EuXX45IfKAP3knSfC5xbP"
SATOSHI_WALLET = "idn_rsvePd6FCK9RhGPBdyjrYW3qnC2"
TOOLSETS = ["identifiers", "billing"]


def test_taking_something_away_always_asks_a_human():
    """Deleting or replacing an identifier or account, and adjusting credit, are destructive: a human confirms, and
    the question says what is lost. Adding or changing a way into the account asks when it is verified, primary or a
    second factor."""
    ops = [*toolset_operations("identifiers"), *toolset_operations("billing")]
    destructive = {op.name for op in ops if op.effect is Effect.DESTRUCTIVE}
    assert destructive == {
        "delete_email_address", "replace_user_email_address", "delete_phone_number", "replace_user_phone_number",
        "user_web3_wallet_delete", "delete_external_account", "adjust_user_billing_credit_balance",
    }  # fmt: skip
    assert all(op.always_asks and op.consequence for op in ops if op.name in destructive)
    assert all(op.effect is Effect.READ for op in ops if op.name.startswith("get_"))
    for op in ops:
        if op.effect is Effect.WRITE:
            assert {"verified", "primary"} <= op.confirm_fields and op.consequence, op.name


async def test_an_unverified_address_is_added_without_asking(sandbox: Sandbox):
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="legacy") as client:  # no elicitation at all
        result = await client.call_tool("create_email_address", {"user_id": JANE, "email_address": "jane.alt@example.com"})
        assert not result.is_error, text_of(result)
        created = result.structured_content
        assert (created["email_address"], created["verification"]) == ("jane.alt@example.com", None)
        fetched = await client.call_tool("get_email_address", {"email_address_id": created["id"]})
    assert fetched.structured_content["id"] == created["id"]
    [post] = [e for e in await sandbox.log() if e["method"] == "POST"]
    assert (post["path"], post["body"]) == ("/v1/email_addresses", {"user_id": JANE, "email_address": "jane.alt@example.com"})


async def test_replacing_email_addresses_asks_and_decline_sends_nothing(sandbox: Sandbox):
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="legacy", elicitation_callback=answering("decline", asked=asked)) as client:
        result = await client.call_tool("replace_user_email_address", {"user_id": JOHN, "email_address": "x@example.com"})
    assert result.is_error and payload(result)["decision"] == "declined"
    assert JOHN in asked[0] and BY_NAME["replace_user_email_address"].consequence in asked[0]
    assert await sandbox.writes() == []


async def test_replacing_phone_numbers_says_what_is_lost_and_runs_once_approved(sandbox: Sandbox):
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="auto", elicitation_callback=answering("accept", APPROVE, asked)) as client:
        result = await client.call_tool("replace_user_phone_number", {"user_id": JOHN, "phone_number": "+15555550800"})
    assert not result.is_error, text_of(result)
    assert len(asked) == 1 and JOHN in asked[0] and "all their MFA is turned off" in asked[0]
    assert await sandbox.writes() == [("PUT", f"/v1/users/{JOHN}/phone_number")]
    john = (await sandbox.get_user(JOHN)).json()
    assert [p["phone_number"] for p in john["phone_numbers"]] == ["+15555550800"] and john["two_factor_enabled"] is False


async def test_clerk_refusing_to_delete_the_last_identification_reaches_the_model(sandbox: Sandbox):
    async with Client(sandbox.server(toolsets=TOOLSETS, confirm="approve"), mode="legacy") as client:
        result = await client.call_tool("user_web3_wallet_delete", {"user_id": SATOSHI, "web3_wallet_identification_id": SATOSHI_WALLET})
    assert result.is_error and "400 identification_deletion_failed" in text_of(result)
    assert (await sandbox.get_user(SATOSHI)).json()["primary_web3_wallet_id"] == SATOSHI_WALLET


async def test_unlinking_an_account_without_a_human_sends_nothing(sandbox: Sandbox):
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="legacy") as client:
        result = await client.call_tool("delete_external_account", {"user_id": JANE, "external_account_id": JANE_GOOGLE})
    assert result.is_error and "cannot ask for it" in text_of(result)
    assert await sandbox.writes() == []


async def test_a_credit_adjustment_asks_previews_and_applies_once_per_key(sandbox: Sandbox):
    adjustment = {"user_id": JANE, "amount": 1500, "action": "decrease", "idempotency_key": "ticket-7", "note": "duplicate refund"}
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="legacy", elicitation_callback=answering("accept", APPROVE, asked)) as client:
        preview = await client.call_tool("adjust_user_billing_credit_balance", {**adjustment, "dry_run": True})
        assert preview.structured_content["dry_run"] is True and await sandbox.writes() == []
        first = await client.call_tool("adjust_user_billing_credit_balance", adjustment)
        again = await client.call_tool("adjust_user_billing_credit_balance", adjustment)
        balance = await client.call_tool("get_user_billing_credit_balance", {"user_id": JANE})
        subscription = await client.call_tool("get_user_billing_subscription", {"user_id": JANE})
    assert not first.is_error, text_of(first)
    assert first.structured_content["amount"]["amount"] == -1500 and again.structured_content["id"] == first.structured_content["id"]
    assert len(asked) == 2 and "takes credit away" in asked[0] and JANE in asked[0]
    assert balance.structured_content["balance"]["amount"] == 1000  # 2500 seeded, taken once
    assert subscription.structured_content["status"] == "active"


async def test_a_verified_address_asks_about_the_user_in_the_body(sandbox: Sandbox):
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="legacy", elicitation_callback=answering("decline", asked=asked)) as client:
        result = await client.call_tool("create_email_address", {"user_id": JANE, "email_address": "x@example.com", "verified": True})
    assert result.is_error and payload(result)["decision"] == "declined"
    assert len(asked) == 1 and JANE in asked[0] and BY_NAME["create_email_address"].consequence in asked[0]
    assert await sandbox.writes() == []


@pytest.mark.parametrize(("tool", "argument", "identification"), [
    ("delete_email_address", "email_address_id", "idn_SsYwEV6hlpkR1Y64upheMwaW2RG"),  # john@example.com
    ("delete_phone_number", "phone_number_id", "idn_KBErsHWd89isZ5uRIUqxTVexym7"),  # his SMS second factor
])
async def test_deleting_by_an_identifications_id_names_its_owner(sandbox: Sandbox, tool: str, argument: str, identification: str):
    """An email address or phone number names no user: the question finds the one holding it, and says what goes."""
    asked: list[str] = []
    async with Client(sandbox.server(toolsets=TOOLSETS), mode="auto", elicitation_callback=answering("accept", APPROVE, asked)) as client:
        preview = await client.call_tool(tool, {argument: identification, "dry_run": True})
        assert JOHN in preview.structured_content["confirmation"]
        result = await client.call_tool(tool, {argument: identification})
    assert not result.is_error, text_of(result)
    assert len(asked) == 1 and JOHN in asked[0] and "John" in asked[0] and BY_NAME[tool].consequence in asked[0]
    assert await sandbox.writes() == [("DELETE", "/v1" + BY_NAME[tool].path.format(**{argument: identification}))]
