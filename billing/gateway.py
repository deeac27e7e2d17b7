"""Stripe, through its own Python client: Checkout Sessions for credit packs (create, retrieve,
expire). STRIPE_API_BASE points the client at another server (the local stand-in in development
and tests); nothing else differs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction

from billing.models import Payment, PaymentStatus

logger = logging.getLogger(__name__)


class PaymentsUnavailableError(Exception):
    """Payments are not configured, or Stripe refused or could not be reached."""


@dataclass(frozen=True)
class Pack:
    key: str
    credits: int
    amount: int  # cents
    currency: str

    @property
    def label(self) -> str:
        return f"{self.credits} report credit{'s' if self.credits != 1 else ''}"

    @property
    def price(self) -> str:
        return f"{self.currency.upper()} {self.amount / 100:,.2f}"


def packs() -> list[Pack]:
    return [
        Pack(key, p["credits"], p["amount"], settings.BILLING_CURRENCY)
        for key, p in settings.BILLING_PACKS.items()
    ]


def pack(key: str) -> Pack | None:
    return next((p for p in packs() if p.key == key), None)


def payments_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    if not payments_configured():
        raise PaymentsUnavailableError(
            "Payments are not configured on this installation: ask the operator for a voucher."
        )
    bases: dict[str, str] = {}
    if settings.STRIPE_API_BASE:
        bases = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=bases,  # type: ignore[arg-type]
        max_network_retries=1,
    )


def checkout_start(
    *, tenant_id: int, chosen: Pack, user_email: str, return_url_for: Callable[[int], str]
) -> tuple[Payment, str]:
    """A Payment row and a Stripe Checkout Session for it; returns the row and the session's URL.
    `return_url_for(payment_id)` is the payment's page on the tenant's host (success and cancel
    both come back there)."""
    client = stripe_client()
    payment = Payment.objects.create(
        tenant_id=tenant_id,
        pack=chosen.key,
        credits=chosen.credits,
        amount=chosen.amount,
        currency=chosen.currency,
        created_by=user_email,
    )
    return_url = return_url_for(payment.id)
    params: Any = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": chosen.currency,
                    "unit_amount": chosen.amount,
                    "product_data": {"name": f"FactorTrace: {chosen.label}"},
                },
            }
        ],
        "metadata": {
            "tenant_id": str(tenant_id),
            "pack": chosen.key,
            "credits": str(chosen.credits),
            "payment_id": str(payment.id),
        },
        "client_reference_id": str(payment.id),
        "customer_email": user_email or None,
        "success_url": f"{return_url}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{return_url}?cancelled=1",
    }
    params = {k: v for k, v in params.items() if v is not None}
    try:
        session = client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"payment-{payment.id}"}
        )
    except stripe.StripeError as exc:
        logger.warning("checkout session not created: %s", exc)
        Payment.objects.filter(id=payment.id).update(status=PaymentStatus.FAILED)
        raise PaymentsUnavailableError(
            "Stripe could not start the checkout; please try again in a moment."
        ) from exc
    Payment.objects.filter(id=payment.id).update(checkout_session_id=session.id)
    payment.checkout_session_id = session.id
    return payment, str(session.url)


def checkout_expire(*, payment: Payment) -> None:
    """Cancel an open checkout at Stripe, then here (only while still open)."""
    if payment.status != PaymentStatus.OPEN or not payment.checkout_session_id:
        return
    try:
        stripe_client().v1.checkout.sessions.expire(payment.checkout_session_id)
    except stripe.InvalidRequestError as exc:
        # Already completed or expired at Stripe: its webhook tells what happened.
        logger.info("checkout %s not expired: %s", payment.checkout_session_id, exc)
        return
    except stripe.StripeError as exc:
        raise PaymentsUnavailableError("Stripe could not be reached; try again.") from exc
    with transaction.atomic():
        Payment.objects.filter(id=payment.id, status=PaymentStatus.OPEN).update(
            status=PaymentStatus.EXPIRED
        )


def receipt_fetch(*, payment_id: int) -> None:
    """The receipt link of a paid checkout (its charge's receipt_url), read after the grant; a
    failure leaves the link empty and changes nothing else."""
    payment = Payment.objects.filter(id=payment_id).first()
    if payment is None or not payment.checkout_session_id or not payments_configured():
        return
    try:
        session = stripe_client().v1.checkout.sessions.retrieve(
            payment.checkout_session_id,
            params={"expand": ["payment_intent.latest_charge"]},
        )
    except stripe.StripeError as exc:
        logger.warning("receipt of %s not read: %s", payment.checkout_session_id, exc)
        return
    data: dict[str, Any] = session.to_dict(recursive=True)
    intent: Any = data.get("payment_intent")
    charge: Any = intent.get("latest_charge") if isinstance(intent, dict) else None
    fields: dict[str, str] = {}
    if isinstance(charge, dict):
        fields["charge_id"] = str(charge.get("id") or "")
        fields["receipt_url"] = str(charge.get("receipt_url") or "")
    invoice: Any = data.get("invoice")
    if isinstance(invoice, dict) and invoice.get("hosted_invoice_url"):
        fields["invoice_url"] = str(invoice["hosted_invoice_url"])
    if fields:
        Payment.objects.filter(id=payment.id).update(**fields)
