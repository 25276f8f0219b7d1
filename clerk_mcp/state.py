"""State that replicas behind one load balancer must share, behind one small interface (design §6).

`SharedState` has two atomic operations, and everything shared is one of them:

- `take(key, limit, window)` counts one event under `key` if fewer than `limit` were counted in the last
  `window` seconds, else returns how long until one would fit: the per-user verify attempt budgets and the
  rate limit in front of Clerk;
- `claim(key, ttl)` is true once per key: single-use confirmation nonces;
- `count(key, window)` reads what `take` counted (attempts left, for `clerk_status`).

`LocalState` keeps them in this process (stdio, one replica); `RedisState` in Redis, with Lua scripts and
`SET NX` so no two replicas can race between a read and a write. A Redis failure raises `StateUnavailable`
for that call only (redis-py reconnects on the next one); callers never fall back to local state for
budgets or approvals, because a budget kept per replica is a budget multiplied by the replica count.
Redis also holds the key ring that seals confirmation state (`state_keys`, `rotate_state_keys`).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
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

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            f"Shared state (Redis) is unreachable ({type(cause).__name__}), so this call is refused: verify "
            "attempts and confirmation answers must be counted across all replicas. Nothing was sent to Clerk; "
            "reads keep working. Try again when Redis is back.",
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
    """`SharedState` in this process: right for one server, wrong for replicas (each would count alone)."""

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


class RedisState:
    """`SharedState` in Redis. Times come from the Redis server's clock, so replicas' clocks need not agree."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # Short timeouts and one immediate retry (a pooled connection may be stale after a Redis restart):
        # during an outage a call is refused within about a second instead of hanging.
        self._redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._count = self._redis.register_script(COUNT_SCRIPT)

    async def take(self, key: str, limit: int, window: float) -> float:
        args = [limit, round(window * 1_000_000), secrets.token_hex(8)]
        return await self._call(self._take(keys=[PREFIX + key], args=args)) / 1_000_000

    async def claim(self, key: str, ttl: float) -> bool:
        return bool(await self._call(self._redis.set(PREFIX + key, 1, nx=True, ex=max(1, round(ttl)))))

    async def count(self, key: str, window: float) -> int:
        return await self._call(self._count(keys=[PREFIX + key], args=[round(window * 1_000_000)]))

    async def _call(self, command: Awaitable[T]) -> T:
        from redis.exceptions import RedisError

        try:
            return await command
        except (RedisError, OSError) as exc:
            raise StateUnavailable(exc) from None


def open_state(settings: Settings) -> SharedState:
    return RedisState(settings.redis_url) if settings.redis_url else LocalState()


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

    Without Redis a request goes ahead unthrottled, with a warning on stderr: the limiter only spares Clerk's
    429s, which the adapter retries anyway, while budgets and approvals guard something and refuse instead.
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
            print("clerk-mcp: Redis unreachable; Clerk requests go ahead without the shared rate limit", file=sys.stderr)
