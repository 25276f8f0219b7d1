"""Toolsets as operators and models see them: which tools each holds, whether it is on, what it costs.

A toolset is the `toolset` column of the operation table (design §2); the operator chooses which are on
(`--toolsets`, `CLERK_MCP_TOOLSETS`). The cost of a tool is what a host puts in the model's context for
it: its name, description and input schema as compact JSON, counted in cl100k_base tokens — the measure of
design §7 and `benchmarks/tokens.py`. With `--dynamic-toolsets` a server also offers two discovery tools
(`discovery_tools`) through which the model lists the toolsets and turns one on.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from functools import cache
from typing import Any

from mcp_types import Tool as MCPTool
from mcp_types import ToolAnnotations
from pydantic import Field, field_validator

from .models import Args
from .operations import TOOLSETS, Operation, compact_schema, input_schema, toolset_names, toolset_operations
from .views import count_tokens


@cache
def tool_tokens(op: Operation) -> int:
    """Model-visible cl100k_base tokens of one tool: name + description + compact input schema."""
    schema = json.dumps(input_schema(op), separators=(",", ":"), ensure_ascii=False)
    return count_tokens(op.name) + count_tokens(op.description) + count_tokens(schema)


def catalogue(enabled: Collection[str]) -> list[dict[str, Any]]:
    """Every toolset: name, description, whether it is on, its tools and their model-visible tokens together."""
    return [
        {
            "name": name,
            "description": TOOLSETS[name],
            "enabled": name in enabled,
            "tools": [op.name for op in toolset_operations(name)],
            "tokens": sum(tool_tokens(op) for op in toolset_operations(name)),
        }
        for name in toolset_names()
    ]


# -- --dynamic-toolsets: the discovery tools (after github-mcp-server's list_available_toolsets / enable_toolset) --

LIST_TOOLSETS = "list_available_toolsets"
ENABLE_TOOLSET = "enable_toolset"
DISCOVERY_TOOLS = (LIST_TOOLSETS, ENABLE_TOOLSET)


class ListToolsetsArgs(Args):
    pass


class EnableToolsetArgs(Args):
    toolset: str = Field(description="a toolset name from list_available_toolsets")

    @field_validator("toolset")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in toolset_names():
            raise ValueError(f"unknown toolset; toolsets are: {', '.join(toolset_names())}")
        return value


DISCOVERY_ARGS: dict[str, type[Args]] = {LIST_TOOLSETS: ListToolsetsArgs, ENABLE_TOOLSET: EnableToolsetArgs}


@cache
def discovery_tools() -> tuple[MCPTool, ...]:
    """The two tools a server started with --dynamic-toolsets adds: they read and change this server, not Clerk."""
    annotations = {"read_only_hint": True, "destructive_hint": False, "idempotent_hint": True, "open_world_hint": False}
    enable_schema = compact_schema(EnableToolsetArgs)
    enable_schema["properties"]["toolset"]["enum"] = list(toolset_names())
    return (
        MCPTool(
            name=LIST_TOOLSETS, title="List toolsets",
            description="List this server's toolsets: on or off, their tools, their token cost. Enable one with "
            "enable_toolset when the tools you have cannot do the task.",
            input_schema=compact_schema(ListToolsetsArgs),
            output_schema={"type": "object", "properties": {"toolsets": {"type": "array"}}, "required": ["toolsets"]},
            annotations=ToolAnnotations(title="List toolsets", **annotations),
        ),
        MCPTool(
            name=ENABLE_TOOLSET, title="Enable a toolset",
            description="Turn one toolset on for this server: its tools join tools/list (the policy still applies).",
            input_schema=enable_schema,
            output_schema={"type": "object", "properties": {"toolset": {"type": "string"}, "tools": {"type": "array"}},
                           "required": ["toolset", "tools"]},
            # Not read-only: it changes what this server offers (github-mcp-server marks it read-only; Clerk's data
            # indeed stays as it is, but the next tools/list differs).
            annotations=ToolAnnotations(title="Enable a toolset", **{**annotations, "read_only_hint": False}),
        ),
    )
