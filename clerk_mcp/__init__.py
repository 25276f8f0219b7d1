"""clerk-mcp: the users of a Clerk instance as MCP tools, behind a human-confirmation policy.

Public surface (everything else is private to the package):

- `OPERATIONS`, `Operation`, `Effect` — the one table the tools, policy, adapter and sandbox derive from.
- `ClerkClient` — the async HTTP adapter to Clerk's Backend API (or any Clerk-compatible server).
- `build_server` — the MCP server wired to a backend.
- `Settings` — every operator setting (flags, `CLERK_*` environment, policy file).
- The error tree in `clerk_mcp.errors`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
