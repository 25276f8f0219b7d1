"""Passwords, TOTP and backup codes, checked the way Clerk documents them.

Passwords are stored as digests only: bcrypt for passwords set through the API, or the digest a
client imported with `password_digest` + `password_hasher`. Backup codes are stored as SHA-256
digests (or a client-supplied bcrypt digest) and removed when used.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

import bcrypt
import pyotp

from . import hashers
from .errors import ClerkError, param_missing

# Clerk rejects passwords found in breach lists; a handful stands in for that list here.
PWNED_PASSWORDS = frozenset({"password", "password1", "12345678", "123456789", "qwertyuiop", "iloveyou"})
# An instance's default password_settings (min_length 8, max_length 72: the settings clerk/javascript's
# user-profile password tests use); Clerk also refuses more than 72 UTF-8 bytes, bcrypt's input limit
# (catalogue: FormInvalidPasswordSizeInBytesExceeded).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 72
MAX_PASSWORD_BYTES = 72
BCRYPT_COST = 10


def check_new_password(password: str, *, skip_checks: bool = False) -> None:
    """Raise Clerk's 422 for a password Clerk would refuse (length in characters, then in bytes, then breached)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ClerkError(
            "FormInvalidPasswordLengthTooShort", param="password",
            message=f"Passwords must be {MIN_PASSWORD_LENGTH} characters or more.",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ClerkError(
            "FormInvalidPasswordLengthTooLong", param="password",
            message=f"Passwords must be {MAX_PASSWORD_LENGTH} characters or fewer.",
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ClerkError("FormInvalidPasswordSizeInBytesExceeded", param="password")
    if not skip_checks and password.lower() in PWNED_PASSWORDS:
        raise ClerkError(
            "FormPwnedPassword", param="password", message="Password has been found in an online data breach.",
            long_message="This password has been found as part of a breach and can not be used, please try another password instead.",
        )


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()


def check_digest(digest: str, hasher: str | None) -> str:
    """Validate an imported digest (`hashers.check`); returns the hasher name to store beside it."""
    if hasher is None:
        raise param_missing("password_hasher")
    hashers.check(digest, hasher)
    return hasher


def password_matches(password: str, digest: str, hasher: str) -> bool:
    return hashers.matches(password, digest, hasher)


class _TOTP(pyotp.TOTP):
    """RFC 6238 TOTP without pyotp's own 112-bit floor on the secret: Clerk documents none (an 80-bit secret such as
    JBSWY3DPEHPK3PXP is the usual example), only that the secret is base32 (catalogue: `invalid_totp_secret_code`)."""

    min_secret_length_bits = 8


def check_totp_secret(secret: str) -> str:
    """Normalise a base32 TOTP secret (30 s, 6 digits, SHA-1: the spec's only supported options) or raise Clerk's 422."""
    normalised = secret.replace(" ", "").upper()
    try:
        _TOTP(normalised)
    except (binascii.Error, ValueError):
        raise ClerkError("InvalidTOTPSecret", param="totp_secret") from None
    return normalised


def totp_matches(secret: str, code: str, now_ms: int) -> bool:
    """Whether `code` is the TOTP of the 30 s step holding `now_ms` (the sandbox clock's time), or of the step either side."""
    return _TOTP(secret).verify(code, for_time=now_ms // 1000, valid_window=1)


def _is_bcrypt(code: str) -> bool:
    return hashers.HASHERS["bcrypt"].pattern.match(code) is not None


def hash_backup_code(code: str) -> str:
    """Store a plain code as a SHA-256 digest; keep a client-supplied bcrypt digest (format and cost checked,
    `hashers.check`) as it is. Anything not shaped like a bcrypt digest ("$2-not-a-bcrypt-hash") is a plain code."""
    if _is_bcrypt(code):
        hashers.check(code, "bcrypt", param="backup_codes")
        return code
    return "sha256$" + hashlib.sha256(code.encode()).hexdigest()


def find_backup_code(code: str, digests: list[str]) -> int | None:
    """Index of the digest `code` matches, so the caller can consume it."""
    plain = "sha256$" + hashlib.sha256(code.encode()).hexdigest()
    for index, digest in enumerate(digests):
        if _is_bcrypt(digest):
            if hashers.matches(code, digest, "bcrypt"):
                return index
        elif hmac.compare_digest(digest, plain):
            return index
    return None
