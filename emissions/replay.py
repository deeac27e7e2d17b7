"""Replay: recompute stored results from their provenance alone and compare.

A record's provenance names its calculation (the import run's ``detected["calculations"]`` entry,
or the calculation itself for an edited record) and, for spend, the FX rate with its date and
source and the deflator with its index values (``"money"``). ``emissions.engine.calculate.replay``
multiplies those stored numbers; no factor, exchange-rate or price-index table is read, so a
record replays to the same figure after any of them changes (``manage.py replay``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emissions.engine.calculate import replay
from emissions.models import ActivityRecord

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


def _calculation(record: ActivityRecord, runs: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    stored = (record.provenance or {}).get("calculation")
    if isinstance(stored, dict):
        return stored
    if isinstance(stored, str) and record.import_run_id:
        if record.import_run_id not in runs:
            run = record.import_run
            runs[record.import_run_id] = ((run.detected if run else None) or {}).get(
                "calculations", {}
            )
        found = runs[record.import_run_id].get(stored)
        return found if isinstance(found, dict) else None
    return None


def _quantity(record: ActivityRecord) -> float | None:
    """What the engine was given: the quantity, or the amount of a spend row (no unit)."""
    if record.unit and record.quantity is not None:
        return record.quantity
    return record.amount if record.amount is not None else record.quantity


def record_replay(
    record: ActivityRecord, *, runs: dict[int, dict[str, Any]] | None = None
) -> Replayed:
    """Recompute one record from its stored provenance; ``runs`` caches import calculations."""
    calculation = _calculation(record, {} if runs is None else runs)
    quantity = _quantity(record)

    def failed(reason: str) -> Replayed:
        return Replayed(record.id, record.kg_co2e, None, record.kg_co2e_market, None, reason)

    if calculation is None:
        return failed("no stored calculation")
    if quantity is None:
        return failed("no quantity or amount")
    money = (record.provenance or {}).get("money")
    if money is None and calculation.get("money"):
        return failed("the FX rate and deflator used were not stored")
    out = replay(calculation, quantity, money)
    return Replayed(
        record.id, record.kg_co2e, out["kg_co2e"], record.kg_co2e_market, out["kg_co2e_market"]
    )


def records_replay(records: Iterable[ActivityRecord]) -> list[Replayed]:
    """Replay many records, reading each import run's calculations once."""
    runs: dict[int, dict[str, Any]] = {}
    return [record_replay(r, runs=runs) for r in records]
