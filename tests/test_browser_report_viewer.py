"""In a real browser, a report opens in Arelle's iXBRL viewer from the Reports page: the viewer's
script comes from our own static files, runs in the sandboxed page under its own policy with no
violation, and shows the report's tagged facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django_tenants.utils import schema_context

from tests.browser import app_server, chromium_page, require_chromium
from tests.conftest import ALICE, PASSWORD
from tests.report_helpers import ESRS_DIR, VSME_JSON, seed_committed

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def report_id(tenants: dict[str, object], django_db_blocker: Any, settings: Any) -> Iterator[int]:
    """A VSME report built and committed (the app server reads the test database), removed
    afterwards with everything the seed made."""
    from reporting.services import report_build, report_create

    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)
    with seed_committed(django_db_blocker) as period:
        with schema_context("acme"):
            report = report_create(
                user=None, period_id=period.id, regime_key="vsme", formats=("ixbrl",)
            )
            report_build(report)
        connection.set_schema_to_public()
        yield report.id


@pytest.fixture
def server(report_id: int, django_db_blocker: Any) -> Iterator[str]:
    require_chromium()
    with django_db_blocker.unblock(), app_server() as base:
        yield base


def test_it_opens_the_report_in_the_ixbrl_viewer_without_a_policy_violation(
    server: str, report_id: int
) -> None:
    port = server.rsplit(":", 1)[1]
    acme = f"http://acme.localhost:{port}"
    with chromium_page() as page:
        p: Any = page
        refused: list[str] = []
        outside: list[str] = []
        p.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        p.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(acme) or r.url.startswith("data:")
                else outside.append(r.url)
            ),
        )
        p.context.on(
            "page",
            lambda new: new.on(
                "console",
                lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
            ),
        )
        p.goto(f"{acme}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{acme}/")
        p.goto(f"{acme}/reports/")
        link = p.get_by_role("link", name="Open in viewer")
        assert link.get_attribute("href") == reverse("report_viewer", args=[report_id])
        with p.context.expect_page() as opened:
            link.click()
        viewer: Any = opened.value
        viewer.wait_for_selector("#ixv.post-processing-complete", state="attached", timeout=90_000)
        # The report itself is shown in the viewer's frame, its facts tagged.
        report_frame = next(f for f in viewer.frames if "Total energy consumption" in f.content())
        # Every tagged number of the report is one the viewer knows (it marks them).
        assert report_frame.locator(".ixbrl-element-nonfraction").count() >= 15
        assert refused == []
        assert [u for u in outside if not u.startswith(("blob:", "about:"))] == []
