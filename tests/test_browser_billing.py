"""An owner opens Billing, redeems a voucher and sees the balance change, buys a pack through the
local Stripe stand-in (the real `stripe` client in the app server, pointed at it), pays on its
hosted page and watches the success page update when the signed webhook lands."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.stripe_standin import Standin, serve
from tests.browser import app_server, chromium_page, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = "olga@billing.example"
PASSWORD = "a-long-owner-password"
WEBHOOK_SECRET = "whsec_browser"


@pytest.fixture
def server(
    tenants: dict[str, object], django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, Standin, str]]:
    require_chromium()
    from billing.models import Voucher
    from tenants.models import Tenant
    from tenants.services import tenant_create

    slug = f"brwbill{secrets.token_hex(3)}"
    code = f"FT-BROWSER-{secrets.token_hex(3).upper()}"
    standin = Standin(webhook_secret=WEBHOOK_SECRET, webhook_delay=1.0)
    stripe_server = serve(standin)
    monkeypatch.setenv("STRIPE_SECRET_KEY", standin.api_key)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", standin.base)
    with django_db_blocker.unblock():
        tenant_create(
            company_name="Billing Browser GmbH",
            slug=slug,
            owner_name="Olga Owner",
            owner_email=OWNER,
            owner_password=PASSWORD,
        )
        Voucher.objects.create(code=code, credits=3, max_redemptions=1)
        try:
            with app_server() as base:
                standin.webhook_url = f"{base}/stripe/webhook/"
                port = base.rsplit(":", 1)[1]
                yield f"http://{slug}.localhost:{port}", code, standin, base
        finally:
            stripe_server.shutdown()
            for tenant in Tenant.objects.filter(slug=slug):
                tenant.delete(force_drop=True)


def test_an_owner_redeems_a_voucher_and_buys_credits(
    server: tuple[str, str, Standin, str],
) -> None:
    tenant_base, code, standin, _ = server
    with chromium_page() as page:
        p: Any = page
        p.goto(f"{tenant_base}/login/")
        p.get_by_label("Email").fill(OWNER)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{tenant_base}/")

        p.get_by_role("link", name="Billing").first.click()
        p.wait_for_url(f"{tenant_base}/billing/")
        assert p.locator("#balance").inner_text() == "1"  # the trial credit

        p.get_by_label("Voucher code").fill(code.lower())
        p.get_by_role("button", name="Redeem").click()
        p.wait_for_url(f"{tenant_base}/billing/")
        assert "3 credits added. Balance: 4." in p.content()
        assert p.locator("#balance").inner_text() == "4"

        p.get_by_role("button", name="Buy 5 report credits").click()
        p.wait_for_url(f"{standin.base}/pay/cs_test_*")
        assert "EUR 1,500.00" in p.content()
        assert len(standin.sessions) == 1

        p.get_by_role("button", name="Pay EUR 1,500.00").click()
        p.wait_for_url(f"{tenant_base}/billing/payments/**")
        # The webhook arrives a second later; the page asks again until it has.
        p.get_by_text("5 credits added").wait_for(timeout=20_000)
        assert "Your balance is 9" in p.locator("#payment-status").inner_text()
        p.get_by_role("link", name="Back to Billing").click()
        assert p.locator("#balance").inner_text() == "9"
        assert "Paid" in p.content()
