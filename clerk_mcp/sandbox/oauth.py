"""The sandbox as an OAuth authorization server, so `serve --http --auth clerk` runs offline, in CI.

What a Clerk instance offers a resource server, and what this module serves:

- the instance's JSON Web Key Set at the Backend API's `GET /v1/jwks` (secret key required; Clerk's SDKs
  fetch it there: clerk/javascript packages/backend/src/tokens/keys.ts, `fetchJWKSFromBAPI`) and at the
  Frontend API's public `/.well-known/jwks.json` (clerk-docs docs/guides/sessions/manual-jwt-verification.mdx);
- authorization server metadata (RFC 8414) at `/.well-known/oauth-authorization-server`, and the same
  document at `/.well-known/openid-configuration` (clerk/mcp-tools server.ts,
  `fetchClerkAuthorizationServerMetadata`); its issuer is the origin the request reached;
- `POST /v1/oauth_applications/access_tokens/verify` (operation verifyOAuthAccessToken of Clerk's spec,
  spec/bapi-2026-05-12.yml): `{"access_token"}` in; the token object out, with `revoked` and `expired` as
  flags (200 either way), `{"active": false}` for an expired JWT, 404 for a token the instance never issued.
  The object also carries `aud` when the token has one: Clerk's newer SDKs read it to bind a token to a
  resource (clerk/javascript packages/backend/src/api/endpoints/IdPOAuthAccessTokenApi.ts, `assertOAuthAudienceClaim`).

Tokens come from the harness (`/_sandbox/oauth/...`): mint one for a sandbox user with given scopes,
audience, lifetime and extra claims, as a JWT or opaque (`oat_` + 32 hex, the spec's pattern); revoke an opaque
one; rotate the signing key. For MCP clients that log in themselves there is also the authorization-code flow
Clerk offers them (OAuth 2.1: dynamic client registration `POST /oauth/register` (RFC 7591),
`GET /oauth/authorize` with PKCE S256 and an RFC 8707 `resource`, `POST /oauth/token`), with no login page:
the authorize request names the signing-in user with `login_hint=<user id>` and is approved at once. JWT access tokens follow RFC 9068 as Clerk's SDK
reads them (clerk/javascript packages/backend/src/jwt/verifyMachineJwt.ts and
api/resources/IdPOAuthAccessToken.ts `fromJwtPayload`): header `typ: at+jwt`, `kid`; claims `iss`, `sub`,
`aud`, `client_id`, `scope` (space-separated), `jti`, `iat`, `nbf`, `exp`. A JWT cannot be revoked
before it expires, on Clerk either (clerk-docs docs/guides/development/machine-auth/token-formats.mdx).

Keys live in memory and are made on first use (RSA 2048, RS256); times come from the sandbox's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .errors import ClerkError, param_missing, param_value
from .handlers import Call, checked_body, json_body

if TYPE_CHECKING:
    from .app import Sandbox
    from .clock import Clock

ALGORITHM = "RS256"
# The scopes a Clerk instance's OAuth server offers (clerk/mcp-tools server.ts, `scopesSupported`).
CLERK_SCOPES = ["openid", "profile", "email", "public_metadata", "private_metadata"]
# Claims the sandbox sets itself; `claims` given to the harness may add others (roles, email), not replace these.
REGISTERED = frozenset({"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "nbf", "exp"})
MINT_FIELDS = {
    "user_id": "string", "format": "string", "scopes": "string[]", "audience": "string?", "client_id": "string",
    "expires_in": "integer", "not_before_in": "integer", "claims": "object",
}
REVOKE_FIELDS = {"access_token": "string", "reason": "string?"}
VERIFY_FIELDS = {"access_token": "string", "secret": "string"}
MAX_LIFETIME = 30 * 86_400
KEPT_KEYS = 3
CODE_LIFETIME = 60  # seconds an authorization code stays usable (once)
MAX_PENDING = 1_000
MAX_PUBLIC_BODY = 64 * 1024  # registered clients and pending codes kept, each (oldest dropped first)


@dataclass
class Opaque:
    """An opaque access token the instance issued: what the verify endpoint answers about it."""

    id: str
    client_id: str
    subject: str
    scopes: list[str]
    audience: str | None
    expiration: int
    created_at: int
    revoked: bool = False
    revocation_reason: str | None = None


@dataclass
class Issuer:
    """One instance's signing keys and issued opaque tokens; thread-safe (handlers run in worker threads)."""

    clock: Clock
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _keys: list[tuple[str, rsa.RSAPrivateKey]] = field(default_factory=list)  # newest first; the first signs
    _opaque: dict[str, Opaque] = field(default_factory=dict)
    _clients: dict[str, list[str]] = field(default_factory=dict)  # client_id -> registered redirect URIs
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # authorization code -> what it grants

    def _now(self) -> int:
        return self.clock() // 1000

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        with self._lock:
            if not self._keys:
                self._keys.append(_new_key())
            return self._keys[0]

    def rotate(self, *, keep_previous: bool) -> str:
        """A new signing key; the previous ones stay published only if `keep_previous` (the newest `KEPT_KEYS` in
        all, so rotating in a loop cannot grow the set). Returns the new kid."""
        self.signing_key()
        with self._lock:
            self._keys[:] = [_new_key(), *(self._keys[: KEPT_KEYS - 1] if keep_previous else [])]
            return self._keys[0][0]

    def jwks(self) -> dict[str, Any]:
        self.signing_key()
        with self._lock:
            keys = list(self._keys)
        return {"keys": [{**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": ALGORITHM, "use": "sig"} for kid, key in keys]}

    def mint(self, issuer: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """An access token for `user_id` as the harness asked (see MINT_FIELDS); the token response of RFC 6749 §5.1."""
        now = self._now()
        lifetime = body.get("expires_in", 3600)
        if not -MAX_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise param_value("expires_in", lifetime, f"must be between {-MAX_LIFETIME} and {MAX_LIFETIME} seconds (negative: already expired).")
        delay = body.get("not_before_in", 0)
        if not 0 <= delay <= MAX_LIFETIME:
            raise param_value("not_before_in", delay, f"must be between 0 and {MAX_LIFETIME} seconds.")
        kind = body.get("format", "jwt")
        if kind not in ("jwt", "opaque"):
            raise param_value("format", kind, 'must be "jwt" or "opaque".')
        clashes = sorted(REGISTERED & set(body.get("claims", {})))
        if clashes:
            raise param_value("claims", clashes, f"may not set {', '.join(clashes)}: use the harness's own fields.")
        scopes = body.get("scopes", [])
        client_id = body.get("client_id", "client_sandbox")
        token_id = "oat_" + secrets.token_hex(16)
        if kind == "opaque":
            with self._lock:
                self._opaque[token_id] = Opaque(token_id, client_id, user_id, scopes, body.get("audience"), now + lifetime, now)
            token = token_id
        else:
            kid, key = self.signing_key()
            claims = {
                **body.get("claims", {}), "iss": issuer, "sub": user_id, "client_id": client_id, "scope": " ".join(scopes),
                "jti": token_id, "iat": now, "nbf": now + delay, "exp": now + lifetime,
                **({"aud": body["audience"]} if body.get("audience") else {}),
            }
            token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(scopes)}

    def revoke(self, token: str, reason: str | None) -> dict[str, Any]:
        with self._lock:
            found = self._opaque.get(token)
            if found is None:
                raise ClerkError("ResourceNotFound", detail="no opaque access token of this instance has that value (a JWT cannot be revoked; it expires).")
            found.revoked, found.revocation_reason = True, reason or "Revoked by the sandbox harness"
        return self.describe(found)

    def describe(self, token: Opaque) -> dict[str, Any]:
        """The verify endpoint's object for an opaque token (Clerk's `clerk_idp_oauth_access_token`)."""
        return {
            "object": "clerk_idp_oauth_access_token", "id": token.id, "client_id": token.client_id, "subject": token.subject,
            "scopes": token.scopes, "revoked": token.revoked, "revocation_reason": token.revocation_reason,
            "expired": token.expiration <= self._now(), "expiration": token.expiration,
            "created_at": token.created_at, "updated_at": token.created_at,
            **({"aud": token.audience} if token.audience else {}),
        }

    def verify(self, token: str) -> dict[str, Any]:
        """What `POST /v1/oauth_applications/access_tokens/verify` answers for `token`."""
        with self._lock:
            opaque = self._opaque.get(token)
            keys = {kid: key.public_key() for kid, key in self._keys}
        if opaque is not None:
            return self.describe(opaque)
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(
                token, keys[kid], algorithms=[ALGORITHM], options={"verify_aud": False, "verify_exp": False, "verify_nbf": False},
            )
        except (jwt.PyJWTError, KeyError, TypeError):
            raise ClerkError("ResourceNotFound", detail="the instance issued no access token with that value.") from None
        if claims["exp"] <= self._now():
            return {"active": False}
        scopes = str(claims.get("scope", "")).split()
        return {
            "object": "clerk_idp_oauth_access_token", "id": claims["jti"], "client_id": claims["client_id"],
            "subject": claims["sub"], "scopes": scopes, "revoked": False, "revocation_reason": None, "expired": False,
            "expiration": claims["exp"], "created_at": claims["iat"], "updated_at": claims["iat"],
            **({"aud": claims["aud"]} if "aud" in claims else {}),
        }

    def clear(self) -> None:
        """Forget issued opaque tokens, clients and codes (the keys stay, so a resource server's cached JWKS stays right)."""
        with self._lock:
            self._opaque.clear()
            self._clients.clear()
            self._codes.clear()

    def register(self, redirect_uris: list[str]) -> str:
        """A new public client (RFC 7591) allowed to use exactly `redirect_uris`; its client_id."""
        client_id = "client_" + secrets.token_hex(12)
        with self._lock:
            _bounded_put(self._clients, client_id, redirect_uris)
        return client_id

    def authorize(self, params: dict[str, str], user_id: str) -> str:
        """The redirect URI with a fresh code for `user_id`, or OAuthProblem for a request that cannot be granted."""
        with self._lock:
            redirects = self._clients.get(params.get("client_id", ""))
        if redirects is None or params.get("redirect_uri") not in redirects:
            raise OAuthProblem("invalid_request", "unknown client_id, or a redirect_uri it did not register")
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthProblem("invalid_request", "send response_type=code with a PKCE code_challenge (code_challenge_method=S256)")
        code = secrets.token_urlsafe(24)
        with self._lock:
            _bounded_put(self._codes, code, {**params, "user_id": user_id, "expires": self._now() + CODE_LIFETIME})
        return code

    def exchange(self, issuer: str, form: dict[str, str]) -> dict[str, Any]:
        """`POST /oauth/token` with grant_type=authorization_code: a JWT access token for the code's user."""
        if form.get("grant_type") != "authorization_code":
            raise OAuthProblem("unsupported_grant_type", "only authorization_code is supported")
        with self._lock:
            granted = self._codes.pop(form.get("code", ""), None)  # single use, whatever happens next
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            granted is None or granted["expires"] < self._now() or form.get("client_id") != granted["client_id"]
            or form.get("redirect_uri") != granted["redirect_uri"] or not hmac.compare_digest(challenge, granted["code_challenge"])
        ):
            raise OAuthProblem("invalid_grant", "the code is unknown, used, expired, or not this client's, redirect_uri's or code_verifier's")
        scopes = (granted.get("scope") or "").split()
        audience = form.get("resource") or granted.get("resource")
        return self.mint(issuer, granted["user_id"], {"scopes": scopes, "client_id": granted["client_id"], "audience": audience})


class OAuthProblem(Exception):
    """An OAuth error response (RFC 6749 §5.2): `error` code and description, status 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    def response(self) -> Response:
        return JSONResponse({"error": self.error, "error_description": self.description}, 400)


def _bounded_put(table: dict[str, Any], key: str, value: Any) -> None:
    """Add to `table`, dropping its oldest entries beyond MAX_PENDING (so no request stream can grow it without bound)."""
    table[key] = value
    while len(table) > MAX_PENDING:
        del table[next(iter(table))]


def _new_key() -> tuple[str, rsa.RSAPrivateKey]:
    return "ins_" + secrets.token_hex(12), rsa.generate_private_key(public_exponent=65537, key_size=2048)


def origin(request: Request) -> str:
    """The issuer: the origin the request reached (so tokens minted through 127.0.0.1:PORT name that server)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 metadata of the sandbox: its endpoints, keys and scopes; public clients with PKCE only."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "registration_endpoint": f"{issuer}/oauth/register",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": CLERK_SCOPES,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
    }


async def _capped_body(request: Request) -> bytes:
    """The body of a request to the public endpoints (no key checks them): ValueError past MAX_PUBLIC_BODY bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PUBLIC_BODY:
            raise ValueError("body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _body(fields: dict[str, str], raw: bytes, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return checked_body(Call(body=json_body(raw)), fields, required)


def public_routes(sandbox: Sandbox, issuer: Issuer) -> list[Route]:
    """The Frontend API's side: well-known documents and the authorization-code flow; public, no key."""
    async def jwks(request: Request) -> Response:
        return JSONResponse(issuer.jwks())

    async def server_metadata(request: Request) -> Response:
        return JSONResponse(metadata(origin(request)), headers={"access-control-allow-origin": "*"})

    async def register(request: Request) -> Response:
        try:
            body = json.loads(await _capped_body(request))
        except ValueError:
            body = None
        redirects = body.get("redirect_uris") if isinstance(body, dict) else None
        if not isinstance(redirects, list) or not redirects or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in redirects):
            return JSONResponse({"error": "invalid_redirect_uri", "error_description": "redirect_uris: a list of http(s) URLs"}, 400)
        client_id = issuer.register(redirects[:10])
        return JSONResponse({
            "client_id": client_id, "client_id_issued_at": issuer._now(), "redirect_uris": redirects[:10],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"], "response_types": ["code"],
        }, 201)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        user_id = params.get("login_hint", "")
        try:
            if not user_id:
                raise OAuthProblem("login_required", "the sandbox has no sign-in page: add login_hint=<a sandbox user id> to the authorize URL")
            try:
                await sandbox.run(lambda: sandbox.store.user(user_id))
            except ClerkError:
                raise OAuthProblem("login_required", "login_hint names no user of this sandbox") from None
            code = issuer.authorize(params, user_id)
        except OAuthProblem as problem:
            return problem.response()  # never redirected: the redirect URI may not be the client's
        answer = {"code": code, "iss": origin(request), **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(f"{params['redirect_uri']}{separator}{urlencode(answer)}", 302)

    async def token(request: Request) -> Response:
        try:
            fields = dict(parse_qsl((await _capped_body(request)).decode()))
        except ValueError:
            fields = {}
        try:
            return JSONResponse(issuer.exchange(origin(request), fields), headers={"cache-control": "no-store"})
        except OAuthProblem as problem:
            return problem.response()

    return [
        Route("/oauth/register", register, methods=["POST"]),
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", server_metadata, methods=["GET"]),
        Route("/.well-known/openid-configuration", server_metadata, methods=["GET"]),
    ]


def v1_routes(issuer: Issuer) -> list[Route]:
    """The Backend API's side: the JWKS and token verification (behind the sandbox's key check)."""
    async def jwks(request: Request) -> Response:
        return JSONResponse(issuer.jwks())

    async def verify(request: Request) -> Response:
        body = _body(VERIFY_FIELDS, await request.body())
        token = body.get("access_token") or body.get("secret")  # `secret`: the spec's deprecated name for the same
        if not token:
            raise param_missing("access_token")
        return JSONResponse(issuer.verify(token))

    return [
        Route("/jwks", jwks, methods=["GET"], name="get_jwks"),
        Route("/oauth_applications/access_tokens/verify", verify, methods=["POST"], name="verify_oauth_access_token"),
    ]


def harness_routes(sandbox: Sandbox, issuer: Issuer) -> list[Route]:
    """`/_sandbox/oauth/tokens` (mint), `/_sandbox/oauth/revoke`, `/_sandbox/oauth/rotate_key`."""
    async def mint(request: Request) -> Response:
        body = _body(MINT_FIELDS, await request.body(), required=("user_id",))
        await sandbox.run(lambda: sandbox.store.user(body["user_id"]))  # Clerk's 404 for a user it does not have
        return JSONResponse(issuer.mint(origin(request), body["user_id"], body), 201)

    async def revoke(request: Request) -> Response:
        body = _body(REVOKE_FIELDS, await request.body(), required=("access_token",))
        return JSONResponse(issuer.revoke(body["access_token"], body.get("reason")))

    async def rotate(request: Request) -> Response:
        body = _body({"keep_previous": "boolean"}, await request.body())
        return JSONResponse({"kid": issuer.rotate(keep_previous=body.get("keep_previous", False))})

    return [
        Route("/oauth/tokens", mint, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/rotate_key", rotate, methods=["POST"]),
    ]
