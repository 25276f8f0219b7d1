"""Streamable HTTP (`clerk-mcp serve --http`): the SDK's MCP app behind a guard that makes it safe to expose.

Every request except `GET /healthz` passes three checks, in order, before the MCP app sees it:

- `Host` must be on the allow-list (loopback names, plus `--allowed-hosts`): a DNS-rebinding page
  reaches us under its own host name, so this stops it (421);
- `Origin`, when a browser sends one, must be on the allow-list (loopback, plus `--allowed-origins`) (403);
- the bearer token, when one is configured, must match, compared in constant time (401). A non-loopback
  bind refuses to start without one. The token is removed from the request before the MCP app runs, so it
  can never reach Clerk or a log.

The health endpoint answers without these checks because it reveals nothing but `{"status", "backend"}`,
and load balancers probe with their own Host header and no token.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from .server import ClerkMCPServer
    from .settings import Settings

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed(value: str, patterns: list[str]) -> bool:
    """`value` matches one of `patterns`: exact (case-insensitive), `name:*` for `name` on any port, or `*`."""
    value = value.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern in ("*", value):
            return True
        if pattern.endswith(":*"):
            base, _, port = value.rpartition(":")
            if value == pattern[:-2] or (base == pattern[:-2] and port.isascii() and port.isdigit()):
                return True
    return False


def read_token(settings: Settings) -> str | None:
    """The bearer token from `--auth-token-file` (first line) or `CLERK_MCP_AUTH_TOKEN`, if any."""
    if settings.auth_token_file is not None:
        try:
            lines = settings.auth_token_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read auth token file {settings.auth_token_file}: {exc.strerror}") from None
        token = lines[0].strip() if lines else ""
    elif settings.auth_token is not None:
        token = settings.auth_token.get_secret_value().strip()
    else:
        return None
    if not token:
        raise ValueError("the auth token is empty")
    return token


def exposure(settings: Settings) -> tuple[str | None, list[str], list[str]]:
    """(token, allowed hosts, allowed origins) for `settings`, or a ValueError saying why serving would be unsafe."""
    token = read_token(settings)
    host = settings.host
    if not is_loopback(host) and token is None and settings.auth.value == "none":
        raise ValueError(
            f"refusing to serve on {host}: a non-loopback address needs a bearer token. "
            "Set CLERK_MCP_AUTH_TOKEN or pass --auth-token-file, or bind 127.0.0.1."
        )
    hosts = [*LOOPBACK_HOSTS, *settings.allowed_hosts]
    if host in WILDCARD_BINDS:
        if not settings.allowed_hosts:
            raise ValueError(
                f"binding {host or 'every address'} needs --allowed-hosts: the host names clients use to reach this "
                "server (e.g. mcp.example.com:8000), or '*' to accept any Host and rely on the token alone."
            )
    elif not is_loopback(host):
        hosts.append(f"[{host}]:*" if ":" in host else f"{host}:*")
    return token, hosts, [*LOOPBACK_ORIGINS, *settings.allowed_origins]


class Guard:
    """ASGI middleware: health endpoint, then Host, Origin and bearer-token checks, each failure a JSON body."""

    def __init__(self, app: ASGIApp, *, token: str | None, hosts: list[str], origins: list[str], backend: str) -> None:
        self.app = app
        self.token = token.encode() if token is not None else None
        self.hosts = hosts
        self.origins = origins
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            return await _json(send, 200, {"status": "ok", "backend": self.backend})
        headers = Headers(scope=scope)
        # One value each: with two, a proxy and this guard could each read a different one.
        if any(len(headers.getlist(name)) > 1 for name in ("host", "origin", "authorization")):
            return await _json(send, 400, _error("duplicate_header", "Send Host, Origin and Authorization once each."))
        if not allowed(headers.get("host", ""), self.hosts):
            return await _json(send, 421, _error("host_not_allowed", "Host header not accepted; add it with --allowed-hosts."))
        origin = headers.get("origin")
        if origin is not None and not allowed(origin, self.origins):
            return await _json(send, 403, _error("origin_not_allowed", "Origin not accepted; add it with --allowed-origins."))
        if self.token is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            given = given.strip(" \t")  # HTTP's own whitespace only: a token is compared exactly as sent
            if scheme.lower() != "bearer" or not given:
                return await _json(
                    send, 401, _error("unauthorized", "Send the server's token as 'Authorization: Bearer <token>'."),
                    {"www-authenticate": 'Bearer realm="clerk-mcp"'},
                )
            if not hmac.compare_digest(given.encode(), self.token):
                return await _json(
                    send, 401, _error("invalid_token", "The bearer token is not this server's token."),
                    {"www-authenticate": 'Bearer realm="clerk-mcp", error="invalid_token"'},
                )
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]}
        await self.app(scope, receive, send)


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


async def _json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    from starlette.responses import JSONResponse

    async def no_body() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await JSONResponse(body, status, headers=headers)({"type": "http"}, no_body, send)


def http_app(settings: Settings, server: ClerkMCPServer | None = None) -> Guard:
    """The guarded Streamable HTTP app for `settings` (and `server`, built from them unless given)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from .server import build_server

    token, hosts, origins = exposure(settings)
    server = server if server is not None else build_server(settings)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=settings.json_response,
        stateless_http=settings.stateless,
        max_request_body_size=settings.max_body_bytes,
        # Guard has already checked Host and Origin (answering in JSON); the SDK's copy of the check would only repeat it.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        host=settings.host,
    )
    return Guard(app, token=token, hosts=hosts, origins=origins, backend="sandbox" if settings.sandbox else "clerk")


def default_audit_log(settings: Settings) -> Path:
    """Where `serve --http` audits when no `--audit-log` is given: a shared service always keeps a trail."""
    return settings.state_dir / "audit.jsonl"


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` (0: any free port) and listening, so connections queue from now on and an
    address printed next is usable at once; a ValueError naming the address (e.g. already in use) otherwise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    return sock


def origin(sock: socket.socket) -> str:
    """"http://HOST:PORT" of a listening socket, with the port it really got."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def serve_http(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn then stops accepting, lets in-flight calls finish (10 s) and cancels the rest."""
    import anyio
    import uvicorn

    from .server import build_server

    exposure(settings)  # refuse an unsafe configuration, or a busy port, before building anything
    sock = listening_socket(settings.host, settings.port)
    if settings.audit_log is None:
        settings = settings.model_copy(update={"audit_log": default_audit_log(settings)})
    if settings.auth.value != "none" and not settings.resource_url:  # tokens must name the port really bound
        settings = settings.model_copy(update={"resource_url": f"{origin(sock)}{MCP_PATH}"})
    try:
        server = build_server(settings)
    except ValueError:  # a setting that cannot work (e.g. --auth without an issuer): free the port at once
        sock.close()
        raise
    app = http_app(settings, server)
    callers = f"OAuth {settings.auth.value}, issuer {settings.auth_issuer}" if settings.auth.value != "none" else f"token {'required' if app.token else 'off'}"
    print(
        f"clerk-mcp: Streamable HTTP on {origin(sock)}{MCP_PATH} "
        f"({'stateless' if settings.stateless else 'stateful'}, {callers}, "
        f"audit log {settings.audit_log})",
        file=sys.stderr, flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10, lifespan="on")

    async def run() -> None:
        try:
            await uvicorn.Server(config).serve(sockets=[sock])
        finally:
            await server.aclose()

    anyio.run(run)
