"""Result models: the parts of Clerk's response schemas a tool's caller relies on.

They declare the fields a caller acts on, required and nullable exactly as Clerk's spec has them
(`tests/test_output_schemas.py` checks that every response the spec allows fits), and allow the rest
through unchanged (`extra="allow"`), so
a full Clerk record survives validation while the published output schemas stay small (every
conversation pays for them in tokens). The sandbox's own tests validate complete responses against
the spec; these models only pin what the tools promise.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Result(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class User(Result):
    id: str
    banned: bool | None = None
    locked: bool | None = None


class UserList(Result):
    data: list[User]
    next_starting_after: str | None = None


class TotalCount(Result):
    object: Literal["total_count"]
    total_count: int


class DeletedObject(Result):
    id: str | None = None
    deleted: bool


# `x: T = None`: optional but never null, as the spec has these (none of their fields is required there).
class UserIdResponse(Result):  # what DisableMFA, DeleteTOTP and DeleteBackupCode answer
    user_id: str = None  # type: ignore[assignment]


class VerifyPasswordResponse(Result):
    verified: bool = None  # type: ignore[assignment]


class VerifyTotpResponse(Result):
    verified: bool = None  # type: ignore[assignment]
    code_type: Literal["totp", "backup_code"] = None  # type: ignore[assignment]


class OAuthAccessToken(Result):
    provider: str = None  # type: ignore[assignment]
    external_account_id: str = None  # type: ignore[assignment]
    token: str = None  # type: ignore[assignment]
    expires_at: int | None = None  # nullable: GitHub's tokens never expire


class OAuthAccessTokens(Result):
    data: list[OAuthAccessToken]
    total_count: int | None = None


class OrganizationMembership(Result):
    id: str
    role: str
    organization: dict[str, Any]


class OrganizationMemberships(Result):
    data: list[OrganizationMembership]
    total_count: int


class DryRunPreview(Result):
    """What a call with `dry_run: true` would do; nothing was sent."""

    dry_run: Literal[True]
    request: dict[str, Any]
    decision: str


# -- toolset `identifiers` ---------------------------------------------------------------------------------------------


class EmailAddress(Result):
    id: str = None  # type: ignore[assignment]
    object: Literal["email_address"]
    email_address: str
    reserved: bool
    verification: dict[str, Any] | None


class PhoneNumber(Result):
    id: str = None  # type: ignore[assignment]
    object: Literal["phone_number"]
    phone_number: str
    reserved: bool
    reserved_for_second_factor: bool = None  # type: ignore[assignment]
    verification: dict[str, Any] | None


# -- toolset `billing` -------------------------------------------------------------------------------------------------


class Money(Result):
    """An amount in cents, as Clerk formats it (`amount_formatted` "25.00", `currency_symbol` "$")."""

    amount: int
    amount_formatted: str
    currency: str
    currency_symbol: str


class BillingSubscription(Result):
    object: Literal["commerce_subscription"]
    id: str
    status: str
    payer_id: str
    active_at: int | None
    past_due_at: int | None
    subscription_items: list[dict[str, Any]]


class CreditBalance(Result):
    object: str
    balance: Money | None  # null: the payer never had credits


class CreditLedgerEntry(Result):
    object: str
    id: str
    payer_id: str
    amount: Money  # negative for a decrease
    source_type: str
    source_id: str
    note: str | None = None
    created_at: str  # RFC 3339, unlike Clerk's other timestamps
# -- toolsets security, sessions, profile and bulk ------------------------------------------------------------------

SessionStatus = Literal["active", "revoked", "ended", "expired", "removed", "abandoned", "replaced", "pending"]


class Session(Result):
    id: str
    user_id: str
    client_id: str
    status: SessionStatus
    last_active_at: int
    expire_at: int
    abandon_at: int
    created_at: int
    updated_at: int


class SessionList(Result):  # Clerk's bare array, or `{data, total_count}` with paginated=true: both arrive as `data`
    data: list[Session]
    total_count: int | None = None


class TrustedDevice(Result):
    id: str
    platform: Literal["ios", "android"]
    app_identifier: str
    name: str | None = None
    status: Literal["active", "revoked"]
    last_used_at: int | None = None
    revoked_at: int | None = None


class TrustedDevices(Result):
    data: list[TrustedDevice]
    total_count: int


class OrganizationInvitation(Result):
    id: str
    email_address: str
    role: str
    status: str = None  # type: ignore[assignment]
    expires_at: int | None
    public_organization_data: dict[str, Any] = None  # type: ignore[assignment]


class OrganizationInvitations(Result):
    data: list[OrganizationInvitation]
    total_count: int
