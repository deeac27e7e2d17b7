"""Replayable provenance (issue 9, item 6 in part): the FX rate with its date and source and the
deflator with its index values are stored with each result, and ``manage.py replay`` recomputes
records from their stored provenance alone, equal after the FX and price-index tables change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from emissions.engine import fx
from emissions.engine.calculate import calculate, money_of, replay

SPEND_FACTOR = 0.3  # kg CO2e per 2022 USD (a supplier's own spend factor in these tests)


@pytest.fixture
def changed_tables(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to change the exchange-rate and price-index tables: every rate +10%, every index
    from 2023 +25%."""

    def change() -> None:
        rates = {c: (d, r * 1.1) for c, (d, r) in fx._rate_table().items()}
        indices = fx.price_indices().copy()
        indices["value"] = np.where(
            indices["year"] >= 2023, indices["value"] * 1.25, indices["value"]
        )
        monkeypatch.setattr(fx, "_rate_table", lambda: rates)
        monkeypatch.setattr(fx, "price_indices", lambda: indices)
        fx._index_series.cache_clear()
        monkeypatch.setattr(
            fx,
            "_index_series",
            lambda index: pd.Series(
                indices.loc[indices["index"] == index, "value"].to_numpy(),
                index=indices.loc[indices["index"] == index, "year"].to_numpy(),
            ),
        )

    return change


def _spend() -> tuple[pd.DataFrame, pd.DataFrame]:
    factors = pd.DataFrame(
        [{"factor_key": "s", "unit": "kg CO2e / 2022 USD", "kg_co2e": SPEND_FACTOR}]
    )
    activities = pd.DataFrame(
        {
            "quantity": [1000.0, 500.0],
            "unit": ["EUR", "kUSD"],
            "factor_key": "s",
            "date": pd.to_datetime(["2024-03-15", "2023-06-01"]),
        }
    )
    return activities, factors


def test_it_stores_the_fx_rate_and_deflator_with_their_sources(
    changed_tables: Callable[[], None],
) -> None:
    activities, factors = _spend()
    result = calculate(activities, factors)
    money = [json.loads(m) for m in money_of(result)]
    first = money[0]
    assert first["fx"]["date"] == "2024-03-15"
    assert first["fx"]["from"] == "EUR"
    assert first["fx"]["to"] == "USD"
    assert "ECB" in first["fx"]["source"]
    assert first["fx"]["rate"] == pytest.approx(float(result.loc[0, "fx_rate"]))
    deflator = first["deflator"]
    assert (deflator["index"], deflator["from_year"], deflator["to_year"]) == (
        "US_CPI_U",
        2024,
        2022,
    )
    assert deflator["index_from"] == fx.price_index_value("US_CPI_U", 2024)
    assert deflator["index_to"] == fx.price_index_value("US_CPI_U", 2022)
    assert deflator["value"] == pytest.approx(deflator["index_to"] / deflator["index_from"])
    assert "BLS" in deflator["source"]
    assert money[1]["fx"] is None  # USD spend against a USD factor: no exchange
    for row in result.index:
        calc = json.loads(result.loc[row, "provenance"])
        quantity = float(activities.loc[row, "quantity"])
        replayed = replay(calc, quantity, money[row])
        assert replayed["kg_co2e"] == pytest.approx(result.loc[row, "kg_co2e"], rel=1e-12)
    # After the tables change, a fresh calculation differs; the stored provenance still replays.
    changed_tables()
    again = calculate(activities, factors)
    assert again.loc[0, "kg_co2e"] != pytest.approx(result.loc[0, "kg_co2e"], rel=1e-3)
    calc = json.loads(result.loc[0, "provenance"])
    assert replay(calc, 1000.0, money[0])["kg_co2e"] == pytest.approx(
        result.loc[0, "kg_co2e"], rel=1e-12
    )


# --- through an import and manage.py replay, against PostgreSQL --------------------------------

SPEND_CSV = (
    b"Date,Activity,Amount,Currency\n"
    b"2024-03-15,Consulting,1000,EUR\n"
    b"2023-06-01,Consulting,500,USD\n"
    b"2024-01-10,Consulting,250.5,GBP\n"
)


@pytest.fixture
def acme(tenants: dict[str, object], db: None) -> Iterator[None]:
    with schema_context("acme"):
        yield


@pytest.mark.replay_unchecked  # it breaks a record's figure on purpose
def test_it_replays_an_import_after_the_fx_and_price_index_tables_changed(
    acme: None,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
    changed_tables: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from emissions.models import ActivityRecord, SupplierFactor
    from imports.models import ImportStatus
    from imports.services import factor_choice_set, import_run_create, import_run_start_commit
    from imports.services import import_run_validate as validate_run

    settings.JOBS_IN_PROCESS = True
    factor = SupplierFactor.objects.create(
        name="Consulting services",
        supplier="Acme Advisory",
        scope=3,
        category=1,
        unit="USD",
        currency="USD",
        price_year=2022,
        kg_co2e=SPEND_FACTOR,
        basis="spend",
        source_note="Acme Advisory spend factor, 2022 USD",
    )
    run = import_run_create(upload=SimpleUploadedFile("spend.csv", SPEND_CSV), user=None)
    factor_choice_set(
        run=run,
        activity="Consulting",
        unit_dimension="money",
        factor_id=None,
        supplier_factor_id=factor.id,
        user=None,
    )
    validate_run(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    records = list(ActivityRecord.objects.filter(import_run=run).order_by("source_row"))
    assert len(records) == 3
    eur = records[0]
    assert eur.provenance["money"]["fx"]["date"] == "2024-03-15"
    assert eur.provenance["money"]["deflator"]["index"] == "US_CPI_U"

    changed_tables()
    capsys.readouterr()
    call_command("replay", tenant="acme", run=run.id)
    assert f"import run {run.id}: 3 of 3 records replay equal" in capsys.readouterr().out
    call_command("replay", tenant="acme", record=eur.id)
    assert f"record {eur.id}: 1 of 1 records replay equal" in capsys.readouterr().out

    # A record whose figure no longer follows from its provenance is reported, and fails.
    ActivityRecord.objects.filter(id=eur.id).update(kg_co2e=eur.kg_co2e * 1.01)
    with pytest.raises(CommandError, match="1 record"):
        call_command("replay", tenant="acme", run=run.id)
    assert f"record {eur.id} (imported, supplier factor): differs" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No tenant"):
        call_command("replay", tenant="nope", run=run.id)


def test_it_replays_an_edited_spend_record_from_its_own_provenance(
    acme: None, changed_tables: Callable[[], None]
) -> None:
    from emissions.inventory import activity_record_recalculate
    from emissions.models import ActivityRecord, SupplierFactor
    from emissions.replay import record_replay

    factor = SupplierFactor.objects.create(
        name="Consulting services",
        scope=3,
        category=1,
        unit="USD",
        currency="USD",
        price_year=2022,
        kg_co2e=SPEND_FACTOR,
        basis="spend",
        source_note="Acme Advisory spend factor, 2022 USD",
    )
    record = ActivityRecord(
        date=pd.Timestamp("2024-03-15").date(),
        activity="Consulting",
        amount=1000.0,
        currency="EUR",
        scope=3,
        tier="spend",
        supplier_factor=factor,
        gwp_set="AR5",
    )
    activity_record_recalculate(record=record)
    record.save()
    assert record.provenance["money"]["fx"]["from"] == "EUR"
    changed_tables()
    replayed = record_replay(ActivityRecord.objects.get(id=record.id))
    assert replayed.equal
    assert replayed.replayed == pytest.approx(record.kg_co2e, rel=1e-12)


# --- every kind of record, one provenance shape ------------------------------------------------

GRID_KG = 0.4  # kg CO2e/kWh of a test grid factor (no standard's figure: a made-up library row)
DIESEL_KG = 0.25  # kg CO2e/kWh (gross CV) of a test diesel factor (made-up library row)

METERS_CSV = (
    "Date,Activity,kWh,Site,Country\n"
    "2024-01-31,Electricity,4000,Ulm,\n"
    "2024-02-29,Electricity,6000,Werk Ulm,\n"
    "2024-01-31,Electricity,1000,,FR\n"
)


def _grid(**fields: Any) -> Any:
    from tests.factor_helpers import make_library_factor

    values: dict[str, Any] = {
        "key": "grid_test_2024",
        "publisher_id": "grid-de",
        "name": "Electricity: grid average",
        "scope": "2",
        "region": "DE",
        "unit": "kWh",
        "unit_dimension": "energy",
        "kind": "grid_electricity",
        "basis": "location",
        "kg_co2e": GRID_KG,
        **fields,
    }
    return make_library_factor(**values)


def _diesel_record() -> Any:
    """A diesel record in litres against a library factor per kWh (gross CV): the conversion
    goes through the fuel's density and calorific value, each with its source."""
    from emissions.inventory import activity_record_recalculate
    from emissions.models import ActivityRecord
    from tests.factor_helpers import make_library_factor

    factor = make_library_factor(
        key="fuel_test_2024",
        publisher_id="diesel-kwh",
        name="Fuels: Diesel (average biofuel blend)",
        unit="kWh",
        unit_dimension="energy",
        cv_basis="gross",
        kind="fuel",
        kg_co2e=DIESEL_KG,
    )
    record = ActivityRecord(
        date=pd.Timestamp("2024-02-01").date(),
        activity="Diesel",
        quantity=100.0,
        unit="L",
        scope=1,
        tier="secondary",
        factor=factor,
        gwp_set="AR5",
    )
    activity_record_recalculate(record=record)
    record.save()
    return record


def _spend_record() -> Any:
    from emissions.inventory import activity_record_recalculate
    from emissions.models import ActivityRecord, SupplierFactor

    factor = SupplierFactor.objects.create(
        name="Consulting services",
        scope=3,
        category=1,
        unit="USD",
        currency="USD",
        price_year=2022,
        kg_co2e=SPEND_FACTOR,
        basis="spend",
        source_note="Acme Advisory spend factor, 2022 USD",
    )
    record = ActivityRecord(
        date=pd.Timestamp("2024-03-15").date(),
        activity="Consulting",
        amount=1000.0,
        currency="EUR",
        scope=3,
        tier="spend",
        supplier_factor=factor,
        gwp_set="AR5",
    )
    activity_record_recalculate(record=record)
    record.save()
    return record


def _scope2_record() -> Any:
    """An electricity record at a site whose certificate covers 3 of its 4 MWh."""
    from emissions.inventory import activity_record_recalculate
    from emissions.models import ActivityRecord
    from tests.org_helpers import make_instrument, make_site

    ulm = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    make_instrument(site=ulm, kind="certificate", mwh_covered=3.0, kg_co2e_per_kwh=0.05)
    record = ActivityRecord(
        date=pd.Timestamp("2024-01-31").date(),
        activity="Electricity",
        quantity=4000.0,
        unit="kWh",
        site="Werk Ulm",
        scope=2,
        tier="secondary",
        factor=_grid(),
        gwp_set="AR5",
    )
    activity_record_recalculate(record=record)
    record.save()
    return record


def test_it_replays_every_kind_of_record_after_factors_contracts_and_rates_changed(
    acme: None,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
    changed_tables: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from emissions.models import ActivityRecord, ContractualInstrument
    from emissions.provenance import VERSION, missing, read
    from emissions.services_activities import activity_record_update
    from emissions.services_refactor import activity_factor_change_request
    from factors.models import EmissionFactor
    from imports.models import ImportStatus
    from imports.services import (
        factor_choice_set,
        import_run_create,
        import_run_set_mapping,
        import_run_start_commit,
        import_run_validate,
    )
    from tests.org_helpers import make_instrument, make_site
    from tests.test_org_regions import MAPPING

    settings.JOBS_IN_PROCESS = True
    grid = _grid()
    other_grid = _grid(key="grid_test_2025", publisher_id="grid-fr", region="FR", kg_co2e=0.06)
    ulm = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    make_instrument(site=ulm, kind="certificate", mwh_covered=3.0, kg_co2e_per_kwh=0.0)
    run = import_run_create(upload=SimpleUploadedFile("m.csv", METERS_CSV.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    factor_choice_set(
        run=run,
        activity="Electricity",
        unit_dimension="energy",
        factor_id=grid.id,
        supplier_factor_id=None,
        user=None,
    )
    import_run_validate(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    rows = {r.source_row: r for r in ActivityRecord.objects.filter(import_run=run)}
    imported = rows[2]
    assert imported.market_basis == "contractual+location"
    # The certificate's 3 MWh cover 3,000 of January's 4,000 kWh (first kWh first).
    assert imported.kg_co2e_market == pytest.approx(1000 * GRID_KG)
    # The documented shape, complete, on an imported record (its calculation is the run's).
    reading = read(imported.provenance, run.detected["calculations"].get)
    assert reading.version == VERSION
    assert missing(reading) == []
    assert reading.factor["publisher_id"] == "grid-de"
    assert (reading.region, reading.region_why) == ("DE", "site “Werk Ulm”")
    assert reading.scope2_market["kwh_per_unit"] == 1.0
    # An edit, a re-factoring of one record, a spend record with a supplier's factor, a fuel
    # converted by density and calorific value.
    activity_record_update(record=rows[3], user=None, quantity=5000.0)
    with django_capture_on_commit_callbacks(execute=True):
        activity_factor_change_request(
            record=rows[4], factor_id=other_grid.id, reason="French grid", user=None, only_this=True
        )
    refactored = ActivityRecord.objects.get(id=rows[4].id)
    assert refactored.kg_co2e == pytest.approx(1000 * 0.06)
    diesel = _diesel_record()
    steps = diesel.provenance["calculation"]["conversion"]["steps"]
    assert any("density" in s["via"] and s["source"] for s in steps)
    assert any("CV" in s["via"] and s["source"] for s in steps)
    _spend_record()

    # Every table the figures came from changes: factors, the contract, FX and price indices.
    EmissionFactor.objects.filter(id__in=[grid.id, other_grid.id]).update(kg_co2e=1.0)
    ContractualInstrument.objects.update(kg_co2e_per_kwh=0.3, mwh_covered=9.0)
    changed_tables()
    capsys.readouterr()
    call_command("replay", tenant="acme", all=True)
    out = capsys.readouterr().out
    total = ActivityRecord.objects.count()
    assert f"tenant acme: {total} of {total} records replay equal" in out
    for kind in (
        "imported, Scope 2 market-based: 1",
        "edited, Scope 2 market-based: 1",
        "re-factored: 1",
        "edited, supplier factor: 1",
        "edited: 1",
    ):
        assert kind in out, out


# Each documented field, dropped from a stored provenance, makes the replay fail: the field is
# either a number the figure is made of or a source the documented shape requires.
DROPPED = {
    "spend": [
        ("money",),
        ("money", "fx", "rate"),
        ("money", "fx", "date"),
        ("money", "fx", "source"),
        ("money", "deflator", "index_from"),
        ("money", "deflator", "index_to"),
        ("money", "deflator", "source"),
        ("calculation", "factor", "kg_co2e_per_unit"),
        ("calculation", "factor", "id"),
    ],
    "diesel": [
        ("calculation",),
        ("calculation", "gwp_set"),
        ("calculation", "conversion"),
        ("calculation", "factor", "publisher_id"),
        ("calculation", "factor", "version"),
        ("calculation", "factor", "dataset"),
        ("calculation", "conversion", "steps", "density", "source"),
        ("calculation", "conversion", "steps", "CV", "source"),
    ],
    "scope2": [
        ("scope2_market",),
        ("scope2_market", "kwh_per_unit"),
        ("scope2_market", "covered_share"),
        ("scope2_market", "instrument_kg_co2e_per_kwh"),
        ("region_why",),
    ],
}


def _drop(provenance: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(provenance))
    node: Any = out
    for part in path[:-1]:
        # A conversion step is found by what its "via" names.
        node = next(s for s in node if part in s["via"]) if isinstance(node, list) else node[part]
    assert path[-1] in node, path
    del node[path[-1]]
    return out


def test_dropping_any_stored_provenance_field_fails_the_replay(acme: None) -> None:
    from emissions.replay import record_replay

    records = {"spend": _spend_record(), "diesel": _diesel_record(), "scope2": _scope2_record()}
    assert records["scope2"].market_basis == "contractual+location"
    for kind, record in records.items():
        stored = record.provenance
        assert record_replay(record).equal, kind
        for path in DROPPED[kind]:
            record.provenance = _drop(stored, path)
            assert not record_replay(record).equal, path
        record.provenance = stored


def test_records_written_before_the_shape_had_a_version_still_replay(acme: None) -> None:
    from emissions.replay import record_replay

    record = _spend_record()
    old = json.loads(json.dumps(record.provenance))
    del old["v"]
    for step in old["calculation"].get("conversion", {}).get("steps", []):
        step.pop("source", None)
    old["calculation"]["factor"].pop("publisher_id", None)
    record.provenance = old
    assert record_replay(record).equal
    # A Scope 2 detail of before: no kWh per unit (taken from the unit converted to).
    scope2 = _scope2_record()
    old = json.loads(json.dumps(scope2.provenance))
    del old["v"], old["scope2_market"]["kwh_per_unit"]
    scope2.provenance = old
    replayed = record_replay(scope2)
    assert replayed.equal, replayed
    assert replayed.replayed_market == pytest.approx(4000 * (0.75 * 0.05 + 0.25 * GRID_KG))


@pytest.mark.replay_unchecked  # it breaks records on purpose
def test_the_suite_wide_check_finds_a_record_that_no_longer_replays(acme: None) -> None:
    """What runs after every test (tests/conftest.py): every tenant's records with a provenance
    replayed; a changed figure or a dropped field is reported with the record and its kind."""
    from emissions.models import ActivityRecord
    from emissions.replay import tenants_replay

    spend, diesel = _spend_record(), _diesel_record()
    assert tenants_replay() == {}
    ActivityRecord.objects.filter(id=spend.id).update(kg_co2e=spend.kg_co2e * 1.001)
    broken = dict(diesel.provenance)
    del broken["calculation"]["factor"]["publisher_id"]
    ActivityRecord.objects.filter(id=diesel.id).update(provenance=broken)
    found = {r.record_id: r for r in tenants_replay()["acme"]}
    assert set(found) == {spend.id, diesel.id}
    assert found[spend.id].kind == "edited, supplier factor"
    assert "factor.publisher_id" in found[diesel.id].reason
