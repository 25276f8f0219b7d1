"""Imported password digests: each `password_hasher` of the spec's `PasswordHasher`, checked in the format Clerk's
docs give for it and verified with a maintained library (FIDELITY.md has the table).

Formats: clerk/clerk-docs `clerk-typedoc/backend/create-user-params.mdx` (commit a7cebf5858db84418400627a811cf6080f66d89c),
`passwordHasher`; `ldap_ssha` follows the OpenLDAP FAQ the spec links to. Libraries: bcrypt, argon2-cffi, libpass
(the maintained passlib fork: phpass, LDAP SSHA, Django's formats), Werkzeug (its own scrypt format), hashlib
(PBKDF2, scrypt, MD5, SHA-2) and cryptography (AES for Firebase's scrypt).

Each hasher's cost parameters are capped (`LIMITS`) so that a planted digest cannot stall the sandbox; Clerk
publishes no such caps, so a digest beyond them is one of the divergences FIDELITY.md lists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

import argon2
import bcrypt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from passlib.hash import django_bcrypt_sha256, django_pbkdf2_sha256, ldap_salted_sha1, phpass
from werkzeug.security import check_password_hash

from .errors import ClerkError

# Cost caps, each well above the defaults of the tools that make such digests (bcrypt 10-12, Django's PBKDF2
# 1,000,000-1,500,000 iterations, Werkzeug's scrypt n=32768 r=8 p=1, argon2-cffi m=65536 t=3 p=4, phpass 2^8 (WordPress) to 2^19 (passlib),
# Firebase's rounds 1-8 and memory cost 1-14, Symfony's 5,000 iterations).
LIMITS = {
    "bcrypt_cost": 14,
    "pbkdf2_iterations": 2_000_000,
    "scrypt_bytes": 64 * 1024 * 1024,  # 128 * n * r * p
    "argon2_memory_kib": 65_536,
    "argon2_time": 10,
    "argon2_parallelism": 8,
    "phpass_log2_rounds": 20,
    "firebase_rounds": 8,
    "firebase_memory_cost": 14,
    "symfony_iterations": 100_000,
}

_B64 = r"[A-Za-z0-9+/=]+"
_BCRYPT = r"\$2[abxy]?\$(?P<cost>\d{2})\$[./A-Za-z0-9]{53}"
_PHPASS_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Hasher:
    """One `password_hasher`: the digest's format, a check of its cost, and how a password is verified against it."""

    pattern: re.Pattern[str]
    verify: Callable[[str, re.Match[str]], bool]
    cost: Callable[[re.Match[str]], str | None] = lambda match: None  # why the cost is too high, or None


def _cap(name: str, value: int, what: str) -> str | None:
    return f"{what} {value} is above the sandbox's limit of {LIMITS[name]}" if value > LIMITS[name] else None


def _hex_equal(derived: bytes, expected: str) -> bool:
    return hmac.compare_digest(derived.hex(), expected.lower())


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _pbkdf2(algorithm: str, salt: Callable[[str], bytes], decode: Callable[[str], bytes]) -> Callable[[str, re.Match[str]], bool]:
    """PBKDF2 with `algorithm`, the salt and hash decoded as the hasher's format says; the key is as long as the hash."""
    def verify(password: str, match: re.Match[str]) -> bool:
        expected = decode(match["hash"])
        length = int(match.groupdict().get("length") or len(expected))
        derived = hashlib.pbkdf2_hmac(algorithm, password.encode(), salt(match["salt"]), int(match["iterations"]), length)
        return hmac.compare_digest(derived, expected)
    return verify


def _hex_or_raw(salt: str) -> bytes:
    """pbkdf2_sha1's salt: hex when it is valid hex, else its raw bytes (Clerk's docs)."""
    try:
        return bytes.fromhex(salt)
    except ValueError:
        return salt.encode()


def _iterations(match: re.Match[str]) -> str | None:
    return _cap("pbkdf2_iterations", int(match["iterations"]), "iterations")


def _firebase(password: str, match: re.Match[str]) -> bool:
    """Firebase's scrypt: the signer key AES-256-CTR-encrypted with scrypt(password, salt + separator) as the key."""
    key = hashlib.scrypt(
        password.encode(), salt=_b64(match["salt"]) + _b64(match["separator"]),
        n=2 ** int(match["memory"]), r=int(match["rounds"]), p=1, dklen=32, maxmem=LIMITS["scrypt_bytes"] * 2,
    )
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    derived = encryptor.update(_b64(match["signer"])) + encryptor.finalize()
    return hmac.compare_digest(derived, _b64(match["hash"]))


def _firebase_cost(match: re.Match[str]) -> str | None:
    rounds, memory = int(match["rounds"]), int(match["memory"])
    if rounds < 1 or memory < 1:
        return "rounds and memory cost must be at least 1"
    return _cap("firebase_rounds", rounds, "rounds") or _cap("firebase_memory_cost", memory, "memory cost")


def _scrypt_cost(match: re.Match[str]) -> str | None:
    n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        return "scrypt needs n a power of 2 above 1, r and p of at least 1"
    return _cap("scrypt_bytes", 128 * n * r * p, "memory (128·n·r·p bytes)")


def _argon2(password: str, match: re.Match[str]) -> bool:
    try:
        return argon2.PasswordHasher().verify(match.string, password)
    except argon2.exceptions.VerificationError:
        return False


def _argon2_cost(match: re.Match[str]) -> str | None:
    return (_cap("argon2_memory_kib", int(match["m"]), "memory (KiB)") or _cap("argon2_time", int(match["t"]), "iterations")
            or _cap("argon2_parallelism", int(match["p"]), "parallelism"))


def _symfony(password: str, match: re.Match[str]) -> bool:
    """Symfony's legacy MessageDigestPasswordHasher, SHA-512: "password{salt}", hashed, then rehashed with it appended."""
    salted = (f"{password}{{{match['salt']}}}" if match["salt"] else password).encode()
    digest = hashlib.sha512(salted).digest()
    for _ in range(int(match["iterations"]) - 1):
        digest = hashlib.sha512(digest + salted).digest()
    return hmac.compare_digest(digest, _b64(match["hash"]))


def _bcrypt_cost(match: re.Match[str]) -> str | None:
    return _cap("bcrypt_cost", int(match["cost"]), "cost")


def _library(handler: Callable[[str, str], bool]) -> Callable[[str, re.Match[str]], bool]:
    return lambda password, match: handler(password, match.string)


HASHERS: dict[str, Hasher] = {
    "bcrypt": Hasher(re.compile(rf"^{_BCRYPT}$"), lambda pw, m: bcrypt.checkpw(pw.encode(), m.string.encode()), _bcrypt_cost),
    "bcrypt_sha256_django": Hasher(re.compile(rf"^bcrypt_sha256\${_BCRYPT}$"), _library(django_bcrypt_sha256.verify), _bcrypt_cost),
    "md5": Hasher(re.compile(r"^(?P<hash>[0-9a-fA-F]{32})$"), lambda pw, m: _hex_equal(hashlib.md5(pw.encode()).digest(), m["hash"])),
    "sha256": Hasher(re.compile(r"^(?P<hash>[0-9a-fA-F]{64})$"), lambda pw, m: _hex_equal(hashlib.sha256(pw.encode()).digest(), m["hash"])),
    "pbkdf2_sha1": Hasher(
        re.compile(r"^pbkdf2_sha1\$(?P<iterations>[1-9]\d{0,9})\$(?P<salt>[^$]*)\$(?P<hash>(?:[0-9a-fA-F]{2})+)(?:\$(?P<length>[1-9]\d{0,2}))?$"),
        _pbkdf2("sha1", _hex_or_raw, bytes.fromhex), _iterations,
    ),
    "pbkdf2_sha256": Hasher(
        re.compile(rf"^pbkdf2_sha256\$(?P<iterations>[1-9]\d{{0,9}})\$(?P<salt>{_B64})\$(?P<hash>{_B64})$"),
        _pbkdf2("sha256", _b64, _b64), _iterations,
    ),
    "pbkdf2_sha256_django": Hasher(
        re.compile(rf"^pbkdf2_sha256\$(?P<iterations>[1-9]\d{{0,9}})\$[^$]+\${_B64}$"), _library(django_pbkdf2_sha256.verify), _iterations,
    ),
    "pbkdf2_sha512": Hasher(
        re.compile(r"^pbkdf2_sha512\$(?P<iterations>[1-9]\d{0,9})\$(?P<salt>[^$]*)\$(?P<hash>(?:[0-9a-fA-F]{2})+)$"),
        _pbkdf2("sha512", str.encode, bytes.fromhex), _iterations,
    ),
    "pbkdf2_sha512_hex": Hasher(
        re.compile(r"^pbkdf2_sha512_hex\$(?P<iterations>[1-9]\d{0,9})\$(?P<salt>(?:[0-9a-fA-F]{2})*)\$(?P<hash>(?:[0-9a-fA-F]{2})+)$"),
        _pbkdf2("sha512", bytes.fromhex, bytes.fromhex), _iterations,
    ),
    "phpass": Hasher(
        re.compile(r"^\$P\$(?P<rounds>[./0-9A-Za-z])[./0-9A-Za-z]{30}$"), _library(phpass.verify),
        lambda m: _cap("phpass_log2_rounds", _PHPASS_ALPHABET.index(m["rounds"]), "log2 of rounds"),
    ),
    "scrypt_firebase": Hasher(
        re.compile(rf"^(?P<hash>{_B64})\$(?P<salt>{_B64})\$(?P<signer>{_B64})\$(?P<separator>{_B64})\$(?P<rounds>\d{{1,2}})\$(?P<memory>\d{{1,2}})$"),
        _firebase, _firebase_cost,
    ),
    "scrypt_werkzeug": Hasher(
        re.compile(r"^\$?(?P<werkzeug>scrypt:(?P<n>\d{1,10}):(?P<r>\d{1,4}):(?P<p>\d{1,4})\$[^$]+\$[0-9a-f]+)$"),
        lambda pw, m: check_password_hash(m["werkzeug"], pw), _scrypt_cost,
    ),
    "ldap_ssha": Hasher(re.compile(rf"^\{{SSHA\}}{_B64}$"), _library(ldap_salted_sha1.verify)),
    "argon2i": Hasher(re.compile(rf"^\$argon2i\$v=19\$m=(?P<m>\d{{1,10}}),t=(?P<t>\d{{1,10}}),p=(?P<p>\d{{1,3}})\${_B64}\${_B64}$"), _argon2, _argon2_cost),
    "argon2id": Hasher(re.compile(rf"^\$argon2id\$v=19\$m=(?P<m>\d{{1,10}}),t=(?P<t>\d{{1,10}}),p=(?P<p>\d{{1,3}})\${_B64}\${_B64}$"), _argon2, _argon2_cost),
    "sha512_symfony": Hasher(
        re.compile(rf"^sha512_symfony\$(?P<iterations>[1-9]\d{{0,9}})\$(?P<salt>[^$]*)\$(?P<hash>{_B64})$"), _symfony,
        lambda m: _cap("symfony_iterations", int(m["iterations"]), "iterations"),
    ),
}

# In the spec's list, but with no digest format in Clerk's docs to check against: refused (FIDELITY.md).
UNSUPPORTED = {"md5_phpass": "Clerk's docs give no digest format for it"}


def check(digest: str, hasher: str, *, param: str = "password_digest") -> None:
    """Raise Clerk's 422 for a hasher the sandbox cannot verify or a digest (sent as `param`) not in that hasher's format."""
    if hasher not in HASHERS:
        why = f"not supported by the sandbox: {UNSUPPORTED[hasher]}." if hasher in UNSUPPORTED else None
        raise ClerkError("FormInvalidParameterValue", param="password_hasher", value=hasher, detail=why)
    match = HASHERS[hasher].pattern.match(digest)
    problem = "it is not in that hasher's format" if match is None else HASHERS[hasher].cost(match)
    if problem:
        raise ClerkError(
            "FormPasswordDigestInvalid", param=param, message="is invalid",
            long_message=f"{param} is not valid for password_hasher {hasher}: {problem}.",
        )


def matches(password: str, digest: str, hasher: str) -> bool:
    """Whether `password` is the one `digest` was made from; a digest stored before its checks existed just fails."""
    entry = HASHERS.get(hasher)
    match = entry.pattern.match(digest) if entry else None
    if entry is None or match is None or entry.cost(match):
        return False
    try:
        return entry.verify(password, match)
    except (ValueError, binascii.Error):
        return False
