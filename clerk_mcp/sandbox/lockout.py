"""Account lockout, as Clerk documents it: failed verifications are counted, and a user who reaches the
instance's limit is locked for a cooldown (or until unlocked, with an indefinite lockout).

Source: clerk/clerk-docs `docs/guides/secure/user-lockout.mdx` (commit a7cebf5858db84418400627a811cf6080f66d89c):
new instances lock after 10 failed attempts (the limit's minimum is 5) for one hour; the duration may
instead be indefinite; a user locked through the Backend API "may still have verification attempts
remaining" (spec, `User.verification_attempts_remaining`). The instance's numbers are Dashboard
settings in Clerk and emulator settings here (`create_app(lockout=...)`, see FIDELITY.md).

The user row keeps `locked`, `lockout_expires_at` (Unix ms; NULL with `locked`: never expires) and
`failed_verification_attempts`; what the API shows is derived from them and the clock at read time, so
an expired lockout needs no sweeper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ClerkError

DEFAULT_MAX_ATTEMPTS = 10
MIN_MAX_ATTEMPTS = 5
DEFAULT_DURATION_S = 3_600


@dataclass(frozen=True)
class Lockout:
    """An instance's lockout policy. `max_attempts` None: lockout disabled; `duration_s` None: indefinite."""

    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
    duration_s: int | None = DEFAULT_DURATION_S

    def __post_init__(self) -> None:
        if self.max_attempts is not None and not (isinstance(self.max_attempts, int) and self.max_attempts >= MIN_MAX_ATTEMPTS):
            raise ValueError(f"lockout max_attempts must be an integer of at least {MIN_MAX_ATTEMPTS} (Clerk's minimum), or None.")
        if self.duration_s is not None and not (isinstance(self.duration_s, int) and self.duration_s >= 1):
            raise ValueError("lockout duration_s must be a positive number of seconds, or None for an indefinite lockout.")

    def expires_at(self, now: int) -> int | None:
        """When a lock taken at `now` ends (Unix ms), None when it never does."""
        return None if self.duration_s is None else now + self.duration_s * 1000

    def view(self, user: Mapping[str, Any], now: int) -> dict[str, Any]:
        """The user's `locked`, `lockout_expires_in_seconds` and `verification_attempts_remaining` at `now`."""
        locked = is_locked(user, now)
        expires = user["lockout_expires_at"]
        failed = user["failed_verification_attempts"] if locked or expires is None else 0
        return {
            "locked": locked,
            "lockout_expires_in_seconds": math.ceil((expires - now) / 1000) if locked and expires is not None else None,
            "verification_attempts_remaining": None if self.max_attempts is None else max(0, self.max_attempts - failed),
        }

    def after_failure(self, user: Mapping[str, Any], now: int) -> dict[str, Any]:
        """Columns to store after a failed verification: one more attempt counted, and the lock once the limit is reached."""
        if self.max_attempts is None:
            return {}
        lapsed = user["lockout_expires_at"] is not None and user["lockout_expires_at"] <= now
        failed = (0 if lapsed else user["failed_verification_attempts"]) + 1
        columns: dict[str, Any] = {"failed_verification_attempts": failed}
        if lapsed:
            columns |= {"locked": 0, "lockout_expires_at": None}
        if failed >= self.max_attempts:
            columns |= {"locked": 1, "lockout_expires_at": self.expires_at(now)}
        return columns


def is_locked(user: Mapping[str, Any], now: int) -> bool:
    return bool(user["locked"]) and (user["lockout_expires_at"] is None or now < user["lockout_expires_at"])


def check_not_locked(user: Mapping[str, Any], now: int) -> None:
    """Raise Clerk's 403 `user_locked` (catalogue entries UserLocked / UserLockedIndefinitely) for a locked user."""
    if not is_locked(user, now):
        return
    expires = user["lockout_expires_at"]
    if expires is None:
        raise ClerkError("UserLockedIndefinitely", support="support")
    raise ClerkError("UserLocked", timeRemaining=_duration(expires - now), support="support")


def _duration(ms: int) -> str:
    """A remaining time in words, rounded up to whole minutes (seconds under one minute), as Clerk's sign-in shows it."""
    seconds = math.ceil(ms / 1000)
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"
