"""Every operator setting in one model: CLI flags, `CLERK_*` environment variables, an optional TOML policy file.

Precedence, highest first: command-line flags, environment, policy file, defaults. An empty variable counts as
unset. Anything wrong stops start-up before a request is sent (`SettingsError`: one line per variable, naming it,
never its value): a malformed key or API URL, a bad value, and a `CLERK_MCP_*` variable that names no setting, so a
misspelt safety setting (`CLERK_MCP_READONLY`) is never silently ignored.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .operations import ALL_TOOLSETS, DEFAULT_TOOLSETS, toolset_names
from .roles import Role

# A list given as "a,b,c" on the command line or in the environment (NoDecode: not parsed as JSON).
CommaList = Annotated[list[str], NoDecode]


class ConfirmMode(StrEnum):
    """How calls that need a human's yes are handled."""

    ELICIT = "elicit"  # ask the human through the MCP client (default)
    DENY = "deny"  # refuse every such call
    APPROVE = "approve"  # the operator pre-approves them (trusted automation, test harnesses); audited as such


class AuthMode(StrEnum):
    """Who may call over HTTP (clerk_mcp/auth.py)."""

    NONE = "none"  # anyone who reaches it, or whoever has the shared CLERK_MCP_AUTH_TOKEN
    CLERK = "clerk"  # OAuth access tokens issued by a Clerk instance
    OIDC = "oidc"  # OAuth access tokens (JWTs) from any OIDC issuer


# Marks the settings that only `serve --http` reads.
HTTP_ONLY: dict[str, Any] = {"http_only": True}
HttpField = partial(Field, json_schema_extra=HTTP_ONLY)

ENV_PREFIX = "CLERK_MCP_"
DEFAULT_API_URL = "https://api.clerk.com"
# What a Clerk secret key starts with (the Dashboard issues only these two). Nothing else about a key's format is
# checked: Clerk decides what is valid.
SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_")
PRODUCTION_KEY_PREFIX = "sk_live_"
# Metadata keys whose writes ask a human by default: the names apps commonly read a user's privileges from.
PRIVILEGED_METADATA_KEYS = ["role", "roles", "permissions", "admin", "is_admin"]
# Asymmetric JWS algorithms only (RFC 7518 §3.1, RFC 8037): what an OAuth issuer signs access tokens with.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def default_state_dir() -> Path:
    """Where the local store lives: the platform's per-user state directory (~/.local/state/clerk-mcp on Linux)."""
    from platformdirs import user_state_path

    return user_state_path("clerk-mcp", appauthor=False)


class Settings(BaseSettings):
    # Errors name the setting, never echo its value: the value may be a key or a token.
    # The two Clerk variables are read under their SDK names only (a bare SECRET_KEY belongs to someone else).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", populate_by_name=True, hide_input_in_errors=True
    )

    secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("CLERK_SECRET_KEY"), description="Clerk secret key (sk_test_… or sk_live_…); unset or empty = sandbox"
    )
    api_url: str = Field(
        DEFAULT_API_URL, validation_alias=AliasChoices("CLERK_API_URL"), description="Clerk API origin (http:// or https://)"
    )
    read_only: bool = Field(False, description="list and allow only the read tools")
    tools: CommaList = Field(default_factory=list, description="allow-list of tool names (empty = all)")
    deny_tools: CommaList = Field(default_factory=list, description="tool names never listed or run")
    toolsets: CommaList = Field(
        list(DEFAULT_TOOLSETS), description="toolsets to offer, e.g. users,security,sessions (all = every toolset)"
    )
    dynamic_toolsets: bool = Field(
        False, description="offer list_available_toolsets and enable_toolset; only the toolsets named are on at start"
    )
    confirm: ConfirmMode = Field(ConfirmMode.ELICIT, description="elicit | deny | approve")
    allow_destructive_live: bool = Field(False, description="with an sk_live_ key, offer destructive tools at all")
    allow_approve_live: bool = Field(False, description="with an sk_live_ key, allow confirm=approve")
    expose_private_metadata: bool = Field(False, description="include private_metadata in results")
    privileged_metadata_keys: CommaList = Field(
        default_factory=lambda: list(PRIVILEGED_METADATA_KEYS),
        description="metadata keys (globs, any depth, case-insensitive) whose writes ask a human; replaces the default list",
    )
    confirm_passwords: bool = Field(False, description="create_user with a password or password digest asks a human")
    max_result_tokens: int = Field(
        20_000, ge=500, description="most cl100k tokens in one tool result's text; longer pages are cut, with the offset to go on"
    )
    verify_attempts: int = Field(5, ge=1, description="verify_password/verify_totp attempts per user per window")
    verify_window: float = Field(600.0, gt=0, description="attempt window, seconds")
    audit_log: Path | None = Field(None, description="append one JSON line per tool call to this file")
    timeout: float = Field(15.0, gt=0, description="per-request timeout to Clerk, seconds")
    retry_deadline: float = Field(30.0, gt=0, description="total time for one call including retries, seconds")
    record: Path | None = Field(None, description="append every tool call and result to this JSONL transcript")
    sandbox_db: Path | None = Field(None, description="keep the embedded sandbox's state in this SQLite file")
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="directory of the local store every process on this machine shares (approvals, verify budgets, rate limit)",
    )
    policy_file: Path | None = Field(None, description="TOML file with any of these settings")
    # Streamable HTTP (`serve --http`); see clerk_mcp/http.py. HTTP_ONLY keeps them out of stdio launch configs.
    http: bool = HttpField(False, description="serve Streamable HTTP instead of stdio")
    host: str = HttpField("127.0.0.1", description="address to bind; anything but loopback requires an auth token")
    port: int = HttpField(8000, ge=0, le=65535, description="port to bind")
    stateless: bool = HttpField(False, description="no per-session state, so replicas can share a load balancer")
    json_response: bool = HttpField(False, description="answer with JSON bodies instead of SSE streams")
    allowed_hosts: CommaList = HttpField(default_factory=list, description="Host headers accepted besides loopback ('*' = any)")
    allowed_origins: CommaList = HttpField(default_factory=list, description="browser Origins accepted besides loopback")
    auth_token: SecretStr | None = HttpField(None, description="bearer token every HTTP request must carry")
    auth_token_file: Path | None = HttpField(None, description="file holding the bearer token (first line)")
    state_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="shared secrets sealing confirmation state across replicas; first one seals"
    )
    max_body_bytes: int = HttpField(16 * 1024 * 1024, gt=0, description="largest HTTP request body accepted")
    # Replicas (clerk_mcp/state.py): what they must agree on lives in Redis when this is set.
    redis_url: str | None = Field(None, description="Redis shared by replicas: state keys, verify budgets, approvals, rate limit")
    rate_limit: int | None = Field(None, ge=1, description="Clerk requests per rate_window, all replicas together (default 1000 for sk_live_ keys, else 100)")
    rate_window: float = Field(10.0, gt=0, description="rate-limit window, seconds")
    rate_wait: float = Field(10.0, gt=0, description="longest a Clerk request queues for the rate limit before the call is refused, seconds")
    # Who is calling (clerk_mcp/auth.py): OAuth access tokens verified per request.
    auth: AuthMode = HttpField(AuthMode.NONE, description="none | clerk | oidc: verify each caller's OAuth access token")
    auth_issuer: str | None = HttpField(None, description="the authorization server's issuer URL (Clerk: the Frontend API URL)")
    resource_url: str | None = HttpField(None, description="this server's public /mcp URL, as tokens name it (default http://HOST:PORT/mcp)")
    auth_audience: str | None = HttpField(None, description="the audience tokens must name (default: resource_url)")
    auth_scopes: CommaList = HttpField(default_factory=list, description="scopes every token must carry (else 403 insufficient_scope)")
    auth_algorithms: CommaList = HttpField(
        default_factory=lambda: ["RS256", "ES256"], description="JWS algorithms accepted (default RS256,ES256; asymmetric only: RS*, PS*, ES*, EdDSA)"
    )
    auth_secret_key: SecretStr | None = HttpField(None, description="with --auth clerk: the issuing instance's secret key (default CLERK_SECRET_KEY)")
    auth_api_url: str | None = HttpField(None, description="with --auth clerk: the issuing instance's API origin (default CLERK_API_URL)")
    roles: dict[str, Role] = HttpField(default_factory=dict, description="[roles.NAME] tables of the policy file: the policy each OAuth caller gets (README)")
    roles_claim: str = HttpField("roles", description="the access-token claim listing a caller's roles")

    @field_validator("auth_algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        """Never `none`, never HS*: an issuer's public key must not double as an HMAC secret."""
        wrong = [alg for alg in value if alg not in ASYMMETRIC]
        if wrong or not value:
            raise PydanticCustomError(
                "auth_algorithms", "takes asymmetric JWS algorithms only ({allowed}); not {wrong}",
                {"allowed": ", ".join(ASYMMETRIC), "wrong": ", ".join(wrong) or "an empty list"},
            )
        return value

    @field_validator("auth_issuer", "resource_url", "auth_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme.lower() not in ("http", "https") or not urlsplit(value).hostname):
            raise PydanticCustomError("url", "must be an http:// or https:// URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("tools", "deny_tools", "toolsets", "privileged_metadata_keys", "allowed_hosts", "allowed_origins", "state_keys", "auth_scopes", "auth_algorithms", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("toolsets")
    @classmethod
    def _toolsets(cls, value: list[str]) -> list[str]:
        """Known toolsets, in the order given; `all` is every one, none (an empty variable) the default. An unknown
        name stops start-up."""
        known = toolset_names()
        unknown = [name for name in value if name not in known and name != ALL_TOOLSETS]
        if unknown:
            raise PydanticCustomError(
                "toolsets", "unknown toolset {name}; valid: {valid}",
                {"name": repr(unknown[0][:40]), "valid": ", ".join([*known, ALL_TOOLSETS])},
            )
        if not value:
            return list(DEFAULT_TOOLSETS)
        return list(known) if ALL_TOOLSETS in value else list(dict.fromkeys(value))

    @field_validator("secret_key", "api_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: Any) -> Any:
        """`CLERK_SECRET_KEY=""` (or blanks) means no key, hence the sandbox; an empty API URL means Clerk's."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and not value.strip():
            return None if info.field_name == "secret_key" else DEFAULT_API_URL
        return value.strip() if isinstance(value, str) else value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse, before any request, what cannot be a Clerk secret key; the message never quotes the value.

        The key arrives trimmed (`_empty_is_unset`), so a pasted " sk_live_…" is the production key it is."""
        if value is None:
            return None
        key = value.get_secret_value()
        if key.startswith("pk_"):
            raise PydanticCustomError(
                "clerk_secret_key",
                "must be a Clerk secret key (sk_test_… or sk_live_…); a pk_… publishable key is not one "
                "(it belongs in the browser; the secret key is on the same API keys page of the Clerk Dashboard)",
            )
        if any(ch.isspace() for ch in key):
            raise PydanticCustomError(
                "clerk_secret_key", "contains whitespace inside the key; copy it again from the API keys page of the Clerk Dashboard"
            )
        if not (key.isascii() and key.isprintable()):  # an HTTP header cannot carry it
            raise PydanticCustomError(
                "clerk_secret_key", "contains characters that are not printable ASCII; copy it again from the Clerk Dashboard"
            )
        if not key.startswith(SECRET_KEY_PREFIXES):
            raise PydanticCustomError(
                "clerk_secret_key",
                "must be a Clerk secret key starting with sk_test_ or sk_live_ (from the API keys page of the Clerk "
                "Dashboard); leave it unset or empty to use the built-in sandbox",
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        """The origin, as documented; a URL copied from an SDK setting (…/v1) means the same server."""
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError(
                "clerk_api_url", "must be an http:// or https:// URL such as https://api.clerk.com (unset = Clerk's)"
            )
        value = value.rstrip("/")
        return value.removesuffix("/v1") if value.endswith("/v1") else value

    @property
    def sandbox(self) -> bool:
        return self.secret_key is None

    @property
    def backend_kind(self) -> str:
        """"sandbox", "production" (an sk_live_ key) or "development" (an sk_test_ key)."""
        if self.secret_key is None:
            return "sandbox"
        return "production" if self.secret_key.get_secret_value().startswith(PRODUCTION_KEY_PREFIX) else "development"

    @property
    def clerk_rate_limit(self) -> int:
        """Clerk's own limit per 10 s unless set: 1000 for production instances, 100 for development ones."""
        return self.rate_limit or (1000 if self.backend_kind == "production" else 100)

    @property
    def key_fingerprint(self) -> str | None:
        """A non-secret name for the key in use: enough to tell instances apart, useless to an attacker."""
        if self.secret_key is None:
            return None
        return hashlib.sha256(self.secret_key.get_secret_value().encode()).hexdigest()[:12]


class SettingsError(ValueError):
    """Settings that stop start-up: `problems` holds one line per variable, naming it and never its value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def env_name(setting: str) -> str:
    """The environment variable of a setting: CLERK_SECRET_KEY, CLERK_API_URL, else CLERK_MCP_<NAME>."""
    field = Settings.model_fields.get(setting)
    aliases = getattr(field.validation_alias, "choices", ()) if field else ()
    return next((a for a in aliases if isinstance(a, str) and a.isupper()), ENV_PREFIX + setting.upper())


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A line for each `CLERK_MCP_*` variable that names no setting, with the closest real one (names only)."""
    known = {env_name(name).removeprefix(ENV_PREFIX): env_name(name) for name in Settings.model_fields}
    problems = []
    for variable in sorted(v for v in environ if v.upper().startswith(ENV_PREFIX)):
        suffix = variable.upper().removeprefix(ENV_PREFIX)
        if suffix in known:
            continue
        close = difflib.get_close_matches(suffix, known, n=1, cutoff=0.6)
        hint = f"did you mean {known[close[0]]}?" if close else "the README's configuration table lists every setting"
        problems.append(f"{variable} is not a clerk-mcp setting ({hint}); rename or unset it")
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, a policy file (if named) and explicit overrides (CLI flags).

    Raises `SettingsError` for anything that should stop start-up (see the module docstring)."""
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError(unknown)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        base = Settings(**overrides)
        if base.policy_file is None:
            return base
        try:
            file_values = tomllib.loads(base.policy_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read policy file {base.policy_file}: {exc}") from None
        from_env = Settings().model_dump(exclude_unset=True)
        return Settings(**{**file_values, **from_env, **overrides})
    except ValidationError as exc:
        raise SettingsError([_problem(error) for error in exc.errors(include_url=False, include_input=False)]) from None


def _problem(error: Any) -> str:
    """One line naming the variable and the setting; `error["loc"]` holds either name."""
    given = ".".join(str(part) for part in error["loc"])
    name = next((n for n in Settings.model_fields if given in (n, env_name(n))), given)
    return f"{env_name(name)} (setting {name}): {error['msg']}"
