"""Tokens (cl100k_base, offline): the tool list a model reads, the tools/list wire size, and a list result.

Baselines: the tool list as the SDK would publish our argument and result models unmodified
(`model_json_schema()`), and Clerk's raw JSON for the same 20 users. Token counts are deterministic,
so `tests/test_budgets.py` asserts these budgets too.
"""

from __future__ import annotations

import sys
from typing import Any

from _common import Figure, compact_json, finish, limit_figure, parser, ratio_figure, run_async, sandbox_pair, tokens

MODEL_VISIBLE_BUDGET = 2_250  # the default toolset
PER_TOOL_BUDGET = 150  # mean over every tool of every toolset
WIRE_BUDGET = 9_800  # the default toolset
LIST_RESULT_BUDGET = 0.40
LIST_SIZE = 20


def _tools(published: bool, *, every_toolset: bool = False) -> list[dict[str, Any]]:
    """The default toolset's tools (or every tool) as `tools/list` sends them; unpublished = the models' default
    pydantic schemas instead of ours."""
    from clerk_mcp.operations import DEFAULT_TOOLSETS, OPERATIONS
    from clerk_mcp.server import tool_definition

    tools = []
    for op in OPERATIONS if every_toolset else [op for op in OPERATIONS if op.toolset in DEFAULT_TOOLSETS]:
        tool = tool_definition(op).model_dump(mode="json", by_alias=True, exclude_none=True)
        if not published:
            tool.update(inputSchema=op.args.model_json_schema(), outputSchema=op.result.model_json_schema())
        tools.append(tool)
    return tools


def _model_visible(tools: list[dict[str, Any]]) -> int:
    """What a host puts in the model's context per tool: name, description and input schema."""
    return sum(tokens(t["name"]) + tokens(t["description"]) + tokens(compact_json(t["inputSchema"])) for t in tools)


def tool_list_figures() -> list[Figure]:
    ours, sdk = _tools(published=True), _tools(published=False)
    every, every_sdk = _tools(published=True, every_toolset=True), _tools(published=False, every_toolset=True)
    parameters = sum(len(t["inputSchema"].get("properties", {})) for t in ours)
    return [
        limit_figure(
            f"model-visible tool list, default toolset ({len(ours)} tools, {parameters} params)",
            _model_visible(ours), _model_visible(sdk), "tokens", MODEL_VISIBLE_BUDGET,
        ),
        limit_figure(
            f"model-visible tokens per tool, mean of all {len(every)}",
            _model_visible(every) / len(every), _model_visible(every_sdk) / len(every), "tokens", PER_TOOL_BUDGET,
        ),
        limit_figure(
            "tools/list JSON on the wire, default toolset",
            tokens(compact_json({"tools": ours})), tokens(compact_json({"tools": sdk})), "tokens", WIRE_BUDGET,
        ),
    ]


def list_result_figure() -> Figure:
    """The text of a default `get_user_list` call against Clerk's raw JSON for the same users."""
    from mcp.client import Client

    async def measure() -> tuple[str, str]:
        direct, server = sandbox_pair()
        async with direct, Client(server) as client:
            raw = (await direct.get("/users", params={"limit": LIST_SIZE})).raise_for_status().text
            result = await client.call_tool("get_user_list", {"limit": LIST_SIZE})
        if result.is_error or len(result.structured_content["data"]) != LIST_SIZE:
            raise RuntimeError(f"expected {LIST_SIZE} users from the sandbox's demo data: {result.content}")
        return result.content[0].text, raw

    ours, raw = run_async(measure)
    return ratio_figure(f"get_user_list result, {LIST_SIZE} users", tokens(ours), tokens(raw), "tokens", LIST_RESULT_BUDGET)


def main(argv: list[str] | None = None) -> int:
    ns = parser(__doc__.splitlines()[0]).parse_args(argv)
    figures = [*tool_list_figures(), list_result_figure()]
    return finish("Tokens (baselines: SDK-default schemas; Clerk's raw JSON)", figures, smoke=ns.smoke)


if __name__ == "__main__":
    sys.exit(main())
