"""Credits: the ledger and its balance, reports consuming and giving back credits, vouchers, the
Stripe webhook (signature, idempotency, order, refunds and disputes), the Billing page and the
operator's dashboard. Races against committed rows are in test_billing_races.py; checkout through
the local Stripe stand-in in test_billing_checkout.py."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.ledger import (
    NoCreditsError,
    credit_balance,
    credit_consume_for_report,
    credit_return_for_report,
    credits_change,
    credits_trial_grant,
    tenant_id_for_schema,
)
from billing.models import (
    CreditBalance,
    CreditTransaction,
    Kind,
    Payment,
    PaymentStatus,
    StripeEvent,
    Voucher,
)
from billing.vouchers import VoucherError, voucher_redeem
from tests.billing_helpers import (
    WEBHOOK_SECRET,
    event,
    post_event,
    session_object,
    set_balance,
)
from tests.report_helpers import ESRS_DIR, VSME_JSON, seed_tenant

PUBLIC_URLCONF = "factortrace.urls_public"


@pytest.fixture
def webhook(settings: Any, tenants: dict[str, object], db: None) -> Client:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def acme_id(tenants: dict[str, object], db: None) -> int:
    return tenant_id_for_schema("acme")


# ---- the ledger ---------------------------------------------------------------------------------


def test_it_starts_a_new_tenant_with_its_trial_credit_once(acme_id: int) -> None:
    assert CreditTransaction.objects.filter(
        tenant_id=acme_id, kind=Kind.GRANT, reference="trial"
    ).exists()
    assert credits_trial_grant(tenant_id=acme_id) is False  # once per tenant


def test_it_changes_the_balance_only_with_a_ledger_row(acme_id: int) -> None:
    set_balance("acme", 2)
    before = CreditTransaction.objects.filter(tenant_id=acme_id).count()
    row = credits_change(
        tenant_id=acme_id, kind=Kind.GRANT, credits=3, reason="goodwill", actor="ops"
    )
    assert (row.balance_after, credit_balance(tenant_id=acme_id)) == (5, 5)
    with pytest.raises(NoCreditsError):
        credits_change(tenant_id=acme_id, kind=Kind.CONSUME, credits=-6, reason="x", actor="y")
    assert credit_balance(tenant_id=acme_id) == 5
    assert CreditTransaction.objects.filter(tenant_id=acme_id).count() == before + 1


def test_the_database_refuses_a_negative_balance_and_ledger_edits(acme_id: int) -> None:
    set_balance("acme", 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditBalance.objects.filter(tenant_id=acme_id).update(credits=-1)
    row = CreditTransaction.objects.filter(tenant_id=acme_id).first()
    assert row is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CreditTransaction.objects.filter(id=row.id).update(credits=100)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CreditTransaction.objects.filter(id=row.id).delete()


def test_it_gives_a_reports_credit_back_once(acme_id: int) -> None:
    set_balance("acme", 1)
    credit_consume_for_report(schema_name="acme", report_id=424242, actor="alice@acme.example")
    assert credit_balance(tenant_id=acme_id) == 0
    with pytest.raises(NoCreditsError):
        credit_consume_for_report(schema_name="acme", report_id=424243, actor="x")
    assert credit_return_for_report(schema_name="acme", report_id=424242, reason="boom")
    assert not credit_return_for_report(schema_name="acme", report_id=424242, reason="again")
    assert not credit_return_for_report(schema_name="acme", report_id=999, reason="never paid")
    assert credit_balance(tenant_id=acme_id) == 1


# ---- reports consume credits --------------------------------------------------------------------


@pytest.fixture
def period(tenants: dict[str, object], db: None, settings: Any, monkeypatch: Any) -> Any:
    from reporting import services

    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)
    settings.JOBS_IN_PROCESS = True
    monkeypatch.setattr(services, "_packages", lambda regime_key: ())  # no Arelle here
    return seed_tenant()


def test_a_report_consumes_one_credit_and_none_left_creates_nothing(
    period: Any, acme_id: int, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from reporting import services
    from reporting.models import Report, ReportStatus

    set_balance("acme", 1)
    with schema_context("acme"):
        with django_capture_on_commit_callbacks(execute=True):
            report = services.report_request(user=None, period_id=period.id, regime_key="vsme")
        report.refresh_from_db()
        assert report.status == ReportStatus.DONE, report.error
        assert credit_balance(tenant_id=acme_id) == 0
        consumed = CreditTransaction.objects.get(tenant_id=acme_id, kind=Kind.CONSUME)
        assert (consumed.report_id, consumed.credits) == (report.id, -1)
        with pytest.raises(services.ReportError, match="No report credits left"):
            services.report_request(user=None, period_id=period.id, regime_key="vsme")
        assert Report.objects.count() == 1  # nothing half-made


def test_a_failed_generation_gives_the_credit_back(
    period: Any, acme_id: int, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.models import OrganisationProfile
    from reporting import services
    from reporting.models import ReportStatus

    set_balance("acme", 1)
    with schema_context("acme"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            report = services.report_request(user=None, period_id=period.id, regime_key="vsme")
        assert credit_balance(tenant_id=acme_id) == 0
        OrganisationProfile.objects.all().delete()  # the job will fail on it
        for callback in callbacks:
            callback()
        report.refresh_from_db()
        assert report.status == ReportStatus.FAILED
        assert credit_balance(tenant_id=acme_id) == 1
        # A worker that dies after the job already failed changes nothing more.
        services.report_generate_failed(report_id=report.id, reason="horse died")
        assert credit_balance(tenant_id=acme_id) == 1


def test_a_killed_worker_gives_the_credit_back(
    period: Any, acme_id: int, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from reporting import services

    set_balance("acme", 1)
    with schema_context("acme"):
        with django_capture_on_commit_callbacks(execute=False):
            report = services.report_request(user=None, period_id=period.id, regime_key="vsme")
        services.report_generate_failed(report_id=report.id, reason="work-horse killed")
        services.report_generate_failed(report_id=report.id, reason="called twice")
    assert credit_balance(tenant_id=acme_id) == 1


def test_the_reports_page_says_when_no_credit_is_left(period: Any, alice: Client) -> None:
    set_balance("acme", 0)
    response = alice.post(
        "/reports/", {"regime": "vsme", "period": period.id, "formats": ["pdf"]}, follow=True
    )
    assert "No report credits left" in response.content.decode()
    with schema_context("acme"):
        from reporting.models import Report

        assert Report.objects.count() == 0


# ---- vouchers -----------------------------------------------------------------------------------


def _voucher(code: str, **fields: Any) -> Voucher:
    return Voucher.objects.create(code=code, credits=fields.pop("credits", 3), **fields)


def test_it_redeems_a_voucher_once_per_tenant(acme_id: int) -> None:
    set_balance("acme", 0)
    _voucher("FT-MULTI", max_redemptions=5)
    row = voucher_redeem(tenant_id=acme_id, code=" ft-multi ", user_email="alice@acme.example")
    assert (row.kind, row.credits, row.balance_after) == (Kind.VOUCHER, 3, 3)
    with pytest.raises(VoucherError, match="already redeemed"):
        voucher_redeem(tenant_id=acme_id, code="FT-MULTI", user_email="alice@acme.example")
    globex = tenant_id_for_schema("globex")
    voucher_redeem(tenant_id=globex, code="FT-MULTI", user_email="charlie@globex.example")
    assert Voucher.objects.get(code="FT-MULTI").redemptions == 2
    assert credit_balance(tenant_id=acme_id) == 3


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("FT-OLD", "expired on"),
        ("FT-USED", "used up"),
        ("FT-NOPE", "not a valid voucher"),
        ("FT-OFF", "not a valid voucher"),
    ],
)
def test_it_refuses_an_expired_used_up_or_unknown_voucher(
    acme_id: int, code: str, message: str
) -> None:
    _voucher("FT-OLD", expires_at=timezone.now() - dt.timedelta(days=1))
    used = _voucher("FT-USED", max_redemptions=1)
    voucher_redeem(
        tenant_id=tenant_id_for_schema("globex"), code=used.code, user_email="c@globex.example"
    )
    _voucher("FT-OFF", active=False)
    before = credit_balance(tenant_id=acme_id)
    count = CreditTransaction.objects.count()
    with pytest.raises(VoucherError, match=message):
        voucher_redeem(tenant_id=acme_id, code=code, user_email="alice@acme.example")
    assert credit_balance(tenant_id=acme_id) == before
    assert CreditTransaction.objects.count() == count


def test_an_owner_redeems_on_the_billing_page_and_sees_the_balance(
    alice: Client, acme_id: int
) -> None:
    set_balance("acme", 1)
    _voucher("FT-PAGE-TEST", credits=4)
    response = alice.post(reverse("billing_redeem"), {"code": "ft-page-test"}, follow=True)
    text = response.content.decode()
    assert "4 credits added. Balance: 5." in text
    assert '<strong id="balance">5</strong>' in text
    response = alice.post(reverse("billing_redeem"), {"code": "FT-WHAT"}, follow=True)
    assert "The code FT-WHAT is not a valid voucher." in response.content.decode()


def test_the_billing_page_says_payments_are_not_configured(
    alice: Client, settings: Any, acme_id: int
) -> None:
    settings.STRIPE_SECRET_KEY = ""
    page = alice.get(reverse("billing")).content.decode()
    assert "Payments are not configured" in page
    response = alice.post(reverse("billing_buy"), {"pack": "five"}, follow=True)
    assert response.status_code == 200
    assert "Payments are not configured" in response.content.decode()
    assert not Payment.objects.filter(tenant_id=acme_id).exists()


def test_a_tenant_sees_only_its_own_ledger_and_payments(alice: Client, acme_id: int) -> None:
    globex = tenant_id_for_schema("globex")
    credits_change(
        tenant_id=globex, kind=Kind.GRANT, credits=7, reason="globex-only grant", actor="ops"
    )
    Payment.objects.create(
        tenant_id=globex,
        pack="twenty",
        credits=20,
        amount=123456,
        currency="eur",
        checkout_session_id="cs_test_globex_secret",
        status=PaymentStatus.PAID,
    )
    page = alice.get(reverse("billing")).content.decode()
    assert "globex-only grant" not in page
    assert "EUR 1,234.56" not in page


# ---- the webhook --------------------------------------------------------------------------------


def test_it_refuses_a_bad_signature_and_records_nothing(webhook: Client, acme_id: int) -> None:
    payload = event("checkout.session.completed", session_object(acme_id))
    before = (StripeEvent.objects.count(), CreditTransaction.objects.count())
    assert post_event(webhook, payload, secret="whsec_wrong").status_code == 400
    assert post_event(webhook, payload, header="t=1,v1=deadbeef").status_code == 400
    assert post_event(webhook, payload, header="").status_code == 400
    assert webhook.post("/stripe/webhook/", data="{}", content_type="x").status_code == 400
    assert (StripeEvent.objects.count(), CreditTransaction.objects.count()) == before


def test_it_refuses_a_stale_timestamp(webhook: Client, acme_id: int) -> None:
    payload = event("checkout.session.completed", session_object(acme_id))
    stale = int(time.time()) - 301
    assert post_event(webhook, payload, timestamp=stale).status_code == 400
    assert not StripeEvent.objects.filter(event_id=payload["id"]).exists()


def test_it_grants_a_paid_checkout_once(webhook: Client, acme_id: int) -> None:
    set_balance("acme", 0)
    session = session_object(acme_id, credits=5)
    payload = event("checkout.session.completed", session)
    response = post_event(webhook, payload)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "granted 5 credits"
    assert post_event(webhook, payload).json()["outcome"] == "duplicate"
    # A different event about the same session grants nothing more.
    again = event("checkout.session.async_payment_succeeded", session)
    assert post_event(webhook, again).json()["outcome"] == "already granted"
    assert credit_balance(tenant_id=acme_id) == 5
    payment = Payment.objects.get(checkout_session_id=session["id"])
    assert (payment.status, payment.amount, payment.currency) == ("paid", 150000, "eur")
    assert payment.payment_intent_id == session["payment_intent"]
    purchase = CreditTransaction.objects.get(tenant_id=acme_id, kind=Kind.PURCHASE)
    assert purchase.payment_id == payment.id


def test_it_handles_events_out_of_order(webhook: Client, acme_id: int) -> None:
    set_balance("acme", 0)
    session = session_object(acme_id, credits=5, payment_status="unpaid")
    # The bank confirms before Stripe's "completed (unpaid)" arrives.
    paid = {**session, "payment_status": "paid"}
    assert post_event(webhook, event("checkout.session.async_payment_succeeded", paid)).json()[
        "outcome"
    ] == ("granted 5 credits")
    late = post_event(webhook, event("checkout.session.completed", session)).json()
    assert late["outcome"] == "payment processing"
    assert Payment.objects.get(checkout_session_id=session["id"]).status == PaymentStatus.PAID
    assert credit_balance(tenant_id=acme_id) == 5

    # A delayed payment that fails grants nothing.
    failing = session_object(acme_id, payment_status="unpaid")
    post_event(webhook, event("checkout.session.completed", failing))
    post_event(webhook, event("checkout.session.async_payment_failed", failing))
    assert Payment.objects.get(checkout_session_id=failing["id"]).status == PaymentStatus.FAILED
    assert credit_balance(tenant_id=acme_id) == 5


def _charge(session: dict[str, Any], refunded: int) -> dict[str, Any]:
    return {
        "id": "ch_test_1",
        "object": "charge",
        "amount": 150000,
        "amount_refunded": refunded,
        "payment_intent": session["payment_intent"],
        "receipt_url": "https://pay.stripe.com/receipts/x",
    }


def test_a_refund_takes_back_only_unused_credits(webhook: Client, acme_id: int) -> None:
    set_balance("acme", 0)
    session = session_object(acme_id, credits=5)
    post_event(webhook, event("checkout.session.completed", session))
    credits_change(tenant_id=acme_id, kind=Kind.CONSUME, credits=-3, reason="3 reports", actor="a")
    outcome = post_event(webhook, event("charge.refunded", _charge(session, 150000))).json()
    assert outcome["outcome"] == "took back 2 credit(s); 3 already spent"
    assert credit_balance(tenant_id=acme_id) == 0
    payment = Payment.objects.get(checkout_session_id=session["id"])
    assert (payment.status, payment.credits_taken_back, payment.credits_not_recovered) == (
        PaymentStatus.REFUNDED,
        2,
        3,
    )
    # The same refund again (another event id) takes nothing more.
    post_event(webhook, event("charge.refunded", _charge(session, 150000)))
    assert credit_balance(tenant_id=acme_id) == 0
    assert CreditTransaction.objects.filter(tenant_id=acme_id, payment=payment).count() == 2


def test_a_partial_refund_and_a_dispute(webhook: Client, acme_id: int) -> None:
    set_balance("acme", 0)
    session = session_object(acme_id, credits=5)
    post_event(webhook, event("checkout.session.completed", session))
    post_event(webhook, event("charge.refunded", _charge(session, 30000)))  # a fifth
    assert credit_balance(tenant_id=acme_id) == 4
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": session["payment_intent"]}
    post_event(webhook, event("charge.dispute.created", dispute))
    assert credit_balance(tenant_id=acme_id) == 0
    payment = Payment.objects.get(checkout_session_id=session["id"])
    assert (payment.status, payment.credits_taken_back) == (PaymentStatus.DISPUTED, 5)


def test_a_refund_before_its_payment_waits_for_it(webhook: Client, acme_id: int) -> None:
    set_balance("acme", 0)
    session = session_object(acme_id, credits=5)
    early = post_event(webhook, event("charge.refunded", _charge(session, 150000))).json()
    assert early["outcome"].startswith("waiting for the payment")
    post_event(webhook, event("checkout.session.completed", session))
    assert credit_balance(tenant_id=acme_id) == 0
    assert Payment.objects.get(checkout_session_id=session["id"]).status == "refunded"


def test_a_checkout_for_a_deleted_tenant_is_logged_not_a_crash(
    webhook: Client, caplog: pytest.LogCaptureFixture
) -> None:
    payload = event("checkout.session.completed", session_object(987654))
    with caplog.at_level(logging.WARNING, logger="billing.webhooks"):
        response = post_event(webhook, payload)
    assert response.status_code == 200
    assert "was deleted" in response.json()["outcome"]
    assert any("no longer exists" in r.getMessage() for r in caplog.records)
    assert not CreditTransaction.objects.filter(tenant_id=987654).exists()
    assert StripeEvent.objects.filter(event_id=payload["id"]).exists()


def test_it_ignores_other_event_types_and_sessions_without_a_tenant(
    webhook: Client, acme_id: int
) -> None:
    assert post_event(webhook, event("customer.created", {"id": "cus_1"})).json() == {
        "received": True,
        "outcome": "ignored",
    }
    bare = {**session_object(acme_id), "metadata": {}}
    response = post_event(webhook, event("checkout.session.completed", bare))
    assert response.status_code == 200
    assert response.json()["outcome"] == "no payment or tenant for this session"


def test_the_webhook_is_only_on_the_public_host(alice: Client) -> None:
    assert alice.post(
        "/stripe/webhook/", data="{}", content_type="application/json"
    ).status_code in {
        403,
        404,
    }


# ---- the operator's dashboard -------------------------------------------------------------------


@pytest.fixture
def operator(tenants: dict[str, object], db: None) -> Client:
    from accounts.models import User

    with schema_context("public"):
        user = User.objects.create_superuser("ops@factortrace.example", "o" * 12, full_name="Ops")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_the_operator_sees_balances_and_grants_with_a_reason(
    operator: Client, acme_id: int
) -> None:
    set_balance("acme", 2)
    credits_change(tenant_id=acme_id, kind=Kind.CONSUME, credits=-1, reason="r", actor="a")
    url = reverse("admin:billing_tenantaccount_changelist", urlconf=PUBLIC_URLCONF)
    page = operator.get(url)
    assert page.status_code == 200
    assert "Reports, last 30 days" in page.content.decode()
    form = operator.post(url, {"action": "grant_credits", "_selected_action": [acme_id]})
    assert "Grant credits" in form.content.decode()
    done = operator.post(
        url,
        {
            "action": "grant_credits",
            "_selected_action": [acme_id],
            "apply": "1",
            "credits": "3",
            "reason": "Goodwill after an outage",
        },
    )
    assert done.status_code == 302
    row = CreditTransaction.objects.filter(tenant_id=acme_id).first()
    assert row is not None
    assert (row.kind, row.credits, row.actor, row.reason) == (
        Kind.ADJUSTMENT,
        3,
        "ops@factortrace.example",
        "Goodwill after an outage",
    )
    assert credit_balance(tenant_id=acme_id) == 4
    for name in (
        "admin:billing_payment_changelist",
        "admin:billing_voucher_add",
        "admin:billing_credittransaction_changelist",
        "admin:billing_stripeevent_changelist",
    ):
        assert operator.get(reverse(name, urlconf=PUBLIC_URLCONF)).status_code == 200, name


def test_the_operator_creates_a_voucher_an_owner_redeems(operator: Client, acme_id: int) -> None:
    url = reverse("admin:billing_voucher_add", urlconf=PUBLIC_URLCONF)
    response = operator.post(
        url,
        {
            "code": "spring 2027",
            "credits": "2",
            "max_redemptions": "10",
            "active": "on",
            "redeemed-TOTAL_FORMS": "0",
            "redeemed-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    voucher = Voucher.objects.get(code="SPRING2027")
    assert voucher.created_by == "ops@factortrace.example"
    row = voucher_redeem(tenant_id=acme_id, code="spring2027", user_email="alice@acme.example")
    assert row.voucher_id == voucher.id
