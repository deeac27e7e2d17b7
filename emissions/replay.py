"""Replay: recompute stored results from their provenance alone and compare.

A record's provenance (``emissions.provenance``: one shape for imports, edits, re-factoring)
names its calculation (the import run's ``detected["calculations"]`` entry, or the calculation
itself for an edited or re-factored record), for spend the FX rate with its date and source and
the deflator with its index values (``"money"``), and for Scope 2 energy the market-based detail
(basis, kWh per unit, contract rate and share, fallback rate). ``emissions.engine.calculate.replay``
multiplies those stored numbers; no factor, exchange-rate, price-index or contract table is
read, so a record replays to the same figures after any of them changes (``manage.py replay``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emissions.engine.calculate import replay
from emissions.models import ActivityRecord
from emissions.provenance import Reading, missing, read

REL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Replayed:
    """One record's stored figures beside the replayed ones."""

    record_id: int
    kg_co2e: float
    replayed: float | None
    kg_co2e_market: float | None
    replayed_market: float | None
    reason: str = ""
    kind: str = "imported"

    @property
    def equal(self) -> bool:
        if self.reason or self.replayed is None:
            return False
        if not _close(self.kg_co2e, self.replayed):
            return False
        return self.kg_co2e_market is None or _close(self.kg_co2e_market, self.replayed_market)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-12)


def _kind(record: ActivityRecord, reading: Reading) -> str:
    """What wrote the record's figures last: re-factored, edited or imported (a supplier's
    factor and a Scope 2 market-based figure are noted beside)."""
    kind = "re-factored" if reading.factor_changes else "edited" if reading.edited else "imported"
    if record.supplier_factor_id:
        kind += ", supplier factor"
    if reading.scope2_market:
        kind += ", Scope 2 market-based"
    return kind


def record_quantity(record: ActivityRecord) -> float | None:
    """What the engine was given: the quantity, or the amount of a spend row (no unit)."""
    if record.unit and record.quantity is not None:
        return record.quantity
    return record.amount if record.amount is not None else record.quantity


def market_replay(
    detail: dict[str, Any], calculation: dict[str, Any], quantity: float, location_kg: float
) -> float | None:
    """The Scope 2 market-based figure from its stored detail (``emissions.scope2``): the kWh a
    contract covers at its rate, the rest at the fallback rate (supplier, residual mix or the
    location-based average). None when the detail lacks what it needs (written before v2)."""
    per_unit = detail.get("kwh_per_unit")
    if per_unit is None:  # written before v2: the kWh in the unit the calculation converted to
        per_unit = kwh_in(
            str((calculation.get("conversion") or {}).get("to") or "")
            or str((calculation.get("factor") or {}).get("unit") or "")
        )
        if per_unit is None:
            return None
    multiplier = float((calculation.get("conversion") or {}).get("multiplier", 1.0))
    kwh = float(quantity) * multiplier * float(per_unit)
    share = float(detail.get("covered_share") or 0.0) if "instrument_id" in detail else 0.0
    contract = 0.0
    if share:
        rate = detail.get("instrument_kg_co2e_per_kwh")
        if rate is None:
            return None
        contract = kwh * share * float(rate)
    remaining = kwh - kwh * share
    if (
        str(detail.get("basis", "")).endswith("location")
        or "fallback_kg_co2e_per_kwh" not in detail
    ):
        fallback = location_kg / kwh if kwh > 0 else 0.0
    else:
        fallback = float(detail["fallback_kg_co2e_per_kwh"])
    return contract + remaining * fallback


def kwh_in(unit: str) -> float | None:
    """kWh in one ``unit`` (a pure unit conversion: no table that changes), None if not energy."""
    from emissions.engine.errors import EngineError
    from emissions.engine.units import conversion_factor

    try:
        return float(conversion_factor(unit, "kWh"))
    except (EngineError, ValueError, TypeError):
        return None


def record_replay(
    record: ActivityRecord, *, runs: dict[int, dict[str, Any]] | None = None
) -> Replayed:
    """Recompute one record from its stored provenance; ``runs`` caches import calculations."""
    cache = {} if runs is None else runs

    def calculations(key: str) -> dict[str, Any] | None:
        if not record.import_run_id:
            return None
        if record.import_run_id not in cache:
            run = record.import_run
            cache[record.import_run_id] = ((run.detected if run else None) or {}).get(
                "calculations", {}
            )
        return cache[record.import_run_id].get(key)

    reading = read(record.provenance, calculations)
    kind = _kind(record, reading)
    calculation = reading.calculation
    quantity = record_quantity(record)

    def failed(reason: str) -> Replayed:
        return Replayed(record.id, record.kg_co2e, None, record.kg_co2e_market, None, reason, kind)

    if calculation is None:
        return failed("no stored calculation")
    if quantity is None:
        return failed("no quantity or amount")
    if (calculation.get("factor") or {}).get("kg_co2e_per_unit") is None:
        return failed("the factor's value was not stored")
    lacking = missing(reading) if reading.version >= 2 else []
    if lacking:
        return failed("the provenance lacks " + ", ".join(lacking))
    if reading.money is None and calculation.get("money"):
        return failed("the FX rate and deflator used were not stored")
    out = replay(calculation, quantity, reading.money)
    market = out["kg_co2e_market"]
    if reading.scope2_market and out["kg_co2e"] is not None:
        market = market_replay(reading.scope2_market, calculation, quantity, out["kg_co2e"])
        if market is None:
            return failed("the Scope 2 market-based detail lacks the kWh or the contract's rate")
    return Replayed(
        record.id, record.kg_co2e, out["kg_co2e"], record.kg_co2e_market, market, "", kind
    )


def records_replay(records: Iterable[ActivityRecord]) -> list[Replayed]:
    """Replay many records, reading each import run's calculations once."""
    runs: dict[int, dict[str, Any]] = {}
    return [record_replay(r, runs=runs) for r in records]


def tenants_replay(*, only_with_provenance: bool = True) -> dict[str, list[Replayed]]:
    """Every tenant schema's records that differ from their replay, by schema (empty lists
    left out). ``only_with_provenance``: skip records that carry no provenance at all (rows put
    in by hand, not by a write path). Call from the public schema or any tenant's."""
    from django_tenants.utils import schema_context

    from tenants.models import Tenant

    schemas = list(
        Tenant.objects.exclude(schema_name="public")
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
    out: dict[str, list[Replayed]] = {}
    for schema in schemas:
        with schema_context(schema):
            records = ActivityRecord.objects.order_by("id")
            if only_with_provenance:
                records = records.exclude(provenance={})
            differ = [r for r in records_replay(records) if not r.equal]
        if differ:
            out[schema] = differ
    return out
