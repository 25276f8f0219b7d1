"""The stdio transport, with a stdin that Ctrl-C can interrupt.

The SDK's `stdio_server()` reads stdin in a worker thread; a blocked `read()` cannot be cancelled, so on
SIGINT the server waits for the client's next line (or EOF) before it can stop, and a second Ctrl-C leaves
tracebacks. Here stdin is awaited on the event loop (`anyio.wait_readable`) and read only once data is there,
so cancellation is immediate. Where the event loop cannot watch stdin (a regular file or /dev/null, which never
block; Windows), the SDK's own reader is used. Everything else (framing, stdout) is the SDK's.
"""

from __future__ import annotations

import codecs
import json
import os
import selectors
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

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
        messages, received = anyio.create_memory_object_stream[Any](0)
        async with anyio.create_task_group() as group:
            group.start_soon(_answer_unreadable, read_stream, messages, write_stream)
            await lowlevel.run(received, write_stream, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()


async def _answer_unreadable(lines: Any, messages: Any, out: Any) -> None:
    """Pass messages on; answer a line that is no JSON-RPC message with an error, as the HTTP transport does.

    The SDK's stdio reader hands such a line on as an exception, which the session only logs: the client
    would wait for an answer forever (JSON-RPC 2.0 §5.1: -32700 for text that is not JSON, -32600 otherwise).
    """
    async with messages:
        async for item in lines:
            if isinstance(item, Exception):
                await out.send(SessionMessage(_error_for(item)))
            else:
                await messages.send(item)


def _error_for(problem: Exception) -> JSONRPCError:
    """The error answering an unreadable line, with the request's id where the line still shows one."""
    first = problem.errors()[0] if isinstance(problem, ValidationError) and problem.errors() else {}
    raw = first.get("input")
    if first.get("type") == "json_invalid":  # pydantic's JSON is stricter than JSON (lone surrogates): try Python's
        try:
            raw = json.loads(raw)
        except (TypeError, ValueError):
            return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error: the line is not JSON"))
    request_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
        request_id = None
    return JSONRPCError(
        jsonrpc="2.0", id=request_id,
        error=ErrorData(code=INVALID_REQUEST, message="Invalid request: not a JSON-RPC message this server can read"),
    )
