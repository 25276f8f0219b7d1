"""Toolsets as operators and models see them: which tools each holds, whether it is on, what it costs.

A toolset is the `toolset` column of the operation table (design §2); the operator chooses which are on
(`--toolsets`, `CLERK_MCP_TOOLSETS`). The cost of a tool is what a host puts in the model's context for
it: its name, description and input schema as compact JSON, counted in cl100k_base tokens — the measure of
design §7 and `benchmarks/tokens.py`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from functools import cache
from typing import Any

from .operations import TOOLSETS, Operation, input_schema, toolset_names, toolset_operations
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
