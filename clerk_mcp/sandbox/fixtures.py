"""Load a JSON fixture (the bundled `seed.json`, or one posted to `/_sandbox/seed`) into a store.

The fixture format is documented in SEED.md. Ids and timestamps may be given, for deterministic
data, or left out; passwords come as precomputed digests so loading never runs bcrypt.
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from typing import Any

from . import billing
from .credentials import hash_backup_code
from .errors import ClerkError, identifier_exists, param_format, param_type, param_value
from .handlers import Call, checked_body
from .store import Store, new_id

ROLES = {
    "org:admin": ("Admin", ["org:sys_memberships:manage", "org:sys_memberships:read", "org:sys_profile:manage",
                            "org:sys_profile:delete", "org:sys_domains:manage", "org:sys_domains:read"]),
    "org:member": ("Member", ["org:sys_memberships:read"]),
}

_IDENTIFICATIONS = (("email_addresses", "email_address"), ("phone_numbers", "phone_number"), ("web3_wallets", "web3_wallet"))


def default_seed() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("seed.json").read_text(encoding="utf-8"))


# The fixture format above (SEED.md), in handlers.checked_body's field notation ("type", "type?" nullable,
# "type[]"); timestamps are Unix ms. `check` holds every item to it before anything is stored.
FIXTURE_FIELDS = {
    "organizations": "object[]", "users": "object[]", "organization_memberships": "object[]", "organization_invitations": "object[]",
}
ORGANIZATION_FIELDS = {
    "id": "string", "name": "string", "slug": "string?", "max_allowed_memberships": "integer", "public_metadata": "object",
    "private_metadata": "object", "created_by": "string?", "created_at": "integer", "updated_at": "integer",
}
USER_FIELDS = {
    "id": "string", "external_id": "string?", "first_name": "string?", "last_name": "string?", "locale": "string?",
    "username": "string?", "email_addresses": "json[]", "phone_numbers": "json[]", "web3_wallets": "json[]",
    "password_digest": "string?", "password_hasher": "string", "password_last_updated_at": "integer?", "totp_secret": "string?",
    "backup_codes": "string[]", "public_metadata": "object", "private_metadata": "object", "unsafe_metadata": "object",
    "banned": "boolean", "locked": "boolean", "bypass_client_trust": "boolean", "delete_self_enabled": "boolean",
    "create_organization_enabled": "boolean", "create_organizations_limit": "integer?", "created_at": "integer",
    "updated_at": "integer", "last_sign_in_at": "integer?", "last_active_at": "integer?", "legal_accepted_at": "integer?",
    "mfa_enabled_at": "integer?", "mfa_disabled_at": "integer?", "external_accounts": "object[]", "sessions": "object[]",
    "failed_verification_attempts": "integer", "lockout_expires_at": "integer?",
    "billing_subscription": "object", "credit_balance": "integer", "passkeys": "object[]", "trusted_devices": "object[]",
}
IDENTIFICATION_FIELDS = {"id": "string", "reserved": "boolean", "second_factor": "boolean"}  # + the kind: "email_address": "…"
ACCOUNT_FIELDS = {
    "id": "string", "provider": "string", "provider_user_id": "string", "identification_id": "string",
    "email_address": "string", "first_name": "string", "last_name": "string", "username": "string?", "image_url": "string?",
    "scopes": "string[]", "label": "string?", "public_metadata": "object", "token": "string", "token_expires_at": "integer",
    "created_at": "integer",
}
SESSION_FIELDS = {"id": "string", "status": "string", "created_at": "integer"}
PASSKEY_FIELDS = {"id": "string", "name": "string", "last_used_at": "integer", "created_at": "integer"}
TRUSTED_DEVICE_FIELDS = {
    "id": "string", "platform": "string", "app_identifier": "string", "name": "string?", "status": "string",
    "last_used_at": "integer?", "created_at": "integer",
}
INVITATION_FIELDS = {
    "id": "string", "email_address": "string", "organization_id": "string", "role": "string", "status": "string",
    "public_metadata": "object", "private_metadata": "object", "expires_at": "integer?", "created_at": "integer",
}
# The values Clerk's spec allows for these fields (Session, TrustedDevice, OrganizationInvitation): a seeded value
# outside them would be rendered as it is, outside Clerk's schema.
CHOICES = {
    "session status": ("active", "revoked", "ended", "expired", "removed", "abandoned", "replaced", "pending"),
    "platform": ("ios", "android"),
    "trusted device status": ("active", "revoked"),
    "invitation status": ("pending", "accepted", "revoked", "expired"),
}
MEMBERSHIP_FIELDS = {
    "id": "string", "user_id": "string", "organization_id": "string", "organization": "object", "role": "string",
    "public_metadata": "object", "private_metadata": "object", "created_at": "integer",
}


def _items(values: list[Any], fields: dict[str, str], required: tuple[str, ...] = ()) -> None:
    for value in values:
        checked_body(Call(body=value), fields, required)


def check(data: Any) -> dict[str, Any]:
    """The fixture, after Clerk-style 422s for any field of the wrong type, unknown or missing, at any level."""
    fixture = checked_body(Call(body=data), FIXTURE_FIELDS)
    _items(fixture.get("organizations", []), ORGANIZATION_FIELDS, ("name",))
    _items(fixture.get("users", []), USER_FIELDS)
    for user in fixture.get("users", []):
        for key, kind in _IDENTIFICATIONS:
            wrong = [i for i in user.get(key, []) if not isinstance(i, (str, dict))]
            if wrong:
                raise param_type(key, wrong[0], "string or object")
            _items([i for i in user.get(key, []) if isinstance(i, dict)], IDENTIFICATION_FIELDS | {kind: "string"}, (kind,))
        _items(user.get("external_accounts", []), ACCOUNT_FIELDS, ("provider",))
        _items(user.get("sessions", []), SESSION_FIELDS)
        _items([user["billing_subscription"]] if "billing_subscription" in user else [], billing.SUBSCRIPTION_FIELDS)
        _items(user.get("passkeys", []), PASSKEY_FIELDS)
        _items(user.get("trusted_devices", []), TRUSTED_DEVICE_FIELDS, ("platform", "app_identifier"))
    _items(fixture.get("organization_memberships", []), MEMBERSHIP_FIELDS, ("user_id",))
    _items(fixture.get("organization_invitations", []), INVITATION_FIELDS, ("email_address", "organization_id"))
    return fixture


def load(store: Store, data: dict[str, Any]) -> dict[str, int]:
    """Add a fixture's organizations, users and their accounts (checked first); returns how many of each."""
    data = check(data)
    with store.atomic():
        for org in data.get("organizations", []):
            add_organization(store, org)
        for user in data.get("users", []):
            add_user(store, user)
        for membership in data.get("organization_memberships", []):
            add_membership(store, membership)
        for invitation in data.get("organization_invitations", []):
            add_invitation(store, invitation)
    counts = {key: len(data.get(key, [])) for key in ("organizations", "users", "organization_memberships")}
    return counts | ({"organization_invitations": len(data["organization_invitations"])} if "organization_invitations" in data else {})


def add_organization(store: Store, org: dict[str, Any]) -> str:
    now = store.clock()
    org_id = org.get("id") or new_id("org")
    store.insert("organizations", {
        "id": org_id, "name": org["name"], "slug": org.get("slug") or org["name"].lower().replace(" ", "-"),
        "max_allowed_memberships": org.get("max_allowed_memberships", 0),
        "public_metadata": json.dumps(org.get("public_metadata", {})),
        "private_metadata": json.dumps(org.get("private_metadata", {})),
        "created_by": org.get("created_by"),
        "created_at": org.get("created_at", now), "updated_at": org.get("updated_at", org.get("created_at", now)),
    })
    return org_id


def add_user(store: Store, user: dict[str, Any]) -> str:
    """Insert a fixture user with its identifications, external accounts, sessions and memberships."""
    now = store.clock()
    created = user.get("created_at", now)
    user_id = user.get("id") or new_id("user")
    row: dict[str, Any] = {
        "id": user_id, "created_at": created, "updated_at": user.get("updated_at", created),
        "username": (user.get("username") or "").lower() or None,
        **{k: user.get(k) for k in ("external_id", "first_name", "last_name", "locale", "password_digest",
                                     "totp_secret", "last_sign_in_at", "last_active_at", "legal_accepted_at",
                                     "mfa_enabled_at", "mfa_disabled_at", "create_organizations_limit")},
        **{k: json.dumps(user.get(k, {})) for k in ("public_metadata", "private_metadata", "unsafe_metadata")},
        **{k: int(user.get(k, False)) for k in ("banned", "locked", "bypass_client_trust")},
        **{k: int(user.get(k, True)) for k in ("delete_self_enabled", "create_organization_enabled")},
        "backup_codes": json.dumps([hash_backup_code(c) for c in user.get("backup_codes", [])]),
    }
    row["failed_verification_attempts"] = _count(user.get("failed_verification_attempts", 0), "failed_verification_attempts")
    if row["locked"]:  # locked as the lock endpoint does, for the instance's lockout duration, unless the fixture says
        expires = user.get("lockout_expires_at", store.lockout.expires_at(now))
        row["lockout_expires_at"] = None if expires is None else _count(expires, "lockout_expires_at")
    if row["password_digest"]:
        row["password_hasher"] = user.get("password_hasher", "bcrypt")
        row["password_last_updated_at"] = user.get("password_last_updated_at", created)
    idents = []
    for key, kind in _IDENTIFICATIONS:
        for item in user.get(key, []):
            item = {kind: item} if isinstance(item, str) else item
            value = item[kind] if kind == "phone_number" else item[kind].lower()
            idents.append({
                "id": item.get("id") or new_id("idn"), "user_id": user_id, "type": kind, "value": value,
                "reserved": int(item.get("reserved", False)), "second_factor": int(item.get("second_factor", False)),
                "created_at": created, "updated_at": created,
            })
        first = next((i for i in idents if i["type"] == kind), None)
        if first:
            row[f"primary_{kind}_id"], row[kind] = first["id"], first["value"]
    store.insert("users", row)
    store.insert_many("identifications", idents)
    for account in user.get("external_accounts", []):
        add_external_account(store, {**account, "user_id": user_id})
    for session in user.get("sessions", []):
        add_session(store, {**session, "user_id": user_id})
    for passkey in user.get("passkeys", []):
        add_passkey(store, {**passkey, "user_id": user_id})
    for device in user.get("trusted_devices", []):
        add_trusted_device(store, {**device, "user_id": user_id})
    if "billing_subscription" in user:
        billing.subscribe(store, user_id, {"created_at": created, **user["billing_subscription"]})
    if user.get("credit_balance"):
        billing.grant(store, user_id, _count(user["credit_balance"], "credit_balance"), key="seed", note="opening balance")
    return user_id


def _choice(kind: str, param: str, value: str) -> str:
    if value not in CHOICES[kind]:
        raise param_value(param, value, f"must be one of {', '.join(CHOICES[kind])}.")
    return value


def add_session(store: Store, session: dict[str, Any]) -> str:
    """A session of a user, as a sign-in creates it (active, now) unless the fixture says otherwise."""
    return store.add_session(
        store.user(session["user_id"])["id"], session_id=session.get("id"),
        status=_choice("session status", "status", session.get("status", "active")), created_at=session.get("created_at"),
    )


def add_passkey(store: Store, passkey: dict[str, Any]) -> str:
    """A passkey the user registered (no Backend API call creates one); its id is an identification id, as in Clerk."""
    user_id = store.user(passkey["user_id"])["id"]
    now = store.clock()
    passkey_id = passkey.get("id") or new_id("idn")
    store.insert("passkeys", {
        "id": passkey_id, "user_id": user_id, "name": passkey.get("name", "Passkey"),
        "last_used_at": passkey.get("last_used_at", now), "created_at": passkey.get("created_at", now),
    })
    return passkey_id


def add_trusted_device(store: Store, device: dict[str, Any]) -> str:
    """A device the user enrolled as trusted in a mobile app (no Backend API call enrols one)."""
    user_id = store.user(device["user_id"])["id"]
    now = store.clock()
    created = device.get("created_at", now)
    device_id = device.get("id") or new_id("td")
    status = _choice("trusted device status", "status", device.get("status", "active"))
    store.insert("trusted_devices", {
        "id": device_id, "user_id": user_id, "platform": _choice("platform", "platform", device["platform"]),
        "app_identifier": device["app_identifier"], "name": device.get("name"), "status": status,
        "last_used_at": device.get("last_used_at"), "revoked_at": created if status == "revoked" else None,
        "created_at": created, "updated_at": created,
    })
    return device_id


def add_invitation(store: Store, invitation: dict[str, Any]) -> str:
    """An invitation to join an organization, sent to an email address (pending unless the fixture says otherwise)."""
    if not store.rows("SELECT 1 FROM organizations WHERE id = ?", (invitation["organization_id"],)):
        raise ClerkError("OrganizationNotFound")
    role = invitation.get("role", "org:member")
    created = invitation.get("created_at", store.clock())
    invitation_id = invitation.get("id") or new_id("orginv")
    store.insert("organization_invitations", {
        "id": invitation_id, "organization_id": invitation["organization_id"], "email_address": invitation["email_address"].lower(),
        "role": role, "role_name": ROLES.get(role, (role.removeprefix("org:").title(), []))[0],
        "status": _choice("invitation status", "status", invitation.get("status", "pending")),
        "public_metadata": json.dumps(invitation.get("public_metadata", {})),
        "private_metadata": json.dumps(invitation.get("private_metadata", {})),
        "expires_at": invitation.get("expires_at"), "created_at": created, "updated_at": created,
    })
    return invitation_id


def _count(value: Any, name: str) -> int:
    """A fixture's non-negative integer (a count, or Unix ms)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise param_format(name, "a non-negative integer")
    return value


def add_external_account(store: Store, account: dict[str, Any]) -> str:
    """Link an OAuth account (with its access token) to a user, as a sign-in with that provider would."""
    user_id = store.user(account["user_id"])["id"]
    provider = account.get("provider", "")
    if not provider.startswith("oauth_"):
        raise param_value("provider", provider, "must name an OAuth provider, e.g. oauth_google.")
    now = store.clock()
    created = account.get("created_at", now)
    account_id = account.get("id") or new_id("eac")
    row = {
        "id": account_id, "user_id": user_id, "provider": provider,
        "provider_user_id": account.get("provider_user_id") or secrets.token_hex(10),
        "identification_id": account.get("identification_id") or new_id("idn"),
        "email_address": account.get("email_address", ""), "first_name": account.get("first_name", ""),
        "last_name": account.get("last_name", ""), "username": account.get("username"),
        "image_url": account.get("image_url"), "approved_scopes": " ".join(account.get("scopes", [])),
        "label": account.get("label"), "public_metadata": json.dumps(account.get("public_metadata", {})),
        "token": account.get("token") or "sandbox_oauth_" + secrets.token_urlsafe(24),
        "token_expires_at": account.get("token_expires_at", now + 3_600_000),
        "created_at": created, "updated_at": created,
    }
    if store.rows("SELECT 1 FROM external_accounts WHERE provider = ? AND provider_user_id = ?", (provider, row["provider_user_id"])):
        raise identifier_exists("provider_user_id")
    store.insert("external_accounts", row)
    return account_id


def add_membership(store: Store, membership: dict[str, Any]) -> str:
    """Make a user a member of an organization (created on the fly when given by `name`)."""
    user_id = store.user(membership["user_id"])["id"]
    org_id = membership.get("organization_id")
    if org_id is None:
        org_id = add_organization(store, membership["organization"])
    elif not store.rows("SELECT 1 FROM organizations WHERE id = ?", (org_id,)):
        raise ClerkError("OrganizationNotFound")
    role = membership.get("role", "org:member")
    role_name, permissions = ROLES.get(role, (role.removeprefix("org:").title(), []))
    created = membership.get("created_at", store.clock())
    membership_id = membership.get("id") or new_id("orgmem")
    store.insert("memberships", {
        "id": membership_id, "organization_id": org_id, "user_id": user_id, "role": role, "role_name": role_name,
        "permissions": json.dumps(permissions), "public_metadata": json.dumps(membership.get("public_metadata", {})),
        "private_metadata": json.dumps(membership.get("private_metadata", {})),
        "created_at": created, "updated_at": created,
    })
    return membership_id
