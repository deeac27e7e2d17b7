"""Reports: ESRS E1 and VSME B3 from the inventory selector's totals, as iXBRL XHTML (validated
offline by Arelle for ESRS) and PDF; generation as a job with a stored verdict and pinned inputs;
the Reports page lists them; the CLI prints the verdict."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from emissions.models import OrganisationProfile, ReportingPeriod
from emissions.selectors_inventory import inventory_breakdown, inventory_totals
from reporting import services
from reporting.energy import energy_mix
from reporting.models import Report, ReportStatus, Verdict
from reporting.regimes import regime
from reporting.regimes.base import MWH, TCO2E, Fact, RegimeError
from reporting.selectors import period_filters
from reporting.taxonomy import TaxonomyError, vsme_taxonomy
from reporting.validate import check_against_taxonomy
from tests.import_helpers import make_activity_record
from tests.org_helpers import make_period
from tests.report_helpers import (
    ESRS_DIR,
    VSME_JSON,
    expected_energy_mwh,
    pdf_text,
    seed_tenant,
)


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


@pytest.fixture
def no_arelle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arelle runs once per session (the slow test); the rest build reports without it."""
    monkeypatch.setattr(services, "_packages", lambda regime_key: ())


def _generate(regime: str, period: Any, capture: Callable[..., Any], settings: Any) -> Report:
    settings.JOBS_IN_PROCESS = True
    with capture(execute=True):
        report = services.report_request(user=None, period_id=period.id, regime_key=regime)
    report.refresh_from_db()
    return report


def test_it_tags_vsme_b3_with_concepts_from_the_taxonomy_dump(
    period: Any,
    no_arelle: None,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    report = _generate("vsme", period, django_capture_on_commit_callbacks, settings)
    assert report.status == ReportStatus.DONE, report.error
    # No VSME taxonomy package for Arelle: the facts are checked against the taxonomy dump.
    assert report.verdict == Verdict.VALID, report.validation["errors"]
    assert report.validation["checked_by"] == "the VSME taxonomy dump"
    totals = inventory_totals(filters=period_filters(period))
    facts = {f["concept"]: f["value"] for f in report.facts}
    assert facts["vsme:GrossScope1GreenhouseGasEmissions"] == pytest.approx(
        totals.scope_1 / 1000, abs=5e-4
    )
    assert facts["vsme:TotalGrossMarketBasedGHGEmissions"] == pytest.approx(
        totals.market / 1000, abs=5e-4
    )
    xhtml = bytes(report.xhtml).decode()
    assert 'name="vsme:GrossMarketBasedScope2GreenhouseGasEmissions"' in xhtml
    assert "https://xbrl.efrag.org/taxonomy/vsme/2026-05-01/vsme-all.xsd" in xhtml
    assert report.fingerprint == services.records_fingerprint(period)
    assert "supplier-specific" in report.datasets


def test_it_pins_a_new_version_and_a_new_fingerprint_after_the_data_changes(
    period: Any,
    no_arelle: None,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    first = _generate("vsme", period, django_capture_on_commit_callbacks, settings)
    make_activity_record(date=dt.date(2024, 6, 1), kg_co2e=10.0)
    with schema_context("acme"):
        second = _generate("vsme", period, django_capture_on_commit_callbacks, settings)
    assert (first.version, second.version) == (1, 2)
    assert first.fingerprint != second.fingerprint


def test_it_refuses_clearly_without_an_identifier_data_or_taxonomy(
    period: Any, no_arelle: None, settings: Any
) -> None:
    with pytest.raises(services.ReportError, match="no activity records"):
        services.report_request(
            user=None,
            period_id=make_period(
                name="FY2030", start=dt.date(2030, 1, 1), end=dt.date(2030, 12, 31)
            ).id,
            regime_key="esrs_e1",
        )
    with pytest.raises(services.ReportError, match="Unknown regime"):
        services.report_request(user=None, period_id=period.id, regime_key="cbam")
    OrganisationProfile.objects.update(identifier="")
    report = services.report_create(user=None, period_id=period.id, regime_key="esrs_e1")
    with pytest.raises(RegimeError, match="no identifier"):
        services.report_build(report)
    settings.XBRL_TAXONOMY_DIR = "/nonexistent"
    with pytest.raises(TaxonomyError, match="XBRL_TAXONOMY_DIR"):
        services.report_build(report)
    with pytest.raises(TaxonomyError, match="XBRL_TAXONOMY_DIR"):
        services.report_create(user=None, period_id=period.id, regime_key="esrs_e1")
    assert Report.objects.count() == 1  # only the one made before the folder went missing


def test_it_omits_the_intensity_without_net_revenue(period: Any) -> None:
    ReportingPeriod.objects.filter(id=period.id).update(net_revenue=0)
    period.refresh_from_db()
    facts, notes = regime("esrs_e1").datapoints(services.report_input(period))
    assert not [f for f in facts if "Intensity" in f.concept]
    assert any("intensity" in n for n in notes)


def test_it_lists_reports_and_lets_editors_generate_and_viewers_read(
    period: Any,
    no_arelle: None,
    alice: Client,
    bob: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.JOBS_IN_PROCESS = True
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(reverse("reports"), {"regime": "vsme", "period": period.id})
    report = Report.objects.get()
    assert report.status == ReportStatus.DONE
    page = bob.get(reverse("reports")).content.decode()
    assert "CBAM" in page
    assert "not yet available" in page
    assert reverse("report_download", args=[report.id, "pdf"]) in page
    pdf = bob.get(reverse("report_download", args=[report.id, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf"
    assert bytes(pdf.content).startswith(b"%PDF")
    assert bob.post(reverse("reports"), {"regime": "vsme", "period": period.id}).status_code == 403
    missing = alice.post(reverse("reports"), {"regime": "esrs_e1", "period": "x"}, follow=True)
    assert "Choose a reporting period" in missing.content.decode()


def test_it_refuses_to_download_an_invalid_report_as_final(period: Any, bob: Client) -> None:
    report = Report.objects.create(
        regime="esrs_e1",
        period=period,
        period_name=period.name,
        period_start=period.start,
        period_end=period.end,
        status=ReportStatus.DONE,
        verdict=Verdict.INVALID,
        xhtml=b"<html/>",
        validation={"error_count": 1, "errors": ["[xbrl] broken"]},
    )
    response = bob.get(reverse("report_download", args=[report.id, "xhtml"]))
    assert response.status_code == 409
    assert "cannot be downloaded as final" in response.content.decode()


def test_the_cli_writes_the_files_and_prints_the_verdict(
    period: Any, no_arelle: None, tmp_path: Path
) -> None:
    out = StringIO()
    call_command(
        "generate_report",
        "--tenant=acme",
        "--period=2024",
        "--regime=vsme",
        f"--out={tmp_path}",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["verdict"] == "valid"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pdf", ".xhtml"]
    with pytest.raises(CommandError, match="No single reporting period"):
        call_command("generate_report", "--tenant=acme", "--period=1999", f"--out={tmp_path}")


def test_it_keeps_a_report_readable_when_its_period_is_deleted(period: Any) -> None:
    report = services.report_create(user=None, period_id=period.id, regime_key="vsme")
    period.delete()
    report.refresh_from_db()
    assert (report.period, report.period_name) == (None, "FY2024")
    with pytest.raises(services.ReportError, match="deleted"):
        services.report_build(report)


def test_the_vsme_check_names_a_wrong_unit_an_unknown_concept_and_an_abstract_one(
    taxonomies: None,
) -> None:
    tax = vsme_taxonomy()
    facts = [
        Fact("vsme:GrossScope1GreenhouseGasEmissions", "S1", 1.0, MWH, 3),
        Fact("vsme:NoSuchConcept", "x", 1.0, TCO2E, 3),
        Fact("vsme:TotalEnergyConsumption", "energy", 1.0, MWH, 3),
        Fact("vsme:TotalLocationBasedGreenhouseGasEmissionsIntensityValue", "i", 1.0, TCO2E, 6),
    ]
    errors = check_against_taxonomy(tax, facts).errors
    assert [e.split("]")[0] for e in errors] == ["[unit", "[concept", "[unit"]


def test_it_derives_the_energy_mix_in_mwh_from_the_energy_records(period: Any) -> None:
    mix = energy_mix(period)
    expected = expected_energy_mwh()
    assert mix.fuels["oil"] == pytest.approx(expected["oil"], rel=1e-3)
    assert mix.fuels["gas"] == pytest.approx(expected["gas"], rel=1e-6)
    assert mix.fuels["renewable"] == pytest.approx(expected["renewable_fuels"], rel=1e-6)
    assert mix.electricity_renewable == pytest.approx(7.5)
    assert mix.electricity_non_renewable == pytest.approx(2.5)
    assert mix.total == pytest.approx(expected["total"], rel=1e-3)
    assert mix.renewable == pytest.approx(expected["renewable"], rel=1e-6)
    # Grid electricity not under a zero-rate contract: fossil or nuclear, which cannot be told.
    assert (mix.fossil, mix.nuclear, mix.purchased_fossil) == (None, None, None)
    assert any("1 Scope 1 record(s)" in n for n in mix.notes)
    facts, notes = regime("esrs_e1").datapoints(services.report_input(period))
    concepts = {f.concept: f.value for f in facts if f.unit.id in ("MWh", "pure")}
    assert "esrs:EnergyConsumptionFromFossilSources" not in concepts
    assert "esrs:EnergyConsumptionFromNuclearSources" not in concepts
    assert "esrs:PercentageOfFossilSourcesInTotalEnergyConsumption" not in concepts
    assert concepts["esrs:EnergyConsumptionRelatedToOwnOperations"] == pytest.approx(
        expected["total"], rel=1e-3
    )
    assert concepts["esrs:PercentageOfRenewableSourcesInTotalEnergyConsumption"] == pytest.approx(
        expected["renewable"] / expected["total"], abs=1e-4
    )
    assert any("generation mix" in n for n in notes)


def test_it_omits_the_energy_total_when_a_fuel_record_has_no_energy_quantity(
    period: Any,
) -> None:
    from emissions.models import ActivityRecord

    ActivityRecord.objects.filter(activity="Gas boiler").update(unit="EUR", quantity=900.0)
    mix = energy_mix(period)
    assert mix.total is None
    assert mix.fuels_total is None
    assert mix.electricity_total == pytest.approx(10.0)
    facts, _ = regime("vsme").datapoints(services.report_input(period))
    concepts = {(f.concept, f.dimension) for f in facts if f.unit.id == "MWh"}
    assert ("vsme:TotalEnergyConsumption", None) not in concepts
    assert ("vsme:EnergyConsumptionFromElectricity", None) in concepts
    assert not [c for c, _ in concepts if c == "vsme:EnergyConsumptionFromFuels"]
    assert any("cannot be stated" in n for n in mix.notes)
