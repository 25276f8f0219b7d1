"""Transcripts: every tool call and its result as JSON lines, and a replay that checks they are reproducible.

`--record PATH` (`Settings.record`) makes the server append one line per finished call: tool, arguments, whether it failed and its
result, with secret arguments and token values masked ("***"). `replay(path)` runs the same calls in
order against a fresh seeded sandbox, answering each confirmation as the human did (a recorded
decline is declined again), and reports every call whose result differs. Timestamps and trace ids
are not compared; ids that `create_*` calls generate are mapped to the replay's own, in later
arguments too. Calls made with a secret argument cannot be replayed and are reported as skipped.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_types import CallToolResult, ElicitResult

from .operations import BY_NAME
from .audit import SECRET_ARGS, redact_args
from .views import payload

# Tokens too: a transcript keeps results, and get_o_auth_access_token's result is a live token.
SECRET_FIELDS = SECRET_ARGS | {"token", "token_secret", "id_token", "access_token", "refresh_token"}
VOLATILE_FIELDS = frozenset({"clerk_trace_id", "trace_id", "lockout_expires_in_seconds", "retry_after_seconds"})
ANSWERS = {"declined": "decline", "cancelled": "cancel"}


def entry(tool: str, arguments: dict[str, Any], result: CallToolResult) -> dict[str, Any]:
    """One transcript line."""
    content = payload(result)
    return {"tool": tool, "arguments": redact_args(arguments, SECRET_FIELDS), "is_error": bool(result.is_error),
            "result": redact_args(content, SECRET_FIELDS)}


@dataclass(frozen=True)
class Replayed:
    line: int
    tool: str
    difference: str | None  # None: the same result
    skipped: bool = False


async def replay(path: Path) -> list[Replayed]:
    """Run a transcript's calls against a fresh seeded sandbox; one `Replayed` per line."""
    from mcp.client import Client

    from .server import build_server
    from .settings import Settings

    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]
    # model_validate skips the environment: a replay never reaches a real Clerk instance.
    server = build_server(Settings.model_validate({"secret_key": None}))
    ids: dict[str, str] = {}
    answer = {"action": "accept"}

    async def human(context: Any, params: Any) -> ElicitResult:
        approved = answer["action"] == "accept"
        return ElicitResult(action=answer["action"], content={"approve": True} if approved else None)

    report = []
    async with Client(server, elicitation_callback=human) as client:
        for number, was in enumerate(lines, 1):
            tool = was["tool"]
            if SECRET_ARGS & set(was["arguments"]):
                report.append(Replayed(number, tool, "a secret argument was not recorded", skipped=True))
                continue
            answer["action"] = ANSWERS.get(was["result"].get("decision"), "accept") if was["is_error"] else "accept"
            now = entry(tool, {}, await client.call_tool(tool, _renamed(was["arguments"], ids)))
            op = BY_NAME.get(tool)
            if op is not None and op.method == "POST" and not op.path_params and not now["is_error"]:
                _learn_ids(was["result"], now["result"], ids)
            difference = _difference(
                _stable({"is_error": was["is_error"], **_renamed(was["result"], ids)}),
                _stable({"is_error": now["is_error"], **now["result"]}),
            )
            report.append(Replayed(number, tool, difference))
    return report


def run_replay(path: Path) -> int:
    """`clerk-mcp replay PATH`: print the calls that differ or were skipped; exit 1 if any differ."""
    import anyio

    report = anyio.run(replay, path)
    for item in report:
        if item.difference:
            print(f"line {item.line} {item.tool}: {'skipped, ' if item.skipped else ''}{item.difference}")
    differing = sum(1 for item in report if item.difference and not item.skipped)
    skipped = sum(1 for item in report if item.skipped)
    print(f"{len(report)} calls: {len(report) - differing - skipped} same, {differing} differ, {skipped} skipped", file=sys.stderr)
    return 1 if differing else 0


def _learn_ids(was: Any, now: Any, ids: dict[str, str], key: str = "") -> None:
    """Map ids the recording's create call generated to the ones the replay's generated, position by position."""
    if isinstance(was, dict) and isinstance(now, dict):
        for k in was.keys() & now.keys():
            _learn_ids(was[k], now[k], ids, k)
    elif isinstance(was, list) and isinstance(now, list):
        for a, b in zip(was, now, strict=False):
            _learn_ids(a, b, ids, key)
    elif isinstance(was, str) and isinstance(now, str) and was != now and (key == "id" or key.endswith("_id")):
        ids.setdefault(was, now)


def _renamed(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _renamed(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, ids) for v in node]
    return ids.get(node, node) if isinstance(node, str) else node


def _stable(node: Any) -> Any:
    """`node` with the values that change from run to run (timestamps, trace ids) blanked."""
    if isinstance(node, dict):
        return {
            k: "<varies>" if v is not None and (k.endswith("_at") or k in VOLATILE_FIELDS) else _stable(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_stable(v) for v in node]
    return node


def _difference(was: Any, now: Any, where: str = "result") -> str | None:
    """Where two results first differ, in words; None when they are the same."""
    if isinstance(was, dict) and isinstance(now, dict):
        for k in sorted(was.keys() | now.keys()):
            found = _difference(was.get(k), now.get(k), f"{where}.{k}")
            if found:
                return found
        return None
    if isinstance(was, list) and isinstance(now, list):
        if len(was) != len(now):
            return f"{where}: recorded {len(was)} items, replayed {len(now)}"
        return next((d for i, (a, b) in enumerate(zip(was, now, strict=True)) if (d := _difference(a, b, f"{where}[{i}]"))), None)
    if was != now:
        return f"{where}: recorded {json.dumps(was)}, replayed {json.dumps(now)}"
    return None
