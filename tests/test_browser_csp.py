"""In a real browser, the HTMX pages run under the Content-Security-Policy with no violation: htmx
loads, is configured by its meta tag, and no inline script or style is refused. Signing in through
the form also shows the origin check accepts the tenant's own host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import app_server, chromium_page, require_chromium
from tests.conftest import ALICE, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = [
    "/",
    "/imports/",
    "/imports/upload/",
    "/activities/",
    "/factors/",
    "/team/",
    "/settings/",
    "/settings/api-tokens/",
    "/api/v1/docs",
]


@pytest.fixture
def server(tenants: dict[str, object], django_db_blocker: Any) -> Iterator[str]:
    require_chromium()
    with django_db_blocker.unblock(), app_server() as base:
        yield base


def test_it_runs_the_htmx_pages_without_a_policy_violation(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"
    with chromium_page() as page:
        p: Any = page
        refused: list[str] = []
        p.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        p.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " e => console.error('Content Security Policy violation: ' + e.violatedDirective));"
        )
        p.goto(f"{acme}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{acme}/")
        for path in PAGES:
            response = p.goto(f"{acme}{path}")
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
            config = p.evaluate("() => [typeof htmx, htmx.config.includeIndicatorStyles]")
            assert config == ["object", False], path
        assert refused == []


def test_every_page_fits_a_phone_screen(server: str) -> None:
    """At 390 px wide nothing makes the page scroll sideways: the top bar wraps, charts shrink,
    wide tables scroll inside themselves."""
    port = server.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"
    with chromium_page() as page:
        p: Any = page
        p.set_viewport_size({"width": 390, "height": 844})
        p.goto(f"{acme}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{acme}/")
        wide = {}
        for path in [*PAGES, "/reports/", "/billing/"]:
            p.goto(f"{acme}{path}")
            width = p.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[path] = width
        assert wide == {}


def test_the_pages_checked_are_tenant_routes(db: None) -> None:
    """Each path above is a page of a tenant host (a renamed route would leave it unchecked).
    (Requesting `db` makes pytest-django set up the test database when this file runs alone:
    the browser tests reach it only through committed fixtures.)"""
    from django.urls import resolve

    for path in [*PAGES, "/reports/", "/billing/"]:
        assert resolve(path, urlconf="factortrace.urls_tenant").url_name, path
