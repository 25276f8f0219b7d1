"""The stdio transport, with a stdin that Ctrl-C can interrupt.

The SDK's `stdio_server()` reads stdin in a worker thread; a blocked `read()` cannot be cancelled, so on
SIGINT the server waits for the client's next line (or EOF) before it can stop, and a second Ctrl-C leaves
tracebacks. Here stdin is awaited on the event loop (`anyio.wait_readable`) and read only once data is there,
so cancellation is immediate. Where the event loop cannot watch stdin (a regular file or /dev/null, which never
block; Windows), the SDK's own reader is used. Everything else (framing, stdout) is the SDK's.
"""

from __future__ import annotations

import codecs
import os
import selectors
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from mcp.server.stdio import stdio_server

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

CHUNK = 64 * 1024


async def _lines(fd: int) -> AsyncIterator[str]:
    """Lines of UTF-8 text from `fd` (the newline kept, bad bytes replaced), read as they become available.
    A long line is kept in pieces until its newline arrives, so reading it costs time in proportion to its size."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    partial: list[str] = []
    while True:
        await anyio.wait_readable(fd)
        try:
            chunk = os.read(fd, CHUNK)
        except BlockingIOError:  # a descriptor someone made non-blocking can wake with nothing to read
            continue
        *complete, rest = decoder.decode(chunk, final=not chunk).split("\n")
        for line in complete:
            yield "".join(partial) + line + "\n"
            partial.clear()
        partial.append(rest)
        if not chunk:
            if "".join(partial):
                yield "".join(partial)
            return


def _watchable(fd: int) -> bool:
    """Whether the event loop can wait on `fd`: pipes, sockets and terminals, not regular files or /dev/null."""
    if sys.platform == "win32":
        return False
    with selectors.DefaultSelector() as selector:
        try:
            selector.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            return False
    return True


async def serve_stdio(server: MCPServer) -> None:
    """Serve MCP on stdin/stdout until EOF or cancellation (Ctrl-C)."""
    stdin = _lines(sys.stdin.fileno()) if _watchable(sys.stdin.fileno()) else None
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):  # type: ignore[arg-type]
        lowlevel = server._lowlevel_server
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
