"""For an agent under evaluation written in Python: its side of the `clerk-mcp eval` contract (runner.py).

    from clerk_mcp.evals.agent import main

    async def my_agent(request: str, client) -> str:   # client: a connected mcp.client.Client
        ...                                              # call tools, ask your model
        return "the final answer"

    if __name__ == "__main__":
        main(my_agent)        # reads the request on stdin, connects, prints the answer on stdout

`main` connects over Streamable HTTP (`CLERK_EVAL_MCP_URL`), or over stdio with `--stdio` (it starts the server
with `CLERK_EVAL_MCP_COMMAND`). The same coroutine runs in-process under the pytest plugin and `run_scenario`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from .runner import COMMAND_VARIABLE, URL_VARIABLE, InProcessAgent

if TYPE_CHECKING:
    from mcp.client import Client


@asynccontextmanager
async def connect(transport: str = "http") -> AsyncIterator[Client]:
    """An MCP client connected to the server the harness started for this scenario ("http" or "stdio")."""
    from mcp import StdioServerParameters
    from mcp.client import Client

    variable = URL_VARIABLE if transport == "http" else COMMAND_VARIABLE
    value = os.environ.get(variable)
    if not value:
        raise RuntimeError(f"{variable} is not set: run this agent under `clerk-mcp eval`")
    if transport == "http":
        target: str | StdioServerParameters = value
    else:
        command, *args = shlex.split(value)
        target = StdioServerParameters(command=command, args=args)
    async with Client(target) as client:
        yield client


def main(agent: InProcessAgent, argv: list[str] | None = None) -> None:
    """Run `agent` once under the contract: request on stdin, answer on stdout (`--stdio` to connect over stdio)."""
    import anyio

    transport = "stdio" if "--stdio" in (sys.argv[1:] if argv is None else argv) else "http"
    request = sys.stdin.read()

    async def run() -> str:
        async with connect(transport) as client:
            return await agent(request, client)

    print(anyio.run(run))
