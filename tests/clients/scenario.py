"""The one scenario every client of the matrix runs on the embedded sandbox, and the checks that judge what the
client showed its caller (a host, a model). Clients only report observations; judging happens here, once, so every
client is held to the same checks.

An observation is what the client hands back: `{"tools": [names]}` for tools/list; `{"is_error", "text",
"structured"}` for a call (`is_error`/`structured` None where the client does not pass them on, e.g. the OpenAI
Agents SDK gives the model text only); `{"thrown": message}` when the client raised instead of showing the result —
which fails every leg, since the model then never sees the message.

Seed users (clerk_mcp/sandbox/SEED.md): Jane is read and written, Ada deleted with the human's approval, Grace's
deletion is declined and then refused. The 404 text is the sandbox's Clerk error for an unknown user
(the catalogue entry UserNotFound, `long_message` "No user was found with id <userID>").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"
ADA = "user_vBDf9fjdIEy9b3e5woqBTC8jES2"
GRACE = "user_wgFlmjOYeqLvrZ7sPDStU3iZA5q"
UNKNOWN = "user_2zzNoSuchUserZZZZZZZZZZZZZZ"
APPROVE = {"action": "accept", "content": {"approve": True}}
DECLINE = {"action": "decline"}


@dataclass(frozen=True)
class Step:
    leg: str
    tool: str | None = None  # None: list the tools
    arguments: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] | None = None  # the human's answer to an elicitation (MCP ElicitResult)
    elicitation: bool = True  # False: called through a client without the elicitation capability

    def as_json(self) -> dict[str, Any]:
        return {"leg": self.leg, "tool": self.tool, "arguments": self.arguments, "answer": self.answer,
                "elicitation": self.elicitation}


SCENARIO = (
    Step("list"),
    Step("read", "get_user", {"user_id": JANE}),
    Step("write", "update_user_metadata", {"user_id": JANE, "public_metadata": {"matrix": "seen"}}),
    Step("error", "get_user", {"user_id": UNKNOWN}),
    Step("invalid", "get_user_list", {"limit": 0}),
    Step("accepted", "delete_user", {"user_id": ADA}, answer=APPROVE),
    Step("declined", "delete_user", {"user_id": GRACE}, answer=DECLINE),
    Step("refused", "delete_user", {"user_id": GRACE}, elicitation=False),
)
STEPS = {step.leg: step for step in SCENARIO}
CONFIRM_LEGS = ("accepted", "declined")  # need a client-side elicitation handler


def _success(seen: dict[str, Any], needle: str, structured_ok: Any) -> str | None:
    if seen["is_error"]:
        return f"error result: {seen['text'][:200]}"
    if needle not in seen["text"]:
        return f"{needle!r} not in the text: {seen['text'][:200]}"
    if seen["structured"] is not None and not structured_ok(seen["structured"]):
        return f"structured content: {str(seen['structured'])[:200]}"
    return None


def _failure(seen: dict[str, Any], needle: str) -> str | None:
    if seen["is_error"] is False:
        return f"not an error result: {seen['text'][:200]}"
    if needle.lower() not in seen["text"].lower():
        return f"{needle!r} not shown: {seen['text'][:200]}"
    return None


def judge(leg: str, seen: dict[str, Any], tool_names: set[str]) -> str | None:
    """None when the client showed what the leg expects, else why not (one line)."""
    if "thrown" in seen:
        return f"client threw: {seen['thrown'][:200]}"
    if leg == "list":
        return None if set(seen["tools"]) == tool_names else f"tools differ: {sorted(set(seen['tools']) ^ tool_names)}"
    if leg == "read":
        return _success(seen, JANE, lambda s: s.get("id") == JANE)
    if leg == "write":
        return _success(seen, "seen", lambda s: s.get("public_metadata", {}).get("matrix") == "seen")
    if leg == "accepted":
        return _success(seen, ADA, lambda s: s.get("deleted") is True)
    if leg == "error":
        return _failure(seen, "No user was found with id")
    if leg == "invalid":
        return _failure(seen, "limit")
    if leg == "declined":
        return _failure(seen, "declined")
    if leg == "refused":
        return _failure(seen, "elicitation")
    raise ValueError(leg)
