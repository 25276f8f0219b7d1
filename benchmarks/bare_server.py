"""The cold-start floor: a one-tool `MCPServer` and nothing else, which `cold_start.py` measures us against."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    server.run("stdio")
