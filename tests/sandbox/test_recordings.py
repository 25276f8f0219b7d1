"""Clerk's recorded responses (tests/recordings/) through the MCP tools, and the sandbox's shapes against them.

A stand-in Clerk (httpx.MockTransport) answers the recorded request with the recorded body; the tool's result
must not be an error and its structured content must validate against the tool's published outputSchema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from mcp.client import Client
from starlette.testclient import TestClient

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

from .support import JANE, spec

RECORDINGS = sorted((Path(__file__).resolve().parents[1] / "recordings").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.anyio
@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
async def test_a_recorded_response_through_its_tool(path: Path) -> None:
    recording = _load(path)
    assert {"repo", "path", "commit"} <= set(recording["source"]) and recording["licence"].startswith("MIT")
    requests: list[httpx.Request] = []

    def clerk(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(recording["status"], json=recording["body"])

    settings = Settings(secret_key="sk_test_recording", api_url="https://api.clerk.test", confirm="approve", retry_deadline=1.0)
    async with Client(build_server(settings, transport=httpx.MockTransport(clerk))) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == recording["tool"])
        result = await client.call_tool(recording["tool"], recording["arguments"])
    assert not result.is_error, result.content
    jsonschema.Draft202012Validator(tool.output_schema).validate(result.structured_content)
    assert [(r.method, r.url.path) for r in requests] == [(recording["request"]["method"], recording["request"]["path"])]
    shown = json.dumps(result.structured_content)
    for record in _records(recording["body"]):
        assert all(json.dumps(record[key]) in shown for key in ("id", "user_id", "total_count", "token") if key in record)


def _records(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    return [body, *body.get("data", [])] if isinstance(body, dict) else []


def _objects(node: Any, path: str = "") -> dict[str, str]:
    """`object` values by where they sit in a response (list positions folded), e.g. {"email_addresses[]": "email_address"}."""
    found: dict[str, str] = {}
    if isinstance(node, dict):
        if isinstance(node.get("object"), str):
            found[path] = node["object"]
        for key, value in node.items():
            found |= _objects(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for item in node:
            found |= _objects(item, f"{path}[]")
    return found


USER_RECORDINGS = [p for p in RECORDINGS if _load(p)["tool"] in ("get_user", "get_user_list")]


@pytest.mark.parametrize("path", USER_RECORDINGS, ids=[p.stem for p in USER_RECORDINGS])
def test_the_sandbox_renders_the_fields_and_objects_a_recorded_user_has(client: TestClient, path: Path) -> None:
    """Every field of a recorded user that the current spec still declares is in the sandbox's user too, and
    nested objects carry the same `object` values (verification objects included where both have them)."""
    body = _load(path)["body"]
    recorded = body[0] if isinstance(body, list) else body
    declared = set(spec()["components"]["schemas"]["User"]["properties"])
    ours = client.get(f"/v1/users/{JANE}").json()  # Jane has emails, a phone-less profile, an OAuth account
    assert set(recorded) & declared <= set(ours)
    recorded_objects, our_objects = _objects(recorded), _objects(ours)
    shared = set(recorded_objects) & set(our_objects)
    assert shared and {k: recorded_objects[k] for k in shared} == {k: our_objects[k] for k in shared}
