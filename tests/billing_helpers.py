"""Billing test helpers: balances, signed Stripe events, and the local Stripe stand-in."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.test import Client

from billing.ledger import credit_balance, credits_operator_adjust, tenant_id_for_schema
from scripts.stripe_standin import Standin, sign

WEBHOOK_SECRET = "whsec_test_secret"


def set_balance(schema: str, credits: int) -> int:
    """Bring the tenant's balance to `credits` with one operator adjustment; returns its id."""
    tenant_id = tenant_id_for_schema(schema)
    delta = credits - credit_balance(tenant_id=tenant_id)
    if delta:
        credits_operator_adjust(
            tenant_id=tenant_id, credits=delta, reason="test balance", operator="tests"
        )
    return tenant_id


def session_object(
    tenant_id: int,
    *,
    credits: int = 5,
    pack: str = "five",
    payment_status: str = "paid",
    intent: str | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    """A completed Checkout Session as Stripe sends it in an event."""
    return {
        "id": session_id or f"cs_test_{secrets.token_hex(8)}",
        "object": "checkout.session",
        "amount_total": 150000,
        "currency": "eur",
        "metadata": {"tenant_id": str(tenant_id), "pack": pack, "credits": str(credits)},
        "mode": "payment",
        "payment_intent": intent or f"pi_test_{secrets.token_hex(8)}",
        "payment_status": payment_status,
        "status": "complete",
    }


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return Standin().event(kind, obj)


def post_event(
    client: Client,
    payload: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        headers={
            "Stripe-Signature": header if header is not None else sign(body, secret, timestamp)
        },
    )
