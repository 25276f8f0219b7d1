"""The client matrix (issue 14): the MCP clients and LLM SDKs people use run one scenario (scenario.py) against the
installed `clerk-mcp` on its embedded sandbox, over stdio and, where the client has it, Streamable HTTP
(`clerk-mcp serve --http` on a free loopback port). A leg passes only when the client SHOWS the result — a client
that throws instead fails it. Outcomes are recorded (conftest.py) and README's compatibility table is rendered
from the record (compat.py); the last tests check that table and record against this run.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

import pytest
from mcp import StdioServerParameters
from mcp.client import Client
from mcp_types import ElicitResult

from clients import compat
from clients.conftest import RECORDED, Matrix, node_package_version
from clients.scenario import CONFIRM_LEGS, SCENARIO, STEPS

pytestmark = pytest.mark.anyio
NO_ELICITATION = "no elicitation API"


def transports(client: str) -> Any:
    return pytest.mark.parametrize("transport", compat.CLIENTS[client][1])


def shown(result: Any) -> dict[str, Any]:
    """What an MCP CallToolResult shows its caller: the error flag, the text blocks and the structured content."""
    text = "\n".join(block.text for block in result.content if block.type == "text")
    return {"is_error": bool(result.is_error), "text": text, "structured": result.structured_content}


async def observe(legs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run each leg's call in scenario order; an exception is the observation {"thrown": message}."""
    seen: dict[str, Any] = {}
    for leg, call in legs.items():
        try:
            seen[leg] = await call()
        except Exception as error:  # a client that raises instead of showing the result: that is the finding
            seen[leg] = {"thrown": f"{type(error).__name__}: {error}"}
    return seen


# --- MCP Python SDK ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@transports("mcp-python-legacy")
async def test_mcp_python_sdk(mode: str, transport: str, request: pytest.FixtureRequest, matrix: Matrix):
    target = (StdioServerParameters(command=request.getfixturevalue("clerk_mcp_command"), args=[])
              if transport == "stdio" else request.getfixturevalue("mcp_url"))
    answer: dict[str, Any] = {}

    async def human(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(**answer)

    async with AsyncExitStack() as stack:
        asking = await stack.enter_async_context(Client(target, mode=mode, elicitation_callback=human))
        plain = await stack.enter_async_context(Client(target, mode=mode))

        def call(step: Any) -> Callable[[], Any]:
            async def run() -> dict[str, Any]:
                if step.tool is None:
                    return {"tools": [tool.name for tool in (await asking.list_tools()).tools]}
                answer.clear()
                answer.update(step.answer or {"action": "decline"})
                return shown(await (asking if step.elicitation else plain).call_tool(step.tool, step.arguments))
            return run

        seen = await observe({step.leg: call(step) for step in SCENARIO})
    matrix.check(f"mcp-python-{mode}", transport, version("mcp"), seen)


# --- @modelcontextprotocol/sdk (TypeScript), two versions -------------------------------------------------------


@pytest.mark.parametrize("sdk", ["sdk-latest", "sdk-1-23"])
@transports("sdk-latest")
def test_typescript_sdk(sdk: str, transport: str, node: str, request: pytest.FixtureRequest, matrix: Matrix):
    target = ([request.getfixturevalue("clerk_mcp_command")] if transport == "stdio"
              else [request.getfixturevalue("mcp_url")])
    scenario = json.dumps([step.as_json() for step in SCENARIO])
    run = subprocess.run(
        [node, str(compat.HERE / "sdk_driver.mjs"), sdk, scenario, transport, *target],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, f"the driver failed:\n{run.stderr[-2000:]}"
    matrix.check(sdk, transport, node_package_version(sdk), json.loads(run.stdout))


# --- MCP Inspector CLI ---------------------------------------------------------------------------------------------


def inspector_arguments(arguments: dict[str, Any]) -> list[str]:
    """`--tool-arg key=value` pairs; the CLI parses a value as JSON where it can (objects, numbers)."""
    pairs = [f"{key}={json.dumps(value) if not isinstance(value, str) else value}" for key, value in arguments.items()]
    return ["--tool-arg", *pairs] if pairs else []


@transports("inspector")
def test_inspector_cli(transport: str, node: str, request: pytest.FixtureRequest, matrix: Matrix):
    """One `--cli` run per leg (each its own server over stdio; started together, the legs touch different users).
    The Inspector's CLI mode has no elicitation: a confirm-needed call can only be refused, and says why."""
    target = ([request.getfixturevalue("clerk_mcp_command")] if transport == "stdio"
              else [request.getfixturevalue("mcp_url"), "--transport", "http"])
    inspector = str(compat.HERE / "node_modules" / "@modelcontextprotocol" / "inspector" / "cli" / "build" / "cli.js")
    runs = {
        step.leg: subprocess.Popen(
            [node, inspector, "--cli", *target, "--method", *(["tools/list"] if step.tool is None else [
                "tools/call", "--tool-name", step.tool, *inspector_arguments(step.arguments)])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        for step in SCENARIO if step.leg not in CONFIRM_LEGS
    }
    seen: dict[str, Any] = {}
    for leg, run in runs.items():
        stdout, stderr = run.communicate(timeout=120)
        if run.returncode != 0:
            seen[leg] = {"thrown": (stderr.strip() or stdout.strip())[-1000:]}
        elif leg == "list":
            seen[leg] = {"tools": [tool["name"] for tool in json.loads(stdout)["tools"]]}
        else:
            result = json.loads(stdout)
            text = "\n".join(block["text"] for block in result.get("content", []) if block["type"] == "text")
            seen[leg] = {"is_error": bool(result.get("isError")), "text": text, "structured": result.get("structuredContent")}
    matrix.check("inspector", transport, node_package_version("@modelcontextprotocol/inspector"), seen,
                 dict.fromkeys(CONFIRM_LEGS, NO_ELICITATION))


# --- google-genai's MCP adapter: conversion only ------------------------------------------------------------------


@transports("google-genai")
async def test_google_genai_adapter(transport: str, clerk_mcp_command: str, matrix: Matrix):
    """google-genai turns an MCP session passed in `tools=` into function declarations before any request
    (`_extra_utils.parse_config_for_mcp_sessions`, which calls `_mcp_utils.mcp_to_gemini_tool` per tool). A tool
    counts as seen only if its declaration validates as a `types.Tool` and keeps every argument of its inputSchema.
    No model is called, so the call legs do not apply."""
    from google.genai import _extra_utils, types

    async with Client(StdioServerParameters(command=clerk_mcp_command, args=[]), mode="legacy") as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}

        async def converted() -> dict[str, Any]:
            config, _ = await _extra_utils.parse_config_for_mcp_sessions({"tools": [client.session]})
            declarations = [declaration for tool in config.tools
                            for declaration in types.Tool.model_validate(tool.model_dump()).function_declarations]
            return {"tools": [d.name for d in declarations
                              if set(d.parameters.properties or {}) == set(listed[d.name].input_schema.get("properties", {}))]}

        seen = await observe({"list": converted})
    matrix.check("google-genai", transport, version("google-genai"), seen,
                 {step.leg: "conversion only: no model run" for step in SCENARIO if step.tool})


# --- OpenAI Agents SDK's MCP servers: list and call, no model run --------------------------------------------------


@transports("openai-agents")
async def test_openai_agents_mcp(transport: str, request: pytest.FixtureRequest, matrix: Matrix):
    """The Agents SDK lists the tools, builds each FunctionTool as an agent with strict schemas does
    (`MCPUtil.to_function_tool(..., convert_schemas_to_strict=True)`; a schema with a free-form object, such as
    metadata, stays non-strict by the SDK's design), and runs a model's tool call through `MCPUtil.invoke_mcp_tool`,
    whose return value is what the model sees (text only). Its MCP servers have no elicitation API: only the
    refusal leg of the confirmations applies."""
    from agents import RunContextWrapper
    from agents.mcp import MCPServerStdio, MCPServerStreamableHttp, MCPUtil

    server = (MCPServerStdio({"command": request.getfixturevalue("clerk_mcp_command"), "args": []},
                             client_session_timeout_seconds=60) if transport == "stdio"
              else MCPServerStreamableHttp({"url": request.getfixturevalue("mcp_url")}, client_session_timeout_seconds=60))
    async with server:
        tools = {tool.name: tool for tool in await server.list_tools()}

        async def function_tools() -> dict[str, Any]:
            built = [MCPUtil.to_function_tool(tool, server, convert_schemas_to_strict=True) for tool in tools.values()]
            return {"tools": [tool.name for tool in built]}

        def call(step: Any) -> Callable[[], Any]:
            async def run() -> dict[str, Any]:
                output = await MCPUtil.invoke_mcp_tool(
                    server, tools[step.tool], RunContextWrapper(context=None), json.dumps(step.arguments))
                blocks = output if isinstance(output, list) else [output]
                return {"is_error": None, "text": "\n".join(block["text"] for block in blocks), "structured": None}
            return run

        seen = await observe({"list": function_tools} | {leg: call(STEPS[leg]) for leg in
                                                       ("read", "write", "error", "invalid", "refused")})
    matrix.check("openai-agents", transport, version("openai-agents"), seen, dict.fromkeys(CONFIRM_LEGS, NO_ELICITATION))


# --- the record and README's table ----------------------------------------------------------------------------------


def test_readme_table_is_the_recorded_matrix():
    if compat.UPDATE:
        pytest.skip("UPDATE_COMPAT: the record and README are rewritten at the end of this session")
    assert compat.readme_table() == compat.table(compat.load()), "run: UPDATE_COMPAT=1 python -m pytest tests/clients"


def test_the_record_is_this_runs_outcomes(request: pytest.FixtureRequest):
    """Runs after every cell (last in this module): a recorded pass that fails now, or a failure that now passes,
    fails here until the record is rewritten."""
    recorded = request.config.stash.get(RECORDED, {})
    if missing := set(compat.CELLS) - set(recorded):
        pytest.skip(f"part of the matrix did not run: {', '.join(sorted(missing))}")
    if compat.UPDATE:
        pytest.skip("UPDATE_COMPAT: the record is rewritten at the end of this session")
    # Legs, not versions: `mcp` is a range in pyproject.toml, so CI may install a newer 2.x than the record names;
    # what the table claims (which legs pass) must still hold with it.
    legs = {cell: entry["legs"] for cell, entry in compat.load().items()}
    assert legs == {cell: entry["legs"] for cell, entry in recorded.items()}, "run: UPDATE_COMPAT=1 python -m pytest tests/clients"
