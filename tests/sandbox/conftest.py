"""Fixtures for the sandbox tests: a fresh seeded app and an authenticated client per test.

The app is wrapped in `ErrorRecorder`, so every error response any sandbox test provokes is checked
against Clerk's catalogue: a JSON error must carry the (code, status) of a catalogue entry the sandbox
holds, and a Backend API one; the only other error bodies are the plain-text bodies of armed faults.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.errors import catalogue

# Catalogue entries Clerk's catalogue does not mark as Backend API, with why the sandbox still sends them.
NOT_MARKED_BAPI = {
    "TooManyRequests": "the catalogue's only generic 429 body, for an injected rate-limit fault",
    "UserLocked": "lockout (lockout.py): the catalogue's only entries for a locked user, marked Frontend API",
    "UserLockedIndefinitely": "as UserLocked",
}


class ErrorRecorder:
    """An ASGI app wrapping the sandbox that keeps (status, content type, body) of each error response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.errors: list[tuple[int, str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body" and start.get("status", 0) >= 400:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    content_type = dict(start.get("headers", [])).get(b"content-type", b"").decode()
                    self.errors.append((start["status"], content_type, b"".join(chunks)))
            await send(message)

        await self.app(scope, receive, capture)


def check_errors(errors: list[tuple[int, str, bytes]]) -> set[str]:
    """Assert each error is a catalogue entry's (or a fault's text); returns the codes seen."""
    entries = {(e.code, e.status): e for e in catalogue().values()}
    seen = set()
    for status, content_type, body in errors:
        if content_type.startswith("text/plain"):
            continue  # a fault armed with its own body, or a status Clerk itself never sends (a proxy's 502)
        error = json.loads(body)["errors"][0]
        entry = entries.get((error["code"], status))
        assert entry is not None, f"{status} {error['code']} is not in the sandbox's catalogue: {body[:300]!r}"
        assert entry.bapi or entry.name in NOT_MARKED_BAPI, f"{entry.name} is not a Backend API error"
        assert error["message"] and error["long_message"], body
        seen.add(error["code"])
    return seen


@pytest.fixture
def app() -> Iterator[ErrorRecorder]:
    recorder = ErrorRecorder(create_app())
    yield recorder
    check_errors(recorder.errors)


@pytest.fixture
def sandbox(app: Any) -> Any:
    return app.state.sandbox


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as c:
        yield c
