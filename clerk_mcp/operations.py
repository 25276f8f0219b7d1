"""The one table: Clerk's user operations as data, grouped into toolsets.

Everything else is derived from `OPERATIONS`: `tools/list` (schemas, annotations), the policy's
decisions, the adapter's requests, the sandbox's routes, the manifests and the README's tool table.
Adding an operation means a row here, its argument model, and one sandbox handler.
A toolset (design §2) is the `toolset` column of a row: the operator chooses which are offered (`--toolsets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Union

from pydantic import TypeAdapter

from . import models as m
from . import results as r


class Effect(StrEnum):
    """What a call does to the Clerk instance; drives annotations and the default policy (design §3)."""

    READ = "read"
    WRITE = "write"
    VERIFY = "verify"
    SECRET = "secret"
    DESTRUCTIVE = "destructive"


# Every toolset, in the order they are listed, with what it is for (shown to operators and, with
# --dynamic-toolsets, to the model). Which toolsets exist is decided by the rows: see `toolset_names`.
TOOLSETS: dict[str, str] = {
    "users": "Clerk's 15 Users operations: find, read, create, update, ban, delete and verify users",
    "security": "lock and unlock accounts, remove second factors, passwords and passkeys, revoke trusted devices",
    "sessions": "list, read and revoke a user's sessions",
    "identifiers": "a user's email addresses, phone numbers, web3 wallets and external accounts",
    "profile": "remove a profile image, replace metadata, list organization invitations",
    "bulk": "ban or unban many users in one call",
    "billing": "a user's billing subscription and credit balance",
}
DEFAULT_TOOLSETS = ("users",)
ALL_TOOLSETS = "all"

# Argument names no Clerk operation has: `view` (summary or full records) and `dry_run` (preview only).
LOCAL_FIELDS = frozenset({"view", "dry_run"})

# Effects whose calls always need a human's confirmation.
CONFIRM_EFFECTS = frozenset({Effect.SECRET, Effect.DESTRUCTIVE})
# Arguments that write metadata: the policy asks a human when one touches a privileged key (settings).
METADATA_ARGS = frozenset({"public_metadata", "private_metadata", "unsafe_metadata"})


@dataclass(frozen=True)
class Operation:
    name: str
    operation_id: str
    title: str
    description: str
    method: str
    path: str
    args: type[m.Args]
    result: type[r.Result]
    effect: Effect
    idempotent: bool = False
    # What the human is told will happen when asked to confirm.
    consequence: str = ""
    # Arguments that make a call need confirmation even though its effect alone does not.
    confirm_fields: frozenset[str] = frozenset()
    # A reversible operation the human may choose instead, in the same confirmation (delete → ban).
    alternative: str | None = None
    # A write that raises someone's privilege by itself (lifting a ban a human confirmed): it asks like a
    # destructive call (design §3, escalation).
    raises_privilege: bool = False
    # Arguments that give an account a password the caller chose; they ask a human when the operator turns
    # that rule on (setting confirm_passwords).
    password_fields: frozenset[str] = frozenset()
    # The toolset the operation belongs to (a key of TOOLSETS).
    toolset: str = "users"
    # The argument naming the user(s) a call acts on, for the confirmation question, dry runs and the audit line,
    # when it is not the `user_id` path parameter: a list of user ids (`user_ids`), or with `target_via` the id of
    # an object whose read operation (called with that argument) answers with its `user_id` (a session) or, for an
    # email address or phone number, with the value the user list finds its holder by.
    target: str | None = None
    target_via: str | None = None

    def __post_init__(self) -> None:
        if self.toolset not in TOOLSETS:
            raise ValueError(f"{self.name}: unknown toolset {self.toolset!r}")

    @cached_property
    def local_fields(self) -> frozenset[str]:
        """Arguments that shape the tool's result or run and are never sent to Clerk."""
        return LOCAL_FIELDS & frozenset(self.args.model_fields)

    @cached_property
    def results(self) -> tuple[type[r.Result], ...]:
        """Every shape the tool's structured content can take: its result, its alternative's, a dry-run preview."""
        alternative = (BY_NAME[self.alternative].result,) if self.alternative else ()
        preview = (r.DryRunPreview,) if "dry_run" in self.args.model_fields else ()
        return (self.result, *alternative, *preview)

    @cached_property
    def metadata_fields(self) -> frozenset[str]:
        """Arguments that write metadata, checked against the operator's privileged keys."""
        return METADATA_ARGS & frozenset(self.args.model_fields)

    @cached_property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @cached_property
    def target_arg(self) -> str | None:
        """The argument naming the call's target (see `target`), or None for calls on no user in particular."""
        return self.target or ("user_id" if "user_id" in self.path_params else None)

    @cached_property
    def body_kind(self) -> str | None:
        """How arguments that are neither path nor local travel: "query", "json" or "multipart"."""
        if self.method in ("GET", "DELETE"):
            return "query"
        if self.args is m.SetUserProfileImageArgs:
            return "multipart"
        wire = set(self.args.model_fields) - set(self.path_params) - self.local_fields
        return "json" if wire else None

    @property
    def always_asks(self) -> bool:
        """Every call asks a human, whatever its arguments (design §3)."""
        return self.effect in CONFIRM_EFFECTS or self.raises_privilege


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="get_user_list", operation_id="GetUserList", title="List users",
        description="Find users: filter by email, phone, username, name, ids or org (+x includes, -x excludes), "
        "ban state or dates (Unix ms); ordered, paginated. Returns summaries unless view=full.",
        method="GET", path="/users", args=m.GetUserListArgs, result=r.UserList, effect=Effect.READ,
        idempotent=True,
    ),
    Operation(
        name="get_users_count", operation_id="GetUsersCount", title="Count users",
        description="Count the users matching the same filters as get_user_list (dates in Unix ms).",
        method="GET", path="/users/count", args=m.GetUsersCountArgs, result=r.TotalCount, effect=Effect.READ,
        idempotent=True,
    ),
    Operation(
        name="get_user", operation_id="GetUser", title="Get user",
        description="Get one user's full record by user id.",
        method="GET", path="/users/{user_id}", args=m.GetUserArgs, result=r.User, effect=Effect.READ,
        idempotent=True,
    ),
    Operation(
        name="users_get_organization_memberships", operation_id="UsersGetOrganizationMemberships",
        title="List user's organization memberships",
        description="List the organizations a user belongs to, with roles.",
        method="GET", path="/users/{user_id}/organization_memberships", args=m.OrganizationMembershipsArgs,
        result=r.OrganizationMemberships, effect=Effect.READ, idempotent=True,
    ),
    Operation(
        name="create_user", operation_id="CreateUser", title="Create user",
        description="Create a user with emails, phones, username, password or metadata.",
        method="POST", path="/users", args=m.CreateUserArgs, result=r.User, effect=Effect.WRITE,
        consequence="creates an account that can sign in", password_fields=frozenset({"password", "password_digest"}),
    ),
    Operation(
        name="update_user", operation_id="UpdateUser", title="Update user",
        description="Change a user's profile, identifiers, password or settings (not metadata). "
        "Credential or identity changes need human confirmation.",
        method="PATCH", path="/users/{user_id}", args=m.UpdateUserArgs, result=r.User, effect=Effect.WRITE,
        idempotent=True,
        consequence="changes the user's credentials or identity",
        confirm_fields=frozenset({
            "password", "password_digest", "password_hasher", "skip_password_checks", "sign_out_of_other_sessions",
            "totp_secret", "backup_codes", "primary_email_address_id", "primary_phone_number_id",
            "primary_web3_wallet_id", "username", "external_id", "bypass_client_trust",
        }),
    ),
    Operation(
        name="update_user_metadata", operation_id="UpdateUserMetadata", title="Update user metadata",
        description="Deep-merge public, private or unsafe metadata into a user; null deletes a key.",
        method="PATCH", path="/users/{user_id}/metadata", args=m.UpdateUserMetadataArgs, result=r.User,
        effect=Effect.WRITE, consequence="changes the user's metadata",
    ),
    Operation(
        name="set_user_profile_image", operation_id="SetUserProfileImage", title="Set user profile image",
        description="Upload a user's profile image (base64, up to 10 MB).",
        method="POST", path="/users/{user_id}/profile_image", args=m.SetUserProfileImageArgs, result=r.User,
        effect=Effect.WRITE, idempotent=True,
    ),
    Operation(
        name="unban_user", operation_id="UnbanUser", title="Unban user",
        description="Lift a ban so the user can sign in again; needs human confirmation.",
        method="POST", path="/users/{user_id}/unban", args=m.UnbanUserArgs, result=r.User, effect=Effect.WRITE,
        idempotent=True, raises_privilege=True,
        consequence="lets the user sign in again, undoing a ban that a human confirmed",
    ),
    Operation(
        name="verify_password", operation_id="VerifyPassword", title="Verify password",
        description="Check a password against a user's; counts toward an attempt limit.",
        method="POST", path="/users/{user_id}/verify_password", args=m.VerifyPasswordArgs,
        result=r.VerifyPasswordResponse, effect=Effect.VERIFY,
    ),
    Operation(
        name="verify_totp", operation_id="VerifyTOTP", title="Verify TOTP or backup code",
        description="Check a user's authenticator or backup code; a backup code is used up.",
        method="POST", path="/users/{user_id}/verify_totp", args=m.VerifyTotpArgs,
        result=r.VerifyTotpResponse, effect=Effect.VERIFY,
    ),
    Operation(
        name="get_o_auth_access_token", operation_id="GetOAuthAccessToken", title="Get user's OAuth access token",
        description="Get a user's live OAuth token for a provider; needs human confirmation.",
        method="GET", path="/users/{user_id}/oauth_access_tokens/{provider}", args=m.GetOAuthAccessTokenArgs,
        result=r.OAuthAccessTokens, effect=Effect.SECRET, idempotent=True,
        consequence="hands the user's live third-party access token to the assistant",
    ),
    Operation(
        name="ban_user", operation_id="BanUser", title="Ban user",
        description="Ban a user: revokes all sessions and blocks sign-in; needs human confirmation.",
        method="POST", path="/users/{user_id}/ban", args=m.BanUserArgs, result=r.User, effect=Effect.DESTRUCTIVE,
        idempotent=True,
        consequence="revokes all the user's sessions and blocks sign-in until unbanned",
    ),
    Operation(
        name="disable_mfa", operation_id="DisableMFA", title="Disable user's MFA",
        description="Turn off all of a user's second factors; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/mfa", args=m.DisableMfaArgs, result=r.UserIdResponse,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="removes every second factor (authenticator app, backup codes, SMS) from the account",
    ),
    Operation(
        name="delete_user", operation_id="DeleteUser", title="Delete user",
        description="Permanently delete a user and their data; needs human confirmation.",
        method="DELETE", path="/users/{user_id}", args=m.DeleteUserArgs, result=r.DeletedObject,
        effect=Effect.DESTRUCTIVE, alternative="ban_user",
        consequence="permanently deletes the user and all their data; cannot be undone",
    ),
    # -- toolset `identifiers`: a user's email addresses, phone numbers, web3 wallets, external accounts ------------
    # Adding a verified or primary identifier, or a second factor, hands someone a way into the account: a human
    # confirms. Deleting or replacing one takes a way in (and maybe the MFA) away from the user: a human confirms.
    Operation(
        toolset="identifiers",
        name="get_email_address", operation_id="GetEmailAddress", title="Get email address",
        description="Get one email address (idn_ id from a user's email_addresses): value, verification, links.",
        method="GET", path="/email_addresses/{email_address_id}", args=m.GetEmailAddressArgs, result=r.EmailAddress,
        effect=Effect.READ, idempotent=True,
    ),
    Operation(
        toolset="identifiers",
        name="create_email_address", operation_id="CreateEmailAddress", title="Add email address",
        description="Add an email address to a user (unverified unless verified=true). "
        "Verified or primary needs human confirmation.",
        method="POST", path="/email_addresses", args=m.CreateEmailAddressArgs, result=r.EmailAddress, effect=Effect.WRITE,
        consequence="adds an email address that can be used to sign in to the account (as verified or primary, as asked)",
        confirm_fields=frozenset({"verified", "primary"}),
        target="user_id",
    ),
    Operation(
        toolset="identifiers",
        name="update_email_address", operation_id="UpdateEmailAddress", title="Update email address",
        description="Mark an email address verified or not, or make it the user's primary; needs human confirmation.",
        method="PATCH", path="/email_addresses/{email_address_id}", args=m.UpdateEmailAddressArgs, result=r.EmailAddress,
        effect=Effect.WRITE, idempotent=True,
        consequence="changes which email address the user signs in and is contacted with, or whether it counts as verified",
        confirm_fields=frozenset({"verified", "primary"}),
        target="email_address_id", target_via="get_email_address",
    ),
    Operation(
        toolset="identifiers",
        name="delete_email_address", operation_id="DeleteEmailAddress", title="Delete email address",
        description="Remove an email address from its user; needs human confirmation.",
        method="DELETE", path="/email_addresses/{email_address_id}", args=m.DeleteEmailAddressArgs, result=r.DeletedObject,
        effect=Effect.DESTRUCTIVE,
        consequence="removes the email address: the user can no longer sign in or be reached with it (another becomes primary)",
        target="email_address_id", target_via="get_email_address",
    ),
    Operation(
        toolset="identifiers",
        name="replace_user_email_address", operation_id="ReplaceUserEmailAddress", title="Replace user's email addresses",
        description="Make one email address the user's only, primary one, deleting all others; needs human confirmation.",
        method="PUT", path="/users/{user_id}/email_address", args=m.ReplaceUserEmailAddressArgs, result=r.EmailAddress,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="deletes every other email address of the user; left unverified, the new one can lock them out",
    ),
    Operation(
        toolset="identifiers",
        name="get_phone_number", operation_id="GetPhoneNumber", title="Get phone number",
        description="Get one phone number (idn_ id from a user's phone_numbers): value, verification, second factor.",
        method="GET", path="/phone_numbers/{phone_number_id}", args=m.GetPhoneNumberArgs, result=r.PhoneNumber,
        effect=Effect.READ, idempotent=True,
    ),
    Operation(
        toolset="identifiers",
        name="create_phone_number", operation_id="CreatePhoneNumber", title="Add phone number",
        description="Add a phone number to a user (unverified unless verified=true). "
        "Verified, primary or second factor needs human confirmation.",
        method="POST", path="/phone_numbers", args=m.CreatePhoneNumberArgs, result=r.PhoneNumber, effect=Effect.WRITE,
        consequence="adds a phone number that can be used to sign in, or as the account's SMS second factor",
        confirm_fields=frozenset({"verified", "primary", "reserved_for_second_factor"}),
        target="user_id",
    ),
    Operation(
        toolset="identifiers",
        name="update_phone_number", operation_id="UpdatePhoneNumber", title="Update phone number",
        description="Mark a phone number verified or not, primary, or an SMS second factor; needs human confirmation.",
        method="PATCH", path="/phone_numbers/{phone_number_id}", args=m.UpdatePhoneNumberArgs, result=r.PhoneNumber,
        effect=Effect.WRITE, idempotent=True,
        consequence="changes how the user signs in with this phone number, or whether it is their SMS second factor",
        confirm_fields=frozenset({"verified", "primary", "reserved_for_second_factor"}),
        target="phone_number_id", target_via="get_phone_number",
    ),
    Operation(
        toolset="identifiers",
        name="delete_phone_number", operation_id="DeletePhoneNumber", title="Delete phone number",
        description="Remove a phone number from its user; needs human confirmation.",
        method="DELETE", path="/phone_numbers/{phone_number_id}", args=m.DeletePhoneNumberArgs, result=r.DeletedObject,
        effect=Effect.DESTRUCTIVE,
        consequence="removes the phone number, and the SMS second factor if it was one: the user can no longer sign in with it",
        target="phone_number_id", target_via="get_phone_number",
    ),
    Operation(
        toolset="identifiers",
        name="replace_user_phone_number", operation_id="ReplaceUserPhoneNumber", title="Replace user's phone numbers",
        description="Make one phone number the user's only, primary one, deleting all others; needs human confirmation.",
        method="PUT", path="/users/{user_id}/phone_number", args=m.ReplaceUserPhoneNumberArgs, result=r.PhoneNumber,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="deletes every other phone number of the user; if one was an SMS second factor, all their MFA is turned off",
    ),
    Operation(
        toolset="identifiers",
        name="user_web3_wallet_delete", operation_id="UserWeb3WalletDelete", title="Delete user's web3 wallet",
        description="Remove a web3 wallet (idn_ id) from a user; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/web3_wallets/{web3_wallet_identification_id}",
        args=m.UserWeb3WalletDeleteArgs, result=r.DeletedObject, effect=Effect.DESTRUCTIVE,
        consequence="removes the web3 wallet: the user can no longer sign in with it",
    ),
    Operation(
        toolset="identifiers",
        name="delete_external_account", operation_id="DeleteExternalAccount", title="Unlink user's external account",
        description="Unlink a connected account (eac_ id, e.g. Google) from a user; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/external_accounts/{external_account_id}",
        args=m.DeleteExternalAccountArgs, result=r.DeletedObject, effect=Effect.DESTRUCTIVE,
        consequence="unlinks the connected account: the user can no longer sign in with it, and its access token is gone",
    ),
    # -- toolset `billing`: a user's subscription and credit balance ------------------------------------------------
    # Every credit adjustment changes what a person is charged, and a decrease takes credit from them: a human confirms.
    Operation(
        toolset="billing",
        name="get_user_billing_subscription", operation_id="GetUserBillingSubscription", title="Get user's subscription",
        description="Get a user's billing subscription: status, plans, periods, next payment.",
        method="GET", path="/users/{user_id}/billing/subscription", args=m.GetUserBillingSubscriptionArgs,
        result=r.BillingSubscription, effect=Effect.READ, idempotent=True,
    ),
    Operation(
        toolset="billing",
        name="get_user_billing_credit_balance", operation_id="GetUserBillingCreditBalance", title="Get user's credit balance",
        description="Get a user's billing credit balance (cents; null if never credited).",
        method="GET", path="/users/{user_id}/billing/credits", args=m.GetUserBillingCreditBalanceArgs,
        result=r.CreditBalance, effect=Effect.READ, idempotent=True,
    ),
    Operation(
        toolset="billing",
        name="adjust_user_billing_credit_balance", operation_id="AdjustUserBillingCreditBalance",
        title="Adjust user's credit balance",
        description="Increase or decrease a user's billing credit (cents); needs human confirmation.",
        method="POST", path="/users/{user_id}/billing/credits", args=m.AdjustUserBillingCreditBalanceArgs,
        result=r.CreditLedgerEntry, effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="changes the credit the user's charges are paid from; a decrease takes credit away from them",
    ),
    # -- security (toolsets, design §2) ------------------------------------------------------------------------------
    Operation(
        name="lock_user", operation_id="LockUser", title="Lock user", toolset="security",
        description="Lock a user out of sign-in until the instance's lockout period ends (or unlock_user).",
        method="POST", path="/users/{user_id}/lock", args=m.LockUserArgs, result=r.User, effect=Effect.WRITE,
        idempotent=True,
    ),
    Operation(
        name="unlock_user", operation_id="UnlockUser", title="Unlock user", toolset="security",
        description="Remove a user's sign-in lock (after failed attempts or lock_user); needs human confirmation.",
        method="POST", path="/users/{user_id}/unlock", args=m.UnlockUserArgs, result=r.User, effect=Effect.WRITE,
        idempotent=True, raises_privilege=True,
        consequence="lets sign-in attempts resume at once, ending a lockout set after failed attempts or by an admin",
    ),
    Operation(
        name="delete_totp", operation_id="DeleteTOTP", title="Delete user's authenticator app", toolset="security",
        description="Remove a user's authenticator-app (TOTP) second factor; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/totp", args=m.DeleteTotpArgs, result=r.UserIdResponse,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="removes the user's authenticator app (TOTP) as a second factor; they must enrol it again",
    ),
    Operation(
        name="delete_backup_code", operation_id="DeleteBackupCode", title="Delete user's backup codes", toolset="security",
        description="Invalidate all of a user's backup codes; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/backup_code", args=m.DeleteBackupCodeArgs, result=r.UserIdResponse,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="invalidates every backup code the user holds; none can be used to sign in again",
    ),
    Operation(
        name="remove_user_password", operation_id="RemoveUserPassword", title="Remove user's password", toolset="security",
        description="Remove a user's password (sign_out_of_other_sessions also revokes sessions); needs human confirmation.",
        method="POST", path="/users/{user_id}/remove_password", args=m.RemoveUserPasswordArgs, result=r.User,
        effect=Effect.DESTRUCTIVE, idempotent=True,
        consequence="removes the user's password: they can no longer sign in with it until they set a new one",
    ),
    Operation(
        name="set_user_password_compromised", operation_id="SetUserPasswordCompromised",
        title="Mark user's password compromised", toolset="security",
        description="Mark a user's password compromised: they must reset it at next sign-in. "
        "revoke_all_sessions needs human confirmation.",
        method="POST", path="/users/{user_id}/password/set_compromised", args=m.SetUserPasswordCompromisedArgs,
        result=r.User, effect=Effect.WRITE, idempotent=True,
        consequence="signs the user out of every session",
        confirm_fields=frozenset({"revoke_all_sessions"}),
    ),
    Operation(
        name="unset_user_password_compromised", operation_id="UnsetUserPasswordCompromised",
        title="Clear user's compromised password mark", toolset="security",
        description="Clear the compromised mark on a user's password (no reset at next sign-in); needs human confirmation.",
        method="POST", path="/users/{user_id}/password/unset_compromised", args=m.UnsetUserPasswordCompromisedArgs,
        result=r.User, effect=Effect.WRITE, idempotent=True, raises_privilege=True,
        consequence="lets the user sign in with a password marked compromised, without resetting it",
    ),
    Operation(
        name="user_passkey_delete", operation_id="UserPasskeyDelete", title="Delete user's passkey", toolset="security",
        description="Delete one of a user's passkeys (Clerk emails them); needs human confirmation.",
        method="DELETE", path="/users/{user_id}/passkeys/{passkey_identification_id}", args=m.UserPasskeyDeleteArgs,
        result=r.DeletedObject, effect=Effect.DESTRUCTIVE,
        consequence="deletes the passkey: the user can no longer sign in with it",
    ),
    Operation(
        name="list_user_trusted_devices", operation_id="ListUserTrustedDevices", title="List user's trusted devices",
        toolset="security", description="List the devices a user enrolled as trusted (active ones).",
        method="GET", path="/users/{user_id}/trusted_devices", args=m.ListUserTrustedDevicesArgs,
        result=r.TrustedDevices, effect=Effect.READ, idempotent=True,
    ),
    Operation(
        name="revoke_user_trusted_device", operation_id="RevokeUserTrustedDevice", title="Revoke user's trusted device",
        toolset="security", description="Revoke one of a user's trusted devices; needs human confirmation.",
        method="DELETE", path="/users/{user_id}/trusted_devices/{trusted_device_id}", args=m.RevokeUserTrustedDeviceArgs,
        result=r.TrustedDevice, effect=Effect.DESTRUCTIVE,
        consequence="revokes the trusted device: it no longer counts as trusted when the user signs in",
    ),
    # -- sessions ---------------------------------------------------------------------------------------------------
    Operation(
        name="get_session_list", operation_id="GetSessionList", title="List sessions", toolset="sessions",
        description="List sessions, newest first, by user_id or client_id, optionally by status.",
        method="GET", path="/sessions", args=m.GetSessionListArgs, result=r.SessionList, effect=Effect.READ,
        idempotent=True,
    ),
    Operation(
        name="get_session", operation_id="GetSession", title="Get session", toolset="sessions",
        description="Get one session by id: its user, status and activity.",
        method="GET", path="/sessions/{session_id}", args=m.GetSessionArgs, result=r.Session, effect=Effect.READ,
        idempotent=True,
    ),
    Operation(
        name="revoke_session", operation_id="RevokeSession", title="Revoke session", toolset="sessions",
        description="Sign a user out of one session; needs human confirmation.",
        method="POST", path="/sessions/{session_id}/revoke", args=m.RevokeSessionArgs, result=r.Session,
        effect=Effect.DESTRUCTIVE, idempotent=True, target="session_id", target_via="get_session",
        consequence="signs the user out of this session; they must sign in again on that device",
    ),
    # -- profile ----------------------------------------------------------------------------------------------------
    Operation(
        name="delete_user_profile_image", operation_id="DeleteUserProfileImage", title="Delete user's profile image",
        toolset="profile", description="Remove a user's profile image (back to the default avatar).",
        method="DELETE", path="/users/{user_id}/profile_image", args=m.DeleteUserProfileImageArgs, result=r.User,
        effect=Effect.WRITE,
    ),
    Operation(
        name="replace_user_metadata", operation_id="ReplaceUserMetadata", title="Replace user metadata", toolset="profile",
        description="Replace a user's public, private or unsafe metadata wholesale (each field given is overwritten).",
        method="PUT", path="/users/{user_id}/metadata", args=m.ReplaceUserMetadataArgs, result=r.User,
        effect=Effect.WRITE, idempotent=True,
    ),
    Operation(
        name="users_get_organization_invitations", operation_id="UsersGetOrganizationInvitations",
        title="List user's organization invitations", toolset="profile",
        description="List the organization invitations sent to a user, optionally by status.",
        method="GET", path="/users/{user_id}/organization_invitations", args=m.UsersGetOrganizationInvitationsArgs,
        result=r.OrganizationInvitations, effect=Effect.READ, idempotent=True,
    ),
    # -- bulk -------------------------------------------------------------------------------------------------------
    Operation(
        name="users_ban", operation_id="UsersBan", title="Ban users", toolset="bulk",
        description="Ban up to 50 users at once: revokes their sessions, blocks sign-in; needs human confirmation.",
        method="POST", path="/users/ban", args=m.UsersBanArgs, result=r.UserList, effect=Effect.DESTRUCTIVE,
        idempotent=True, target="user_ids",
        consequence="revokes all sessions of every listed user and blocks their sign-in until unbanned",
    ),
    Operation(
        name="users_unban", operation_id="UsersUnban", title="Unban users", toolset="bulk",
        description="Lift the ban of up to 50 users at once; needs human confirmation.",
        method="POST", path="/users/unban", args=m.UsersUnbanArgs, result=r.UserList, effect=Effect.WRITE,
        idempotent=True, raises_privilege=True, target="user_ids",
        consequence="lets every listed user sign in again, undoing bans that a human confirmed",
    ),
)

BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def toolset_names() -> tuple[str, ...]:
    """The toolsets that have operations, in TOOLSETS order: the names `--toolsets` accepts (besides `all`)."""
    present = {op.toolset for op in OPERATIONS}
    return tuple(name for name in TOOLSETS if name in present)


def toolset_operations(toolset: str) -> tuple[Operation, ...]:
    return tuple(op for op in OPERATIONS if op.toolset == toolset)

# The one tool outside the table: it reports on the server itself and calls nothing at Clerk.
STATUS_TOOL = "clerk_status"


def input_schema(op: Operation) -> dict[str, Any]:
    """The tool's input schema, without `null` arms and without `additionalProperties: false`.

    Unknown arguments are still refused (the models forbid them, with an error naming the argument); the schema
    leaves the keyword out because google-genai's MCP adapter crashes on it (googleapis/python-genai#2393) and
    Gemini's API rejects it. OpenAI strict mode, which needs it, gets it back in `manifests.strict_schema`.
    """
    return compact_schema(op.args)


def output_schema(op: Operation) -> dict[str, Any]:
    """The tool's output schema; several result shapes become one object schema with `anyOf` arms.

    Nullable fields keep their `null` (Clerk's spec declares them so, e.g. an OAuth token's `expires_at`), since
    clients validate structured content against this schema.
    """
    if len(op.results) == 1:
        return compact_schema(op.result, nullable=True)
    schema = compact_schema(Union[op.results], nullable=True)  # noqa: UP007 - a runtime union of a tuple of types
    return {"type": "object", **schema}


def compact_schema(model: Any, *, nullable: bool = False) -> dict[str, Any]:
    """A model's JSON schema without what costs tokens and says nothing: titles, null and false defaults,
    `additionalProperties` (true is JSON Schema's default; false, see `input_schema`).

    `null` arms are dropped unless `nullable`, where `anyOf: [{type: X}, {type: null}]` becomes `type: [X, "null"]`.
    """

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(n) for n in node]
        if not isinstance(node, dict):
            return node
        node = {k: clean(v) for k, v in node.items() if k not in ("title", "additionalProperties")}
        arms = node.get("anyOf")
        if arms and any(a == {"type": "null"} for a in arms):
            rest = [a for a in arms if a != {"type": "null"}]
            del node["anyOf"]
            if len(rest) == 1 and (not nullable or isinstance(rest[0].get("type"), str)):
                node = {**rest[0], **node}
                if nullable:
                    node["type"] = [node["type"], "null"]
            else:
                node = {**node, "anyOf": rest + [{"type": "null"}] if nullable else rest}
        if "default" in node and (node["default"] is None or node["default"] is False):  # as good as absent
            del node["default"]
        return node

    return clean(TypeAdapter(model).json_schema())
