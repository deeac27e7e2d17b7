"""Reports: ESRS E1 and VSME B3 from the inventory selector's totals, as iXBRL XHTML (validated
offline by Arelle for ESRS) and PDF; generation as a job with a stored verdict and pinned inputs;
the Reports page lists them; the CLI prints the verdict."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import openpyxl
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
from reporting.selectors import dashboard, period_filters
from reporting.taxonomy import TaxonomyError, vsme_taxonomy
from reporting.validate import check_against_taxonomy
from reporting.vsme_template import TemplateError
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


def _sql_energy_mwh() -> dict[str, float]:
    """The seeded energy in MWh from the table (quantity by fuel and unit, straight SQL) and
    DEFRA 2024's published net calorific values, independent of the report's code."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.name, r.unit, SUM(r.quantity) FROM emissions_activityrecord r "
            "JOIN emissions_supplierfactor f ON f.id = r.supplier_factor_id "
            "WHERE r.date BETWEEN '2024-01-01' AND '2024-12-31' AND r.scope = 1 "
            "GROUP BY f.name, r.unit"
        )
        quantities = {(name, unit): q for name, unit, q in cursor.fetchall()}
        cursor.execute(
            "SELECT SUM(quantity) FROM emissions_activityrecord "
            "WHERE date BETWEEN '2024-01-01' AND '2024-12-31' AND scope = 2 AND unit = 'kWh'"
        )
        (kwh,) = cursor.fetchone()
    per_unit = expected_energy_mwh()
    oil = quantities[("Diesel (average biofuel blend)", "L")] / 500 * per_unit["oil"]
    gas = quantities[("Natural Gas", "kWh (Gross CV)")] / 20_000 * per_unit["gas"]
    pellets = quantities[("Wood Pellets", "tonne")] / 2 * per_unit["renewable_fuels"]
    green = 0.75 * kwh / 1000  # the green tariff covers 7.5 of the 10 MWh
    total = oil + gas + pellets + kwh / 1000
    return {
        "oil": oil,
        "gas": gas,
        "renewable_fuels": pellets,
        "renewable": pellets + green,
        "total": total,
        "electricity_renewable": green,
        "electricity_non_renewable": kwh / 1000 - green,
    }


@pytest.mark.slow
def test_it_generates_a_valid_esrs_e1_report_equal_to_the_inventory(
    period: Any,
    bob: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
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
    board = dashboard(period).totals
    assert (board.scope_1, board.location, board.market) == (
        totals.scope_1,
        totals.location,
        totals.market,
    )
    energy = _sql_energy_mwh()
    assert plain["esrs:EnergyConsumptionRelatedToOwnOperations"] == pytest.approx(
        energy["total"], rel=1e-3
    )
    assert plain["esrs:FuelConsumptionFromCrudeOilAndPetroleumProducts"] == pytest.approx(
        energy["oil"], rel=1e-3
    )
    assert plain["esrs:FuelConsumptionFromNaturalGas"] == pytest.approx(energy["gas"], abs=5e-4)
    assert plain["esrs:FuelConsumptionFromRenewableSources"] == pytest.approx(
        energy["renewable_fuels"], abs=5e-4
    )
    assert plain[
        "esrs:ConsumptionOfPurchasedOrAcquiredElectricityHeatSteamAndCoolingFromRenewableSources"
    ] == pytest.approx(7.5)
    assert plain["esrs:PercentageOfRenewableSourcesInTotalEnergyConsumption"] == pytest.approx(
        energy["renewable"] / energy["total"], abs=1e-4
    )
    # Fossil and nuclear cannot be told apart for grid electricity: not tagged, and said so.
    assert "esrs:EnergyConsumptionFromFossilSources" not in plain
    assert "esrs:EnergyConsumptionFromNuclearSources" not in plain
    assert any("generation mix" in n for n in report.validation["notes"])
    text = pdf_text(bytes(report.pdf))
    for value in (totals.scope_1, totals.scope_2_location, totals.scope_2_market, totals.scope_3):
        assert f"{value / 1000:,.3f}" in text
    assert f"{plain['esrs:EnergyConsumptionRelatedToOwnOperations']:,.3f}" in text
    # Arelle opened the inline XBRL report package offline (the facts above come from it) and
    # its ixbrl-viewer plugin wrote the viewer page, whose script is ours.
    assert report.validation["checked_by"] == "Arelle (report package)"
    page = gzip.decompress(bytes(report.viewer)).decode()
    assert '<script src="/static/ixbrlviewer/ixbrlviewer.js"' in page
    assert "application/x.ixbrl-viewer+json" in page
    assert not re.search(
        r"<(script|link)\s[^>]*(src|href)=\"https?:", page
    )  # nothing from elsewhere
    viewer = bob.get(reverse("report_viewer", args=[report.id]))
    assert viewer.status_code == 200
    policy = viewer["Content-Security-Policy"]
    assert "sandbox allow-scripts" in policy
    assert "script-src 'self'" in policy
    assert "form-action 'none'" in policy
    package = bob.get(reverse("report_download", args=[report.id, "package"]))
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        names = archive.namelist()
        document = json.loads(archive.read(f"{report.stem}/META-INF/reportPackage.json"))
    assert package["Content-Disposition"].endswith(f'{report.stem}.xbri"')
    assert document == {
        "documentInfo": {"documentType": "https://xbrl.org/report-package/2023/xbri"}
    }
    assert names == [
        f"{report.stem}/META-INF/reportPackage.json",
        f"{report.stem}/reports/{report.stem}.xhtml",
    ]


@pytest.fixture
def no_arelle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arelle runs once per session (the slow test); the rest build reports without it."""
    monkeypatch.setattr(services, "_packages", lambda regime_key: ())
    monkeypatch.setattr(services, "_arelle_reads", lambda regime_key: False)


def _generate(
    regime: str,
    period: Any,
    capture: Callable[..., Any],
    settings: Any,
    formats: tuple[str, ...] = (),
) -> Report:
    settings.JOBS_IN_PROCESS = True
    with capture(execute=True):
        report = services.report_request(
            user=None, period_id=period.id, regime_key=regime, formats=formats
        )
    report.refresh_from_db()
    return report


@pytest.mark.slow
def test_it_tags_vsme_b3_with_concepts_from_the_taxonomy_dump(
    period: Any,
    bob: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    report = _generate("vsme", period, django_capture_on_commit_callbacks, settings)
    assert report.status == ReportStatus.DONE, report.error
    assert report.formats == ["pdf", "ixbrl", "package", "template"]
    # No VSME taxonomy package for Arelle: the facts are checked against the taxonomy dump.
    assert report.verdict == Verdict.VALID, report.validation["errors"]
    assert report.validation["checked_by"] == "the VSME taxonomy dump"
    xhtml = bytes(report.xhtml)
    assert b'name="vsme:GrossMarketBasedScope2GreenhouseGasEmissions"' in xhtml
    assert b"https://xbrl.efrag.org/taxonomy/vsme/2026-05-01/vsme-all.xsd" in xhtml
    assert report.fingerprint == services.records_fingerprint(period)
    assert "supplier-specific" in report.datasets
    # Arelle read the facts back from the iXBRL (offline it cannot load the VSME taxonomy, so
    # its reading is kept, not its verdict) and wrote the viewer page (concept names, no labels).
    read = services.arelle_facts(report)
    assert b"application/x.ixbrl-viewer+json" in gzip.decompress(bytes(report.viewer))
    axis = "vsme:BreakdownOfEnergyConsumptionAxis"
    arelle = {(f["concept"], f["dimensions"].get(axis)): float(f["value"]) for f in read}
    totals = dashboard(period).totals
    sql = _sql_totals()
    energy = _sql_energy_mwh()
    expected = {
        ("vsme:GrossScope1GreenhouseGasEmissions", None): (totals.scope_1, sql["scope_1"]),
        ("vsme:GrossLocationBasedScope2GreenhouseGasEmissions", None): (
            totals.scope_2_location,
            sql["scope_2"],
        ),
        ("vsme:GrossMarketBasedScope2GreenhouseGasEmissions", None): (
            totals.scope_2_market,
            sql["scope_2_market"],
        ),
        ("vsme:GrossScope3GreenhouseGasEmissions", None): (totals.scope_3, sql["scope_3"]),
        ("vsme:TotalGrossMarketBasedGHGEmissions", None): (
            totals.market,
            sql["scope_1"] + sql["scope_2_market"] + sql["scope_3"],
        ),
    }
    for key, (selector_kg, sql_kg) in expected.items():
        assert arelle[key] == pytest.approx(selector_kg / 1000, abs=5e-4), key
        assert arelle[key] == pytest.approx(sql_kg / 1000, abs=5e-4), key
    mwh = {
        ("vsme:TotalEnergyConsumption", None): energy["total"],
        ("vsme:EnergyConsumptionFromElectricity", "vsme:RenewableEnergyMember"): energy[
            "electricity_renewable"
        ],
        ("vsme:EnergyConsumptionFromElectricity", "vsme:NonRenewableEnergyMember"): energy[
            "electricity_non_renewable"
        ],
        ("vsme:EnergyConsumptionFromFuels", "vsme:RenewableEnergyMember"): energy[
            "renewable_fuels"
        ],
        ("vsme:EnergyConsumptionFromFuels", "vsme:NonRenewableEnergyMember"): energy["oil"]
        + energy["gas"],
    }
    for key, value in mwh.items():
        assert arelle[key] == pytest.approx(value, rel=1e-3, abs=5e-4), key
    text = pdf_text(bytes(report.pdf))
    for kg in (totals.scope_1, totals.scope_2_location, totals.scope_2_market, totals.scope_3):
        assert f"{kg / 1000:,.3f}" in text
    assert f"{arelle[('vsme:TotalEnergyConsumption', None)]:,.3f}" in text
    # EFRAG's VSME Digital Template, filled in and read back: the named ranges hold the totals.
    download = bob.get(reverse("report_download", args=[report.id, "template"]))
    assert download["Content-Disposition"].endswith(f'{report.stem}.xlsx"')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        workbook = openpyxl.load_workbook(io.BytesIO(download.content))

    def named(name: str) -> Any:
        sheet, ref = next(iter(workbook.defined_names[name].destinations))
        return workbook[sheet][ref.replace("$", "").split(":")[0]].value

    assert named("GrossScope1GreenhouseGasEmissions") == pytest.approx(
        totals.scope_1 / 1000, abs=5e-4
    )
    assert named("GrossLocationBasedScope2GreenhouseGasEmissions") == pytest.approx(
        totals.scope_2_location / 1000, abs=5e-4
    )
    assert named("GrossMarketBasedScope2GreenhouseGasEmissions") == pytest.approx(
        sql["scope_2_market"] / 1000, abs=5e-4
    )
    assert named("GrossScope3GreenhouseGasEmissions_CurrentlyStatedMember") == pytest.approx(
        totals.scope_3 / 1000, abs=5e-4
    )
    assert named("TotalGrossLocationBasedGHGEmissions_CurrentlyStatedMember") == pytest.approx(
        totals.location / 1000, abs=5e-4
    )
    assert named("TotalEnergyConsumption") == pytest.approx(energy["total"], rel=1e-3)
    assert named("EnergyConsumptionFromElectricity_RenewableEnergyMember") == pytest.approx(7.5)
    assert named("EnergyConsumptionFromFuels_NonRenewableEnergyMember") == pytest.approx(
        energy["oil"] + energy["gas"], rel=1e-3
    )
    assert named("template_reporting_entity_name") == "Acme GmbH"
    assert named("template_reporting_entity_identifier") == "5299000J2N45DDNE4Y28"
    assert named("template_reporting_entity_identifier_scheme") == "LEI"
    assert named("template_currency") == "EUR"
    assert named("template_reporting_period_startdate") == "2024-01-01"
    assert named("Turnover") == pytest.approx(2_000_000)


def test_it_refuses_a_template_for_esrs_and_makes_nothing_without_the_template(
    period: Any, no_arelle: None, settings: Any
) -> None:
    with pytest.raises(services.ReportError, match="not template"):
        services.report_create(
            user=None, period_id=period.id, regime_key="esrs_e1", formats=("pdf", "template")
        )
    settings.VSME_TEMPLATE_XLSX = "/nonexistent/VSME-Digital-Template.xlsx"
    with pytest.raises(TemplateError, match="VSME_TEMPLATE_XLSX"):
        services.report_request(user=None, period_id=period.id, regime_key="vsme")
    assert not Report.objects.exists()
    # The template gone between the request and the job: the report fails, no file is kept.
    settings.VSME_TEMPLATE_XLSX = str(
        settings.BASE_DIR / "data/vsme/VSME-Digital-Template-1.3.0.xlsx"
    )
    report = services.report_create(user=None, period_id=period.id, regime_key="vsme")
    settings.VSME_TEMPLATE_XLSX = "/nonexistent/VSME-Digital-Template.xlsx"
    assert services.report_generate_job(report_id=report.id)["status"] == "failed"
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert "VSME Digital Template" in report.error
    assert (report.xhtml, report.pdf, report.template) == (None, None, None)


def test_it_ships_efrags_template_with_its_licence(settings: Any) -> None:
    folder = Path(settings.BASE_DIR) / "data" / "vsme"
    assert Path(settings.VSME_TEMPLATE_XLSX) == folder / "VSME-Digital-Template-1.3.0.xlsx"
    assert Path(settings.VSME_TEMPLATE_XLSX).is_file()
    assert "EFRAG" in (folder / "LICENSE-EFRAG-MIT.txt").read_text()
    # Arelle's viewer script is one of our static files (offline: no CDN).
    from django.contrib.staticfiles import finders

    script = finders.find(services.VIEWER_SCRIPT)
    assert script is not None
    assert Path(script).stat().st_size > 100_000


def test_it_pins_a_new_version_and_a_new_fingerprint_after_the_data_changes(
    period: Any,
    no_arelle: None,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    capture = django_capture_on_commit_callbacks
    first = _generate("vsme", period, capture, settings, formats=("ixbrl",))
    make_activity_record(date=dt.date(2024, 6, 1), kg_co2e=10.0)
    with schema_context("acme"):
        second = _generate("vsme", period, capture, settings, formats=("ixbrl",))
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
        alice.post(reverse("reports"), {"regime": "vsme", "period": period.id, "formats": "pdf"})
    report = Report.objects.get()
    assert report.formats == ["pdf"]
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
        template=b"PK",
        viewer=gzip.compress(b"<html/>"),
        formats=["pdf", "ixbrl", "package", "template"],
        validation={"error_count": 1, "errors": ["[xbrl] broken"]},
    )
    for fmt in ("xhtml", "package", "template", "pdf"):
        response = bob.get(reverse("report_download", args=[report.id, fmt]))
        assert response.status_code == 409, fmt
        assert "cannot be downloaded as final" in response.content.decode()
    assert bob.get(reverse("report_viewer", args=[report.id])).status_code == 409


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
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pdf", ".xbri", ".xhtml", ".xlsx"]
    with zipfile.ZipFile(next(tmp_path.glob("*.xbri"))) as archive:
        assert any(n.endswith("META-INF/reportPackage.json") for n in archive.namelist())
    for old in tmp_path.iterdir():
        old.unlink()
    call_command(
        "generate_report",
        "--tenant=acme",
        "--period=2024",
        "--regime=esrs_e1",
        "--format=package",
        f"--out={tmp_path}",
        stdout=StringIO(),
    )
    assert [p.suffix for p in tmp_path.iterdir()] == [".xbri"]
    with pytest.raises(CommandError, match="not template"):
        call_command(
            "generate_report",
            "--tenant=acme",
            "--period=2024",
            "--format=template",
            f"--out={tmp_path}",
        )
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


def test_without_a_period_the_generate_button_waits_for_one(alice: Client) -> None:
    page = alice.get(reverse("reports")).content.decode()
    assert '<p id="no-period">No reporting period yet:' in page
    assert '<button disabled aria-describedby="no-period">Generate</button>' in page
