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
