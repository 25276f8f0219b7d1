"""Clerk's error body, raised from anywhere in the sandbox and rendered in one place.

Every error response is `{"errors": [{message, long_message, code, meta}], "clerk_trace_id"}`, the
`ClerkErrors` schema of the spec, so clients cannot tell a sandbox error from a Clerk one.
"""

from __future__ import annotations

import secrets
from typing import Any


class ClerkError(Exception):
    """An API error with Clerk's status, code and messages."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        long_message: str | None = None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.long_message = long_message or message
        self.meta: dict[str, Any] = {"param_name": param} if param else {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.long_message, self.meta)


def error_body(code: str, message: str, long_message: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `ClerkErrors` body with a fresh trace id, as Clerk sends on every error."""
    return {
        "errors": [{"message": message, "long_message": long_message, "code": code, "meta": meta or {}}],
        "clerk_trace_id": secrets.token_hex(16),
    }


def not_found(what: str = "User") -> ClerkError:
    return ClerkError(404, "resource_not_found", "not found", f"{what} not found")


def param_unknown(param: str) -> ClerkError:
    return ClerkError(422, "form_param_unknown", "is unknown", f"{param} is not a valid parameter for this request.", param=param)


def param_missing(param: str) -> ClerkError:
    return ClerkError(422, "form_param_missing", "is missing", f"{param} must be included.", param=param)


def param_format(param: str, expected: str) -> ClerkError:
    return ClerkError(422, "form_param_format_invalid", "is invalid", f"{param} must be {expected}.", param=param)


def param_value(param: str, why: str) -> ClerkError:
    return ClerkError(422, "form_param_value_invalid", "is invalid", f"{param} {why}", param=param)


def identifier_exists(param: str) -> ClerkError:
    return ClerkError(
        422, "form_identifier_exists", "That identifier is taken.",
        f"That {param.replace('_', ' ')} is taken. Please try another.", param=param,
    )
