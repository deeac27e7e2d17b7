"""A new customer signs up, signs in on their own host, adds a viewer, and the viewer cannot add users."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import app_server, chromium_page, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tenants: dict[str, object], django_db_blocker: Any) -> Iterator[tuple[str, str]]:
    require_chromium()
    slug = f"brw{secrets.token_hex(3)}"
    with django_db_blocker.unblock(), app_server() as base:
        try:
            yield base, slug
        finally:
            from tenants.models import Tenant

            for tenant in Tenant.objects.filter(slug=slug):
                tenant.delete(force_drop=True)


def _invite_path(port: str, email: str) -> str:
    """The invitation link, from the e-mail the server's console backend printed in its log."""
    log = Path(__file__).resolve().parent.parent / ".local" / f"browser-server-{port}.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if email in text and (found := re.findall(r"https?://[^/\s]+(/invite/\S+/\S+/)", text)):
            return str(found[-1])
        time.sleep(0.2)
    raise AssertionError(f"no invitation for {email} in {log}")


def test_it_signs_up_adds_a_viewer_who_cannot_add_users(server: tuple[str, str]) -> None:
    base, slug = server
    port = base.rsplit(":", 1)[1]
    tenant_base = f"http://{slug}.localhost:{port}"
    with chromium_page() as page:
        p: Any = page
        p.goto(f"{base}/")
        p.get_by_role("link", name="Create your workspace").first.click()
        p.get_by_label("Company name").fill("Browser Test GmbH")
        p.get_by_label("Subdomain").fill(slug)
        p.get_by_label("Your name").fill("Olga Owner")
        p.get_by_label("Work e-mail").fill("olga@browser.example")
        p.get_by_label("Password").fill("a-long-owner-password")
        p.get_by_role("button", name="Create workspace").click()

        # Signed in on the new host at once, by a one-time token.
        p.wait_for_url(f"{tenant_base}/")
        assert "Welcome, Olga Owner" in p.content()

        p.get_by_role("link", name="Team").first.click()
        p.get_by_label("Name").fill("Victor Viewer")
        p.get_by_label("E-mail").fill("victor@browser.example")
        p.get_by_label("Role").select_option("viewer")
        p.get_by_role("button", name="Send invitation").click()
        p.wait_for_url(f"{tenant_base}/team/")
        assert "Invitation sent to victor@browser.example" in p.content()

        p.get_by_role("button", name="Sign out").click()
        p.wait_for_url(f"{tenant_base}/login/")
        # The link of the e-mail (the console backend prints it in the server's log).
        p.goto(tenant_base + _invite_path(port, "victor@browser.example"))
        p.get_by_label("New password", exact=True).fill("a-long-viewer-password")
        p.get_by_label("New password confirmation").fill("a-long-viewer-password")
        p.get_by_role("button", name="Set password and sign in").click()
        p.wait_for_url(f"{tenant_base}/")

        p.goto(f"{tenant_base}/team/")
        assert p.get_by_role("button", name="Send invitation").count() == 0
        # Even a hand-made request with a valid CSRF token is refused.
        status = p.evaluate(
            """async () => {
                const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
                const body = new URLSearchParams({full_name: 'Mallory', email: 'm@x.example',
                    role: 'owner', password: 'another-long-password'});
                const r = await fetch('/team/add/', {method: 'POST', body,
                    headers: {'X-CSRFToken': token}});
                return r.status;
            }"""
        )
        assert status == 403
        p.goto(f"{tenant_base}/team/")
        assert "Mallory" not in p.content()
