"""Credits under real concurrency, against committed rows in real PostgreSQL: threads with their
own connections, on a tenant made for this module (dropped afterwards; its ledger rows stay, as
the ledger keeps a deleted tenant's history)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from billing.ledger import credit_balance
from billing.models import CreditTransaction, Kind, Payment, StripeEvent
from tests.billing_helpers import WEBHOOK_SECRET, event, post_event, session_object, set_balance
from tests.report_helpers import ESRS_DIR, VSME_JSON, seed_committed

pytestmark = pytest.mark.commits

SLUG = "billrace"


@pytest.fixture(scope="module")
def racer(
    django_db_setup: None, django_db_blocker: Any, tenants: dict[str, object]
) -> Iterator[Any]:
    from tenants.models import Tenant
    from tenants.services import tenant_create

    with django_db_blocker.unblock():
        for old in Tenant.objects.filter(slug=SLUG):
            old.delete(force_drop=True)
        tenant = tenant_create(
            company_name="Bill Race GmbH",
            slug=SLUG,
            owner_name="Rita Racer",
            owner_email="rita@billrace.example",
            owner_password="racing-password-42",
        )
        try:
            yield tenant
        finally:
            connection.set_schema_to_public()
            tenant.delete(force_drop=True)


@pytest.fixture
def committed(racer: Any, django_db_blocker: Any, settings: Any) -> Iterator[Any]:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    with django_db_blocker.unblock():
        yield racer
        connection.set_schema_to_public()


def _in_threads(count: int, work: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            outcome = work(n)
        except Exception as exc:  # every outcome is kept and asserted on
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_the_same_event_ten_times_at_once_grants_once(committed: Any) -> None:
    set_balance(SLUG, 0)
    session = session_object(committed.id, credits=5)
    payload = event("checkout.session.completed", session)

    def deliver(n: int) -> str:
        response = post_event(Client(HTTP_HOST="localhost"), payload)
        return f"{response.status_code} {response.json().get('outcome')}"

    outcomes = _in_threads(10, deliver)
    assert sorted(outcomes) == ["200 duplicate"] * 9 + ["200 granted 5 credits"], outcomes
    assert credit_balance(tenant_id=committed.id) == 5
    payment = Payment.objects.get(checkout_session_id=session["id"])
    assert CreditTransaction.objects.filter(payment=payment, kind=Kind.PURCHASE).count() == 1
    assert StripeEvent.objects.filter(event_id=payload["id"]).count() == 1


@pytest.fixture
def seeded(committed: Any, django_db_blocker: Any) -> Iterator[int]:
    """The racer's tenant seeded and committed (each thread has its own connection); the seed's
    rows and its library dataset are removed afterwards. Yields the period's id."""
    with seed_committed(django_db_blocker, SLUG) as period:
        yield period.id


def test_twenty_report_requests_against_one_credit_make_one_report(
    committed: Any, seeded: int, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reporting import services
    from reporting.models import Report

    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)
    queued: list[dict[str, Any]] = []
    # The request side is under test: the generation job is recorded, not run.
    monkeypatch.setattr(services, "enqueue_for_tenant", lambda func, **kw: queued.append(kw))
    period_id = seeded
    set_balance(SLUG, 1)

    def request(n: int) -> str:
        with schema_context(SLUG):
            try:
                services.report_request(user=None, period_id=period_id, regime_key="vsme")
            except services.ReportError as exc:
                return str(exc)
        return "created"

    outcomes = _in_threads(20, request)
    assert outcomes.count("created") == 1, outcomes
    assert all("No report credits left" in o for o in outcomes if o != "created"), outcomes
    assert credit_balance(tenant_id=committed.id) == 0
    with schema_context(SLUG):
        reports = list(Report.objects.values_list("id", flat=True))
    assert len(reports) == 1
    assert len(queued) == 1
    consumed = CreditTransaction.objects.filter(tenant_id=committed.id, kind=Kind.CONSUME)
    assert list(consumed.values_list("report_id", flat=True)) == reports


def test_a_new_workspace_starts_with_its_trial_credit(racer: Any, db: None) -> None:
    # (Also makes pytest-django set up the test database when this module runs alone.)
    trial = CreditTransaction.objects.get(tenant_id=racer.id, kind=Kind.GRANT, reference="trial")
    assert (trial.credits, trial.balance_after, trial.actor) == (1, 1, "system")
