"""Reads of the import wizard: the stored file parsed (with a small per-process cache), the rows as
the user left them (row filter, replacements, cell fixes), the preparation of a run without writing
it, and what the wizard's pages show (the runs list, where a run resumes, its row errors)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from emissions.models import ActivityRecord, SupplierFactor
from factors.models import EmissionFactor
from factortrace.tenancy import current_schema
from imports.errors import ImportInputError
from imports.models import ImportRun, ImportStatus, MappingTemplate, RowError
from imports.pipeline import (
    Mapping,
    MappingSuggestion,
    PipelineError,
    ReadResult,
    apply_fixes,
    count_value,
    export_invalid_rows,
    filter_rows,
    header_signature,
    preview,
    replace_value,
    suggest_mapping,
    validate,
)
from imports.pipeline.isolate import ChildLimits, read_upload_isolated
from imports.pipeline.read import ReadLimits
from imports.preparation import (
    ActivityChoiceRow,
    Prepared,
    assign_factors,
    default_region,
    distinct_activities,
    prepare,
)
from imports.regions import row_regions
from imports.writer import DUPLICATES_REFUSE

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


def remember_first_read(run: ImportRun, read: ReadResult) -> None:
    """Keep the upload's first reading for the wizard's next steps when they read the file the
    same way (a template may name another header row)."""
    key = _read_key(run)
    if key[4] is None:
        _remember_read(key, read)


def run_mapping(run: ImportRun) -> Mapping | None:
    if not run.mapping:
        return None
    try:
        return Mapping.from_dict(run.mapping)
    except PipelineError:
        return None


def apply_template_or_suggestion(run: ImportRun, read: ReadResult) -> None:
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


def import_run_suggestion(run: ImportRun) -> MappingSuggestion:
    read = import_run_read(run)
    return suggest_mapping(read.headers, read.frame.head(200))


def import_run_preview(run: ImportRun, n: int = 10) -> dict[str, Any]:
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    frame, natives = run_fixed_frame(run, read)
    shown = preview(frame, mapping, n=n, native_numbers=natives, default_region=default_region())
    shown["rows_excluded"] = len(read.frame) - len(frame)
    return shown


# --------------------------------------------------------------------------------------------
# fixes


def run_fixes(run: ImportRun) -> tuple[list[list[Any]], list[list[Any]]]:
    fixes = run.fixes or {}
    return list(fixes.get("replace", [])), list(fixes.get("cells", []))


def run_fixed_frame(run: ImportRun, read: ReadResult) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The run's rows as the user left them: the mapping's row filter first (so fixes and
    "apply to all" only ever touch the rows to import), then the replacements and cell fixes."""
    replacements, cells = run_fixes(run)
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


def import_run_value_counts(run: ImportRun, cells: Iterable[tuple[str, str]]) -> list[int]:
    """For each ``(column, value)``: how many cells "apply to all" would replace now (the rows
    to import, fixes included), the figure its button states."""
    pairs = list(cells)
    if not pairs:
        return []
    frame, _ = run_fixed_frame(run, import_run_read(run))
    return [count_value(frame, c, v) if c in frame.columns else 0 for c, v in pairs]


def import_run_export_invalid(*, run: ImportRun, fmt: str) -> bytes:
    prepared = import_run_prepared(run)
    if fmt not in {"csv", "xlsx"}:
        raise ImportInputError("Choose CSV or XLSX.", code="unsupported_format")
    return export_invalid_rows(prepared.frame, prepared.as_validation(), fmt=fmt)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# wizard validation


def _overrides(run: ImportRun) -> dict[tuple[str, ...], dict[str, Any]]:
    """The run's factor choices by (activity key, dimension), or with a region when the choice
    was made for one region's rows."""
    stored = (run.detected or {}).get("factor_choices", {})
    return {tuple(joined.split("|")): value for joined, value in stored.items()}


def import_run_prepared(run: ImportRun) -> Prepared:
    mapping = run_mapping(run)
    if mapping is None:
        raise ImportInputError("Map the columns first.", code="not_mapped")
    read = import_run_read(run)
    frame, natives = run_fixed_frame(run, read)
    return prepare(read, mapping, frame=frame, natives=natives, overrides=_overrides(run))


def import_run_current_totals(run: ImportRun) -> dict[str, Any]:
    """What an import would write now, from the current cells, fixes, filter and factors
    (nothing stored): rows valid, invalid and excluded, and the valid rows' kg CO2e."""
    prepared = import_run_prepared(run)
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
    frame, natives = run_fixed_frame(run, read)
    try:
        result = validate(frame, mapping, native_numbers=natives, convert_currency=False)
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    distinct = distinct_activities(result.data, result.valid, row_regions(result.data, mapping))
    return assign_factors(distinct, overrides=_overrides(run), with_candidates=True)


def commit_options(run: ImportRun) -> dict[str, Any]:
    """The choices of the run's last commit (for its Retry button)."""
    stored = (run.detected or {}).get("commit") or {}
    return {
        "allow_partial": bool(stored.get("allow_partial")),
        "duplicates": stored.get("duplicates") or DUPLICATES_REFUSE,
    }


# --------------------------------------------------------------------------------------------
# the wizard's pages


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    url_name: str


# The wizard's steps, in order (the one place that says it).
STEPS = (
    Step("sheet", "Sheet", "import_sheet"),
    Step("mapping", "Columns", "import_mapping"),
    Step("preview", "Preview", "import_preview"),
    Step("results", "Check", "import_results"),
    Step("factors", "Factors", "import_factors"),
    Step("commit", "Import", "import_commit"),
)


def run_sheets(run: ImportRun) -> list[str]:
    """The workbook's sheets (empty for CSV files)."""
    return [str(s) for s in (run.detected or {}).get("sheets") or []]


def run_headers(run: ImportRun) -> list[str]:
    return [str(h) for h in (run.detected or {}).get("headers") or []]


def has_sheet_step(run: ImportRun) -> bool:
    return len(run_sheets(run)) > 1


def resume_step(run: ImportRun) -> str:
    """The wizard step a run continues at: what the user has not done yet."""
    if run.status == ImportStatus.UPLOADED:
        return "mapping"
    if run.status == ImportStatus.MAPPED:
        return "preview"
    if run.status == ImportStatus.VALIDATED and run.rows_invalid == 0 and run.rows_valid:
        return "commit" if (run.detected or {}).get("factors_confirmed") else "factors"
    if run.is_checked:
        return "results"
    return "commit"


def reachable_steps(run: ImportRun) -> set[str]:
    """Steps a user may open for this run now."""
    if not run.is_editable:
        return {"commit"} if run.is_committing else set()
    if run.status == ImportStatus.PARTIAL:
        # Its sheet and columns are fixed by the records already imported.
        return {"results", "factors", "commit"}
    steps = {"mapping"}
    if has_sheet_step(run):
        steps.add("sheet")
    if run.status != ImportStatus.UPLOADED:
        steps.add("preview")
    if run.is_checked:
        steps |= {"results", "factors", "commit"}
    return steps


def step_url(run: ImportRun, key: str) -> str:
    step = next(s for s in STEPS if s.key == key)
    return reverse(step.url_name, kwargs={"run_id": run.id})


def next_step_url(run: ImportRun, key: str) -> str:
    """The step after ``key`` in the wizard's order, where a step's form goes once it is done."""
    keys = [s.key for s in STEPS]
    return step_url(run, keys[keys.index(key) + 1])


def resume_url(run: ImportRun) -> str:
    """Where the runs list links an unfinished run (its next step) or a finished one (its page)."""
    if run.is_read_pending:
        return reverse("import_reading", kwargs={"run_id": run.id})
    if run.is_finished:
        return reverse("import_detail", kwargs={"run_id": run.id})
    if run.is_committing:
        return reverse("import_progress", kwargs={"run_id": run.id})
    return step_url(run, resume_step(run))


def wizard_steps(run: ImportRun, current: str) -> list[dict[str, Any]]:
    """The stepper shown on each wizard page: label, link if reachable, done/current marks."""
    reachable = reachable_steps(run)
    order = [s for s in STEPS if s.key != "sheet" or has_sheet_step(run)]
    resume = resume_step(run)
    keys = [s.key for s in order]
    resume_at = keys.index(resume) if resume in keys else len(keys)
    out = []
    for i, step in enumerate(order):
        out.append(
            {
                "key": step.key,
                "label": step.label,
                "number": i + 1,
                "url": step_url(run, step.key) if step.key in reachable else None,
                "current": step.key == current,
                "done": i < resume_at and step.key != current,
            }
        )
    return out


def import_run_list() -> QuerySet[ImportRun]:
    """Runs, newest first, with who made them and how many other runs uploaded the same file."""
    same_file = (
        ImportRun.objects.filter(sha256=OuterRef("sha256"))
        .exclude(id=OuterRef("id"))
        .order_by()
        .values("sha256")
        .annotate(n=Count("id"))
        .values("n")
    )
    return ImportRun.objects.select_related("created_by", "committed_by", "template").annotate(
        same_file=Coalesce(Subquery(same_file, output_field=IntegerField()), Value(0)),
        records_kg_co2e=Subquery(_records_total(Sum("kg_co2e")), output_field=FloatField()),
        records_count=Coalesce(
            Subquery(_records_total(Count("id")), output_field=IntegerField()), Value(0)
        ),
    )


def _records_total(aggregate: Any) -> QuerySet[Any]:
    """One figure over each run's records as they are now (edits and deletions included)."""

    return (
        ActivityRecord.objects.filter(import_run=OuterRef("id"))
        .order_by()
        .values("import_run")
        .annotate(total=aggregate)
        .values("total")
    )


def run_records_kg_co2e(run: ImportRun) -> float | None:
    """An import's emissions as its records say now (edited records included); None without
    records. The figure stored at commit is not shown: records change after it."""

    total = ActivityRecord.objects.filter(import_run=run).aggregate(total=Sum("kg_co2e"))["total"]
    return None if total is None else float(total)


def import_run_page(page: str | int | None, per_page: int = 25) -> Page:
    return Paginator(import_run_list(), per_page).get_page(page)


def error_columns(run: ImportRun) -> list[str]:
    """The user's columns that have stored errors, in first-seen order."""
    seen = (
        RowError.objects.filter(run=run)
        .values("column")
        .annotate(first=Count("id"))
        .order_by("column")
    )
    return [str(r["column"]) for r in seen]


def _filtered_errors(run: ImportRun, column: str = "", q: str = "") -> QuerySet[RowError]:
    errors = RowError.objects.filter(run=run)
    if column:
        errors = errors.filter(column=column)
    for word in q.split()[:8]:
        errors = errors.filter(
            Q(message__icontains=word) | Q(value__icontains=word) | Q(suggestion__icontains=word)
        )
    return errors


@dataclass
class ErrorRow:
    """One spreadsheet row of the errors table and its bad cells."""

    row: int
    errors: list[RowError]


def error_rows_page(
    run: ImportRun, *, column: str = "", q: str = "", page: int | str | None = 1, per_page: int = 50
) -> tuple[Page, list[ErrorRow]]:
    """A page of spreadsheet rows with errors (filtered), each with all its stored errors."""
    rows = _filtered_errors(run, column, q).order_by("row").values_list("row", flat=True).distinct()
    paginated = Paginator(rows, per_page).get_page(page)
    numbers = list(paginated.object_list)
    by_row: dict[int, list[RowError]] = {n: [] for n in numbers}
    for error in RowError.objects.filter(run=run, row__in=numbers).order_by("row", "id"):
        by_row[error.row].append(error)
    return paginated, [ErrorRow(n, by_row[n]) for n in numbers]


# "Did you mean liter (L) or litre (L)?" -> ["L"]; a replacement the user can apply to all rows.
_DID_YOU_MEAN = re.compile(r"did you mean (.+?)\?", re.IGNORECASE)
_CANONICAL = re.compile(r"^\s*(.+?)\s*\(([^()]+)\)\s*$")


def suggested_replacements(suggestion: str) -> list[str]:
    """The concrete values an error's suggestion proposes (an alias's canonical form first)."""
    match = _DID_YOU_MEAN.search(suggestion or "")
    if not match:
        return []
    out: list[str] = []
    for part in re.split(r"\s+or\s+|,\s*", match.group(1)):
        text = part.strip().strip("'\"\u201c\u201d\u2018\u2019")
        canonical = _CANONICAL.match(text)
        value = canonical.group(2).strip() if canonical else text
        if value and value not in out:
            out.append(value)
    return out[:3]


def error_groups(run: ImportRun, limit: int = 12) -> list[dict[str, Any]]:
    """The same bad value in the same column, counted (SQL): what "apply to all N rows" acts on.

    Only groups of one value repeated or with a concrete suggestion are listed, largest first.
    """
    grouped = (
        RowError.objects.filter(run=run)
        .exclude(value="")
        .values("column", "field", "value", "message", "suggestion")
        .annotate(count=Count("row", distinct=True))
        .order_by("-count", "column", "value")[: limit * 3]
    )
    out = []
    for g in grouped:
        replacements = suggested_replacements(g["suggestion"])
        if g["count"] < 2 and not replacements:
            continue
        out.append({**g, "replacements": replacements})
    return out[:limit]


def run_error_rows(run: ImportRun) -> int:
    """Spreadsheet rows that still have a stored error."""
    return RowError.objects.filter(run=run).values("row").distinct().count()


def run_has_activity_errors(run: ImportRun) -> bool:
    """Rows held back by their activity (no factor matches it): the factor step's search can
    reach one for them, so the wizard leads there even before any row is valid."""
    return RowError.objects.filter(run=run, field="activity").exists()


def _chosen_factor_summary(
    factor_id: int | None, supplier_factor_id: int | None
) -> dict[str, Any] | None:
    """The chosen factor as the provenance shows it."""
    if supplier_factor_id:
        supplier = SupplierFactor.objects.filter(id=supplier_factor_id).first()
        if supplier is None:
            return None
        return {
            "id": supplier.id,
            "source": "supplier",
            "name": supplier.name,
            "dataset": None,
            "version": None,
            "scope": str(supplier.scope),
            "category": None,
            "region": supplier.region,
            "unit": supplier.unit,
        }
    if not factor_id:
        return None
    f = EmissionFactor.objects.select_related("dataset").filter(id=factor_id).first()
    if f is None:
        return None
    return {
        "id": f.id,
        "source": "library",
        "name": f.name,
        "dataset": f.dataset.key,
        "version": f.dataset.version,
        "scope": f.scope,
        "category": f.scope3_category,
        "region": f.region,
        "unit": f.unit,
    }


def choice_summaries(choices: list[Any]) -> list[dict[str, Any]]:
    """Each distinct activity, the factor it was computed with, why, and the other candidates."""
    out = []
    for choice in choices:
        chosen_source = "supplier" if choice.supplier_factor_id else "library"
        chosen_id = choice.supplier_factor_id or choice.factor_id
        why: list[str] = []
        alternatives = []
        for candidate in choice.candidates:
            f = candidate.factor
            if f.source == chosen_source and f.factor_id == chosen_id and not why:
                why = list(candidate.reasons)
            else:
                alternatives.append(
                    {
                        "id": f.factor_id,
                        "source": f.source,
                        "name": f.name,
                        "dataset": f.dataset_key or None,
                        "region": f.region,
                        "unit": f.unit,
                        "reasons": list(candidate.reasons),
                    }
                )
        if choice.remembered and not why:
            why = ["the tenant's remembered choice for this activity"]
        out.append(
            {
                "activity": choice.activity,
                "unit_dimension": choice.unit_dimension,
                "rows": choice.rows,
                "factor": _chosen_factor_summary(choice.factor_id, choice.supplier_factor_id),
                "why": why,
                "alternatives": alternatives[:3],
            }
        )
    return out
