"""Fixtures for the sandbox tests: a fresh seeded app and an authenticated client per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app


@pytest.fixture
def app() -> Any:
    return create_app()


@pytest.fixture
def sandbox(app: Any) -> Any:
    return app.state.sandbox


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as c:
        yield c
