"""Passwords, TOTP and backup codes, checked the way Clerk documents them.

Passwords are stored as digests only: bcrypt for passwords set through the API, or the digest a
client imported with `password_digest` + `password_hasher`. Backup codes are stored as SHA-256
digests (or a client-supplied bcrypt digest) and removed when used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import bcrypt
import pyotp

from .errors import ClerkError, param_format, param_value

# Clerk rejects passwords found in breach lists; a handful stands in for that list here.
PWNED_PASSWORDS = frozenset({"password", "password1", "12345678", "123456789", "qwertyuiop", "iloveyou"})
MIN_PASSWORD_LENGTH = 8
BCRYPT_COST = 10


def check_new_password(password: str, *, skip_checks: bool = False) -> None:
    """Raise Clerk's 422 for a password Clerk would refuse."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ClerkError(
            422, "form_password_length_too_short",
            f"Passwords must be {MIN_PASSWORD_LENGTH} characters or more.", param="password",
        )
    if not skip_checks and password.lower() in PWNED_PASSWORDS:
        raise ClerkError(
            422, "form_password_pwned", "Password has been found in an online data breach.",
            "This password has been found as part of a breach and can not be used, please try another password instead.",
            param="password",
        )


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()


def _django_pbkdf2(password: str, digest: str) -> bool:
    algorithm, iterations, salt, expected = digest.split("$", 3)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return algorithm == "pbkdf2_sha256" and hmac.compare_digest(base64.b64encode(derived).decode(), expected)


# The hashers of the spec's `PasswordHasher` that the sandbox can verify; others get a 422.
_HASHERS = {
    "bcrypt": lambda password, digest: bcrypt.checkpw(password.encode(), digest.encode()),
    "sha256": lambda password, digest: hmac.compare_digest(hashlib.sha256(password.encode()).hexdigest(), digest.lower()),
    "md5": lambda password, digest: hmac.compare_digest(hashlib.md5(password.encode()).hexdigest(), digest.lower()),
    "pbkdf2_sha256_django": _django_pbkdf2,
}


def check_digest(digest: str, hasher: str | None) -> str:
    """Validate an imported digest; returns the hasher name to store beside it."""
    if hasher is None:
        raise ClerkError(422, "form_param_missing", "is missing", "password_hasher must be included with password_digest.", param="password_hasher")
    if hasher not in _HASHERS:
        raise param_value("password_hasher", f"'{hasher}' is not supported by the sandbox (supported: {', '.join(_HASHERS)}).")
    if hasher == "bcrypt" and not digest.startswith("$2"):
        raise param_format("password_digest", "a bcrypt digest")
    if hasher == "pbkdf2_sha256_django" and digest.count("$") != 3:
        raise param_format("password_digest", "a Django pbkdf2_sha256 digest")
    return hasher


def password_matches(password: str, digest: str, hasher: str) -> bool:
    try:
        return _HASHERS[hasher](password, digest)
    except (ValueError, KeyError):
        return False


def check_totp_secret(secret: str) -> str:
    """Normalise a base32 TOTP secret (RFC 6238: 30 s, 6 digits, SHA-1) or raise 422."""
    normalised = secret.replace(" ", "").upper()
    try:
        pyotp.TOTP(normalised).now()
    except (binascii.Error, ValueError):
        raise param_format("totp_secret", "a base32-encoded secret of at least 112 bits") from None
    return normalised


def totp_matches(secret: str, code: str) -> bool:
    return pyotp.TOTP(secret).verify(code, valid_window=1)


def hash_backup_code(code: str) -> str:
    """Store a plain code as a SHA-256 digest; keep a client-supplied bcrypt digest as it is."""
    return code if code.startswith("$2") else "sha256$" + hashlib.sha256(code.encode()).hexdigest()


def find_backup_code(code: str, digests: list[str]) -> int | None:
    """Index of the digest `code` matches, so the caller can consume it."""
    plain = "sha256$" + hashlib.sha256(code.encode()).hexdigest()
    for index, digest in enumerate(digests):
        if digest.startswith("$2"):
            if bcrypt.checkpw(code.encode(), digest.encode()):
                return index
        elif hmac.compare_digest(digest, plain):
            return index
    return None
