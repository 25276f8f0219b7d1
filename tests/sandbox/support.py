"""Seed ids, Clerk error assertions and Clerk's spec as JSON Schema, for the sandbox tests."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pyotp
import yaml

from serving import serving  # noqa: F401 - tests/serving.py: the one uvicorn-in-a-thread helper

from clerk_mcp.operations import OPERATIONS

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "bapi-2026-05-12.yml"

# Seed users (see clerk_mcp/sandbox/SEED.md).
JANE = "user_JnyMoEDIHnLlPdefJCJWoqY4enl"  # password "correct-horse-battery", oauth_google, 2 orgs
JOHN = "user_kx2WmTGuBqHejxt5sblIrbgmEkk"  # TOTP secret KVKFKRCPNZQUYMLXOVYDSQKJKZDTSRLD + backup codes
ALAN = "user_Ck27stoDDz1ulYSQZxSN7STvp92"  # oauth_google + oauth_github
MALLORY = "user_IrLs6FgSaYG8lG0w1C4pDk1xHZy"  # banned
SATOSHI = "user_DTYtRwOI44BkEALiYXthG3GDDpG"  # one web3 wallet, nothing else
# Identifications and accounts of the seed users (toolset identifiers).
JANE_EMAIL = "idn_ZEKSJA3TMJ7XoMJY7VvoQRmaAwt"  # jane@example.com, primary, linked to her oauth_google account
JANE_PHONE = "idn_NVWfEj9MDYA1GO74ZWiAtg1qgLD"
JOHN_EMAIL = "idn_SsYwEV6hlpkR1Y64upheMwaW2RG"
JOHN_PHONE = "idn_KBErsHWd89isZ5uRIUqxTVexym7"  # his SMS second factor
RITA_EMAIL = "idn_5SagEyNDsVqxGsvw38LzPLLvbSp"  # reserved@example.com, reserved
SATOSHI_WALLET = "idn_rsvePd6FCK9RhGPBdyjrYW3qnC2"
ALAN_GOOGLE = "eac_xKYzbn8TtR9eucDBXjc5a3SI1pr"
ADA = "user_vBDf9fjdIEy9b3e5woqBTC8jES2"  # a pending invitation to acme
JANE_SESSION = "sess_OqhZHIvnlDB3oDoFvZrCerJ9S1D"  # active (seed sessions start when the seed loads)
JANE_PASSKEY = "idn_2pKJanePasskeyMacBook000001"
JANE_DEVICE = "td_2tdJaneIphone00000000000001"
ACME = "org_MYTkDyS91C53edMHUnYK3TMDy5h"
INITECH = "org_tRpTcOJ3sHeHGvQY7GYMdvjeOl1"
TOTP_SECRET = "KVKFKRCPNZQUYMLXOVYDSQKJKZDTSRLD"
BACKUP_CODES = ["31415926", "27182818", "16180339", "14142135", "17320508"]
SEED_USERS = 30

# 80-bit secrets, the common length of secrets migrated from other providers (issue 15): Clerk sets no 112-bit floor.
SECRET_80_BITS = "JBSWY3DPEHPK3PXP"
OTHER_80_BITS = "KRSXG5CTMVRXEZLU"


def totp(secret: str) -> pyotp.TOTP:
    """An authenticator app's view of `secret`: RFC 6238 without pyotp's own 112-bit floor."""
    return type("AnyLengthTOTP", (pyotp.TOTP,), {"min_secret_length_bits": 8})(secret)


def assert_clerk_error(response: httpx.Response, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    """Assert Clerk's error body: status, first error's code (and param_name), a trace id."""
    assert response.status_code == status, response.text
    body = response.json()
    error = body["errors"][0]
    assert error["code"] == code, body
    assert error["message"] and error["long_message"]
    assert isinstance(body["clerk_trace_id"], str) and len(body["clerk_trace_id"]) == 32
    if param is not None:
        assert error["meta"] == {"param_name": param}
    return error


# -- the spec as JSON Schema -------------------------------------------------------------------------


def openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes `anyOf` with null; `$ref` siblings dropped."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        converted: dict[str, Any] = {"$ref": node["$ref"]}
    else:
        converted = {k: openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "discriminator", "example")}
    if node.get("nullable"):
        converted = {"anyOf": [{"type": "null"}, converted]}
    return converted


@cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def _components() -> dict[str, Any]:
    return openapi_to_jsonschema(spec()["components"])


def response_schema(method: str, path: str, status: str = "200") -> dict[str, Any]:
    response = spec()["paths"][path][method.lower()]["responses"][status]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return openapi_to_jsonschema(response["content"]["application/json"]["schema"])


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Validate against a converted spec schema whose `$ref`s point into the spec's components."""
    jsonschema.Draft202012Validator({**schema, "components": _components()}).validate(instance)


def validate_response(response: httpx.Response, method: str, path: str) -> None:
    status = str(response.status_code)
    validate(response.json(), response_schema(method, path, status))


def unexercised_operations(app: Any, toolsets: Collection[str] = ("users",)) -> set[tuple[str, str]]:
    """(method, path template) of the operations of `toolsets` that no logged request reached with a 200."""
    exercised = {(e["method"], e["path"]) for e in app.state.sandbox.requests.entries() if e["status"] == 200}
    return {
        (op.method, op.path) for op in OPERATIONS
        if op.toolset in toolsets and not any(m == op.method and re.fullmatch("/v1" + re.sub(r"\{\w+\}", "[^/]+", op.path), p) for m, p in exercised)
    }
