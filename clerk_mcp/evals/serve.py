"""`python -m clerk_mcp.evals.serve SESSION.json`: the stdio server an evaluated agent may start (its command line
is in `CLERK_EVAL_MCP_COMMAND`), on the same sandbox and with the same scripted human as the HTTP endpoint.

The session file is written by the harness for one scenario: the server's settings (the sandbox's loopback URL and
key, the run's audit log and transcript) and the scenario's answers. Nothing is read from the environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m clerk_mcp.evals.serve SESSION.json (written by `clerk-mcp eval`)", file=sys.stderr)
        return 2
    import anyio

    from ..confirmation import ScriptedAnswers
    from ..server import build_server
    from ..settings import Settings
    from ..stdio import serve_stdio

    session = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    server = build_server(Settings.model_validate(session["settings"]), answerer=ScriptedAnswers(session["answers"]))
    anyio.run(serve_stdio, server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
