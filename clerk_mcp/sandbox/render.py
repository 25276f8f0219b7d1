"""Database rows -> Clerk's JSON objects (User, OrganizationMembership, OAuthAccessToken...).

The shapes follow the 2026-05-12 spec's response schemas field by field; a test validates every
response against them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

IMAGE_HOST = "https://img.clerk.com/sandbox"
DEFAULT_AVATAR = f"{IMAGE_HOST}/default-avatar"

Row = Mapping[str, Any]

_ADMIN_VERIFICATION = {"object": "verification_admin", "status": "verified", "strategy": "admin", "attempts": None, "expire_at": None}


def image_url(image_id: str | None) -> str:
    return f"{IMAGE_HOST}/{image_id}" if image_id else DEFAULT_AVATAR


def _verification(ident: Row) -> dict[str, Any] | None:
    """Verified by an admin (the Backend API creates identifications that way), or none yet: reserved or unverified."""
    return _ADMIN_VERIFICATION if ident["verified"] and not ident["reserved"] else None


def _email(ident: Row, accounts: Sequence[Row]) -> dict[str, Any]:
    return {
        "id": ident["id"],
        "object": "email_address",
        "email_address": ident["value"],
        "reserved": bool(ident["reserved"]),
        "verification": _verification(ident),
        "linked_to": [{"type": a["provider"], "id": a["id"]} for a in accounts if a["email_address"] == ident["value"]],
        "matches_sso_connection": False,
        "created_at": ident["created_at"],
        "updated_at": ident["updated_at"],
    }


def _phone(ident: Row, default_second_factor: bool) -> dict[str, Any]:
    return {
        "id": ident["id"],
        "object": "phone_number",
        "phone_number": ident["value"],
        "reserved_for_second_factor": bool(ident["second_factor"]),
        "default_second_factor": default_second_factor,
        "reserved": bool(ident["reserved"]),
        "verification": _verification(ident),
        "linked_to": [],
        "backup_codes": None,
        "created_at": ident["created_at"],
        "updated_at": ident["updated_at"],
    }


def _wallet(ident: Row) -> dict[str, Any]:
    return {
        "id": ident["id"],
        "object": "web3_wallet",
        "web3_wallet": ident["value"],
        "verification": _ADMIN_VERIFICATION,
        "created_at": ident["created_at"],
        "updated_at": ident["updated_at"],
    }


def _external_account(account: Row) -> dict[str, Any]:
    return {
        "object": "external_account",
        "id": account["id"],
        "provider": account["provider"],
        "identification_id": account["identification_id"],
        "provider_user_id": account["provider_user_id"],
        "approved_scopes": account["approved_scopes"],
        "email_address": account["email_address"],
        "email_address_verified": True,
        "first_name": account["first_name"],
        "last_name": account["last_name"],
        "avatar_url": account["image_url"] or "",
        "image_url": account["image_url"],
        "username": account["username"],
        "phone_number": None,
        "public_metadata": json.loads(account["public_metadata"]),
        "label": account["label"],
        "created_at": account["created_at"],
        "updated_at": account["updated_at"],
        "verification": {
            "object": "verification_oauth",
            "status": "verified",
            "strategy": account["provider"],
            "attempts": None,
            "expire_at": account["created_at"] + 600_000,
        },
    }


def user(
    u: Row, identifications: Sequence[Row], accounts: Sequence[Row], passkeys: Sequence[Row], lockout: Mapping[str, Any],
) -> dict[str, Any]:
    """A User; `lockout` holds its `locked`, `lockout_expires_in_seconds` and `verification_attempts_remaining`
    as of now (`lockout.Lockout.view`)."""
    emails = [i for i in identifications if i["type"] == "email_address"]
    phones = [i for i in identifications if i["type"] == "phone_number"]
    wallets = [i for i in identifications if i["type"] == "web3_wallet"]
    second_factor_phones = [p for p in phones if p["second_factor"]]
    backup_code_enabled = json.loads(u["backup_codes"]) != []
    totp_enabled = u["totp_secret"] is not None
    url = image_url(u["image_id"])
    return {
        "id": u["id"],
        "object": "user",
        "external_id": u["external_id"],
        "primary_email_address_id": u["primary_email_address_id"],
        "primary_phone_number_id": u["primary_phone_number_id"],
        "primary_web3_wallet_id": u["primary_web3_wallet_id"],
        "username": u["username"],
        "first_name": u["first_name"],
        "last_name": u["last_name"],
        "locale": u["locale"],
        "profile_image_url": url,
        "image_url": url,
        "has_image": u["image_id"] is not None,
        "public_metadata": json.loads(u["public_metadata"]),
        "private_metadata": json.loads(u["private_metadata"]),
        "unsafe_metadata": json.loads(u["unsafe_metadata"]),
        "email_addresses": [_email(e, accounts) for e in emails],
        "phone_numbers": [_phone(p, p is (second_factor_phones or [None])[0]) for p in phones],
        "web3_wallets": [_wallet(w) for w in wallets],
        "passkeys": [passkey(p) for p in passkeys],
        "password_enabled": u["password_digest"] is not None,
        "two_factor_enabled": totp_enabled or backup_code_enabled or bool(second_factor_phones),
        "totp_enabled": totp_enabled,
        "backup_code_enabled": backup_code_enabled,
        "mfa_enabled_at": u["mfa_enabled_at"],
        "mfa_disabled_at": u["mfa_disabled_at"],
        "password_last_updated_at": u["password_last_updated_at"],
        "external_accounts": [_external_account(a) for a in accounts],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "last_sign_in_at": u["last_sign_in_at"],
        "banned": bool(u["banned"]),
        "locked": lockout["locked"],
        "deprovisioned": False,
        "lockout_expires_in_seconds": lockout["lockout_expires_in_seconds"],
        "verification_attempts_remaining": lockout["verification_attempts_remaining"],
        "updated_at": u["updated_at"],
        "created_at": u["created_at"],
        "delete_self_enabled": bool(u["delete_self_enabled"]),
        "create_organization_enabled": bool(u["create_organization_enabled"]),
        "create_organizations_limit": u["create_organizations_limit"],
        "last_active_at": u["last_active_at"],
        "legal_accepted_at": u["legal_accepted_at"],
        "bypass_client_trust": bool(u["bypass_client_trust"]),
    }


def oauth_token(account: Row) -> dict[str, Any]:
    return {
        "object": "oauth_access_token",
        "external_account_id": account["id"],
        "provider_user_id": account["provider_user_id"],
        "token": account["token"],
        "expires_at": account["token_expires_at"],
        "provider": account["provider"],
        "public_metadata": json.loads(account["public_metadata"]),
        "label": account["label"],
        "scopes": account["approved_scopes"].split(),
    }


def membership(m: Row, org: Row, u: Row, identifier: str | None) -> dict[str, Any]:
    url = image_url(u["image_id"])
    return {
        "id": m["id"],
        "object": "organization_membership",
        "role": m["role"],
        "role_name": m["role_name"],
        "permissions": json.loads(m["permissions"]),
        "public_metadata": json.loads(m["public_metadata"]),
        "private_metadata": json.loads(m["private_metadata"]),
        "organization": {
            "object": "organization",
            "id": org["id"],
            "name": org["name"],
            "slug": org["slug"],
            "image_url": f"{IMAGE_HOST}/{org['id']}",
            "has_image": False,
            "members_count": m["members_count"],
            "pending_invitations_count": 0,
            "max_allowed_memberships": org["max_allowed_memberships"],
            "admin_delete_enabled": bool(org["admin_delete_enabled"]),
            "public_metadata": json.loads(org["public_metadata"]),
            "private_metadata": json.loads(org["private_metadata"]),
            "created_by": org["created_by"] or "",
            "created_at": org["created_at"],
            "updated_at": org["updated_at"],
        },
        "public_user_data": {
            "user_id": u["id"],
            "first_name": u["first_name"],
            "last_name": u["last_name"],
            "profile_image_url": url,
            "image_url": url,
            "has_image": u["image_id"] is not None,
            "identifier": identifier,
            "username": u["username"],
            "banned": bool(u["banned"]),
            "deprovisioned": False,
        },
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
    }


# -- toolsets security, sessions and profile ------------------------------------------------------------------------

# Sessions expire after the instance's maximum lifetime, 7 days for new instances (clerk-docs
# docs/guides/secure/session-options.mdx, a7cebf5); `abandon_at` is 30 days after creation, as in a session.created
# event Clerk sent (created_at 1645993920141, expire_at +7 d, abandon_at +30 d).
SESSION_LIFETIME_MS = 7 * 86_400_000
SESSION_ABANDON_MS = 30 * 86_400_000


def session(s: Row, now: int) -> dict[str, Any]:
    """A Session; an active one past its `expire_at` reads as expired, as the clock moves (no sweeper)."""
    status = "expired" if s["status"] == "active" and now >= s["expire_at"] else s["status"]
    return {
        "object": "session",
        "id": s["id"],
        "user_id": s["user_id"],
        "client_id": s["client_id"],
        "actor": None,
        "status": status,
        "last_active_organization_id": None,
        "last_active_at": s["last_active_at"],
        "expire_at": s["expire_at"],
        "abandon_at": s["abandon_at"],
        "updated_at": s["updated_at"],
        "created_at": s["created_at"],
        "tasks": None,
    }


def passkey(p: Row) -> dict[str, Any]:
    return {
        "id": p["id"],
        "object": "passkey",
        "name": p["name"],
        "last_used_at": p["last_used_at"],
        "verification": {"object": "verification_passkey", "status": "verified", "strategy": "passkey", "attempts": None, "expire_at": None},
    }


def trusted_device(d: Row) -> dict[str, Any]:
    return {
        "object": "trusted_device",
        "id": d["id"],
        "platform": d["platform"],
        "app_identifier": d["app_identifier"],
        "name": d["name"],
        "algorithm": "ES256",
        "status": d["status"],
        "created_at": d["created_at"],
        "updated_at": d["updated_at"],
        "last_used_at": d["last_used_at"],
        "revoked_at": d["revoked_at"],
    }


def invitation(i: Row, org: Row, now: int) -> dict[str, Any]:
    """An OrganizationInvitationWithPublicOrganizationData; a pending one past `expires_at` reads as expired."""
    expired = i["status"] == "pending" and i["expires_at"] is not None and now >= i["expires_at"]
    return {
        "object": "organization_invitation",
        "id": i["id"],
        "email_address": i["email_address"],
        "role": i["role"],
        "role_name": i["role_name"],
        "organization_id": org["id"],
        "inviter_id": None,
        "public_inviter_data": None,
        "status": "expired" if expired else i["status"],
        "public_metadata": json.loads(i["public_metadata"]),
        "private_metadata": json.loads(i["private_metadata"]),
        "url": None,
        "expires_at": i["expires_at"],
        "created_at": i["created_at"],
        "updated_at": i["updated_at"],
        "public_organization_data": {
            "id": org["id"], "name": org["name"], "slug": org["slug"], "image_url": f"{IMAGE_HOST}/{org['id']}", "has_image": False,
        },
    }
