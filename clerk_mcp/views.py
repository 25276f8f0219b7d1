"""What a tool returns: Clerk's response shaped for a model — wrapped, redacted and, for lists, summarised.

Structured content must be a JSON object, so bare arrays become `{"data": [...]}`. `private_metadata`
is dropped everywhere unless the operator exposes it. `get_user_list` returns one short summary per
user by default (the fields a person needs to identify a user and act); `view="full"` returns
Clerk's complete records.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from .models import Args
from .operations import Operation
from .policy import redact_args

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
