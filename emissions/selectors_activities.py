"""Reads for the activities page: activity records filtered by period, scope, category, site and
import run. Their totals come from the one inventory selector (emissions.selectors_inventory).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from emissions.models import ActivityRecord
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
