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

from . import SANDBOX_SECRET_KEY, fixtures, harness
from .errors import ClerkError, error_body
from .handlers import HANDLERS, Call, json_body, replace_user_metadata
from .lockout import Lockout
from .store import Store

_STATUS_CODES = {429: "too_many_requests", 500: "internal_clerk_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised to drop a connection: uvicorn closes the socket, and in-process httpx clients see a transport error."""


class Sandbox:
    """One emulated Clerk instance: its store (with its clock), secret key, armed faults and request log."""

    def __init__(self, store: Store, secret_key: str) -> None:
        self.store = store
        self.clock = store.clock
        self.secret_key = secret_key
        self.faults = harness.Faults()
        self.requests = harness.RequestLog()

    def reset(self, *, seed: bool = False) -> None:
        """Forget all users, organizations, faults and logged requests, and go back to the system's time;
        optionally reload the demo seed."""
        self.clock.reset()
        self.store.clear()
        self.faults.clear()
        self.requests.clear()
        if seed:
            self.seed()

    def seed(self, data: dict[str, Any] | None = None) -> dict[str, int]:
        """Add a fixture (default: the bundled demo data set of SEED.md)."""
        return fixtures.load(self.store, data if data is not None else fixtures.default_seed())


def _authenticate(scope: Scope, secret_key: str) -> ClerkError | None:
    headers = dict(scope["headers"])
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not key:
        return ClerkError(401, "authentication_invalid", "Invalid authentication",
                          "Unable to authenticate the request: send your secret key as `Authorization: Bearer <key>`.")
    if key.strip() != secret_key:
        return ClerkError(401, "clerk_key_invalid", "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.")
    return None


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    await JSONResponse(body, status, headers=headers)({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class Gate:
    """Bearer check, fault injection and request log in front of the routes."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(("/v1/", "/_sandbox/")):
            return await self.app(scope, receive, send)
        if path.startswith("/_sandbox/"):
            if error := _authenticate(scope, self.sandbox.secret_key):
                return await _send_json(send, error.status, error.body())
            return await self.app(scope, receive, send)
        await self._v1(scope, receive, send)

    async def _v1(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status: list[int] = []
        started = time.time()
        logged = False

        def log() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.sandbox.requests.add(_log_entry(scope, body, status[0] if status else None, started))

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

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
            elif error := _authenticate(scope, self.sandbox.secret_key):
                await _send_json(record, error.status, error.body())
            else:
                await self.app(scope, replay, record)
        finally:
            log()

    async def _fail(self, fault: harness.Fault, send: Send) -> None:
        if fault.drop:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
            raise ConnectionDropped("Server disconnected without sending a complete response (sandbox fault).")
        status = fault.status or 200
        headers = {"retry-after": str(fault.retry_after if fault.retry_after is not None else 1)} if status == 429 else {}
        if fault.body is not None:
            response: Response = PlainTextResponse(fault.body, status, headers=headers)
        else:
            code = _STATUS_CODES.get(status, "sandbox_fault")
            message = f"Injected fault: HTTP {status}"
            response = JSONResponse(error_body(code, message, message), status, headers=headers)
        await response({"type": "http"}, _no_receive, send)


def _log_entry(scope: Scope, body: bytes, status: int | None, started: float) -> dict[str, Any]:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if "authorization" in headers:
        headers["authorization"] = headers["authorization"].split(" ")[0] + " ***"
    content_type = headers.get("content-type", "")
    try:
        logged: Any = harness.mask(json_body(body)) if "json" in content_type or not content_type else f"<{len(body)} bytes {content_type}>"
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


def _endpoint(handler: Any) -> Any:
    async def run(request: Request) -> Response:
        call = Call(path=dict(request.path_params), query=request.query_params.multi_items())
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form() as form:
                call.files = {name: await part.read() for name, part in form.multi_items() if not isinstance(part, str)}
        else:
            call.body = json_body(await request.body())
        store: Store = request.app.state.sandbox.store
        with store.atomic():
            payload = handler(store, call)
        return JSONResponse(payload)
    return run


def v1_routes() -> list[Route]:
    """`/v1` routes from the operation table; literal paths first so /users/count beats /users/{user_id}."""
    from ..operations import OPERATIONS

    ordered = sorted(OPERATIONS, key=lambda op: op.path.count("{"))
    routes = [Route(op.path, _endpoint(HANDLERS[op.name]), methods=[op.method], name=op.name) for op in ordered]
    routes.append(Route("/users/{user_id}/metadata", _endpoint(replace_user_metadata), methods=["PUT"], name="replace_user_metadata"))
    return routes


async def _clerk_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ClerkError)
    return JSONResponse(error.body(), error.status, headers=error.headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = "resource_not_found" if error.status_code == 404 else "request_invalid"
    message = "not found" if error.status_code == 404 else error.detail
    return JSONResponse(error_body(code, message, f"{request.method} {request.url.path}: {error.detail}"), error.status_code)


def create_app(
    *, secret_key: str = SANDBOX_SECRET_KEY, db_path: str | None = None, seed: bool = True, lockout: Lockout | None = None,
) -> Starlette:
    """A sandbox app; in memory unless `db_path`, whose existing data is kept (never reseeded).
    `lockout`: the instance's account-lockout policy (default: Clerk's for new instances, 10 attempts, 1 hour)."""
    sandbox = Sandbox(Store(db_path, lockout=lockout), secret_key)
    if seed and sandbox.store.is_empty():
        sandbox.seed()
    app = Starlette(
        routes=[Mount("/v1", routes=v1_routes()), Mount("/_sandbox", routes=harness.routes(sandbox))],
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
    print(f"Clerk sandbox listening on {url} (secret key: {secret_key})", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
