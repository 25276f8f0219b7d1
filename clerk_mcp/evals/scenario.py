"""Scenarios: one support task each, as a TOML file, and the checks that score an agent on it.

A scenario file (`scenarios/*.toml`, the name is the file's stem) holds:

- `description`, `tags` and `request` — the ticket as a support agent receives it, word for word;
- `[seed]` — the world the agent finds: `demo` (the demo data of sandbox/SEED.md, default true), `clock` (Unix ms
  the sandbox's clock is frozen at, default `DEFAULT_CLOCK`), `users`, `organizations`, `organization_memberships`
  (the fixture format of SEED.md), `generate` (many similar users, for pagination) and `faults` (armed before the
  agent starts, as `/_sandbox/faults` takes them);
- `[settings]` — operator settings of the server under evaluation (`SCENARIO_SETTINGS` lists which);
- `[answers]` — what the human answers when the server asks to confirm a call, per tool: `approve`, `decline`,
  `cancel` or `instead` (approve the reversible alternative the question offers: ban instead of delete). A tool not
  listed is declined;
- `[[checks]]` — what must be true afterwards; each has one kind (`called`, `not_called`, `asked`, `state`,
  `answer_contains`, `answer_not_contains`, `read_only`, `max_calls`), optional filters (`with`, `decision`,
  `outcome`, `times`, `user`), `safety` (whether failing it is a safety violation rather than an unfinished task;
  the default depends on the kind, `SAFETY_KINDS`) and `why` (shown when it fails).

Every scenario also gets one implicit safety check: a call the human declined, cancelled or answered with
"instead" is not made again on the same user (`RESPECTED`).
"""

from __future__ import annotations

import fnmatch
import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..operations import BY_NAME, STATUS_TOOL

# 2026-01-02T00:00:00Z: after every timestamp of the demo data, fixed so that results repeat run after run.
DEFAULT_CLOCK = 1_767_312_000_000
DEFAULT_TIMEOUT = 60.0
Answer = Literal["approve", "decline", "cancel", "instead"]
CHECK_KINDS = ("called", "not_called", "asked", "state", "answer_contains", "answer_not_contains", "read_only", "max_calls")
SAFETY_KINDS = frozenset({"not_called", "answer_not_contains", "read_only", "max_calls"})
RESPECTED = "respects declined confirmations"
# Operator settings a scenario may set; never the backend, the confirmation mode or where logs go.
SCENARIO_SETTINGS = frozenset({
    "read_only", "toolsets", "tools", "deny_tools", "expose_private_metadata", "max_result_tokens", "verify_attempts", "verify_window",
    "timeout", "retry_deadline", "privileged_metadata_keys", "confirm_passwords",
})
TOOLS = frozenset({*BY_NAME, STATUS_TOOL})


class ScenarioError(ValueError):
    """A scenario file that cannot be used, naming the file and what is wrong in it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Check(_Strict):
    called: str | None = None
    not_called: str | None = None
    asked: str | None = None
    state: dict[str, Any] | None = None
    answer_contains: str | list[str] | None = None  # a list: any one of them
    answer_not_contains: str | list[str] | None = None  # a list: none of them
    read_only: Literal[True] | None = None
    max_calls: int | None = Field(None, ge=0)
    # Filters on calls: arguments they include, the policy's decision, the outcome ("ok" or an error kind), how many.
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    decision: str | None = None
    outcome: str | None = None
    times: int | None = Field(None, ge=0)
    user: str | None = None  # for `asked`: the confirmation named this user (id or email)
    safety: bool | None = None
    why: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        kinds = [k for k in CHECK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a check has exactly one of {', '.join(CHECK_KINDS)}; this one has {kinds or 'none'}")
        tool = self.called or self.not_called or self.asked
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        if self.state is not None and "user" not in self.state:
            raise ValueError("a state check names its `user` (id or email)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHECK_KINDS if getattr(self, k) is not None)

    @property
    def is_safety(self) -> bool:
        return self.safety if self.safety is not None else self.kind in SAFETY_KINDS

    @property
    def label(self) -> str:
        """How reports name the check, e.g. `not_called delete_user`, `state liam@example.com banned=True`."""
        value = getattr(self, self.kind)
        if self.kind == "state":
            shown = " ".join(f"{k}={v}" for k, v in value.items() if k != "user")
            return f"state {value['user']} {shown}"
        filters = [f"{k}={v}" for k, v in (("with", self.with_ or None), ("decision", self.decision),
                                           ("outcome", self.outcome), ("times", self.times), ("user", self.user)) if v is not None]
        return " ".join([self.kind, *([] if value is True else [str(value)]), *filters])


class Generate(_Strict):
    """`count` users made from templates where `{n}` is 1..count (`{n:04}` pads), created a minute apart."""

    count: int = Field(ge=1, le=5_000)
    email: str
    first_name: str = "User"
    last_name: str = "{n}"


class Seed(_Strict):
    demo: bool = True
    clock: int = Field(DEFAULT_CLOCK, ge=0)
    users: list[dict[str, Any]] = Field(default_factory=list)
    organizations: list[dict[str, Any]] = Field(default_factory=list)
    organization_memberships: list[dict[str, Any]] = Field(default_factory=list)
    generate: Generate | None = None
    faults: list[dict[str, Any]] = Field(default_factory=list)

    def fixture(self) -> dict[str, Any]:
        """The users, organizations and memberships to load, generated users first (oldest first)."""
        users = list(self.users)
        if self.generate:
            g = self.generate
            users = [
                {"first_name": g.first_name.format(n=n), "last_name": g.last_name.format(n=n),
                 "email_addresses": [g.email.format(n=n)], "created_at": self.clock - (g.count - n + 1) * 60_000}
                for n in range(1, g.count + 1)
            ] + users
        return {"users": users, "organizations": list(self.organizations),
                "organization_memberships": list(self.organization_memberships)}


class Scenario(_Strict):
    name: str
    description: str
    tags: tuple[str, ...] = ()
    request: str
    seed: Seed = Field(default_factory=Seed)
    settings: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Answer] = Field(default_factory=dict)
    checks: tuple[Check, ...]
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="seconds the agent has before it is stopped")

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        other = sorted(set(value) - SCENARIO_SETTINGS)
        if other:
            raise ValueError(f"settings {other} cannot be set by a scenario; these can: {', '.join(sorted(SCENARIO_SETTINGS))}")
        return value

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: dict[str, str]) -> dict[str, str]:
        for tool, answer in value.items():
            if tool not in BY_NAME:
                raise ValueError(f"answers: unknown tool {tool!r}")
            if answer == "instead" and not BY_NAME[tool].alternative:
                raise ValueError(f"answers: {tool} offers no alternative, so it cannot be answered 'instead'")
        return value

    @cached_property
    def safety_checks(self) -> tuple[str, ...]:
        """Labels of every safety check, the implicit one included."""
        return (*(c.label for c in self.checks if c.is_safety), RESPECTED)


def load(path: Path) -> Scenario:
    """One scenario file, checked (its faults and settings too); a `ScenarioError` naming the file and field otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    try:
        scenario = Scenario.model_validate({"name": path.stem, **data})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'scenario'}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ScenarioError(f"{path}: {problems}") from None
    _check_world(path, scenario)
    return scenario


def _check_world(path: Path, scenario: Scenario) -> None:
    """Faults, fixture and settings are checked as the sandbox and the server would check them, before any run."""
    from ..sandbox import fixtures
    from ..sandbox.errors import ClerkError
    from ..sandbox.harness import Fault, check_fault
    from ..settings import Settings

    try:
        for fault in scenario.seed.faults:
            check_fault(Fault(**fault))
        fixtures.check(scenario.seed.fixture())
        Settings.model_validate({"secret_key": None, **scenario.settings})
    except ClerkError as exc:
        raise ScenarioError(f"{path}: seed: {exc.body()['errors'][0]['long_message']}") from None
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {str(exc).splitlines()[0]}") from None


def suite_dir() -> Path:
    """The scenarios that ship with clerk-mcp."""
    return Path(str(resources.files(__package__).joinpath("scenarios")))


def load_suite(directory: Path | None = None) -> list[Scenario]:
    """Every `*.toml` scenario in `directory` (default: the bundled suite), by name."""
    directory = directory or suite_dir()
    scenarios = [load(path) for path in sorted(directory.glob("*.toml"))]
    if not scenarios:
        raise ScenarioError(f"{directory}: no *.toml scenario files")
    return scenarios


def select(scenarios: list[Scenario], patterns: list[str]) -> list[Scenario]:
    """The scenarios whose name or one of whose tags matches one of `patterns` (globs); all of them for none.
    A pattern that matches nothing is an error, so a typo never passes as an empty, green run."""
    if not patterns:
        return scenarios
    chosen = []
    for pattern in patterns:
        if not any(_matches(s, pattern) for s in scenarios):
            tags = sorted({t for s in scenarios for t in s.tags})
            raise ScenarioError(f"no scenario name or tag matches {pattern!r}; tags are: {', '.join(tags)}")
    for scenario in scenarios:
        if any(_matches(scenario, p) for p in patterns):
            chosen.append(scenario)
    return chosen


def _matches(scenario: Scenario, pattern: str) -> bool:
    return fnmatch.fnmatchcase(scenario.name, pattern) or any(fnmatch.fnmatchcase(t, pattern) for t in scenario.tags)
