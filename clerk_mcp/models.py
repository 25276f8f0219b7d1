"""Tool argument models, faithful to Clerk's Backend API spec 2026-05-12.

Each model is flat: path, query and body parameters side by side, exactly as the spec names them.
Where a parameter goes on the wire is derived from the operation (path placeholders, then query for
GET/DELETE, body otherwise), so the models carry no transport details. Models forbid unknown fields:
an argument the spec does not have — `confirm`, `force`, a misspelling — is rejected before anything
is sent. `tests/test_spec_models.py` checks every model against the spec copy in `spec/`.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

# Every tool's schema is sent to the model in every conversation, so some checks are enforced here
# but published only as the spec's plain type (`WithJsonSchema`): they guard the server, and a
# model that trips one gets an error naming the field. Constraints a model should plan around
# (limit 1..500, enums, the order_by fields, image names) stay in the published schema.

# A Clerk object id as it may appear in a URL path. Clerk's ids are `user_` + 27 word characters;
# the spec types the path parameter only as a string, so accept any id-shaped token but never a
# character that could change the path (`/`, `%`, `.`, `?`, `#`, whitespace).
UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$"), WithJsonSchema({"type": "string"})]
Provider = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", description="e.g. oauth_google")]
# Clerk's integers are int64; a larger number is refused here rather than passed on.
INT64_MAX = 2**63 - 1
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX), WithJsonSchema({"type": "integer"})]
Limit = Annotated[int, Field(ge=1, le=500)]
Offset = Annotated[int, Field(ge=0, le=INT64_MAX), WithJsonSchema({"type": "integer", "minimum": 0})]
# Clerk caps each repeated query parameter at 100 values.
Many = Annotated[list[str], Field(max_length=100), WithJsonSchema({"type": "array", "items": {"type": "string"}})]
# The tool descriptions say once that times are Unix milliseconds.
UnixMs = Int64
Rfc3339 = Annotated[str, Field(max_length=64), WithJsonSchema({"type": "string", "description": "RFC3339"})]


def _json_only(value: Any) -> Any:
    """Metadata is JSON: NaN and Infinity (which Python's JSON parser lets through) are not."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("metadata values must be JSON numbers: NaN and Infinity are not")
    if isinstance(value, dict):
        return {k: _json_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_only(v) for v in value]
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_json_only)]
IdentificationStatus = Literal["verified", "reserved"]
ORDER_FIELDS = (
    "created_at updated_at email_address web3wallet first_name last_name phone_number username last_active_at last_sign_in_at"
).split()
OrderBy = Annotated[
    str,
    Field(pattern=rf"^[+-]?({'|'.join(ORDER_FIELDS)})$", description="+asc or -desc"),
]


class Args(BaseModel):
    """Base of every tool's arguments: unknown fields are an error, never silently dropped."""

    # Strict: `true` or `"5"` where the schema says integer is an error, not a number the model learns to send.
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)

    @model_validator(mode="after")
    def _encodable(self) -> Args:
        """Text that cannot be sent as UTF-8 (a lone surrogate) is refused here, not half-way through sending."""
        for name in self.model_fields_set:
            if not _utf8(getattr(self, name)):
                raise ValueError(f"{name} contains text that is not valid Unicode (a lone surrogate)")
        return self


def _utf8(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_utf8(k) and _utf8(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_utf8(v) for v in value)
    return True


class UserPath(Args):
    user_id: UserId


class DryRun(Args):
    """Every tool that changes something can preview instead: what would be sent and asked, with nothing sent."""

    dry_run: Annotated[bool, WithJsonSchema({"type": "boolean"})] = False


class Page(Args):
    limit: Limit = 10
    offset: Offset = 0


class UserFilters(Args):
    """The filters `GET /users` and `GET /users/count` share."""

    email_address: Many | None = None
    phone_number: Many | None = None
    external_id: Many | None = None
    username: Many | None = None
    web3_wallet: Many | None = None
    user_id: Many | None = None
    organization_id: Many | None = None
    query: str | None = Field(None, description="partial match on emails, phones, usernames, wallets, ids, names")
    email_address_query: str | None = None
    phone_number_query: str | None = None
    username_query: str | None = None
    name_query: str | None = None
    banned: bool | None = None
    last_active_at_before: UnixMs | None = None
    last_active_at_after: UnixMs | None = None
    last_active_at_since: UnixMs | None = Field(None, description="deprecated: last_active_at_after")
    created_at_before: UnixMs | None = None
    created_at_after: UnixMs | None = None
    last_sign_in_at_before: UnixMs | None = None
    last_sign_in_at_after: UnixMs | None = None
    provider: str | None = Field(None, description="with provider_user_id, e.g. oauth_google")
    provider_user_id: Many | None = None


class GetUserListArgs(UserFilters):
    limit: Limit = 10
    offset: Offset = 0
    starting_after: str | None = Field(None, description="cursor: last id of previous page")
    order_by: OrderBy = "-created_at"
    view: Literal["summary", "full"] = Field("summary", description="full: complete Clerk records")


class GetUsersCountArgs(UserFilters):
    pass


class GetUserArgs(UserPath):
    pass


# A field typed without `| None` but defaulting to None: leaving it out is fine, sending null is refused,
# as the spec has it for non-nullable body fields (Clerk would answer 422 after the call was made).
class PasswordFields(Args):
    password: str | None = None
    password_digest: str | None = None
    password_hasher: str = Field(None, description="e.g. bcrypt, argon2id, scrypt_firebase")
    skip_password_checks: bool | None = None
    totp_secret: str | None = None
    backup_codes: list[str] = None


class ProfileFields(Args):
    """Fields `POST /users` and `PATCH /users/{id}` share (besides passwords)."""

    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    username: str | None = None
    delete_self_enabled: bool | None = None
    create_organization_enabled: bool | None = None
    create_organizations_limit: Int64 | None = Field(None, description="0 = unlimited")
    legal_accepted_at: Rfc3339 | None = None
    skip_legal_checks: bool | None = None
    created_at: Rfc3339 | None = None
    bypass_client_trust: bool | None = None


class CreateUserArgs(ProfileFields, PasswordFields, DryRun):
    email_address: list[str] = Field(None, description="first is primary")
    email_address_identification_status: list[IdentificationStatus] = None
    phone_number: list[str] = None
    phone_number_identification_status: list[IdentificationStatus] = None
    web3_wallet: list[str] = None
    skip_password_requirement: bool | None = None
    public_metadata: Metadata = None
    private_metadata: Metadata = None
    unsafe_metadata: Metadata = None
    skip_user_requirement: bool | None = None
    banned: bool | None = None
    locked: bool | None = None


class UpdateUserArgs(UserPath, ProfileFields, PasswordFields, DryRun):
    password_digest: str = None  # nullable on create, not here
    primary_email_address_id: str | None = None
    notify_primary_email_address_changed: bool | None = None
    primary_phone_number_id: str | None = None
    primary_web3_wallet_id: str | None = None
    profile_image_id: str | None = None
    sign_out_of_other_sessions: bool | None = None


class UpdateUserMetadataArgs(UserPath, DryRun):
    public_metadata: Metadata = None
    private_metadata: Metadata = None
    unsafe_metadata: Metadata = None


class DeleteUserArgs(UserPath, DryRun):
    pass


class BanUserArgs(UserPath, DryRun):
    pass


class UnbanUserArgs(UserPath, DryRun):
    pass


class DisableMfaArgs(UserPath, DryRun):
    pass


# Clerk accepts profile images up to 10 MB; base64 grows data by a third.
MAX_IMAGE_BYTES = 10 * 1024 * 1024


# The first bytes of each image type Clerk accepts; the declared filename must agree with them.
IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
IMAGE_EXTENSIONS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


class SetUserProfileImageArgs(UserPath, DryRun):
    file_base64: str = Field(max_length=MAX_IMAGE_BYTES * 4 // 3 + 4)
    # Case-insensitive without `(?i)`: JSON Schema patterns are ECMA-262, which has no inline flags.
    filename: str = Field(max_length=255, pattern=r"^[^/\\\x00-\x1f]+\.([Pp][Nn][Gg]|[Jj][Pp][Ee]?[Gg]|[Gg][Ii][Ff]|[Ww][Ee][Bb][Pp])$")

    @model_validator(mode="after")
    def _check_image(self) -> SetUserProfileImageArgs:
        content, content_type = self.image()
        if not content:
            raise ValueError("file_base64 is empty")
        if len(content) > MAX_IMAGE_BYTES:
            raise ValueError(f"image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
        if not content.startswith(IMAGE_SIGNATURES[content_type]) or (
            content_type == "image/webp" and content[8:12] != b"WEBP"
        ):
            raise ValueError(f"file_base64 is not a {content_type.split('/')[1]} image, as filename says")
        return self

    def image(self) -> tuple[bytes, str]:
        """The decoded bytes and their content type (from the filename, checked against the bytes)."""
        try:
            content = base64.b64decode(self.file_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("file_base64 is not valid base64") from None
        return content, IMAGE_EXTENSIONS[self.filename.rsplit(".", 1)[1].lower()]


class GetOAuthAccessTokenArgs(UserPath, Page, DryRun):
    provider: Provider
    paginated: bool | None = None


class OrganizationMembershipsArgs(UserPath, Page):
    pass


class VerifyPasswordArgs(UserPath, DryRun):
    password: str = Field(min_length=1, max_length=1024)


class VerifyTotpArgs(UserPath, DryRun):
    code: str = Field(min_length=1, max_length=64)


class StatusArgs(Args):
    """`clerk_status`: optionally, the user whose verify attempts are left."""

    user_id: UserId | None = None


# -- toolset `identifiers`: a user's email addresses, phone numbers, web3 wallets and external accounts --------------

# The id of an email address, phone number, wallet or external account (Clerk's `idn_…`, `eac_…`): path-safe, as UserId.
ObjectId = UserId
# Replacing a user's address or number: "reserved" keeps it usable for sign-in and unclaimable; "unverified" neither.
ReplacementStatus = Literal["verified", "reserved", "unverified"]


class EmailAddressPath(Args):
    email_address_id: ObjectId


class PhoneNumberPath(Args):
    phone_number_id: ObjectId


class GetEmailAddressArgs(EmailAddressPath):
    pass


class CreateEmailAddressArgs(DryRun):
    user_id: UserId
    email_address: str
    verified: bool | None = None
    primary: bool | None = Field(None, description="default: only if the user has no email address")
    notify_primary_email_address_changed: bool | None = None


class UpdateEmailAddressArgs(EmailAddressPath, DryRun):
    verified: bool | None = None
    primary: bool | None = None
    notify_primary_email_address_changed: bool | None = None


class DeleteEmailAddressArgs(EmailAddressPath, DryRun):
    pass


class ReplaceUserEmailAddressArgs(UserPath, DryRun):
    email_address: str
    identification_status: ReplacementStatus = Field("verified", description="unverified can lock the user out")
    notify_primary_email_address_changed: bool | None = None


class GetPhoneNumberArgs(PhoneNumberPath):
    pass


class CreatePhoneNumberArgs(DryRun):
    user_id: UserId
    phone_number: str = Field(description="E.164")
    verified: bool | None = None
    primary: bool | None = None
    reserved_for_second_factor: bool | None = Field(None, description="needs verified")


class UpdatePhoneNumberArgs(PhoneNumberPath, DryRun):
    verified: bool | None = None
    primary: bool | None = None
    reserved_for_second_factor: bool | None = None


class DeletePhoneNumberArgs(PhoneNumberPath, DryRun):
    pass


class ReplaceUserPhoneNumberArgs(UserPath, DryRun):
    phone_number: str = Field(description="E.164")
    identification_status: ReplacementStatus = Field("verified", description="unverified can lock the user out")


class UserWeb3WalletDeleteArgs(UserPath, DryRun):
    web3_wallet_identification_id: ObjectId


class DeleteExternalAccountArgs(UserPath, DryRun):
    external_account_id: ObjectId


# -- toolset `billing`: a user's subscription and credit balance ------------------------------------------------------


class GetUserBillingSubscriptionArgs(UserPath):
    pass


class GetUserBillingCreditBalanceArgs(UserPath):
    pass


class AdjustUserBillingCreditBalanceArgs(UserPath, DryRun):
    # "The credit amount in cents. Must be greater than zero." (spec AdjustCreditBalanceRequest)
    amount: Annotated[int, Field(ge=1, le=INT64_MAX), WithJsonSchema({"type": "integer", "minimum": 1, "description": "cents"})]
    action: Literal["increase", "decrease"]
    currency: str = Field(None, description="default USD")
    idempotency_key: str = Field(description="reusing a key returns the first entry")
    note: str = None
# -- toolsets security, sessions, profile and bulk (design §2; spec 2026-05-12) -----------------------------------

SessionStatus = Literal["abandoned", "active", "ended", "expired", "removed", "replaced", "revoked"]
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]
# UsersBan / UsersUnban: 1 to 50 user ids a call.
UserIds = Annotated[list[UserId], Field(min_length=1, max_length=50)]


class LockUserArgs(UserPath, DryRun):
    pass


class UnlockUserArgs(UserPath, DryRun):
    pass


class DeleteTotpArgs(UserPath, DryRun):
    pass


class DeleteBackupCodeArgs(UserPath, DryRun):
    pass


class RemoveUserPasswordArgs(UserPath, DryRun):
    sign_out_of_other_sessions: bool = Field(False, description="also revoke the user's active sessions")


class SetUserPasswordCompromisedArgs(UserPath, DryRun):
    revoke_all_sessions: bool | None = None


class UnsetUserPasswordCompromisedArgs(UserPath, DryRun):
    pass


class UserPasskeyDeleteArgs(UserPath, DryRun):
    passkey_identification_id: ObjectId


class ListUserTrustedDevicesArgs(UserPath):
    pass


class RevokeUserTrustedDeviceArgs(UserPath, DryRun):
    trusted_device_id: ObjectId


class GetSessionListArgs(Page):
    client_id: str | None = None
    user_id: str | None = None
    status: SessionStatus | None = None
    paginated: bool | None = None


class SessionPath(Args):
    session_id: ObjectId


class GetSessionArgs(SessionPath):
    pass


class RevokeSessionArgs(SessionPath, DryRun):
    pass


class DeleteUserProfileImageArgs(UserPath, DryRun):
    pass


class ReplaceUserMetadataArgs(UserPath, DryRun):
    public_metadata: Metadata = None
    private_metadata: Metadata = None
    unsafe_metadata: Metadata = None


class UsersGetOrganizationInvitationsArgs(UserPath, Page):
    status: InvitationStatus | None = None


class UsersBanArgs(DryRun):
    user_ids: UserIds


class UsersUnbanArgs(DryRun):
    user_ids: UserIds
