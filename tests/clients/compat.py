"""The compatibility record of the client matrix and README's table rendered from it.

`compatibility.json` holds, per matrix cell (client × transport), the client's version and each leg's outcome:
"pass", "fail", or "n/a: why". A full matrix run with UPDATE_COMPAT=1 rewrites it and README's table at session
end (tests/clients/conftest.py); otherwise tests/clients/test_matrix.py checks that README shows exactly the
record and that the record is exactly this run's outcomes.

    UPDATE_COMPAT=1 python -m pytest tests/clients
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECORD = HERE / "compatibility.json"
README = HERE.parent.parent / "README.md"
START, END = "<!-- compat:start -->", "<!-- compat:end -->"
UPDATE = os.environ.get("UPDATE_COMPAT", "").lower() in ("1", "true", "yes")

# Every cell of the matrix, in table order: client key → (label, transports).
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mcp-python-legacy": ('MCP Python SDK `mcp.client.Client`, mode="legacy"', ("stdio", "http")),
    "mcp-python-auto": ('MCP Python SDK `mcp.client.Client`, mode="auto" (2026-07-28)', ("stdio", "http")),
    "sdk-latest": ("`@modelcontextprotocol/sdk` (latest 1.x)", ("stdio", "http")),
    "sdk-1-23": ("`@modelcontextprotocol/sdk` (gemini-cli's pin)", ("stdio", "http")),
    "inspector": ("MCP Inspector CLI (`--cli`)", ("stdio", "http")),
    "google-genai": ("google-genai MCP adapter (conversion only)", ("stdio",)),
    "openai-agents": ("OpenAI Agents SDK `agents.mcp` (no model run)", ("stdio", "http")),
}
CELLS = [f"{client}/{transport}" for client, (_, transports) in CLIENTS.items() for transport in transports]
TRANSPORTS = {"stdio": "stdio", "http": "Streamable HTTP"}


def load() -> dict[str, Any]:
    return json.loads(RECORD.read_text()) if RECORD.exists() else {}


def save(cells: dict[str, Any]) -> None:
    RECORD.write_text(json.dumps({cell: cells[cell] for cell in CELLS}, indent=2) + "\n")


def table(cells: dict[str, Any]) -> str:
    """README's compatibility table (Markdown) for the recorded `cells`."""
    rows = ["| Client or SDK | Version | Transport | Checked | Result |", "|---|---|---|---|---|"]
    for cell in CELLS:
        client, transport = cell.split("/")
        record = cells[cell]
        legs = record["legs"]
        checked = ", ".join(leg for leg, outcome in legs.items() if not outcome.startswith("n/a"))
        not_applicable = {outcome.removeprefix("n/a: ") for outcome in legs.values() if outcome.startswith("n/a")}
        for why in sorted(not_applicable):
            skipped = ", ".join(leg for leg, outcome in legs.items() if outcome == f"n/a: {why}")
            checked += f"; not {skipped} ({why})"
        failed = [leg for leg, outcome in legs.items() if outcome == "fail"]
        result = f"fails: {', '.join(failed)}" if failed else "pass"
        rows.append(f"| {CLIENTS[client][0]} | {record['version']} | {TRANSPORTS[transport]} | {checked} | {result} |")
    return "\n".join(rows)


def readme_table() -> str:
    """The table between README's compat markers."""
    text = README.read_text()
    return text[text.index(START) + len(START):text.index(END)].strip()


def write_readme(cells: dict[str, Any]) -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    README.write_text(f"{head}{START}\n{table(cells)}\n{END}{rest.split(END, 1)[1]}")
