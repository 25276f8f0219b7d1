"""One handler per operation of `clerk_mcp.operations`, keyed by operation name in `HANDLERS`.

A handler takes the store and the parsed request (`Call`), returns the JSON body of a 200, and
raises `ClerkError` for anything else. Request bodies are checked against field tables written
from the 2026-05-12 spec (a test compares them with it): unknown fields and wrong types are 422s,
as in Clerk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import credentials
from .errors import (
    ClerkError,
    identifier_exists,
    json_type,
    param_format,
    param_missing,
    param_type,
    param_unknown,
    param_value,
)
from .store import ORDER_COLUMNS, USER_FILTERS, Store, new_id


# Clerk's API versions (clerk-docs docs/guides/development/upgrading/versioning.mdx); the latest is the default.
API_VERSIONS = ("2021-02-05", "2024-10-01", "2025-04-10", "2025-11-10", "2026-05-12")
LATEST_API_VERSION = API_VERSIONS[-1]
# Before this version PATCH /users/{id} also took the metadata fields, each replacing the stored one
# (clerk-docs upgrade-guides/2026-05-12.mdx; reference/backend/user/update-user.mdx before it: "Updating
# this property will override the existing metadata").
METADATA_LEAVES_UPDATE_USER = "2026-05-12"


@dataclass
class Call:
    """What a handler needs from an HTTP request."""

    path: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # form field -> (declared content type, bytes)
    api_version: str = LATEST_API_VERSION

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def first(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


# -- request checking ------------------------------------------------------------------------------

# Body fields as the spec declares them: "type", "type?" (nullable) or "type[]" (array of).
CREATE_USER_FIELDS = {
    "external_id": "string?", "first_name": "string?", "last_name": "string?", "locale": "string?",
    "email_address": "string[]", "email_address_identification_status": "string[]",
    "phone_number": "string[]", "phone_number_identification_status": "string[]", "web3_wallet": "string[]",
    "username": "string?", "password": "string?", "password_digest": "string?", "password_hasher": "string",
    "skip_password_checks": "boolean?", "skip_password_requirement": "boolean?", "totp_secret": "string?",
    "backup_codes": "string[]", "public_metadata": "object", "private_metadata": "object",
    "unsafe_metadata": "object", "delete_self_enabled": "boolean?", "legal_accepted_at": "string?",
    "skip_legal_checks": "boolean?", "skip_user_requirement": "boolean?", "create_organization_enabled": "boolean?",
    "create_organizations_limit": "integer?", "created_at": "string?", "bypass_client_trust": "boolean?",
    "banned": "boolean?", "locked": "boolean?",
}
UPDATE_USER_FIELDS = {
    "external_id": "string?", "first_name": "string?", "last_name": "string?", "locale": "string?",
    "primary_email_address_id": "string?", "notify_primary_email_address_changed": "boolean?",
    "primary_phone_number_id": "string?", "primary_web3_wallet_id": "string?", "username": "string?",
    "profile_image_id": "string?", "password": "string?", "password_digest": "string", "password_hasher": "string",
    "skip_password_checks": "boolean?", "sign_out_of_other_sessions": "boolean?", "totp_secret": "string?",
    "backup_codes": "string[]", "delete_self_enabled": "boolean?", "create_organization_enabled": "boolean?",
    "legal_accepted_at": "string?", "skip_legal_checks": "boolean?", "create_organizations_limit": "integer?",
    "created_at": "string?", "bypass_client_trust": "boolean?",
}
METADATA_FIELDS = {"public_metadata": "object", "private_metadata": "object", "unsafe_metadata": "object"}
# "Metadata is limited to 8KB maximum" (clerk-docs docs/_partials/metadata-callout.mdx, a7cebf5), per field as stored.
MAX_METADATA_BYTES = 8 * 1024
VERIFY_PASSWORD_FIELDS = {"password": "string"}
VERIFY_TOTP_FIELDS = {"code": "string"}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite, and Clerk's int64 fields, can hold
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and INT64_MIN <= v <= INT64_MAX,
    "object": lambda v: isinstance(v, dict),
    "json": lambda v: True,  # any JSON value, checked further by the caller
}


def checked_body(call: Call, fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object body, after Clerk's checks: known fields only, of the declared types."""
    body = {} if call.body is None else call.body
    if not isinstance(body, dict):
        raise ClerkError("InvalidRequestBody", detail=f"the body must be a JSON object, not {json_type(body)}.")
    for name, value in body.items():
        if name not in fields:
            raise param_unknown(name)
        kind = fields[name]
        if value is None and kind.endswith("?"):
            continue
        if kind.endswith("[]"):
            if not isinstance(value, list):
                raise param_type(name, value, f"[]{kind[:-2]}")
            wrong = [v for v in value if not _TYPES[kind[:-2]](v)]
            if wrong:
                raise param_type(name, wrong[0], kind[:-2])
        elif not _TYPES[kind.rstrip("?")](value):
            raise param_type(name, value, kind.rstrip("?"))
    for name in required:
        if name not in body:
            raise param_missing(name)
    return body


def _int(name: str, raw: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise param_format(name, "an integer") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise param_value(name, raw, "must be a 64-bit integer.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise param_value(name, raw, f"must be {bounds}.")
    return value


def _bool(name: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise param_format(name, "true or false")
    return raw == "true"


DEFAULT_LIMIT, MAX_LIMIT = 10, 500


def _page(call: Call) -> tuple[int, int]:
    """(limit, offset). A limit above 500 is not refused: Clerk answers the default page of 10
    (clerk/clerk-sdk-python issue #166: `limit=501` returns 10 users)."""
    limit, offset = call.first("limit"), call.first("offset")
    size = DEFAULT_LIMIT if limit is None else _int("limit", limit, 1)
    return (
        DEFAULT_LIMIT if size > MAX_LIMIT else size,
        0 if offset is None else _int("offset", offset, 0),
    )


MAX_FILTER_VALUES = 100


def _filters(call: Call) -> dict[str, Any]:
    """Parse every user filter of GET /users and GET /users/count into the store's terms."""
    filters: dict[str, Any] = {}
    for name, (kind, _) in USER_FILTERS.items():
        values = call.values(name)
        if not values:
            continue
        if kind in ("list", "signed"):
            if len(values) > MAX_FILTER_VALUES:
                raise ClerkError("FormParameterArraySizeExceeded", MAX_FILTER_VALUES, param=name)
            if kind == "signed":
                exclude = [v[1:] for v in values if v.startswith("-")]
                include = [v[1:] if v.startswith("+") else v for v in values if not v.startswith("-")]
                filters[name] = (include, exclude)
            else:
                filters[name] = values
        elif kind == "bool":
            filters[name] = _bool(name, values[0])
        elif kind == "ms":
            filters[name] = _int(name, values[0])
        else:
            filters[name] = values[0]
    if ("provider" in filters) != ("provider_user_id" in filters):
        raise param_missing("provider_user_id" if "provider" in filters else "provider")
    if "provider" in filters:
        filters["provider"] = (filters["provider"], filters.pop("provider_user_id"))
    return filters


def _order(call: Call) -> tuple[str, bool]:
    raw = call.first("order_by") or "-created_at"
    descending, name = raw.startswith("-"), raw[1:] if raw[:1] in "+-" else raw  # one sign at most
    if name not in ORDER_COLUMNS:
        raise param_value("order_by", raw, f"must be one of {', '.join(ORDER_COLUMNS)}, optionally prefixed with + or -.")
    return ORDER_COLUMNS[name], descending


# A full RFC3339 date-time, offset required: a bare date or local time would depend on the server's zone.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(name: str, value: str) -> int:
    try:
        if not (isinstance(value, str) and _RFC3339.match(value)):
            raise ValueError
        return int(datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise ClerkError("FormInvalidTime", param=name) from None


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
WALLET = re.compile(r"^0x[0-9a-fA-F]{40}$")
_USERNAME = re.compile(r"^[a-z0-9_-]+$")


def _username(store: Store, value: str, user_id: str | None = None) -> str:
    name = value.lower()
    if not 4 <= len(name) <= 64:
        raise ClerkError("FormInvalidUsernameLength", param="username", message="Username must be between 4 and 64 characters long.")
    if not _USERNAME.match(name):
        raise ClerkError(
            "FormInvalidUsernameCharacter", param="username", message="Username can only contain letters, numbers and '_' or '-'.",
        )
    if store.column_owner("username", name) not in (None, user_id):
        raise identifier_exists("username")
    return name


def _external_id(store: Store, value: str, user_id: str | None = None) -> str:
    if store.column_owner("external_id", value) not in (None, user_id):
        raise identifier_exists("external_id")
    return value


def _identifications(store: Store, body: dict[str, Any], now: int) -> list[dict[str, Any]]:
    """The new user's identification rows, after format, status and uniqueness checks."""
    rows = []
    for kind, pattern, status_field, invalid in (
        ("email_address", EMAIL, "email_address_identification_status", "FormInvalidEmailAddress"),
        ("phone_number", PHONE, "phone_number_identification_status", "FormInvalidPhoneNumber"),
        ("web3_wallet", WALLET, None, "FormInvalidWeb3WalletAddress"),
    ):
        values = [v.lower() if kind != "phone_number" else v for v in body.get(kind) or []]
        statuses = (body.get(status_field) if status_field else None) or ["verified"] * len(values)
        if len(statuses) != len(values):
            raise ClerkError("FormParameterArrayLengthMismatch", param=status_field, otherParam=kind)
        for value, status in zip(values, statuses, strict=True):
            if not pattern.match(value):
                raise ClerkError(invalid, param=kind)
            if status not in ("verified", "reserved"):
                raise param_value(status_field or kind, status, "items must be 'verified' or 'reserved'.")
            if store.identifier_owner(kind, value) or any(r["value"] == value and r["type"] == kind for r in rows):
                raise identifier_exists(kind)
            rows.append({
                "id": new_id("idn"), "type": kind, "value": value, "reserved": int(status == "reserved"),
                "created_at": now, "updated_at": now,
            })
    return rows


def _credentials(body: dict[str, Any], now: int) -> dict[str, Any]:
    """Password, TOTP and backup-code columns common to create and update."""
    columns: dict[str, Any] = {}
    if body.get("password") is not None:
        if body.get("password_digest") is not None:
            raise param_value("password_digest", "password_digest", "cannot be combined with password.")
        credentials.check_new_password(body["password"], skip_checks=bool(body.get("skip_password_checks")))
        columns |= {"password_digest": credentials.hash_password(body["password"]), "password_hasher": "bcrypt"}
    elif body.get("password_digest") is not None:
        hasher = credentials.check_digest(body["password_digest"], body.get("password_hasher"))
        columns |= {"password_digest": body["password_digest"], "password_hasher": hasher}
    if columns:
        columns["password_last_updated_at"] = now
    if body.get("totp_secret") is not None:
        columns["totp_secret"] = credentials.check_totp_secret(body["totp_secret"])
    if body.get("backup_codes") is not None:
        columns["backup_codes"] = json.dumps([credentials.hash_backup_code(c) for c in body["backup_codes"]])
    return columns


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    """Plain settings shared by create and update; null leaves a setting as it is."""
    columns: dict[str, Any] = {}
    for name in ("delete_self_enabled", "create_organization_enabled", "bypass_client_trust", "banned", "locked"):
        if body.get(name) is not None:
            columns[name] = int(body[name])
    if body.get("create_organizations_limit") is not None:
        if body["create_organizations_limit"] < 0:
            raise param_value("create_organizations_limit", body["create_organizations_limit"], "must be 0 (unlimited) or more.")
        columns["create_organizations_limit"] = body["create_organizations_limit"]
    for name in ("legal_accepted_at", "created_at"):
        if body.get(name) is not None:
            columns[name] = _rfc3339(name, body[name])
    return columns


def _mfa_enabled_at(user: dict[str, Any], columns: dict[str, Any], now: int) -> int | None:
    """When MFA was last turned on (the spec's wording): set as a user without TOTP or backup codes gains one;
    never cleared, not even by disable_mfa."""
    gains = columns.get("totp_secret") or columns.get("backup_codes", "[]") != "[]"
    had = user.get("totp_secret") or user.get("backup_codes", "[]") not in (None, "[]")
    return now if gains and not had else user.get("mfa_enabled_at")


# -- handlers --------------------------------------------------------------------------------------

def get_user(store: Store, call: Call) -> Any:
    return store.user_json(call.path["user_id"])


def get_user_list(store: Store, call: Call) -> Any:
    filters, order = _filters(call), _order(call)
    limit, offset = _page(call)
    after = call.first("starting_after")
    if after is not None:
        if order[0] != "created_at":
            raise param_value("starting_after", after, "can only be used when ordering by created_at.")
        if offset:
            raise param_value("offset", offset, "cannot be combined with starting_after.")
        try:
            store.user(after)
        except ClerkError:
            raise param_value("starting_after", after, "must be the id of an existing user.") from None
    return store.users_json(store.list_users(filters, order=order, limit=limit, offset=offset, after=after))


def get_users_count(store: Store, call: Call) -> Any:
    return {"object": "total_count", "total_count": store.count_users(_filters(call))}


def create_user(store: Store, call: Call) -> Any:
    body = checked_body(call, CREATE_USER_FIELDS)
    now = store.clock()
    user_id = new_id("user")
    idents = _identifications(store, body, now)
    columns = {
        "id": user_id, "created_at": now, "updated_at": now,
        "first_name": body.get("first_name"), "last_name": body.get("last_name"), "locale": body.get("locale"),
        "username": _username(store, body["username"]) if body.get("username") else None,
        "external_id": _external_id(store, body["external_id"]) if body.get("external_id") else None,
        **{name: _metadata(name, body.get(name) or {}) for name in METADATA_FIELDS},
        **_credentials(body, now),
        **_settings(body),
    }
    columns["mfa_enabled_at"] = _mfa_enabled_at({}, columns, now)
    if columns.get("locked"):
        columns["lockout_expires_at"] = store.lockout.expires_at(now)
    for kind in ("email_address", "phone_number", "web3_wallet"):
        first = next((i for i in idents if i["type"] == kind), None)
        if first:
            columns[f"primary_{kind}_id"], columns[kind] = first["id"], first["value"]
    store.insert("users", columns)
    for ident in idents:
        store.insert("identifications", {**ident, "user_id": user_id})
    return store.user_json(user_id)


def update_user(store: Store, call: Call) -> Any:
    user_id = call.path["user_id"]
    user = dict(store.user(user_id))
    older = call.api_version < METADATA_LEAVES_UPDATE_USER
    body = checked_body(call, UPDATE_USER_FIELDS | METADATA_FIELDS if older else UPDATE_USER_FIELDS)
    now = store.clock()
    if body.get("password") is None:
        for name in ("skip_password_checks", "sign_out_of_other_sessions"):
            if body.get(name) is not None:
                raise param_value(name, body[name], "can only be used when providing a password.")
    columns = {name: body[name] or None for name in ("first_name", "last_name", "locale") if name in body}
    if "username" in body:
        columns["username"] = _username(store, body["username"], user_id) if body["username"] else None
    if "external_id" in body:
        columns["external_id"] = _external_id(store, body["external_id"], user_id) if body["external_id"] else None
    for kind in ("email_address", "phone_number", "web3_wallet"):
        ident_id = body.get(f"primary_{kind}_id")
        if ident_id is not None:
            ident = store.identification(user_id, ident_id)
            if ident is None or ident["type"] != kind or ident["reserved"]:
                raise param_value(f"primary_{kind}_id", ident_id, f"must be the id of a verified {kind.replace('_', ' ')} of this user.")
            columns[f"primary_{kind}_id"], columns[kind] = ident["id"], ident["value"]
    if body.get("profile_image_id") is not None:
        if not store.rows("SELECT 1 FROM images WHERE id = ? AND user_id = ?", (body["profile_image_id"], user_id)):
            raise param_value("profile_image_id", body["profile_image_id"], "must be the id of an image uploaded for this user.")
        columns["image_id"] = body["profile_image_id"]
    columns |= {name: _metadata(name, body[name]) for name in METADATA_FIELDS if name in body}
    columns |= _credentials(body, now) | _settings(body)
    columns["mfa_enabled_at"] = _mfa_enabled_at(user, columns, now)
    if body.get("sign_out_of_other_sessions"):
        store.revoke_sessions(user_id)
    store.touch(user_id, columns)
    return store.user_json(user_id)


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `base` at every depth; a null value deletes its key."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            current = merged.get(key)
            merged[key] = _deep_merge(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _metadata(name: str, value: dict[str, Any]) -> str:
    """`value` as stored, or Clerk's 422 when it is over the 8 KB limit."""
    stored = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(stored.encode()) > MAX_METADATA_BYTES:
        raise ClerkError("FormParameterSizeTooLarge", param=name, message="exceeds the maximum allowed size",
                         detail=f"{name} is {len(stored.encode()):,} bytes as JSON; Clerk keeps at most 8 KB.")
    return stored


def update_user_metadata(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    body = checked_body(call, METADATA_FIELDS)
    store.touch(user["id"], {name: _metadata(name, _deep_merge(json.loads(user[name]), patch)) for name, patch in body.items()})
    return store.user_json(user["id"])


def replace_user_metadata(store: Store, call: Call) -> Any:
    """PUT /users/{user_id}/metadata: each supplied field replaces the stored one (JS SDK's updateUser)."""
    user = store.user(call.path["user_id"])
    body = checked_body(call, METADATA_FIELDS)
    store.touch(user["id"], {name: _metadata(name, value) for name, value in body.items()})
    return store.user_json(user["id"])


def delete_user(store: Store, call: Call) -> Any:
    store.delete_user(call.path["user_id"])
    return {"object": "user", "id": call.path["user_id"], "deleted": True}


def ban_user(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    store.revoke_sessions(user_id)
    store.touch(user_id, {"banned": 1})
    return store.user_json(user_id)


def unban_user(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    store.touch(user_id, {"banned": 0})
    return store.user_json(user_id)


def disable_mfa(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    store.db.execute("UPDATE identifications SET second_factor = 0 WHERE user_id = ?", (user_id,))
    store.touch(user_id, {"totp_secret": None, "backup_codes": "[]", "mfa_disabled_at": store.clock()})
    return {"user_id": user_id}


def verify_password(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    password = checked_body(call, VERIFY_PASSWORD_FIELDS, required=("password",))["password"]
    if user["password_digest"] is None:
        raise ClerkError("NoPasswordSet")
    store.verification(user)  # a locked user is refused before any hashing
    with store.unlocked():  # the hash runs while other requests go on
        matches = credentials.password_matches(password, user["password_digest"], user["password_hasher"])
    attempt = store.verification(store.user(user["id"]))  # the count as it is now, after concurrent attempts
    if not matches:
        raise attempt.failed(ClerkError("IncorrectPassword", param="password"))
    attempt.passed()
    return {"verified": True}


TOTP_DIGITS = 6  # Clerk's TOTP: 6 digits, 30 s, SHA-1 (spec: CreateUser totp_secret)


def verify_totp(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    code = checked_body(call, VERIFY_TOTP_FIELDS, required=("code",))["code"]
    backup_codes = json.loads(user["backup_codes"])
    if user["totp_secret"] is None and not backup_codes:
        raise ClerkError("TOTPDisabled")
    attempt = store.verification(user)
    if user["totp_secret"] is not None and len(code) == TOTP_DIGITS and credentials.totp_matches(user["totp_secret"], code, attempt.now):
        attempt.passed()
        return {"verified": True, "code_type": "totp"}
    with store.unlocked():  # bcrypt backup codes hash while other requests go on
        used = credentials.find_backup_code(code, backup_codes)
    matched = backup_codes[used] if used is not None else None
    user = store.user(user["id"])
    attempt = store.verification(user)
    backup_codes = json.loads(user["backup_codes"])
    if matched is None or matched not in backup_codes:  # no match, or a concurrent request used it up meanwhile
        # Without backup codes only a 6-digit TOTP code can match: another length is refused as such.
        wrong_length = not backup_codes and len(code) != TOTP_DIGITS
        raise attempt.failed(ClerkError("InvalidLengthTOTP" if wrong_length else "IncorrectTOTP", param="code"))
    attempt.passed()
    backup_codes.remove(matched)
    store.touch(user["id"], {"backup_codes": json.dumps(backup_codes)})
    return {"verified": True, "code_type": "backup_code"}


# The profile image formats Clerk accepts, "a jpg, png, gif, or webp image smaller than 10 MB" (Clerk's
# Backend API docs, clerk/clerk-docs before the OpenAPI reference), recognised by their magic bytes.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"),
)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG, GIF or WebP image, from its first bytes; None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _IMAGE_SIGNATURES if data.startswith(magic)), None)


def set_user_profile_image(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    declared, data = call.files.get("file", ("", b""))
    if not data:
        raise ClerkError("RequestWithoutImage", param="file")
    if len(data) > MAX_IMAGE_BYTES:
        raise ClerkError("ImageTooLarge")
    kind = image_type(data)
    if kind is None and declared in IMAGE_TYPES:
        raise ClerkError("ImageDecodingFailed")  # says it is a type Clerk takes, but is not
    if kind is None:
        raise ClerkError("ImageTypeNotSupported", imageType=(declared or "application/octet-stream")[:100])
    image_id = new_id("img")
    store.insert("images", {"id": image_id, "user_id": user_id, "content_type": kind, "data": data, "created_at": store.clock()})
    store.touch(user_id, {"image_id": image_id})
    return store.user_json(user_id)


def get_o_auth_access_token(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    limit, offset = _page(call)
    paginated = call.first("paginated")
    tokens = store.oauth_tokens(user_id, call.path["provider"])
    # The spec: "If false, the results will not be paginated" - limit and offset apply only with paginated=true.
    if paginated is not None and _bool("paginated", paginated):
        return {"data": tokens[offset:offset + limit], "total_count": len(tokens)}
    return tokens


def users_get_organization_memberships(store: Store, call: Call) -> Any:
    limit, offset = _page(call)
    return store.memberships_json(call.path["user_id"], limit=limit, offset=offset)


# -- toolsets security, sessions, profile and bulk ---------------------------------------------------------------

REMOVE_PASSWORD_FIELDS = {"sign_out_of_other_sessions": "boolean"}
SET_COMPROMISED_FIELDS = {"revoke_all_sessions": "boolean?"}
USER_IDS_FIELDS = {"user_ids": "string[]"}
# UsersBan / UsersUnban take 1 to 50 user ids (spec: minItems 1, maxItems 50).
MAX_BULK_USERS = 50
SESSION_STATUSES = ("abandoned", "active", "ended", "expired", "removed", "replaced", "revoked")
INVITATION_STATUSES = ("pending", "accepted", "revoked", "expired")


def lock_user(store: Store, call: Call) -> Any:
    """Locked for the instance's lockout duration (indefinitely when it has none); failed attempts are kept, so the
    user "may still have verification attempts remaining" (spec, User.verification_attempts_remaining)."""
    user_id = store.user(call.path["user_id"])["id"]
    store.touch(user_id, {"locked": 1, "lockout_expires_at": store.lockout.expires_at(store.clock())})
    return store.user_json(user_id)


def unlock_user(store: Store, call: Call) -> Any:
    """The lock ends and the failed-attempt count starts again (clerk-docs user-lockout.mdx: "Unlock user")."""
    user_id = store.user(call.path["user_id"])["id"]
    store.touch(user_id, {"locked": 0, "lockout_expires_at": None, "failed_verification_attempts": 0})
    return store.user_json(user_id)


def delete_totp(store: Store, call: Call) -> Any:
    """Answers {user_id} whether or not there was a TOTP to delete: the spec has no 4xx for that but the user's 404."""
    user_id = store.user(call.path["user_id"])["id"]
    store.touch(user_id, {"totp_secret": None})
    return {"user_id": user_id}


def delete_backup_code(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    store.touch(user_id, {"backup_codes": "[]"})
    return {"user_id": user_id}


def remove_user_password(store: Store, call: Call) -> Any:
    """Without a password the user comes back unchanged (spec: "no password-deletion or user-update event")."""
    user = store.user(call.path["user_id"])
    body = checked_body(call, REMOVE_PASSWORD_FIELDS)
    if user["password_digest"] is not None:
        store.touch(user["id"], {"password_digest": None, "password_hasher": None, "password_last_updated_at": None,
                                 "password_compromised": 0})
        if body.get("sign_out_of_other_sessions"):
            store.revoke_sessions(user["id"])
    return store.user_json(user["id"])


def set_user_password_compromised(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    body = checked_body(call, SET_COMPROMISED_FIELDS)
    if user["password_digest"] is None:
        raise ClerkError("NoPasswordSet")
    store.touch(user["id"], {"password_compromised": 1})
    if body.get("revoke_all_sessions"):
        store.revoke_sessions(user["id"])
    return store.user_json(user["id"])


def unset_user_password_compromised(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    if user["password_digest"] is None:
        raise ClerkError("NoPasswordSet")
    store.touch(user["id"], {"password_compromised": 0})
    return store.user_json(user["id"])


def user_passkey_delete(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    passkey_id = call.path["passkey_identification_id"]
    if not store.rows("SELECT 1 FROM passkeys WHERE id = ? AND user_id = ?", (passkey_id, user_id)):
        raise ClerkError("PasskeyNotRegistered")
    store.db.execute("DELETE FROM passkeys WHERE id = ?", (passkey_id,))
    store.touch(user_id, {})
    return {"object": "passkey", "id": passkey_id, "deleted": True}


def list_user_trusted_devices(store: Store, call: Call) -> Any:
    """The active ones (spec: "Returns the active trusted devices enrolled by the user")."""
    devices = store.trusted_devices(store.user(call.path["user_id"])["id"])
    return {"data": devices, "total_count": len(devices)}


def revoke_user_trusted_device(store: Store, call: Call) -> Any:
    """Only an active device can be revoked (spec: "Revokes an active trusted device"); another is not found."""
    user_id = store.user(call.path["user_id"])["id"]
    device_id = call.path["trusted_device_id"]
    device = store.trusted_device(user_id, device_id)
    if device is None or device["status"] != "active":
        raise ClerkError("ResourceNotFound")
    now = store.clock()
    store.update("trusted_devices", device_id, {"status": "revoked", "revoked_at": now, "updated_at": now})
    return store.trusted_device(user_id, device_id)


def get_session_list(store: Store, call: Call) -> Any:
    status = call.first("status")
    if status is not None and status not in SESSION_STATUSES:
        raise param_value("status", status, f"must be one of {', '.join(SESSION_STATUSES)}.")
    sessions = store.sessions_json(client_id=call.first("client_id"), user_id=call.first("user_id"), status=status)
    return _maybe_paginated(call, sessions)


def _maybe_paginated(call: Call, items: list[dict[str, Any]]) -> Any:
    """All of `items` as an array, or with paginated=true a page of them with the total (spec: Paginated)."""
    limit, offset = _page(call)
    paginated = call.first("paginated")
    if paginated is not None and _bool("paginated", paginated):
        return {"data": items[offset:offset + limit], "total_count": len(items)}
    return items


def get_session(store: Store, call: Call) -> Any:
    return store.session_json(call.path["session_id"])


def revoke_session(store: Store, call: Call) -> Any:
    """Revoking ends an active session; one already ended stays as it is (its status says how it ended)."""
    session = store.session_json(call.path["session_id"])
    if session["status"] == "active":
        store.update("sessions", session["id"], {"status": "revoked", "updated_at": store.clock()})
    return store.session_json(session["id"])


def delete_user_profile_image(store: Store, call: Call) -> Any:
    user = store.user(call.path["user_id"])
    if user["image_id"] is None:
        raise ClerkError("ImageNotFound")
    store.touch(user["id"], {"image_id": None})
    return store.user_json(user["id"])


def users_get_organization_invitations(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    limit, offset = _page(call)
    status = call.first("status")
    if status is not None and status not in INVITATION_STATUSES:
        raise param_value("status", status, f"must be one of {', '.join(INVITATION_STATUSES)}.")
    return store.invitations_json(user_id, status=status, limit=limit, offset=offset)


def _bulk(store: Store, call: Call, banned: bool) -> Any:
    """Every listed user, or none: an unknown id is the single-user call's 404 and bans no one (Clerk does not document
    this case; the request runs in one transaction)."""
    user_ids = checked_body(call, USER_IDS_FIELDS, required=("user_ids",))["user_ids"]
    if not user_ids:
        raise param_value("user_ids", user_ids, "must hold at least one user id.")
    if len(user_ids) > MAX_BULK_USERS:
        raise ClerkError("FormParameterArraySizeExceeded", MAX_BULK_USERS, param="user_ids")
    users = [store.user(user_id) for user_id in dict.fromkeys(user_ids)]
    for user in users:
        if banned:
            store.revoke_sessions(user["id"])
        store.touch(user["id"], {"banned": int(banned)})
    return store.users_json([store.user(user["id"]) for user in users])


def users_ban(store: Store, call: Call) -> Any:
    return _bulk(store, call, banned=True)


def users_unban(store: Store, call: Call) -> Any:
    return _bulk(store, call, banned=False)


HANDLERS: dict[str, Callable[[Store, Call], Any]] = {
    "get_user": get_user,
    "get_user_list": get_user_list,
    "get_users_count": get_users_count,
    "create_user": create_user,
    "update_user": update_user,
    "update_user_metadata": update_user_metadata,
    "delete_user": delete_user,
    "ban_user": ban_user,
    "unban_user": unban_user,
    "disable_mfa": disable_mfa,
    "verify_password": verify_password,
    "verify_totp": verify_totp,
    "set_user_profile_image": set_user_profile_image,
    "get_o_auth_access_token": get_o_auth_access_token,
    "users_get_organization_memberships": users_get_organization_memberships,
    # toolsets security, sessions, profile and bulk
    "lock_user": lock_user,
    "unlock_user": unlock_user,
    "delete_totp": delete_totp,
    "delete_backup_code": delete_backup_code,
    "remove_user_password": remove_user_password,
    "set_user_password_compromised": set_user_password_compromised,
    "unset_user_password_compromised": unset_user_password_compromised,
    "user_passkey_delete": user_passkey_delete,
    "list_user_trusted_devices": list_user_trusted_devices,
    "revoke_user_trusted_device": revoke_user_trusted_device,
    "get_session_list": get_session_list,
    "get_session": get_session,
    "revoke_session": revoke_session,
    "delete_user_profile_image": delete_user_profile_image,
    "replace_user_metadata": replace_user_metadata,
    "users_get_organization_invitations": users_get_organization_invitations,
    "users_ban": users_ban,
    "users_unban": users_unban,
}


def _not_json(constant: str) -> Any:
    """Python's parser takes NaN and Infinity; JSON does not, and a stored one could never be rendered again."""
    raise ValueError(constant)


def json_body(raw: bytes) -> Any:
    """A request's JSON body (None when empty), or Clerk's 400 for malformed JSON."""
    if not raw.strip():
        return None
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except ValueError:
        raise ClerkError("InvalidRequestBody", detail="the body is not valid JSON (NaN and Infinity are not JSON).") from None
    except RecursionError:
        raise ClerkError("InvalidRequestBody", detail=f"JSON values may nest at most {MAX_JSON_DEPTH} levels deep.") from None
    _check_text(body, None)
    return body


MAX_JSON_DEPTH = 64  # far beyond any Clerk body (metadata included), far below Python's recursion limit


def _check_text(value: Any, param: str | None, depth: int = 0) -> None:
    """Refuse strings no UTF-8 encoder can write (JSON's lone surrogates, e.g. "\\ud800"), naming the
    top-level field, and values nested deeper than `MAX_JSON_DEPTH`."""
    if depth > MAX_JSON_DEPTH:
        raise ClerkError("InvalidRequestBody", detail=f"JSON values may nest at most {MAX_JSON_DEPTH} levels deep.")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ClerkError("FormInvalidEncodingParameterValue", param=param or "body") from None
    elif isinstance(value, list):
        for item in value:
            _check_text(item, param, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = param or key.encode("utf-8", "replace").decode()
            _check_text(key, name, depth + 1)
            _check_text(item, name, depth + 1)
