"""Asking the human: the question's wording, and the two ways MCP puts it to a person.

Confirmation is asked through MCP elicitation and can never be granted by a tool argument: the models reject
unknown arguments, and an approval is only read from the client's elicitation answer, bound to one question and
usable once. On protocol 2026-07-28 the question travels in an `InputRequiredResult` whose sealed request state
carries a fresh nonce and the question's digest; older protocol versions ask mid-call with `elicitation/create`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mcp.server.elicitation import render_elicitation_schema
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .audit import SECRET_ARGS
from .errors import PolicyRefusal
from .models import Args
from .operations import BY_NAME, Operation
from .policy import Decision
from .state import SharedState

INPUT_REQUIRED_VERSION = "2026-07-28"
CONFIRM_KEY = "confirm"
# Longer than sealed request state lives (10 min): a nonce is remembered for as long as it could be replayed.
APPROVAL_TTL = 3600.0


class Approval(BaseModel):
    """The form the human answers. Only `approve: true` inside an accepted answer approves."""

    # Strict: "yes", "true" or 1 are not the boolean asked for, so they are not a yes.
    model_config = ConfigDict(strict=True)

    approve: bool = Field(description="Yes, do this")


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


def _shown(value: Any) -> str:
    return plain(json.dumps(value, ensure_ascii=False))


def _argument(args: Args, name: str) -> str:
    """One argument as a question shows it: its value, capped, unless it is a secret."""
    return f"{name} (new value hidden)" if name in SECRET_ARGS else f"{name} = {_shown(getattr(args, name))}"


def build_question(
    op: Operation, args: Args, targets: list[dict[str, Any]], decision: Decision, *, production: bool,
    requested_by: str | None = None,
) -> Question:
    """The question for `op` on the users `targets` (re-read): what, on whom, which sensitive fields and privileged
    metadata keys it writes (with their new values, except secrets), what follows, and (over OAuth) who asked for it."""
    notes = [f"{name}: {plain(getattr(args, name))}." for name in op.path_params if name != "user_id"]
    named = getattr(args, op.target_arg) if op.target_arg else None
    if isinstance(named, list):  # a bulk call: say which of the ids name no user (Clerk refuses the call for them)
        missing = [user_id for user_id in named if user_id not in {t.get("id") for t in targets}]
        if missing:
            notes.append(f"No such user: {', '.join(plain(user_id) for user_id in missing)}.")
    if decision.fields:
        notes.append(f"Changes: {'; '.join(_argument(args, name) for name in decision.fields)}.")
    if decision.privileged:
        # A private_metadata value stays hidden, as everywhere (it may hold an operator's secrets); its key shows.
        shown = [f"{key} deleted" if key.value is None else f"{key} (new value hidden)" if key.field in SECRET_ARGS
                 else f"{key} = {_shown(key.value)}" for key in decision.privileged]
        notes.append(f"Privileged metadata keys: {'; '.join(shown)}.")
    rest = sorted(args.model_fields_set - set(decision.fields) - {k.field for k in decision.privileged}
                  - set(op.path_params) - op.local_fields)
    if rest:  # everything else the call sends, so the human approves the whole call, not part of it
        label = "Also changes" if decision.fields or decision.privileged else "With"
        notes.append(f"{label}: {'; '.join(_argument(args, name) for name in rest)}.")
    if decision.alternative:
        notes.append(
            f"Or tick 'instead' to {decision.alternative.title.lower()}: it {decision.alternative.consequence}, and can be undone."
        )
    prefix = "PRODUCTION: " if production else ""
    extra = "".join(" " + note for note in notes)
    user = "".join(f"\nUser: {describe_target(target)}" for target in targets)
    requester = f"\nRequested by {plain(requested_by, 160)}." if requested_by else ""
    return Question(
        f"{prefix}{op.title}?{user}\nThis {op.consequence}.{extra}{requester}\nApprove only if you asked for this.",
        asked=op.name,
        alternative=decision.alternative.name if decision.alternative else None,
    )


@dataclass(frozen=True)
class ScriptedAnswers:
    """The human's answers fixed in advance, per tool: how an evaluation scenario plays the human (clerk_mcp/evals).

    `answers` maps a tool to "approve", "decline", "cancel" or "instead" (approve the question's reversible
    alternative; with no alternative offered that is a no, never a yes to the call itself); a tool not listed is
    declined. The program that builds the server gives it (`build_server(...,
    answerer=...)`); no setting, tool argument or client message can, and with it no client is ever asked. Each
    answer goes through `Question.chosen` as a human's would, and the server audits it as "scripted".
    """

    answers: Mapping[str, str] = field(default_factory=dict)

    def answer(self, question: Question) -> str:
        """The operation approved for `question`, or the `PolicyRefusal` a human's no would raise."""
        given = self.answers.get(question.asked, "decline")
        if given == "instead" and question.alternative is None:
            given = "decline"  # "ban instead" when no ban is offered: the human did not approve the delete
        content = {"approve": True, "instead": True} if given == "instead" else {"approve": True}
        return question.chosen("accept" if given in ("approve", "instead") else given, content)


class Confirmation:
    """Puts a call's question to the human and returns the operation they approved.

    `fetch_targets` re-reads the users a call acts on (`Operation.target_arg`) so the question shows them as they
    are now; `shared` is where a 2026-07-28 question's nonce is spent, so an answer approves one call, once, on
    any replica or process.
    """

    def __init__(
        self, fetch_targets: Callable[[Operation, Args], Awaitable[list[dict[str, Any]]]], shared: SharedState, *,
        production: bool, script: ScriptedAnswers | None = None,
    ) -> None:
        self.fetch_targets = fetch_targets
        self.shared = shared
        self.production = production
        self.script = script

    async def question(
        self, op: Operation, args: Args, decision: Decision, targets: list[dict[str, Any]] | None = None,
        requested_by: str | None = None,
    ) -> Question:
        """The question, naming the users as they are now (re-fetched unless given) and the caller who asked."""
        if targets is None:
            targets = await self.fetch_targets(op, args)
        return build_question(op, args, targets, decision, production=self.production, requested_by=requested_by)

    async def ask(
        self, ctx: Any, op: Operation, args: Args, decision: Decision, targets: list[dict[str, Any]] | None = None,
        requested_by: str | None = None,
    ) -> InputRequiredResult | Operation:
        """Ask; returns the operation approved (`op` or the decision's alternative), an `InputRequiredResult`
        for the client to answer (2026-07-28), or raises `PolicyRefusal` for anything but a yes. `targets`, when
        this call already read them, are shown as read."""
        if self.script is not None:  # an evaluation: the scenario plays the human, and no client is asked
            return BY_NAME[self.script.answer(await self.question(op, args, decision, targets))]
        require_elicitation(ctx)
        question = await self.question(op, args, decision, targets, requested_by=requested_by)
        version = ctx.protocol_version
        if version is not None and version >= INPUT_REQUIRED_VERSION:
            chosen = await self._input_required(ctx, question)
        else:
            chosen = await _elicit(ctx, question)
        return chosen if isinstance(chosen, InputRequiredResult) else BY_NAME[chosen]

    async def _input_required(self, ctx: Any, question: Question) -> InputRequiredResult | str:
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
        if not await self.shared.claim(f"approval:{state['nonce']}", APPROVAL_TTL):
            raise PolicyRefusal("This confirmation was already used; nothing was sent. Ask again.", decision="replayed")
        if not isinstance(answer, ElicitResult):
            raise PolicyRefusal("The confirmation answer was not an elicitation result; nothing was sent.", decision="declined")
        return question.chosen(answer.action, answer.content)


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


async def _elicit(ctx: Any, question: Question) -> str:
    """Ask mid-call with `elicitation/create` (protocol versions before 2026-07-28)."""
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


def _load_state(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) and isinstance(state.get("nonce"), str) else None
