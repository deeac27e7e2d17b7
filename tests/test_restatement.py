"""Restatement: what changes by scope (Scope 2 both ways) and Scope 3 category between two versions
of a report, or between a report and today's data and factors; records added, removed and changed;
dataset versions that differ. Figures are hand-checked against tests.report_helpers.seed_plain_tenant:

FY2024 at version 1 (kg CO2e): Scope 1 1250 + 500.5 = 1750.5; Scope 2 4000 location / 1000 market;
Scope 3 category 6 2100 + category 1 900.25 = 3000.25; totals 8750.75 location / 5750.75 market
(the 70 kg outside the scopes and the 2023 record are in neither).
The changes: a new category 6 record of 100 kg, the category 1 record deleted, the Scope 2 record's
market-based figure 1000 -> 1500 (and its dataset 'ember_2024 v2'). After them: Scope 3 2200
(-800.25), Scope 2 market 1500 (+500, +50 %), totals 7950.5 (-800.25) / 5450.5 (-300.25).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from reporting import services
from reporting.models import Report, ReportStatus
from reporting.restatement import pack_ids, restatement, unpack_ids
from tests.import_helpers import make_activity_record
from tests.report_helpers import ESRS_DIR, VSME_JSON, seed_plain_tenant


@pytest.fixture
def taxonomies(settings: Any) -> None:
    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)


@pytest.fixture
def period(tenants: dict[str, object], db: None, taxonomies: None) -> Iterator[Any]:
    period = seed_plain_tenant()
    with schema_context("acme"):
        yield period


def _generate(period: Any, regime_key: str = "vsme") -> Report:
    """A new version built at once (VSME: checked against the taxonomy dump, no Arelle)."""
    report = services.report_create(
        user=None, period_id=period.id, regime_key=regime_key, formats=("ixbrl",)
    )
    return services.report_build(report)


def _change_the_data() -> None:
    make_activity_record(date=dt.date(2024, 6, 1), scope=3, category=6, kg_co2e=100.0)
    ActivityRecord.objects.get(category=1).delete()
    scope_2 = ActivityRecord.objects.get(scope=2)
    scope_2.kg_co2e_market = 1500.0
    scope_2.factor_version = "ember_2024 v2"
    scope_2.save()


def _by_label(lines: list[Any]) -> dict[str, tuple[float | None, float | None, float | None]]:
    return {line.label: (line.a, line.b, line.change if line.changed else 0.0) for line in lines}


def _assert_hand_checked(result: Any) -> None:
    scopes = _by_label(result.scopes)
    assert scopes["Scope 1"] == pytest.approx((1750.5, 1750.5, 0.0))
    assert scopes["Scope 2 (location-based)"] == pytest.approx((4000.0, 4000.0, 0.0))
    assert scopes["Scope 2 (market-based)"] == pytest.approx((1000.0, 1500.0, 500.0))
    assert scopes["Scope 3"] == pytest.approx((3000.25, 2200.0, -800.25))
    assert scopes["Total (location-based)"] == pytest.approx((8750.75, 7950.5, -800.25))
    assert scopes["Total (market-based)"] == pytest.approx((5750.75, 5450.5, -300.25))
    market = next(line for line in result.scopes if line.label == "Scope 2 (market-based)")
    assert market.change_pct == pytest.approx(50.0)
    categories = _by_label(result.categories)
    assert set(categories) == {"1 Purchased goods and services", "6 Business travel"}
    assert categories["1 Purchased goods and services"] == pytest.approx((900.25, 0.0, -900.25))
    assert categories["6 Business travel"] == pytest.approx((2100.0, 2200.0, 100.0))
    assert result.datasets_added == ["ember_2024 v2"]
    assert result.datasets_removed == []
    assert not result.approximate


def test_it_restates_a_report_against_todays_data(period: Any) -> None:
    report = _generate(period)
    unchanged = restatement(report, None)
    assert not unchanged.any_change
    assert (unchanged.records.added, unchanged.records.removed, unchanged.records.changed) == (
        0,
        0,
        0,
    )
    _change_the_data()
    result = restatement(report, None)
    assert result.b is None
    _assert_hand_checked(result)
    # Added: the new record; removed: the category 1 one; changed: the Scope 2 one.
    records = result.records
    assert (records.added, records.removed, records.changed) == (1, 1, 1)
    assert not records.changed_at_least


def test_it_restates_between_two_versions_oldest_first(period: Any) -> None:
    first = _generate(period)
    _change_the_data()
    second = _generate(period)
    assert second.version == 2
    # Edited after version 2: whether it also changed between the versions is not known.
    scope_1 = ActivityRecord.objects.get(kg_co2e=500.5)
    scope_1.notes = "checked"
    scope_1.save()
    for result in (restatement(first, second), restatement(second, first)):
        assert (result.a.id, result.b.id) == (first.id, second.id)
        _assert_hand_checked(result)
        records = result.records
        assert (records.added, records.removed, records.changed) == (1, 1, 1)
        assert records.changed_at_least
        assert records.unknown == 1


def test_a_report_made_before_figures_were_kept_is_read_from_its_facts(period: Any) -> None:
    report = _generate(period, "vsme")
    esrs = Report.objects.create(
        regime="esrs_e1",
        period=period,
        period_name=period.name,
        period_start=period.start,
        period_end=period.end,
        status=ReportStatus.DONE,
        fingerprint=report.fingerprint,
        facts=[
            {"concept": "esrs:GrossScope1GreenhouseGasEmissions", "value": 1.751, "unit": "tCO2e"},
            {"concept": "esrs:GrossScope3GreenhouseGasEmissions", "value": 3.0, "unit": "tCO2e"},
            {
                "concept": "esrs:GrossScope3GreenhouseGasEmissions",
                "value": 2.1,
                "unit": "tCO2e",
                "dimension": ["esrs:Axis", "esrs:Category6BusinessTravelMember"],
            },
        ],
    )
    result = restatement(esrs, None)
    assert result.approximate
    scopes = {line.label: line for line in result.scopes}
    # t CO2e to 3 decimals: 1.751 t against 1750.5 kg is within half a kilogram.
    assert not scopes["Scope 1"].changed
    assert scopes["Scope 3"].change == pytest.approx(0.25)
    assert scopes["Scope 2 (location-based)"].a is None
    assert {line.label for line in result.categories or []} >= {"6 Business travel"}
    # Only a digest was kept: the fingerprint says unchanged, not how many.
    assert result.records.added is None
    assert result.records.same_fingerprint is True
    _change_the_data()
    assert restatement(esrs, None).records.same_fingerprint is False


@pytest.mark.parametrize(
    "ids",
    [[], [7], list(range(1, 100_001)), [3, 5, 1_000_000, 17, 18, 19]],
)
def test_record_ids_pack_and_unpack(ids: list[int]) -> None:
    packed = pack_ids(np.array(ids, dtype=np.int64))
    assert unpack_ids(packed).tolist() == sorted(ids)
    assert len(packed) < 20_000


def _url(report: Report, **query: str) -> str:
    url = reverse("report_restatement", kwargs={"report_id": report.id})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_the_page_shows_the_changes_in_the_workspace_language(
    period: Any, alice: Client, bob: Client
) -> None:
    first = _generate(period)
    html = bob.get(_url(first)).content.decode()
    assert 'data-testid="one-version"' in html
    assert 'data-testid="no-change"' in html
    _change_the_data()
    second = _generate(period)
    assert alice.post(reverse("settings_language"), {"language": "de"}).status_code == 302
    response = bob.get(_url(first, against=str(second.id)))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="one-version"' not in html
    # t CO2e in German: Scope 2 market 1 -> 1,5 (+0,5, 50 %); total market -0,3; 8,751 -> 7,951.
    assert "<td>1,5</td>" in html
    assert "<td>0,5</td>" in html
    assert "50 %" in html
    assert "<td>-0,3</td>" in html
    assert "<td>8,751</td>" in html
    assert "ember_2024 v2" in html
    assert "<strong>1</strong> added" in html
    today = bob.get(_url(second)).content.decode()
    assert 'data-testid="no-change"' in today
    # Picking another version A goes to its page, keeping version B.
    moved = bob.get(_url(second, a=str(first.id), against="today"))
    assert moved.status_code == 302
    assert moved["Location"] == _url(first, against="today")
    # The reports list links every generated version to the page.
    assert _url(first) in bob.get(reverse("reports")).content.decode()


def test_the_page_refuses_what_it_cannot_compare(period: Any, bob: Client) -> None:
    report = _generate(period)
    esrs = Report.objects.create(
        regime="esrs_e1",
        period=period,
        period_name=period.name,
        period_start=period.start,
        period_end=period.end,
        status=ReportStatus.DONE,
    )
    pending = Report.objects.create(
        regime="vsme",
        period=period,
        period_name=period.name,
        period_start=period.start,
        period_end=period.end,
        version=2,
    )
    assert bob.get(_url(report, against="abc")).status_code == 400
    refused = bob.get(_url(report, against=str(esrs.id)))
    assert refused.status_code == 400
    assert "same report" in refused.content.decode()
    assert bob.get(_url(report, against=str(pending.id))).status_code == 400
    assert bob.get(_url(pending)).status_code == 409
    assert bob.get(_url(report, against="999999")).status_code == 404
    assert bob.get(_url(report, a="999999")).status_code == 404


def test_version_b_of_another_tenant_is_not_found(period: Any, bob: Client) -> None:
    from tests.isolation_matrix import foreign_id

    report = _generate(period)
    foreign = foreign_id("report", "validated")
    with schema_context("acme"):
        assert not Report.objects.filter(id=foreign).exists()
    assert bob.get(_url(report, against=str(foreign))).status_code == 404
    assert bob.get(_url(report, a=str(foreign))).status_code == 404
