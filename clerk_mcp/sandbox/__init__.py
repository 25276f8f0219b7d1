"""A Clerk-compatible Backend API for the 15 Users operations, on SQLite (design §5).

- `create_app(...)` — the ASGI app; its `state.sandbox` exposes `reset()`, `seed()`, `faults`, `requests`.
- `serve(...)` — the app over HTTP with uvicorn (`clerk-mcp emulator`).
- `SANDBOX_SECRET_KEY` — the default bearer key.

The demo data set and the `/_sandbox/` harness controls are described in SEED.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

SANDBOX_SECRET_KEY = "sk_test_sandbox"

if TYPE_CHECKING:
    import socket

    from starlette.applications import Starlette

    from .lockout import Lockout

__all__ = ["SANDBOX_SECRET_KEY", "create_app", "serve"]


def create_app(
    *, secret_key: str = SANDBOX_SECRET_KEY, db_path: str | None = None, seed: bool = True, lockout: Lockout | None = None,
) -> Starlette:
    """The sandbox ASGI app (in memory unless `db_path`); imports Starlette only when called.
    `lockout`: the account-lockout policy, `sandbox.lockout.Lockout(max_attempts, duration_s)`."""
    from .app import create_app as build

    return build(secret_key=secret_key, db_path=db_path, seed=seed, lockout=lockout)


def serve(sock: socket.socket, url: str, *, secret_key: str = SANDBOX_SECRET_KEY,
          db_path: str | None = None, seed: bool = True, lockout: Lockout | None = None) -> None:
    """Serve the sandbox over HTTP on a bound, listening `sock` until interrupted; prints `url` and the key on stderr."""
    from .app import serve as run

    run(sock, url, secret_key=secret_key, db_path=db_path, seed=seed, lockout=lockout)
