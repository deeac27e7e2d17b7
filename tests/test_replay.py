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
