"""The sandbox's time, in Unix milliseconds, which a test can freeze and move forward.

Everything in the sandbox that reads the time - `created_at` and other timestamps, TOTP windows,
lockout cooldowns, OAuth token expiry - reads it from one `Clock`, so a test that freezes it and
advances it by an hour sees a lockout expire at once, with no sleeping. `/_sandbox/clock` and the
pytest plugin (`clerk_sandbox.clock`) drive it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

# Unix ms of 9999-12-31T23:59:59.999Z: later instants have no RFC 3339 form, and Clerk's timestamps are int64 ms.
MAX_MS = 253_402_300_799_999


def system_ms() -> int:
    return time.time_ns() // 1_000_000


class Clock:
    """Now, in Unix ms: the system's time plus an offset, or a frozen instant. Thread-safe.

    `advance` moves time forward only: timestamps the sandbox already handed out stay in the past.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0
        self._frozen: int | None = None

    def __call__(self) -> int:
        with self._lock:
            return self._now()

    def _now(self) -> int:
        return self._frozen if self._frozen is not None else system_ms() + self._offset

    def freeze(self, at_ms: int | None = None) -> int:
        """Stop the clock at `at_ms` (default: now); returns the frozen time."""
        with self._lock:
            self._frozen = self._now() if at_ms is None else _checked("freeze_at", at_ms)
            return self._frozen

    def advance(self, ms: int) -> int:
        """Move the clock `ms` forward, frozen or running; returns the new time."""
        with self._lock:
            ms = _checked("advance_ms", ms)
            if self._now() + ms > MAX_MS:
                raise ValueError(f"advance_ms would move the clock past {MAX_MS} (year 9999).")
            if self._frozen is not None:
                self._frozen += ms
            else:
                self._offset += ms
            return self._now()

    def unfreeze(self) -> int:
        """Let the clock run again from where it stands (it never jumps back to the system's time)."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - system_ms()
                self._frozen = None
            return self._now()

    def reset(self) -> None:
        """Back to the system's time, running."""
        with self._lock:
            self._offset, self._frozen = 0, None

    def state(self) -> dict[str, Any]:
        """`{"now": ms, "frozen": bool}`, as `/_sandbox/clock` reports it."""
        with self._lock:
            return {"now": self._now(), "frozen": self._frozen is not None}


def _checked(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MS:
        raise ValueError(f"{name} must be an integer number of milliseconds from 0 to {MAX_MS}.")
    return value
