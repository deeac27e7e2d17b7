"""Totals of the activities page by line kind: the activities themselves and their WTT / T&D
companion lines (emissions/companions.py)."""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum

from emissions.models import ActivityRecord, LineKind


def line_kind_totals(records: QuerySet[ActivityRecord]) -> list[dict[str, object]]:
    """kg CO2e (location-based) and record count per line kind of ``records``, main lines first;
    one SQL aggregate."""
    rows = {
        row["line_kind"]: row
        for row in records.order_by()
        .values("line_kind")
        .annotate(kg=Sum("kg_co2e"), records=Count("id"))
    }
    return [
        {"line_kind": kind, "label": label, **rows[kind]}
        for kind, label in LineKind.choices
        if kind in rows
    ]
