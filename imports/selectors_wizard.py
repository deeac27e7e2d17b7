"""Reads for the import wizard's pages: the runs list, where a run resumes, and its row errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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

from imports.models import ImportRun, ImportStatus, RowError

# Statuses in which the wizard still changes the run; later ones are read-only.
EDITABLE = frozenset(
    {
        ImportStatus.UPLOADED,
        ImportStatus.MAPPED,
        ImportStatus.VALIDATED,
        ImportStatus.FAILED,
        ImportStatus.PARTIAL,
    }
)
# Statuses with checked rows: the check, factor and import steps are open.
CHECKED = frozenset({ImportStatus.VALIDATED, ImportStatus.FAILED, ImportStatus.PARTIAL})
FINISHED = frozenset({ImportStatus.COMMITTED, ImportStatus.UNDONE})
# Statuses before the wizard opens: the file is being read, or its reading failed.
READ_PENDING = frozenset({ImportStatus.READING, ImportStatus.UNREADABLE})


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    url_name: str


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
    if run.status in CHECKED:
        return "results"
    return "commit"


def reachable_steps(run: ImportRun) -> set[str]:
    """Steps a user may open for this run now."""
    if run.status not in EDITABLE:
        return {"commit"} if run.status == ImportStatus.COMMITTING else set()
    if run.status == ImportStatus.PARTIAL:
        # Its sheet and columns are fixed by the records already imported.
        return {"results", "factors", "commit"}
    steps = {"mapping"}
    if has_sheet_step(run):
        steps.add("sheet")
    if run.status != ImportStatus.UPLOADED:
        steps.add("preview")
    if run.status in CHECKED:
        steps |= {"results", "factors", "commit"}
    return steps


def step_url(run: ImportRun, key: str) -> str:
    step = next(s for s in STEPS if s.key == key)
    return reverse(step.url_name, kwargs={"run_id": run.id})


def resume_url(run: ImportRun) -> str:
    """Where the runs list links an unfinished run (its next step) or a finished one (its page)."""
    if run.status in READ_PENDING:
        return reverse("import_reading", kwargs={"run_id": run.id})
    if run.status in FINISHED:
        return reverse("import_detail", kwargs={"run_id": run.id})
    if run.status == ImportStatus.COMMITTING:
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
    from emissions.models import ActivityRecord

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
    from emissions.models import ActivityRecord

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


def run_error_count(run: ImportRun) -> int:
    return RowError.objects.filter(run=run).count()


def run_error_rows(run: ImportRun) -> int:
    """Spreadsheet rows that still have a stored error."""
    return RowError.objects.filter(run=run).values("row").distinct().count()


def run_has_activity_errors(run: ImportRun) -> bool:
    """Rows held back by their activity (no factor matches it): the factor step's search can
    reach one for them, so the wizard leads there even before any row is valid."""
    return RowError.objects.filter(run=run, field="activity").exists()
