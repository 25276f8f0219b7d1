"""The policy: which tools exist, which calls run, and which need a human's yes — decided once per call.

Decisions come from the operation table (effect classes, confirm fields, privilege-raising rows, metadata and
password arguments) and the operator's settings; no tool is special-cased here. `Policy.decide` returns a
`Decision` that says everything the rest of the call needs: the rule, what makes the call need a human, and the
alternative the question may offer. Asking is `confirmation.py`'s job; writing it down is `audit.py`'s.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from .errors import PolicyRefusal
from .models import Args
from .operations import BY_NAME, OPERATIONS, STATUS_TOOL, Effect, Operation
from .settings import ConfirmMode, Settings
from .state import SharedState

Rule = Literal["allowed", "confirm", "pre-approved", "refused"]
# What each confirmation mode makes of a call that needs a human's yes.
CONFIRM_RULES: dict[ConfirmMode, Rule] = {
    ConfirmMode.ELICIT: "confirm", ConfirmMode.DENY: "refused", ConfirmMode.APPROVE: "pre-approved",
}


@dataclass(frozen=True)
class Privileged:
    """A metadata key the call writes that the operator lists as privileged: where, and the new value (None
    deletes it)."""

    field: str  # public_metadata, private_metadata or unsafe_metadata
    path: str  # the key's dotted path inside that field, e.g. "org.role" or "roles[0]"
    value: Any

    def __str__(self) -> str:
        return f"{self.field}.{self.path}"


@dataclass(frozen=True)
class Decision:
    """What the policy makes of one visible call.

    `rule` is "allowed", "confirm" (ask the human), "pre-approved" (the operator said yes in advance) or
    "refused" (confirm=deny). `fields` are the arguments that make it need a human, `privileged` the privileged
    metadata keys it writes; `alternative` is the reversible operation the question may offer instead, present
    only when the same policy would let it run (design §3).
    """

    rule: Rule
    fields: tuple[str, ...] = ()
    privileged: tuple[Privileged, ...] = ()
    alternative: Operation | None = None

    @property
    def asks_human(self) -> bool:
        return self.rule == "confirm"


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
        # The toolsets on (design §2); with --dynamic-toolsets only those named, until the model enables more.
        named = not settings.dynamic_toolsets or "toolsets" in settings.model_fields_set
        self.toolsets: set[str] = set(settings.toolsets) if named else set()
        # Every metadata key a role matches on is privileged too: a caller who could write it unasked could give
        # themselves that role (clerk_mcp/roles.py). Escaped, so a key is matched as written, not as a glob.
        role_keys = (glob.escape(key) for role in settings.roles.values() for key in role.match.public_metadata)
        self.privileged_keys = tuple(dict.fromkeys(p.lower() for p in (*settings.privileged_metadata_keys, *role_keys)))
        self.visible: tuple[Operation, ...] = self._visible()

    def _visible(self) -> tuple[Operation, ...]:
        return tuple(op for op in OPERATIONS if self.hidden_reason(op) is None)

    def enable(self, toolset: str) -> bool:
        """Turn a toolset on (--dynamic-toolsets); False when it already was."""
        if toolset in self.toolsets:
            return False
        self.toolsets.add(toolset)
        self.visible = self._visible()
        return True

    @property
    def offers_status(self) -> bool:
        """`clerk_status` only reads this server, so read-only mode keeps it; allow and deny lists apply."""
        return STATUS_TOOL not in self.denied and (not self.settings.tools or STATUS_TOOL in self.allowed)

    def hidden_reason(self, op: Operation) -> str | None:
        """Why `op` is not offered at all (deny > read-only > allow), or None when it is."""
        if op.name in self.denied:
            return f"{op.name} is denied by the operator's policy"
        if op.toolset not in self.toolsets:
            enable = "enable_toolset, or " if self.settings.dynamic_toolsets else ""
            return f"{op.name} is in the {op.toolset} toolset, which is off; turn it on with {enable}--toolsets {op.toolset}"
        if self.production and op.effect is Effect.DESTRUCTIVE and not self.settings.allow_destructive_live:
            return f"{op.name} is off with a production (sk_live_) key; the operator can enable it with --allow-destructive-live"
        if self.settings.read_only and op.effect is not Effect.READ:
            return f"{op.name} is not available: the server runs in read-only mode"
        if self.settings.tools and op.name not in self.allowed:
            return f"{op.name} is not in the operator's allow-list"
        return None

    def reads_current(self, op: Operation, args: Args) -> bool:
        """Whether `decide` needs the target user's current record: a metadata write to an existing user can remove
        a privileged key by deleting or replacing what holds it, which only the record shows. Not with
        confirm=approve, where the call runs either way (the request is spared; the audit then says "allowed")."""
        return (
            bool(self.privileged_keys and op.metadata_fields & args.model_fields_set)
            and "user_id" in op.path_params and self.settings.confirm is not ConfirmMode.APPROVE
        )

    def decide(self, op: Operation, args: Args, current: dict[str, Any] | None = None) -> Decision:
        """The rule for this call of a visible operation, and what the question (if any) must show.

        `current` is the target user's record when `reads_current` says it is needed (None for a new user)."""
        fields = tuple(sorted(self._confirm_fields(op) & args.model_fields_set))
        privileged: dict[tuple[str, str], Privileged] = {}
        for field in sorted(op.metadata_fields & args.model_fields_set):
            new = getattr(args, field)
            old = (current or {}).get(field)
            # PATCH deep-merges (Clerk's UpdateUserMetadata); any other method replaces the whole object.
            removed = _removed(old, new) if op.method == "PATCH" else [("", old)]
            for path, subtree in removed:
                for found in self._privileged(field, subtree, path):
                    privileged[(field, found.path)] = Privileged(field, found.path, None)
            for found in self._privileged(field, new):
                privileged[(field, found.path)] = found
        if not (op.always_asks or fields or privileged):
            return Decision("allowed")
        rule = CONFIRM_RULES[self.settings.confirm]
        alternative = self._alternative(op, args) if rule == "confirm" else None
        return Decision(rule, fields, tuple(privileged.values()), alternative)

    def _confirm_fields(self, op: Operation) -> frozenset[str]:
        return op.confirm_fields | (op.password_fields if self.settings.confirm_passwords else frozenset())

    @cached_property
    def _patterns(self) -> tuple[str, ...]:
        return tuple(_spelling(pattern) for pattern in self.privileged_keys)

    def _privileged(self, field: str, value: Any, path: str = "") -> Iterator[Privileged]:
        """The privileged keys under `value`, at any depth (inside lists too); a matched key's own children are
        not searched again. Keys match whatever their case, `_` or `-` (`isAdmin`, `is-admin`, `IS_ADMIN`)."""
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            here = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and any(
                fnmatch.fnmatchcase(_spelling(key), p) or fnmatch.fnmatchcase(_spelling(here), p) for p in self._patterns
            ):
                yield Privileged(field, here, child)
            else:
                yield from self._privileged(field, child, here)

    def _alternative(self, op: Operation, args: Args) -> Operation | None:
        """`op`'s reversible alternative, if the policy would let the human choose it: offered, and not refused."""
        if op.alternative is None:
            return None
        alternative = BY_NAME[op.alternative]
        if self.hidden_reason(alternative) is not None:
            return None
        alternative_args = alternative.args(**{name: getattr(args, name) for name in alternative.path_params})
        return alternative if self.decide(alternative, alternative_args).rule in ("allowed", "confirm") else None

    def describe(self, op: Operation) -> dict[str, Any]:
        """The effective rule for one tool, as `clerk-mcp policy` and `clerk_status` show it."""
        hidden = self.hidden_reason(op)
        confirm = CONFIRM_RULES[self.settings.confirm]
        conditions = []
        if self._confirm_fields(op):
            conditions.append(f"touching {', '.join(sorted(self._confirm_fields(op)))}")
        if op.metadata_fields and self.privileged_keys:
            conditions.append(f"writing metadata keys {', '.join(self.privileged_keys)}")
        if hidden:
            rule = "hidden"
        elif op.always_asks:
            rule = confirm + (" (raises privilege)" if op.raises_privilege else "")
        elif conditions:
            rule = f"allowed; {confirm} when {'; or '.join(conditions)}"
        elif op.effect is Effect.VERIFY:
            rule = f"allowed within {self.settings.verify_attempts} attempts per user per {self.settings.verify_window:g}s"
        else:
            rule = "allowed"
        return {"tool": op.name, "effect": op.effect.value, "rule": rule, **({"reason": hidden} if hidden else {})}


def _spelling(name: str) -> str:
    """A key or pattern as it is compared: lower case, without `_` and `-`."""
    return name.lower().replace("_", "").replace("-", "")


def _removed(old: Any, new: Any, path: str = "") -> list[tuple[str, Any]]:
    """What a deep merge of `new` into `old` deletes or overwrites, as (path, old subtree): a null deletes the
    key, an object merges into an object, anything else replaces what was there."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [(path, old)] if old is not None else []
    removed = []
    for key, value in new.items():
        here = f"{path}.{key}" if path else key
        if key in old:
            removed += _removed(old[key], value, here) if isinstance(value, dict) else [(here, old[key])]
    return removed


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
    the shared state, so another replica or another `clerk-mcp call` process buys no extra attempts."""

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
