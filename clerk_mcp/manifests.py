"""Everything under `manifests/`, generated in memory from the operation table and the settings model.

`clerk-mcp manifests` writes the files, `clerk-mcp manifests --check` compares them, and
`tests/test_manifests.py` fails when a committed file drifts from the code. Nothing here names a tool
or a setting by hand: tools come from `OPERATIONS` (as `tools/list` shows them), environment
variables from `Settings`.

OpenAI's tools come in two shapes: Chat Completions nests the function (`{"type": "function", "function": {...}}`);
the Responses API and the OpenAI Agents SDK take it flat (`{"type": "function", "name": ...}`). Both are written.
Strict mode is decided per tool by `strict_schema`: a tool is strict only when its schema already has every
property required and no free-form object (argument objects are closed: the server refuses unknown arguments). Strict mode's usual workaround, making
optional arguments required-but-nullable, would have the model send `null`s, which Clerk reads as
"clear this field" — so tools with optional arguments stay non-strict.
"""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from . import __version__
from .http import MCP_PATH
from .operations import DEFAULT_TOOLSETS, OPERATIONS, toolset_names
from .policy import Policy
from .server import every_tool
from .settings import HTTP_ONLY, Settings, env_name
from .toolsets import catalogue

SERVER_NAME = "io.github.clerk-mcp/clerk-mcp"
SERVER_TITLE = "Clerk Users"
SERVER_DESCRIPTION = f"Manage a Clerk instance's users: {len(OPERATIONS)} typed tools, human confirmation, built-in sandbox."
REGISTRY_SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
PACKAGE = "clerk-mcp"
CLIENT_KEY = "clerk"
# How every client snippet starts the server: the published package, run by uv, on stdio.
LAUNCH = {"command": "uvx", "args": [PACKAGE]}
# Kept in manifests/ by hand (the registry's schema, copied byte for byte): never rewritten nor flagged.
VENDORED = frozenset({"schemas/server.schema.json"})

# Keywords OpenAI's strict mode accepts ("Structured Outputs: supported schemas").
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "description",
    "$defs", "$ref", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems",
})
# Length limits strict mode rejects; dropped there, since the server validates every call again.
DROPPED_IN_STRICT = frozenset({"minLength", "maxLength"})


def generate() -> dict[str, str]:
    """Every generated file, by path relative to the manifests directory."""
    tools = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in every_tool()]
    files = {f"tools/{tool['name']}.json": _json(tool) for tool in tools}
    functions = [openai_function(tool) for tool in tools]
    files["openai-chat-completions-tools.json"] = _json([{"type": "function", "function": f} for f in functions])
    files["openai-responses-tools.json"] = _json([{"type": "function", **f} for f in functions])
    files["anthropic-tools.json"] = _json(
        [{"name": t["name"], "description": t["description"], "input_schema": t["inputSchema"]} for t in tools]
    )
    files["server.json"] = _json(server_entry())
    files.update(client_configs())
    files["tools.md"] = tools_table()
    files["toolsets.md"] = toolsets_table()
    files["settings.md"] = settings_table()
    return files


def client_configs() -> dict[str, str]:
    """Client snippets: stdio through uvx, and Streamable HTTP for a server started with `clerk-mcp serve --http`."""
    http = {"url": f"http://{Settings.model_fields['host'].default}:{Settings.model_fields['port'].default}{MCP_PATH}"}
    command = " ".join([LAUNCH["command"], *LAUNCH["args"]])
    return {
        "clients/claude-desktop.json": _json({"mcpServers": {CLIENT_KEY: LAUNCH}}),
        "clients/cursor-mcp.json": _json({"mcpServers": {CLIENT_KEY: LAUNCH}}),
        "clients/cursor-mcp-http.json": _json({"mcpServers": {CLIENT_KEY: http}}),
        "clients/vscode-mcp.json": _json({"servers": {CLIENT_KEY: {"type": "stdio", **LAUNCH}}}),
        "clients/vscode-mcp-http.json": _json({"servers": {CLIENT_KEY: {"type": "http", **http}}}),
        "clients/claude-code.sh": _script(
            "Sandbox until a key is given: add -e CLERK_SECRET_KEY=sk_... before the name.",
            f"claude mcp add --transport stdio {CLIENT_KEY} -- {command}",
        ),
        "clients/claude-code-http.sh": _script(
            "Start the server first: clerk-mcp serve --http", f"claude mcp add --transport http {CLIENT_KEY} {http['url']}"
        ),
    }


def openai_function(tool: dict[str, Any]) -> dict[str, Any]:
    """One tool as an OpenAI function: name, description, parameters, and strict where the schema allows it."""
    strict = strict_schema(tool["inputSchema"])
    return {"name": tool["name"], "description": tool["description"], "parameters": strict or tool["inputSchema"],
            "strict": strict is not None}


def strict_schema(node: dict[str, Any]) -> dict[str, Any] | None:
    """`node` as OpenAI strict mode accepts it, or None when strict mode would change what the tool accepts."""
    if not STRICT_KEYWORDS.union(DROPPED_IN_STRICT).issuperset(node) or "(?" in node.get("pattern", ""):
        return None  # an unsupported keyword, or inline regex flags strict mode's regex dialect lacks
    if node.get("type") == "object" and (
        "properties" not in node or set(node.get("required", ())) != set(node["properties"])
    ):
        return None  # an optional argument or a free-form object
    # Strict mode needs every object closed; argument objects are (the server refuses unknown arguments).
    out: dict[str, Any] = {"additionalProperties": False} if node.get("type") == "object" else {}
    for key, value in node.items():
        if key in DROPPED_IN_STRICT:
            continue
        if key in ("properties", "$defs"):
            value = {name: strict_schema(sub) for name, sub in value.items()}
            children = list(value.values())
        elif key == "anyOf":
            value = children = [strict_schema(sub) for sub in value]
        elif key == "items":
            value = strict_schema(value)
            children = [value]
        else:
            children = []
        if None in children:
            return None
        out[key] = value
    return out


def server_entry() -> dict[str, Any]:
    """The MCP registry entry: the PyPI package on stdio, configured by the settings' environment variables."""
    package = {
        "registryType": "pypi",
        "registryBaseUrl": "https://pypi.org",
        "identifier": PACKAGE,
        "version": __version__,
        "runtimeHint": LAUNCH["command"],
        "transport": {"type": "stdio"},
        # A stdio launch: settings only `serve --http` reads would change what the package runs.
        "environmentVariables": [
            environment_variable(name) for name, field in Settings.model_fields.items() if field.json_schema_extra != HTTP_ONLY
        ],
    }
    return {
        "$schema": REGISTRY_SCHEMA,
        "name": SERVER_NAME,
        "title": SERVER_TITLE,
        "description": SERVER_DESCRIPTION,
        "version": __version__,
        "packages": [package],
    }


def environment_variable(name: str) -> dict[str, Any]:
    """One setting as a registry input: its variable name, description, default, format and secrecy."""
    field = Settings.model_fields[name]
    env = env_name(name)
    kinds = _leaf_types(field.annotation)
    var: dict[str, Any] = {"name": env, "description": field.description, "isRequired": False}
    if bool in kinds:
        var["format"] = "boolean"
    elif kinds & {int, float}:
        var["format"] = "number"
    elif Path in kinds:
        var["format"] = "filepath"
    if SecretStr in kinds:
        var["isSecret"] = True
    enums = [k for k in kinds if isinstance(k, type) and issubclass(k, Enum)]
    if enums:
        var["choices"] = [member.value for member in enums[0]]
    if field.default is not None and not field.is_required() and field.default_factory is None:
        default = field.default
        var["default"] = str(default).lower() if isinstance(default, bool) else ",".join(default) if isinstance(default, list) else str(default)
    return var


def settings_table() -> str:
    """The README's configuration table: every setting's variable, its flag where the CLI has one, its default."""
    from .cli import server_flags

    flags = server_flags()
    rows = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for name in Settings.model_fields:
        var = environment_variable(name)
        flag = f"--{name.replace('_', '-')}"
        cells = (
            f"`{flag}`" if flag in flags else "",
            f"`{var['name']}`",
            f"`{var['default']}`" if "default" in var else "",
            var["description"] or "",
        )
        rows.append(_row(cells))
    return "\n".join(rows) + "\n"


def tools_table() -> str:
    """The README's tool table: one row per operation, with its toolset and the rule the default policy applies
    once that toolset is on; a confirmation rule says what the human is told will be lost."""
    # Defaults only (the operator's environment must not leak in), every toolset on.
    policy = Policy(Settings.model_construct(toolsets=list(toolset_names())))
    rows = ["| Tool | Toolset | Title | Effect | Default policy | Description |", "|---|---|---|---|---|---|"]
    for op in OPERATIONS:
        rule = policy.describe(op)["rule"]
        if op.always_asks and op.consequence:
            rule += f": {op.consequence}"
        cells = (f"`{op.name}`", op.toolset, op.title, op.effect.value, rule, op.description)
        rows.append(_row(cells))
    return "\n".join(rows) + "\n"


def toolsets_table() -> str:
    """The README's toolset table: each toolset, its tools and what they cost in a model's context."""
    rows = ["| Toolset | On by default | Tools | Model-visible tokens | What for |", "|---|---|---|---|---|"]
    for entry in catalogue(DEFAULT_TOOLSETS):
        cells = (f"`{entry['name']}`", "yes" if entry["enabled"] else "no", str(len(entry["tools"])), f"{entry['tokens']:,}", entry["description"])
        rows.append(_row(cells))
    return "\n".join(rows) + "\n"


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def write(directory: Path) -> list[str]:
    """Write every generated file that differs; remove tool files no operation produces. Returns what changed."""
    files = generate()
    changed = []
    for rel, content in files.items():
        path = directory / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            changed.append(rel)
    for path in sorted((directory / "tools").glob("*.json")):
        if path.relative_to(directory).as_posix() not in files:
            path.unlink()
            changed.append(path.relative_to(directory).as_posix())
    return changed


def check(directory: Path) -> list[str]:
    """What differs from a fresh generation: `stale: …`, `missing: …` and `extra: …` lines, empty when current."""
    files = generate()
    problems = []
    for rel, content in files.items():
        path = directory / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"stale: {rel}")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    problems += [f"extra: {rel}" for rel in sorted(present - files.keys() - VENDORED)]
    return problems


def _script(comment: str, command: str) -> str:
    return f"#!/bin/sh\n# Add clerk-mcp to Claude Code. {comment}\n{command}\n"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _leaf_types(annotation: Any) -> set[Any]:
    """The types inside an annotation: `list[SecretStr] | None` gives {list, SecretStr, NoneType}."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _leaf_types(typing.get_args(annotation)[0])
    if origin is not None:
        leaves = {origin} - {typing.Union, types.UnionType}
        for arg in typing.get_args(annotation):
            leaves |= _leaf_types(arg)
        return leaves
    return {annotation}
