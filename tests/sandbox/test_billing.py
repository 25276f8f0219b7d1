"""Toolset `billing` in the sandbox, over HTTP: subscriptions from the seed and the harness, and the credit ledger."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from .support import ALAN, JANE, JOHN, assert_clerk_error


def adjust(client: TestClient, user_id: str, amount: int, action: str, key: str, **extra: Any) -> Any:
    return client.post(f"/v1/users/{user_id}/billing/credits", json={"amount": amount, "action": action, "idempotency_key": key, **extra})


def balance(client: TestClient, user_id: str) -> Any:
    return client.get(f"/v1/users/{user_id}/billing/credits").json()["balance"]


def test_the_seed_subscribes_jane_to_pro(client: TestClient) -> None:
    subscription = client.get(f"/v1/users/{JANE}/billing/subscription").json()
    [item] = subscription["subscription_items"]
    assert (subscription["status"], item["plan"]["slug"], item["plan_period"]) == ("active", "pro", "month")
    assert subscription["next_payment"]["amount"] == {"amount": 2000, "amount_formatted": "20.00", "currency": "USD", "currency_symbol": "$"}
    assert item["payer_id"] == subscription["payer_id"]
    assert_clerk_error(client.get(f"/v1/users/{JOHN}/billing/subscription"), 404, "subscription_not_found")
    assert_clerk_error(client.get("/v1/users/user_missing/billing/subscription"), 404, "resource_not_found")


def test_the_harness_subscribes_a_user(client: TestClient) -> None:
    given = client.post("/_sandbox/billing_subscriptions", json={"user_id": JOHN, "plan_name": "Team Plus", "fee": 4900,
                                                                  "plan_period": "annual", "status": "past_due"})
    assert given.status_code == 201, given.text
    fetched = client.get(f"/v1/users/{JOHN}/billing/subscription").json()
    assert fetched == given.json()
    item = fetched["subscription_items"][0]
    assert (item["plan"]["slug"], fetched["status"], fetched["past_due_at"] == item["period_end"]) == ("team-plus", "past_due", True)
    assert_clerk_error(client.post("/_sandbox/billing_subscriptions", json={"user_id": JOHN, "status": "paused"}), 422, "form_param_value_invalid")
    assert_clerk_error(client.post("/_sandbox/billing_subscriptions", json={"status": "active"}), 422, "form_param_missing", "user_id")


def test_credits_increase_decrease_and_never_go_below_zero(client: TestClient) -> None:
    assert balance(client, JOHN) is None  # never had credits
    assert balance(client, JANE)["amount"] == 2500  # seeded
    entry = adjust(client, JANE, 1000, "increase", "gift-1", note="sorry for the outage").json()
    assert (entry["object"], entry["amount"]["amount"], entry["note"]) == ("commerce_credit_ledger", 1000, "sorry for the outage")
    assert entry["created_at"].endswith("Z")
    taken = adjust(client, JANE, 3500, "decrease", "claw-1").json()
    assert (taken["amount"]["amount"], taken["amount"]["amount_formatted"]) == (-3500, "-35.00")
    assert balance(client, JANE) == {"amount": 0, "amount_formatted": "0.00", "currency": "USD", "currency_symbol": "$"}
    assert_clerk_error(adjust(client, JANE, 1, "decrease", "claw-2"), 422, "insufficient_credit_balance")
    assert balance(client, JANE)["amount"] == 0


def test_an_idempotency_key_applies_an_adjustment_once(client: TestClient) -> None:
    first = adjust(client, ALAN, 700, "increase", "ticket-42", currency="usd").json()
    assert first["amount"]["currency"] == "USD"
    replayed = adjust(client, ALAN, 700, "increase", "ticket-42").json()
    assert replayed == first
    assert adjust(client, ALAN, 5, "decrease", "ticket-42").json() == first  # the key decides, whatever the body says
    assert balance(client, ALAN)["amount"] == 700
    assert adjust(client, JOHN, 700, "increase", "ticket-42").json()["id"] != first["id"]  # keys are per payer


def test_bad_adjustments_change_nothing(client: TestClient) -> None:
    for body, code in (({"amount": -5}, "invalid_credit_amount"), ({"action": "gift"}, "invalid_credit_action"),
                       ({"currency": "EUR"}, "currency_invalid"), ({"amount": "5"}, "form_param_value_invalid")):
        response = client.post(f"/v1/users/{JANE}/billing/credits", json={"amount": 5, "action": "increase", "idempotency_key": "k", **body})
        assert response.status_code in (400, 422) and response.json()["errors"][0]["code"] == code
    assert_clerk_error(client.post(f"/v1/users/{JANE}/billing/credits", json={"amount": 5, "action": "increase"}),
                       422, "form_param_missing", "idempotency_key")
    assert balance(client, JANE)["amount"] == 2500


def test_a_fixture_opens_a_balance_and_a_subscription(client: TestClient) -> None:
    fixture = {"users": [{"id": "user_billed", "email_addresses": ["billed@example.com"], "credit_balance": 125,
                          "billing_subscription": {"plan_name": "Free", "fee": 0}}]}
    assert client.post("/_sandbox/seed", json=fixture).status_code == 200
    assert balance(client, "user_billed")["amount_formatted"] == "1.25"
    subscription = client.get("/v1/users/user_billed/billing/subscription").json()
    assert subscription["subscription_items"][0]["plan"]["is_default"] is True and "next_payment" not in subscription
