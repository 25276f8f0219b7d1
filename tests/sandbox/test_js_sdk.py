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

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app

from .support import (
    ALAN,
    BACKUP_CODES,
    JANE,
    JOHN,
    OTHER_80_BITS,
    SECRET_80_BITS,
    TOTP_SECRET,
    serving,
    totp,
    unexercised_operations,
)

SDK = "@clerk/backend@3.25.0"  # the version users-api.md describes
DRIVER = Path(__file__).with_name("js_sdk_drive.mjs")
INSTALL_TIMEOUT_S = 45


@pytest.fixture(scope="session")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the SDK installed and the driver script beside it (ES modules resolve imports from there)."""
    npm = shutil.which("npm")
    if not (shutil.which("node") and npm):
        pytest.skip("Node.js and npm are not on PATH: Clerk's JavaScript SDK cannot run")
    directory = tmp_path_factory.mktemp("clerk-backend-js")
    command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--prefer-offline", "--loglevel=error", SDK]
    try:
        subprocess.run(command, cwd=directory, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {SDK} took over {INSTALL_TIMEOUT_S} s (is the npm registry reachable?)")
    except subprocess.CalledProcessError as failed:
        pytest.skip(f"npm install {SDK} failed (is the npm registry reachable?): {failed.stderr.strip()[-500:]}")
    shutil.copy(DRIVER, directory)
    return directory


def test_js_sdk_drives_every_operation(sdk_dir: Path) -> None:
    app = create_app()
    with serving(app) as url:
        args = {"apiUrl": url, "secretKey": SANDBOX_SECRET_KEY, "jane": JANE, "john": JOHN, "alan": ALAN,
                "totp": pyotp.TOTP(TOTP_SECRET).now(), "backupCode": BACKUP_CODES[0],
                "secret80": SECRET_80_BITS, "otherSecret80": OTHER_80_BITS, "otherTotp80": totp(OTHER_80_BITS).now()}
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
    replaced = [e for e in app.state.sandbox.requests.entries() if e["method"] == "PUT"]
    assert [(e["path"], e["body"], e["status"]) for e in replaced] == [
        (f"/v1/users/{created}/metadata", {"public_metadata": {"tier": "gold"}}, 200)
    ]
