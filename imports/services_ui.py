"""Writes the wizard's pages need on top of imports.services: keeping the stored check in step
with a cell fixed in place."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from imports.models import ImportRun, RowError
from imports.pipeline import RowCheck
from imports.services import import_run_fix_cell


def import_run_fix_cell_and_recount(
    *, run: ImportRun, row: int, column: str, value: str
) -> RowCheck:
    """Fix one cell (``import_run_fix_cell``), then store the row's re-check: its errors replace
    the row's stored ones and the valid/invalid totals move when the row changes side.

    The re-check covers the pipeline's rules for that row; factors and the calculation are checked
    again for every row before the import is written.
    """
    had_errors = RowError.objects.filter(run=run, row=row).exists()
    check = import_run_fix_cell(run=run, row=row, column=column, value=value)
    with transaction.atomic():
        RowError.objects.filter(run=run, row=row).delete()
        RowError.objects.bulk_create(
            [
                RowError(
                    run=run,
                    row=row,
                    column=str(e.get("column") or column)[:200],
                    field=str(e.get("field") or "")[:40],
                    value="" if e.get("value") is None else str(e["value"]),
                    message=str(e.get("message") or ""),
                    suggestion=str(e.get("suggestion") or ""),
                )
                for e in check.errors
            ]
        )
        if had_errors and check.valid:
            ImportRun.objects.filter(id=run.id, rows_invalid__gt=0).update(
                rows_invalid=F("rows_invalid") - 1, rows_valid=F("rows_valid") + 1
            )
        elif not had_errors and not check.valid:
            ImportRun.objects.filter(id=run.id, rows_valid__gt=0).update(
                rows_invalid=F("rows_invalid") + 1, rows_valid=F("rows_valid") - 1
            )
    run.refresh_from_db(fields=["rows_valid", "rows_invalid", "fixes"])
    return check
