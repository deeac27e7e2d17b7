"""Reports: ESRS E1 and VSME B3 from the inventory selector's totals, as iXBRL XHTML (validated
offline by Arelle for ESRS) and PDF; generation as a job with a stored verdict and pinned inputs;
the Reports page lists them; the CLI prints the verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from emissions.selectors_inventory import inventory_breakdown, inventory_totals
from reporting import services
from reporting.models import ReportStatus, Verdict
from reporting.selectors import period_filters
from tests.report_helpers import ESRS_DIR, VSME_JSON, pdf_text, seed_tenant


@pytest.fixture
def taxonomies(settings: Any) -> None:
    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)


@pytest.fixture
def period(tenants: dict[str, object], db: None, taxonomies: None) -> Iterator[Any]:
    period = seed_tenant()
    with schema_context("acme"):
        yield period


def _sql_totals() -> dict[str, float]:
    """kg CO2e of FY2024 straight from the table, independent of the ORM selectors."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scope, category, SUM(kg_co2e), SUM(COALESCE(kg_co2e_market, kg_co2e)) "
            "FROM emissions_activityrecord WHERE date BETWEEN '2024-01-01' AND '2024-12-31' "
            "AND scope <> 0 GROUP BY scope, category"
        )
        rows = cursor.fetchall()
    out: dict[str, float] = {}
    for scope, category, kg, market in rows:
        key = f"scope_{scope}"
        out[key] = out.get(key, 0.0) + kg
        if scope == 2:
            out["scope_2_market"] = out.get("scope_2_market", 0.0) + market
        if category:
            out[f"cat_{category}"] = kg
    return out


@pytest.mark.slow
def test_it_generates_a_valid_esrs_e1_report_equal_to_the_inventory(
    period: Any, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_request(user=None, period_id=period.id, regime_key="esrs_e1")
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, report.error
    assert report.validation["error_count"] == 0, "\n".join(report.validation["errors"][:6])
    assert report.verdict == Verdict.VALID
    facts = services.arelle_facts(report)
    plain = {f["concept"]: float(f["value"]) for f in facts if not f["dimensions"]}
    by_category = {
        f["dimensions"]["esrs:Scope3GHGEmissionsCategoryGHGProtocolAxis"]: float(f["value"])
        for f in facts
        if f["dimensions"]
    }
    totals = inventory_totals(filters=period_filters(period))
    sql = _sql_totals()
    expected = {
        "esrs:GrossScope1GreenhouseGasEmissions": (totals.scope_1, sql["scope_1"]),
        "esrs:GrossLocationBasedScope2GreenhouseGasEmissions": (
            totals.scope_2_location,
            sql["scope_2"],
        ),
        "esrs:GrossMarketBasedScope2GreenhouseGasEmissions": (
            totals.scope_2_market,
            sql["scope_2_market"],
        ),
        "esrs:GrossScope3GreenhouseGasEmissions": (totals.scope_3, sql["scope_3"]),
        "esrs:LocationBasedGreenhouseGasEmissions": (
            totals.location,
            sql["scope_1"] + sql["scope_2"] + sql["scope_3"],
        ),
    }
    for concept, (selector_kg, sql_kg) in expected.items():
        assert plain[concept] == pytest.approx(selector_kg / 1000, abs=5e-4), concept
        assert plain[concept] == pytest.approx(sql_kg / 1000, abs=5e-4), concept
    categories = {r.key: r.location for r in inventory_breakdown(by="category")}
    assert by_category["esrs:Category6BusinessTravelMember"] == pytest.approx(
        categories[6] / 1000, abs=5e-4
    )
    assert by_category["esrs:Category1PurchasedGoodsAndServicesMember"] == pytest.approx(
        sql["cat_1"] / 1000, abs=5e-4
    )
    intensity = plain["esrs:GHGEmissionsIntensityLocationbasedTotalGHGEmissionsPerNetRevenue"]
    assert intensity == pytest.approx(totals.location / 1000 / 2_000_000, rel=1e-5)
    text = pdf_text(bytes(report.pdf))
    for value in (totals.scope_1, totals.scope_2_location, totals.scope_2_market, totals.scope_3):
        assert f"{value / 1000:,.3f}" in text
