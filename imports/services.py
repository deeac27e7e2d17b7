"""The import wizard's writes and the commit job: an upload becomes validated, calculated, stored records.

Flow: ``import_run_create`` (store + read + suggest a mapping; the wizard's upload does the same in two
halves, ``import_run_upload`` in the request and ``import_run_parse_job`` queued after it) -> ``import_run_set_mapping`` ->
``import_run_validate`` (pipeline validation, one factor per distinct activity, engine calculation,
row errors stored) -> fixes (``import_run_fix_cell``, ``import_run_apply_to_all``) and factor choices
(``factor_choice_set``) -> ``import_run_start_commit`` queues ``import_run_commit_job``, which does the
same work again from the stored file and writes every record in one transaction with COPY.

The preparation (`prepare`) is shared by the wizard, the job and the ``import_activities`` command.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Case, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from accounts.models import User
from emissions import provenance as provenance_parts
from emissions.companions import companion_records
from emissions.engine.calculate import assumptions_of, money_of
from emissions.engine.units import unit_dimension
from emissions.inventory import (
    DEFAULT_GWP_SET,
    compute,
    factor_frame,
    factor_version,
    library_key,
    provenance_key,
    scope_int,
    supplier_key,
)
from emissions.models import ActivityRecord
from emissions.scope2 import (
    LIFE_CYCLE_WARNING,
    apply_market_based,
    life_cycle_factor_ids,
    location_notes,
)
from emissions.services_scope2 import scope2_market_reallocate, scope2_sites_of_run
from emissions.services_uncertainty import uncertainty_run_request
from emissions.uncertainty_defaults import record_data_quality
from factors.matching import match_factors
from factortrace.jobs import enqueue_for_tenant
from factortrace.tenancy import current_schema
from imports.models import FactorChoice, ImportRun, ImportStatus, MappingTemplate, RowError
from imports.pipeline import (
    Mapping,
    MappingOptions,
    MappingSuggestion,
    PipelineError,
    ReadResult,
    RowCheck,
    ValidationResult,
    apply_fixes,
    count_value,
    export_invalid_rows,
    filter_rows,
    header_signature,
    preview,
    replace_value,
    revalidate_row,
    suggest_mapping,
    validate,
)
from imports.pipeline.isolate import ChildLimits, read_upload_isolated
from imports.pipeline.read import ENCODING_CHOICES, ReadLimits
from imports.regions import RowRegions, row_regions, row_years, vintage_for

logger = logging.getLogger(__name__)

# Row errors kept for the wizard's table; counts stay exact beyond it.
MAX_STORED_ERRORS = 5000
# Distinct activities matched automatically in one validation.
MAX_AUTO_MATCH = 500
# Library factor kinds whose value depends on where the activity happens.
REGIONAL_KINDS = ("grid_electricity", "heat_steam")


class ImportInputError(Exception):
    """The upload, mapping or state cannot be used; ``message`` is for the user, nothing changed."""

    def __init__(
        self, message: str, *, code: str = "invalid", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}

    @classmethod
    def from_pipeline(cls, exc: PipelineError) -> ImportInputError:
        return cls(exc.message, code=exc.code, details=dict(exc.details))


# --------------------------------------------------------------------------------------------
# reading, with a small per-process cache (the wizard re-reads the same file on every step)

_READ_CACHE: OrderedDict[tuple[Any, ...], ReadResult] = OrderedDict()
_READ_CACHE_SIZE = 3
_READ_LOCK = threading.Lock()


def read_limits() -> ChildLimits:
    """What one parse may cost (settings IMPORT_READ_*)."""
    return ChildLimits(
        memory_bytes=settings.IMPORT_READ_MEMORY_MB * 1024 * 1024,
        cpu_seconds=settings.IMPORT_READ_CPU_SECONDS,
        wall_seconds=float(settings.IMPORT_READ_TIMEOUT_SECONDS),
    )


@contextlib.contextmanager
def _as_path(source: Any) -> Iterator[str | os.PathLike[str]]:
    """A path to the file's bytes, for the child process: the path itself, or a temporary copy
    of a file object (at most one byte over the size limit, so the reader refuses it)."""
    if isinstance(source, str | os.PathLike):
        yield source
        return
    with tempfile.NamedTemporaryFile(prefix="ft-upload-") as tmp:
        if isinstance(source, bytes | bytearray | memoryview):
            tmp.write(source)
        else:
            if hasattr(source, "seek"):
                source.seek(0)
            remaining = settings.IMPORT_MAX_BYTES + 1
            while remaining > 0 and (chunk := source.read(min(remaining, 1024 * 1024))):
                tmp.write(chunk)
                remaining -= len(chunk)
        tmp.flush()
        yield tmp.name


def read_source(
    source: Any,
    *,
    filename: str,
    sheet: str | None,
    header_row: int | None,
    encoding: str | None = None,
) -> ReadResult:
    """Read a file in a child process under memory and time limits (a file that would exhaust
    them costs that child only); when no sheet is named and the first one holds only a header or
    nothing, the next sheet with data is taken (the user can still pick another)."""
    limits = read_limits()

    def read(path: str | os.PathLike[str], chosen: str | None) -> ReadResult:
        result: ReadResult = read_upload_isolated(
            path,
            filename=filename,
            limits=limits,
            max_bytes=settings.IMPORT_MAX_BYTES,
            sheet=chosen,
            header_row=header_row,
            encoding=encoding,
            read_limits=ReadLimits(max_columns=settings.IMPORT_MAX_COLUMNS),
        )
        return result

    with _as_path(source) as path:
        try:
            return read(path, sheet)
        except PipelineError as exc:
            first_error = exc
        others = [
            s
            for s in first_error.details.get("sheets") or []
            if s != first_error.details.get("sheet")
        ]
        if sheet is None and first_error.code in {"header_only", "empty"}:
            for other in others:
                try:
                    return read(path, other)
                except PipelineError:
                    continue
    raise ImportInputError.from_pipeline(first_error) from None


def import_run_read(run: ImportRun) -> ReadResult:
    """The run's stored file, parsed in a child process (sheet and header row as chosen); the
    last few results are kept per process, so the wizard's steps do not parse again."""
    key = _read_key(run)
    _, _, _, _, header_row, encoding = key
    with _READ_LOCK:
        cached = _READ_CACHE.get(key)
        if cached is not None:
            _READ_CACHE.move_to_end(key)
            return cached
    with run.file.open("rb") as handle:
        result = read_source(
            handle,
            filename=run.original_name,
            sheet=run.sheet or None,
            header_row=header_row,
            encoding=encoding,
        )
    _remember_read(key, result)
    return result


def _read_key(run: ImportRun) -> tuple[Any, ...]:
    mapping = run_mapping(run)
    header_row = mapping.options.header_row if mapping else None
    encoding = (run.detected or {}).get("encoding_choice") or None
    return (current_schema(), run.id, run.sha256, run.sheet, header_row, encoding)


def _remember_read(key: tuple[Any, ...], result: ReadResult) -> None:
    with _READ_LOCK:
        _READ_CACHE[key] = result
        while len(_READ_CACHE) > _READ_CACHE_SIZE:
            _READ_CACHE.popitem(last=False)


def run_mapping(run: ImportRun) -> Mapping | None:
    if not run.mapping:
        return None
    try:
        return Mapping.from_dict(run.mapping)
    except PipelineError:
        return None


# --------------------------------------------------------------------------------------------
# upload, sheet, mapping


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:120].strip("._") or "upload"
    return stem


def import_run_create(*, upload: UploadedFile, user: User | None) -> ImportRun:
    """Store an upload and read it; a file that cannot be read raises ImportInputError, saving nothing."""
    name = upload.name or "upload"
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportInputError(
            f"{name} is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
            code="too_large",
            details={"limit": limit},
        )
    upload.seek(0)
    read = read_source(upload.file, filename=name, sheet=None, header_row=None)
    run = _create_run(read, name=name, user=user, store=lambda run: _store_upload(run, upload))
    key = _read_key(run)
    if key[4] is None:  # read as the next steps will (a template may name another header row)
        _remember_read(key, read)
    return run


def import_run_upload(*, upload: UploadedFile, user: User | None) -> ImportRun:
    """Store an upload as a run being read and queue its parse job (after commit): the request
    answers at once. Only what needs no parsing is checked here (size, empty); the job decides the
    rest and marks the run unreadable with the reason, keeping nothing of the file."""
    name = upload.name or "upload"
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportInputError(
            f"{name} is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
            code="too_large",
            details={"limit": limit},
        )
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


def import_run_parse_job(*, run_id: int) -> str:
    """The parse job: read the stored file in a limited child process, then record what was found
    and the suggested (or template) mapping in one write. A refused file marks the run unreadable."""
    run = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).first()
    if run is None:
        return "not reading"
    try:
        with run.file.open("rb") as handle:
            read = read_source(handle, filename=run.original_name, sheet=None, header_row=None)
    except ImportInputError as exc:
        _mark_unreadable(run_id, exc.message)
        return "unreadable"
    with transaction.atomic():
        run = (
            ImportRun.objects.select_for_update()
            .filter(id=run_id, status=ImportStatus.READING)
            .first()
        )
        if run is None:
            return "not reading"
        run.size_bytes = read.size
        run.sha256 = read.sha256
        run.detected = read.metadata()
        run.sheet = read.sheet or ""
        _apply_template_or_suggestion(run, read)
        run.save()
    key = _read_key(run)
    if key[4] is None:
        _remember_read(key, read)
    return "read"


def import_run_parse_failed(*, run_id: int, reason: str = "", **_: Any) -> None:
    """The parse job died (worker killed, unexpected error): the run is marked unreadable."""
    logger.warning("parse job failed", extra={"run_id": run_id, "reason": reason[:500]})
    _mark_unreadable(
        run_id,
        "Reading the file failed unexpectedly. Try again, or save it as CSV and upload that.",
    )


# A run still "reading" this long after its upload has lost its parse job (Redis lost it, or the
# worker died without its failure callback): the reading page stops waiting for it. The parse
# itself is bounded by IMPORT_READ_TIMEOUT_SECONDS; the rest allows for a busy queue.
READ_STALE_AFTER_SECONDS = 900


def import_runs_sweep_reading(*, now: datetime | None = None) -> int:
    """Mark the runs whose parse job never reported back as unreadable (with the reason)."""
    now = now or timezone.now()
    limit = timedelta(seconds=settings.IMPORT_READ_TIMEOUT_SECONDS + READ_STALE_AFTER_SECONDS)
    stale = ImportRun.objects.filter(status=ImportStatus.READING, created_at__lt=now - limit)
    ids = list(stale.values_list("id", flat=True))
    for run_id in ids:
        _mark_unreadable(
            run_id,
            "Reading the file did not finish: its job was lost. Upload the file again.",
        )
    return len(ids)


def _mark_unreadable(run_id: int, message: str) -> None:
    """Only a run still being read changes: it keeps the reason, not the file."""
    run = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).first()
    if run is None:
        return
    changed = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).update(
        status=ImportStatus.UNREADABLE, error=message, detected={}, mapping={}, file=""
    )
    if changed and run.file:
        run.file.storage.delete(run.file.name)


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
    _apply_template_or_suggestion(run, read)
    store(run)
    run.save()
    return run


def _apply_template_or_suggestion(run: ImportRun, read: ReadResult) -> None:
    signature = header_signature(read.headers)
    template = (
        MappingTemplate.objects.filter(header_signature=signature).order_by("-updated_at").first()
    )
    suggestion = suggest_mapping(read.headers, read.frame.head(200))
    run.detected = {**run.detected, "suggestions": suggestion.to_dict(), "signature": signature}
    if template is not None:
        run.template = template
        run.mapping = template.mapping
        run.status = ImportStatus.MAPPED
    else:
        run.template = None
        run.mapping = suggestion.mapping.to_dict()
        run.status = ImportStatus.UPLOADED


def duplicate_runs(run: ImportRun) -> QuerySet[ImportRun]:
    """Earlier runs of the same file (same SHA-256), most recent first."""
    return ImportRun.objects.filter(sha256=run.sha256).exclude(id=run.id).order_by("-created_at")


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
    _apply_template_or_suggestion(run, read)
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
    _apply_template_or_suggestion(run, read)
    run.save(update_fields=["detected", "fixes", "mapping", "template", "status"])
    return run


def import_run_suggestion(run: ImportRun) -> MappingSuggestion:
    read = import_run_read(run)
    return suggest_mapping(read.headers, read.frame.head(200))


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


def import_run_preview(run: ImportRun, n: int = 10) -> dict[str, Any]:
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    frame, natives = _fixed_frame(run, read)
    shown = preview(
        frame, mapping, n=n, native_numbers=natives, default_region=_organisation_country()
    )
    shown["rows_excluded"] = len(read.frame) - len(frame)
    return shown


# Statuses in which rows may be checked and fixed (a partly imported run's remaining rows too).
VALIDATABLE = frozenset(
    {
        ImportStatus.UPLOADED,
        ImportStatus.MAPPED,
        ImportStatus.VALIDATED,
        ImportStatus.FAILED,
        ImportStatus.PARTIAL,
    }
)


def _ensure_editable(run: ImportRun) -> None:
    if run.status not in VALIDATABLE:
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
    if run.status == ImportStatus.PARTIAL:
        raise ImportInputError(
            "Part of this file is imported: its sheet and columns stay as they were. Fix the "
            "remaining rows, or undo the import to start over.",
            code="locked",
        )


# --------------------------------------------------------------------------------------------
# fixes


def _fix_list(run: ImportRun) -> tuple[list[list[Any]], list[list[Any]]]:
    fixes = run.fixes or {}
    return list(fixes.get("replace", [])), list(fixes.get("cells", []))


def _fixed_frame(run: ImportRun, read: ReadResult) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The run's rows as the user left them: the mapping's row filter first (so fixes and
    "apply to all" only ever touch the rows to import), then the replacements and cell fixes."""
    replacements, cells = _fix_list(run)
    mapping = run_mapping(run)
    try:
        kept = filter_rows(read.frame, mapping.row_filter if mapping else None, read.native_numbers)
        frame, natives = kept.frame, kept.native_numbers
        if kept.excluded:
            cells = [c for c in cells if int(c[0]) in frame.index]
        for column, old, new in replacements:
            if column in natives:
                # The replaced cells now hold typed text, not the workbook's stored numbers.
                replaced = frame[column].fillna("").astype(str).str.strip() == (old or "")
                natives[column] = natives[column] & ~replaced.to_numpy(dtype=bool)
            frame, _ = replace_value(frame, column, old, new)
        if cells:
            frame, natives = apply_fixes(frame, [(int(r), c, v) for r, c, v in cells], natives)
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    return frame, natives


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
    frame, natives = _fixed_frame(run, read)
    read_options = (run.detected or {}).get("read_options")
    detected = MappingOptions().merged(read_options) if read_options else None
    check = revalidate_row(
        frame,
        mapping,
        row,
        fixes={column: value},
        detected=detected,
        native_numbers=natives,
        default_region=_organisation_country(),
    )
    replacements, cells = _fix_list(run)
    cells = [c for c in cells if not (int(c[0]) == row and c[1] == column)] + [[row, column, value]]
    run.fixes = {"replace": replacements, "cells": cells}
    RowError.objects.filter(run=run, row=row, column=column).delete()
    run.save(update_fields=["fixes"])
    return check


def import_run_apply_to_all(*, run: ImportRun, column: str, value: str, replacement: str) -> int:
    """Replace every cell of ``column`` equal to ``value``; returns how many cells change."""
    _ensure_editable(run)
    read = import_run_read(run)
    if column not in read.frame.columns:
        raise ImportInputError(f"There is no column “{column}”.", code="column_not_found")
    frame, _ = _fixed_frame(run, read)
    changed = count_value(frame, column, value)
    if changed:
        replacements, cells = _fix_list(run)
        run.fixes = {"replace": [*replacements, [column, value, replacement]], "cells": cells}
        run.save(update_fields=["fixes"])
    return changed


def import_run_value_counts(run: ImportRun, cells: Iterable[tuple[str, str]]) -> list[int]:
    """For each ``(column, value)``: how many cells "apply to all" would replace now (the rows
    to import, fixes included), the figure its button states."""
    pairs = list(cells)
    if not pairs:
        return []
    frame, _ = _fixed_frame(run, import_run_read(run))
    return [count_value(frame, c, v) if c in frame.columns else 0 for c, v in pairs]


def import_run_export_invalid(*, run: ImportRun, fmt: str) -> bytes:
    prepared = _prepare_run(run)
    if fmt not in {"csv", "xlsx"}:
        raise ImportInputError("Choose CSV or XLSX.", code="unsupported_format")
    return export_invalid_rows(prepared.frame, prepared.as_validation(), fmt=fmt)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# factor assignment and calculation


def activity_key(text: str) -> str:
    return " ".join(str(text).casefold().split())[:300]


def activity_keys(texts: pd.Series) -> pd.Series:
    """activity_key of every row, computed once per distinct text."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    keys = np.array([activity_key(t) for t in uniques] + [""], dtype=object)
    return pd.Series(keys[codes], index=texts.index, dtype="object")


@dataclass
class ActivityChoiceRow:
    """One distinct activity of a file and the factor it will be computed with."""

    activity: str
    key: str
    unit_dimension: str
    rows: int
    factor_id: int | None = None
    supplier_factor_id: int | None = None
    remembered: bool = False
    candidates: list[Any] = field(default_factory=list)
    region: str = "GLOBAL"
    year: int | None = None
    # Set when the factor's edition is more than VINTAGE_GAP_YEARS from the activity's year.
    vintage_note: str = ""
    # A Scope 2 supplier factor (a green tariff's rate) counts for market-based only, as the
    # supplier's emission rate; the location-based figure keeps the grid's factor.
    market_supplier_factor_id: int | None = None
    market_rate: float | None = None
    # When no factor of the quantity's dimension matches: the nearest factors of any dimension,
    # so the row error can say what unit they need (never picked silently).
    nearest: list[Any] = field(default_factory=list)

    @property
    def factor_key(self) -> str | None:
        if self.supplier_factor_id:
            return supplier_key(self.supplier_factor_id)
        if self.factor_id:
            return library_key(self.factor_id)
        return None


def _distinct_activities(
    data: pd.DataFrame, valid: pd.Series, regions: RowRegions | None = None
) -> pd.DataFrame:
    """Distinct (activity key, unit dimension, region, year) of the valid rows, with a sample text
    and a count: each row's factor is chosen for its own region and year."""
    rows = data.loc[valid.to_numpy()]
    columns = ["key", "dimension", "region", "year", "activity", "rows"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    region = (
        regions.region.loc[rows.index]
        if regions is not None
        else pd.Series("GLOBAL", index=rows.index)
    )
    frame = pd.DataFrame(
        {
            "key": activity_keys(rows["activity"]),
            "dimension": _dimensions(rows),
            "region": region.astype(str),
            "year": row_years(rows),
            "activity": rows["activity"].astype(str),
        },
        index=rows.index,
    )
    grouped = frame.groupby(["key", "dimension", "region", "year"], sort=False)
    out = grouped.agg(activity=("activity", "first"), rows=("activity", "size")).reset_index()
    return out.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def _dimensions(rows: pd.DataFrame) -> np.ndarray:
    """Each row's unit dimension ('volume', 'energy'...; 'money' for spend rows), per distinct unit."""
    if "unit" not in rows:
        return np.full(len(rows), "money", dtype=object)
    codes, uniques = pd.factorize(rows["unit"])
    names = np.array([unit_dimension(u) for u in uniques] + ["money"], dtype=object)
    return names[codes]


def _current_equivalents(factor_ids: set[int]) -> dict[int, int]:
    """For factors of superseded dataset versions, the same publisher id in the current version."""
    from factors.models import EmissionFactor

    if not factor_ids:
        return {}
    stale = list(
        EmissionFactor.objects.filter(id__in=factor_ids, dataset__is_current=False).values_list(
            "id", "dataset__key", "publisher_id"
        )
    )
    if not stale:
        return {}
    current = EmissionFactor.objects.filter(
        dataset__is_current=True,
        dataset__key__in={key for _, key, _ in stale},
        publisher_id__in={pid for _, _, pid in stale},
    ).values_list("id", "dataset__key", "publisher_id")
    by_identity = {(key, pid): fid for fid, key, pid in current}
    return {fid: by_identity[(key, pid)] for fid, key, pid in stale if (key, pid) in by_identity}


def _supplier_candidates() -> list[Any]:
    try:
        from emissions.selectors import supplier_factor_candidates
    except ImportError:
        return []
    return list(supplier_factor_candidates())


def _regional_factors(factor_ids: set[int]) -> dict[int, str]:
    """The region of each library factor whose value depends on where it is used (grid
    electricity, heat and steam): such a factor is never carried to a row of another region."""
    from factors.models import EmissionFactor

    if not factor_ids:
        return {}
    return dict(
        EmissionFactor.objects.filter(id__in=factor_ids, kind__in=REGIONAL_KINDS).values_list(
            "id", "region"
        )
    )


# kg CO2e per kWh of one unit of a supplier factor stated per these units.
_PER_KWH = {"kWh": 1.0, "MWh": 1e-3}


def _supplier_electricity_rates() -> dict[int, float]:
    """Scope 2 supplier factors per kWh or MWh: their rate in kg CO2e per kWh."""
    from emissions.models import Scope, SupplierFactor

    return {
        fid: value * _PER_KWH[unit]
        for fid, unit, value in SupplierFactor.objects.filter(
            scope=Scope.SCOPE_2, unit__in=list(_PER_KWH)
        ).values_list("id", "unit", "kg_co2e")
    }


def _grid_behind_supplier(
    choice: ActivityChoiceRow,
    rates: dict[int, float],
    matched: dict[tuple[Any, ...], list[Any]],
    region: str,
    year: int | None,
) -> None:
    """Move a Scope 2 supplier factor to the market-based side and give the row the library's
    grid factor for its region as the location-based one (Scope 2 Guidance, chapter 6)."""
    supplier_id = choice.supplier_factor_id or 0
    choice.market_supplier_factor_id = supplier_id
    choice.market_rate = rates[supplier_id]
    choice.supplier_factor_id = None
    choice.factor_id = None
    text = _MATCH_NOISE.sub(" ", choice.activity).strip() or choice.activity
    cache_key = ("grid", text.casefold(), region, year)
    if cache_key not in matched:
        matched[cache_key] = match_factors(
            description=text, unit="kWh", region=region, year=year, limit=8
        )
    library = [c for c in matched[cache_key] if c.factor.source != "supplier"]
    if library:
        choice.factor_id = library[0].factor.factor_id


def assign_factors(
    distinct: pd.DataFrame,
    *,
    overrides: dict[tuple[str, ...], dict[str, Any]] | None = None,
    with_candidates: bool = False,
) -> list[ActivityChoiceRow]:
    """The factor for each distinct (activity, dimension, region, year): the run's own choice, the
    tenant's remembered choice, else the best match of the matching service for the row's region
    and year; a library factor then moves to its edition for the year (``vintage_for``)."""
    overrides = overrides or {}
    remembered = {
        (c.activity_key, c.unit_dimension): c
        for c in FactorChoice.objects.filter(activity_key__in=list(distinct["key"]))
    }
    newer = _current_equivalents(
        {c.factor_id for c in remembered.values() if c.factor_id}
        | {o["factor_id"] for o in overrides.values() if o.get("factor_id")}
    )
    regional = _regional_factors(
        {c.factor_id for c in remembered.values() if c.factor_id} | set(newer.values())
    )
    extra = _supplier_candidates()
    electricity_rates = _supplier_electricity_rates()
    matched: dict[tuple[Any, ...], list[Any]] = {}
    vintages: dict[Any, Any] = {}
    out: list[ActivityChoiceRow] = []
    for item in distinct.itertuples(index=False):
        region = str(item.region)
        year = int(item.year) or None
        choice = ActivityChoiceRow(
            activity=item.activity,
            key=item.key,
            unit_dimension=item.dimension,
            rows=int(item.rows),
            region=region,
            year=year,
        )
        pair = (item.key, item.dimension)
        explicit = overrides.get((*pair, region, str(year or 0))) or overrides.get(pair)
        # A remembered library choice yields to a supplier factor that names the activity (the
        # tenant's own, more specific data); this run's explicit choice never does.
        library_memory = (
            not explicit and pair in remembered and not remembered[pair].supplier_factor_id
        )
        if explicit:
            choice.factor_id = explicit.get("factor_id")
            choice.supplier_factor_id = explicit.get("supplier_factor_id")
            choice.remembered = True
        elif pair in remembered:
            factor_id = newer.get(remembered[pair].factor_id or 0, remembered[pair].factor_id)
            if regional.get(factor_id or 0, region) == region:
                choice.factor_id = remembered[pair].factor_id
                choice.supplier_factor_id = remembered[pair].supplier_factor_id
                choice.remembered = True
        if choice.factor_id in newer:
            # A remembered factor from a superseded dataset version: its current edition.
            choice.factor_id = newer[choice.factor_id]
        # Cost-centre numbers and codes ("Diesel KSt 4100") never name a factor: activities
        # that differ only in them share one match; so do a region's years (vintage_for then
        # takes each year's edition). The budget counts distinct matches, not lines.
        text = _MATCH_NOISE.sub(" ", item.activity).strip() or item.activity
        cache_key = (text.casefold(), item.dimension, region)
        budget = cache_key in matched or len(matched) < MAX_AUTO_MATCH
        if (
            with_candidates
            or (choice.factor_key is None and budget)
            or (library_memory and extra and budget)
        ):
            if cache_key not in matched:
                unit = None if item.dimension == "money" else _unit_for_dimension(item.dimension)
                found = match_factors(
                    description=text,
                    unit=unit,
                    region=region,
                    year=year,
                    limit=8,
                    extra_candidates=extra,
                )
                if item.dimension == "money":
                    found = [c for c in found if c.factor.unit_dimension == "money"]
                matched[cache_key] = found
            candidates = matched[cache_key]
            choice.candidates = candidates
            if library_memory and candidates and candidates[0].factor.source == "supplier":
                choice.factor_id = None
                choice.supplier_factor_id = candidates[0].factor.factor_id
            elif choice.factor_key is None and candidates:
                best = candidates[0].factor
                if best.source == "supplier":
                    choice.supplier_factor_id = best.factor_id
                else:
                    choice.factor_id = best.factor_id
            if choice.factor_key is None and not candidates and item.dimension != "money":
                near_key = ("nearest", text.casefold(), region)
                if near_key not in matched:
                    matched[near_key] = _nearest_of_other_units(text, item.dimension, region, year)
                choice.nearest = matched[near_key]
        if choice.supplier_factor_id in electricity_rates:
            _grid_behind_supplier(choice, electricity_rates, matched, region, year)
        if choice.factor_id and not choice.supplier_factor_id and not explicit:
            vintage = vintage_for(choice.factor_id, year, vintages)
            choice.factor_id = vintage.factor_id
            choice.vintage_note = vintage.note
        out.append(choice)
    return out


_MATCH_NOISE = re.compile(r"(?<!\w)\d[\d.,/-]*(?!\w)")

_DIMENSION_UNIT = {
    "volume": "L",
    "mass": "kg",
    "energy": "kWh",
    "distance": "km",
    "passenger distance": "passenger * km",
    "freight (mass x distance)": "tonne * km",
    "count (room-nights)": "room_night",
}


def _nearest_of_other_units(text: str, dimension: str, region: str, year: int | None) -> list[Any]:
    """The best three factors for ``text`` among the other unit dimensions (a flight given in km
    finds the per passenger.km ones): shown in the row error, never picked."""
    found: list[Any] = []
    for other, unit in _DIMENSION_UNIT.items():
        if other != dimension:
            found += match_factors(description=text, unit=unit, region=region, year=year, limit=3)
    return sorted(found, key=lambda c: c.score, reverse=True)[:3]


def _no_factor_text(choice: ActivityChoiceRow | None) -> tuple[str, str]:
    """The row error of an activity no factor of its unit's dimension matches: when the nearest
    factors are of another dimension, what unit they need and which they are."""
    search = "Search the library for one in the factor step, or add a supplier factor."
    if choice is None or not choice.nearest:
        return "No emission factor matches this activity.", search
    from emissions.engine.unit_display import display_unit

    best = choice.nearest[0].factor
    given = choice.unit_dimension
    message = (
        f"The quantity is a {given}, but the nearest factor, “{best.name}”, is per "
        f"{display_unit(best.unit)}: give the quantity in that unit (or add a conversion), or "
        "choose another factor."
    )
    names = "; ".join(
        f"{c.factor.name} (per {display_unit(c.factor.unit)})" for c in choice.nearest[:3]
    )
    return message, f"Nearest factors: {names}. {search}"


def _unit_for_dimension(dimension: str) -> str | None:
    return _DIMENSION_UNIT.get(dimension)


@dataclass
class Prepared:
    """A file validated, assigned factors and calculated: everything but the write."""

    frame: pd.DataFrame
    result: ValidationResult
    valid: pd.Series
    errors: pd.DataFrame
    choices: list[ActivityChoiceRow]
    calculated: pd.DataFrame
    activity_keys: pd.Series
    # Rows the mapping's row filter left out (not errors, not imported).
    n_excluded: int = 0

    @property
    def n_rows(self) -> int:
        return len(self.valid)

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())

    @property
    def n_invalid(self) -> int:
        return self.n_rows - self.n_valid

    @property
    def assumptions(self) -> list[dict[str, Any]]:
        """Every assumption made, one short text each with its row count: how cells were read
        (pipeline) and how rows were calculated (engine conversion notes, AR6 methane)."""
        return [*self.result.assumptions, *assumptions_of(self.calculated)]

    @property
    def kg_co2e(self) -> float:
        ok = self.calculated.loc[self.valid[self.valid].index.intersection(self.calculated.index)]
        return float(ok["kg_co2e"].sum()) if not ok.empty else 0.0

    def as_validation(self) -> ValidationResult:
        return ValidationResult(
            data=self.result.data,
            valid=self.valid,
            errors=self.errors,
            detected=self.result.detected,
            mapping=self.result.mapping,
            notes=self.result.notes,
        )

    def error_records(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.as_validation().error_records(limit)


def prepare(
    read: ReadResult,
    mapping: Mapping,
    *,
    frame: pd.DataFrame | None = None,
    natives: dict[str, np.ndarray] | None = None,
    overrides: dict[tuple[str, ...], dict[str, Any]] | None = None,
    gwp_set: str = DEFAULT_GWP_SET,
    region: pd.Series | str | None = None,
) -> Prepared:
    """Validate, give every distinct activity a factor, and calculate every valid row.

    ``region``: each row's region where the caller knows one (Series indexed like ``frame``;
    sites, organisation), else the row's country; see ``imports.pipeline.validate``."""
    frame = read.frame if frame is None else frame
    natives = read.native_numbers if natives is None else natives
    try:
        mapping.check(list(frame.columns))
        kept = filter_rows(frame, mapping.row_filter, natives)
        frame, natives = kept.frame, kept.native_numbers
        result = validate(
            frame,
            mapping,
            native_numbers=natives,
            region=region,
            default_region=_organisation_country(),
        )
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    data, valid = result.data, result.valid.copy()
    regions = row_regions(data, mapping)
    distinct = _distinct_activities(data, valid, regions)
    choices = assign_factors(distinct, overrides=overrides)
    keys = pd.Series(index=data.index, dtype="object")
    if valid.any():
        act = data.loc[valid.to_numpy(), "activity"]
        keys.loc[act.index] = activity_keys(act)
    calculated, calc_errors = _calculate(data, valid, keys, choices, mapping, gwp_set, regions)
    result.notes.extend(_region_notes(regions, choices, calculated))
    errors = result.errors
    if not calc_errors.empty:
        errors = pd.concat([errors, calc_errors], ignore_index=True).sort_values(
            ["row"], kind="stable"
        )
        valid.loc[calc_errors["row"].to_numpy()] = False
    return Prepared(
        frame,
        result,
        valid,
        errors.reset_index(drop=True),
        choices,
        calculated,
        keys,
        n_excluded=len(read.frame) - len(frame),
    )


def _organisation_country() -> str | None:
    """The country that decides region-dependent units ("gal") of rows that name none."""
    from emissions.selectors_org import organisation_country

    return organisation_country()


# Scope 2 energy carriers by the library factor's kind (contracts name their carrier).
_CARRIER_OF_KIND = {"grid_electricity": "electricity", "heat_steam": "heat"}


def _carriers(factor_keys: pd.Series, library_ids: list[int]) -> pd.Series:
    """Each row's Scope 2 energy carrier ("electricity", "heat", '' for anything else)."""
    from factors.models import EmissionFactor

    kinds = dict(EmissionFactor.objects.filter(id__in=library_ids).values_list("id", "kind"))
    carrier_of = {library_key(i): _CARRIER_OF_KIND.get(k, "") for i, k in kinds.items()}
    codes, uniques = pd.factorize(factor_keys.astype(str))
    values = np.array([carrier_of.get(u, "") for u in uniques] + [""], dtype=object)
    return pd.Series(values[codes], index=factor_keys.index)


def _combined_codes(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of several factorized columns (0..n-1, in order of
    first appearance) and the row where each combination first appears."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        combined = combined * (int(column.max(initial=-1)) + 2) + (column + 1)
        combined, _ = pd.factorize(combined)
        combined = combined.astype(np.int64)
    _, first = np.unique(combined, return_index=True)
    return combined, first


def _region_notes(
    regions: RowRegions, choices: list[ActivityChoiceRow], calculated: pd.DataFrame
) -> list[dict[str, Any]]:
    """What the preview must say about regions and factors: unknown site names, factors far from
    the activity's year, life-cycle grid intensities used as a fallback."""
    notes: list[dict[str, Any]] = []
    if regions.unknown_sites:
        names = ", ".join(f"“{n}”" for n in regions.unknown_sites[:10])
        notes.append(
            {
                "code": "unknown_sites",
                "message": f"Sites not in Settings: {names}. Their rows take the next known "
                "country (the mapping's, else the organisation's); add them as sites or aliases.",
                "sites": regions.unknown_sites,
            }
        )
    notes.extend(
        {"code": "factor_vintage", "message": f"{c.activity} ({c.region}): {c.vintage_note}"}
        for c in choices
        if c.vintage_note
    )
    notes.extend(location_notes(calculated))
    return notes


def _calculate(
    data: pd.DataFrame,
    valid: pd.Series,
    keys: pd.Series,
    choices: list[ActivityChoiceRow],
    mapping: Mapping,
    gwp_set: str,
    regions: RowRegions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = data.loc[valid.to_numpy()]
    empty_errors = pd.DataFrame(
        columns=["row", "column", "field", "value", "code", "message", "suggestion"]
    )
    if rows.empty:
        return pd.DataFrame(), empty_errors
    has_unit = rows["unit"].notna() if "unit" in rows else pd.Series(False, index=rows.index)
    dims = _dimensions(rows)
    if regions is None:
        regions = row_regions(data, mapping)
    region = regions.region.loc[rows.index].astype(str)
    years = row_years(rows)
    # Each row's factor through its distinct (activity key, dimension, region, year): integer
    # codes per column, combined, then one lookup per distinct group; no per-row Python.
    chosen = [c for c in choices if c.factor_key]
    columns = [keys.loc[rows.index].to_numpy(), dims, region.to_numpy(), years.to_numpy()]
    factorized = [pd.factorize(col) for col in columns]
    group_codes, first = _combined_codes([codes for codes, _ in factorized])
    position_of = {
        (c.key, c.unit_dimension, c.region, c.year or 0): i for i, c in enumerate(chosen)
    }
    group_position = np.array(
        [position_of.get(tuple(col[f] for col in columns), -1) for f in first] + [-1],
        dtype=np.int64,
    )
    positions = group_position[group_codes]
    names = np.array([c.factor_key for c in chosen] + [""], dtype=object)
    factor_keys = pd.Categorical(names[positions])

    activities = pd.DataFrame(index=rows.index)
    quantity = rows["quantity"] if "quantity" in rows else pd.Series(np.nan, index=rows.index)
    amount = rows["amount"] if "amount" in rows else pd.Series(np.nan, index=rows.index)
    activities["quantity"] = quantity.where(has_unit, amount).astype("float64")
    activities["unit"] = (
        rows["unit"].astype("category").cat.add_categories([""]).fillna("")
        if "unit" in rows
        else ""
    )
    activities["currency"] = rows["currency"].astype("category") if "currency" in rows else None
    activities["factor_key"] = factor_keys
    date = rows["date"] if "date" in rows else rows.get("period_start")
    activities["date"] = date
    activities["is_correction"] = rows.get("is_correction", False)
    # The row's region picks regional fuel properties (US natural gas: EPA heat content).
    activities["region"] = rows["region"] if "region" in rows else rows.get("country")
    if "scope" in rows:
        activities["scope"] = rows["scope"]
    if "category" in rows:
        activities["scope3_category"] = rows["category"]

    lib_ids = [c.factor_id for c in choices if c.factor_id and not c.supplier_factor_id]
    sup_ids = [c.supplier_factor_id for c in choices if c.supplier_factor_id]
    factors = factor_frame(factor_ids=lib_ids, supplier_factor_ids=sup_ids)

    missing = (activities["factor_key"] == "").to_numpy()
    computable = activities.loc[~missing]
    calculated = (
        compute(computable, factors, gwp_set=gwp_set) if not computable.empty else pd.DataFrame()
    )

    error_frames = []
    if missing.any():
        activity_col = mapping.source_of("activity") or "activity"
        miss = rows.loc[missing]
        # Per distinct group, as the factor lookup above: the nearest factors of another unit.
        near = {
            (c.key, c.unit_dimension, c.region, c.year or 0): _no_factor_text(c)
            for c in choices
            if not c.factor_key
        }
        texts = [near.get(tuple(col[f] for col in columns), _no_factor_text(None)) for f in first]
        texts.append(_no_factor_text(None))
        picked = [texts[g] for g in group_codes[missing]]
        error_frames.append(
            pd.DataFrame(
                {
                    "row": miss.index.to_numpy(),
                    "column": activity_col,
                    "field": "activity",
                    "value": miss["activity"].astype(str).to_numpy(),
                    "code": "no_factor",
                    "message": [m for m, _ in picked],
                    "suggestion": [h for _, h in picked],
                }
            )
        )
    if not calculated.empty and not calculated["ok"].all():
        bad = calculated.loc[~calculated["ok"].astype(bool)]
        unit_col = mapping.source_of("unit") or mapping.source_of("currency") or "unit"
        details = bad["error"]
        error_frames.append(
            pd.DataFrame(
                {
                    "row": bad.index.to_numpy(),
                    "column": unit_col,
                    "field": "unit",
                    "value": [str((d or {}).get("value", "")) for d in details],
                    "code": "calculation",
                    "message": [
                        str((d or {}).get("message", "This row cannot be calculated."))
                        for d in details
                    ],
                    "suggestion": [str((d or {}).get("suggestion") or "") for d in details],
                }
            )
        )
    errors = pd.concat(error_frames, ignore_index=True) if error_frames else empty_errors
    if not calculated.empty:
        calculated["factor_key"] = computable["factor_key"]
        index = calculated.index
        rates = np.array(
            [np.nan if c.market_rate is None else c.market_rate for c in chosen] + [np.nan]
        )
        apply_market_based(
            calculated,
            dates=activities.loc[index, "date"],
            site_ids=regions.site_id.loc[index],
            regions=region.loc[index],
            years=years.loc[index],
            supplier_rates=pd.Series(rates[positions], index=rows.index).loc[index],
            carriers=_carriers(computable["factor_key"], lib_ids),
        )
        calculated["region"] = region.loc[index]
        calculated["region_why"] = regions.why.loc[index]
        vintage_notes = np.array([c.vintage_note for c in chosen] + [""], dtype=object)
        calculated["vintage_note"] = pd.Series(vintage_notes[positions], index=rows.index).loc[
            index
        ]
        life_cycle = life_cycle_factor_ids(set(lib_ids))
        warned = computable["factor_key"].astype(str).isin([library_key(i) for i in life_cycle])
        calculated["location_note"] = np.where(
            warned.to_numpy() & (calculated["scope"].astype(str) == "scope_2").to_numpy(),
            LIFE_CYCLE_WARNING,
            "",
        )
    return calculated, errors


# --------------------------------------------------------------------------------------------
# wizard validation


def _overrides(run: ImportRun) -> dict[tuple[str, ...], dict[str, Any]]:
    """The run's factor choices by (activity key, dimension), or with a region when the choice
    was made for one region's rows."""
    stored = (run.detected or {}).get("factor_choices", {})
    return {tuple(joined.split("|")): value for joined, value in stored.items()}


def _prepare_run(run: ImportRun) -> Prepared:
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    frame, natives = _fixed_frame(run, read)
    return prepare(read, mapping, frame=frame, natives=natives, overrides=_overrides(run))


def import_run_validate(*, run: ImportRun) -> Prepared:
    """Validate and calculate the whole file; store the counts and the row errors on the run."""
    _ensure_editable(run)
    prepared = _prepare_run(run)
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


def import_run_current_totals(run: ImportRun) -> dict[str, Any]:
    """What an import would write now, from the current cells, fixes, filter and factors
    (nothing stored): rows valid, invalid and excluded, and the valid rows' kg CO2e."""
    prepared = _prepare_run(run)
    return {
        "rows": prepared.n_rows,
        "valid": prepared.n_valid,
        "invalid": prepared.n_invalid,
        "excluded": prepared.n_excluded,
        "kg_co2e": prepared.kg_co2e,
    }


def activity_suggestions(run: ImportRun) -> list[ActivityChoiceRow]:
    """Each distinct activity of the file with its chosen factor and ranked alternatives."""
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    frame, natives = _fixed_frame(run, read)
    try:
        result = validate(frame, mapping, native_numbers=natives, convert_currency=False)
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    distinct = _distinct_activities(result.data, result.valid, row_regions(result.data, mapping))
    return assign_factors(distinct, overrides=_overrides(run), with_candidates=True)


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


# --------------------------------------------------------------------------------------------
# commit


# Rows already in the inventory: "refuse" stops the commit and asks, "skip" leaves them out,
# "import" writes them again (the user says they are distinct activities).
DUPLICATES_REFUSE, DUPLICATES_SKIP, DUPLICATES_IMPORT = "refuse", "skip", "import"
DUPLICATE_CHOICES = (DUPLICATES_REFUSE, DUPLICATES_SKIP, DUPLICATES_IMPORT)
# Runs a commit can be claimed from: checked, or partly imported with rows fixed since.
COMMITTABLE = (ImportStatus.VALIDATED, ImportStatus.PARTIAL)
# A queued commit may wait this long for a worker; a running one renews its lease every
# HEARTBEAT_SECONDS for LEASE_SECONDS. A lease that runs out means the job died.
QUEUED_LEASE_SECONDS = 15 * 60
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 5
STOPPED_MESSAGE = (
    "The import stopped before it finished (its worker was interrupted); nothing was written. "
    "Retry it."
)

WORKER_GONE_MESSAGE = "Its worker stopped; nothing was written. Retry it."


def _duplicates_message(n: int) -> str:
    return (
        f"{n:,} row{'s are' if n != 1 else ' is'} already in your inventory (same date, activity, "
        "quantity, unit and site). Choose to skip them or to import them anyway."
    )


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
    if run.status not in COMMITTABLE:
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
        raise ImportInputError(_duplicates_message(run.rows_duplicate), code="duplicates")
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


def commit_options(run: ImportRun) -> dict[str, Any]:
    """The choices of the run's last commit (for its Retry button)."""
    stored = (run.detected or {}).get("commit") or {}
    return {
        "allow_partial": bool(stored.get("allow_partial")),
        "duplicates": stored.get("duplicates") or DUPLICATES_REFUSE,
    }


def _progress(run_id: int, percent: int, message: str) -> None:
    ImportRun.objects.filter(id=run_id, status=ImportStatus.COMMITTING).update(
        progress=percent,
        progress_message=message[:200],
        lease_until=timezone.now() + timedelta(seconds=LEASE_SECONDS),
    )


def _failed_status() -> Case:
    # A run with records from an earlier commit stays partly imported; the error says what failed.
    return Case(
        When(records_created__gt=0, then=Value(ImportStatus.PARTIAL)),
        default=Value(ImportStatus.FAILED),
    )


def import_run_fail(*, run_id: int, message: str) -> bool:
    """Mark a committing run failed (retryable), from the job, its failure callback or the sweeper.
    Only a COMMITTING run changes; True if this call changed it."""
    changed = ImportRun.objects.filter(id=run_id, status=ImportStatus.COMMITTING).update(
        status=_failed_status(), error=message, progress=0, progress_message="", lease_until=None
    )
    return changed == 1


def import_run_commit_failed(*, run_id: int, reason: str = "", **_: Any) -> None:
    """The commit job's failure callback: its process raised, timed out or was killed."""
    if import_run_fail(run_id=run_id, message=STOPPED_MESSAGE):
        logger.warning("import commit job died", extra={"run": run_id, "reason": reason})


def import_runs_sweep(*, now: datetime | None = None) -> int:
    """Fail the committing runs of this tenant whose lease ran out (their job is gone)."""
    now = now or timezone.now()
    stale = ImportRun.objects.filter(status=ImportStatus.COMMITTING).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    )
    swept = stale.update(
        status=_failed_status(),
        error=STOPPED_MESSAGE,
        progress=0,
        progress_message="",
        lease_until=None,
    )
    if swept:
        logger.warning("stale import commits failed", extra={"runs": swept})
    return swept


def import_runs_sweep_all() -> dict[str, int]:
    """import_runs_sweep in every tenant: {schema: runs failed} for the tenants that had any."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from tenants.models import Tenant

    swept = {}
    schemas = Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list(
        "schema_name", flat=True
    )
    for schema in list(schemas):
        with schema_context(schema):
            if n := import_runs_sweep():
                swept[schema] = n
    return swept


class LeaseLostError(RuntimeError):
    """The commit job lost its run: its worker is gone, or the run was failed by the sweeper."""


class _Lease:
    """Renews a committing run's lease from a thread with its own connection while the job works.

    It also notices that the job should stop: the worker that forked this work-horse died, or the
    run is no longer committing (swept). `check()` raises then, so the write rolls back. Inside an
    atomic block (in-process jobs, tests) no thread runs: another connection could not see the run.
    """

    def __init__(self, run_id: int, schema_name: str) -> None:
        self.run_id = run_id
        self.table = (
            f"{connection.ops.quote_name(schema_name)}."
            f"{connection.ops.quote_name(ImportRun._meta.db_table)}"
        )
        self.lost = ""
        self._parent = os.getppid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Lease:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._beat, name="import-lease", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_SECONDS + 5)

    def check(self) -> None:
        if not self.lost and os.getppid() != self._parent:
            self.lost = WORKER_GONE_MESSAGE
        if self.lost:
            raise LeaseLostError(self.lost)

    def _beat(self) -> None:
        from django.db import connection as own  # this thread's connection

        renewed = time.monotonic()
        try:
            while not self._stop.wait(0.5):
                if os.getppid() != self._parent:
                    self.lost = WORKER_GONE_MESSAGE
                    return
                if time.monotonic() - renewed < HEARTBEAT_SECONDS:
                    continue
                with own.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {self.table} SET lease_until = now() + make_interval(secs => %s) "  # noqa: S608 (quoted names)
                        "WHERE id = %s AND status = %s",
                        [LEASE_SECONDS, self.run_id, ImportStatus.COMMITTING.value],
                    )
                    if cursor.rowcount != 1:
                        self.lost = STOPPED_MESSAGE
                        return
                renewed = time.monotonic()
        except Exception:
            logger.exception("import lease heartbeat failed", extra={"run": self.run_id})
        finally:
            own.close()


def import_run_commit_job(
    *, run_id: int, allow_partial: bool = False, duplicates: str = DUPLICATES_REFUSE
) -> dict[str, Any]:
    """The commit job: redo the preparation from the stored file and write every record at once."""
    run = ImportRun.objects.get(id=run_id)
    if run.status in {ImportStatus.COMMITTED, ImportStatus.PARTIAL}:
        return {"status": run.status, "records": run.records_created}
    if run.status != ImportStatus.COMMITTING:
        return {"status": run.status, "records": 0}
    try:
        with _Lease(run_id, current_schema()) as lease:
            _progress(run_id, 10, "Reading the file")
            prepared = _prepare_run(run)
            _progress(run_id, 60, "Calculating emissions")
            if prepared.n_invalid and not allow_partial:
                raise ImportInputError(
                    f"{prepared.n_invalid} rows have errors; nothing was imported."
                )
            lease.check()
            _progress(run_id, 75, f"Writing {prepared.n_valid:,} records")
            written = import_run_write(
                run_id=run.id, prepared=prepared, duplicates=duplicates, checkpoint=lease.check
            )
    except Exception as exc:
        message = (
            str(exc)
            if isinstance(exc, LeaseLostError)
            else exc.message
            if isinstance(exc, ImportInputError)
            else "The import failed; nothing was written."
        )
        logger.exception("import commit failed", extra={"run": run_id})
        import_run_fail(run_id=run_id, message=message)
        return {"status": "failed", "error": message}
    return {"status": "committed", "records": written}


FINGERPRINT_COLUMNS = (
    "date",
    "period_end",
    "activity",
    "quantity",
    "unit",
    "amount",
    "currency",
    "site",
)


def _committed_rows_excluded(table: pa.Table, run_id: int | None) -> pa.Table:
    """The rows of `table` this run has not imported yet (a partly imported run's fixed rows)."""
    if run_id is None or table.num_rows == 0:
        return table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source_row FROM {ActivityRecord._meta.db_table} WHERE import_run_id = %s",  # noqa: S608 (a model's table)
            [run_id],
        )
        done = [r[0] for r in cursor.fetchall()]
    if not done:
        return table
    keep = pc.invert(pc.is_in(table["source_row"], value_set=pa.array(done, type=pa.int64())))
    return table.filter(keep)


def duplicate_mask(table: pa.Table) -> np.ndarray:
    """Which rows of a records table are already in the inventory: a record with the same
    fingerprint (date, period end, activity, quantity or amount, unit or currency, site).

    Computed in SQL against the records (manual ones too): the rows' fingerprints go to a
    temporary table by COPY and one hash semi-join answers. When no record falls in the file's
    date range, nothing is sent.
    """
    n = table.num_rows
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    bounds = pc.min_max(table["date"]).as_py()
    records = ActivityRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {records} WHERE date BETWEEN %s AND %s)",  # noqa: S608 (a model's table)
            [bounds["min"], bounds["max"]],
        )
        if not cursor.fetchone()[0]:
            return mask
    keys = table.select(list(FINGERPRINT_COLUMNS)).add_column(
        0, "i", pa.array(np.arange(n, dtype=np.int64))
    )
    buffer = io.BytesIO()
    pacsv.write_csv(
        keys, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_fingerprint")
        cursor.execute(
            "CREATE TEMP TABLE import_fingerprint (i bigint, date date, period_end date, "
            "activity text, quantity double precision, unit text, amount double precision, "
            "currency text, site text) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY import_fingerprint FROM STDIN WITH (FORMAT csv, "
            "FORCE_NOT_NULL (activity, unit, currency, site))"
        ) as copy:
            copy.write(buffer.getbuffer())
        # No ANALYZE: the planner sizes the fresh table from its pages, which is enough to hash
        # the smaller side (measured: a third of the check's time saved on 117k rows).
        cursor.execute(
            "SELECT k.i FROM import_fingerprint k WHERE EXISTS ("  # noqa: S608 (a model's table)
            f"SELECT 1 FROM {records} r WHERE r.date = k.date AND r.activity = k.activity "
            "AND r.unit = k.unit AND r.currency = k.currency AND r.site = k.site "
            "AND r.quantity IS NOT DISTINCT FROM k.quantity "
            "AND r.amount IS NOT DISTINCT FROM k.amount "
            "AND r.period_end IS NOT DISTINCT FROM k.period_end "
            # Only the records of the file's dates are hashed (the date index finds them).
            "AND r.date BETWEEN %s AND %s)",
            [bounds["min"], bounds["max"]],
        )
        found = [r[0] for r in cursor.fetchall()]
        cursor.execute("DROP TABLE pg_temp.import_fingerprint")
    mask[found] = True
    return mask


def count_duplicates(prepared: Prepared, *, run_id: int | None = None) -> tuple[int, int]:
    """(rows this run would import, how many of them are already in the inventory)."""
    if prepared.n_valid == 0:
        return 0, 0
    table = _committed_rows_excluded(fingerprint_table(prepared), run_id)
    return table.num_rows, int(duplicate_mask(table).sum())


def _commit_lock() -> None:
    """Serialise the commits of one tenant, so each one's duplicate check sees every record the
    others wrote (a transaction-level advisory lock, released at commit or rollback)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"imports.commit:{current_schema()}"]
        )


def import_run_write(
    *,
    run_id: int,
    prepared: Prepared,
    duplicates: str = DUPLICATES_REFUSE,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Write a prepared run's new records in one transaction (COPY) and mark it imported.

    Rows this run imported before (fix later) are not written again; rows already in the
    inventory are refused (ImportInputError, nothing written), skipped or written, as chosen.
    The run ends committed, or partly imported while invalid rows remain. The status changes with
    a conditional UPDATE: a run no longer committing (swept) rolls everything back.
    """
    check = checkpoint or (lambda: None)
    with transaction.atomic():
        _commit_lock()
        run = ImportRun.objects.get(id=run_id)
        if run.status != ImportStatus.COMMITTING:
            return 0
        if prepared.n_valid:
            calculations, table = records_frame(
                prepared, run_id=run.id, user_id=run.committed_by_id
            )
        else:
            calculations, table = {}, pa.table({c: pa.nulls(0) for c in RECORD_COLUMNS})
        table = _committed_rows_excluded(table, run.id)
        found = duplicate_mask(table)
        n_duplicates = int(found.sum())
        if n_duplicates and duplicates == DUPLICATES_REFUSE:
            raise ImportInputError(
                _duplicates_message(n_duplicates) + " Nothing was written.", code="duplicates"
            )
        if n_duplicates and duplicates == DUPLICATES_SKIP:
            table = table.filter(pa.array(~found))
        # WTT / T&D lines of the rows written, in the same COPY (emissions/companions.py); the
        # run's counts and total stay those of the main lines.
        line_calculations, lines = companion_records(
            prepared,
            table,
            frame_of=lambda p: records_frame(p, run_id=run.id, user_id=run.committed_by_id),
        )
        calculations = {**calculations, **line_calculations}
        check()
        copy_records(pa.concat_tables([table, lines]) if lines else table, checkpoint=check)
        written = table.num_rows
        factor_choices_remember(prepared.choices, run.committed_by_id)
        check()
        kg = float(pc.sum(table["kg_co2e"]).as_py() or 0.0) if written else 0.0
        if run.records_created:
            # A partly imported run: its total covers every main record it holds.
            kg = float(
                ActivityRecord.objects.filter(import_run_id=run.id, line_kind="main").aggregate(
                    s=Sum("kg_co2e")
                )["s"]
                or 0.0
            )
        n_lines = lines.num_rows if lines else 0
        total = run.records_created + written
        skipped = n_duplicates if duplicates == DUPLICATES_SKIP else 0
        status = ImportStatus.PARTIAL if prepared.n_invalid else ImportStatus.COMMITTED
        message = (
            f"Imported {written:,} records"
            + (f" (and {n_lines:,} WTT / T&D companion lines)" if n_lines else "")
            + (f"; {skipped:,} already in the inventory were skipped" if skipped else "")
        )
        updated = ImportRun.objects.filter(id=run.id, status=ImportStatus.COMMITTING).update(
            status=status,
            records_created=total,
            rows_total=prepared.n_rows,
            rows_valid=prepared.n_valid,
            rows_invalid=prepared.n_invalid,
            rows_duplicate=0,
            kg_co2e=kg,
            committed_at=timezone.now(),
            progress=100,
            progress_message=message,
            lease_until=None,
            error="",
            detected={
                **run.detected,
                "calculations": {**run.detected.get("calculations", {}), **calculations},
                "duplicates_skipped": skipped,
                "rows_excluded": prepared.n_excluded,
                "companion_lines": n_lines,
                # Every valid row is in now; fixed rows count again at the next check.
                "rows_to_import": 0,
            },
        )
        if updated != 1:
            raise LeaseLostError(STOPPED_MESSAGE)
        # A contract's MWh cover its site's records of every import, in date order.
        scope2_market_reallocate(site_ids=scope2_sites_of_run(run_id=run.id))
        uncertainty_run_request()
    return written


def factor_choices_remember(choices: Iterable[ActivityChoiceRow], user_id: int | None) -> None:
    """Remember each distinct activity's factor for the tenant's next imports (one upsert).

    One per (activity, dimension): the choice of the most rows (choices come largest first); a
    grid factor is reused only for rows of its own region (``assign_factors``). A Scope 2
    supplier factor moved to the market-based side is remembered as the choice made.
    """
    rows: dict[tuple[str, str], FactorChoice] = {}
    for c in choices:
        if c.factor_key is None or (c.key, c.unit_dimension) in rows:
            continue
        supplier_id = c.supplier_factor_id or c.market_supplier_factor_id
        rows[(c.key, c.unit_dimension)] = FactorChoice(
            activity_key=c.key,
            unit_dimension=c.unit_dimension,
            factor_id=None if supplier_id else c.factor_id,
            supplier_factor_id=supplier_id,
            chosen_by_id=user_id,
        )
    FactorChoice.objects.bulk_create(
        list(rows.values()),
        update_conflicts=True,
        unique_fields=["activity_key", "unit_dimension"],
        update_fields=["factor", "supplier_factor", "chosen_by", "updated_at"],
        batch_size=1000,
    )


RECORD_COLUMNS = [
    "import_run_id",
    "source_row",
    "date",
    "period_end",
    "activity",
    "site",
    "supplier",
    "country",
    "notes",
    "is_correction",
    "quantity",
    "unit",
    "amount",
    "currency",
    "amount_eur",
    "scope",
    "category",
    "tier",
    "data_quality",
    "factor_id",
    "supplier_factor_id",
    "factor_version",
    "gwp_set",
    "kg_co2e",
    "kg_co2",
    "kg_ch4_co2e",
    "kg_n2o_co2e",
    "kg_other_co2e",
    "kg_co2e_market",
    "market_basis",
    "provenance",
    "line_kind",
    "created_by_id",
]
TIERS = ("primary", "secondary", "spend")
# Text columns that are never NULL (an empty cell is "").
TEXT_COLUMNS = (
    "activity",
    "site",
    "supplier",
    "country",
    "notes",
    "unit",
    "currency",
    "tier",
    "data_quality",
    "factor_version",
    "gwp_set",
    "market_basis",
    "provenance",
    "line_kind",
)
_TEXT_LIMITS = {
    "activity": 500,
    "site": 255,
    "supplier": 255,
    "country": 20,
    "unit": 60,
    "currency": 3,
}


def _per_distinct(
    values: pd.Series | pd.Categorical, func: Callable[[Any], Any], default: Any
) -> np.ndarray:
    """func applied once per distinct value, spread back to every row (missing -> default)."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([func(u) for u in uniques] + [default], dtype=object)
    return mapped[codes]


def _text_array(data: pd.DataFrame, name: str, index: pd.Index) -> pa.Array:
    if name not in data:
        return pa.array(np.full(len(index), "", dtype=object), type=pa.string())
    array = pa.array(data[name].astype("string[pyarrow]"), type=pa.string())
    array = pc.fill_null(array, "")
    limit = _TEXT_LIMITS.get(name)
    return pc.utf8_slice_codeunits(array, 0, limit) if limit else array


def _float_array(values: pd.Series | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.float64())
    return pa.array(
        values.to_numpy(dtype="float64", na_value=np.nan), type=pa.float64(), from_pandas=True
    )


def _date_array(values: pd.Series | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.date32())
    days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    return pa.array(days, type=pa.date32(), from_pandas=True)


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """values where keep, None elsewhere (an object array for a nullable integer column)."""
    out = np.full(len(values), None, dtype=object)
    out[keep] = values[keep]
    return out


def _int_array(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.int64(), from_pandas=True)


def fingerprint_table(prepared: Prepared) -> pa.Table:
    """The valid rows' ``source_row`` and fingerprint columns, as ``records_frame`` builds them
    (the same helpers), without the rest of a record: the duplicate check of the check step
    needs no provenance, money or factor columns."""
    index = prepared.valid[prepared.valid].index
    data = prepared.result.data.loc[index]
    n = len(index)
    date = data["date"] if "date" in data else data.get("period_start")
    columns: dict[str, pa.Array] = {
        "source_row": pa.array(index.to_numpy(dtype="int64")),
        "date": _date_array(date, n),
        "period_end": _date_array(data.get("period_end"), n),
        "activity": _text_array(data, "activity", index),
        "quantity": _float_array(data.get("quantity"), n),
        "unit": _text_array(data, "unit", index),
        "amount": _float_array(data.get("amount"), n),
        "currency": _text_array(data, "currency", index),
        "site": _text_array(data, "site", index),
    }
    return pa.table(columns)


def records_frame(
    prepared: Prepared, *, run_id: int | None, user_id: int | None, gwp_set: str = DEFAULT_GWP_SET
) -> tuple[dict[str, Any], pa.Table]:
    """The valid rows as ActivityRecord columns (an Arrow table, built column by column), and the
    run's distinct calculations keyed as the records' provenance names them."""
    index = prepared.valid[prepared.valid].index
    calc = prepared.calculated.loc[index]
    data = prepared.result.data.loc[index]
    n = len(index)

    provenance = calc["provenance"].astype("category") if n else calc["provenance"]
    texts = [str(p) for p in provenance.cat.categories] if n else []
    calculations = {provenance_key(t): json.loads(t) for t in texts}
    by_text = {t: provenance_key(t) for t in texts}
    version_of = {t: factor_version(calculations[by_text[t]])[:80] for t in texts}

    keys = calc["factor_key"].astype(str)
    is_library = _per_distinct(keys, lambda k: k.startswith("lib:"), False).astype(bool)
    ids = _per_distinct(keys, lambda k: int(k[4:]), None)
    date = data["date"] if "date" in data else data.get("period_start")
    tiers = _per_distinct(calc["tier"], lambda t: t if t in TIERS else "secondary", "secondary")
    columns: dict[str, pa.Array] = {
        "import_run_id": pa.array(
            np.full(n, run_id, dtype=object), type=pa.int64(), from_pandas=True
        ),
        "source_row": pa.array(index.to_numpy(dtype="int64")),
        "date": _date_array(date, n),
        "period_end": _date_array(data.get("period_end"), n),
        "activity": _text_array(data, "activity", index),
        "site": _text_array(data, "site", index),
        "supplier": _text_array(data, "supplier", index),
        "country": _text_array(data, "country", index),
        "notes": _text_array(data, "notes", index),
        "is_correction": pa.array(
            data["is_correction"].to_numpy(dtype=bool, na_value=False)
            if "is_correction" in data
            else np.zeros(n, bool)
        ),
        "quantity": _float_array(data.get("quantity"), n),
        "unit": _text_array(data, "unit", index),
        "amount": _float_array(data.get("amount"), n),
        "currency": _text_array(data, "currency", index),
        "amount_eur": _float_array(data.get("amount_eur"), n),
        "scope": _int_array(_per_distinct(calc["scope"], scope_int, None)),
        "category": _int_array(
            calc["scope3_category"].to_numpy(dtype=object, na_value=None)
            if "scope3_category" in calc
            else np.full(n, None)
        ),
        "tier": pa.array(tiers, type=pa.string()),
        "data_quality": pa.array(
            record_data_quality(tiers, data.get("data_quality")), type=pa.string()
        ),
        "factor_id": _int_array(_masked(ids, is_library)),
        "supplier_factor_id": _int_array(_masked(ids, ~is_library)),
        "factor_version": pa.array(_per_distinct(provenance, version_of.get, ""), type=pa.string()),
        "gwp_set": pa.array(np.full(n, gwp_set, dtype=object), type=pa.string()),
        "kg_co2e": _float_array(calc["kg_co2e"], n),
        "kg_co2": _float_array(calc.get("co2_kg_co2e"), n),
        "kg_ch4_co2e": _float_array(calc.get("ch4_kg_co2e"), n),
        "kg_n2o_co2e": _float_array(calc.get("n2o_kg_co2e"), n),
        "kg_other_co2e": _float_array(calc.get("other_kg_co2e"), n),
        "kg_co2e_market": _float_array(calc.get("kg_co2e_market"), n),
        "market_basis": pa.array(
            _per_distinct(calc["market_basis"], lambda b: "" if b is None else str(b), ""),
            type=pa.string(),
        ),
        "provenance": pa.array(_record_provenance(calc, provenance, by_text), type=pa.string()),
        "line_kind": pa.array(np.full(n, "main", dtype=object), type=pa.string()),
        "created_by_id": pa.array(
            np.full(n, user_id, dtype=object), type=pa.int64(), from_pandas=True
        ),
    }
    return calculations, pa.table([columns[c] for c in RECORD_COLUMNS], names=RECORD_COLUMNS)


def _record_provenance(
    calc: pd.DataFrame, provenance: pd.Series, by_text: dict[str, str]
) -> np.ndarray:
    """Each record's provenance JSON (``emissions.provenance``: its calculation's key, the FX
    rate and deflator it used, region and why, the Scope 2 market-based detail, warnings),
    built once per distinct combination of those parts and spread to the rows."""
    if not len(calc):
        return np.array([], dtype=object)
    names = [c for c in provenance_parts.ROW_PARTS if c in calc]
    money = money_of(calc).to_numpy(dtype=object)
    calculation = pd.Categorical(provenance)
    parts = [np.where(pd.isna(money), "", money)] + [
        calc[c].fillna("").astype(str).to_numpy() for c in names
    ]
    codes, first = _combined_codes(
        [np.asarray(calculation.codes), *(pd.factorize(p)[0] for p in parts)]
    )
    texts = np.asarray(calculation.categories, dtype=object)

    def text(row: int) -> str:
        row_parts: dict[str, Any] = {
            name: (json.loads(v) if name == "scope2_market" else v) if (v := values[row]) else None
            for name, values in zip(names, parts[1:], strict=True)
        }
        return provenance_parts.build_text(
            calculation=by_text[str(texts[calculation.codes[row]])],
            money=json.loads(parts[0][row]) if parts[0][row] else None,
            **row_parts,
        )

    return np.array([text(int(f)) for f in first], dtype=object)[codes]


COPY_BATCH_ROWS = 50_000
BULK_REBUILD_ROWS = 100_000


def _secondary_indexes(table_name: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes other than its primary key, in the
    current tenant schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_index x ON x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass "
            "WHERE i.schemaname = current_schema() AND i.tablename = %s AND NOT x.indisprimary",
            [table_name],
        )
        return [(name, definition) for name, definition in cursor.fetchall()]


def _existing_rows(table_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table_name]
        )
        row = cursor.fetchone()
    return max(int(row[0]) if row else 0, 0)


def copy_records(table: pa.Table, *, checkpoint: Callable[[], None] | None = None) -> int:
    """Write record rows with one COPY, as CSV made by Arrow (no per-row Python).

    A second thread formats the next batch while this one streams the previous batch to the
    server (both release the GIL), so formatting and loading overlap.
    """
    if table.num_rows == 0:
        return 0
    # Only text that needs it is quoted; FORCE_NOT_NULL reads an empty text field as "" (not NULL),
    # so numbers and dates go unquoted and the file is smaller to write and to parse.
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")

    def formatted(batch: pa.RecordBatch) -> memoryview:
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, write_options=options)
        return buffer.getbuffer()

    columns = ", ".join(RECORD_COLUMNS)
    not_null = ", ".join(TEXT_COLUMNS)
    table_name = ActivityRecord._meta.db_table
    batches = table.to_batches(max_chunksize=COPY_BATCH_ROWS)
    # A load larger than the table itself is faster without index upkeep: drop the secondary
    # indexes, load, and build them once ("Populating a Database" in the PostgreSQL manual). It
    # all happens in the caller's transaction; the lock it takes covers this tenant's table only.
    rebuild = (
        _secondary_indexes(table_name)
        if table.num_rows >= BULK_REBUILD_ROWS and table.num_rows > _existing_rows(table_name)
        else []
    )
    if rebuild:
        with connection.cursor() as cursor:
            schema = connection.ops.quote_name(current_schema())
            for name, _ in rebuild:
                cursor.execute(f"DROP INDEX {schema}.{connection.ops.quote_name(name)}")
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table_name} ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
        ) as copy,
    ):
        pending = pool.submit(formatted, batches[0])
        for following in [*batches[1:], None]:
            data = pending.result()
            if checkpoint is not None:
                checkpoint()
            if following is not None:
                pending = pool.submit(formatted, following)
            copy.write(data)
    if rebuild:
        with connection.cursor() as cursor:
            for _, definition in rebuild:
                cursor.execute(definition)
    return table.num_rows


def import_run_undo(*, run: ImportRun, user: User | None) -> int:
    """Remove the records of a committed run (after the user confirmed); the run stays, marked undone."""
    with transaction.atomic():
        locked = ImportRun.objects.select_for_update().get(id=run.id)
        if locked.status not in {ImportStatus.COMMITTED, ImportStatus.PARTIAL}:
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
