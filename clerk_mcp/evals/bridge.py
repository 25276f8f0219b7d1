"""`python -m clerk_mcp.evals.bridge URL`: the stdio side of the one server `clerk-mcp eval` runs for a scenario.

An evaluated agent that connects over stdio starts this (its command line is `CLERK_EVAL_MCP_COMMAND`). It holds
no settings, no answers and no log: every JSON-RPC message from stdin goes to the harness's Streamable HTTP
endpoint at URL (loopback), and every message from there goes to stdout. So whatever the agent does to this
process or its files, the human's answers and the record of its calls stay in the harness's own process.
"""

from __future__ import annotations

import sys

import anyio


async def bridge(url: str) -> None:
    """Relay MCP messages between stdin/stdout and `url` until either side ends."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    from ..stdio import _error_for, _lines, _watchable

    stdin = _lines(sys.stdin.fileno()) if _watchable(sys.stdin.fileno()) else None
    async with stdio_server(stdin=stdin) as (from_agent, to_agent), \
            streamable_http_client(url) as (from_server, to_server, *_), anyio.create_task_group() as group:

        async def upstream() -> None:
            async for item in from_agent:  # an unreadable line is answered here, as the stdio server would
                if isinstance(item, Exception):
                    await to_agent.send(SessionMessage(_error_for(item)))
                else:
                    await to_server.send(item)
            group.cancel_scope.cancel()  # the agent closed stdin: the session is over

        async def downstream() -> None:
            async for item in from_server:
                if isinstance(item, Exception):
                    print(f"clerk-mcp eval bridge: {item}", file=sys.stderr)
                else:
                    await to_agent.send(item)
            group.cancel_scope.cancel()

        group.start_soon(upstream)
        group.start_soon(downstream)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m clerk_mcp.evals.bridge URL (started through `clerk-mcp eval`)", file=sys.stderr)
        return 2
    anyio.run(bridge, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
