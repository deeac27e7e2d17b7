"""Buying credits through Stripe Checkout, with the real `stripe` client pointed at the local
stand-in (scripts/stripe_standin.py): the session it creates, the hosted page, the signed events
it sends back through the webhook, expiry, and Stripe's error format."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener, urlopen

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from billing import gateway
from billing.ledger import credit_balance, tenant_id_for_schema
from billing.models import Payment, PaymentStatus
from scripts.stripe_standin import Standin, serve
from tests.billing_helpers import WEBHOOK_SECRET, post_event, set_balance


@pytest.fixture(scope="module")
def standin() -> Iterator[Standin]:
    server_state = Standin(webhook_secret=WEBHOOK_SECRET, webhook_delay=0)
    server = serve(server_state)
    yield server_state
    server.shutdown()


@pytest.fixture
def stripe_on(settings: Any, standin: Standin, tenants: dict[str, object], db: None) -> Standin:
    settings.STRIPE_SECRET_KEY = standin.api_key
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = standin.base
    standin.sent.clear()
    return standin


def _wait_for_events(standin: Standin, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(standin.sent) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(standin.sent)


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def _pay(standin: Standin, session_id: str) -> str:
    """Press "Pay" on the hosted page; returns where it sends the customer."""
    paid = Request(f"{standin.base}/pay/{session_id}", data=b"method=card", method="POST")  # noqa: S310
    with pytest.raises(HTTPError) as redirected:
        build_opener(_NoRedirect).open(paid)
    return str(redirected.value.headers["Location"])


def _buy(alice: Client, standin: Standin, pack: str = "five") -> tuple[Payment, str]:
    response = alice.post(reverse("billing_buy"), {"pack": pack})
    assert response.status_code == 302, response.content
    location = response["Location"]
    assert location.startswith(f"{standin.base}/pay/cs_test_"), location
    session_id = location.rsplit("/", 1)[1]
    return Payment.objects.get(checkout_session_id=session_id), session_id


def test_an_owner_buys_a_pack_and_the_webhook_grants_it(
    alice: Client, stripe_on: Standin, settings: Any
) -> None:
    acme = tenant_id_for_schema("acme")
    set_balance("acme", 1)
    payment, session_id = _buy(alice, stripe_on)
    session = stripe_on.sessions[session_id]
    assert session["mode"] == "payment"
    assert session["metadata"]["tenant_id"] == str(acme)
    assert session["metadata"]["pack"] == "five"
    assert session["amount_total"] == settings.BILLING_PACKS["five"]["amount"]
    for key in ("success_url", "cancel_url"):
        assert urlsplit(session[key]).hostname == "acme.localhost", session[key]
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    assert (payment.status, payment.credits, payment.created_by) == (
        PaymentStatus.OPEN,
        5,
        "alice@acme.example",
    )

    with urlopen(f"{stripe_on.base}/pay/{session_id}") as page:  # noqa: S310 - local stand-in
        assert b"Pay EUR 1,500.00" in page.read()
    back = _pay(stripe_on, session_id)
    assert parse_qs(urlsplit(back).query)["session_id"] == [session_id]
    assert urlsplit(back).path == reverse("billing_payment", args=[payment.id])

    # Back on the success page before the webhook: nothing granted, the page keeps asking.
    waiting = alice.get(urlsplit(back).path + "?" + urlsplit(back).query).content.decode()
    assert "Payment received, credits arrive in a moment" in waiting
    assert 'hx-trigger="every 2s"' in waiting
    assert credit_balance(tenant_id=acme) == 1

    (completed,) = _wait_for_events(stripe_on, 1)
    assert completed["type"] == "checkout.session.completed"
    response = post_event(Client(HTTP_HOST="localhost"), completed)
    assert response.json()["outcome"] == "granted 5 credits"
    assert credit_balance(tenant_id=acme) == 6
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    # The receipt link, read back from the stand-in's charge after the grant.
    assert payment.receipt_url == f"{stripe_on.base}/receipts/{session_id}"
    partial = alice.get(
        reverse("billing_payment", args=[payment.id]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "5 credits added" in partial
    assert "<h1>" not in partial  # only the fragment
    assert "hx-trigger" not in partial  # settled: no more polling

    # The refund the stand-in sends takes the five unused credits back.
    refund_url = f"{stripe_on.base}/_standin/sessions/{session_id}/refund"
    urlopen(Request(refund_url, data=b"", method="POST")).close()  # noqa: S310 - local stand-in
    refund = _wait_for_events(stripe_on, 2)[1]
    assert refund["type"] == "charge.refunded"
    post_event(Client(HTTP_HOST="localhost"), refund)
    assert credit_balance(tenant_id=acme) == 1


def test_an_owner_cancels_an_open_checkout(alice: Client, stripe_on: Standin) -> None:
    payment, session_id = _buy(alice, stripe_on, "one")
    page = alice.get(reverse("billing_payment", args=[payment.id]) + "?cancelled=1")
    assert "You left the checkout without paying." in page.content.decode()
    response = alice.post(reverse("billing_payment_cancel", args=[payment.id]), follow=True)
    assert "The checkout was cancelled" in response.content.decode()
    assert stripe_on.sessions[session_id]["status"] == "expired"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    (expired,) = _wait_for_events(stripe_on, 1)
    assert expired["type"] == "checkout.session.expired"
    assert post_event(Client(HTTP_HOST="localhost"), expired).json()["outcome"] == "expired"


def test_a_viewer_cannot_buy_and_an_unknown_pack_is_refused(
    bob: Client, alice: Client, stripe_on: Standin
) -> None:
    assert bob.post(reverse("billing_buy"), {"pack": "five"}).status_code == 403
    response = alice.post(reverse("billing_buy"), {"pack": "million"}, follow=True)
    assert "Choose one of the credit packs." in response.content.decode()
    assert stripe_on.sessions == {} or all(
        s["metadata"].get("pack") != "million" for s in stripe_on.sessions.values()
    )


def test_stripe_errors_reach_the_client_in_stripes_format(
    alice: Client, stripe_on: Standin, settings: Any
) -> None:
    client = gateway.stripe_client()
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError, match="line_items"):
        client.v1.checkout.sessions.create(
            params={"mode": "payment", "success_url": "http://a.b/", "cancel_url": "http://a.b/"}
        )
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    with pytest.raises(stripe.AuthenticationError):
        gateway.stripe_client().v1.checkout.sessions.retrieve("cs_test_nope")
    response = alice.post(reverse("billing_buy"), {"pack": "one"}, follow=True)
    assert "Stripe could not start the checkout" in response.content.decode()
    assert Payment.objects.filter(status=PaymentStatus.FAILED).exists()
