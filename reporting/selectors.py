"""What the dashboard and the reports read: every figure comes from the one inventory selector
(emissions.selectors_inventory), narrowed to a reporting period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from emissions.models import ActivityRecord, ReportingPeriod, UncertaintyResult
from emissions.selectors_activities import ActivityFilters
from emissions.selectors_inventory import (
    InventoryRow,
    InventoryTotals,
    inventory_breakdown,
    inventory_totals,
    inventory_uncertainty,
)
from emissions.selectors_org import organisation_profile, reporting_periods
from reporting import charts

TOP_SOURCES = 10


@dataclass(frozen=True)
class Dashboard:
    period: ReportingPeriod | None
    totals: InventoryTotals
    categories: list[InventoryRow]
    months: list[InventoryRow]
    sites: list[InventoryRow]
    tiers: list[InventoryRow]
    sources: list[tuple[str, float]]
    interval: UncertaintyResult | None
    base_year: int | None
    base_totals: InventoryTotals | None
    charts: dict[str, str] = field(default_factory=dict)

    @property
    def scope_rows(self) -> list[tuple[str, float, float]]:
        """(scope, t CO2e location-based, t CO2e market-based); only Scope 2 differs."""
        t = self.totals
        return [
            ("Scope 1", t.scope_1 / 1000, t.scope_1 / 1000),
            ("Scope 2", t.scope_2_location / 1000, t.scope_2_market / 1000),
            ("Scope 3", t.scope_3 / 1000, t.scope_3 / 1000),
            ("Total", t.location / 1000, t.market / 1000),
        ]

    @property
    def change_vs_base(self) -> float | None:
        """Relative change of the location-based total against the base year, or None."""
        if self.base_totals is None or not self.base_totals.location:
            return None
        return self.totals.location / self.base_totals.location - 1.0

    @property
    def is_base_year(self) -> bool:
        """Whether the period shown is the base year itself (a calendar year equal to it)."""
        period = self.period
        return (
            self.base_year is not None
            and period is not None
            and period.start.year == period.end.year == self.base_year
        )

    @property
    def change_vs_base_pct(self) -> float | None:
        change = self.change_vs_base
        return None if change is None else change * 100.0


def period_filters(period: ReportingPeriod | None) -> ActivityFilters:
    if period is None:
        return ActivityFilters()
    return ActivityFilters(date_from=period.start, date_to=period.end)


def has_records() -> bool:
    return ActivityRecord.objects.exists()


def top_sources(filters: ActivityFilters, limit: int = TOP_SOURCES) -> list[tuple[str, float]]:
    """The largest emission sources (activity descriptions) in t CO2e, location-based."""
    from django.db.models import Sum

    from emissions.models import Scope
    from emissions.selectors_activities import activity_records

    rows = (
        activity_records(filters)
        .exclude(scope=Scope.OUTSIDE)
        .order_by()
        .values("activity")
        .annotate(kg=Sum("kg_co2e"))
        .order_by("-kg")[:limit]
    )
    return [(r["activity"], (r["kg"] or 0.0) / 1000.0) for r in rows]


def _year_filters(year: int) -> ActivityFilters:
    return ActivityFilters(date_from=dt.date(year, 1, 1), date_to=dt.date(year, 12, 31))


def dashboard(period: ReportingPeriod | None) -> Dashboard:
    filters = period_filters(period)
    totals = inventory_totals(filters=filters)
    categories = inventory_breakdown(by="category", filters=filters)
    months = inventory_breakdown(by="month", filters=filters)
    sites = inventory_breakdown(by="site", filters=filters)
    tiers = inventory_breakdown(by="data_quality", filters=filters)
    sources = top_sources(filters)
    # The Monte Carlo runs per calendar year; a period within one year reads that year's band.
    key = ""
    if period is not None and period.start.year == period.end.year:
        key = str(period.start.year)
    interval = inventory_uncertainty(period=key).groups.get("total")
    profile = organisation_profile()
    base_year = profile.base_year if profile else None
    base_totals = inventory_totals(filters=_year_filters(base_year)) if base_year else None
    board = Dashboard(
        period=period,
        totals=totals,
        categories=categories,
        months=months,
        sites=sites,
        tiers=tiers,
        sources=sources,
        interval=interval,
        base_year=base_year,
        base_totals=base_totals,
    )
    board.charts.update(
        scopes=charts.bar_chart(
            [
                ("Scope 1", totals.scope_1 / 1000),
                ("Scope 2 (location-based)", totals.scope_2_location / 1000),
                ("Scope 2 (market-based)", totals.scope_2_market / 1000),
                ("Scope 3", totals.scope_3 / 1000),
            ],
            title="Emissions by scope",
        ),
        categories=charts.bar_chart(
            [(r.label, r.location / 1000) for r in categories], title="Scope 3 by category"
        ),
        months=charts.column_chart(
            [(f"{r.key:%b %y}", r.location / 1000) for r in months], title="Emissions by month"
        ),
        sites=charts.bar_chart(
            [(r.label, r.location / 1000) for r in sites], title="Emissions by site"
        ),
        sources=charts.bar_chart(sources, title="Top sources"),
        tiers=charts.share_bar(
            [(r.label, r.location) for r in tiers if r.location > 0], title="Data quality"
        ),
    )
    return board


def selected_period(period_id: str | None) -> ReportingPeriod | None:
    """The period asked for by id, else the latest one, else None (the whole inventory)."""
    periods = reporting_periods()
    if period_id and period_id.isdigit():
        chosen = periods.filter(id=int(period_id)).first()
        if chosen is not None:
            return chosen
    return periods.first()
