"""The owner sets up the organisation in the browser (profile, two sites in two countries, a
green tariff for one), imports a meter file with rows for both sites, and sees Scope 2
location- and market-based side by side, equal to the figures computed here by hand.

Location-based: each row's kWh x the grid factor of its site's country (the factors the import
chose, read from the library: DEFRA for the UK, AIB's production mix for Germany). Market-based: the UK depot's green tariff covers all of its kWh at
0 kg; Werk Ulm has no contract, so its kWh take Germany's residual mix (AIB, latest year <= 2024).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.browser import (
    acme_restored,
    app_server,
    chromium_page,
    library_committed,
    require_chromium,
)
from tests.conftest import ALICE, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEYS = ["defra_2024", "owid_grid_2025", "aib_residual_mix_2021"]
CSV = (
    "Date,Description,Quantity,Unit,Site\n"
    "2024-01-31,Electricity,4000,kWh,Ulm\n"
    "2024-02-29,Electricity,6000,kWh,Werk Ulm\n"
    "2024-01-31,Electricity,2000,kWh,UK depot\n"
)


@pytest.fixture(scope="module")
def committed_library(tenants: dict[str, object], django_db_blocker: Any) -> Iterator[None]:
    with library_committed(KEYS, django_db_blocker):
        yield


@pytest.fixture
def server(
    committed_library: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    require_chromium()
    monkeypatch.delenv("REDIS_URL", raising=False)
    with (
        acme_restored(
            django_db_blocker,
            also=(
                "emissions.ContractualInstrument",
                "emissions.Site",
                "emissions.ReportingPeriod",
                "emissions.OrganisationProfile",
            ),
        ),
        django_db_blocker.unblock(),
        app_server() as base,
    ):
        yield base


def _fill(form: Any, values: dict[str, str]) -> None:
    for label, value in values.items():
        field = form.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)


def test_the_owner_sees_both_scope_2_figures_of_two_sites(server: str, tmp_path: Path) -> None:
    from emissions.models import ActivityRecord
    from factors.models import EmissionFactor

    port = server.rsplit(":", 1)[1]
    base = f"http://acme.localhost:{port}"
    meters = tmp_path / "meters 2024.csv"
    meters.write_text(CSV, encoding="utf-8")

    with chromium_page() as page:
        p: Any = page
        p.set_viewport_size({"width": 1280, "height": 900})
        p.goto(f"{base}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{base}/")

        p.goto(f"{base}/settings/")
        _fill(
            p.get_by_test_id("profile-form"),
            {
                "Legal name": "Acme Metallbau GmbH",
                "Country": "DE",
                "Consolidation approach": "Operational control",
                "Fiscal year start": "1 January",
                "Base year": "2024",
            },
        )
        p.get_by_role("button", name="Save profile").click()
        p.get_by_text("Saved the organisation profile.").wait_for()
        for name, country, aliases in (("Werk Ulm", "DE", "Ulm"), ("UK depot", "GB", "")):
            _fill(
                p.get_by_test_id("site-form"),
                {"Name": name, "Country": country, "Aliases": aliases},
            )
            p.get_by_role("button", name="Add site").click()
            p.get_by_text(f"Added the site “{name}”.").wait_for()
        _fill(
            p.get_by_test_id("contract-form"),
            {
                "Kind": "Green tariff",
                "Site": "UK depot",
                "Supplier": "Good Energy",
                "Start": "2024-01-01",
                "End": "2024-12-31",
                "Emission rate (kg CO2e/kWh)": "0",
            },
        )
        p.get_by_role("button", name="Add contract").click()
        p.get_by_test_id("contracts").get_by_text("Good Energy").wait_for()

        p.goto(f"{base}/imports/")
        p.locator("#import-file").set_input_files(str(meters))
        p.wait_for_url(re.compile(r"/imports/\d+/mapping/$"))
        assert p.get_by_label("Site: column", exact=True).input_value() == "Site"
        p.get_by_role("button", name="Save and preview").click()
        p.wait_for_url(re.compile(r"/preview/$"))
        p.get_by_role("button", name="Check all 3 rows").click()
        p.wait_for_url(re.compile(r"/check/$"))
        assert p.get_by_test_id("rows-invalid").inner_text() == "0"
        p.get_by_role("link", name="Next: confirm the factors").click()
        p.wait_for_url(re.compile(r"/factors/$"))
        p.get_by_role("button", name="Confirm factors and continue").click()
        p.wait_for_url(re.compile(r"/commit/$"))
        p.get_by_role("button", name="Import now").click()
        p.wait_for_url(re.compile(r"/progress/$"))
        link = p.get_by_role("link", name="See the records in Activities")
        link.wait_for(timeout=30_000)
        link.click()
        p.wait_for_url(re.compile(r"/activities/\?run=\d+$"))
        location = float(p.get_by_test_id("scope-2-location").get_attribute("data-kg"))
        market = float(p.get_by_test_id("scope-2-market").get_attribute("data-kg"))

    with schema_context("acme"):
        # The activity lines (a UK row also brings its WTT / T&D companion lines, Scope 3).
        factor_of = dict(
            ActivityRecord.objects.filter(line_kind="main").values_list("site", "factor_id")
        )
    with schema_context("public"):
        ulm = EmissionFactor.objects.get(id=factor_of["Werk Ulm"])
        depot = EmissionFactor.objects.get(id=factor_of["UK depot"])
        residual_de = (
            EmissionFactor.objects.filter(
                dataset__key="aib_residual_mix_2021",
                basis="residual_mix",
                region="DE",
                year__lte=2024,
            )
            .order_by("-year")
            .first()
        )
    assert (ulm.region, depot.region) == ("DE", "GB")
    # Germany's direct generation factor (AIB production mix), not a life-cycle intensity.
    assert (ulm.dataset.family, ulm.basis) == ("aib_residual_mix", "location")
    assert residual_de is not None
    assert location == pytest.approx((4000 + 6000) * ulm.kg_co2e + 2000 * depot.kg_co2e, abs=1e-5)
    assert market == pytest.approx((4000 + 6000) * residual_de.kg_co2e + 2000 * 0.0, abs=1e-5)


def test_it_reads_the_meter_file_as_the_wizard_will(db: None) -> None:
    """The file the browser uploads. (Requesting `db` makes pytest-django set up the test
    database when this file runs alone.)"""
    from imports.pipeline import read_upload

    read = read_upload(CSV.encode(), filename="meters 2024.csv")
    assert read.headers == ["Date", "Description", "Quantity", "Unit", "Site"]
    assert read.frame["Site"].tolist() == ["Ulm", "Werk Ulm", "UK depot"]
