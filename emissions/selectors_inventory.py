"""The inventory: the one way every consumer totals a tenant's emissions (the activities page,
``manage.py inventory``, the dashboard and reports), aggregated in SQL.

Totals by scope, Scope 2 both ways (GHG Protocol Scope 2 Guidance), and breakdowns by Scope 3
category, month, site and data-quality tier, over the records an ActivityFilters selects.
Outside-of-scopes emissions (biogenic CO2) are reported beside the totals, never in them.

Market-based Scope 2 is the column ``MARKET_FIELD`` summed; a record without a market-based figure
counts its location-based one (the Guidance's fallback where no instrument or residual mix
applies), and while the model has no such column the market-based figures equal the
location-based ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, TruncMonth

from emissions.models import (
    ActivityRecord,
    DataQuality,
    Scope,
    Scope3Category,
    UncertaintyResult,
    UncertaintyRun,
    UncertaintyStatus,
)
from emissions.selectors_activities import ActivityFilters, activity_records

MARKET_FIELD = "kg_co2e_market"
DIMENSIONS = ("scope", "category", "month", "site", "data_quality")


@dataclass(frozen=True)
class InventoryTotals:
    """kg CO2e of the selected records (``location`` counts Scope 2 location-based, ``market``
    market-based; both leave outside-of-scopes emissions out)."""

    records: int
    location: float
    market: float
    scope_1: float
    scope_2_location: float
    scope_2_market: float
    scope_3: float
    outside: float

    @property
    def location_t(self) -> float:
        return self.location / 1000.0

    @property
    def market_t(self) -> float:
        return self.market / 1000.0


@dataclass(frozen=True)
class InventoryRow:
    """One line of a breakdown: kg CO2e location- and market-based and the record count."""

    key: Any
    label: str
    records: int
    location: float
    market: float


def _market_value() -> Combinable:
    """A record's market-based kg CO2e: the market column for Scope 2, else its kg_co2e."""
    try:
        ActivityRecord._meta.get_field(MARKET_FIELD)
    except FieldDoesNotExist:
        return F("kg_co2e")
    return Case(
        When(
            scope=Scope.SCOPE_2,
            then=Coalesce(F(MARKET_FIELD), F("kg_co2e"), output_field=FloatField()),
        ),
        default=F("kg_co2e"),
        output_field=FloatField(),
    )


def _kg(condition: Q | None = None, column: str = "kg_co2e") -> Coalesce:
    return Coalesce(Sum(column, filter=condition), Value(0.0), output_field=FloatField())


def _records(filters: ActivityFilters | None) -> QuerySet[ActivityRecord]:
    return activity_records(filters or ActivityFilters()).order_by().select_related(None)


def inventory_totals(*, filters: ActivityFilters | None = None) -> InventoryTotals:
    """Totals by scope, Scope 2 both ways, in one SQL aggregate."""
    counted = ~Q(scope=Scope.OUTSIDE)
    scope_2 = Q(scope=Scope.SCOPE_2)
    totals = (
        _records(filters)
        .annotate(market_value=_market_value())
        .aggregate(
            records=Count("id"),
            location=_kg(counted),
            market=_kg(counted, "market_value"),
            scope_1=_kg(Q(scope=Scope.SCOPE_1)),
            scope_2_location=_kg(scope_2),
            scope_2_market=_kg(scope_2, "market_value"),
            scope_3=_kg(Q(scope=Scope.SCOPE_3)),
            outside=_kg(Q(scope=Scope.OUTSIDE)),
        )
    )
    return InventoryTotals(**totals)


def _label(by: str, key: Any) -> str:
    if key is None or key == "":
        return {"category": "Not categorised", "site": "No site"}.get(by, "—")
    if by == "scope":
        return str(Scope(key).label)
    if by == "category":
        return str(Scope3Category(key).label)
    if by == "data_quality":
        return str(DataQuality(key).label)
    if by == "month":
        return f"{key:%b %Y}"
    return str(key)


def inventory_breakdown(*, by: str, filters: ActivityFilters | None = None) -> list[InventoryRow]:
    """kg CO2e per scope, Scope 3 category, month, site or data-quality tier (outside-of-scopes
    records excluded; ``category`` covers Scope 3 records), largest location-based first, months
    in date order."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown inventory dimension {by!r}; one of {', '.join(DIMENSIONS)}")
    records = _records(filters).exclude(scope=Scope.OUTSIDE)
    if by == "category":
        records = records.filter(scope=Scope.SCOPE_3)
    if by == "month":
        records = records.annotate(month=TruncMonth("date"))
    rows = (
        records.annotate(market_value=_market_value())
        .values(by)
        .annotate(
            records_=Count("id"),
            location=_kg(),
            market=_kg(column="market_value"),
        )
        .order_by(by if by in ("month", "scope") else "-location")
    )
    return [
        InventoryRow(
            key=(r[by].date() if isinstance(r[by], dt.datetime) else r[by]),
            label=_label(by, r[by]),
            records=r["records_"],
            location=r["location"],
            market=r["market"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class InventorySummary:
    """What a report reads: the totals, Scope 3 by category, and the factor dataset versions and
    GWP sets of the records in the scopes."""

    totals: InventoryTotals
    categories: list[InventoryRow]
    datasets: list[str]
    gwp_sets: list[str]


def inventory_summary(*, filters: ActivityFilters | None = None) -> InventorySummary:
    """``inventory_totals``, ``inventory_breakdown(by="category")`` and the dataset versions and
    GWP sets in use, from one scan of the records: one GROUP BY scope, category, dataset version
    and GWP set, whose few groups are added up here (a million records take one pass instead of
    four; benchmarks/report.py)."""
    groups = (
        _records(filters)
        .annotate(market_value=_market_value())
        .values("scope", "category", "factor_version", "gwp_set")
        .annotate(records_=Count("id"), location=_kg(), market=_kg(column="market_value"))
        .order_by()
    )
    by_scope: dict[int, list[float]] = {}
    by_category: dict[int | None, list[float]] = {}
    datasets: set[str] = set()
    gwp_sets: set[str] = set()
    records = 0
    for g in groups:
        records += g["records_"]
        scope = by_scope.setdefault(g["scope"], [0.0, 0.0])
        scope[0] += g["location"]
        scope[1] += g["market"]
        if g["scope"] == Scope.OUTSIDE:
            continue
        datasets.add(g["factor_version"])
        gwp_sets.add(g["gwp_set"])
        if g["scope"] == Scope.SCOPE_3:
            row = by_category.setdefault(g["category"], [0, 0.0, 0.0])
            row[0] += g["records_"]
            row[1] += g["location"]
            row[2] += g["market"]
    s1, s2, s3, out = (by_scope.get(k, [0.0, 0.0]) for k in (1, 2, 3, Scope.OUTSIDE))
    totals = InventoryTotals(
        records=records,
        location=s1[0] + s2[0] + s3[0],
        market=s1[1] + s2[1] + s3[1],
        scope_1=s1[0],
        scope_2_location=s2[0],
        scope_2_market=s2[1],
        scope_3=s3[0],
        outside=out[0],
    )
    categories = [
        InventoryRow(
            key=key,
            label=_label("category", key),
            records=int(n),
            location=loc,
            market=mkt,
        )
        for key, (n, loc, mkt) in sorted(by_category.items(), key=lambda kv: -kv[1][1])
    ]
    return InventorySummary(
        totals=totals,
        categories=categories,
        datasets=sorted(v for v in datasets if v),
        gwp_sets=sorted(v for v in gwp_sets if v),
    )


@dataclass(frozen=True)
class InventoryUncertainty:
    """The latest finished Monte Carlo (whole inventory, kg CO2e location-based) and whether a
    newer one is being computed."""

    run: UncertaintyRun | None
    active: UncertaintyRun | None
    groups: dict[str, UncertaintyResult] = field(default_factory=dict)

    @property
    def computed_at(self) -> dt.datetime | None:
        return self.run.finished_at if self.run else None


def inventory_uncertainty(*, period: str = "") -> InventoryUncertainty:
    """Each group's 95 % interval from the latest finished run (period '' is the whole
    inventory, else a calendar year), and the waiting or running run, if any."""
    run = UncertaintyRun.objects.filter(status=UncertaintyStatus.DONE).order_by("-id").first()
    active = (
        UncertaintyRun.objects.filter(
            status__in=[UncertaintyStatus.PENDING, UncertaintyStatus.RUNNING]
        )
        .order_by("-id")
        .first()
    )
    groups = {}
    if run is not None:
        groups = {r.group: r for r in run.results.filter(period=period)}
    return InventoryUncertainty(run=run, active=active, groups=groups)
