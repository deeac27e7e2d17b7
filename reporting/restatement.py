"""Restatement: what changes, by scope (Scope 2 both ways) and by Scope 3 category, between two
versions of a report, or between a report and today's data and factors (the same period totalled
again through the inventory selector).

A report keeps the figures it was built from and the ids of the records it read, with the time it
read them (``Report.inventory``, ``Report.record_ids``). From those, records added and removed
since are exact (set differences of ids; ids are never reused), and records changed are those
updated after the report read them (every write path stamps ``updated_at``: edits, re-factoring,
bulk writes). Between two versions, a record edited again after the later version hides whether
it also changed in between: that count is given as "at least", with the rest said to be unknown.

Reports generated before the figures were kept are read back from their tagged facts (t CO2e to
three decimals; no Scope 3 categories for VSME) and their fingerprint says only whether the
records changed, not how many.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from emissions.models import ActivityRecord, Scope3Category
from emissions.selectors_activities import ActivityFilters, activity_records
from emissions.selectors_inventory import InventoryRow, InventoryTotals, inventory_summary
from reporting.models import Report, ReportStatus

SNAPSHOT_VERSION = 1
TONNE = 1000.0
# Figures read back from facts are t CO2e to 3 decimals: half a kilogram either way is no change.
FACT_TOLERANCE_KG = 0.5
EXACT_TOLERANCE_KG = 1e-6
SCOPE_KEYS = ("scope_1", "scope_2_location", "scope_2_market", "scope_3", "location", "market")
SCOPE_LABELS = {
    "scope_1": "Scope 1",
    "scope_2_location": "Scope 2 (location-based)",
    "scope_2_market": "Scope 2 (market-based)",
    "scope_3": "Scope 3",
    "location": "Total (location-based)",
    "market": "Total (market-based)",
}
# Concept local names (ESRS E1-6 and VSME B3) -> the figure they tag.
CONCEPT_FIGURES = {
    "GrossScope1GreenhouseGasEmissions": "scope_1",
    "GrossLocationBasedScope2GreenhouseGasEmissions": "scope_2_location",
    "GrossMarketBasedScope2GreenhouseGasEmissions": "scope_2_market",
    "GrossScope3GreenhouseGasEmissions": "scope_3",
    "LocationBasedGreenhouseGasEmissions": "location",
    "MarketBasedGreenhouseGasEmissions": "market",
    "TotalGrossLocationBasedGHGEmissions": "location",
    "TotalGrossMarketBasedGHGEmissions": "market",
}
_MEMBER_CATEGORY = re.compile(r":Category(\d+)[A-Z]")
_VERSIONED = re.compile(r"(.+) v(\d+)")


# ---- record ids, packed ---------------------------------------------------------------------


def pack_ids(ids: np.ndarray) -> bytes:
    """A set of record ids as the lowest id and a compressed bitmap from it (an import's ids are
    runs, which compress to almost nothing; a million scattered ids take ~125 kB at most)."""
    if ids.size == 0:
        return b""
    low = int(ids.min())
    bits = np.zeros(int(ids.max()) - low + 1, dtype=bool)
    bits[ids - low] = True
    return struct.pack("<q", low) + zlib.compress(np.packbits(bits).tobytes())


def unpack_ids(blob: bytes | memoryview | None) -> np.ndarray:
    if not blob:
        return np.empty(0, dtype=np.int64)
    data = bytes(blob)
    (low,) = struct.unpack("<q", data[:8])
    bits = np.unpackbits(np.frombuffer(zlib.decompress(data[8:]), dtype=np.uint8))
    return np.flatnonzero(bits).astype(np.int64) + low


def _ids(records: QuerySet[ActivityRecord]) -> np.ndarray:
    return np.fromiter(
        records.order_by().values_list("id", flat=True).iterator(chunk_size=20_000),
        dtype=np.int64,
    )


# ---- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """kg CO2e of one side of a comparison; None where that side does not say."""

    values: dict[str, float | None]
    # Scope 3 category (None: not categorised) -> (location-based, market-based) kg CO2e;
    # None when this side has no categories (a VSME report read back from its facts).
    categories: dict[int | None, tuple[float, float]] | None
    records: int | None
    exact: bool  # False: read back from tagged facts (t CO2e to 3 decimals)


def figures_of(totals: InventoryTotals, categories: list[InventoryRow]) -> Figures:
    return Figures(
        values={key: float(getattr(totals, key)) for key in SCOPE_KEYS},
        categories={row.key: (row.location, row.market) for row in categories},
        records=totals.records,
        exact=True,
    )


def inventory_snapshot(
    *,
    totals: InventoryTotals,
    categories: list[InventoryRow],
    filters: ActivityFilters,
    as_of: dt.datetime,
) -> tuple[dict[str, Any], bytes]:
    """What a report keeps for its restatement: its figures (kg CO2e), when they were read, and
    the packed ids of the period's records (``as_of`` is taken before the figures were read, so
    a record written meanwhile counts as changed rather than being missed)."""
    figures = figures_of(totals, categories)
    snapshot = {
        "v": SNAPSHOT_VERSION,
        "as_of": as_of.isoformat(),
        "records": totals.records,
        **figures.values,
        "categories": [[key, loc, mkt] for key, (loc, mkt) in (figures.categories or {}).items()],
    }
    return snapshot, pack_ids(_ids(activity_records(filters)))


def report_figures(report: Report) -> Figures:
    """The figures a report was built from: its snapshot, else its tagged facts."""
    snap = report.inventory or {}
    if snap.get("v") == SNAPSHOT_VERSION:
        return Figures(
            values={key: snap.get(key) for key in SCOPE_KEYS},
            categories={row[0]: (row[1], row[2]) for row in snap.get("categories", [])},
            records=snap.get("records"),
            exact=True,
        )
    values: dict[str, float | None] = dict.fromkeys(SCOPE_KEYS)
    categories: dict[int | None, tuple[float, float]] = {}
    for fact in report.facts:
        local = str(fact.get("concept", "")).split(":", 1)[-1]
        key = CONCEPT_FIGURES.get(local)
        if key is None or fact.get("unit") != "tCO2e":
            continue
        kg = float(fact["value"]) * TONNE
        dimension = fact.get("dimension")
        if dimension:
            match = _MEMBER_CATEGORY.search(str(dimension[1]))
            if key == "scope_3" and match:
                categories[int(match.group(1))] = (kg, kg)
            continue
        values[key] = kg
    if report.regime == "vsme" and values["scope_3"] is None and values["location"] is not None:
        values["scope_3"] = 0.0  # VSME leaves Scope 3 out only when none is recorded
    return Figures(values=values, categories=categories or None, records=None, exact=False)


def today_figures(filters: ActivityFilters) -> tuple[Figures, list[str]]:
    """The period's figures now, and the dataset versions its records use, through the one
    inventory selector (as a report reads them)."""
    summary = inventory_summary(filters=filters)
    return figures_of(summary.totals, summary.categories), summary.datasets


def report_filters(report: Report) -> ActivityFilters:
    """The report's period as it was when generated (the period may have changed or gone)."""
    return ActivityFilters(date_from=report.period_start, date_to=report.period_end)


# ---- comparison -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    label: str
    a: float | None  # kg CO2e
    b: float | None
    tolerance: float

    @property
    def known(self) -> bool:
        return self.a is not None and self.b is not None

    @property
    def change(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def changed(self) -> bool:
        change = self.change
        return change is not None and abs(change) > self.tolerance

    @property
    def change_pct(self) -> float | None:
        change = self.change
        if change is None or not self.a:
            return None
        return change / self.a * 100.0

    # Shown in t CO2e.
    @property
    def a_t(self) -> float | None:
        return None if self.a is None else self.a / TONNE

    @property
    def b_t(self) -> float | None:
        return None if self.b is None else self.b / TONNE

    @property
    def change_t(self) -> float | None:
        change = self.change
        return None if change is None else change / TONNE


@dataclass(frozen=True)
class RecordChanges:
    """Records of the period added, removed and changed from side A to side B; None where it
    cannot be known. ``changed_at_least``: a lower bound (see the module docstring)."""

    added: int | None = None
    removed: int | None = None
    changed: int | None = None
    changed_at_least: bool = False
    unknown: int = 0
    same_fingerprint: bool | None = None


@dataclass(frozen=True)
class Restatement:
    a: Report
    b: Report | None  # None: today's data and factors
    scopes: list[Line]
    categories: list[Line] | None  # None: a side has no categories
    records: RecordChanges
    datasets_removed: list[str]  # in A, not in B
    datasets_added: list[str]  # in B, not in A
    newer_in_library: list[str] = field(default_factory=list)
    approximate: bool = False  # a side read back from its facts

    @property
    def any_change(self) -> bool:
        lines = self.scopes + (self.categories or [])
        return any(line.changed for line in lines)


def _lines(a: Figures, b: Figures) -> tuple[list[Line], list[Line] | None]:
    tolerance = EXACT_TOLERANCE_KG if a.exact and b.exact else FACT_TOLERANCE_KG
    scopes = [Line(SCOPE_LABELS[k], a.values[k], b.values[k], tolerance) for k in SCOPE_KEYS]
    if a.categories is None or b.categories is None:
        return scopes, None
    keys = sorted(set(a.categories) | set(b.categories), key=lambda k: (k is None, k or 0))
    categories = [
        Line(
            str(Scope3Category(k).label) if k is not None else "Not categorised",
            a.categories.get(k, (0.0, 0.0))[0],
            b.categories.get(k, (0.0, 0.0))[0],
            tolerance,
        )
        for k in keys
    ]
    return scopes, categories


def _as_of(report: Report) -> dt.datetime | None:
    text = (report.inventory or {}).get("as_of")
    return parse_datetime(text) if text else None


def _record_changes(a: Report, b: Report | None) -> RecordChanges:
    filters = report_filters(a)
    a_as_of = _as_of(a)
    if a_as_of is None or a.record_ids is None:
        if b is None:
            from reporting.services import records_fingerprint

            if a.period is None or (a.period.start, a.period.end) != (
                a.period_start,
                a.period_end,
            ):
                return RecordChanges()
            return RecordChanges(same_fingerprint=records_fingerprint(a.period) == a.fingerprint)
        return RecordChanges(same_fingerprint=a.fingerprint == b.fingerprint)
    a_ids = unpack_ids(a.record_ids)
    updated_since_a = _ids(activity_records(filters).filter(updated_at__gt=a_as_of))
    if b is None:
        now = _ids(activity_records(filters))
        return RecordChanges(
            added=int(np.setdiff1d(now, a_ids).size),
            removed=int(np.setdiff1d(a_ids, now).size),
            changed=int(np.intersect1d(updated_since_a, a_ids).size),
        )
    b_as_of = _as_of(b)
    if b_as_of is None or b.record_ids is None:
        return RecordChanges(same_fingerprint=a.fingerprint == b.fingerprint)
    b_ids = unpack_ids(b.record_ids)
    in_both = np.intersect1d(a_ids, b_ids)
    records = activity_records(filters)
    # Last written between A and B: changed in between. Written again after B, or gone since:
    # whether it also changed in between is not known any more.
    between = _ids(records.filter(updated_at__gt=a_as_of, updated_at__lte=b_as_of))
    after_b = _ids(records.filter(updated_at__gt=b_as_of))
    gone = np.setdiff1d(in_both, _ids(records))
    unknown = int(np.intersect1d(after_b, in_both).size + gone.size)
    return RecordChanges(
        added=int(np.setdiff1d(b_ids, a_ids).size),
        removed=int(np.setdiff1d(a_ids, b_ids).size),
        changed=int(np.intersect1d(between, in_both).size),
        changed_at_least=unknown > 0,
        unknown=unknown,
    )


def _newer_in_library(datasets: list[str]) -> list[str]:
    """'defra_2024 v2 is current in the library; the records use v1' notes for today's side."""
    from factors.models import FactorDataset

    notes = []
    for text in datasets:
        match = _VERSIONED.fullmatch(text)
        if match is None:
            continue
        key, used = match.group(1), int(match.group(2))
        current = FactorDataset.objects.filter(key=key, is_current=True).first()
        if (
            current is not None
            and current.version > used
            and f"{key} v{current.version}" not in datasets
        ):
            notes.append(
                f"{key} v{current.version} is the library's current version; "
                f"the period's records use v{used} (change their factor to apply it)."
            )
    return notes


def restatement(a: Report, b: Report | None) -> Restatement:
    """Compare report ``a`` with report ``b`` (the older one first), or with today's data and
    factors when ``b`` is None."""
    if b is not None and (b.created_at, b.id) < (a.created_at, a.id):
        a, b = b, a
    fa = report_figures(a)
    if b is None:
        filters = report_filters(a)
        fb, b_datasets = today_figures(filters)
        newer = _newer_in_library(b_datasets)
    else:
        fb = report_figures(b)
        b_datasets = list(b.datasets)
        newer = []
    scopes, categories = _lines(fa, fb)
    return Restatement(
        a=a,
        b=b,
        scopes=scopes,
        categories=categories,
        records=_record_changes(a, b),
        datasets_removed=sorted(set(a.datasets) - set(b_datasets)),
        datasets_added=sorted(set(b_datasets) - set(a.datasets)),
        newer_in_library=newer,
        approximate=not (fa.exact and fb.exact),
    )


def comparable_versions(report: Report) -> QuerySet[Report]:
    """The other generated versions of the same report (regime and period)."""
    return (
        Report.objects.filter(
            regime=report.regime,
            period_start=report.period_start,
            period_end=report.period_end,
            status=ReportStatus.DONE,
        )
        .exclude(id=report.id)
        .defer("xhtml", "pdf", "record_ids")
        .order_by("-version", "-id")
    )
