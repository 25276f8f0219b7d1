"""Toolset `identifiers` in the sandbox: a user's email addresses, phone numbers, web3 wallets and external accounts.

Identifications live in the store's `identifications` table (one row each, `verified`/`reserved` giving its
status); the user row keeps a copy of each primary value. Clerk's rules, with where each comes from:

- Errors are catalogue entries (clerk/clerk-docs data/api_errors.json @ a7cebf5): an unknown id is
  `IdentificationNotFound` (404) or `ExternalAccountNotFound` (404); removing a user's last identification
  `LastIdentificationDeletionFailed` (400); deleting an email address a connected account is linked to
  `DeleteLinkedCommNotAllowed` (400) — also what refuses a replacement, as the spec says ("If an existing email
  address is linked to a connected account, the request is rejected"); a second factor that is unverified
  `CreateSecondFactorUnverified`/`UpdateSecondFactorUnverified` (400), or the user's only identification
  `LastIdentificationSetFor2FAFailed` (400).
- Deleting a primary identification is not refused (Clerk's own UserProfile offers "Remove" on the primary email,
  clerk/javascript packages/ui/src/components/UserProfile/EmailsSection.tsx @ e21ae9a): another one of the same
  kind becomes primary, a verified one first, as "Clerk takes care of automatically assigning a verified email
  address or phone number as the user's primary" (clerk.com/docs/users/contact-users).
- Replacing (spec ReplaceUserEmailAddress/ReplaceUserPhoneNumber): the new one is the user's only and primary one,
  in the status asked; "replacing a phone number that is reserved for second factor disables the user's MFA".
Choices where nothing pins Clerk down are listed in FIDELITY.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from .errors import ClerkError, identifier_exists, param_value
from .handlers import EMAIL, PHONE, Call, checked_body, disable_mfa
from .store import Store, new_id

# Request bodies, in handlers.checked_body's notation, as the spec declares them (tests compare them with it).
CREATE_EMAIL_FIELDS = {
    "user_id": "string", "email_address": "string", "verified": "boolean?", "primary": "boolean?",
    "notify_primary_email_address_changed": "boolean?",
}
UPDATE_EMAIL_FIELDS = {"verified": "boolean?", "primary": "boolean?", "notify_primary_email_address_changed": "boolean?"}
REPLACE_EMAIL_FIELDS = {"email_address": "string", "identification_status": "string", "notify_primary_email_address_changed": "boolean?"}
CREATE_PHONE_FIELDS = {
    "user_id": "string", "phone_number": "string", "verified": "boolean?", "primary": "boolean?",
    "reserved_for_second_factor": "boolean?",
}
UPDATE_PHONE_FIELDS = {"verified": "boolean?", "primary": "boolean?", "reserved_for_second_factor": "boolean?"}
REPLACE_PHONE_FIELDS = {"phone_number": "string", "identification_status": "string"}

# identification_status -> (verified, reserved) columns.
STATUSES = {"verified": (1, 0), "reserved": (0, 1), "unverified": (0, 0)}
# What a kind's identifications are called in a User.
LISTS = {"email_address": "email_addresses", "phone_number": "phone_numbers", "web3_wallet": "web3_wallets"}
# The format of a new email address or phone number, and the catalogue entry for one that does not have it.
FORMATS = {"email_address": (EMAIL, "FormInvalidEmailAddress"), "phone_number": (PHONE, "FormInvalidPhoneNumber")}


def _value(kind: str, raw: str) -> str:
    """The value as stored (emails lower-case), after Clerk's format check."""
    pattern, invalid = FORMATS[kind]
    value = raw.lower() if kind == "email_address" else raw
    if not pattern.match(value):
        raise ClerkError(invalid, param=kind)
    return value


def _identification(store: Store, kind: str, ident_id: str, user_id: str | None = None) -> sqlite3.Row:
    """The identification of `kind` with this id (and owner, when given), or 404."""
    rows = store.rows("SELECT * FROM identifications WHERE id = ? AND type = ?", (ident_id, kind))
    if not rows or user_id not in (None, rows[0]["user_id"]):
        raise ClerkError("IdentificationNotFound")
    return rows[0]


def _json(store: Store, ident_id: str, kind: str, user_id: str) -> dict[str, Any]:
    """An identification as Clerk renders it inside its user (linked accounts, default second factor)."""
    return next(i for i in store.user_json(user_id)[LISTS[kind]] if i["id"] == ident_id)


def _linked(store: Store, ident: sqlite3.Row) -> bool:
    """Whether a connected account is linked to this email address (as `linked_to` renders it)."""
    return ident["type"] == "email_address" and bool(store.rows(
        "SELECT 1 FROM external_accounts WHERE user_id = ? AND email_address = ?", (ident["user_id"], ident["value"])
    ))


def _other_identifications(store: Store, user_id: str, *, ident_id: str = "", account_id: str = "") -> int:
    """How many ways to identify the user remain besides the given identification or account: identifications,
    external accounts and a username (Clerk keeps each as an identification)."""
    (count,) = store.rows(
        "SELECT (SELECT count(*) FROM identifications WHERE user_id = ?1 AND id != ?2)"
        " + (SELECT count(*) FROM external_accounts WHERE user_id = ?1 AND id != ?3)"
        " + (SELECT count(*) FROM users WHERE id = ?1 AND username IS NOT NULL)",
        (user_id, ident_id, account_id),
    )[0]
    return count


def _make_primary(store: Store, ident: sqlite3.Row | dict[str, Any] | None, kind: str, user_id: str) -> None:
    """Point the user's primary `kind` (and its sortable copy) at `ident`, or at none."""
    store.touch(user_id, {f"primary_{kind}_id": ident["id"] if ident else None, kind: ident["value"] if ident else None})


def _remove(store: Store, ident: sqlite3.Row) -> dict[str, Any]:
    """Delete an identification as Clerk does, promoting another of its kind when it was the primary."""
    if _linked(store, ident):
        raise ClerkError("DeleteLinkedCommNotAllowed")
    if not _other_identifications(store, ident["user_id"], ident_id=ident["id"]):
        raise ClerkError("LastIdentificationDeletionFailed")
    kind, user_id = ident["type"], ident["user_id"]
    store.db.execute("DELETE FROM identifications WHERE id = ?", (ident["id"],))
    user = store.user(user_id)
    if user[f"primary_{kind}_id"] == ident["id"]:
        heir = store.rows(
            "SELECT * FROM identifications WHERE user_id = ? AND type = ? ORDER BY verified AND NOT reserved DESC, created_at, rowid LIMIT 1",
            (user_id, kind),
        )
        _make_primary(store, heir[0] if heir else None, kind, user_id)
    else:
        store.touch(user_id, {})
    return {"object": kind, "id": ident["id"], "deleted": True}


def _create(store: Store, call: Call, kind: str, fields: dict[str, str]) -> dict[str, Any]:
    """POST /email_addresses, /phone_numbers: a new identification, unverified unless `verified`; the user's primary
    when asked or when the user has none of its kind ("Default: false, unless it is the first")."""
    body = checked_body(call, fields, required=("user_id", kind))
    user = store.user(body["user_id"])
    value = _value(kind, body[kind])
    if store.identifier_owner(kind, value):
        raise identifier_exists(kind)
    verified = bool(body.get("verified"))
    second_factor = bool(body.get("reserved_for_second_factor"))
    if second_factor and not verified:
        raise ClerkError("CreateSecondFactorUnverified")
    if second_factor and not _other_identifications(store, user["id"]):
        raise ClerkError("LastIdentificationSetFor2FAFailed")
    now = store.clock()
    row = {
        "id": new_id("idn"), "user_id": user["id"], "type": kind, "value": value, "reserved": 0, "verified": int(verified),
        "second_factor": int(second_factor), "created_at": now, "updated_at": now,
    }
    store.insert("identifications", row)
    if body.get("primary") or user[f"primary_{kind}_id"] is None:
        _make_primary(store, row, kind, user["id"])
    else:
        store.touch(user["id"], {})
    return _json(store, row["id"], kind, user["id"])


def _update(store: Store, call: Call, kind: str, ident_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """PATCH /email_addresses/{id}, /phone_numbers/{id}. `verified: true` verifies (a reserved one too), `false`
    unverifies; `primary: true` makes it the user's primary (`false` changes nothing: a user always has one when
    any exist); `reserved_for_second_factor` needs a verified number that is not the user's only identification."""
    ident = _identification(store, kind, ident_id)
    body = checked_body(call, fields)
    changes: dict[str, Any] = {}
    if body.get("verified") is not None:
        changes |= {"verified": 1, "reserved": 0} if body["verified"] else {"verified": 0}
    second_factor = body.get("reserved_for_second_factor")
    if second_factor:
        if not changes.get("verified", ident["verified"] and not ident["reserved"]):
            raise ClerkError("UpdateSecondFactorUnverified")
        if not _other_identifications(store, ident["user_id"], ident_id=ident["id"]):
            raise ClerkError("LastIdentificationSetFor2FAFailed")
    if second_factor is not None:
        changes["second_factor"] = int(second_factor)
    store.update("identifications", ident["id"], {**changes, "updated_at": store.clock()})
    if body.get("primary"):
        _make_primary(store, ident, kind, ident["user_id"])
    else:
        store.touch(ident["user_id"], {})
    return _json(store, ident["id"], kind, ident["user_id"])


def _replace(store: Store, call: Call, kind: str, fields: dict[str, str]) -> dict[str, Any]:
    """PUT /users/{id}/email_address, /phone_number: the new value becomes the user's only and primary one of its kind
    (kept, with its id, when the user already had it), in `identification_status`; the others are deleted."""
    user = store.user(call.path["user_id"])
    body = checked_body(call, fields, required=(kind,))
    status = body.get("identification_status", "verified")
    if status not in STATUSES:
        raise param_value("identification_status", status, f"must be one of {', '.join(STATUSES)}.")
    value = _value(kind, body[kind])
    if store.identifier_owner(kind, value) not in (None, user["id"]):
        raise identifier_exists(kind)
    existing = store.rows("SELECT * FROM identifications WHERE user_id = ? AND type = ?", (user["id"], kind))
    doomed = [i for i in existing if i["value"] != value]
    if any(_linked(store, i) for i in doomed):
        raise ClerkError("DeleteLinkedCommNotAllowed")
    if any(i["second_factor"] for i in existing):
        disable_mfa(store, call)
    store.db.executemany("DELETE FROM identifications WHERE id = ?", [(i["id"],) for i in doomed])
    verified, reserved = STATUSES[status]
    now = store.clock()
    kept = next((i for i in existing if i["value"] == value), None)
    row = {"id": kept["id"] if kept else new_id("idn"), "value": value}
    columns = {"verified": verified, "reserved": reserved, "second_factor": 0, "updated_at": now}
    if kept:
        store.update("identifications", row["id"], columns)
    else:
        store.insert("identifications", {**row, **columns, "user_id": user["id"], "type": kind, "created_at": now})
    _make_primary(store, row, kind, user["id"])
    return _json(store, row["id"], kind, user["id"])


# -- handlers --------------------------------------------------------------------------------------------------------

def _handlers(kind: str, create: dict[str, str], update: dict[str, str], replace: dict[str, str]) -> dict[str, Callable[[Store, Call], Any]]:
    """The five operations on one kind (`email_address`, `phone_number`), named as the operation table names them;
    `/email_addresses/{email_address_id}` and the like take the id."""
    def get(store: Store, call: Call) -> Any:
        ident = _identification(store, kind, call.path[f"{kind}_id"])
        return _json(store, ident["id"], kind, ident["user_id"])

    return {
        f"get_{kind}": get,
        f"create_{kind}": lambda store, call: _create(store, call, kind, create),
        f"update_{kind}": lambda store, call: _update(store, call, kind, call.path[f"{kind}_id"], update),
        f"delete_{kind}": lambda store, call: _remove(store, _identification(store, kind, call.path[f"{kind}_id"])),
        f"replace_user_{kind}": lambda store, call: _replace(store, call, kind, replace),
    }


def user_web3_wallet_delete(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    return _remove(store, _identification(store, "web3_wallet", call.path["web3_wallet_identification_id"], user_id))


def delete_external_account(store: Store, call: Call) -> Any:
    """Unlink a connected account; its email address stays, no longer linked. Refused when it is the user's last way
    to identify themselves, like any identification (an external account is one in Clerk)."""
    user_id = store.user(call.path["user_id"])["id"]
    account_id = call.path["external_account_id"]
    if not store.rows("SELECT 1 FROM external_accounts WHERE id = ? AND user_id = ?", (account_id, user_id)):
        raise ClerkError("ExternalAccountNotFound")
    if not _other_identifications(store, user_id, account_id=account_id):
        raise ClerkError("LastIdentificationDeletionFailed")
    store.db.execute("DELETE FROM external_accounts WHERE id = ?", (account_id,))
    store.touch(user_id, {})
    return {"object": "external_account", "id": account_id, "deleted": True}


HANDLERS: dict[str, Callable[[Store, Call], Any]] = {
    **_handlers("email_address", CREATE_EMAIL_FIELDS, UPDATE_EMAIL_FIELDS, REPLACE_EMAIL_FIELDS),
    **_handlers("phone_number", CREATE_PHONE_FIELDS, UPDATE_PHONE_FIELDS, REPLACE_PHONE_FIELDS),
    "user_web3_wallet_delete": user_web3_wallet_delete,
    "delete_external_account": delete_external_account,
}
