"""The import wizard's writes: an upload becomes a run, its mapping, fixes and factor choices are
stored, its rows checked, its commit claimed (the job writes it: ``imports.jobs``) or undone.

Flow: ``import_run_create`` (store + read + suggest a mapping; the wizard's upload does the same in two
halves, ``import_run_upload`` in the request and ``imports.jobs.import_run_parse_job`` queued after it)
-> ``import_run_set_mapping`` -> ``import_run_validate`` (``imports.preparation.prepare``: pipeline
validation, one factor per distinct activity, engine calculation; row errors stored) -> fixes
(``import_run_fix_cell``, ``import_run_apply_to_all``) and factor choices (``factor_choice_set``)
-> ``import_run_start_commit`` queues ``imports.jobs.import_run_commit_job``, which does the same work
again from the stored file and writes every record in one transaction (``imports.writer``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from emissions.models import ActivityRecord
from emissions.services_scope2 import scope2_market_reallocate, scope2_sites_of_run
from emissions.services_uncertainty import uncertainty_run_request
from factortrace.jobs import enqueue_for_tenant
from factortrace.tenancy import current_schema
from imports.errors import ImportInputError
from imports.jobs import (
    import_run_commit_failed,
    import_run_commit_job,
    import_run_parse_failed,
    import_run_parse_job,
)
from imports.models import (
    COMMITTABLE,
    ImportRun,
    ImportStatus,
    MappingTemplate,
    RowError,
)
from imports.pipeline import (
    Mapping,
    MappingOptions,
    PipelineError,
    ReadResult,
    RowCheck,
    count_value,
    header_signature,
    revalidate_row,
)
from imports.pipeline.read import ENCODING_CHOICES
from imports.preparation import Prepared, activity_key, default_region
from imports.selectors import (
    apply_template_or_suggestion,
    import_run_prepared,
    import_run_read,
    read_source,
    remember_first_read,
    run_fixed_frame,
    run_fixes,
    run_mapping,
)
from imports.writer import (
    DUPLICATE_CHOICES,
    DUPLICATES_REFUSE,
    count_duplicates,
    duplicates_message,
)

logger = logging.getLogger(__name__)

# Row errors kept for the wizard's table; counts stay exact beyond it.
MAX_STORED_ERRORS = 5000
# A queued commit may wait this long for a worker (then the sweeper fails it; a running commit
# renews its lease: ``imports.jobs``).
QUEUED_LEASE_SECONDS = 15 * 60


# --------------------------------------------------------------------------------------------
# upload, sheet, mapping


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:120].strip("._") or "upload"
    return stem


def _checked_name(upload: UploadedFile) -> str:
    """The upload's name, once its declared size is within the limit (else ImportInputError)."""
    name = upload.name or "upload"
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportInputError(
            f"{name} is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
            code="too_large",
            details={"limit": limit},
        )
    return name


def import_run_create(*, upload: UploadedFile, user: User | None) -> ImportRun:
    """Store an upload and read it; a file that cannot be read raises ImportInputError, saving nothing."""
    name = _checked_name(upload)
    upload.seek(0)
    read = read_source(upload.file, filename=name, sheet=None, header_row=None)
    run = _create_run(read, name=name, user=user, store=lambda run: _store_upload(run, upload))
    remember_first_read(run, read)
    return run


def import_run_upload(*, upload: UploadedFile, user: User | None) -> ImportRun:
    """Store an upload as a run being read and queue its parse job (after commit): the request
    answers at once. Only what needs no parsing is checked here (size, empty); the job decides the
    rest and marks the run unreadable with the reason, keeping nothing of the file."""
    name = _checked_name(upload)
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    if size == 0:
        raise ImportInputError(f"{name} is empty: there is nothing to import.", code="empty")
    with transaction.atomic():
        run = ImportRun(
            original_name=name[:255],
            size_bytes=size,
            sha256=digest.hexdigest(),
            status=ImportStatus.READING,
            created_by=user,
        )
        _store_upload(run, upload)
        run.save()
        enqueue_for_tenant(
            import_run_parse_job,
            schema_name=current_schema(),
            on_failure=import_run_parse_failed,
            run_id=run.id,
        )
    return run


def _store_upload(run: ImportRun, upload: UploadedFile) -> None:
    upload.seek(0)
    run.file.save(_safe_name(upload.name or "upload"), upload, save=False)


def _create_run(
    read: ReadResult, *, name: str, user: User | None, store: Callable[[ImportRun], None]
) -> ImportRun:
    run = ImportRun(
        original_name=name[:255],
        size_bytes=read.size,
        sha256=read.sha256,
        detected=read.metadata(),
        sheet=read.sheet or "",
        created_by=user,
    )
    apply_template_or_suggestion(run, read)
    store(run)
    run.save()
    return run


def import_run_set_sheet(*, run: ImportRun, sheet: str) -> ImportRun:
    _ensure_mapping_editable(run)
    sheets = run.detected.get("sheets") or []
    if sheet not in sheets:
        raise ImportInputError(
            f"The workbook has no sheet “{sheet}”. Its sheets are: {', '.join(sheets)}."
        )
    with run.file.open("rb") as handle:
        read = read_source(handle, filename=run.original_name, sheet=sheet, header_row=None)
    run.sheet = sheet
    run.detected = read.metadata()
    run.fixes = {}
    apply_template_or_suggestion(run, read)
    with transaction.atomic():
        new_status = run.status
        _lock_status(run, _ensure_mapping_editable)
        run.status = new_status
        run.save(update_fields=["sheet", "detected", "fixes", "mapping", "template", "status"])
    return run


def import_run_set_encoding(*, run: ImportRun, encoding: str) -> ImportRun:
    """Read a CSV that is UTF-8 except some lines as the user chose (``"utf-8-replace"`` or
    ``"cp1252"``); the cell fixes made on the other reading are dropped."""
    if encoding not in ENCODING_CHOICES:
        raise ImportInputError("Choose UTF-8 or Windows-1252.", code="invalid_encoding")
    with run.file.open("rb") as handle:
        read = read_source(
            handle, filename=run.original_name, sheet=None, header_row=None, encoding=encoding
        )
    run.detected = {**read.metadata(), "encoding_choice": encoding}
    run.fixes = {}
    apply_template_or_suggestion(run, read)
    run.save(update_fields=["detected", "fixes", "mapping", "template", "status"])
    return run


def import_run_set_mapping(
    *, run: ImportRun, mapping: Mapping, template_name: str | None, user: User | None
) -> ImportRun:
    """Check the mapping against the file, store it, and optionally save it as a named template."""
    _ensure_mapping_editable(run)
    read = import_run_read(run)
    try:
        mapping.check(read.headers)
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    with transaction.atomic():
        _lock_status(run, _ensure_mapping_editable)
        run.mapping = mapping.to_dict()
        run.status = ImportStatus.MAPPED
        if template_name:
            template, _ = MappingTemplate.objects.update_or_create(
                name=template_name.strip()[:120],
                defaults={
                    "header_signature": header_signature(read.headers),
                    "mapping": {**mapping.to_dict(), "name": template_name.strip()[:120]},
                    "created_by": user,
                },
            )
            run.template = template
        run.save(update_fields=["mapping", "status", "template"])
    return run


def _ensure_editable(run: ImportRun) -> None:
    if not run.is_editable:
        raise ImportInputError(
            f"This import is {run.get_status_display().lower()}; start a new upload to change it.",
            code="locked",
        )


def _lock_status(run: ImportRun, ensure: Callable[[ImportRun], None]) -> str:
    """Lock the run's row (in the caller's transaction) and check its current status with
    `ensure`: a status change is only written over the status it was decided on."""
    run.status = (
        ImportRun.objects.select_for_update().values_list("status", flat=True).get(id=run.id)
    )
    ensure(run)
    return run.status


def _ensure_mapping_editable(run: ImportRun) -> None:
    """A partly imported run keeps its sheet and columns: its records were read with them."""
    _ensure_editable(run)
    if not run.is_mapping_editable:
        raise ImportInputError(
            "Part of this file is imported: its sheet and columns stay as they were. Fix the "
            "remaining rows, or undo the import to start over.",
            code="locked",
        )


def import_run_fix_cell(*, run: ImportRun, row: int, column: str, value: str) -> RowCheck:
    """Store a fixed cell and re-check its row (one row's work)."""
    _ensure_editable(run)
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    if column not in read.frame.columns:
        raise ImportInputError(f"There is no column “{column}”.", code="column_not_found")
    if row not in read.frame.index:
        raise ImportInputError(f"There is no row {row} in this file.", code="row_not_found")
    frame, natives = run_fixed_frame(run, read)
    read_options = (run.detected or {}).get("read_options")
    detected = MappingOptions().merged(read_options) if read_options else None
    check = revalidate_row(
        frame,
        mapping,
        row,
        fixes={column: value},
        detected=detected,
        native_numbers=natives,
        default_region=default_region(),
    )
    replacements, cells = run_fixes(run)
    cells = [c for c in cells if not (int(c[0]) == row and c[1] == column)] + [[row, column, value]]
    run.fixes = {"replace": replacements, "cells": cells}
    RowError.objects.filter(run=run, row=row, column=column).delete()
    run.save(update_fields=["fixes"])
    return check


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


def import_run_apply_to_all(*, run: ImportRun, column: str, value: str, replacement: str) -> int:
    """Replace every cell of ``column`` equal to ``value``; returns how many cells change."""
    _ensure_editable(run)
    read = import_run_read(run)
    if column not in read.frame.columns:
        raise ImportInputError(f"There is no column “{column}”.", code="column_not_found")
    frame, _ = run_fixed_frame(run, read)
    changed = count_value(frame, column, value)
    if changed:
        replacements, cells = run_fixes(run)
        run.fixes = {"replace": [*replacements, [column, value, replacement]], "cells": cells}
        run.save(update_fields=["fixes"])
    return changed


def import_run_validate(*, run: ImportRun) -> Prepared:
    """Validate and calculate the whole file; store the counts and the row errors on the run."""
    _ensure_editable(run)
    prepared = import_run_prepared(run)
    to_import, n_duplicates = count_duplicates(prepared, run_id=run.id)
    with transaction.atomic():
        # Under the run's row lock: a commit claimed meanwhile is never reset to checked.
        status = _lock_status(run, _ensure_editable)
        RowError.objects.filter(run=run).delete()
        errors = prepared.errors.head(MAX_STORED_ERRORS)
        RowError.objects.bulk_create(
            [
                RowError(
                    run=run,
                    row=int(e["row"]),
                    column=str(e["column"])[:200],
                    field=str(e["field"])[:40],
                    value="" if pd.isna(e["value"]) else str(e["value"]),
                    message=str(e["message"]),
                    suggestion="" if pd.isna(e["suggestion"]) else str(e["suggestion"]),
                )
                for e in errors.to_dict("records")
            ],
            batch_size=1000,
        )
        run.rows_total = prepared.n_rows
        run.rows_valid = prepared.n_valid
        run.rows_invalid = prepared.n_invalid
        run.rows_skipped = len((run.detected or {}).get("skipped", []))
        run.kg_co2e = prepared.kg_co2e
        run.rows_duplicate = n_duplicates
        run.detected = {
            **{k: v for k, v in run.detected.items() if k != "factors_confirmed"},
            "rows_to_import": to_import,
            "rows_excluded": prepared.n_excluded,
            "errors_total": len(prepared.errors),
            "errors_stored": min(len(prepared.errors), MAX_STORED_ERRORS),
            "notes": prepared.result.notes,
            # Every assumption made reading and calculating the file, shown on the results page.
            "assumptions": prepared.assumptions,
            # How the columns were read (decimal separator, date order), so a fixed cell is
            # re-read the same way.
            "read_options": prepared.result.detected_options().to_dict(),
        }
        # A partly imported run stays so: its records are in the inventory.
        run.status = (
            ImportStatus.PARTIAL if status == ImportStatus.PARTIAL else ImportStatus.VALIDATED
        )
        run.save(
            update_fields=[
                "rows_total",
                "rows_valid",
                "rows_invalid",
                "rows_skipped",
                "rows_duplicate",
                "kg_co2e",
                "detected",
                "status",
            ]
        )
    return prepared


def import_run_confirm_factors(*, run: ImportRun) -> ImportRun:
    """Mark the factor step done (the stepper shows it); checking the rows again unmarks it,
    since new activities may need a factor."""
    _ensure_editable(run)
    run.detected = {**(run.detected or {}), "factors_confirmed": True}
    run.save(update_fields=["detected"])
    return run


def factor_choice_set(
    *,
    run: ImportRun,
    activity: str,
    unit_dimension: str,
    factor_id: int | None,
    supplier_factor_id: int | None,
    user: User | None,
    region: str | None = None,
    year: int | None = None,
) -> None:
    """Choose the factor for one distinct activity of this run (for the rows of one region and
    year when they are given); remembered for the tenant at commit."""
    from emissions.models import SupplierFactor
    from factors.models import EmissionFactor

    _ensure_editable(run)
    if (
        supplier_factor_id is not None
        and not SupplierFactor.objects.filter(id=supplier_factor_id).exists()
    ):
        raise ImportInputError("That supplier factor does not exist.", code="factor_not_found")
    if factor_id is not None and not EmissionFactor.objects.filter(id=factor_id).exists():
        raise ImportInputError("That factor does not exist.", code="factor_not_found")
    if factor_id is None and supplier_factor_id is None:
        raise ImportInputError("Choose a factor.", code="factor_missing")
    choices = dict((run.detected or {}).get("factor_choices", {}))
    parts = [activity_key(activity), unit_dimension]
    if region:
        parts += [region, str(year or 0)]
    choices["|".join(parts)] = {
        "factor_id": None if supplier_factor_id else factor_id,
        "supplier_factor_id": supplier_factor_id,
        "chosen_by": user.id if user else None,
    }
    run.detected = {**run.detected, "factor_choices": choices}
    run.save(update_fields=["detected"])


def import_run_start_commit(
    *,
    run: ImportRun,
    user: User | None,
    allow_partial: bool = False,
    duplicates: str = DUPLICATES_REFUSE,
) -> bool:
    """Claim the run's commit and queue its job, exactly once.

    The claim is one conditional UPDATE (checked or partly imported -> committing); of N
    concurrent requests one changes the row and queues the job, the others get False.
    """
    if duplicates not in DUPLICATE_CHOICES:
        raise ImportInputError("Choose what to do with rows already imported.", code="invalid")
    if not run.is_committable:
        return False
    if run.status == ImportStatus.PARTIAL and not (run.detected or {}).get("rows_to_import"):
        return False  # nothing new since the last commit: fix rows and check them first
    if run.rows_invalid and not allow_partial:
        raise ImportInputError(
            f"{run.rows_invalid} rows still have errors. Fix them, or choose to import only the "
            f"{run.rows_valid} valid rows.",
            code="invalid_rows",
        )
    if run.rows_duplicate and duplicates == DUPLICATES_REFUSE:
        raise ImportInputError(duplicates_message(run.rows_duplicate), code="duplicates")
    claimed = ImportRun.objects.filter(id=run.id, status__in=COMMITTABLE).update(
        status=ImportStatus.COMMITTING,
        progress=1,
        progress_message="Queued",
        committed_by=user,
        error="",
        lease_until=timezone.now() + timedelta(seconds=QUEUED_LEASE_SECONDS),
    )
    if claimed != 1:
        return False
    # The choices, for the Retry button of a run whose job dies.
    detected = ImportRun.objects.values_list("detected", flat=True).get(id=run.id) or {}
    ImportRun.objects.filter(id=run.id).update(
        detected={
            **detected,
            "commit": {"allow_partial": allow_partial, "duplicates": duplicates},
        }
    )
    enqueue_for_tenant(
        import_run_commit_job,
        schema_name=current_schema(),
        queue="imports",
        on_failure=import_run_commit_failed,
        run_id=run.id,
        allow_partial=allow_partial,
        duplicates=duplicates,
    )
    return True


def import_run_undo(*, run: ImportRun, user: User | None) -> int:
    """Remove the records of a committed run (after the user confirmed); the run stays, marked undone."""
    with transaction.atomic():
        locked = ImportRun.objects.select_for_update().get(id=run.id)
        if not locked.has_records:
            raise ImportInputError("Only a committed import can be undone.", code="not_committed")
        sites = scope2_sites_of_run(run_id=locked.id)
        removed, _ = ActivityRecord.objects.filter(import_run=locked).delete()
        scope2_market_reallocate(site_ids=sites)
        locked.status = ImportStatus.UNDONE
        locked.progress_message = f"Undone: {removed:,} records removed"
        locked.save(update_fields=["status", "progress_message"])
        uncertainty_run_request()
    logger.info(
        "import undone",
        extra={"run": run.id, "user": user.id if user else None, "removed": removed},
    )
    return removed
