"""Sandbox at scale: load N users, then time filtered + ordered list queries through the ASGI app.

    python benchmarks/sandbox_scale.py               # 100,000 users (budget: median <= 20 ms per list query)
    python benchmarks/sandbox_scale.py --users 1000  # a quick run
    python benchmarks/sandbox_scale.py --smoke       # CI: 1,000 users, never fails on the budget

Each query is timed over --rounds requests through `httpx.AsyncClient(transport=ASGITransport(app))`,
beside a baseline from the same run (GET one user by id); the exit status is 1 when a median misses
the budget.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from _common import finish, limit_figure, median, parser

from clerk_mcp.sandbox import SANDBOX_SECRET_KEY, create_app
from clerk_mcp.sandbox.store import Store

BUDGET_MS = 20.0
BASELINE = "GET one user by id"
FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "John", "Radia", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Smith"]
BASE = 1_600_000_000_000


def load(store: Store, n: int) -> None:
    """Bulk-insert n users with an email each, some phones, bans and organization memberships."""
    orgs = [{"id": f"org_bench{i:022d}", "name": f"Org {i}", "slug": f"org-{i}", "created_at": BASE, "updated_at": BASE} for i in range(10)]
    users, idents, members = [], [], []
    for i in range(n):
        user_id, email_id, created = f"user_bench{i:022d}", f"idn_benchmail{i:018d}", BASE + i * 60_000
        users.append({
            "id": user_id, "first_name": FIRST[i % len(FIRST)], "last_name": LAST[(i // 7) % len(LAST)],
            "username": f"user{i}", "email_address": f"user{i}@example.com", "primary_email_address_id": email_id,
            "banned": int(i % 50 == 0), "last_sign_in_at": created + (i * 7919 % 1000) * 3_600_000,
            "last_active_at": created + (i * 7919 % 1000) * 3_600_000, "created_at": created, "updated_at": created,
        })
        idents.append({"id": email_id, "user_id": user_id, "type": "email_address", "value": f"user{i}@example.com",
                       "created_at": created, "updated_at": created})
        if i % 3 == 0:
            members.append({"id": f"orgmem_bench{i:020d}", "organization_id": orgs[i % 10]["id"], "user_id": user_id,
                            "role": "org:member", "role_name": "Member", "created_at": created, "updated_at": created})
    with store.atomic():
        for table, rows in (("organizations", orgs), ("users", users), ("identifications", idents), ("memberships", members)):
            store.insert_many(table, rows)
    store.db.execute("ANALYZE")


def queries(n: int) -> dict[str, tuple[str, dict[str, object]]]:
    middle = BASE + (n // 2) * 60_000
    return {
        BASELINE: (f"/v1/users/user_bench{n // 2:022d}", {}),
        "not banned, newest first": ("/v1/users", {"banned": "false", "order_by": "-created_at", "limit": 20}),
        "created after X, by first_name": ("/v1/users", {"created_at_after": middle, "order_by": "first_name", "limit": 20}),
        "in an org, by last sign-in": ("/v1/users", {"organization_id": "org_bench0000000000000000000003", "order_by": "-last_sign_in_at", "limit": 20}),
        "exact email addresses": ("/v1/users", {"email_address": [f"user{i}@example.com" for i in range(0, n, max(1, n // 20))]}),
        "email substring, by username": ("/v1/users", {"email_address_query": "user123", "order_by": "username", "limit": 20}),
        "free-text query, newest first": ("/v1/users", {"query": "grace hop", "limit": 20}),
        "name substring, by last_name": ("/v1/users", {"name_query": "ada lov", "order_by": "-last_name", "limit": 20}),
        "cursor page, oldest first": ("/v1/users", {"order_by": "+created_at", "starting_after": f"user_bench{n // 3:022d}", "limit": 100}),
        "count banned": ("/v1/users/count", {"banned": "true"}),
        "count email substring": ("/v1/users/count", {"email_address_query": "user123"}),
        "count free-text query": ("/v1/users/count", {"query": "grace hop"}),
        "count name substring": ("/v1/users/count", {"name_query": "ada lov"}),
    }


async def measure(app: object, n: int, rounds: int) -> dict[str, float]:
    transport = httpx.ASGITransport(app=app)
    medians = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}) as client:
        for name, (path, params) in queries(n).items():
            timings = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                response = await client.get(path, params=params)
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            medians[name] = median(timings[1:])  # the first request warms caches
    return medians


def main() -> int:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--users", type=int, default=100_000)
    args.add_argument("--rounds", type=int, default=25)
    ns = args.parse_args()
    users, rounds = (1_000, 5) if ns.smoke else (ns.users, ns.rounds)

    app = create_app(seed=False)
    started = time.perf_counter()
    load(app.state.sandbox.store, users)
    loaded_s = time.perf_counter() - started
    medians = asyncio.run(measure(app, users, rounds))
    baseline = medians.pop(BASELINE)
    figures = [limit_figure(name, ms, baseline, "ms", BUDGET_MS) for name, ms in medians.items()]
    title = f"Sandbox with {users:,} users (loaded in {loaded_s:.1f} s), median of {rounds} (baseline: {BASELINE})"
    return finish(title, figures, smoke=ns.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
