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


def user(u: Row, identifications: Sequence[Row], accounts: Sequence[Row], lockout: Mapping[str, Any]) -> dict[str, Any]:
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
        "passkeys": [],
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
