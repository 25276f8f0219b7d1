"""Substring filters through the trigram indexes: the same answers as a plain scan, kept in sync on every write."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app, store

from .support import JANE

TEXT_FILTERS = ["query", "email_address_query", "phone_number_query", "username_query", "name_query"]


def _needles(users: list[dict]) -> set[str]:
    """Substrings of the seed's searchable values, of 2 to 5 characters, either case, plus FTS5 syntax."""
    values = [u["id"] for u in users] + [u["username"] or "" for u in users]
    values += [f"{u['first_name'] or ''} {u['last_name'] or ''}" for u in users]
    values += [i[k] for u in users for kind, k in (("email_addresses", "email_address"), ("phone_numbers", "phone_number"),
                                                 ("web3_wallets", "web3_wallet")) for i in u[kind]]
    needles = {v[i // 3:i // 3 + size] for i, v in enumerate(values) for size in (2, 3, 5)}
    return {n.upper() if i % 2 else n for i, n in enumerate(sorted(needles)) if n.strip()}


def _ids(client: TestClient, name: str, needle: str) -> tuple[list[str], int]:
    listed = [u["id"] for u in client.get("/v1/users", params={name: needle, "limit": 500, "order_by": "username"}).json()]
    return listed, client.get("/v1/users/count", params={name: needle}).json()["total_count"]


@pytest.mark.parametrize("broad", [store.BROAD, 1], ids=["narrowed", "mostly-scanned"])
def test_trigram_search_answers_exactly_as_a_scan(client: TestClient, monkeypatch: pytest.MonkeyPatch, broad: int) -> None:
    assert store.TRIGRAM, "this SQLite has no trigram tokenizer"
    monkeypatch.setattr(store, "BROAD", broad)
    found = sorted(_needles(client.get("/v1/users", params={"limit": 500}).json()))
    needles = found + ['"', 'a"b', "ja*", "doe OR", "name:", "NEAR(x"]
    indexed = {(name, n): _ids(client, name, n) for name in TEXT_FILTERS for n in needles}
    monkeypatch.setattr(store, "TRIGRAM", False)
    scanned = {(name, n): _ids(client, name, n) for name in TEXT_FILTERS for n in needles}
    assert indexed == scanned
    assert all(indexed["query", n][0] for n in found)  # `query` sees every searchable value


def test_search_follows_create_update_and_delete(client: TestClient) -> None:
    created = client.post("/v1/users", json={"email_address": ["HELLO@Example.com"], "first_name": "Zebediah",
                                             "username": "zorro_x"}).json()
    assert _ids(client, "email_address_query", "ello")[0] == [created["id"]]
    assert _ids(client, "query", "ZEBEDIAH")[0] == [created["id"]]
    client.patch(f"/v1/users/{created['id']}", json={"first_name": "Quentin", "username": "qwerty_q"})
    assert _ids(client, "name_query", "zebed") == ([], 0)
    assert _ids(client, "name_query", "uentin")[0] == [created["id"]]
    assert _ids(client, "username_query", "zorro") == ([], 0)
    assert _ids(client, "username_query", "werty")[0] == [created["id"]]
    client.delete(f"/v1/users/{created['id']}")
    for name, needle in (("email_address_query", "ello@"), ("query", "quentin"), ("query", created["id"][5:12])):
        assert _ids(client, name, needle) == ([], 0)


def test_search_survives_reset_and_reseed(client: TestClient) -> None:
    assert _ids(client, "query", "jane")[0] == [JANE]
    client.post("/_sandbox/reset")
    assert _ids(client, "query", "jane") == ([], 0)
    client.post("/_sandbox/seed")
    assert _ids(client, "query", "jane")[0] == [JANE]


def test_a_database_made_before_the_indexes_gets_them_filled(tmp_path) -> None:
    path = str(tmp_path / "sandbox.db")
    create_app(db_path=path).state.sandbox.store.db.executescript(
        "DROP TABLE users_search; DROP TABLE identifications_search;"
    )
    with TestClient(create_app(db_path=path), headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as reopened:
        assert _ids(reopened, "email_address_query", "JANE@exa")[0] == [JANE]
