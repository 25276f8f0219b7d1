"""Password imports: for each `password_hasher` of Clerk's spec, a digest made by the tool that makes such digests
is imported over HTTP, and verify_password then accepts its password and refuses another."""

from __future__ import annotations

import base64
import hashlib

import argon2
import bcrypt
import pytest
from passlib.hash import django_bcrypt_sha256, django_pbkdf2_sha256, ldap_salted_sha1, phpass
from starlette.testclient import TestClient
from werkzeug.security import generate_password_hash

from clerk_mcp.sandbox.hashers import HASHERS, UNSUPPORTED

from .support import assert_clerk_error, spec

PASSWORD = "Tr0ub4dor&3-imported"
b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731


def _symfony(password: str, salt: str, iterations: int) -> str:
    """Symfony's MessageDigestPasswordHasher('sha512', true, iterations): hash("password{salt}"), then
    hash(previous + "password{salt}") for the remaining iterations, base64 (symfony/password-hasher,
    Hasher/MessageDigestPasswordHasher.php)."""
    salted = f"{password}{{{salt}}}".encode()
    digest = hashlib.sha512(salted).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha512(digest + salted).digest()
    return f"sha512_symfony${iterations}${salt}${b64(digest)}"


# The password of Firebase's own published example (firebase/scrypt README.md): hash, salt, signer key,
# salt separator, rounds, memory cost, as Clerk's docs order them.
FIREBASE = ("lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$"
            "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$14", "user1password")

SALT = b"pepper-and-salt!"
DIGESTS: dict[str, tuple[str, str]] = {
    "bcrypt": (bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(), PASSWORD),
    "bcrypt_sha256_django": (django_bcrypt_sha256.using(rounds=4).hash(PASSWORD), PASSWORD),
    "md5": (hashlib.md5(PASSWORD.encode()).hexdigest(), PASSWORD),
    "sha256": (hashlib.sha256(PASSWORD.encode()).hexdigest().upper(), PASSWORD),
    "pbkdf2_sha1": (f"pbkdf2_sha1$1000${SALT.hex()}${hashlib.pbkdf2_hmac('sha1', PASSWORD.encode(), SALT, 1000, 32).hex()}", PASSWORD),
    "pbkdf2_sha256": (f"pbkdf2_sha256$1000${b64(SALT)}${b64(hashlib.pbkdf2_hmac('sha256', PASSWORD.encode(), SALT, 1000))}", PASSWORD),
    "pbkdf2_sha256_django": (django_pbkdf2_sha256.using(rounds=1000).hash(PASSWORD), PASSWORD),
    "pbkdf2_sha512": (f"pbkdf2_sha512$1000$plainsalt${hashlib.pbkdf2_hmac('sha512', PASSWORD.encode(), b'plainsalt', 1000).hex()}", PASSWORD),
    "pbkdf2_sha512_hex": (f"pbkdf2_sha512_hex$1000${SALT.hex()}${hashlib.pbkdf2_hmac('sha512', PASSWORD.encode(), SALT, 1000).hex()}", PASSWORD),
    "phpass": (phpass.using(rounds=8).hash(PASSWORD), PASSWORD),  # WordPress's cost
    "scrypt_firebase": FIREBASE,
    "scrypt_werkzeug": (generate_password_hash(PASSWORD, method="scrypt"), PASSWORD),
    "ldap_ssha": (ldap_salted_sha1.hash(PASSWORD), PASSWORD),
    "argon2i": (argon2.PasswordHasher(type=argon2.Type.I, memory_cost=4096).hash(PASSWORD), PASSWORD),
    "argon2id": (argon2.PasswordHasher().hash(PASSWORD), PASSWORD),
    "sha512_symfony": (_symfony(PASSWORD, "s4lt", 5000), PASSWORD),
}
EXTRA = {  # the other forms Clerk's docs allow
    "pbkdf2_sha1 with a raw salt and a key length": (
        "pbkdf2_sha1", f"pbkdf2_sha1$1000$not-hex-salt${hashlib.pbkdf2_hmac('sha1', PASSWORD.encode(), b'not-hex-salt', 1000, 20).hex()}$20"),
    "scrypt_werkzeug as Clerk writes it, with a leading $": ("scrypt_werkzeug", "$" + generate_password_hash(PASSWORD, method="scrypt")),
}


def test_every_hasher_of_the_spec_is_verified_or_refused() -> None:
    listed = spec()["components"]["schemas"]["PasswordHasher"]["description"]
    named = {name for name in [*HASHERS, *UNSUPPORTED] if f"`{name}`" in listed}
    assert named == set(HASHERS) | set(UNSUPPORTED) and set(DIGESTS) == set(HASHERS)


def _import(client: TestClient, hasher: str, digest: str) -> str:
    response = client.post("/v1/users", json={"password_digest": digest, "password_hasher": hasher})
    assert response.status_code == 200, response.text
    assert response.json()["password_enabled"] is True
    return response.json()["id"]


@pytest.mark.parametrize(("hasher", "digest", "password"), [(h, d, p) for h, (d, p) in DIGESTS.items()]
                         + [(h, d, PASSWORD) for h, d in EXTRA.values()], ids=[*DIGESTS, *EXTRA])
def test_an_imported_digest_verifies_its_password_only(client: TestClient, hasher: str, digest: str, password: str) -> None:
    user_id = _import(client, hasher, digest)
    verify = f"/v1/users/{user_id}/verify_password"
    assert client.post(verify, json={"password": password}).json() == {"verified": True}
    assert client.post(verify, json={"password": password + "x"}).status_code == 422


def test_update_user_imports_a_digest_too(client: TestClient) -> None:
    user_id = _import(client, "md5", DIGESTS["md5"][0])
    digest = DIGESTS["argon2id"][0]
    assert client.patch(f"/v1/users/{user_id}", json={"password_digest": digest, "password_hasher": "argon2id"}).status_code == 200
    assert client.post(f"/v1/users/{user_id}/verify_password", json={"password": PASSWORD}).json() == {"verified": True}


@pytest.mark.parametrize(("hasher", "digest"), [
    ("bcrypt", DIGESTS["md5"][0]),
    ("argon2id", DIGESTS["argon2i"][0]),
    ("pbkdf2_sha512_hex", DIGESTS["pbkdf2_sha512"][0].replace("pbkdf2_sha512$", "pbkdf2_sha512_hex$")),
    ("scrypt_firebase", "hash$salt$key$sep$8"),
    ("bcrypt", bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode().replace("$04$", "$31$")),  # a cost that would stall every request
    ("pbkdf2_sha256", DIGESTS["pbkdf2_sha256"][0].replace("$1000$", "$4000000000$")),
    ("scrypt_werkzeug", "scrypt:1048576:8:1$salt$00ff"),
    ("argon2id", DIGESTS["argon2id"][0].replace("m=65536", "m=4194304")),
    ("phpass", "$Pz" + DIGESTS["phpass"][0][3:]),
    ("scrypt_firebase", FIREBASE[0].replace("$8$14", "$8$30")),
])
def test_a_digest_not_in_its_format_or_beyond_the_cost_caps_is_refused(client: TestClient, hasher: str, digest: str) -> None:
    error = assert_clerk_error(client.post("/v1/users", json={"password_digest": digest, "password_hasher": hasher}),
                               422, "form_password_digest_invalid_code", "password_digest")
    assert hasher in error["long_message"]
    assert client.get("/v1/users/count").json()["total_count"] == 30


def test_hashers_the_sandbox_cannot_verify_are_refused_with_the_reason(client: TestClient) -> None:
    error = assert_clerk_error(client.post("/v1/users", json={"password_digest": "$H$9abcdefgh", "password_hasher": "md5_phpass"}),
                               422, "form_param_value_invalid", "password_hasher")
    assert "no digest format" in error["long_message"]
    error = assert_clerk_error(client.post("/v1/users", json={"password_digest": "x", "password_hasher": "rot13"}),
                               422, "form_param_value_invalid", "password_hasher")
    assert error["long_message"] == "rot13 does not match one of the allowed values for parameter password_hasher"
