"""Every published schema compiles where JavaScript clients compile it: with Ajv (as @modelcontextprotocol/sdk
configures it, and strictly for draft 2020-12), and every `pattern` as an ECMAScript RegExp with the `u` flag.

JSON Schema patterns are ECMA-262; a Python-only construct such as `(?i)` makes Ajv refuse the whole schema, and
clients then skip validating that tool's arguments (gemini-cli) or refuse the tool.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

from clerk_mcp.server import build_server
from clerk_mcp.settings import Settings

from clients import compat

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


def listed_schemas() -> list[dict[str, Any]]:
    """Input and output schemas as tools/list shows them (every tool: approve mode hides none)."""

    async def listed() -> list[Any]:
        async with Client(build_server(Settings(confirm="approve"))) as client:
            return (await client.list_tools()).tools

    schemas = []
    for tool in anyio.run(listed):
        schemas.append({"where": f"tools/list {tool.name} inputSchema", "schema": tool.input_schema})
        schemas.append({"where": f"tools/list {tool.name} outputSchema", "schema": tool.output_schema})
    return schemas


def manifest_schemas() -> list[dict[str, Any]]:
    """Every schema under manifests/: tool files, both OpenAI formats, Anthropic's."""
    schemas = []
    for path in sorted((MANIFESTS / "tools").glob("*.json")):
        tool = json.loads(path.read_text())
        schemas += [{"where": f"{path.name} {key}", "schema": tool[key]} for key in ("inputSchema", "outputSchema")]
    for name, key in (("openai-responses-tools.json", "parameters"), ("anthropic-tools.json", "input_schema")):
        schemas += [{"where": f"{name} {t['name']}", "schema": t[key]} for t in json.loads((MANIFESTS / name).read_text())]
    chat = json.loads((MANIFESTS / "openai-chat-completions-tools.json").read_text())
    schemas += [{"where": f"chat {t['function']['name']}", "schema": t["function"]["parameters"]} for t in chat]
    return schemas


def compile_in_node(node: str, schemas: list[dict[str, Any]]) -> list[dict[str, str]]:
    done = subprocess.run(
        [node, str(compat.HERE / "ajv_compile.mjs")], input=json.dumps(schemas), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_published_schema_compiles_with_ajv_and_every_pattern_as_an_ecmascript_regexp(node):
    schemas = listed_schemas() + manifest_schemas()
    assert len(schemas) > 60
    assert compile_in_node(node, schemas) == []


def test_the_check_catches_a_python_only_pattern(node):
    """The check itself: `(?i)` (the filename pattern this project once published) is refused."""
    bad = {"type": "object", "properties": {"filename": {"type": "string", "pattern": "(?i)^.+\\.png$"}}}
    problems = compile_in_node(node, [{"where": "bad", "schema": bad}])
    assert {p["problem"].split(":")[0] for p in problems} == {"sdk", "strict-2020-12", "RegExp u"}
