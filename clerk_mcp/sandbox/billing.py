"""Toolset `billing` in the sandbox: a user's billing subscription and credit balance.

No Backend API call subscribes a user (checkout happens in Clerk's frontend), so subscriptions come from the
fixture (`billing_subscription` on a user, SEED.md) and from the harness (`POST /_sandbox/billing_subscriptions`).
Credits are a ledger (store table `credit_ledger`, cents, negative for a decrease) whose sum is the balance; the
seed may open it (`credit_balance`), `POST /v1/users/{id}/billing/credits` adjusts it. Clerk's rules, from the spec
(AdjustCreditBalanceRequest, CommerceCreditBalanceResponse) and the catalogue (clerk/clerk-docs
data/api_errors.json @ a7cebf5): an amount of 0 or less is `InvalidCreditAmount`, an action other than
increase/decrease `InvalidCreditAction`, a decrease beyond the balance `InsufficientCreditBalance` (all 422), an
unsupported currency `CurrencyInvalid` (400); "Repeated requests with the same key return the original ledger
entry"; the balance is "Null when the payer has never had credits". Choices are listed in FIDELITY.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .errors import ClerkError, param_missing, param_value
from .handlers import Call, checked_body
from .store import Store, new_id

# The sandbox's one instance, as subscriptions name it.
INSTANCE_ID = "ins_sandbox000000000000000000000"
# The currencies Clerk Billing charges in, with their symbols ("Defaults to USD if not provided").
CURRENCIES = {"USD": "$"}
DAY_MS = 86_400_000
PERIOD_MS = {"month": 30 * DAY_MS, "annual": 365 * DAY_MS}

ADJUST_FIELDS = {"amount": "integer", "action": "string", "currency": "string", "idempotency_key": "string", "note": "string"}
# A subscription as the fixture and the harness give it (timestamps Unix ms; `fee` in cents per period).
SUBSCRIPTION_FIELDS = {
    "plan_name": "string", "plan_slug": "string", "fee": "integer", "plan_period": "string", "status": "string",
    "created_at": "integer", "period_start": "integer",
}
SUBSCRIPTION_STATUSES = ("active", "past_due", "canceled", "ended", "abandoned", "incomplete")


def money(cents: int, currency: str = "USD") -> dict[str, Any]:
    """A CommerceMoneyResponse: `amount_formatted` is the amount without symbol ("25.00", "-3.50"), as clerk-js
    prints `${currencySymbol}${amountFormatted}` (clerk/javascript packages/ui/src/localization/useCurrencyFormatter.ts)."""
    sign = "-" if cents < 0 else ""
    return {"amount": cents, "amount_formatted": f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}",
            "currency": currency, "currency_symbol": CURRENCIES[currency]}


def _payer(store: Store, user_id: str) -> sqlite3.Row:
    """The user's payer, made on first use (Clerk's payer of a user), with an id of its own."""
    rows = store.rows("SELECT * FROM billing_payers WHERE user_id = ?", (user_id,))
    if rows:
        return rows[0]
    store.insert("billing_payers", {"user_id": user_id, "id": new_id("cpayer"), "subscription": None, "created_at": store.clock()})
    return _payer(store, user_id)


# -- subscriptions -----------------------------------------------------------------------------------------------------

def subscribe(store: Store, user_id: str, given: dict[str, Any]) -> dict[str, Any]:
    """Give a user a subscription to one plan (fixture or harness), replacing any they had; returns it rendered."""
    given = checked_body(Call(body=given), SUBSCRIPTION_FIELDS)
    user_id = store.user(user_id)["id"]
    status = given.get("status", "active")
    if status not in SUBSCRIPTION_STATUSES:
        raise param_value("status", status, f"must be one of {', '.join(SUBSCRIPTION_STATUSES)}.")
    period = given.get("plan_period", "month")
    if period not in PERIOD_MS:
        raise param_value("plan_period", period, "must be month or annual.")
    if given.get("fee", 0) < 0:
        raise param_value("fee", given["fee"], "must be 0 (a free plan) or more cents.")
    now = store.clock()
    name = given.get("plan_name", "Pro")
    subscription = {
        "id": new_id("csub"), "item_id": new_id("csubi"), "plan_id": new_id("cplan"), "plan_name": name,
        "plan_slug": given.get("plan_slug", name.lower().replace(" ", "-")), "fee": given.get("fee", 2000),
        "plan_period": period, "status": status, "created_at": given.get("created_at", now),
        "period_start": given.get("period_start", given.get("created_at", now)),
    }
    payer = _payer(store, user_id)
    store.db.execute("UPDATE billing_payers SET subscription = ? WHERE user_id = ?", (json.dumps(subscription), user_id))
    return _subscription_json(payer["id"], subscription)


def _subscription_json(payer_id: str, s: dict[str, Any]) -> dict[str, Any]:
    """A CommerceSubscription with its one item and plan, every required field of the spec's schemas present."""
    fee = s["fee"]
    period_end = s["period_start"] + PERIOD_MS[s["plan_period"]] if fee else None
    status = s["status"]
    started = status not in ("incomplete", "abandoned")
    past_due_at = period_end if status == "past_due" else None
    annual = fee * 10
    plan = {
        "object": "commerce_plan", "id": s["plan_id"], "name": s["plan_name"], "fee": money(fee),
        "annual_monthly_fee": money(annual // 12) if fee else None, "annual_fee": money(annual) if fee else None,
        "description": None, "product_id": "prod_sandbox", "is_default": fee == 0, "is_recurring": fee > 0,
        "publicly_visible": True, "has_base_fee": fee > 0, "for_payer_type": "user", "slug": s["plan_slug"],
        "avatar_url": None, "features": [], "free_trial_enabled": False, "free_trial_days": None,
    }
    next_payment = {"date": period_end, "amount": money(annual if s["plan_period"] == "annual" else fee)} if status == "active" and fee else None
    item = {
        "object": "commerce_subscription_item", "id": s["item_id"], "instance_id": INSTANCE_ID, "status": status,
        "plan_id": s["plan_id"], "plan": plan, "plan_period": s["plan_period"], "payer_id": payer_id, "is_free_trial": False,
        "period_start": s["period_start"], "period_end": period_end,
        "canceled_at": s["created_at"] if status == "canceled" else None, "past_due_at": past_due_at,
        "ended_at": period_end if status == "ended" else None, "next_payment": next_payment,
        "created_at": s["created_at"], "updated_at": s["created_at"],
    }
    subscription = {
        "object": "commerce_subscription", "id": s["id"], "instance_id": INSTANCE_ID, "status": status, "payer_id": payer_id,
        "created_at": s["created_at"], "updated_at": s["created_at"], "active_at": s["period_start"] if started else None,
        "past_due_at": past_due_at, "subscription_items": [item], "eligible_for_free_trial": False,
    }
    return subscription | ({"next_payment": next_payment} if next_payment else {})


def get_user_billing_subscription(store: Store, call: Call) -> Any:
    """A user no subscription was given to has none: 404 `SubscriptionNotFound`."""
    user_id = store.user(call.path["user_id"])["id"]
    rows = store.rows("SELECT * FROM billing_payers WHERE user_id = ? AND subscription IS NOT NULL", (user_id,))
    if not rows:
        raise ClerkError("SubscriptionNotFound")
    return _subscription_json(rows[0]["id"], json.loads(rows[0]["subscription"]))


# -- credits -----------------------------------------------------------------------------------------------------------

def _balance(store: Store, user_id: str) -> int | None:
    (total,) = store.rows("SELECT sum(amount) FROM credit_ledger WHERE user_id = ?", (user_id,))[0]
    return total


def _ledger_json(entry: sqlite3.Row, payer_id: str) -> dict[str, Any]:
    created = datetime.fromtimestamp(entry["created_at"] / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "object": "commerce_credit_ledger", "id": entry["id"], "payer_id": payer_id, "amount": money(entry["amount"], entry["currency"]),
        "source_type": "grant", "source_id": entry["source_id"], "note": entry["note"], "created_at": created,
    }


def grant(store: Store, user_id: str, cents: int, *, key: str, note: str | None = None, currency: str = "USD") -> sqlite3.Row:
    """Record one ledger entry (signed cents) for the user's payer."""
    entry = {
        "id": new_id("ccl"), "user_id": user_id, "amount": cents, "currency": currency, "idempotency_key": key,
        "note": note, "source_id": new_id("cgrant"), "created_at": store.clock(),
    }
    store.insert("credit_ledger", entry)
    return store.rows("SELECT * FROM credit_ledger WHERE id = ?", (entry["id"],))[0]


def get_user_billing_credit_balance(store: Store, call: Call) -> Any:
    user_id = store.user(call.path["user_id"])["id"]
    total = _balance(store, user_id)
    return {"object": "commerce_credit_balance", "balance": None if total is None else money(total)}


def adjust_user_billing_credit_balance(store: Store, call: Call) -> Any:
    """Validate, then replay an earlier entry with the same idempotency key (whatever this body says), else record one."""
    user_id = store.user(call.path["user_id"])["id"]
    body = checked_body(call, ADJUST_FIELDS, required=("amount", "action", "idempotency_key"))
    if body["amount"] <= 0:
        raise ClerkError("InvalidCreditAmount")
    if body["action"] not in ("increase", "decrease"):
        raise ClerkError("InvalidCreditAction")
    currency = body.get("currency", "USD").upper()
    if currency not in CURRENCIES:
        raise ClerkError("CurrencyInvalid")
    if not body["idempotency_key"]:
        raise param_missing("idempotency_key")
    payer_id = _payer(store, user_id)["id"]
    earlier = store.rows("SELECT * FROM credit_ledger WHERE user_id = ? AND idempotency_key = ?", (user_id, body["idempotency_key"]))
    if earlier:
        return _ledger_json(earlier[0], payer_id)
    cents = body["amount"] if body["action"] == "increase" else -body["amount"]
    if cents < 0 and body["amount"] > (_balance(store, user_id) or 0):
        raise ClerkError("InsufficientCreditBalance")
    return _ledger_json(grant(store, user_id, cents, key=body["idempotency_key"], note=body.get("note"), currency=currency), payer_id)


HANDLERS: dict[str, Callable[[Store, Call], Any]] = {
    handler.__name__: handler
    for handler in (get_user_billing_subscription, get_user_billing_credit_balance, adjust_user_billing_credit_balance)
}
