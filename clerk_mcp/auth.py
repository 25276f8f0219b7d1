"""Who is calling: `serve --http --auth clerk|oidc` makes the server an OAuth 2.1 protected resource.

The MCP authorization spec (2025-06-18, "Authorization") has an HTTP server verify a bearer access token on
every request, publish Protected Resource Metadata (RFC 9728) naming its authorization server, answer 401 with
`WWW-Authenticate: Bearer resource_metadata="…"` and 403 `error="insufficient_scope"`. The SDK does the HTTP
side (`AuthSettings`, `RequireAuthMiddleware`, the metadata route); this module is its `TokenVerifier`:

- **JWT access tokens** are checked with PyJWT against the issuer's JSON Web Key Set: signature with a key of
  the set, algorithm from a pinned list of asymmetric ones (never `none`, never HS*: an HMAC "signed" with a
  public key is a forgery anyone can make), `iss`, `aud` (this server's resource URL unless configured), `exp`
  and `nbf` (5 s leeway, as Clerk's SDK allows: clerk/javascript IdPOAuthAccessToken.fromJwtPayload
  `clockSkewInMs = 5000`), and `sub` present. With `--auth clerk` the header must say `typ: at+jwt` (RFC 9068;
  Clerk's SDK requires it: packages/backend/src/jwt/verifyMachineJwt.ts, `OAUTH_ACCESS_TOKEN_TYPES`).
- **Keys**: with `--auth clerk`, from the Backend API's `GET /v1/jwks` with the instance's secret key (where
  Clerk's SDK fetches them: packages/backend/src/tokens/keys.ts); with `--auth oidc`, from the `jwks_uri` of
  the issuer's discovery document (OpenID Connect Discovery 1.0 §4, else RFC 8414), whose `issuer` must be the
  one configured. Cached for 5 minutes; a token naming a key id not in the set refetches it at once (key
  rotation), at most every 10 s, so made-up key ids cannot turn into a flood of requests to the issuer.
- **Opaque tokens** (`--auth clerk` only): Clerk's `POST /v1/oauth_applications/access_tokens/verify`, on
  every request and never cached, so a revoked token stops working at once. A JWT cannot be revoked before it
  expires (clerk-docs docs/guides/development/machine-auth/token-formats.mdx): keep their lifetime short.

A token that fails any check is refused with 401; the reason goes to the log (never the token).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken

from .roles import Roles

if TYPE_CHECKING:
    from mcp.server.auth.settings import AuthSettings

    from .settings import Settings

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
LEEWAY = 5.0
JWKS_TTL = 300.0
JWKS_MIN_REFRESH = 10.0


class Refused(Exception):
    """Why a token is not accepted: for the log, never for the client (which gets the SDK's 401)."""


@dataclass(frozen=True)
class Rules:
    """What a token must satisfy: issuer, audience, algorithms, and (Clerk) the RFC 9068 `typ`."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    access_token_type: bool


class KeySet:
    """The issuer's JSON Web Key Set: fetched on first use and every `JWKS_TTL` s, and again when a token names
    a key id it lacks (a rotated key), though not twice within `JWKS_MIN_REFRESH` s for missing ids."""

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch  # async () -> the JWKS document
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched = self._missed = float("-inf")
        self._lock = anyio.Lock()

    def _due(self, kid: str) -> bool:
        now = time.monotonic()
        return now - self._fetched > JWKS_TTL or (kid not in self._keys and now - self._missed > JWKS_MIN_REFRESH)

    async def key(self, kid: str) -> dict[str, Any]:
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # nobody else refreshed while we waited
                    if self._keys and kid not in self._keys:
                        self._missed = time.monotonic()
                    document = await self._fetch()
                    keys = document.get("keys") if isinstance(document, dict) else None
                    if not isinstance(keys, list):
                        raise Refused("the issuer's JWKS has no 'keys' array")
                    self._keys = {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}
                    self._fetched = time.monotonic()
        if kid not in self._keys:
            raise Refused(f"no key {kid!r} in the issuer's JWKS")
        return self._keys[kid]


class Verifier:
    """The SDK's `TokenVerifier` for `--auth clerk` and `--auth oidc` (see the module docstring)."""

    def __init__(self, rules: Rules, keys: KeySet, http: httpx.AsyncClient, introspect: Any = None) -> None:
        self.rules = rules
        self.keys = keys
        self.http = http
        self.introspect = introspect  # async (token) -> AccessToken, for opaque tokens; None: JWTs only

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            if token.count(".") == 2:
                return await self._jwt(token)
            if self.introspect is None:
                raise Refused("not a JWT, and this issuer's opaque tokens cannot be verified (--auth oidc takes JWTs)")
            return await self.introspect(token)
        except Refused as why:
            logger.warning("clerk-mcp: access token refused: %s", why)
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("clerk-mcp: access token not verified: the issuer could not be asked (%s)", type(exc).__name__)
        return None

    async def _jwt(self, token: str) -> AccessToken:
        rules = self.rules
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Refused(f"malformed JWT ({exc})") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in rules.algorithms:
            raise Refused(f"algorithm {alg!r} is not allowed (allowed: {', '.join(rules.algorithms)})")
        if rules.access_token_type and str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise Refused(f"typ {header.get('typ')!r} is not an access token's (at+jwt)")
        if not isinstance(kid, str) or len(kid) > 256:
            raise Refused("the JWT names no key (kid)")
        jwk = await self.keys.key(kid)
        if jwk.get("alg") not in (None, alg) or jwk.get("use") not in (None, "sig"):
            raise Refused(f"key {kid!r} is for {jwk.get('alg')} ({jwk.get('use')}), the token says {alg}")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)  # refuses a key of another type than the algorithm's
            claims = jwt.decode(
                token, key, algorithms=[alg], issuer=rules.issuer, audience=rules.audience, leeway=LEEWAY,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Refused(str(exc)) from None
        scopes = claims.get("scp")
        if not isinstance(scopes, list):
            scopes = str(claims.get("scope") or "").split()
        return AccessToken(
            token=token, client_id=str(claims.get("client_id") or claims.get("azp") or ""), scopes=[str(s) for s in scopes],
            expires_at=int(claims["exp"]), resource=rules.audience, subject=str(claims["sub"]), claims=claims,
        )


def clerk_introspection(http: httpx.AsyncClient, api_url: str, secret_key: str, rules: Rules) -> Any:
    """Opaque tokens through Clerk's `POST /v1/oauth_applications/access_tokens/verify` (spec operation
    verifyOAuthAccessToken): refused unless the answer is a token that is neither revoked nor expired and whose
    `aud` names this server (Clerk's SDK binds the same way: `assertOAuthAudienceClaim`)."""

    async def introspect(token: str) -> AccessToken:
        response = await http.post(
            f"{api_url}/v1/oauth_applications/access_tokens/verify", json={"access_token": token},
            headers={"Authorization": f"Bearer {secret_key}"},
        )
        if response.status_code in (400, 404, 422):
            raise Refused(f"Clerk does not know this token ({response.status_code})")
        response.raise_for_status()
        found = response.json()
        if not isinstance(found, dict) or found.get("active") is False or found.get("expired") is not False:
            raise Refused("the token has expired")
        if found.get("revoked") is not False:
            raise Refused(f"the token was revoked ({found.get('revocation_reason') or 'no reason given'})")
        audience = found.get("aud")
        if rules.audience not in (audience if isinstance(audience, list) else [audience]):
            raise Refused(f"the token is for {audience!r}, not {rules.audience!r}")
        expiration = found.get("expiration")
        return AccessToken(
            token=token, client_id=str(found.get("client_id") or ""), scopes=[str(s) for s in found.get("scopes") or []],
            expires_at=int(expiration) if isinstance(expiration, (int, float)) else None, resource=rules.audience,
            subject=str(found.get("subject") or ""), claims={"iss": rules.issuer, "sub": found.get("subject"), "client_id": found.get("client_id")},
        )

    return introspect


CLERK_USER_TTL = 60.0
CLERK_USERS_CACHED = 1024


@dataclass(frozen=True)
class ClerkUser:
    """What roles may match on about the calling user, from the issuing Clerk instance."""

    org_roles: frozenset[str]
    public_metadata: dict[str, Any]


class ClerkDirectory:
    """The calling user as the issuing instance knows them (`GET /v1/users/{id}` and its organization
    memberships), for roles that match on `org_role` or `public_metadata`. Kept for `CLERK_USER_TTL` s (at most
    `CLERK_USERS_CACHED` users), so a changed role takes effect within a minute; a failed look-up matches nothing."""

    def __init__(self, http: httpx.AsyncClient, api_url: str, secret_key: str) -> None:
        self.http = http
        self.api_url = api_url
        self.headers = {"Authorization": f"Bearer {secret_key}"}
        self._cache: OrderedDict[str, tuple[float, ClerkUser]] = OrderedDict()

    async def user(self, subject: str) -> ClerkUser:
        cached = self._cache.get(subject)
        if cached is not None and time.monotonic() - cached[0] < CLERK_USER_TTL:
            return cached[1]
        path = f"{self.api_url}/v1/users/{quote(subject, safe='')}"
        try:
            user = await _get_json(self.http, path, headers=self.headers)
            memberships = await _get_json(self.http, f"{path}/organization_memberships", params={"limit": 100}, headers=self.headers)
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("clerk-mcp: could not look up the caller in Clerk (%s); roles that need it do not match", type(exc).__name__)
            return ClerkUser(frozenset(), {})
        found = ClerkUser(
            frozenset(str(m.get("role")) for m in memberships.get("data", []) if isinstance(m, dict)),
            user.get("public_metadata") or {} if isinstance(user, dict) else {},
        )
        self._cache[subject] = (time.monotonic(), found)
        self._cache.move_to_end(subject)
        while len(self._cache) > CLERK_USERS_CACHED:
            self._cache.popitem(last=False)
        return found


async def _get_json(http: httpx.AsyncClient, url: str, **options: Any) -> Any:
    response = await http.get(url, **options)
    response.raise_for_status()
    return response.json()


def oidc_keys(http: httpx.AsyncClient, issuer: str) -> Any:
    """Fetch the JWKS named by `issuer`'s discovery document (OIDC Discovery, then RFC 8414)."""

    async def fetch() -> Any:
        for well_known in ("openid-configuration", "oauth-authorization-server"):
            response = await http.get(f"{issuer}/.well-known/{well_known}")
            if response.status_code == 404:
                continue
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict) or document.get("issuer") != issuer or not isinstance(document.get("jwks_uri"), str):
                raise Refused(f"the discovery document at {issuer} names another issuer or no jwks_uri")
            return await _get_json(http, document["jwks_uri"])
        raise Refused(f"{issuer} publishes no discovery document")

    return fetch


def resource_url(settings: Settings) -> str:
    """This server's resource URL (RFC 8707/9728): `--resource-url`, else the /mcp URL on the bound address."""
    from .http import MCP_PATH, WILDCARD_BINDS

    if settings.resource_url:
        return settings.resource_url.rstrip("/")
    if settings.host in WILDCARD_BINDS:
        raise ValueError(f"--auth {settings.auth} on {settings.host or 'every address'} needs --resource-url: the https://…/mcp URL clients use")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}{MCP_PATH}"


@dataclass(frozen=True)
class OAuth:
    """What `--auth clerk|oidc` gives the server: the SDK's settings, the token verifier, and the roles."""

    settings: AuthSettings
    verifier: Verifier
    roles: Roles


def build(settings: Settings) -> OAuth | None:
    """The OAuth set-up for `settings`, or None without `--auth`; a ValueError saying what to set when the
    configuration cannot work."""
    from mcp.server.auth.settings import AuthSettings

    mode = settings.auth.value
    if mode == "none":
        if settings.roles:
            raise ValueError("roles are given to OAuth callers: they need --auth clerk or --auth oidc")
        return None
    if settings.auth_token is not None or settings.auth_token_file is not None:
        raise ValueError(f"--auth {mode} verifies each caller's OAuth token: unset CLERK_MCP_AUTH_TOKEN / --auth-token-file (the shared token)")
    if not settings.auth_issuer:
        where = "your instance's Frontend API URL (https://<name>.clerk.accounts.dev), or the emulator's URL" if mode == "clerk" else "the issuer URL of your OIDC provider"
        raise ValueError(f"--auth {mode} needs --auth-issuer: {where}")
    issuer = settings.auth_issuer.rstrip("/")
    resource = resource_url(settings)
    rules = Rules(issuer, settings.auth_audience or resource, tuple(settings.auth_algorithms), access_token_type=mode == "clerk")
    http = httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False)
    if mode == "clerk":
        key = settings.auth_secret_key or settings.secret_key
        if key is None:
            raise ValueError(
                "--auth clerk needs the secret key of the Clerk instance that issues the tokens (CLERK_SECRET_KEY, or "
                "CLERK_MCP_AUTH_SECRET_KEY for a separate staff instance); to try it offline run `clerk-mcp emulator` "
                "and point CLERK_API_URL and --auth-issuer at it"
            )
        api_url = settings.auth_api_url or settings.api_url
        secret = key.get_secret_value()
        keys = KeySet(lambda: _get_json(http, f"{api_url}/v1/jwks", headers={"Authorization": f"Bearer {secret}"}))
        verifier = Verifier(rules, keys, http, clerk_introspection(http, api_url, secret, rules))
        directory: ClerkDirectory | None = ClerkDirectory(http, api_url, secret)
    else:
        verifier, directory = Verifier(rules, KeySet(oidc_keys(http, issuer)), http), None
    auth = AuthSettings(
        issuer_url=issuer, resource_server_url=resource, required_scopes=settings.auth_scopes or None,
        validate_token_resource=False,  # the verifier checks `aud` itself, against a configurable audience
    )
    return OAuth(auth, verifier, Roles(settings.roles, settings.roles_claim, directory))
