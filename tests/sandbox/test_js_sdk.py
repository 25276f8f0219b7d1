"""Clerk's JavaScript SDK (`@clerk/backend`), unchanged but for its apiUrl, drives the sandbox over real HTTP.

Needs Node.js and npm, and the npm registry (or npm's cache) for a one-off install per test session;
skipped, with the reason, when any of them is missing. `js_sdk_drive.mjs` makes the calls and prints
what the SDK returned as JSON; the assertions are here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyotp
import pytest

from clerk_mcp.operations import BY_NAME
from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app

from .support import (
    ADA,
    ALAN,
    BACKUP_CODES,
    JANE,
    JANE_PASSKEY,
    JANE_SESSION,
    JOHN,
    OTHER_80_BITS,
    SATOSHI,
    SATOSHI_WALLET,
    SECRET_80_BITS,
    TOTP_SECRET,
    serving,
    totp,
    unexercised_operations,
)

SDK = "@clerk/backend@3.25.0"  # the version users-api.md describes
# The last minor pinned to API version 2025-11-10 (its dist: SUPPORTED_BAPI_VERSION = "2025-11-10"), which
# still sends metadata in PATCH /users/{id} (clerk-docs versioning.mdx: 2026-05-12 needs @clerk/backend 3.7.0).
LEGACY_SDK = "@clerk/backend@3.4.9"
LEGACY_DRIVER = """
import { createClerkClient } from '@clerk/backend';
const args = JSON.parse(process.argv[1]);
const users = createClerkClient({ apiUrl: args.apiUrl, secretKey: args.secretKey }).users;
const user = await users.updateUser(args.jane, { firstName: 'Janet', publicMetadata: { plan: 'legacy' } });
console.log(JSON.stringify({ firstName: user.firstName, publicMetadata: user.publicMetadata, privateMetadata: user.privateMetadata }));
"""
DRIVER = Path(__file__).with_name("js_sdk_drive.mjs")
TOOLSETS_DRIVER = Path(__file__).with_name("js_sdk_toolsets.mjs")
INSTALL_TIMEOUT_S = 45


def install(tmp_path_factory: pytest.TempPathFactory, package: str) -> Path:
    """A directory with `package` installed and the driver script beside it (ES modules resolve imports from there)."""
    npm = shutil.which("npm")
    if not (shutil.which("node") and npm):
        pytest.skip("Node.js and npm are not on PATH: Clerk's JavaScript SDK cannot run")
    directory = tmp_path_factory.mktemp("clerk-backend-js")
    command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--prefer-offline", "--loglevel=error", package]
    try:
        subprocess.run(command, cwd=directory, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {package} took over {INSTALL_TIMEOUT_S} s (is the npm registry reachable?)")
    except subprocess.CalledProcessError as failed:
        pytest.skip(f"npm install {package} failed (is the npm registry reachable?): {failed.stderr.strip()[-500:]}")
    for driver in (DRIVER, TOOLSETS_DRIVER):
        shutil.copy(driver, directory)
    return directory


@pytest.fixture(scope="session")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory, SDK)


def test_js_sdk_drives_every_operation(sdk_dir: Path) -> None:
    app = create_app()
    with serving(app) as url:
        args = {"apiUrl": url, "secretKey": SANDBOX_SECRET_KEY, "jane": JANE, "john": JOHN, "alan": ALAN,
                "totp": pyotp.TOTP(TOTP_SECRET).now(), "backupCode": BACKUP_CODES[0],
                "secret80": SECRET_80_BITS, "otherSecret80": OTHER_80_BITS, "otherTotp80": totp(OTHER_80_BITS).now(),
                "janeSession": JANE_SESSION, "janePasskey": JANE_PASSKEY, "ada": ADA}
        ran = subprocess.run(["node", DRIVER.name, json.dumps(args)], cwd=sdk_dir, capture_output=True, text=True, timeout=30, check=False)
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    created = got["created"]["id"]

    assert got["list"] == {"firstNames": ["Jane"], "totalCount": 2}  # GET /users with limit, GET /users/count without
    assert got["oldest"] == [r["id"] for r in app.state.sandbox.store.rows("SELECT id FROM users ORDER BY created_at, id LIMIT 2 OFFSET 1")]
    assert got["searched"] == [JANE]
    assert got["wrongKey"] == {"status": 401, "codes": ["clerk_key_invalid"]}
    assert got["jane"] == {"email": "jane@example.com", "username": "janedoe", "publicMetadata": {"role": "admin", "plan": "pro"}}
    assert created.startswith("user_") and len(created) == 32
    assert got["created"] | {"id": None} == {"id": None, "passwordEnabled": True, "privateMetadata": {"source": "js"}, "totpEnabled": True}
    assert (got["totp80"], got["disabledMfa80"]) == ({"verified": True, "code_type": "totp"}, {"user_id": created})
    # updateUser with metadata: PATCH the fields, then PUT /metadata replaces only the fields it names
    assert got["updated"] == {"lastName": "Person", "publicMetadata": {"tier": "gold"}, "privateMetadata": {"source": "js"}}
    assert got["merged"] == {"privateMetadata": {"n": 1}, "publicMetadata": {"tier": "gold"}}
    assert (got["banned"], got["unbanned"]) == (True, False)
    assert got["password"] == {"verified": True}
    assert got["wrongPassword"] == {"status": 422, "codes": ["incorrect_password"]}
    assert got["totp"] == {"verified": True, "code_type": "totp"}
    assert got["backupCode"] == {"verified": True, "code_type": "backup_code"}
    assert got["backupCodeAgain"] == {"status": 422, "codes": ["totp_incorrect_code"]}
    assert (got["disabledMfa"], got["johnTwoFactor"]) == ({"user_id": JOHN}, False)
    assert got["tokens"] == {"tokens": ["sandbox_google_token_alan"], "provider": "oauth_google", "totalCount": 1}
    assert got["memberships"] == {"count": 1, "totalCount": 2, "role": "org:admin", "organization": "acme"}
    assert got["image"]["hasImage"] is True and got["image"]["imageUrl"].startswith("https://")
    assert got["deleted"] == {"id": created, "deleted": True, "object": "user"}
    assert got["afterDelete"] == {"status": 404, "codes": ["resource_not_found"]}

    assert unexercised_operations(app) == set()
    # The support toolsets
    assert (got["locked"], got["unlocked"], got["compromised"], got["uncompromised"]) == (True, False, True, True)
    assert got["deletedTotp"] == got["deletedBackupCodes"] == {"user_id": got["deletedTotp"]["user_id"]}
    assert got["passwordRemoved"] is False and got["imageDeleted"] == [True, False]
    assert got["passkeyDeleted"] == {"id": JANE_PASSKEY, "deleted": True}
    assert JANE_SESSION in got["sessions"]["ids"] and got["sessions"]["totalCount"] == len(got["sessions"]["ids"]) == 2
    assert (got["session"], got["revoked"]) == ("active", "revoked") and got["replaced"] == {"plan": "free"}
    assert got["invitations"] == {"totalCount": 1, "organization": "acme"}
    # @clerk/backend 3.25.0 has no method for these (its UserAPI and SessionAPI, dist/chunk-*.mjs): the Python SDK drives them.
    no_js_method = {"list_user_trusted_devices", "revoke_user_trusted_device", "users_ban", "users_unban"}
    assert unexercised_operations(app, ("security", "sessions", "profile", "bulk")) == {
        (BY_NAME[name].method, BY_NAME[name].path) for name in no_js_method
    }
    replaced = [e for e in app.state.sandbox.requests.entries() if e["method"] == "PUT"]
    assert [(e["path"], e["body"], e["status"]) for e in replaced] == [
        (f"/v1/users/{created}/metadata", {"public_metadata": {"tier": "gold"}}, 200),
        (f"/v1/users/{JANE}/metadata", {"public_metadata": {"plan": "free"}}, 200),  # replaceUserMetadata
    ]


def test_an_sdk_pinned_to_an_older_api_version_updates_metadata_its_way(tmp_path_factory: pytest.TempPathFactory) -> None:
    """@clerk/backend 3.4.x sends `Clerk-API-Version: 2025-11-10` and metadata in PATCH /users/{id}: accepted, as by Clerk."""
    directory = install(tmp_path_factory, LEGACY_SDK)
    app = create_app()
    with serving(app) as url:
        args = {"apiUrl": url, "secretKey": SANDBOX_SECRET_KEY, "jane": JANE}
        ran = subprocess.run(["node", "--input-type=module", "-e", LEGACY_DRIVER, json.dumps(args)],
                             cwd=directory, capture_output=True, text=True, timeout=30, check=False)
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    assert got["firstName"] == "Janet" and got["publicMetadata"] == {"plan": "legacy"}  # replaced, not merged
    assert got["privateMetadata"] == app.state.sandbox.store.user_json(JANE)["private_metadata"] != {}
    [patch] = [e for e in app.state.sandbox.requests.entries() if e["method"] == "PATCH"]
    assert patch["headers"]["clerk-api-version"] == "2025-11-10" and "public_metadata" in patch["body"]


def test_js_sdk_drives_the_identifiers_and_billing_toolsets(sdk_dir: Path) -> None:
    """Every operation of toolsets identifiers and billing that @clerk/backend has a method for (it has none for a
    user's credit balance: get_user_billing_credit_balance and adjust_user_billing_credit_balance are left out)."""
    app = create_app()
    with serving(app) as url:
        args = {"apiUrl": url, "secretKey": SANDBOX_SECRET_KEY, "jane": JANE, "john": JOHN, "alan": ALAN,
                "satoshi": SATOSHI, "satoshiWallet": SATOSHI_WALLET}
        ran = subprocess.run(["node", TOOLSETS_DRIVER.name, json.dumps(args)], cwd=sdk_dir, capture_output=True, text=True,
                             timeout=30, check=False)
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    assert got["added"] == {"emailAddress": "john.js@example.com", "status": "verified"}
    assert (got["fetched"], got["primary"], got["deletedEmail"]) == (True, True, True)
    assert (got["johnEmails"], got["replacedVerified"]) == (["john@js.example"], "verified")
    assert got["linked"] == {"status": 400, "codes": ["delete_linked_identification_disallowed"]}
    assert got["factor"] == {"reserved": True, "isDefault": True}
    assert (got["fetchedPhone"], got["deletedPhone"], got["replacedPhone"]) == ("+15555550432", True, "+15555550433")
    assert got["johnTwoFactor"] is False  # his TOTP, backup codes and SMS factor went with the replaced number
    assert got["lastWallet"] == {"status": 400, "codes": ["identification_deletion_failed"]}
    assert (got["deletedWallet"], got["deletedAccount"]) == (True, True)
    assert got["subscription"] == {"status": "active", "plan": "pro", "next": 2000}
    assert got["noSubscription"] == {"status": 404, "codes": ["subscription_not_found"]}
    credit_ops = {("GET", "/users/{user_id}/billing/credits"), ("POST", "/users/{user_id}/billing/credits")}
    assert unexercised_operations(app, toolsets={"identifiers", "billing"}) == credit_ops
