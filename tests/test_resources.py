"""Resources: `clerk://users/{user_id}` through get_user's call path (redaction, policy, errors) and the sandbox seed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings
from clerk_mcp.views import unfence
from conftest import USER_ID, FakeClerk, make_server

pytestmark = pytest.mark.anyio

USER_URI = f"clerk://users/{USER_ID}"


async def read(server: Any, uri: str) -> Any:
    async with Client(server) as client:
        [content] = (await client.read_resource(uri)).contents
    return content


async def test_the_user_template_is_listed_and_nothing_sandbox_only_is() -> None:
    async with Client(make_server(FakeClerk())) as client:
        [template] = (await client.list_resource_templates()).resource_templates
        static = (await client.list_resources()).resources
    assert (template.uri_template, template.mime_type) == ("clerk://users/{user_id}", "text/plain")
    assert static == []


async def test_a_user_reads_as_get_user_returns_it_without_private_metadata(clerk: FakeClerk) -> None:
    content = await read(make_server(clerk), USER_URI)
    user = json.loads(unfence(content.text))
    assert user["id"] == USER_ID and user["email_addresses"][0]["email_address"] == "jane@example.com"
    assert "private_metadata" not in user and "PRIVATE-VALUE" not in content.text
    assert clerk.sent == [("GET", f"/v1/users/{USER_ID}")]


async def test_private_metadata_only_when_the_operator_exposes_it(clerk: FakeClerk) -> None:
    content = await read(make_server(clerk, expose_private_metadata=True), USER_URI)
    assert json.loads(unfence(content.text))["private_metadata"] == {"internal_note": "PRIVATE-VALUE"}


async def test_clerk_errors_reach_the_client_as_one_line(clerk: FakeClerk) -> None:
    body = {"errors": [{"message": "User not found", "long_message": "No user", "code": "resource_not_found"}]}
    clerk.override("GET", f"/v1/users/{USER_ID}", httpx.Response(404, json=body))
    async with Client(make_server(clerk)) as client:
        with pytest.raises(MCPError, match="^404 resource_not_found: No user$"):
            await client.read_resource(USER_URI)


@pytest.mark.parametrize("user_id", ["x%2F..%2Fban", "..", "user_1%3Fbanned%3Dtrue"])
async def test_ids_that_could_reach_another_endpoint_are_refused_before_any_request(clerk: FakeClerk, user_id: str) -> None:
    async with Client(make_server(clerk)) as client:
        with pytest.raises(MCPError):
            await client.read_resource(f"clerk://users/{user_id}")
    assert clerk.sent == []


async def test_no_user_resource_when_the_operator_hides_get_user() -> None:
    async with Client(make_server(FakeClerk(), deny_tools=["get_user"])) as client:
        assert (await client.list_resource_templates()).resource_templates == []


async def test_the_sandbox_describes_its_seed_data() -> None:
    server = build_server(Settings.model_validate({"secret_key": None}))
    async with Client(server) as client:
        [seed] = (await client.list_resources()).resources
        [content] = (await client.read_resource(str(seed.uri))).contents
        jane = json.loads(unfence((await client.read_resource("clerk://users/user_JnyMoEDIHnLlPdefJCJWoqY4enl")).contents[0].text))
    assert (str(seed.uri), seed.mime_type) == ("clerk://sandbox/seed", "text/markdown")
    assert "jane@example.com" in content.text
    assert jane["first_name"] == "Jane"
