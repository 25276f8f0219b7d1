"""The HTTP adapter: one operation plus validated arguments in, Clerk's parsed JSON out.

It knows HTTP and Clerk's wire conventions (bearer key, `Clerk-API-Version`, repeated query keys,
multipart uploads, error bodies) and nothing of MCP or policy. The transport is injected, so the
same client talks to api.clerk.com, to a standalone emulator, or in-process to the embedded sandbox
(`httpx.ASGITransport`), and tests use `httpx.MockTransport`. A limiter, when given, is awaited before every
attempt, so replicas sharing one (clerk_mcp/state.py) stay together under Clerk's rate limit.
"""

from __future__ import annotations

import json
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote

import anyio
import httpx
import stamina
from stamina.instrumentation import LoggingOnRetryHook, RetryDetails, set_on_retry_hooks

from . import __version__
from .errors import BadUpstreamResponse, ClerkAPIError, InvalidArguments, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .models import Args, SetUserProfileImageArgs
from .operations import Operation

API_VERSION = "2026-05-12"
DEFAULT_API_URL = "https://api.clerk.com"
USER_AGENT = f"clerk-mcp/{__version__}"
# A Clerk response larger than this is refused rather than read into memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again. A request that never left (connect error) and a 429 (Clerk did nothing) are safe to
    retry for any method; a 5xx, a timeout or a dropped connection only for operations that are idempotent and
    not POST, so a write that may have happened is never repeated. A 429 asking for a longer wait than
    `max_retry_after`, or than the deadline leaves, is returned at once rather than slept on. `deadline` bounds
    the whole call, waits included."""

    attempts: int = 4
    deadline: float = 30.0
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    max_retry_after: float = 10.0


# The request being retried, for `report_retry`: (operation, method, path template, attempts allowed).
_SENDING: ContextVar[tuple[str, str, str, int]] = ContextVar("clerk_mcp_sending")
_stamina_log = LoggingOnRetryHook.hook_factory()


def report_retry(details: RetryDetails) -> None:
    """stamina's on-retry hook: one line on stderr naming the operation, method and path template (no ids, no
    query values), the cause, the attempt and the wait. Other code's retries keep stamina's own log line."""
    sending = _SENDING.get(None)
    if sending is None:
        return _stamina_log(details)
    name, method, path, attempts = sending
    cause = details.caused_by
    why = f"{cause.status} {cause.code}" if isinstance(cause, ClerkAPIError) else getattr(cause, "kind", type(cause).__name__)
    print(
        f"clerk-mcp: {name}: {method} /v1{path} failed ({why}); attempt {details.retry_num + 1} of {attempts} "
        f"in {details.wait_for:.1f} s",
        file=sys.stderr, flush=True,
    )


# Hooks are process-wide in stamina; this module is imported only when clerk-mcp first calls Clerk.
set_on_retry_hooks([report_retry])


class Limiter(Protocol):
    async def acquire(self) -> None:
        """Return when a request may be sent; raise a `ClerkMCPError` to refuse it."""
        ...


class ClerkClient:
    """One pooled `httpx.AsyncClient` for the life of the server."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        retry: RetryPolicy = RetryPolicy(),
        limiter: Limiter | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self._http = httpx.AsyncClient(
            base_url=self.api_url + "/v1",
            transport=transport,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {secret_key}",
                "Clerk-API-Version": API_VERSION,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def build_request(self, op: Operation, args: Args) -> httpx.Request:
        """The exact request Clerk's spec describes for `op` called with `args`."""
        given = args.model_dump(exclude_unset=True)
        path = op.path
        for name in op.path_params:
            # The models already restrict ids to URL-safe characters; quoting is the second lock.
            path = path.replace("{" + name + "}", quote(str(given.pop(name)), safe=""))
        for name in op.local_fields:
            given.pop(name, None)
        if op.body_kind == "query":
            params = [(k, _query_value(x)) for k, v in given.items() if v is not None for x in _listify(v)]
            try:
                return self._http.build_request(op.method, path, params=params)
            except httpx.InvalidURL:  # httpx caps a URL component at 64 KiB; Clerk would refuse it too
                raise InvalidArguments(op.name, ["the query parameters make the URL too long; send fewer or shorter values"]) from None
        if op.body_kind == "multipart":
            assert isinstance(args, SetUserProfileImageArgs)
            content, content_type = args.image()
            return self._http.build_request(op.method, path, files={"file": (args.filename, content, content_type)})
        if op.body_kind == "json":
            return self._http.build_request(op.method, path, json=given)
        return self._http.build_request(op.method, path)

    async def call(self, op: Operation, args: Args) -> Any:
        """Send `op` and return Clerk's JSON, retrying only where that is safe; raise an `UpstreamError`."""
        request = self.build_request(op, args)
        may_repeat = op.idempotent and op.method != "POST"
        policy = self.retry
        give_up_at = anyio.current_time() + policy.deadline

        def should_retry(exc: Exception) -> bool | float:
            if isinstance(exc, ClerkAPIError) and exc.status == 429:
                if exc.retry_after is None:
                    return True
                fits = exc.retry_after <= policy.max_retry_after and anyio.current_time() + exc.retry_after < give_up_at
                return exc.retry_after if fits else False
            if isinstance(exc, _NotSent):
                return True
            if isinstance(exc, ClerkAPIError) and exc.status >= 500 or isinstance(exc, UpstreamUnavailable | UpstreamTimeout):
                return may_repeat
            return False

        sending = _SENDING.set((op.name, op.method, op.path, policy.attempts))
        try:
            with anyio.fail_after(policy.deadline):
                async for attempt in stamina.retry_context(
                    on=should_retry,
                    attempts=policy.attempts,
                    timeout=None,  # the deadline above also interrupts an attempt or a wait in progress
                    wait_initial=policy.wait_initial,
                    wait_max=policy.wait_max,
                    wait_jitter=policy.wait_jitter,
                ):
                    with attempt:
                        return await self._send_once(request)
        except TimeoutError:
            raise UpstreamTimeout(f"{self.api_url} gave no usable answer within {policy.deadline:g} s (retries included)") from None
        except _NotSent as exc:
            raise UpstreamUnavailable(str(exc)) from None
        finally:
            _SENDING.reset(sending)
        raise AssertionError("unreachable: retry_context either returns or raises")  # pragma: no cover

    async def _send_once(self, request: httpx.Request) -> Any:
        """One attempt, bounded as a whole by `timeout` (httpx's own timeouts are per phase, and absent in-process)."""
        if self.limiter is not None:
            await self.limiter.acquire()  # a retry is a request too; queueing counts against the call's deadline
        try:
            with anyio.fail_after(self.timeout):
                response = await self._http.send(request, stream=True)
                try:
                    body = await _read_capped(response)
                finally:
                    await response.aclose()
        except httpx.ConnectError:
            raise _NotSent(f"could not connect to {self.api_url}") from None
        except (httpx.TimeoutException, TimeoutError) as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise _NotSent(f"timed out connecting to {self.api_url}") from None
            raise UpstreamTimeout(f"{self.api_url} did not answer in time ({self.timeout:g} s)") from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"connection to {self.api_url} failed: {type(exc).__name__}") from None
        except UpstreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - see below
            # An in-process backend (the embedded sandbox behind ASGITransport) that crashes raises its own
            # exception here; to the caller that is a server failing mid-request, like a dropped connection.
            raise UpstreamUnavailable(f"{self.api_url} failed while answering: {type(exc).__name__}") from None
        return _parse(response, body)


class _NotSent(UpstreamUnavailable):
    """The request never left this machine, so retrying it is safe for any method."""


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise BadUpstreamResponse(f"response larger than {MAX_RESPONSE_BYTES} bytes refused", response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(response: httpx.Response, body: bytes) -> Any:
    status = response.status_code
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
        if status < 400:
            raise BadUpstreamResponse(f"HTTP {status} with a body that is not JSON", status) from None
    if status < 400:
        return data
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        reason = response.reason_phrase or "error"
        errors = [{"code": "http_error", "message": f"HTTP {status} {reason}", "long_message": f"HTTP {status} {reason}"}]
    trace = data.get("clerk_trace_id") if isinstance(data, dict) else None
    raise ClerkAPIError(status, errors, trace, _retry_after(response.headers.get("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["API_VERSION", "DEFAULT_API_URL", "ClerkClient", "RetryPolicy", "UpstreamError"]
