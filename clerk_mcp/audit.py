"""The audit trail: one JSON line per call, and what of a call's arguments may appear in any log.

Every place that writes arguments down (audit lines, transcripts, dry-run previews, error details) takes
them through `loggable_args` or `redact_args`, so a secret has one list to be on: `SECRET_ARGS`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Argument values that never reach a log, an audit line, a transcript, a preview or an error message.
# `private_metadata` too: results hide it by default, and an operator's API keys or notes kept there are no
# business of an audit trail.
SECRET_ARGS = frozenset({"password", "password_digest", "code", "totp_secret", "backup_codes", "file_base64", "private_metadata"})


def loggable_args(arguments: Any, declared: Collection[str]) -> dict[str, Any]:
    """Arguments as an audit line or transcript may keep them: values only for the tool's declared, non-secret
    fields. A misspelt field (`new_password`, `pass\u200bword`) may still hold a secret, so its value goes too."""
    if not isinstance(arguments, dict):
        return {}
    return {
        str(k): "***" if k not in declared or k in SECRET_ARGS else redact_args(v) for k, v in arguments.items()
    }


def redact_args(node: Any, fields: frozenset[str] = SECRET_ARGS) -> Any:
    """`node` as it may appear in a log: values under secret `fields` replaced by "***", at any depth (an
    invalid call may carry a password inside an unknown argument)."""
    if isinstance(node, dict):
        return {k: ("***" if k in fields and v is not None else redact_args(v, fields)) for k, v in node.items()}
    if isinstance(node, list):
        return [redact_args(v, fields) for v in node]
    return node


class AuditLog:
    """One JSON line per tool call, written with a single `write` to an O_APPEND file so lines never interleave."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        """Append `record`; a failed write (a full disk) is reported on stderr, since the call it records has run."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        try:
            with self._lock:
                os.write(self._fd, line)
        except OSError as exc:
            logger.error("clerk-mcp: could not append to %s (%s); the call's result is returned", self.path, exc.strerror)

    def close(self) -> None:
        os.close(self._fd)

