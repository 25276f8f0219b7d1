"""Clerk's errors, built from Clerk's own catalogue and rendered in one place.

Every error the sandbox returns is an entry of `api_errors.json`: a verbatim subset of
`data/api_errors.json` in clerk/clerk-docs (the commit is in the file; `scripts/refresh_api_errors.py`
refreshes it). An entry gives the code, the HTTP status and the messages; its placeholders
(`<userID>`, `%d`, ...) are filled from the call site. Where the catalogue's message is empty (Clerk
composes it at run time) the call site supplies one.

The body is `{"errors": [{message, long_message, code, meta}], "clerk_trace_id"}`, the `ClerkErrors`
schema of the spec, so clients cannot tell a sandbox error from a Clerk one.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: `name` is the catalogue's unique key (codes repeat across entries)."""

    name: str
    code: str
    status: int
    message: str
    long_message: str
    bapi: bool


@cache
def catalogue() -> dict[str, Entry]:
    """The catalogue subset, by entry name."""
    data = json.loads(resources.files(__package__).joinpath("api_errors.json").read_text(encoding="utf-8"))
    return {
        e["name"]: Entry(e["name"], e["code"], int(e["status"]), e["shortMessage"], e["longMessage"], e["usage"]["bapi"])
        for e in data["errors"]
    }


_PLACEHOLDER = re.compile(r"<(\w+)>|%[dvsq]")


def _fill(template: str, args: tuple[Any, ...], fields: dict[str, Any]) -> str:
    """Fill `<name>` from `fields` and Go verbs (`%d`, `%v`, `%q`) from `args`, in order."""
    positional = iter(args)

    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return str(fields.get(match.group(1), match.group(0)))
        value = next(positional, "")
        return json.dumps(value) if match.group(0) == "%q" else str(value)

    return _PLACEHOLDER.sub(one, template)


class ClerkError(Exception):
    """The catalogue entry `name` as an exception.

    `<param>`/`<parameter>` placeholders take `param` (also sent as `meta.param_name`); other
    `<name>` placeholders take keyword fields, Go verbs take `args`. `message`/`long_message` are
    used only where the catalogue has none; `detail` is appended to the long message to say what
    exactly is wrong.
    """

    def __init__(
        self,
        name: str,
        *args: Any,
        param: str | None = None,
        detail: str | None = None,
        message: str | None = None,
        long_message: str | None = None,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        entry = catalogue()[name]
        fields = {"param": param, "parameter": param, **fields} if param else fields
        self.entry = entry
        self.status = entry.status
        self.code = entry.code
        self.message = _fill(entry.message, args, fields) or message or long_message or entry.code.replace("_", " ")
        self.long_message = _fill(entry.long_message, args, fields) or long_message or self.message
        if detail:
            self.long_message = f"{self.long_message.rstrip('.')}: {detail}"
        self.meta: dict[str, Any] = {"param_name": param} if param else {}
        self.headers = headers or {}
        super().__init__(f"{self.status} {self.code}: {self.long_message}")

    def body(self) -> dict[str, Any]:
        """A `ClerkErrors` body with a fresh trace id, as Clerk sends on every error."""
        return {
            "errors": [{"message": self.message, "long_message": self.long_message, "code": self.code, "meta": self.meta}],
            "clerk_trace_id": secrets.token_hex(16),
        }


# Clerk's body for an error status that carries no detail (what an injected fault answers).
GENERIC = {
    400: "BadRequest", 401: "CouldNotAuthenticateRequest", 403: "QuotaExceeded", 404: "ResourceNotFound",
    409: "Conflict", 429: "TooManyRequests", 500: "Unexpected", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}


def not_found(user_id: str) -> ClerkError:
    return ClerkError("UserNotFound", userID=user_id)


def param_unknown(param: str) -> ClerkError:
    return ClerkError("FormUnknownParameter", param=param)


def param_missing(param: str) -> ClerkError:
    return ClerkError("FormMissingParameter", param=param)


def param_type(param: str, value: Any, expected: str) -> ClerkError:
    """A JSON value of the wrong type, worded as Clerk's JSON decoder error ("Received string, must be of type integer")."""
    return ClerkError("FailedToParseRequestBody", param, json_type(value), expected, param=param)


def param_format(param: str, expected: str) -> ClerkError:
    return ClerkError("FormInvalidParameterFormat", param=param, message="is invalid", long_message=f"{param} must be {expected}.")


def param_value(param: str, value: Any, why: str) -> ClerkError:
    """A value Clerk refuses; `why` says what would be accepted."""
    shown = value if isinstance(value, str) else json.dumps(value)
    return ClerkError("FormInvalidParameterValue", param=param, value=shown[:100], detail=why)


def identifier_exists(param: str) -> ClerkError:
    what = param.replace("_", " ")
    return ClerkError("FormIdentifierExists", param=param, message="That identifier is taken.", long_message=f"That {what} is taken. Please try another.")


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, as error messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
