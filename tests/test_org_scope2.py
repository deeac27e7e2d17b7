"""Scope 2 of an import, both ways: location-based from the grid where the electricity is
consumed, market-based from the tenant's contracts, the supplier's rate and the residual mix.
Figures are computed by hand from the factors in the library and the contracts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from emissions.services_activities import activity_record_update
from factors.models import EmissionFactor
from imports.models import ImportStatus
from imports.services import (
    import_run_create,
    import_run_set_mapping,
    import_run_start_commit,
    import_run_validate,
)
from tests.conftest import library_add
from tests.factor_helpers import make_supplier_factor
from tests.org_helpers import make_instrument, make_site
from tests.test_org_regions import MAPPING, chosen_factor, prepare_csv


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Iterator[None]:
    library_add("aib_residual_mix_2021")
    with schema_context("acme"):
        yield


def residual(region: str, year: int) -> float:
    return EmissionFactor.objects.get(
        dataset__key="aib_residual_mix_2021", basis="residual_mix", region=region, year=year
    ).kg_co2e


CSV = (
    "Date,Activity,kWh,Site,Country\n"
    "2024-01-31,Electricity,4000,Ulm,\n"
    "2024-02-29,Electricity,6000,Werk Ulm,\n"
    "2024-01-31,Electricity,2000,UK depot,\n"
    "2024-01-31,Electricity,1000,,FR\n"
    "2024-01-31,Electricity,1000,,US\n"
)


def _sites_and_contracts() -> None:
    ulm = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    depot = make_site(name="UK depot", country="GB", aliases=[])
    # 3 MWh of guarantees of origin at 0 kg for Ulm's 10 MWh of 2024, first kWh first: 3,000 of
    # January's 4,000 kWh; February's 6,000 kWh are not covered.
    make_instrument(site=ulm, kind="certificate", mwh_covered=3.0, kg_co2e_per_kwh=0.0)
    # A green tariff for all of the depot's electricity, the supplier's rate 0.
    make_instrument(site=depot, kind="green_tariff", mwh_covered=None, kg_co2e_per_kwh=0.0)


def test_it_computes_both_scope_2_figures_by_the_hierarchy(acme: None) -> None:
    _sites_and_contracts()
    prepared = prepare_csv(CSV)
    calc = prepared.calculated
    rates = {row: chosen_factor(prepared, row).kg_co2e for row in calc.index}
    kwh = {2: 4000.0, 3: 6000.0, 4: 2000.0, 5: 1000.0, 6: 1000.0}
    for row, q in kwh.items():  # location-based: the grid where consumed, contracts or not
        assert calc.loc[row, "kg_co2e"] == pytest.approx(q * rates[row])
    # AIB publishes residual mixes for 2019-2021: 2024 rows take the nearest earlier, 2021.
    de, fr = residual("DE", 2021), residual("FR", 2021)
    expected = {
        2: 1000 * de,  # 3,000 kWh certificate at 0, 1,000 kWh residual mix
        3: 6000 * de,  # the certificate's MWh ran out in January
        4: 0.0,  # green tariff
        5: 1000 * fr,  # no contract: residual mix of France
        6: 1000 * rates[6],  # no residual mix for the US: location-based, disclosed
    }
    for row, kg in expected.items():
        assert calc.loc[row, "kg_co2e_market"] == pytest.approx(kg), row
    assert list(calc["market_basis"]) == [
        "contractual+residual_mix",
        "residual_mix",
        "contractual",
        "residual_mix",
        "location",
    ]


def test_it_stores_both_figures_and_why_on_each_record(
    acme: None, alice: Client, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    _sites_and_contracts()
    run = import_run_create(upload=SimpleUploadedFile("meters.csv", CSV.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    # The activity lines (companion WTT / T&D lines share their source row; Scope 3).
    records = {
        r.source_row: r for r in ActivityRecord.objects.filter(import_run=run, line_kind="main")
    }
    ulm = records[2]
    assert ulm.scope == 2
    assert ulm.kg_co2e == pytest.approx(4000 * ulm.factor.kg_co2e)
    assert ulm.kg_co2e_market == pytest.approx(1000 * residual("DE", 2021))
    assert ulm.market_basis == "contractual+residual_mix"
    assert (ulm.provenance["region"], ulm.provenance["region_why"]) == ("DE", "site “Werk Ulm”")
    market = ulm.provenance["scope2_market"]
    assert market["covered_share"] == pytest.approx(0.75)  # 3 MWh of January's 4 MWh
    assert (
        market["residual_mix_factor_id"]
        == EmissionFactor.objects.get(
            dataset__key="aib_residual_mix_2021", basis="residual_mix", region="DE", year=2021
        ).id
    )
    assert records[4].kg_co2e_market == 0.0
    assert records[4].kg_co2e == pytest.approx(2000 * records[4].factor.kg_co2e)
    assert records[4].kg_co2e > 0
    location = sum(r.kg_co2e for r in records.values())
    market_total = sum(r.kg_co2e_market for r in records.values())
    page = alice.get("/activities/")
    totals = page.context["totals"]
    assert totals.scope_2_location == pytest.approx(location)
    assert totals.scope_2_market == pytest.approx(market_total)
    # Both shown side by side on the page.
    assert b'data-testid="scope-2-market"' in page.content
    # A life-cycle intensity (no generation factor for the region) is labelled on the record and
    # the page says so.
    life_cycle = [r for r in records.values() if r.factor.dataset.family == "owid_grid"]
    for r in life_cycle:
        assert "life-cycle" in r.provenance["location_note"]
    assert (b'data-testid="life-cycle-warning"' in page.content) == bool(life_cycle)
    # An edit recomputes both figures; the certificate's 3 MWh still go to January first:
    # 3,000 of its 5,000 kWh (60%), 2,000 kWh at the residual mix.
    activity_record_update(record=ulm, user=None, quantity=5000.0)
    ulm.refresh_from_db()
    assert ulm.kg_co2e == pytest.approx(5000 * ulm.factor.kg_co2e)
    assert ulm.kg_co2e_market == pytest.approx(2000 * residual("DE", 2021))
    assert ulm.market_basis == "contractual+residual_mix"
    assert ulm.provenance["scope2_market"]["covered_share"] == pytest.approx(0.6)
    assert ulm.provenance["edited"] is True


def test_a_green_tariff_supplier_factor_leaves_location_based_on_the_grid(acme: None) -> None:
    make_supplier_factor(
        name="Electricity green tariff",
        supplier="Ökostrom GmbH",
        scope=2,
        region="DE",
        unit="kWh",
        kg_co2e=0.0,
        year=2024,
    )
    prepared = prepare_csv("Date,Activity,kWh,Site,Country\n2024-05-31,Electricity,1000,,DE\n")
    calc = prepared.calculated
    grid = chosen_factor(prepared, 2)
    assert grid.region == "DE"
    assert grid.kg_co2e > 0
    assert calc.loc[2, "kg_co2e"] == pytest.approx(1000 * grid.kg_co2e)
    assert calc.loc[2, "kg_co2e_market"] == 0.0
    assert calc.loc[2, "market_basis"] == "supplier"


def test_it_labels_a_life_cycle_grid_factor(acme: None) -> None:
    prepared = prepare_csv("Date,Activity,kWh,Site,Country\n2024-05-31,Electricity,1000,,IN\n")
    factor = chosen_factor(prepared, 2)
    if factor.dataset.family != "owid_grid":
        pytest.skip("the library has a generation factor for India")
    assert "life-cycle" in prepared.calculated.loc[2, "location_note"]
    assert any(n["code"] == "life_cycle_grid" for n in prepared.result.notes)


def test_contract_dates_bound_the_claim(acme: None) -> None:
    ulm = make_site(name="Werk Ulm", country="DE", aliases=[])
    make_instrument(
        site=ulm, kind="green_tariff", start=dt.date(2024, 7, 1), end=dt.date(2024, 12, 31)
    )
    prepared = prepare_csv(
        "Date,Activity,kWh,Site,Country\n"
        "2024-06-30,Electricity,1000,Werk Ulm,\n2024-07-31,Electricity,1000,Werk Ulm,\n"
    )
    assert list(prepared.calculated["market_basis"]) == ["residual_mix", "contractual"]


def test_heat_takes_heat_contracts_and_never_the_electricity_residual_mix(acme: None) -> None:
    ulm = make_site(name="Werk Ulm", country="DE", aliases=[])
    make_instrument(site=ulm, kind="certificate", mwh_covered=None, kg_co2e_per_kwh=0.0)
    heat = EmissionFactor.objects.filter(
        dataset__key="defra_2024", kind="heat_steam", unit="kWh"
    ).first()
    assert heat is not None
    choice = {"factor_id": heat.id}
    csv = (
        "Date,Activity,kWh,Site,Country\n"
        "2024-03-31,District heat,1000,Werk Ulm,\n"
        "2024-03-31,District heat,1000,,DE\n"
    )
    from imports.pipeline import read_upload
    from imports.preparation import prepare

    prepared = prepare(
        read_upload(csv.encode(), filename="heat.csv"),
        MAPPING,
        overrides={("district heat", "energy"): choice},
    )
    calc = prepared.calculated
    assert list(calc["kg_co2e"]) == pytest.approx([1000 * heat.kg_co2e] * 2)
    # The site's electricity certificate does not cover heat; no residual mix for heat.
    assert list(calc["market_basis"]) == ["location", "location"]
    assert list(calc["kg_co2e_market"]) == pytest.approx([1000 * heat.kg_co2e] * 2)
    # A heat supplier's rate does.
    make_instrument(
        site=ulm, kind="supplier_rate", carrier="heat", mwh_covered=None, kg_co2e_per_kwh=0.12
    )
    prepared = prepare(
        read_upload(csv.encode(), filename="heat.csv"),
        MAPPING,
        overrides={("district heat", "energy"): choice},
    )
    assert list(prepared.calculated["market_basis"]) == ["supplier", "location"]
    assert prepared.calculated.loc[2, "kg_co2e_market"] == pytest.approx(1000 * 0.12)
