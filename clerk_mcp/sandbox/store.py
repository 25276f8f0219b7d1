"""The sandbox's state: one SQLite database, indexed so that 100,000 users list fast.

All access goes through `Store.atomic()`, which holds one re-entrant lock and one transaction: the
app runs each request inside it, so the single connection is safe to share across threads and tasks.
Identifications (emails, phones, wallets) live in their own table, as in Clerk; the user row keeps a
copy of each primary value so that `order_by=email_address` and friends use an index. Substring
searches use FTS5 trigram indexes, kept in sync by triggers, to find candidates; the exact
case-insensitive substring test then runs on those candidates only.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import sqlite3
import string
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from . import render
from .clock import Clock
from .errors import ClerkError, not_found
from .lockout import Lockout, check_not_locked

_ALPHABET = string.ascii_letters + string.digits

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    external_id TEXT UNIQUE,
    username TEXT UNIQUE,
    first_name TEXT,
    last_name TEXT,
    locale TEXT,
    primary_email_address_id TEXT,
    primary_phone_number_id TEXT,
    primary_web3_wallet_id TEXT,
    email_address TEXT,
    phone_number TEXT,
    web3_wallet TEXT,
    image_id TEXT,
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    unsafe_metadata TEXT NOT NULL DEFAULT '{}',
    password_digest TEXT,
    password_hasher TEXT,
    password_last_updated_at INTEGER,
    totp_secret TEXT,
    backup_codes TEXT NOT NULL DEFAULT '[]',
    mfa_enabled_at INTEGER,
    mfa_disabled_at INTEGER,
    banned INTEGER NOT NULL DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0,
    lockout_expires_at INTEGER,
    failed_verification_attempts INTEGER NOT NULL DEFAULT 0,
    delete_self_enabled INTEGER NOT NULL DEFAULT 1,
    create_organization_enabled INTEGER NOT NULL DEFAULT 1,
    create_organizations_limit INTEGER,
    bypass_client_trust INTEGER NOT NULL DEFAULT 0,
    legal_accepted_at INTEGER,
    last_sign_in_at INTEGER,
    last_active_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    search_name TEXT GENERATED ALWAYS AS (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) VIRTUAL
);
CREATE INDEX IF NOT EXISTS users_by_created_at ON users (created_at, id);
CREATE INDEX IF NOT EXISTS users_by_updated_at ON users (updated_at, id);
CREATE INDEX IF NOT EXISTS users_by_email_address ON users (email_address, id);
CREATE INDEX IF NOT EXISTS users_by_phone_number ON users (phone_number, id);
CREATE INDEX IF NOT EXISTS users_by_web3_wallet ON users (web3_wallet, id);
CREATE INDEX IF NOT EXISTS users_by_first_name ON users (first_name, id);
CREATE INDEX IF NOT EXISTS users_by_last_name ON users (last_name, id);
CREATE INDEX IF NOT EXISTS users_by_username ON users (username, id);
CREATE INDEX IF NOT EXISTS users_by_last_active_at ON users (last_active_at, id);
CREATE INDEX IF NOT EXISTS users_by_last_sign_in_at ON users (last_sign_in_at, id);
CREATE INDEX IF NOT EXISTS users_by_banned ON users (banned, created_at, id);
CREATE INDEX IF NOT EXISTS users_by_search_name ON users (search_name, id);

CREATE TABLE IF NOT EXISTS identifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 1,
    second_factor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (type, value)
);
CREATE INDEX IF NOT EXISTS identifications_by_user ON identifications (user_id);
CREATE INDEX IF NOT EXISTS identifications_by_value ON identifications (type, value, user_id);

CREATE TABLE IF NOT EXISTS external_accounts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    identification_id TEXT NOT NULL,
    email_address TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    username TEXT,
    image_url TEXT,
    approved_scopes TEXT NOT NULL DEFAULT '',
    label TEXT,
    public_metadata TEXT NOT NULL DEFAULT '{}',
    token TEXT NOT NULL,
    token_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (provider, provider_user_id)
);
CREATE INDEX IF NOT EXISTS external_accounts_by_user ON external_accounts (user_id, provider);

CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    max_allowed_memberships INTEGER NOT NULL DEFAULT 0,
    admin_delete_enabled INTEGER NOT NULL DEFAULT 1,
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    created_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS memberships (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    role_name TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '[]',
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships (user_id, created_at);

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);

-- Billing (toolset `billing`): a user's payer, with the subscription the seed or harness gave it (JSON, see
-- billing.py), and the credit ledger whose sum is the balance.
CREATE TABLE IF NOT EXISTS billing_payers (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    id TEXT NOT NULL UNIQUE,
    subscription TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_ledger (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    note TEXT,
    source_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, idempotency_key)
);

CREATE TABLE IF NOT EXISTS passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_used_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passkeys_by_user ON passkeys (user_id);

CREATE TABLE IF NOT EXISTS trusted_devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    app_identifier TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    last_used_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trusted_devices_by_user ON trusted_devices (user_id);

CREATE TABLE IF NOT EXISTS organization_invitations (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email_address TEXT NOT NULL,
    role TEXT NOT NULL,
    role_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS organization_invitations_by_email ON organization_invitations (email_address, created_at);

CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
"""

# External-content trigram indexes over the searched text; rows map by rowid, which SQLite keeps for
# these tables as long as nobody runs VACUUM on the database. Triggers keep them in sync with every
# write, including cascaded deletes.
SEARCH_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS users_search
    USING fts5(username, search_name, id, content='users', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, username, search_name, id) VALUES (new.rowid, new.username, new.search_name, new.id);
END;
CREATE TRIGGER IF NOT EXISTS users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, search_name, id)
        VALUES ('delete', old.rowid, old.username, old.search_name, old.id);
END;
CREATE TRIGGER IF NOT EXISTS users_search_update AFTER UPDATE OF username, first_name, last_name ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, search_name, id)
        VALUES ('delete', old.rowid, old.username, old.search_name, old.id);
    INSERT INTO users_search (rowid, username, search_name, id) VALUES (new.rowid, new.username, new.search_name, new.id);
END;

CREATE VIRTUAL TABLE IF NOT EXISTS identifications_search
    USING fts5(value, content='identifications', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS identifications_search_insert AFTER INSERT ON identifications BEGIN
    INSERT INTO identifications_search (rowid, value) VALUES (new.rowid, new.value);
END;
CREATE TRIGGER IF NOT EXISTS identifications_search_delete AFTER DELETE ON identifications BEGIN
    INSERT INTO identifications_search (identifications_search, rowid, value) VALUES ('delete', old.rowid, old.value);
END;
CREATE TRIGGER IF NOT EXISTS identifications_search_update AFTER UPDATE OF value ON identifications BEGIN
    INSERT INTO identifications_search (identifications_search, rowid, value) VALUES ('delete', old.rowid, old.value);
    INSERT INTO identifications_search (rowid, value) VALUES (new.rowid, new.value);
END;
"""
SEARCH_INDEXES = ("users_search", "identifications_search")
# FTS5's trigram tokenizer arrived in SQLite 3.34; older builds search by scanning alone.
TRIGRAM = sqlite3.sqlite_version_info >= (3, 34, 0)
BROAD = 5_000  # trigram matches beyond which scanning for a substring is cheaper than testing each

# Columns added after databases were first written: an older file gains them when opened.
ADDED_COLUMNS = {
    "users": {
        "lockout_expires_at": "INTEGER",
        "failed_verification_attempts": "INTEGER NOT NULL DEFAULT 0",
        "password_compromised": "INTEGER NOT NULL DEFAULT 0",
    },
    "identifications": {"verified": "INTEGER NOT NULL DEFAULT 1"},
    # A session's client and times (Clerk's Session object); rows of older files get them below.
    "sessions": {
        "client_id": "TEXT", "last_active_at": "INTEGER", "expire_at": "INTEGER", "abandon_at": "INTEGER", "updated_at": "INTEGER",
    },
}

TABLES = (
    "credit_ledger", "billing_payers", "images", "sessions", "passkeys", "trusted_devices", "organization_invitations",
    "memberships", "organizations", "external_accounts", "identifications", "users",
)


# Where new ids come from: the system's CSPRNG, or a seeded generator while a harness runs `seeded_ids`.
_ID_SOURCE: ContextVar[random.Random | None] = ContextVar("clerk_sandbox_id_source", default=None)


def new_id(prefix: str) -> str:
    """A Clerk-shaped id: prefix, underscore, 27 characters of [A-Za-z0-9]."""
    source = _ID_SOURCE.get()
    choice = source.choice if source is not None else secrets.choice
    return f"{prefix}_" + "".join(choice(_ALPHABET) for _ in range(27))


@contextlib.contextmanager
def seeded_ids(seed: int) -> Iterator[None]:
    """Ids made in this context (and the tasks and worker threads it starts) repeat run after run for one `seed`:
    evaluations (clerk_mcp/evals) score a deterministic agent the same every time."""
    token = _ID_SOURCE.set(random.Random(seed))
    try:
        yield
    finally:
        _ID_SOURCE.reset(token)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _identification_in(kind: str) -> Callable[[list[str]], tuple[str, list[Any]]]:
    def build(values: list[str]) -> tuple[str, list[Any]]:
        if kind != "phone_number":  # emails and wallets are stored lower-case
            values = [v.lower() for v in values]
        return f"u.id IN (SELECT user_id FROM identifications WHERE type = '{kind}' AND value IN ({_marks(values)}))", values
    return build


def _phrase(needle: str) -> str | None:
    """`needle` as an FTS5 trigram phrase, or None when it is too short for trigrams to find it or holds a NUL
    (which ends an FTS5 query string: the phrase would be unterminated)."""
    return '"' + needle.replace('"', '""') + '"' if TRIGRAM and len(needle) >= 3 and "\0" not in needle else None


@dataclass(frozen=True)
class _Field:
    """Fields searched by substring in one table: a condition on `u` that scans for the needle, and
    one that tests only the rows the trigram `index` matches in `columns` (None: all of them). Each
    `?` is the needle, but the narrowed condition's last, which is the MATCH expression."""

    scan: str
    narrowed: str
    index: str
    columns: tuple[str, ...] | None = None

    def match(self, phrase: str) -> str:
        return f"{{{' '.join(self.columns)}}} : {phrase}" if self.columns else phrase


def _narrowed(select: str, index: str) -> str:
    return f"u.id IN ({select} AND rowid IN (SELECT rowid FROM {index} WHERE {index} MATCH ?))"


def _user_fields(*columns: str) -> _Field:
    """Users columns. Scans read each column's narrow index, not the wide table; ids are tested row by
    row, which keeps a scanning `query` one walk in ORDER BY order that stops at LIMIT."""
    scans = ["instr(lower(u.id), ?) > 0" if c == "id" else
             f"u.id IN (SELECT id FROM users INDEXED BY users_by_{c} WHERE instr({c}, ?) > 0)" for c in columns]
    tests = " OR ".join(f"instr({'lower(id)' if c == 'id' else c}, ?) > 0" for c in columns)
    return _Field(" OR ".join(scans), _narrowed(f"SELECT id FROM users WHERE ({tests})", "users_search"), "users_search", columns)


def _identification_field(kind: str | None) -> _Field:
    """Identifications of `kind` (None: any); they are stored lower-case."""
    select = "SELECT user_id FROM identifications WHERE " + (f"type = '{kind}' AND " if kind else "") + "instr(value, ?) > 0"
    return _Field(f"u.id IN ({select})", _narrowed(select, "identifications_search"), "identifications_search")


def _substring(*fields: _Field) -> Callable[[str, Callable[[str, str], bool]], tuple[str, list[Any]]]:
    """Users with the lower-cased needle in any of `fields`, tested by `instr`, which alone decides.
    When the needle has 3 or more characters and `narrows` finds each field's trigram matches few,
    only those are tested: trigrams fold case character by character, so they never miss a match."""
    def build(text: str, narrows: Callable[[str, str], bool]) -> tuple[str, list[Any]]:
        needle = text.lower()
        phrase = _phrase(needle)
        if phrase is None or not all(narrows(f.index, f.match(phrase)) for f in fields):
            sql = " OR ".join(f.scan for f in fields)
            return f"({sql})", [needle] * sql.count("?")
        params = [p for f in fields for p in [*[needle] * (f.narrowed.count("?") - 1), f.match(phrase)]]
        return "(" + " OR ".join(f.narrowed for f in fields) + ")", params
    return build


def _signed(column: str) -> Callable[[tuple[list[str], list[str]]], tuple[str, list[Any]]]:
    """`+value`/`value` include, `-value` exclude (the spec's user_id/external_id/organization_id)."""
    def build(split: tuple[list[str], list[str]]) -> tuple[str, list[Any]]:
        include, exclude = split
        clauses, params = [], []
        if include:
            clauses.append(f"{column} IN ({_marks(include)})")
            params += include
        if exclude:
            clauses.append(f"({column} IS NULL OR {column} NOT IN ({_marks(exclude)}))")
            params += exclude
        return " AND ".join(clauses), params
    return build


def _organizations(split: tuple[list[str], list[str]]) -> tuple[str, list[Any]]:
    include, exclude = split
    member_of = "SELECT user_id FROM memberships WHERE organization_id IN ({})"
    clauses, params = [], []
    if include:
        clauses.append(f"u.id IN ({member_of.format(_marks(include))})")
        params += include
    if exclude:
        clauses.append(f"u.id NOT IN ({member_of.format(_marks(exclude))})")
        params += exclude
    return " AND ".join(clauses), params


def _provider(pair: tuple[str, list[str]]) -> tuple[str, list[Any]]:
    provider, ids = pair
    sql = f"u.id IN (SELECT user_id FROM external_accounts WHERE provider = ? AND provider_user_id IN ({_marks(ids)}))"
    return sql, [provider, *ids]


def _compare(column: str, op: str) -> Callable[[int], tuple[str, list[Any]]]:
    return lambda value: (f"u.{column} {op} ?", [value])


# Every filter of GET /users and GET /users/count: param name -> (kind, SQL builder). The handlers
# parse each param by its kind; "substring" builders also get `Store.narrows`.
USER_FILTERS: dict[str, tuple[str, Callable[[Any], tuple[str, list[Any]]] | None]] = {
    "email_address": ("list", _identification_in("email_address")),
    "phone_number": ("list", _identification_in("phone_number")),
    "web3_wallet": ("list", _identification_in("web3_wallet")),
    "username": ("list", lambda values: (f"u.username IN ({_marks(values)})", [v.lower() for v in values])),
    "external_id": ("signed", _signed("u.external_id")),
    "user_id": ("signed", _signed("u.id")),
    "organization_id": ("signed", _organizations),
    "query": ("substring", _substring(_user_fields("id", "username", "search_name"), _identification_field(None))),
    "email_address_query": ("substring", _substring(_identification_field("email_address"))),
    "phone_number_query": ("substring", _substring(_identification_field("phone_number"))),
    "username_query": ("substring", _substring(_user_fields("username"))),
    "name_query": ("substring", _substring(_user_fields("search_name"))),
    "banned": ("bool", lambda flag: ("u.banned = ?", [int(flag)])),
    "last_active_at_before": ("ms", _compare("last_active_at", "<")),
    "last_active_at_after": ("ms", _compare("last_active_at", ">")),
    "last_active_at_since": ("ms", _compare("last_active_at", ">=")),
    "created_at_before": ("ms", _compare("created_at", "<")),
    "created_at_after": ("ms", _compare("created_at", ">")),
    "last_sign_in_at_before": ("ms", _compare("last_sign_in_at", "<")),
    "last_sign_in_at_after": ("ms", _compare("last_sign_in_at", ">")),
    "provider": ("text", _provider),
    "provider_user_id": ("list", None),  # folded into `provider` by the handler: they only work together
}

# `order_by` field -> users column (the spec spells the wallet field `web3wallet`).
ORDER_COLUMNS = {
    "created_at": "created_at", "updated_at": "updated_at", "email_address": "email_address",
    "web3wallet": "web3_wallet", "first_name": "first_name", "last_name": "last_name",
    "phone_number": "phone_number", "username": "username", "last_active_at": "last_active_at",
    "last_sign_in_at": "last_sign_in_at",
}


class Store:
    """SQLite-backed state of one sandbox instance, with its clock and its lockout policy."""

    def __init__(self, path: str | None = None, *, clock: Clock | None = None, lockout: Lockout | None = None) -> None:
        self.clock = clock or Clock()
        self.lockout = lockout or Lockout()
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if path:
            self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)
        for table, columns in ADDED_COLUMNS.items():
            existing = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for column, declaration in columns.items():
                if column not in existing:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        # Sessions written before they had a client and times get them as a new session would have.
        self.db.execute(
            "UPDATE sessions SET client_id = 'client_' || substr(id, 6), last_active_at = created_at, updated_at = created_at, "
            "expire_at = created_at + ?, abandon_at = created_at + ? WHERE client_id IS NULL",
            (render.SESSION_LIFETIME_MS, render.SESSION_ABANDON_MS),
        )
        if TRIGRAM:
            self._create_search_indexes()

    def _create_search_indexes(self) -> None:
        """Create the trigram indexes, filling them from the rows of a database made without them."""
        existing = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.db.executescript(SEARCH_SCHEMA)
        for index in SEARCH_INDEXES:
            if index not in existing:
                self.db.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Store]:
        """Hold the lock and one transaction; nested uses join the outer transaction. An exception rolls it back,
        unless it is marked `keeps_changes` (`Verification.failed`: a failed verification is still counted)."""
        with self._lock:
            if self.db.in_transaction:
                yield self
                return
            self.db.execute("BEGIN")
            try:
                yield self
            except BaseException as error:
                self.db.execute("COMMIT" if getattr(error, "keeps_changes", False) else "ROLLBACK")
                raise
            self.db.execute("COMMIT")


    @contextlib.contextmanager
    def unlocked(self) -> Iterator[None]:
        """Inside `atomic()`: commit, let other requests in while slow work runs (password and backup-code hashing,
        up to a second at the cost cap), then take the lock and a new transaction again. What was read before
        may have changed meanwhile: read it again after."""
        self.db.execute("COMMIT")
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self.db.execute("BEGIN")

    # -- generic rows ---------------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self.db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({_marks(row)})", list(row.values()))

    def insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            columns = list(rows[0])
            self.db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(columns)})",
                [[row[c] for c in columns] for row in rows],
            )

    def update(self, table: str, row_id: str, changes: dict[str, Any]) -> None:
        if changes:
            assignments = ", ".join(f"{column} = ?" for column in changes)
            self.db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*changes.values(), row_id])

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def is_empty(self) -> bool:
        return self.db.execute("SELECT NOT EXISTS (SELECT 1 FROM users)").fetchone()[0] == 1

    def clear(self) -> None:
        with self.atomic():
            for table in TABLES:
                self.db.execute(f"DELETE FROM {table}")

    # -- users ----------------------------------------------------------------------------------

    def user(self, user_id: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM users u WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise not_found(user_id)
        return row

    def touch(self, user_id: str, changes: dict[str, Any]) -> None:
        """Update a user's columns and its `updated_at`."""
        self.update("users", user_id, {**changes, "updated_at": self.clock()})

    def identifier_owner(self, kind: str, value: str) -> str | None:
        row = self.db.execute("SELECT user_id FROM identifications WHERE type = ? AND value = ?", (kind, value)).fetchone()
        return row[0] if row else None

    def identification(self, user_id: str, ident_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM identifications WHERE id = ? AND user_id = ?", (ident_id, user_id)
        ).fetchone()

    def column_owner(self, column: str, value: str) -> str | None:
        row = self.db.execute(f"SELECT id FROM users WHERE {column} = ?", (value,)).fetchone()
        return row[0] if row else None

    def narrows(self, index: str, match: str) -> bool:
        """Whether a trigram MATCH is selective enough that testing its rows beats a scan."""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {index} WHERE {index} MATCH ? LIMIT {BROAD + 1})"
        return self.db.execute(sql, (match,)).fetchone()[0] <= BROAD

    def _where(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for name, value in filters.items():
            kind, build = USER_FILTERS[name]
            clause, values = build(value, self.narrows) if kind == "substring" else build(value)
            clauses.append(clause)
            params += values
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_users(
        self, filters: dict[str, Any], *, order: tuple[str, bool], limit: int, offset: int, after: str | None
    ) -> list[sqlite3.Row]:
        """Users matching `filters`, ordered by (column, descending?) with `id` breaking ties."""
        column, descending = order
        where, params = self._where(filters)
        direction = "DESC" if descending else "ASC"
        if after is not None:
            cursor = self.user(after)
            where += (" AND " if where else " WHERE ") + f"(u.created_at, u.id) {'<' if descending else '>'} (?, ?)"
            params += [cursor["created_at"], cursor["id"]]
        sql = f"SELECT * FROM users u{where} ORDER BY u.{column} {direction}, u.id {direction} LIMIT ? OFFSET ?"
        return self.rows(sql, [*params, limit, offset])

    def count_users(self, filters: dict[str, Any]) -> int:
        where, params = self._where(filters)
        return self.db.execute(f"SELECT COUNT(*) FROM users u{where}", params).fetchone()[0]

    def users_json(self, users: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        """Render users with their identifications and external accounts, two queries in all."""
        ids = [u["id"] for u in users]
        identifications = self._by_user("identifications", ids, "created_at, rowid")
        accounts = self._by_user("external_accounts", ids, "created_at, rowid")
        passkeys = self._by_user("passkeys", ids, "created_at, rowid")
        now = self.clock()
        return [
            render.user(
                u, identifications.get(u["id"], []), accounts.get(u["id"], []), passkeys.get(u["id"], []), self.lockout.view(u, now),
            )
            for u in users
        ]

    def user_json(self, user_id: str) -> dict[str, Any]:
        return self.users_json([self.user(user_id)])[0]

    def _by_user(self, table: str, user_ids: list[str], order: str) -> dict[str, list[sqlite3.Row]]:
        grouped: dict[str, list[sqlite3.Row]] = {}
        for row in self.rows(f"SELECT * FROM {table} WHERE user_id IN ({_marks(user_ids)}) ORDER BY {order}", user_ids):
            grouped.setdefault(row["user_id"], []).append(row)
        return grouped

    def verification(self, user: sqlite3.Row) -> Verification:
        """Start a password/TOTP/backup-code check of `user`; a locked user gets 403 `user_locked`."""
        now = self.clock()
        check_not_locked(user, now)
        return Verification(self, user, now)

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        self.db.execute("DELETE FROM users WHERE id = ?", (user_id,))

    def revoke_sessions(self, user_id: str) -> None:
        self.db.execute("UPDATE sessions SET status = 'revoked' WHERE user_id = ? AND status = 'active'", (user_id,))

    def session_statuses(self, user_id: str) -> list[str]:
        return [r[0] for r in self.rows("SELECT status FROM sessions WHERE user_id = ? ORDER BY id", (user_id,))]

    # -- sessions, passkeys, trusted devices and invitations (toolsets) ---------------------------------

    def add_session(self, user_id: str, *, session_id: str | None = None, status: str = "active", created_at: int | None = None) -> str:
        """A session as a sign-in makes it: its own client, Clerk's default lifetime (render.SESSION_LIFETIME_MS)."""
        created = self.clock() if created_at is None else created_at
        session_id = session_id or new_id("sess")
        self.insert("sessions", {
            "id": session_id, "user_id": user_id, "client_id": new_id("client"), "status": status, "created_at": created,
            "updated_at": created, "last_active_at": created, "expire_at": created + render.SESSION_LIFETIME_MS,
            "abandon_at": created + render.SESSION_ABANDON_MS,
        })
        return session_id

    def session_json(self, session_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise ClerkError("SessionNotFound", sessionID=session_id)
        return render.session(row, self.clock())

    def sessions_json(self, *, client_id: str | None, user_id: str | None, status: str | None) -> list[dict[str, Any]]:
        """Sessions matching every filter given, newest first (spec: GetSessionList); `status` as read now."""
        clauses, params = [], []
        for column, value in (("client_id", client_id), ("user_id", user_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        now = self.clock()
        sessions = [render.session(r, now) for r in self.rows(f"SELECT * FROM sessions{where} ORDER BY created_at DESC, id DESC", params)]
        return [s for s in sessions if status is None or s["status"] == status]

    def trusted_devices(self, user_id: str) -> list[dict[str, Any]]:
        """The user's active trusted devices, oldest first."""
        rows = self.rows("SELECT * FROM trusted_devices WHERE user_id = ? AND status = 'active' ORDER BY created_at, rowid", (user_id,))
        return [render.trusted_device(r) for r in rows]

    def trusted_device(self, user_id: str, device_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM trusted_devices WHERE id = ? AND user_id = ?", (device_id, user_id)).fetchone()
        return None if row is None else render.trusted_device(row)

    def invitations_json(self, user_id: str, *, status: str | None, limit: int, offset: int) -> dict[str, Any]:
        """Organization invitations to any of the user's email addresses, newest first, `status` as read now."""
        rows = self.rows(
            "SELECT id FROM organization_invitations WHERE email_address IN "
            "(SELECT value FROM identifications WHERE user_id = ? AND type = 'email_address') ORDER BY created_at DESC, id DESC",
            (user_id,),
        )
        invitations = [self.invitation_json(r["id"]) for r in rows]
        matching = [i for i in invitations if status is None or i["status"] == status]
        return {"data": matching[offset:offset + limit], "total_count": len(matching)}

    def invitation_json(self, invitation_id: str) -> dict[str, Any]:
        invitation = self.rows("SELECT * FROM organization_invitations WHERE id = ?", (invitation_id,))[0]
        organization = self.rows("SELECT * FROM organizations WHERE id = ?", (invitation["organization_id"],))[0]
        return render.invitation(invitation, organization, self.clock())

    # -- OAuth accounts and organizations -------------------------------------------------------

    def oauth_tokens(self, user_id: str, provider: str) -> list[dict[str, Any]]:
        """Tokens of the user's accounts at `provider`; expired ones are refreshed, as Clerk does."""
        now = self.clock()
        tokens = []
        for account in self.rows(
            "SELECT * FROM external_accounts WHERE user_id = ? AND provider = ? ORDER BY created_at, rowid", (user_id, provider)
        ):
            if account["token_expires_at"] is not None and account["token_expires_at"] <= now:
                refreshed = {"token": "sandbox_oauth_" + secrets.token_urlsafe(24), "token_expires_at": now + 3_600_000}
                self.update("external_accounts", account["id"], refreshed)
                account = {**dict(account), **refreshed}
            tokens.append(render.oauth_token(account))
        return tokens

    def memberships_json(self, user_id: str, *, limit: int, offset: int) -> dict[str, Any]:
        user = self.user(user_id)
        total = self.db.execute("SELECT COUNT(*) FROM memberships WHERE user_id = ?", (user_id,)).fetchone()[0]
        rows = self.rows(
            "SELECT m.*, (SELECT COUNT(*) FROM memberships c WHERE c.organization_id = m.organization_id) AS members_count "
            "FROM memberships m WHERE m.user_id = ? ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        primary = self._primary_identifier(user)
        data = [
            render.membership(m, self.rows("SELECT * FROM organizations WHERE id = ?", (m["organization_id"],))[0], user, primary)
            for m in rows
        ]
        return {"data": data, "total_count": total}

    def membership_json(self, membership_id: str) -> dict[str, Any]:
        m = self.rows(
            "SELECT m.*, (SELECT COUNT(*) FROM memberships c WHERE c.organization_id = m.organization_id) AS members_count "
            "FROM memberships m WHERE m.id = ?", (membership_id,),
        )[0]
        user = self.user(m["user_id"])
        org = self.rows("SELECT * FROM organizations WHERE id = ?", (m["organization_id"],))[0]
        return render.membership(m, org, user, self._primary_identifier(user))

    def _primary_identifier(self, user: sqlite3.Row) -> str | None:
        return user["email_address"] or user["phone_number"] or user["username"] or user["web3_wallet"]



@dataclass(frozen=True)
class Verification:
    """One check of a user's password, TOTP or backup code, whose outcome counts towards the lockout."""

    store: Store
    user: sqlite3.Row
    now: int

    def passed(self) -> None:
        if self.user["failed_verification_attempts"]:
            self.store.update("users", self.user["id"], {"failed_verification_attempts": 0})

    def failed(self, error: Exception) -> Exception:
        """Count the failure (locking the user at the limit) and return `error` for the caller to raise, marked so
        that the request's transaction keeps the count."""
        self.store.update("users", self.user["id"], self.store.lockout.after_failure(self.user, self.now))
        error.keeps_changes = True  # type: ignore[attr-defined]
        return error
