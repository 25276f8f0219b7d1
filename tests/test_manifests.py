"""manifests/ is generated from the code: drift is a red test, and every file has the shape its consumer expects.

The OpenAI and Anthropic shapes below are written from those APIs' documentation, independently of
`clerk_mcp.manifests`, so a generator bug cannot vouch for itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker

from clerk_mcp import __version__, manifests
from clerk_mcp.cli import main
from clerk_mcp.operations import OPERATIONS
from clerk_mcp.operations import STATUS_TOOL as STATUS
from clerk_mcp.settings import HTTP_ONLY, Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
CLERK_MCP = Path(sys.executable).with_name("clerk-mcp")
# sha256 of https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json, as published.
REGISTRY_SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"

TOOL_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}
OBJECT_SCHEMA = {"type": "object", "required": ["type"], "properties": {"type": {"const": "object"}}}
OPENAI_FUNCTION = {
    "name": TOOL_NAME,
    "description": {"type": "string", "minLength": 1},
    "parameters": OBJECT_SCHEMA,
    "strict": {"type": "boolean"},
}
# Chat Completions `tools`: https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
OPENAI_CHAT_TOOLS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "function"],
        "properties": {
            "type": {"const": "function"},
            "function": {
                "type": "object", "additionalProperties": False, "required": list(OPENAI_FUNCTION), "properties": OPENAI_FUNCTION,
            },
        },
    },
}
# Responses API `tools` (function tools), also the OpenAI Agents SDK's: https://platform.openai.com/docs/api-reference/responses/create
OPENAI_RESPONSES_TOOLS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", *OPENAI_FUNCTION],
        "properties": {"type": {"const": "function"}, **OPENAI_FUNCTION},
    },
}
# Messages API `tools`: https://docs.anthropic.com/en/docs/build-with-claude/tool-use
ANTHROPIC_TOOLS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "description", "input_schema"],
        "properties": {"name": TOOL_NAME, "description": {"type": "string", "minLength": 1}, "input_schema": OBJECT_SCHEMA},
    },
}
# Structured Outputs, "Supported schemas": the keywords strict mode accepts.
OPENAI_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "description",
    "$defs", "$ref", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems",
}


def load(rel: str) -> Any:
    return json.loads((MANIFESTS / rel).read_text(encoding="utf-8"))


def subschemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *node.get("properties", {}).values(), *node.get("$defs", {}).values(), *node.get("anyOf", []),
        *([node["items"]] if isinstance(node.get("items"), dict) else []),
    ]


def strict_violations(node: dict[str, Any], where: str = "parameters") -> list[str]:
    """Where `node` breaks OpenAI's strict-mode rules (closed objects, every property required, known keywords)."""
    found = [f"{where}: {key} not allowed in strict mode" for key in set(node) - OPENAI_STRICT_KEYWORDS]
    if node.get("type") == "object":
        if node.get("additionalProperties") is not False:
            found.append(f"{where}: additionalProperties must be false")
        if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
            found.append(f"{where}: every property must be required")
    for i, sub in enumerate(subschemas(node)):
        found += strict_violations(sub, f"{where}/{i}")
    return found


def test_committed_manifests_match_a_fresh_generation():
    problems = manifests.check(MANIFESTS)
    assert not problems, "manifests/ drifted from the code; run `clerk-mcp manifests`:\n" + "\n".join(problems)


def test_every_operation_has_its_tool_file_exactly_as_tools_list_shows_it(server_factory):
    import anyio
    from mcp.client import Client

    async def listed() -> list[dict[str, Any]]:
        async with Client(server_factory()) as client:
            result = await client.list_tools()
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in result.tools]

    tools = anyio.run(listed)
    assert [t["name"] for t in tools] == [op.name for op in OPERATIONS] + [STATUS]
    for tool in tools:
        assert load(f"tools/{tool['name']}.json") == tool


def test_server_json_is_valid_against_the_shipped_registry_schema():
    schema_bytes = (MANIFESTS / "schemas" / "server.schema.json").read_bytes()
    assert hashlib.sha256(schema_bytes).hexdigest() == REGISTRY_SCHEMA_SHA256, "the vendored schema is not the published one"
    schema = json.loads(schema_bytes)
    entry = load("server.json")
    assert entry["$schema"] == schema["$id"]
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(entry)]
    assert not errors, errors
    (package,) = entry["packages"]
    assert entry["version"] == package["version"] == __version__
    assert package["transport"] == {"type": "stdio"}
    env = {var["name"]: var for var in package["environmentVariables"]}
    stdio = [n for n, f in Settings.model_fields.items() if f.json_schema_extra != HTTP_ONLY]
    assert len(env) == len(stdio) < len(Settings.model_fields), "every stdio setting is offered, once"
    assert "CLERK_MCP_HTTP" not in env and "CLERK_MCP_HOST" not in env, "a stdio launch must not switch to HTTP"
    assert env["CLERK_SECRET_KEY"]["isSecret"] is True and env["CLERK_SECRET_KEY"]["isRequired"] is False
    assert {"CLERK_API_URL", "CLERK_MCP_READ_ONLY", "CLERK_MCP_CONFIRM", "CLERK_MCP_TOOLS", "CLERK_MCP_DENY_TOOLS", "CLERK_MCP_AUDIT_LOG"} <= set(env)
    assert all(var["isRequired"] is False for var in env.values()), "with no settings at all the server runs (sandbox)"


def test_package_and_command_in_the_registry_entry_and_client_snippets_are_the_real_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert load("server.json")["packages"][0]["identifier"] == project["name"]
    launch = {"command": "uvx", "args": [project["name"]]}
    assert project["name"] in project["scripts"], "`uvx clerk-mcp` needs a console script named like the package"
    assert load("clients/claude-desktop.json") == load("clients/cursor-mcp.json") == {"mcpServers": {"clerk": launch}}
    assert load("clients/vscode-mcp.json") == {"servers": {"clerk": {"type": "stdio", **launch}}}
    assert "claude mcp add --transport stdio clerk -- uvx clerk-mcp\n" in (MANIFESTS / "clients" / "claude-code.sh").read_text()


def test_http_client_snippets_point_at_the_default_serve_http_endpoint():
    url = "http://127.0.0.1:8000/mcp"
    assert load("clients/vscode-mcp-http.json") == {"servers": {"clerk": {"type": "http", "url": url}}}
    assert load("clients/cursor-mcp-http.json") == {"mcpServers": {"clerk": {"url": url}}}
    assert f"claude mcp add --transport http clerk {url}\n" in (MANIFESTS / "clients" / "claude-code-http.sh").read_text()


def test_openai_tools_have_the_function_calling_shape_and_strict_only_where_it_holds():
    tools = load("openai-chat-completions-tools.json")
    Draft202012Validator(OPENAI_CHAT_TOOLS).validate(tools)
    by_name = {t["function"]["name"]: t["function"] for t in tools}
    assert list(by_name) == [op.name for op in OPERATIONS] + [STATUS]
    for name, function in by_name.items():
        tool = load(f"tools/{name}.json")
        input_schema = tool["inputSchema"]
        assert function["description"] == tool["description"]
        Draft202012Validator.check_schema(function["parameters"])
        if function["strict"]:
            assert strict_violations(function["parameters"]) == [], name
            assert set(function["parameters"]["properties"]) == set(input_schema["properties"]), "no argument lost"
        else:
            assert function["parameters"] == input_schema
    assert any(t["function"]["strict"] for t in tools), "tools whose arguments are all required are strict"


def test_openai_responses_tools_are_the_same_functions_flat():
    flat = load("openai-responses-tools.json")
    Draft202012Validator(OPENAI_RESPONSES_TOOLS).validate(flat)
    assert flat == [{"type": "function", **t["function"]} for t in load("openai-chat-completions-tools.json")]


def test_tools_with_optional_arguments_are_not_strict():
    """Strict mode would force optional arguments to be sent as null, which Clerk reads as "clear this field"."""
    for tool in load("openai-chat-completions-tools.json"):
        schema = load(f"tools/{tool['function']['name']}.json")["inputSchema"]
        if set(schema.get("required", [])) != set(schema["properties"]):
            assert tool["function"]["strict"] is False, tool["function"]["name"]


def test_anthropic_tools_have_the_tool_use_shape():
    tools = load("anthropic-tools.json")
    Draft202012Validator(ANTHROPIC_TOOLS).validate(tools)
    assert [t["name"] for t in tools] == [op.name for op in OPERATIONS] + [STATUS]
    for tool in tools:
        assert tool["input_schema"] == load(f"tools/{tool['name']}.json")["inputSchema"]
        Draft202012Validator.check_schema(tool["input_schema"])


def test_check_command_passes_on_the_committed_tree_and_names_a_stale_file(tmp_path):
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    fresh = subprocess.run([CLERK_MCP, "manifests", "--check", "--dir", copy], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    stale = copy / "tools" / "get_user.json"
    stale.write_text(stale.read_text().replace("Get one user", "Get a user"))
    failed = subprocess.run([CLERK_MCP, "manifests", "--check", "--dir", copy], capture_output=True, text=True)
    assert failed.returncode == 1
    assert "stale: tools/get_user.json" in failed.stderr
    assert stale.read_text() != manifests.generate()["tools/get_user.json"], "--check writes nothing"


def test_check_names_missing_and_extra_files_and_writing_repairs_them(tmp_path, capsys):
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    (copy / "openai-responses-tools.json").unlink()
    (copy / "tools" / "retired_tool.json").write_text("{}")
    assert main(["manifests", "--check", "--dir", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "missing: openai-responses-tools.json" in err and "extra: tools/retired_tool.json" in err
    assert main(["manifests", "--dir", str(copy)]) == 0
    assert manifests.check(copy) == []


def test_readme_carries_the_generated_tool_table_and_the_registry_name():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- tools:start -->" in readme and "<!-- tools:end -->" in readme, "README needs the tool-table markers"
    table = readme.split("<!-- tools:start -->", 1)[1].split("<!-- tools:end -->", 1)[0]
    assert table.strip() == (MANIFESTS / "tools.md").read_text(encoding="utf-8").strip()
    toolsets = readme.split("<!-- toolsets:start -->", 1)[1].split("<!-- toolsets:end -->", 1)[0]
    assert toolsets.strip() == (MANIFESTS / "toolsets.md").read_text(encoding="utf-8").strip()
    assert f"mcp-name: {load('server.json')['name']}" in readme, "the PyPI README proves ownership to the MCP registry"


@pytest.mark.slow
def test_wheel_carries_everything_the_package_needs_at_run_time(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp_path, ROOT],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("clerk_mcp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "clerk_mcp"
    shipped = {
        p.relative_to(ROOT).as_posix() for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped - names == set()
    assert "clerk_mcp/sandbox/seed.json" in names
    entry_points = zipfile.ZipFile(wheel).read(f"clerk_mcp-{__version__}.dist-info/entry_points.txt").decode()
    assert "clerk-mcp = clerk_mcp.cli:main" in entry_points


def test_every_server_flag_is_a_setting_with_an_environment_variable_listed_in_the_readme():
    from clerk_mcp.cli import server_flags
    from clerk_mcp.settings import Settings

    for flag in server_flags():
        assert flag[2:].replace("-", "_") in Settings.model_fields, f"{flag} has no setting (and so no variable)"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    between = readme.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    assert between.strip() == (MANIFESTS / "settings.md").read_text(encoding="utf-8").strip()
    for flag in server_flags():
        assert f"`{flag}`" in between
