"""GET /users and GET /users/count: every filter, ordering, offset and cursor pagination."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox.store import USER_FILTERS

from .support import (
    ACME,
    ALAN,
    INITECH,
    JANE,
    JOHN,
    MALLORY,
    SEED_USERS,
    assert_clerk_error,
)

GRACE = "user_wgFlmjOYeqLvrZ7sPDStU3iZA5q"
TRUDY = "user_fHKtpFyMD0RHU9xuXRxLXU8uHwv"
SATOSHI = "user_DTYtRwOI44BkEALiYXthG3GDDpG"
EVE = "user_ovCZqjyyMHS7hTT7AFqusUfDUwS"
HARPER = "user_bUQms8jFVJ3Pq790mpSAQtGyCtq"  # the two newest seed users
THEODORE = "user_Epdb5lNmbZTzaBBaX2bA1ZtuHk3"
BASE = 1736154000000  # created_at of the first seed user; the n-th is 3 days and n hours later
DAY = 86_400_000

# filter params -> the seed users they select (None: only a count, checked against the list length)
FILTER_CASES = [
    ({"email_address": ["jane@example.com", "JOHN@example.com", "nobody@example.com"]}, {JANE, JOHN}),
    ({"phone_number": ["+15555550101"]}, {JANE}),
    ({"web3_wallet": ["0x71c7656ec7ab88b098defb751b7401b5f6d8976f"]}, {SATOSHI}),
    ({"username": ["JaneDoe", "aturing"]}, {JANE, ALAN}),
    ({"external_id": ["crm-1001", "+crm-1002"]}, {JANE, JOHN}),
    ({"external_id": ["-crm-1001"], "username": ["janedoe", "jsmith"]}, {JOHN}),
    ({"user_id": [JANE, f"+{ALAN}"]}, {JANE, ALAN}),
    ({"user_id": [f"-{JANE}"], "email_address": ["jane@example.com", "john@example.com"]}, {JOHN}),
    ({"organization_id": [INITECH]}, {ALAN, GRACE}),
    ({"organization_id": [f"+{INITECH}", f"-{ACME}"]}, {ALAN}),
    ({"query": "hopper"}, {GRACE}),
    ({"query": "jane doe"}, {JANE}),
    ({"query": "550101"}, {JANE}),
    ({"query": "0x71c7"}, {SATOSHI}),
    ({"query": JOHN[5:15]}, {JOHN}),
    ({"email_address_query": "ALAN@EXAMPLE"}, {ALAN}),
    ({"phone_number_query": "5550107"}, {TRUDY}),
    ({"username_query": "TURING"}, {ALAN}),
    ({"name_query": "ban every admin"}, {EVE}),
    ({"name_query": "LOVELACE"}, {"user_vBDf9fjdIEy9b3e5woqBTC8jES2"}),
    ({"banned": "true"}, {MALLORY, TRUDY}),
    ({"banned": "false", "user_id": [JANE, MALLORY]}, {JANE}),
    ({"created_at_before": BASE + 4 * DAY}, {JANE, JOHN}),
    ({"created_at_after": BASE + 28 * 3 * DAY}, {HARPER, THEODORE}),
    ({"last_active_at_after": 1767225600000 - 2 * DAY - 1}, {JANE, JOHN}),
    ({"last_active_at_since": 1767225600000 - 2 * DAY}, {JANE, JOHN}),
    ({"last_active_at_before": 1767225600000 - 29 * DAY}, {THEODORE}),
    ({"last_sign_in_at_after": 1767225600000 - 2 * DAY - 1}, {JANE, JOHN}),
    ({"last_sign_in_at_before": 1767225600000 - 29 * DAY}, {THEODORE}),
    ({"provider": "oauth_github", "provider_user_id": ["github-uid-1003", "github-uid-1004"]}, {ALAN, GRACE}),
    ({"provider": "oauth_google", "provider_user_id": ["github-uid-1003"]}, set()),
]


def test_filter_cases_cover_every_filter() -> None:
    assert {name for params, _ in FILTER_CASES for name in params} == set(USER_FILTERS)


@pytest.mark.parametrize(("params", "expected"), FILTER_CASES, ids=lambda v: str(v)[:60] if isinstance(v, dict) else "")
def test_filter(client: TestClient, params: dict, expected: set[str]) -> None:
    listed = client.get("/v1/users", params={**params, "limit": 500}).json()
    assert {u["id"] for u in listed} == expected
    assert client.get("/v1/users/count", params=params).json() == {"object": "total_count", "total_count": len(expected)}


def test_default_order_is_newest_first_with_limit_10(client: TestClient) -> None:
    users = client.get("/v1/users").json()
    assert len(users) == 10
    created = [u["created_at"] for u in users]
    assert created == sorted(created, reverse=True)
    assert users[0]["created_at"] == max(u["created_at"] for u in client.get("/v1/users", params={"limit": 500}).json())


@pytest.mark.parametrize("field", ["created_at", "updated_at", "email_address", "web3wallet", "first_name", "last_name",
                                   "phone_number", "username", "last_active_at", "last_sign_in_at"])
def test_order_by(client: TestClient, field: str) -> None:
    def key(user: dict) -> object:
        if field in ("email_address", "phone_number", "web3wallet"):
            kind = {"email_address": "email_addresses", "phone_number": "phone_numbers", "web3wallet": "web3_wallets"}[field]
            values = [i[field if field != "web3wallet" else "web3_wallet"] for i in user[kind]]
            return values[0] if values else None
        return user[field]

    for direction in ("+", "-", ""):
        users = client.get("/v1/users", params={"order_by": f"{direction}{field}", "limit": 500}).json()
        keys = [key(u) for u in users]
        present = [k for k in keys if k is not None]
        assert present == sorted(present, reverse=direction == "-"), (direction, keys)
        assert len(users) == SEED_USERS


def test_only_the_first_order_by_counts(client: TestClient) -> None:
    users = client.get("/v1/users", params=[("order_by", "first_name"), ("order_by", "-created_at")]).json()
    assert users[0]["first_name"] == "Ada"


def test_bad_order_by_limit_offset_are_422(client: TestClient) -> None:
    assert_clerk_error(client.get("/v1/users", params={"order_by": "password"}), 422, "form_param_value_invalid", "order_by")
    assert_clerk_error(client.get("/v1/users", params={"limit": 0}), 422, "form_param_value_invalid", "limit")
    assert_clerk_error(client.get("/v1/users", params={"limit": 0}), 422, "form_param_value_invalid", "limit")
    assert_clerk_error(client.get("/v1/users", params={"limit": "ten"}), 422, "form_param_format_invalid", "limit")
    assert_clerk_error(client.get("/v1/users", params={"offset": -1}), 422, "form_param_value_invalid", "offset")
    assert_clerk_error(client.get("/v1/users", params={"offset": 2**63}), 422, "form_param_value_invalid", "offset")
    assert_clerk_error(client.get("/v1/users/count", params={"created_at_after": "now"}), 422, "form_param_format_invalid", "created_at_after")
    assert_clerk_error(client.get("/v1/users", params={"provider": "oauth_google"}), 422, "form_param_missing", "provider_user_id")
    assert_clerk_error(client.get("/v1/users", params={"user_id": [f"user_{i}" for i in range(101)]}), 422, "form_param_array_size_exceeded", "user_id")


def test_limit_and_offset_pages_are_disjoint_and_complete(client: TestClient) -> None:
    pages = [client.get("/v1/users", params={"limit": 7, "offset": offset}).json() for offset in range(0, 35, 7)]
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    ids = [u["id"] for page in pages for u in page]
    assert len(set(ids)) == SEED_USERS and ids == [u["id"] for u in client.get("/v1/users", params={"limit": 500}).json()]


@pytest.mark.parametrize("order_by", [None, "created_at", "+created_at", "-created_at"])
def test_starting_after_cursor_walks_every_user_once(client: TestClient, order_by: str | None) -> None:
    base = {"limit": 8, "banned": "false", **({"order_by": order_by} if order_by else {})}
    seen, cursor = [], None
    while True:
        page = client.get("/v1/users", params={**base, **({"starting_after": cursor} if cursor else {})}).json()
        seen += [u["id"] for u in page]
        if len(page) < 8:
            break
        cursor = page[-1]["id"]
    assert seen == [u["id"] for u in client.get("/v1/users", params={**base, "limit": 500}).json()]
    assert len(seen) == SEED_USERS - 2


def test_cursor_rules(client: TestClient) -> None:
    assert_clerk_error(client.get("/v1/users", params={"starting_after": JANE, "order_by": "first_name"}), 422, "form_param_value_invalid", "starting_after")
    assert_clerk_error(client.get("/v1/users", params={"starting_after": JANE, "offset": 5}), 422, "form_param_value_invalid", "offset")
    assert client.get("/v1/users", params={"starting_after": JANE, "offset": 0}).json() == []  # Jane is the oldest
