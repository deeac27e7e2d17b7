"""Writes of the activities page: correct a record (recomputed through the engine) or delete it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from emissions.companions import companions_recompute
from emissions.inventory import RESULT_FIELDS, RecalculationError, activity_record_recalculate
from emissions.models import ActivityRecord
from emissions.services_scope2 import scope2_market_reallocate, scope2_sites_of
from emissions.services_uncertainty import uncertainty_run_request

EDITABLE_FIELDS = (
    "date",
    "activity",
    "quantity",
    "unit",
    "amount",
    "site",
    "data_quality",
    "notes",
)


class ActivityRecordError(Exception):
    """A correction that cannot be computed; ``message`` says why, ``field`` where (or None)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def activity_record_update(
    *, record: ActivityRecord, user: User | None, **values: Any
) -> ActivityRecord:
    """Apply the corrected fields, recompute the emissions with the record's factor, and save.

    Raises ActivityRecordError (nothing saved) when the engine cannot compute the new values,
    e.g. a unit that does not convert to the factor's unit.
    """
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    changed = [name for name, value in values.items() if getattr(record, name) != value]
    site_before = record.site
    for name, value in values.items():
        setattr(record, name, value)
    try:
        activity_record_recalculate(record=record)
    except RecalculationError as exc:
        error = exc.error or {}
        message = " ".join(
            str(p) for p in (error.get("message"), error.get("suggestion")) if p
        ) or str(exc)
        code = str(error.get("code") or "")
        field = None
        if "unit" in code or "dimension" in code:
            field = "unit"
        elif "quantity" in code or "negative" in code:
            field = "quantity"
        raise ActivityRecordError(message, field=field) from exc
    record.provenance = {
        **(record.provenance or {}),
        "corrected": {
            "by": user.email if user is not None else None,
            "at": timezone.now().isoformat(timespec="seconds"),
            "fields": changed,
        },
    }
    with transaction.atomic():
        record.save(update_fields=[*values, *RESULT_FIELDS, "updated_at"])
        # Its WTT / T&D lines follow the corrected quantity (emissions/companions.py).
        companions_recompute(records=[record])
        if record.scope == 2:
            # Contracts cover the site's records in date order: the others may move too.
            scope2_market_reallocate(
                site_ids=scope2_sites_of(site_texts=[site_before, record.site])
            )
        uncertainty_run_request()
    return record


def activity_record_delete(*, record: ActivityRecord) -> None:
    """Remove one record from the inventory."""
    with transaction.atomic():
        scope_2, site = record.scope == 2, record.site
        record.delete()
        if scope_2:
            scope2_market_reallocate(site_ids=scope2_sites_of(site_texts=[site]))
        uncertainty_run_request()
