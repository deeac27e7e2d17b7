"""Reads for the activities page: activity records filtered by period, scope, category, site and
import run, and their totals in kg CO2e aggregated in SQL.

Scope 2 is reported both ways (GHG Protocol Scope 2 Guidance): ``kg_co2e`` holds a Scope 2
record's location-based figure and ``kg_co2e_market`` its market-based one. A Scope 2 record
without a market-based figure counts its location-based one in the market-based total, as the
guidance allows where no contractual instrument or residual mix applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from emissions.models import ActivityRecord, Scope
from imports.models import ImportRun


@dataclass(frozen=True)
class ActivityFilters:
    """What the activities page is narrowed to; None / '' means no filter."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    scope: int | None = None
    category: int | None = None
    site: str = ""
    run_id: int | None = None


@dataclass(frozen=True)
class ActivityTotals:
    """Totals of the filtered records in kg CO2e (``location`` counts Scope 2 location-based,
    ``market`` counts it market-based)."""

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


def activity_records(filters: ActivityFilters) -> QuerySet[ActivityRecord]:
    """The tenant's records matching ``filters``, by date, with their factor and import run."""
    records = ActivityRecord.objects.select_related(
        "factor__dataset", "supplier_factor", "import_run"
    )
    if filters.date_from is not None:
        records = records.filter(date__gte=filters.date_from)
    if filters.date_to is not None:
        records = records.filter(date__lte=filters.date_to)
    if filters.scope is not None:
        records = records.filter(scope=filters.scope)
    if filters.category is not None:
        records = records.filter(category=filters.category)
    if filters.site:
        records = records.filter(site=filters.site)
    if filters.run_id is not None:
        records = records.filter(import_run_id=filters.run_id)
    return records.order_by("date", "id")


def _kg(condition: Q | None = None, column: str = "kg_co2e") -> Coalesce:
    return Coalesce(Sum(column, filter=condition), Value(0.0), output_field=FloatField())


def activity_totals(filters: ActivityFilters) -> ActivityTotals:
    """One SQL aggregate over the filtered records."""
    scope_2 = Q(scope=Scope.SCOPE_2)
    market_value = Coalesce(F("kg_co2e_market"), F("kg_co2e"), output_field=FloatField())
    totals = (
        activity_records(filters)
        .order_by()
        .annotate(market_value=market_value)
        .aggregate(
            records=Count("id"),
            location=_kg(~Q(scope=Scope.OUTSIDE)),
            not_scope_2=_kg(~Q(scope__in=[Scope.SCOPE_2, Scope.OUTSIDE])),
            scope_1=_kg(Q(scope=Scope.SCOPE_1)),
            scope_2_location=_kg(scope_2),
            scope_2_market=_kg(scope_2, "market_value"),
            scope_3=_kg(Q(scope=Scope.SCOPE_3)),
            outside=_kg(Q(scope=Scope.OUTSIDE)),
        )
    )
    return ActivityTotals(
        records=totals["records"],
        location=totals["location"],
        market=totals["not_scope_2"] + totals["scope_2_market"],
        scope_1=totals["scope_1"],
        scope_2_location=totals["scope_2_location"],
        scope_2_market=totals["scope_2_market"],
        scope_3=totals["scope_3"],
        outside=totals["outside"],
    )


def activity_category_totals(filters: ActivityFilters) -> list[dict[str, object]]:
    """Scope 3 kg CO2e per category of the filtered records (largest first)."""
    rows = (
        activity_records(filters)
        .filter(scope=Scope.SCOPE_3)
        .order_by()
        .values("category")
        .annotate(kg=Sum("kg_co2e"), records=Count("id"))
        .order_by("-kg")
    )
    return list(rows)


def activity_sites() -> list[str]:
    """The distinct sites of the tenant's records, for the filter."""
    return list(
        ActivityRecord.objects.exclude(site="")
        .order_by("site")
        .values_list("site", flat=True)
        .distinct()
    )


def activity_import_runs() -> QuerySet[ImportRun]:
    """Import runs that have records, newest first, for the filter."""
    return (
        ImportRun.objects.filter(records__isnull=False)
        .distinct()
        .order_by("-created_at", "-id")
        .only("id", "original_name", "created_at")
    )
