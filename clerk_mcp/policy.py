"""The policy layer: which tools exist, which calls run, which need a human's yes, and the audit trail.

Decisions come from the operation table (effect classes, confirm fields) and the operator's settings;
no tool is special-cased here. Confirmation is asked of the human through MCP elicitation and can
never be granted by a tool argument: the models reject unknown arguments, and an approval is only
read from the client's elicitation answer, bound to one call and usable once.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import secrets
import threading
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mcp.server.elicitation import render_elicitation_schema
from mcp.shared.exceptions import MCPError
from mcp_types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .errors import PolicyRefusal
from .models import Args
from .operations import BY_NAME, OPERATIONS, STATUS_TOOL, Effect, Operation
from .settings import ConfirmMode, Settings
from .state import SharedState

logger = logging.getLogger(__name__)

# Argument values that never reach a log, an audit line, a transcript, a preview or an error message.
# `private_metadata` too: results hide it by default, and an operator's API keys or notes kept there are no
# business of an audit trail.
SECRET_ARGS = frozenset({"password", "password_digest", "code", "totp_secret", "backup_codes", "file_base64", "private_metadata"})
INPUT_REQUIRED_VERSION = "2026-07-28"
CONFIRM_KEY = "confirm"
# Longer than sealed request state lives (10 min): a nonce is remembered for as long as it could be replayed.
APPROVAL_TTL = 3600.0


class Approval(BaseModel):
    """The form the human answers. Only `approve: true` inside an accepted answer approves."""

    # Strict: "yes", "true" or 1 are not the boolean asked for, so they are not a yes.
    model_config = ConfigDict(strict=True)

    approve: bool = Field(description="Yes, do this")


class Policy:
    """The operator's settings applied to the operation table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowed = _expand(settings.tools, "--tools")
        self.denied = _expand(settings.deny_tools, "--deny-tools")
        self.production = settings.backend_kind == "production"
        if self.production and settings.confirm is ConfirmMode.APPROVE and not settings.allow_approve_live:
            raise ValueError(
                "confirm=approve with a production (sk_live_) key needs --allow-approve-live: "
                "it would run destructive calls with no human asked"
            )
        self.toolsets: set[str] = set(settings.toolsets)  # the toolsets on (design §2)
        self.visible: tuple[Operation, ...] = tuple(op for op in OPERATIONS if self.hidden_reason(op) is None)

    @property
    def offers_status(self) -> bool:
        """`clerk_status` only reads this server, so read-only mode keeps it; allow and deny lists apply."""
        return STATUS_TOOL not in self.denied and (not self.settings.tools or STATUS_TOOL in self.allowed)

    def hidden_reason(self, op: Operation) -> str | None:
        """Why `op` is not offered at all (deny > read-only > allow), or None when it is."""
        if op.name in self.denied:
            return f"{op.name} is denied by the operator's policy"
        if op.toolset not in self.toolsets:
            return f"{op.name} is in the {op.toolset} toolset, which is off; the operator can add it with --toolsets"
        if self.production and op.effect is Effect.DESTRUCTIVE and not self.settings.allow_destructive_live:
            return f"{op.name} is off with a production (sk_live_) key; the operator can enable it with --allow-destructive-live"
        if self.settings.read_only and op.effect is not Effect.READ:
            return f"{op.name} is not available: the server runs in read-only mode"
        if self.settings.tools and op.name not in self.allowed:
            return f"{op.name} is not in the operator's allow-list"
        return None

    def decide(self, op: Operation, args: Args) -> str:
        """For a visible operation: "allowed", "confirm" (ask the human), "pre-approved" or "refused"."""
        if not self.needs_confirmation(op, args):
            return "allowed"
        return CONFIRM_RULES[self.settings.confirm]

    def needs_confirmation(self, op: Operation, args: Args) -> bool:
        return op.needs_confirmation or bool(op.confirm_fields & args.model_fields_set)

    def sensitive_fields(self, op: Operation, args: Args) -> list[str]:
        return sorted(op.confirm_fields & args.model_fields_set)

    def describe(self, op: Operation) -> dict[str, Any]:
        """The effective rule for one tool, as `clerk-mcp policy` prints it."""
        hidden = self.hidden_reason(op)
        if hidden:
            rule = "hidden"
        elif op.needs_confirmation:
            rule = CONFIRM_RULES[self.settings.confirm]
        elif op.confirm_fields:
            rule = f"allowed; {CONFIRM_RULES[self.settings.confirm]} when touching {', '.join(sorted(op.confirm_fields))}"
        elif op.effect is Effect.VERIFY:
            rule = f"allowed within {self.settings.verify_attempts} attempts per user per {self.settings.verify_window:g}s"
        else:
            rule = "allowed"
        return {"tool": op.name, "effect": op.effect.value, "rule": rule, **({"reason": hidden} if hidden else {})}


# What each confirmation mode makes of a call that needs a human's yes.
CONFIRM_RULES = {ConfirmMode.ELICIT: "confirm", ConfirmMode.DENY: "refused", ConfirmMode.APPROVE: "pre-approved"}


def _expand(patterns: list[str], flag: str) -> frozenset[str]:
    """Tool names matched by names or globs (`get_*`). Fails closed: a pattern matching no tool is an error,
    never a silently different tool set."""
    names = [op.name for op in OPERATIONS] + [STATUS_TOOL]
    matched: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise ValueError(f"{flag}: {pattern!r} matches no tool; tools are: {', '.join(names)}")
        matched.update(hits)
    return frozenset(matched)


class AttemptBudget:
    """Per-user sliding window of verify attempts, so a model cannot brute-force a password or code. Counted in
    the shared state, so landing on another replica buys no extra attempts."""

    def __init__(self, state: SharedState, limit: int, window: float) -> None:
        self.state = state
        self.limit = limit
        self.window = window

    async def take(self, user_id: str) -> None:
        wait = await self.state.take(f"verify:{user_id}", self.limit, self.window)
        if wait:
            raise PolicyRefusal(
                f"Too many verification attempts for {user_id}: {self.limit} per {self.window:g}s. "
                f"Try again in {wait:.0f}s.",
                decision="over_budget",
                retry_after=wait,
            )

    async def remaining(self, user_id: str) -> int:
        return self.limit - await self.state.count(f"verify:{user_id}", self.window)


@dataclass(frozen=True)
class Question:
    """What the human is asked: the action, the re-fetched target and the consequence.

    With an `alternative` (a reversible operation offered in the same question), the form adds a
    second checkbox: approving with it ticked runs the alternative instead.
    """

    message: str
    asked: str
    alternative: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.message}|{self.alternative}".encode()).hexdigest()[:32]

    @property
    def form(self) -> type[BaseModel]:
        return _alternative_form(self.alternative) if self.alternative else Approval

    def chosen(self, action: str, content: Any) -> str:
        """The operation the human approved, or a `PolicyRefusal` for anything but a well-formed yes."""
        if action == "cancel":
            raise PolicyRefusal("The human cancelled the confirmation; nothing was sent to Clerk.", decision="cancelled")
        if action != "accept":
            raise PolicyRefusal("The human declined; nothing was sent to Clerk.", decision="declined")
        try:
            answer = self.form.model_validate(content if isinstance(content, dict) else {})
        except ValidationError:
            raise PolicyRefusal(
                "The confirmation answer did not have the form asked for, so it counts as declined; "
                "nothing was sent to Clerk.",
                decision="declined",
            ) from None
        if answer.approve is not True:  # type: ignore[attr-defined]
            raise PolicyRefusal("The human declined; nothing was sent to Clerk.", decision="declined")
        return self.alternative if getattr(answer, "instead", False) else self.asked  # type: ignore[return-value]


@lru_cache
def _alternative_form(alternative: str) -> type[BaseModel]:
    """`Approval` plus a checkbox to run the reversible `alternative` instead."""
    return create_model(
        "ApprovalWithAlternative",
        __base__=Approval,
        instead=(
            bool,
            Field(False, title=f"{BY_NAME[alternative].title} instead", description="reversible; approve must be ticked too"),
        ),
    )


def describe_target(user: dict[str, Any]) -> str:
    """One line naming the user: id, primary email, ban and lock state first, then the name, quoted.

    Names and emails are written by end users (and by the model, through update_user): control, format and
    bidi characters are dropped and the text is capped, so it cannot add lines to a question or reorder it.
    """
    email = next(
        (e.get("email_address") for e in user.get("email_addresses") or [] if e.get("id") == user.get("primary_email_address_id")),
        None,
    )
    states = [s for s in ("banned", "locked") if user.get(s)]
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return (
        f"{user.get('id')}"
        + (f" <{plain(email)}>" if email else "")
        + (f" [{', '.join(states)}]" if states else "")
        + (f" — name {json.dumps(plain(name), ensure_ascii=False)}" if name else "")
    )


def plain(text: Any, limit: int = 64) -> str:
    """User-written text safe to show in one line of a question: no control or invisible characters, capped."""
    cleaned = "".join(ch for ch in str(text) if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def build_question(
    op: Operation, args: Args, target: dict[str, Any], sensitive: list[str], *, production: bool
) -> Question:
    """The question for `op` on `target`: what, on whom, with which sensitive fields, and what follows."""
    notes = [f"{name}: {plain(getattr(args, name))}." for name in op.path_params if name != "user_id"]
    if sensitive:
        shown = [f"{name} (new value hidden)" if name in SECRET_ARGS else f"{name} = {plain(json.dumps(getattr(args, name)))}"
                 for name in sensitive]
        notes.append(f"Changes: {'; '.join(shown)}.")
        others = sorted(args.model_fields_set - set(sensitive) - set(op.path_params) - op.local_fields)
        if others:
            notes.append(f"Also changes: {', '.join(others)}.")
    if op.alternative:
        alternative = BY_NAME[op.alternative]
        notes.append(f"Or tick 'instead' to {alternative.title.lower()}: it {alternative.consequence}, and can be undone.")
    prefix = "PRODUCTION: " if production else ""
    extra = "".join(" " + note for note in notes)
    return Question(
        f"{prefix}{op.title}?\nUser: {describe_target(target)}\nThis {op.consequence}.{extra}\nApprove only if you asked for this.",
        asked=op.name,
        alternative=op.alternative,
    )


def require_elicitation(ctx: Any) -> None:
    """Refuse, before anything is fetched or sent, when the client cannot put a question to a human."""
    capabilities = getattr(ctx, "client_capabilities", None)
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        raise PolicyRefusal(
            "This call needs a human's confirmation, and this MCP client cannot ask for it (no form elicitation). "
            "Use a client that supports elicitation, or an operator can start clerk-mcp with "
            "--confirm approve to pre-approve such calls for trusted automation.",
            decision="refused",
        )


async def confirm(ctx: Any, question: Question, shared: SharedState) -> InputRequiredResult | str:
    """Ask the human about `question`; returns the operation they approved, or raises `PolicyRefusal`.

    On protocol 2026-07-28 the question travels in an `InputRequiredResult` whose (sealed) request
    state carries a fresh nonce and the question's digest; the client's retry is approved only if
    the same question is still the one being asked and the nonce has not been used (claimed in
    `shared`, so not on any replica either). Older protocol versions ask mid-call with `elicitation/create`.
    """
    version = ctx.protocol_version
    if version is not None and version >= INPUT_REQUIRED_VERSION:
        return await _confirm_input_required(ctx, question, shared)
    try:
        result = await ctx.elicit(question.message, question.form)
    except ValueError:
        # The SDK raises when an accepted answer has no content or not the form asked for: not a yes.
        raise PolicyRefusal(
            "The confirmation answer did not have the form asked for, so it counts as declined; nothing was sent to Clerk.",
            decision="declined",
        ) from None
    except MCPError:
        # The client could not put the question to a human (it answered the request with an error): refuse.
        raise PolicyRefusal(
            "The client failed to ask for confirmation, so the call is refused; nothing was sent to Clerk.",
            decision="refused",
        ) from None
    data = getattr(result, "data", None)
    return question.chosen(result.action, data.model_dump() if isinstance(data, BaseModel) else None)


async def _confirm_input_required(ctx: Any, question: Question, shared: SharedState) -> InputRequiredResult | str:
    state = _load_state(ctx.request_state)
    answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
    if state is None or answer is None or state.get("q") != question.digest:
        # First round, or the target changed since the question was shown: ask (again) with a new nonce.
        request = ElicitRequest(
            params=ElicitRequestFormParams(message=question.message, requested_schema=render_elicitation_schema(question.form))
        )
        new_state = json.dumps({"nonce": secrets.token_urlsafe(16), "q": question.digest})
        return InputRequiredResult(input_requests={CONFIRM_KEY: request}, request_state=new_state)
    # Any answer spends the question's nonce: a declined or cancelled state cannot be re-sent as a yes.
    if not await shared.claim(f"approval:{state['nonce']}", APPROVAL_TTL):
        raise PolicyRefusal("This confirmation was already used; nothing was sent. Ask again.", decision="replayed")
    if not isinstance(answer, ElicitResult):
        raise PolicyRefusal("The confirmation answer was not an elicitation result; nothing was sent.", decision="declined")
    return question.chosen(answer.action, answer.content)


def _load_state(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) and isinstance(state.get("nonce"), str) else None


def loggable_args(arguments: Any, declared: Collection[str]) -> dict[str, Any]:
    """Arguments as an audit line or transcript may keep them: values only for the tool's declared, non-secret
    fields. A misspelt field (`new_password`, `pass\u200bword`) may still hold a secret, so its value goes too."""
    if not isinstance(arguments, dict):
        return {}
    return {
        str(k): "***" if k not in declared or k in SECRET_ARGS else redact_args(v) for k, v in arguments.items()
    }


def redact_args(node: Any, fields: frozenset[str] = SECRET_ARGS) -> Any:
    """`node` as it may appear in a log: values under secret `fields` replaced by "***", at any depth (an
    invalid call may carry a password inside an unknown argument)."""
    if isinstance(node, dict):
        return {k: ("***" if k in fields and v is not None else redact_args(v, fields)) for k, v in node.items()}
    if isinstance(node, list):
        return [redact_args(v, fields) for v in node]
    return node


class AuditLog:
    """One JSON line per tool call, written with a single `write` to an O_APPEND file so lines never interleave."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        """Append `record`; a failed write (a full disk) is reported on stderr, since the call it records has run."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        try:
            with self._lock:
                os.write(self._fd, line)
        except OSError as exc:
            logger.error("clerk-mcp: could not append to %s (%s); the call's result is returned", self.path, exc.strerror)

    def close(self) -> None:
        os.close(self._fd)

