"""Reads for changing an activity's factor: the records of one activity (the normalised text and
the unit dimension the import wizard chooses factors for), their summary, and the changes asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Func, Q, QuerySet, Sum, Value
from django.db.models.functions import Lower, Trim

from emissions.engine.errors import UnitError
from emissions.engine.units import unit_dimension
from emissions.models import ActivityRecord, FactorChange, LineKind


def activity_text_key(text: str) -> str:
    """The activity key as SQL computes it below: lower case, inner whitespace collapsed."""
    return " ".join(str(text).lower().split())[:300]


def record_dimension(record: ActivityRecord) -> str:
    """The unit dimension the wizard gave this record's row ('money' for a spend row)."""
    return _dimension(record.unit, record.quantity)


def _dimension(unit: str, quantity: float | None) -> str:
    if quantity is None or not unit:
        return "money"
    try:
        return unit_dimension(unit)
    except UnitError:
        return ""


def activity_group(*, activity: str, dimension: str) -> QuerySet[ActivityRecord]:
    """Every record of the tenant with this activity (same key) and unit dimension: its main lines
    (its WTT / T&D companion lines follow them, emissions/companions.py)."""
    normalised = Trim(
        Func(Lower("activity"), Value(r"\s+"), Value(" "), Value("g"), function="regexp_replace")
    )
    same_text = ActivityRecord.objects.annotate(activity_norm=normalised).filter(
        activity_norm=activity_text_key(activity), line_kind=LineKind.MAIN
    )
    units = [
        unit
        for unit in same_text.filter(quantity__isnull=False)
        .order_by()
        .values_list("unit", flat=True)
        .distinct()
        if _dimension(unit, 1.0) == dimension
    ]
    condition = Q(quantity__isnull=False, unit__in=units)
    if dimension == "money":
        condition |= Q(quantity__isnull=True)
    return same_text.filter(condition)


@dataclass(frozen=True)
class ActivityGroupSummary:
    records: int
    kg_co2e: float
    factors: list[str]


def activity_group_summary(*, activity: str, dimension: str) -> ActivityGroupSummary:
    """How many records a change would touch, their total and the factors they use now."""
    group = activity_group(activity=activity, dimension=dimension).order_by()
    totals = group.aggregate(n=Count("id"), kg=Sum("kg_co2e"))
    used = (
        group.values("factor__name", "supplier_factor__name", "factor_version")
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    names = [
        f"{u['supplier_factor__name'] or u['factor__name'] or 'no factor'}"
        + (f" ({u['factor_version']})" if u["factor_version"] else "")
        for u in used
    ]
    return ActivityGroupSummary(int(totals["n"] or 0), float(totals["kg"] or 0.0), names)


def activity_factor_changes(*, activity: str, dimension: str) -> QuerySet[FactorChange]:
    """The changes asked for this activity, newest first."""
    return FactorChange.objects.filter(
        activity_key=activity_text_key(activity), unit_dimension=dimension
    ).select_related("requested_by", "factor", "supplier_factor")
