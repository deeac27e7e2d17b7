"""Stripe's webhook, on the public host: the signature is verified on the raw body by Stripe's
library (STRIPE_WEBHOOK_SECRET, its tolerance), then each event is handled once: its id is
recorded in the same transaction as what it changes, so a duplicate (even a concurrent one) finds
the id taken and changes nothing.

Order is not guaranteed: `checkout.session.completed` may arrive after the async success it
preceded, and a refund may arrive before the payment it refunds; the payment's state and the
grant's own idempotency cover the first, and an early refund waits (StripeEvent.waiting_for)
until its payment is granted."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.ledger import credits_change, credits_take_back
from billing.models import Kind, Payment, PaymentStatus, StripeEvent

logger = logging.getLogger(__name__)

STRIPE = "stripe"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return JsonResponse({"error": "webhooks are not configured"}, status=400)
    try:
        stripe.WebhookSignature.verify_header(
            request.body.decode("utf-8"),
            request.headers.get("Stripe-Signature"),
            secret,
            settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        event = json.loads(request.body)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("stripe webhook refused: %s", exc)
        return JsonResponse({"error": "bad signature or payload"}, status=400)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return JsonResponse({"error": "not an event"}, status=400)
    outcome = event_handle(event)
    return JsonResponse({"received": True, "outcome": outcome})


HANDLED = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
)


def event_handle(event: dict[str, Any]) -> str:
    """Handle one verified event once; returns what happened (kept on the StripeEvent row)."""
    kind = str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    granted: int | None = None
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=str(event["id"]), type=kind, payload=event)
            if kind not in HANDLED:
                outcome = "ignored"
            elif kind.startswith("checkout.session."):
                outcome, granted = _checkout_event(kind, obj, record)
            else:
                outcome = _charge_event(kind, obj, record)
            StripeEvent.objects.filter(id=record.id).update(
                outcome=outcome[:300],
                tenant_id=record.tenant_id,
                waiting_for=record.waiting_for,
            )
    except IntegrityError:
        if StripeEvent.objects.filter(event_id=str(event["id"])).exists():
            return "duplicate"
        raise
    if granted is not None:
        from billing.gateway import receipt_fetch

        receipt_fetch(payment_id=granted)
        _apply_waiting(granted)
    return outcome


def _tenant_exists(tenant_id: int) -> bool:
    from tenants.models import Tenant

    return Tenant.objects.filter(id=tenant_id).exists()


def _payment_for_session(obj: dict[str, Any], record: StripeEvent) -> Payment | None:
    """The session's Payment (locked), made from its metadata if this host never saw it."""
    session_id = str(obj.get("id") or "")
    payment = Payment.objects.select_for_update().filter(checkout_session_id=session_id).first()
    if payment is not None:
        return payment
    meta = obj.get("metadata") or {}
    try:
        tenant_id, credits = int(meta["tenant_id"]), int(meta["credits"])
    except (KeyError, TypeError, ValueError):
        return None
    payment_id = str(meta.get("payment_id") or "")
    if payment_id.isdigit():
        found = Payment.objects.select_for_update().filter(id=int(payment_id), tenant_id=tenant_id)
        if (payment := found.first()) is not None:
            payment.checkout_session_id = session_id
            payment.save(update_fields=["checkout_session_id", "updated_at"])
            return payment
    return Payment.objects.create(
        tenant_id=tenant_id,
        pack=str(meta.get("pack") or ""),
        credits=credits,
        amount=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or settings.BILLING_CURRENCY),
        checkout_session_id=session_id,
        created_by=STRIPE,
    )


def _checkout_event(kind: str, obj: dict[str, Any], record: StripeEvent) -> tuple[str, int | None]:
    payment = _payment_for_session(obj, record)
    if payment is None:
        logger.warning("stripe %s for session %s: no tenant in its metadata", kind, obj.get("id"))
        return "no payment or tenant for this session", None
    record.tenant_id = payment.tenant_id
    if not _tenant_exists(payment.tenant_id):
        logger.warning(
            "stripe %s: tenant %s no longer exists; nothing granted (session %s)",
            kind,
            payment.tenant_id,
            obj.get("id"),
        )
        return f"tenant {payment.tenant_id} was deleted: nothing granted", None
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if intent and not payment.payment_intent_id:
        payment.payment_intent_id = str(intent)
    if obj.get("amount_total") is not None:
        payment.amount = int(obj["amount_total"])
    if obj.get("currency"):
        payment.currency = str(obj["currency"])
    paid = kind == "checkout.session.async_payment_succeeded" or (
        kind == "checkout.session.completed"
        and obj.get("payment_status") in ("paid", "no_payment_required")
    )
    outcome = "recorded"
    granted = None
    if paid:
        if payment.granted_at is None:
            payment.granted_at = timezone.now()
            if payment.status in (
                PaymentStatus.OPEN,
                PaymentStatus.PROCESSING,
                PaymentStatus.FAILED,
                PaymentStatus.EXPIRED,
            ):
                payment.status = PaymentStatus.PAID
            credits_change(
                tenant_id=payment.tenant_id,
                kind=Kind.PURCHASE,
                credits=payment.credits,
                reason=f"Bought {payment.credits} credits ({payment.pack})",
                actor=payment.created_by or STRIPE,
                reference=f"payment:{payment.id}",
                payment=payment,
            )
            outcome, granted = f"granted {payment.credits} credits", payment.id
        else:
            outcome = "already granted"
    elif kind == "checkout.session.completed":
        if payment.status == PaymentStatus.OPEN:
            payment.status = PaymentStatus.PROCESSING
        outcome = "payment processing"
    elif kind == "checkout.session.async_payment_failed":
        if payment.granted_at is None:
            payment.status = PaymentStatus.FAILED
            outcome = "payment failed"
        else:
            outcome = "failure after a grant: ignored"
    elif kind == "checkout.session.expired":
        if payment.status == PaymentStatus.OPEN:
            payment.status = PaymentStatus.EXPIRED
        outcome = "expired"
    payment.save()
    return outcome, granted


def _charge_event(kind: str, obj: dict[str, Any], record: StripeEvent) -> str:
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    intent = str(intent or "")
    payment = (
        Payment.objects.select_for_update()
        .filter(payment_intent_id=intent, granted_at__isnull=False)
        .first()
        if intent
        else None
    )
    if payment is None:
        record.waiting_for = intent
        return f"waiting for the payment of {intent or 'an unknown intent'}"
    record.tenant_id = payment.tenant_id
    return _take_back(kind, obj, payment)


def _take_back(kind: str, obj: dict[str, Any], payment: Payment) -> str:
    if kind == "charge.refunded":
        refunded = int(obj.get("amount_refunded") or 0)
        charged = int(obj.get("amount") or payment.amount or 1)
        share = min(1.0, refunded / charged) if charged else 1.0
        # Credits bought with the refunded share, rounded up: a partial refund takes a whole credit.
        due = min(payment.credits, math.ceil(round(share * payment.credits, 6)))
        payment.amount_refunded = max(payment.amount_refunded, refunded)
        if obj.get("receipt_url") and not payment.receipt_url:
            payment.receipt_url = str(obj["receipt_url"])
        status, what = PaymentStatus.REFUNDED, f"refund of {obj.get('id')}"
    else:
        due = payment.credits
        status, what = PaymentStatus.DISPUTED, f"dispute {obj.get('id')}"
    if not payment.tenant_id or not _tenant_exists(payment.tenant_id):
        return f"tenant {payment.tenant_id} was deleted: nothing taken back"
    owed = due - payment.credits_taken_back - payment.credits_not_recovered
    taken = spent = 0
    if owed > 0:
        _row, spent = credits_take_back(
            tenant_id=payment.tenant_id,
            up_to=owed,
            kind=Kind.REFUND,
            reason=f"Stripe {what}: {owed} credit(s) of payment {payment.id}"
            + (f", {spent} already spent" if spent else ""),
            actor=STRIPE,
            payment=payment,
        )
        taken = owed - spent
        payment.credits_taken_back += taken
        payment.credits_not_recovered += spent
    payment.status = status
    payment.save()
    if spent:
        logger.warning(
            "stripe %s: %s of payment %s's credits were already spent", what, spent, payment.id
        )
    return f"took back {taken} credit(s); {spent} already spent"


def _apply_waiting(payment_id: int) -> None:
    """Refunds and disputes that arrived before their payment was granted, applied now."""
    payment = Payment.objects.filter(id=payment_id).first()
    if payment is None or not payment.payment_intent_id:
        return
    for waiting in StripeEvent.objects.filter(waiting_for=payment.payment_intent_id).order_by("id"):
        with transaction.atomic():
            claimed = StripeEvent.objects.filter(
                id=waiting.id, waiting_for=payment.payment_intent_id
            ).update(waiting_for="")
            if claimed != 1:
                continue
            locked = Payment.objects.select_for_update().get(id=payment.id)
            obj = (waiting.payload.get("data") or {}).get("object") or {}
            outcome = _take_back(waiting.type, obj, locked)
            StripeEvent.objects.filter(id=waiting.id).update(
                outcome=f"(after its payment) {outcome}"[:300], tenant_id=locked.tenant_id
            )
