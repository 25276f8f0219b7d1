"""State that every process acting on one Clerk instance must share, behind one small interface (design §3, §6).

`SharedState` has two atomic operations, and everything shared is one of them:

- `take(key, limit, window)` counts one event under `key` if fewer than `limit` were counted in the last
  `window` seconds, else returns how long until one would fit: the per-user verify attempt budgets and the
  rate limit in front of Clerk;
- `claim(key, ttl)` is true once per key: single-use confirmation nonces;
- `count(key, window)` reads what `take` counted (attempts left, for `clerk_status`).

Where they live (`open_state`): in Redis with `CLERK_MCP_REDIS_URL` (replicas on several machines; Lua scripts
and `SET NX`, so no two replicas race between a read and a write); otherwise in `SqliteState`, a SQLite file in
the state directory that every process on this machine shares (successive `clerk-mcp call`s, replicas on one
host), with SQLite's cross-process write lock around each operation. Only the embedded in-memory sandbox, which
no other process can reach, keeps them in `LocalState`. Budgets and approvals are counted per Clerk instance
(`namespace`), whatever else shares the store. A store failure raises `StateUnavailable` for that call only;
callers never fall back to process-local state, because a budget kept per process is a budget multiplied by the
number of processes. Redis also holds the key ring that seals confirmation state (`state_keys`, `rotate_state_keys`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from .errors import PolicyRefusal

if TYPE_CHECKING:
    from .settings import Settings

T = TypeVar("T")
ARRIVAL_MARGIN = 1.1  # see RateLimiter
PREFIX = "clerk-mcp:"
KEY_RING = PREFIX + "state-keys"
# A sorted set of event times (server clock, µs): drop those older than the window, then count or refuse.
TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000000 + clock[2]
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""
COUNT_SCRIPT = """
local clock = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', clock[1] * 1000000 + clock[2] - tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[1])
"""
# The new key seals; the previous sealing key still opens state sealed before the rotation; older ones go.
ROTATE_SCRIPT = """
local ring = redis.call('GET', KEYS[1])
local keys = ARGV[1]
if ring then keys = keys .. ',' .. string.match(ring, '^[^,]+') end
redis.call('SET', KEYS[1], keys)
return keys
"""


class StateUnavailable(PolicyRefusal):
    """The shared state store could not be reached for this call."""

    def __init__(self, cause: BaseException, store: str = "Redis") -> None:
        super().__init__(
            f"Shared state ({store}) is unreachable ({type(cause).__name__}), so this call is refused: verify "
            "attempts and confirmation answers must be counted across every process. Nothing was sent to Clerk; "
            f"reads keep working. Try again when {store} is back.",
            decision="state_unavailable",
        )


class SharedState(Protocol):
    async def take(self, key: str, limit: int, window: float) -> float:
        """0 when the event was counted; otherwise the seconds until one would be (nothing is counted)."""
        ...

    async def claim(self, key: str, ttl: float) -> bool:
        """True the first time `key` is claimed within `ttl` seconds, False ever after."""
        ...

    async def count(self, key: str, window: float) -> int:
        """How many events `take` counted under `key` in the last `window` seconds."""
        ...


class LocalState:
    """`SharedState` in this process: only for a Clerk instance no other process can reach (the embedded
    in-memory sandbox); anywhere else each process would count alone."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}
        self._claimed: dict[str, float] = {}

    async def take(self, key: str, limit: int, window: float) -> float:
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) >= limit:
            return events[0] + window - now
        events.append(now)
        return 0.0

    async def count(self, key: str, window: float) -> int:
        now = time.monotonic()
        return sum(1 for t in self._events.get(key, ()) if t > now - window)

    async def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        for spent in [k for k, until in self._claimed.items() if until < now]:
            del self._claimed[spent]
        if key in self._claimed:
            return False
        self._claimed[key] = now + ttl
        return True


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, at REAL NOT NULL, until REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_key ON events (key, at);
CREATE INDEX IF NOT EXISTS events_by_expiry ON events (until);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, until REAL NOT NULL);
"""
# How long an operation waits for another process's write lock before the call is refused, seconds.
SQLITE_BUSY_TIMEOUT = 5.0


class SqliteState:
    """`SharedState` in a SQLite file every process on this machine opens (`state_dir`/state.sqlite3).

    Each operation is one `BEGIN IMMEDIATE` transaction, which holds SQLite's write lock across processes, run in
    a worker thread so the event loop never waits on the file. Times are the wall clock, which every process on
    one host reads alike. The file holds key names and timestamps only (user ids, spent nonces), created 0600.
    """

    def __init__(self, path: Path, namespace: str) -> None:
        self.path = path
        self.namespace = namespace
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SQLITE_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(
                f"cannot open the local state store {path} ({getattr(exc, 'strerror', None) or exc}): approvals and "
                "verify budgets must be kept across processes; set CLERK_MCP_STATE_DIR to a writable directory, "
                "or CLERK_MCP_REDIS_URL"
            ) from None

    async def take(self, key: str, limit: int, window: float) -> float:
        return await self._run(self._take, f"{self.namespace}:{key}", limit, window)

    async def claim(self, key: str, ttl: float) -> bool:
        return await self._run(self._claim, f"{self.namespace}:{key}", ttl)

    async def count(self, key: str, window: float) -> int:
        return await self._run(self._count, f"{self.namespace}:{key}", window)

    def _take(self, key: str, limit: int, window: float) -> float:
        with self._transaction() as db:
            now = time.time()
            db.execute("DELETE FROM events WHERE until <= ?", (now,))
            db.execute("DELETE FROM events WHERE key = ? AND at <= ?", (key, now - window))
            count, oldest = db.execute("SELECT count(*), min(at) FROM events WHERE key = ?", (key,)).fetchone()
            if count >= limit:
                return oldest + window - now
            db.execute("INSERT INTO events (key, at, until) VALUES (?, ?, ?)", (key, now, now + window))
            return 0.0

    def _claim(self, key: str, ttl: float) -> bool:
        with self._transaction() as db:
            now = time.time()
            db.execute("DELETE FROM claims WHERE until < ?", (now,))
            return db.execute("INSERT OR IGNORE INTO claims (key, until) VALUES (?, ?)", (key, now + ttl)).rowcount == 1

    def _count(self, key: str, window: float) -> int:
        with self._transaction() as db:
            return db.execute("SELECT count(*) FROM events WHERE key = ? AND at > ?", (key, time.time() - window)).fetchone()[0]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def _run(self, operation: Callable[..., T], *args: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(partial(operation, *args))
        except sqlite3.Error as exc:
            raise StateUnavailable(exc, store=f"the local state store {self.path}") from None


class RedisState:
    """`SharedState` in Redis. Times come from the Redis server's clock, so replicas' clocks need not agree."""

    def __init__(self, url: str, namespace: str) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # Short timeouts and one immediate retry (a pooled connection may be stale after a Redis restart):
        # during an outage a call is refused within about a second instead of hanging.
        self._redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._count = self._redis.register_script(COUNT_SCRIPT)
        self.prefix = f"{PREFIX}{namespace}:"

    async def take(self, key: str, limit: int, window: float) -> float:
        args = [limit, round(window * 1_000_000), secrets.token_hex(8)]
        return await self._call(self._take(keys=[self.prefix + key], args=args)) / 1_000_000

    async def claim(self, key: str, ttl: float) -> bool:
        return bool(await self._call(self._redis.set(self.prefix + key, 1, nx=True, ex=max(1, round(ttl)))))

    async def count(self, key: str, window: float) -> int:
        return await self._call(self._count(keys=[self.prefix + key], args=[round(window * 1_000_000)]))

    async def _call(self, command: Awaitable[T]) -> T:
        from redis.exceptions import RedisError

        try:
            return await command
        except (RedisError, OSError) as exc:
            raise StateUnavailable(exc) from None


def open_state(settings: Settings) -> SharedState:
    """The store `describe_state` names. Raises ValueError (start-up stops) when the local store cannot be opened."""
    kind = _store_kind(settings)
    if kind == "redis":
        return RedisState(settings.redis_url, instance(settings))  # type: ignore[arg-type]
    if kind == "local":
        return SqliteState(settings.state_dir / "state.sqlite3", instance(settings))
    return LocalState()


def describe_state(settings: Settings) -> str:
    """Where approvals, verify budgets and the rate limit are kept, as `clerk_status` and `clerk-mcp policy` say."""
    return {
        "redis": "redis (shared by every replica using it)",
        "local": f"local store {settings.state_dir / 'state.sqlite3'} (shared by every clerk-mcp process on this machine)",
        "process": "this process (the embedded in-memory sandbox, which no other process reaches)",
    }[_store_kind(settings)]


def _store_kind(settings: Settings) -> str:
    """Redis when configured; else the machine's local store; only an in-memory embedded sandbox, which no other
    process can reach, keeps state in this process."""
    if settings.redis_url:
        return "redis"
    return "process" if settings.sandbox and settings.sandbox_db is None else "local"


def instance(settings: Settings) -> str:
    """A non-secret name for the Clerk instance the state belongs to: the key's fingerprint, or the sandbox file."""
    if settings.sandbox_db is not None and settings.sandbox:
        return "sandbox-" + hashlib.sha256(str(settings.sandbox_db.resolve()).encode()).hexdigest()[:12]
    return settings.key_fingerprint or "sandbox"


def state_keys(settings: Settings) -> list[str]:
    """The keys sealing confirmation state: CLERK_MCP_STATE_KEYS if given, else Redis's ring (the first replica
    to start provisions it), else none (the SDK's process-local key)."""
    if settings.state_keys or not settings.redis_url:
        return [key.get_secret_value() for key in settings.state_keys]
    return _sync_redis(settings.redis_url, _provision).decode().split(",")


def _provision(redis: Any) -> bytes:
    redis.set(KEY_RING, _new_key(), nx=True)  # every replica offers a key; only the first one is kept
    return redis.get(KEY_RING)


def rotate_state_keys(url: str) -> int:
    """Prepend a fresh sealing key to Redis's ring, keeping the previous one; returns the ring's size."""
    ring = _sync_redis(url, lambda redis: redis.eval(ROTATE_SCRIPT, 1, KEY_RING, _new_key()))
    return len(ring.decode().split(","))


def _new_key() -> str:
    return secrets.token_hex(32)


def _sync_redis(url: str, use: Callable[[Any], T]) -> T:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return use(client)
    except redis.RedisError as exc:
        raise ValueError(f"cannot reach Redis (CLERK_MCP_REDIS_URL) for the shared state keys: {exc}") from None
    finally:
        client.close()


class RateLimiter:
    """At most `limit` Clerk requests per `window` seconds from all replicas together (a sliding window, not a
    token bucket: a full bucket plus its refill would let 2 × limit through in one window, which Clerk answers
    with 429s). A request waits for a slot up to `max_wait`, then the call is refused with a clear error.
    Clerk counts requests as they arrive, and one granted earlier can arrive later than one granted after it,
    so each slot is held 10 % longer than the window: that much jitter cannot push Clerk over its limit.

    When the shared state is unreachable a request goes ahead unthrottled, with a warning on stderr: the limiter
    only spares Clerk's 429s, which the adapter retries anyway, while budgets and approvals guard something and
    refuse instead.
    """

    def __init__(self, state: SharedState, key: str, limit: int, window: float, max_wait: float) -> None:
        self.state = state
        self.key = key
        self.limit = limit
        self.window = window
        self.max_wait = max_wait
        self._warned_at = -float("inf")

    async def acquire(self) -> None:
        give_up_at = anyio.current_time() + self.max_wait
        while True:
            try:
                wait = await self.state.take(self.key, self.limit, self.window * ARRIVAL_MARGIN)
            except StateUnavailable:
                self._warn()
                return
            if not wait:
                return
            if anyio.current_time() + wait > give_up_at:
                raise PolicyRefusal(
                    f"Clerk's rate limit is in use: {self.limit} requests per {self.window:g} s across all replicas, "
                    f"and no slot freed within {self.max_wait:g} s. Nothing was sent; try again in {wait:.0f} s.",
                    decision="rate_limited",
                    retry_after=wait,
                )
            await anyio.sleep(wait)

    def _warn(self) -> None:
        """At most one warning a minute, so an outage does not flood the log."""
        if time.monotonic() - self._warned_at >= 60:
            self._warned_at = time.monotonic()
            print("clerk-mcp: shared state unreachable; Clerk requests go ahead without the shared rate limit", file=sys.stderr)
