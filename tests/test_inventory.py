"""The one inventory selector: totals by scope (Scope 2 both ways), category, month, site and
data-quality tier in SQL; the engine's summary of an import equals the SQL totals of its records;
``manage.py inventory`` prints the same figures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from emissions import selectors_inventory
from emissions.engine.calculate import summarise
from emissions.models import ActivityRecord
from emissions.selectors_activities import ActivityFilters
from emissions.selectors_inventory import inventory_breakdown, inventory_totals
from imports.models import ImportStatus
from imports.services import (
    factor_choice_set,
    import_run_create,
    import_run_start_commit,
    import_run_validate,
)
from tests.factor_helpers import make_library_factor, make_supplier_factor
from tests.import_helpers import make_activity_record


@pytest.fixture
def acme(tenants: dict[str, object], db: None) -> Iterator[None]:
    with schema_context("acme"):
        yield


@pytest.fixture
def records(acme: None) -> dict[str, Any]:
    """Scope 1 at two sites in two months, Scope 2 with and without a market figure, two Scope 3
    categories (one spend-based), and biogenic CO2 outside the scopes."""
    return {
        "diesel": make_activity_record(kg_co2e=250.0, data_quality="invoiced"),
        "diesel_bonn": make_activity_record(
            date=dt.date(2024, 3, 10), site="Bonn", kg_co2e=100.0, data_quality="metered"
        ),
        "power": make_activity_record(
            date=dt.date(2024, 2, 1), scope=2, unit="kWh", kg_co2e=400.0, kg_co2e_market=100.0
        ),
        "heat": make_activity_record(date=dt.date(2024, 2, 5), scope=2, kg_co2e=30.0),
        "train": make_activity_record(
            date=dt.date(2024, 3, 1), scope=3, category=6, kg_co2e=21.0, site=""
        ),
        "paper": make_activity_record(
            date=dt.date(2024, 3, 2),
            scope=3,
            category=1,
            tier="spend",
            data_quality="spend_based",
            kg_co2e=90.0,
            site="",
        ),
        "wood": make_activity_record(scope=0, kg_co2e=7.0),
    }


def test_it_totals_by_scope_with_scope_2_both_ways(records: dict[str, Any]) -> None:
    totals = inventory_totals()
    assert totals.records == 7
    assert totals.scope_1 == pytest.approx(350.0)
    assert totals.scope_2_location == pytest.approx(430.0)
    # The heat record has no market-based figure: its location-based one counts.
    assert totals.scope_2_market == pytest.approx(130.0)
    assert totals.scope_3 == pytest.approx(111.0)
    assert totals.location == pytest.approx(350 + 430 + 111)
    assert totals.market == pytest.approx(350 + 130 + 111)
    assert totals.outside == pytest.approx(7.0)


def test_it_breaks_the_inventory_down_by_category_month_site_and_tier(
    records: dict[str, Any],
) -> None:
    def rows(by: str) -> dict[Any, tuple[float, float, int]]:
        return {r.key: (r.location, r.market, r.records) for r in inventory_breakdown(by=by)}

    assert rows("scope") == {1: (350.0, 350.0, 2), 2: (430.0, 130.0, 2), 3: (111.0, 111.0, 2)}
    assert rows("category") == {1: (90.0, 90.0, 1), 6: (21.0, 21.0, 1)}
    assert [r.label for r in inventory_breakdown(by="category")] == [
        "1 Purchased goods and services",
        "6 Business travel",
    ]
    assert rows("month") == {
        dt.date(2024, 1, 1): (250.0, 250.0, 1),
        dt.date(2024, 2, 1): (430.0, 130.0, 2),
        dt.date(2024, 3, 1): (211.0, 211.0, 3),
    }
    assert rows("site") == {
        "Köln": (680.0, 380.0, 3),
        "Bonn": (100.0, 100.0, 1),
        "": (111.0, 111.0, 2),
    }
    assert rows("data_quality") == {
        "invoiced": (250.0, 250.0, 1),
        "metered": (100.0, 100.0, 1),
        "estimated": (451.0, 151.0, 3),
        "spend_based": (90.0, 90.0, 1),
    }
    # Every breakdown adds up to the totals.
    totals = inventory_totals()
    for by in ("scope", "month", "site", "data_quality"):
        assert sum(r.location for r in inventory_breakdown(by=by)) == pytest.approx(totals.location)
        assert sum(r.market for r in inventory_breakdown(by=by)) == pytest.approx(totals.market)
    with pytest.raises(ValueError, match="unknown inventory dimension"):
        inventory_breakdown(by="colour")


def test_it_follows_the_filters(records: dict[str, Any]) -> None:
    march = ActivityFilters(date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 3, 31))
    totals = inventory_totals(filters=march)
    assert (totals.records, totals.location) == (3, pytest.approx(211.0))
    assert [r.key for r in inventory_breakdown(by="site", filters=march)] == ["", "Bonn"]


def test_it_counts_market_based_as_location_based_without_the_market_column(
    records: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors_inventory, "MARKET_FIELD", "kg_co2e_market_not_there")
    totals = inventory_totals()
    assert totals.scope_2_market == pytest.approx(totals.scope_2_location) == pytest.approx(430.0)
    assert totals.market == pytest.approx(totals.location)


# Three activities, three scopes: the file's records computed by the engine at validation, then
# written by the commit job; both sums must agree.
MIXED_CSV = (
    "Date,Activity,Quantity,Unit,Site\n"
    "2024-01-15,Diesel,1200.5,L,Köln\n"
    "2024-02-01,Strom,35000,kWh,Köln\n"
    "2024-02-20,Diesel,300,L,Bonn\n"
    "2024-03-05,Bahnreise,1800,km,Bonn\n"
    "2024-04-01,Strom,12000,kWh,Bonn\n"
).encode()


def test_the_engine_summary_and_the_sql_totals_agree(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    diesel = make_supplier_factor(kg_co2e=2.6, uncertainty_gsd=1.05)
    # A Scope 2 supplier rate is the market-based figure; the location-based one is the grid's
    # (Scope 2 Guidance, chapter 6): a library grid factor for the rows' region (no country
    # anywhere in the file or the tenant: the world average).
    make_library_factor(
        key="grid_test_2024",
        publisher_id="grid-world",
        name="Electricity: grid average, world",
        scope="2",
        region="GLOBAL",
        unit="kWh",
        unit_dimension="energy",
        kg_co2e=0.45,
        kind="grid_electricity",
        year=2024,
    )
    power = make_supplier_factor(
        name="Grid power, Stadtwerke", scope=2, unit="kWh", kg_co2e=0.38, region="DE"
    )
    train = make_supplier_factor(
        name="Rail travel, DB", scope=3, category=6, unit="km", kg_co2e=0.032, region="DE"
    )
    run = import_run_create(upload=SimpleUploadedFile("mixed.csv", MIXED_CSV), user=None)
    for activity, dimension, factor in (
        ("Diesel", "volume", diesel),
        ("Strom", "energy", power),
        ("Bahnreise", "length", train),
    ):
        factor_choice_set(
            run=run,
            activity=activity,
            unit_dimension=dimension,
            factor_id=None,
            supplier_factor_id=factor.id,
            user=None,
        )
    prepared = import_run_validate(run=run)
    assert prepared.n_invalid == 0, prepared.error_records()
    engine = summarise(prepared.calculated)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    assert ActivityRecord.objects.count() == 5

    sql = inventory_totals()
    assert sql.location == pytest.approx(engine["total_location_kg"])
    assert sql.market == pytest.approx(engine["total_market_kg"])
    assert sql.scope_1 == pytest.approx(engine["scope_1_kg"])
    assert sql.scope_2_location == pytest.approx(engine["scope_2_location_kg"])
    assert sql.scope_2_market == pytest.approx(engine["scope_2_market_kg"])
    assert sql.scope_3 == pytest.approx(engine["scope_3_kg"])
    by_category = {r.key: r.location for r in inventory_breakdown(by="category")}
    assert by_category == pytest.approx(engine["scope_3_by_category_kg"])
    # And both equal the hand calculation.
    assert sql.scope_1 == pytest.approx((1200.5 + 300) * 2.6)
    assert sql.scope_2_location == pytest.approx(47000 * 0.45)
    assert sql.scope_2_market == pytest.approx(47000 * 0.38)
    assert sql.scope_3 == pytest.approx(1800 * 0.032)
    # No money factor: every record carries the documented default tier.
    assert set(ActivityRecord.objects.values_list("data_quality", flat=True)) == {"estimated"}


def test_the_command_prints_the_selectors_figures(records: dict[str, Any]) -> None:
    out = StringIO()
    call_command("inventory", "--tenant", "acme", "--json", stdout=out)
    payload = json.loads(out.getvalue())
    totals = inventory_totals()
    assert payload["totals_kg"]["location"] == pytest.approx(totals.location)
    assert payload["totals_kg"]["scope_2_market"] == pytest.approx(totals.scope_2_market)
    assert {r["key"]: r["location_kg"] for r in payload["by_data_quality"]}["metered"] == 100.0

    out = StringIO()
    call_command("inventory", "--tenant", "acme", "--year", "2023", stdout=out)
    assert "0 records" in out.getvalue()
    out = StringIO()
    call_command("inventory", "--tenant", "acme", stdout=out)
    assert "Scope 2 market-based" in out.getvalue()
    assert "Business travel" in out.getvalue()
    with pytest.raises(CommandError, match="No tenant"):
        call_command("inventory", "--tenant", "nobody")


def test_an_import_maps_the_data_quality_column_and_refuses_an_unknown_tier(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    diesel = make_supplier_factor(kg_co2e=2.6)
    content = (
        b"Date,Activity,Quantity,Unit,Data quality\n"
        b"2024-01-15,Diesel,100,L,Metered\n"
        b"2024-02-15,Diesel,200,L,Rechnung\n"
        b"2024-03-15,Diesel,300,L,\n"
        b"2024-04-15,Diesel,400,L,guessed\n"
    )
    run = import_run_create(upload=SimpleUploadedFile("dq.csv", content), user=None)
    assert run.mapping["columns"]["data_quality"] == "Data quality"
    factor_choice_set(
        run=run,
        activity="Diesel",
        unit_dimension="volume",
        factor_id=None,
        supplier_factor_id=diesel.id,
        user=None,
    )
    prepared = import_run_validate(run=run)
    assert prepared.n_invalid == 1
    error = run.row_errors.get()
    assert (error.row, error.column) == (5, "Data quality")
    assert "'guessed' is not a data-quality tier" in error.message
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None, allow_partial=True)
    tiers = dict(ActivityRecord.objects.values_list("quantity", "data_quality"))
    assert tiers == {100.0: "metered", 200.0: "invoiced", 300.0: "estimated"}
    by_tier = {r.key: r.location for r in inventory_breakdown(by="data_quality")}
    assert by_tier == pytest.approx({"metered": 260.0, "invoiced": 520.0, "estimated": 780.0})
