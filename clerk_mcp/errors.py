"""The error tree. Every failure a tool can meet is one of these, and each becomes an `isError` result.

    ClerkMCPError                 base; `summary()` is the one line a model can act on
    ├── InvalidArguments          the call's arguments fail the tool's schema; nothing was sent
    ├── PolicyRefusal             the policy did not allow the call (declined, denied, over budget); nothing was sent
    ├── ResultTooLarge            one record alone is over the result token limit; nothing is returned
    ├── InternalError             a bug in clerk-mcp; the server's log has the details
    └── UpstreamError             talking to Clerk failed
        ├── ClerkAPIError         Clerk answered with an error status (and usually its error body)
        ├── UpstreamTimeout       no answer in time
        ├── UpstreamUnavailable   could not connect, or the connection dropped
        └── BadUpstreamResponse   a success status whose body is not the JSON Clerk promises

`details()` is the structured content of the error result. No error carries a secret: messages are
built from status codes, Clerk's own error text and field names, never from argument values.
"""

from __future__ import annotations

from typing import Any


class ClerkMCPError(Exception):
    kind = "error"

    def summary(self) -> str:
        return str(self) or self.kind

    def details(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.summary()}


class InvalidArguments(ClerkMCPError):
    """The arguments do not fit the tool's input schema."""

    kind = "invalid_arguments"

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"Invalid arguments for {tool}: " + "; ".join(problems))

    def details(self) -> dict[str, Any]:
        return {**super().details(), "problems": self.problems}


class PolicyRefusal(ClerkMCPError):
    """The policy layer stopped the call before anything was sent."""

    kind = "refused"

    def __init__(self, message: str, *, decision: str = "refused", retry_after: float | None = None) -> None:
        self.decision = decision
        self.retry_after = retry_after
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        extra = {"retry_after_seconds": round(self.retry_after)} if self.retry_after is not None else {}
        return {**super().details(), "decision": self.decision, **extra}


class ResultTooLarge(ClerkMCPError):
    """A result that cannot be cut under the operator's token limit (`max_result_tokens`) at a record boundary."""

    kind = "result_too_large"


class InternalError(ClerkMCPError):
    """An unexpected failure inside clerk-mcp: reported, not hidden, and never with a traceback to the client."""

    kind = "internal_error"


class UpstreamError(ClerkMCPError):
    kind = "upstream_error"


class ClerkAPIError(UpstreamError):
    """Clerk's error response: `{errors: [{message, long_message, code, meta}], clerk_trace_id}`."""

    kind = "clerk_api_error"

    def __init__(
        self, status: int, errors: list[dict[str, Any]], trace_id: str | None = None, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.errors = errors
        self.trace_id = trace_id
        first = errors[0] if errors else {}
        self.code = str(first.get("code") or "http_error")
        message = str(first.get("long_message") or first.get("message") or f"HTTP {status}")
        # The summary is one line whatever Clerk sent; `errors` keeps Clerk's text as it was.
        self.message = " ".join(message.split()) or f"HTTP {status}"
        super().__init__(f"{status} {self.code}: {self.message}")

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "status": self.status,
            "code": self.code,
            "errors": self.errors,
            "clerk_trace_id": self.trace_id,
            **({"retry_after_seconds": round(self.retry_after)} if self.retry_after is not None else {}),
        }


class UpstreamTimeout(UpstreamError):
    kind = "timeout"


class UpstreamUnavailable(UpstreamError):
    kind = "unavailable"


class BadUpstreamResponse(UpstreamError):
    kind = "bad_response"

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "status": self.status}
