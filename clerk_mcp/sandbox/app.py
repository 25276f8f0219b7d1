"""The sandbox as an ASGI app: Clerk's `/v1` routes derived from `OPERATIONS`, plus `/_sandbox/`.

`Gate` sits in front of every route: it checks the bearer key, applies armed faults and logs each
`/v1` request. Routes are built by iterating the operation table and looking each operation's
handler up by name, so a new operation needs a table row and a handler, nothing here.
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import SANDBOX_SECRET_KEY, billing, fixtures, harness, identifiers, oauth
from .errors import GENERIC, ClerkError
from .handlers import API_VERSIONS, LATEST_API_VERSION, MAX_IMAGE_BYTES, Call, json_body
from .handlers import HANDLERS as USERS_HANDLERS
from .lockout import Lockout
from .store import Store

# Request bodies are read only after the key is checked, and only up to a cap: a JSON body up to 1 MiB
# (Clerk's bodies are small: its metadata is capped at 8 KB), a multipart body up to a 10 MB image plus
# framing (above it Clerk answers 413 image_too_large), a harness fixture up to 16 MiB.
MAX_JSON_BYTES = 1024 * 1024
MAX_FORM_BYTES = MAX_IMAGE_BYTES + 64 * 1024
MAX_HARNESS_BYTES = 16 * 1024 * 1024
# Every operation's handler, by operation name: the Users operations', then each toolset module's.
HANDLERS = USERS_HANDLERS | identifiers.HANDLERS | billing.HANDLERS
# Handlers (bcrypt included) run in worker threads, at most this many at once, so the event loop
# stays free for other requests whatever a request costs.
WORKERS = 8


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised to drop a connection: uvicorn closes the socket, and in-process httpx clients see a transport error."""


class Sandbox:
    """One emulated Clerk instance: its store (with its clock), secret key, armed faults, request log and worker limit."""

    def __init__(self, store: Store, secret_key: str) -> None:
        self.store = store
        self.clock = store.clock
        self.secret_key = secret_key
        self.faults = harness.Faults()
        self.requests = harness.RequestLog()
        self.workers = anyio.CapacityLimiter(WORKERS)
        self.oauth = oauth.Issuer(self.clock)

    def reset(self, *, seed: bool = False) -> None:
        """Forget all users, organizations, opaque OAuth tokens, OAuth clients and codes, faults and logged requests, and go back to the system's time;
        optionally reload the demo seed."""
        self.clock.reset()
        self.store.clear()
        self.faults.clear()
        self.requests.clear()
        self.oauth.clear()
        if seed:
            self.seed()

    def seed(self, data: dict[str, Any] | None = None) -> dict[str, int]:
        """Add a fixture (default: the bundled demo data set of SEED.md)."""
        return fixtures.load(self.store, data if data is not None else fixtures.default_seed())

    async def run(self, work: Callable[[], Any]) -> Any:
        """`work()` in a worker thread, holding the store's transaction."""
        def locked() -> Any:
            with self.store.atomic():
                return work()
        return await anyio.to_thread.run_sync(locked, limiter=self.workers)


def _authenticate(headers: dict[bytes, bytes], secret_key: str) -> ClerkError | None:
    """Clerk's 401s: no Authorization header, one not of the form `Bearer <key>`, or a wrong key."""
    if not headers.get(b"authorization", b"").strip():
        return ClerkError("InvalidAuthentication")
    scheme, _, key = headers[b"authorization"].decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return ClerkError("InvalidAuthorizationHeaderFormat")
    if key.strip() != secret_key:
        return ClerkError("InvalidClerkSecretKey")
    return None


def _api_version(scope: Scope, headers: dict[bytes, bytes]) -> str | ClerkError:
    """The request's API version: the `Clerk-API-Version` header or the `__clerk_api_version` query
    parameter, never both, and one of Clerk's versions (clerk-docs docs/guides/development/upgrading/
    versioning.mdx: "Using both ... will lead to an invalid request. The same is also true when the
    version is invalid."). Neither: the latest."""
    query = httpx.QueryParams(scope["query_string"].decode("latin-1")).get_list("__clerk_api_version")
    given = ([headers[b"clerk-api-version"].decode("latin-1")] if b"clerk-api-version" in headers else []) + query
    if len(given) > 1:
        return ClerkError("InvalidAPIVersion", reason="send the Clerk-API-Version header or the __clerk_api_version query parameter, once")
    if given and given[0] not in API_VERSIONS:
        return ClerkError("InvalidAPIVersion", reason=f"{given[0][:40]!r} is not a version (known: {', '.join(API_VERSIONS)})")
    return given[0] if given else LATEST_API_VERSION


async def _read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it is known to exceed `limit` bytes."""
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _too_large(path: str, headers: dict[bytes, bytes]) -> tuple[int, ClerkError]:
    """The body cap of a request and Clerk's error for a body over it."""
    if path.startswith("/_sandbox/"):
        return MAX_HARNESS_BYTES, ClerkError("RequestBodyTooLarge", MAX_HARNESS_BYTES)
    if headers.get(b"content-type", b"").startswith(b"multipart/form-data"):
        return MAX_FORM_BYTES, ClerkError("ImageTooLarge")
    return MAX_JSON_BYTES, ClerkError("RequestBodyTooLarge", MAX_JSON_BYTES)


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    await JSONResponse(body, status, headers=headers)({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class Gate:
    """In front of the routes: key and API version checked before any body byte is read, bodies capped,
    then (for `/v1`) armed faults applied and the request logged."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(("/v1/", "/_sandbox/")):
            return await self.app(scope, receive, send)
        started = time.time()
        headers = dict(scope["headers"])
        refusal = _authenticate(headers, self.sandbox.secret_key)
        if refusal is None and path.startswith("/v1/"):
            version = _api_version(scope, headers)
            refusal, scope["clerk.api_version"] = (version, None) if isinstance(version, ClerkError) else (None, version)
        limit, too_large = _too_large(path, headers)
        body = None if refusal else await _read_body(headers, receive, limit)
        refusal = refusal or (too_large if body is None else None)
        if refusal is not None:
            # Refused before the handler: only method, path and status are kept.
            if path.startswith("/v1/"):
                self.sandbox.requests.add(_refused_entry(scope, refusal.status, started))
            return await _send_json(send, refusal.status, refusal.body())
        assert body is not None

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        if path.startswith("/_sandbox/"):
            return await self.app(scope, replay, send)
        await self._v1(scope, body, replay, send, started)

    async def _v1(self, scope: Scope, body: bytes, replay: Receive, send: Send, started: float) -> None:
        status: list[int] = []
        logged = False

        def log() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.sandbox.requests.add(_log_entry(scope, body, status[0] if status else None, started))

        async def record(message: Message) -> None:
            # Log before the last byte leaves, so a client that got its response finds it in the log.
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()
            await send(message)

        try:
            fault = self.sandbox.faults.take(scope["method"], scope["path"])
            if fault is not None and fault.latency_ms:
                await anyio.sleep(fault.latency_ms / 1000)
            if fault is not None and (fault.drop or fault.status is not None or fault.body is not None):
                await self._fail(fault, record)
            else:
                await self.app(scope, replay, record)
        finally:
            log()

    async def _fail(self, fault: harness.Fault, send: Send) -> None:
        """A fault's response: its own body as text, else Clerk's catalogue body for its status, else (a
        status Clerk never sends, like 502 from a proxy) the status line as text."""
        if fault.drop:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
            raise ConnectionDropped("Server disconnected without sending a complete response (sandbox fault).")
        status = fault.status or 200
        headers = {"retry-after": str(fault.retry_after if fault.retry_after is not None else 1)} if status == 429 else {}
        if fault.body is not None:
            response: Response = PlainTextResponse(fault.body, status, headers=headers)
        elif status in GENERIC:
            response = JSONResponse(ClerkError(GENERIC[status]).body(), status, headers=headers)
        else:
            response = PlainTextResponse(f"{status} {HTTPStatus(status).phrase}", status, headers=headers)
        await response({"type": "http"}, _no_receive, send)


def _refused_entry(scope: Scope, status: int, started: float) -> dict[str, Any]:
    return {
        "method": scope["method"], "path": scope["path"], "query": [], "headers": {}, "body": None,
        "status": status, "time": int(started * 1000), "duration_ms": round((time.time() - started) * 1000, 3),
    }


# The largest request body the request log keeps (every Clerk body but a profile image fits: metadata is at most 8 KB).
MAX_LOGGED_BODY = 64 * 1024


def _log_entry(scope: Scope, body: bytes, status: int | None, started: float) -> dict[str, Any]:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if "authorization" in headers:
        headers["authorization"] = headers["authorization"].split(" ")[0] + " ***"
    content_type = headers.get("content-type", "")
    try:
        if len(body) > MAX_LOGGED_BODY:  # the log keeps 1,000 entries: bodies of up to 1 MiB would make that a gigabyte
            logged: Any = f"<{len(body)} bytes {content_type or 'no content type'}, over {MAX_LOGGED_BODY:,} bytes: not kept>"
        elif "json" in content_type or not content_type:
            logged = harness.mask(json_body(body))
        else:
            logged = f"<{len(body)} bytes {content_type}>"
    except ClerkError:
        logged = f"<{len(body)} bytes, not JSON>"
    return {
        "method": scope["method"],
        "path": scope["path"],
        "query": httpx.QueryParams(scope["query_string"].decode("latin-1")).multi_items(),
        "headers": headers,
        "body": logged,
        "status": status,
        "time": int(started * 1000),
        "duration_ms": round((time.time() - started) * 1000, 3),
    }


def _endpoint(handler: Any, *, multipart: bool = False) -> Any:
    """A route running `handler` in a worker thread; `multipart`: the operation takes a form upload, others JSON."""
    async def run(request: Request) -> Response:
        call = Call(path=dict(request.path_params), query=request.query_params.multi_items(),
                    api_version=request.scope.get("clerk.api_version") or LATEST_API_VERSION)
        content_type = request.headers.get("content-type", "")
        if multipart != content_type.startswith("multipart/form-data"):
            expected = "multipart/form-data" if multipart else "application/json"
            raise ClerkError("UnsupportedContentType", actual=(content_type or "(none)")[:100], expected=expected)
        if multipart:
            async with request.form() as form:
                call.files = {
                    name: (part.content_type or "", await part.read()) for name, part in form.multi_items() if not isinstance(part, str)
                }
        else:
            call.body = json_body(await request.body())
        sandbox: Sandbox = request.app.state.sandbox
        return JSONResponse(await sandbox.run(lambda: handler(sandbox.store, call)))
    return run


def v1_routes() -> list[Route]:
    """`/v1` routes from the operation table; literal paths first so /users/count beats /users/{user_id}."""
    from ..operations import OPERATIONS

    ordered = sorted(OPERATIONS, key=lambda op: op.path.count("{"))
    return [
        Route(op.path, _endpoint(HANDLERS[op.name], multipart=op.body_kind == "multipart"), methods=[op.method], name=op.name)
        for op in ordered
    ]


async def _clerk_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ClerkError)
    return JSONResponse(error.body(), error.status, headers=error.headers)


async def _http_error(request: Request, error: Exception) -> Response:
    """Routing errors: an unknown path, or a known one with another method, is Clerk's 404; a malformed
    multipart body Clerk's generic 400."""
    assert isinstance(error, HTTPException)
    failure = ClerkError("BadRequest" if error.status_code == 400 else "ResourceNotFound", detail=f"{request.method} {request.url.path}: {error.detail}")
    return JSONResponse(failure.body(), failure.status)


def create_app(
    *, secret_key: str = SANDBOX_SECRET_KEY, db_path: str | None = None, seed: bool = True, lockout: Lockout | None = None,
) -> Starlette:
    """A sandbox app; in memory unless `db_path`, whose existing data is kept (never reseeded).
    `lockout`: the instance's account-lockout policy (default: Clerk's for new instances, 10 attempts, 1 hour)."""
    sandbox = Sandbox(Store(db_path, lockout=lockout), secret_key)
    if seed and sandbox.store.is_empty():
        sandbox.seed()
    app = Starlette(
        routes=[
            Mount("/v1", routes=v1_routes() + oauth.v1_routes(sandbox.oauth)),
            Mount("/_sandbox", routes=harness.routes(sandbox) + oauth.harness_routes(sandbox, sandbox.oauth)),
            *oauth.public_routes(sandbox, sandbox.oauth),
        ],
        exception_handlers={ClerkError: _clerk_error, HTTPException: _http_error},
        middleware=[Middleware(Gate, sandbox=sandbox)],
    )
    app.state.sandbox = sandbox
    return app


def serve(
    sock: socket.socket, url: str, *, secret_key: str = SANDBOX_SECRET_KEY, db_path: str | None = None, seed: bool = True,
    lockout: Lockout | None = None,
) -> None:
    """Serve the sandbox over HTTP on a bound, listening `sock` (reached at `url`) until interrupted."""
    import uvicorn

    # A dropped connection is a requested fault, not a crash: keep its traceback out of the log.
    logging.getLogger("uvicorn.error").addFilter(
        lambda record: not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))
    )
    app = create_app(secret_key=secret_key, db_path=db_path, seed=seed, lockout=lockout)
    # The socket already listens, so the address is usable the moment this line appears.
    # The well-known key is printed as a convenience; a key the operator chose is theirs to know, not the log's.
    key = secret_key if secret_key == SANDBOX_SECRET_KEY else "as given by --secret-key"
    print(f"Clerk sandbox listening on {url} (secret key: {key})", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
