"""The dashboard: the tenant's home once records exist (the import wizard before), with totals by
scope (Scope 2 both ways), Scope 3 by category, month, site, top sources, data quality and the
change against the base year, all from the inventory selector, charts as SVG without script."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from emissions.selectors_inventory import inventory_totals
from reporting import charts
from reporting.selectors import dashboard, period_filters
from tests.import_helpers import make_activity_record
from tests.org_helpers import make_period


@pytest.fixture
def seeded(tenants: dict[str, object], db: None) -> Any:
    make_activity_record(kg_co2e=1250.0, activity="Diesel")
    make_activity_record(date=dt.date(2024, 3, 10), site="Bonn", kg_co2e=500.0, activity="Petrol")
    make_activity_record(
        date=dt.date(2024, 2, 1),
        scope=2,
        kg_co2e=4000.0,
        kg_co2e_market=1000.0,
        activity="Electricity",
    )
    make_activity_record(
        date=dt.date(2024, 3, 1), scope=3, category=6, kg_co2e=2100.0, activity="Rail <travel>"
    )
    make_activity_record(date=dt.date(2023, 5, 1), kg_co2e=6000.0, activity="Diesel")
    with schema_context("acme"):
        from emissions.models import OrganisationProfile

        OrganisationProfile.objects.create(
            legal_name="Acme GmbH",
            country="DE",
            consolidation_approach="operational",
            base_year=2023,
            identifier="5299000J2N45DDNE4Y28",
            identifier_scheme="lei",
        )
    return make_period()


def test_it_shows_the_import_wizard_before_any_data(alice: Client) -> None:
    page = alice.get(reverse("home")).content.decode()
    assert reverse("import_upload") in page
    assert "Totals by scope" not in page


def test_it_totals_the_period_through_the_inventory_selector(seeded: Any) -> None:
    with schema_context("acme"):
        board = dashboard(seeded)
        expected = inventory_totals(filters=period_filters(seeded))
    assert board.totals == expected
    assert board.totals.scope_2_location == pytest.approx(4000.0)
    assert board.totals.scope_2_market == pytest.approx(1000.0)
    # 2023 is outside FY2024 and is the base year: 7850 kg against 6000 kg.
    assert board.totals.location == pytest.approx(7850.0)
    assert board.change_vs_base == pytest.approx(7850.0 / 6000.0 - 1)
    assert [r.key for r in board.categories] == [6]
    assert [s for s, _ in board.sources][:2] == ["Electricity", "Rail <travel>"]
    assert {r.label for r in board.sites} >= {"Bonn", "Köln"}


def test_it_renders_the_dashboard_with_svg_charts_and_no_script(seeded: Any, bob: Client) -> None:
    page = bob.get(reverse("home")).content.decode()
    assert "Totals by scope" in page
    assert "7.85" in page  # the total in t CO2e
    assert page.count("<svg") >= 5
    assert "Rail &lt;travel&gt;" in page
    assert "<script>" not in page.split("<svg", 1)[1]
    assert " style=" not in page


def test_it_escapes_chart_labels() -> None:
    svg = str(charts.bar_chart([("<b>x</b>", 1.0)]))
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg


def test_it_cuts_long_bar_labels_to_the_label_column_and_keeps_them_whole_in_the_tooltip() -> None:
    label = "4 Upstream transportation and distribution"
    svg = str(charts.bar_chart([(label, 53.0), ("Waste", 38.9)]))
    assert f"<title>{label}</title>" in svg
    shown = svg.split(f"<title>{label}</title>", 1)[1].split("</text>", 1)[0].rsplit(">", 1)[1]
    assert shown.endswith("...")
    assert len(shown) <= charts.LABEL_CHARS
    assert '<g><title>Waste</title><text x="224"' in svg


def test_it_lays_out_the_scope_totals_as_a_table(seeded: Any, bob: Client) -> None:
    page = bob.get(reverse("home")).content.decode()
    # The dashboard's .totals flex boxes must not style the scope table (it broke its columns).
    assert '<table class="table scope-totals">' in page
    # Nor may the Activities page's grid of total boxes: a bare `.scope-totals` rule with a
    # display of its own reaches the table too.
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if "display" in body:
            assert ".scope-totals" not in [s.strip() for s in selectors.split(",")], selectors


def test_the_base_year_itself_says_so_instead_of_a_zero_change(seeded: Any, bob: Client) -> None:
    from emissions.models import OrganisationProfile

    with schema_context("acme"):
        OrganisationProfile.objects.update(base_year=2024)
        board = dashboard(seeded)
    assert board.is_base_year
    page = bob.get(reverse("home")).content.decode()
    assert "2024 is the base year: later periods are compared with it." in page
    assert "Change against the base year" not in page
