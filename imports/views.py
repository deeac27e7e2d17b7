"""The import wizard: upload -> sheet -> columns -> preview -> check and fix -> factors -> import.

The wizard's state lives on the ImportRun, so a user can leave at any step and resume from the
imports list. Every view loads its run through `_get_import_run_for_user` (404 otherwise); editors
and owners write, viewers read. HTMX requests get a named partial of the page's template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import login_required_tenant, role_required
from accounts.models import Role
from emissions.factor_keys import factor_key, parse_factor_key
from emissions.models import SupplierFactor
from factors.models import EmissionFactor
from factors.picker import picker_context
from factortrace.htmx import HtmxHttpRequest, is_htmx
from factortrace.numbers import whole_number
from imports.errors import ImportInputError
from imports.forms import (
    ApplyToAllForm,
    CommitForm,
    ErrorFilterForm,
    FixCellForm,
    MappingForm,
    SheetForm,
    UploadForm,
)
from imports.jobs import import_runs_sweep, import_runs_sweep_reading
from imports.models import ImportRun, ImportStatus
from imports.pipeline import Mapping, filter_candidates
from imports.selectors import (
    activity_suggestions,
    commit_options,
    duplicate_runs,
    error_columns,
    error_groups,
    error_rows_page,
    has_sheet_step,
    import_run_current_totals,
    import_run_export_invalid,
    import_run_page,
    import_run_preview,
    import_run_read,
    import_run_suggestion,
    import_run_value_counts,
    next_step_url,
    resume_url,
    run_error_rows,
    run_has_activity_errors,
    run_headers,
    run_mapping,
    run_records_kg_co2e,
    run_sheets,
    wizard_steps,
)
from imports.services import (
    factor_choice_set,
    import_run_apply_to_all,
    import_run_confirm_factors,
    import_run_fix_cell_and_recount,
    import_run_set_encoding,
    import_run_set_mapping,
    import_run_set_sheet,
    import_run_start_commit,
    import_run_undo,
    import_run_upload,
    import_run_validate,
)
from imports.uploads import limit_message, limit_uploads
from imports.writer import DUPLICATES_REFUSE

# A multipart body carries the file plus its part headers and the CSRF field: allow that much
# above the file limit before refusing from Content-Length alone.
MULTIPART_SLACK = 64 * 1024
TOTALS_CHANGED = "importTotalsChanged"
EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# Files up to this many rows are re-checked in the request before the job is queued.
INLINE_RECHECK_ROWS = 50_000


def _get_import_run_for_user(request: HttpRequest, run_id: int) -> ImportRun:
    """An import run of this tenant (its own schema), for any signed-in user of it; 404 otherwise."""
    try:
        return ImportRun.objects.select_related("created_by", "committed_by", "template").get(
            id=run_id
        )
    except ImportRun.DoesNotExist as exc:
        raise Http404("No such import in your organisation.") from exc


def _can_edit(request: HttpRequest) -> bool:
    return bool(request.user.can_edit)  # type: ignore[union-attr]


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.3g}"


def _wizard(run: ImportRun, step: str, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "run": run,
        "steps": wizard_steps(run, step),
        "can_edit": _can_edit(request),
        "editable": run.is_editable,
        **extra,
    }


def _locked(request: HttpRequest, run: ImportRun, *, columns: bool = False) -> HttpResponse | None:
    """Runs being or already imported are read-only: send the user to the run's page. A partly
    imported run keeps its sheet and columns (`columns`: a step that would change them)."""
    if columns and run.status == ImportStatus.PARTIAL:
        messages.info(
            request,
            "Part of this file is imported: its sheet and columns stay as they were. "
            "Fix the remaining rows here.",
        )
        return redirect("import_results", run_id=run.id)
    if run.is_editable:
        return None
    messages.info(
        request, f"This import is {run.get_status_display().lower()}; its steps are closed."
    )
    return redirect(resume_url(run))


# --------------------------------------------------------------------------------------------
# list and upload


@login_required_tenant
def import_list(request: HttpRequest) -> HttpResponse:
    page = import_run_page(request.GET.get("page"))
    return render(
        request,
        "imports/import_list.html",
        {
            "page": page,
            "rows": [{"run": run, "resume": resume_url(run)} for run in page.object_list],
            "can_edit": _can_edit(request),
            "upload": _upload_context(UploadForm()),
        },
    )


def _upload_context(form: UploadForm, error: str = "") -> dict[str, Any]:
    return {
        "form": form,
        "error": error,
        "max_bytes": settings.IMPORT_MAX_BYTES,
        "max_mb": _megabytes(settings.IMPORT_MAX_BYTES),
    }


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _upload_response(
    request: HttpRequest, form: UploadForm, error: str, status: int
) -> HttpResponse:
    template = "imports/import_upload.html"
    if is_htmx(request):
        template += "#uploader"
    return render(request, template, {"upload": _upload_context(form, error)}, status=status)


@csrf_exempt
@role_required(Role.EDITOR)
def import_upload(request: HttpRequest) -> HttpResponseBase:
    """Refuse an oversized upload from its Content-Length before the body is read; then stream
    the file through a size guard. CSRF is checked after that, in `_import_upload`."""
    if request.method == "POST":
        length = _content_length(request)
        if length is None or length > settings.IMPORT_MAX_BYTES + MULTIPART_SLACK:
            return _upload_response(request, UploadForm(), limit_message(), status=413)
        limit_uploads(request)
    return _import_upload(request)


@csrf_protect
def _import_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(
            request, "imports/import_upload.html", {"upload": _upload_context(UploadForm())}
        )
    form = UploadForm(request.POST, request.FILES)
    if getattr(request, "upload_too_large", False):
        return _upload_response(request, UploadForm(), limit_message(), status=413)
    if not form.is_valid():
        return _upload_response(request, form, "", status=422)
    try:
        run = import_run_upload(upload=form.cleaned_data["file"], user=request.user)  # type: ignore[arg-type]
    except ImportInputError as exc:
        return _upload_response(request, UploadForm(), exc.message, status=422)
    earlier = duplicate_runs(run).first()
    if earlier is not None:
        messages.warning(
            request,
            f"You uploaded this same file before: “{earlier.original_name}” on "
            f"{earlier.created_at:%d %b %Y %H:%M} ({earlier.get_status_display().lower()}). "
            "Importing it again would count its activities twice.",
        )
    target = reverse("import_reading", kwargs={"run_id": run.id})
    if is_htmx(request):
        return HttpResponseClientRedirect(target)
    return redirect(target)


SAMPLE_NAME = "sample_supplier_consumption.csv"


@role_required(Role.EDITOR, writes_only=True)
def import_sample(request: HttpRequest) -> HttpResponse:
    """The "try it with a sample file" link: GET downloads three months of a demo supplier's export;
    POST (editors) starts an import with it, as an upload of that file would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tenants.demo import sample_file

    if request.method == "POST":
        upload = SimpleUploadedFile(SAMPLE_NAME, sample_file(), content_type="text/csv")
        run = import_run_upload(upload=upload, user=request.user)  # type: ignore[arg-type]
        target = reverse("import_reading", kwargs={"run_id": run.id})
        if is_htmx(request):
            return HttpResponseClientRedirect(target)
        return redirect(target)
    response = HttpResponse(sample_file(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, SAMPLE_NAME) or "attachment"
    return response


@login_required_tenant
@require_GET
def import_reading(request: HttpRequest, run_id: int) -> HttpResponse:
    """The "reading your file" page: polled every second while the parse job runs; then on to the sheet or
    the columns, or the reason the file could not be read."""
    run = _get_import_run_for_user(request, run_id)
    if run.status == ImportStatus.READING and import_runs_sweep_reading():
        run = _get_import_run_for_user(request, run_id)
    if not run.is_read_pending:
        target = (
            reverse("import_sheet", kwargs={"run_id": run.id})
            if has_sheet_step(run) and run.status in {ImportStatus.UPLOADED, ImportStatus.MAPPED}
            else resume_url(run)
        )
        if run.template is not None and run.status == ImportStatus.MAPPED:
            messages.info(
                request, f"Your template “{run.template.name}” fits this file: it is applied."
            )
        if is_htmx(request):
            return HttpResponseClientRedirect(target)
        return redirect(target)
    template = "imports/import_reading.html"
    if is_htmx(request):
        template += "#reading"
    context = {
        "run": run,
        "reading": run.status == ImportStatus.READING,
        "can_edit": _can_edit(request),
    }
    return render(request, template, context)


# --------------------------------------------------------------------------------------------
# run page, sheet, mapping, preview


@login_required_tenant
def import_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    duplicates = list(duplicate_runs(run)[:5])
    return render(
        request,
        "imports/import_detail.html",
        {
            "run": run,
            "resume": resume_url(run),
            "duplicates": duplicates,
            "can_edit": _can_edit(request),
            "editable": run.is_editable,
            "skipped": (run.detected or {}).get("skipped") or [],
            "records_kg_co2e": run_records_kg_co2e(run),
        },
    )


@role_required(Role.EDITOR)
def import_sheet(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run, columns=True)) is not None:
        return locked
    sheets = run_sheets(run)
    form = SheetForm(request.POST or None, sheets=sheets, initial={"sheet": run.sheet})
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            import_run_set_sheet(run=run, sheet=form.cleaned_data["sheet"])
        except ImportInputError as exc:
            error = exc.message
        else:
            return redirect(next_step_url(run, "sheet"))
    status = 422 if request.method == "POST" else 200
    context = _wizard(run, "sheet", request, form=form, error=error, sheets=sheets)
    return render(request, "imports/import_sheet.html", context, status=status)


def _suggestions(run: ImportRun) -> dict[str, dict[str, Any]]:
    stored = ((run.detected or {}).get("suggestions") or {}).get("suggestions")
    if stored is None:
        stored = import_run_suggestion(run).to_dict()["suggestions"]
    return {s["field"]: s for s in stored}


def _samples(run: ImportRun, headers: list[str]) -> dict[str, list[str]]:
    """The first few values of each column, to help choose (empty when the file cannot be read):
    stored when the file was read; runs from before that read the file again."""
    stored = (run.detected or {}).get("samples")
    if stored is not None:
        return {
            h: [v if len(v) <= 24 else f"{v[:23]}…" for v in stored.get(h, [])] for h in headers
        }
    try:
        frame = import_run_read(run).frame
    except ImportInputError:
        return {}
    # The first rows hold the samples of nearly every column: one array, a short loop per column.
    head = frame.head(50)
    cells = head.to_numpy(dtype=object)
    position = {str(c): j for j, c in enumerate(head.columns)}
    out: dict[str, list[str]] = {}
    for header in headers:
        j = position.get(header)
        if j is not None:
            values = [str(v) for v in cells[:, j] if isinstance(v, str)][:3]
            out[header] = [v if len(v) <= 24 else f"{v[:23]}…" for v in values]
    return out


def _unmapped_items(headers: list[str], samples: dict[str, list[str]]) -> SafeString:
    """The unused columns with their first values, as list items (one pass over the columns)."""
    return format_html_join(
        "",
        "<li><strong>{}</strong>: {}</li>",
        (
            (
                h,
                format_html_join("", "<code>{}</code>", ((v,) for v in samples.get(h, [])))
                or "empty",
            )
            for h in headers
        ),
    )


def _column_options(choices: Any) -> str:
    """The <option>s of a column select, rendered once for every field (linear in columns)."""
    return "".join(
        format_html('<option value="{}">{}</option>', value, text) for value, text in choices
    )


def _with_selected(options: str, value: Any) -> SafeString:
    marker = format_html('<option value="{}">', value or "")
    selected = format_html('<option value="{}" selected>', value or "")
    return mark_safe(options.replace(marker, selected, 1))  # noqa: S308 - escaped above


def _filter_choices(run: ImportRun) -> list[tuple[str, list[tuple[str, int]]]]:
    """Columns with few values, offered as the row filter (empty when the file cannot be read)."""
    try:
        return filter_candidates(import_run_read(run).frame)
    except ImportInputError:
        return []


@role_required(Role.EDITOR)
def import_mapping(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run, columns=True)) is not None:
        return locked
    if request.method == "POST" and "encoding" in request.POST:
        try:
            import_run_set_encoding(run=run, encoding=request.POST["encoding"])
        except ImportInputError as exc:
            messages.error(request, exc.message)
        return redirect("import_mapping", run_id=run.id)
    headers = run_headers(run)
    suggestions = _suggestions(run)
    current = run_mapping(run) or Mapping()
    initial = MappingForm.initial_from(current, run.template.name if run.template else "")
    form = MappingForm(
        request.POST or None,
        headers=headers,
        initial=initial,
        filter_choices=_filter_choices(run),
        row_filter=current.row_filter,
    )
    if request.method == "POST" and form.is_valid():
        try:
            import_run_set_mapping(
                run=run,
                mapping=form.cleaned_data["mapping"],
                template_name=form.cleaned_data["template_name"],
                user=request.user,  # type: ignore[arg-type]
            )
        except ImportInputError as exc:
            form.add_error(None, exc.message)
        else:
            if form.cleaned_data["template_name"]:
                messages.success(
                    request, f"Saved the template “{form.cleaned_data['template_name']}”."
                )
            return redirect(next_step_url(run, "mapping"))
    samples = _samples(run, headers)
    used = set(current.columns.values())
    unused = [h for h in headers if h not in used]
    rows = []
    options = ""
    for row in form.field_rows():
        suggestion = suggestions.get(row["field"])
        column = row["column"]
        options = options or _column_options(column.field.choices)
        rows.append(
            {
                **row,
                "suggestion": suggestion,
                "options": _with_selected(options, column.value()),
                "samples": samples.get(column.value() or "", []),
            }
        )
    context = _wizard(
        run,
        "mapping",
        request,
        form=form,
        rows=rows,
        headers=headers,
        samples=samples,
        unmapped=_unmapped_items(unused, samples),
        unmapped_count=len(unused),
    )
    status = 422 if request.method == "POST" else 200
    return render(request, "imports/import_mapping.html", context, status=status)


@role_required(Role.EDITOR, writes_only=True)
@require_GET
def import_preview(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run, columns=True)) is not None:
        return locked
    if run.status == ImportStatus.UPLOADED:
        return redirect("import_mapping", run_id=run.id)
    try:
        shown = import_run_preview(run, n=10)
        error = ""
    except ImportInputError as exc:
        shown, error = {"fields": [], "rows": []}, exc.message
    excluded = int(shown.get("rows_excluded") or 0)
    rows_to_check = int((run.detected or {}).get("rows") or 0) - excluded
    context = _wizard(
        run, "preview", request, preview=shown, error=error, rows_to_check=rows_to_check
    )
    return render(request, "imports/import_preview.html", context)


@role_required(Role.EDITOR)
@require_POST
def import_validate(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    try:
        import_run_validate(run=run)
    except ImportInputError as exc:
        messages.error(request, exc.message)
        return redirect("import_mapping", run_id=run.id)
    return redirect(next_step_url(run, "preview"))


# --------------------------------------------------------------------------------------------
# check and fix


def _results_context(request: HttpRequest, run: ImportRun) -> dict[str, Any]:
    columns = error_columns(run)
    filters = ErrorFilterForm(request.GET or None, columns=columns)
    column = q = ""
    page_number: int | None = 1
    if filters.is_valid():
        column = filters.cleaned_data["column"] or ""
        q = filters.cleaned_data["q"] or ""
        page_number = filters.cleaned_data["page"] or 1
    page, rows = error_rows_page(run, column=column, q=q, page=page_number)
    query = request.GET.copy()
    query.pop("page", None)
    detected = run.detected or {}
    groups = error_groups(run)
    try:
        counts = import_run_value_counts(run, [(g["column"], g["value"]) for g in groups])
    except ImportInputError:
        counts = [g["count"] for g in groups]
    for group, cells in zip(groups, counts, strict=True):
        group["cells"] = cells  # what "apply to all" replaces, beyond the stored errors too
    return _wizard(
        run,
        "results",
        request,
        filters=filters,
        page=page,
        error_rows=rows,
        groups=[g for g in groups if g["cells"]],
        rows_excluded=int(detected.get("rows_excluded") or 0),
        query_string=query.urlencode(),
        filtered=bool(column or q),
        rows_with_errors=run_error_rows(run),
        errors_total=detected.get("errors_total"),
        errors_stored=detected.get("errors_stored"),
        notes=detected.get("notes") or [],
        assumptions=detected.get("assumptions") or [],
        skipped=detected.get("skipped") or [],
        fixed_cells=len((run.fixes or {}).get("cells", [])),
        activity_errors=run_has_activity_errors(run),
        sites_formset=_sites_formset(request, run),
    )


def _sites_formset(request: HttpRequest, run: ImportRun) -> Any:
    """The owner's form for the file's unknown site names (imports/views_sites.py)."""
    from imports.views_sites import unknown_site_names, unknown_sites_formset

    if not request.user.is_owner or not unknown_site_names(run):  # type: ignore[union-attr]
        return None
    return unknown_sites_formset(run)


@role_required(Role.EDITOR, writes_only=True)
@require_GET
def import_results(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    if not run.is_checked:
        return redirect(resume_url(run))
    template = "imports/import_results.html"
    if is_htmx(request):
        target = request.htmx.target
        template += f"#{target}" if target in {"totals", "actions"} else "#errors"
    return render(request, template, _results_context(request, run))


@role_required(Role.EDITOR)
@require_POST
def import_fix(request: HttpRequest, run_id: int) -> HttpResponse:
    """Fix one cell in place: the row's re-check replaces the row in the errors table."""
    run = _get_import_run_for_user(request, run_id)
    if not run.is_editable:
        return HttpResponse("This import can no longer be changed.", status=409)
    form = FixCellForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Send a row, a column and a value.", status=400)
    row, column, value = (form.cleaned_data[k] for k in ("row", "column", "value"))
    error = ""
    check = None
    try:
        check = import_run_fix_cell_and_recount(run=run, row=row, column=column, value=value)
    except ImportInputError as exc:
        error = exc.message
    context = _wizard(
        run,
        "results",
        request,
        item={"row": row, "errors": run.row_errors.filter(row=row).order_by("id")},
        check=check,
        fix_error=error,
        fixed_column=column,
        fixed_value=value,
    )
    response = render(
        request, "imports/import_results.html#row", context, status=422 if error else 200
    )
    if not error:
        response["HX-Trigger"] = TOTALS_CHANGED
    return response


@role_required(Role.EDITOR)
@require_POST
def import_apply_all(request: HttpRequest, run_id: int) -> HttpResponse:
    """ "Apply this fix to all N rows", then check the whole file again."""
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    form = ApplyToAllForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("import_results", run_id=run.id)
    column, value, replacement = (form.cleaned_data[k] for k in ("column", "value", "replacement"))
    try:
        changed = import_run_apply_to_all(
            run=run, column=column, value=value, replacement=replacement
        )
        if changed:
            import_run_validate(run=run)
    except ImportInputError as exc:
        messages.error(request, exc.message)
        return redirect("import_results", run_id=run.id)
    run.refresh_from_db()
    if changed:
        messages.success(
            request,
            f"Replaced “{value}” with “{replacement}” in {changed} row{'s' if changed != 1 else ''} "
            f"of “{column}”. {run.rows_invalid} row{'s' if run.rows_invalid != 1 else ''} "
            "still need a fix.",
        )
    else:
        messages.info(request, f"No cell of “{column}” holds “{value}” any more.")
    return redirect("import_results", run_id=run.id)


@login_required_tenant
@require_GET
def import_export(request: HttpRequest, run_id: int, fmt: str) -> HttpResponse:
    """The invalid rows with an error column, as CSV or XLSX (cells escaped against formulas)."""
    run = _get_import_run_for_user(request, run_id)
    if fmt not in EXPORT_FORMATS:
        raise Http404("Invalid rows download as CSV or XLSX.")
    if not run.is_checked:
        messages.info(request, "Check the rows first; then the invalid ones can be downloaded.")
        return redirect(resume_url(run))
    try:
        data = import_run_export_invalid(run=run, fmt=fmt)
    except ImportInputError as exc:
        messages.error(request, exc.message)
        return redirect("import_results", run_id=run.id)
    stem = " ".join(Path(run.original_name).stem.split())[:80] or "import"
    response = HttpResponse(data, content_type=EXPORT_FORMATS[fmt])
    response["Content-Disposition"] = (
        content_disposition_header(True, f"{stem} - invalid rows.{fmt}") or ""
    )
    return response


# --------------------------------------------------------------------------------------------
# factors


def _factor_lines(run: ImportRun) -> list[dict[str, Any]]:
    """One line per distinct activity: the chosen factor and the ranked alternatives."""
    suggestions = activity_suggestions(run)
    chosen_lib = {s.factor_id for s in suggestions if s.factor_id and not s.supplier_factor_id}
    chosen_sup = {s.supplier_factor_id for s in suggestions if s.supplier_factor_id}
    library = EmissionFactor.objects.filter(id__in=chosen_lib).select_related("dataset")
    lib_names = {f.id: f for f in library}
    sup_names = {f.id: f for f in SupplierFactor.objects.filter(id__in=chosen_sup)}
    lines = []
    for i, s in enumerate(suggestions):
        selected = factor_key(
            factor_id=None if s.supplier_factor_id else s.factor_id,
            supplier_factor_id=s.supplier_factor_id,
        )
        options = []
        for c in s.candidates:
            f = c.factor
            value = factor_key(
                factor_id=f.factor_id if f.source != "supplier" else None,
                supplier_factor_id=f.factor_id if f.source == "supplier" else None,
            )
            options.append(
                {
                    "value": value,
                    "name": f.name,
                    "source": f.source,
                    "dataset": f"{f.dataset_key} v{f.dataset_version}" if f.dataset_key else "",
                    "region": f.region,
                    "unit": f.unit,
                    "kg_co2e": f.kg_co2e,
                    "scope": _scope_label(f.scope),
                    "score": round(c.score),
                    "reasons": list(c.reasons),
                    "flags": list(f.flags),
                    "selected": value == selected,
                }
            )
        if selected and not any(o["selected"] for o in options):
            options.insert(0, _chosen_option(selected, lib_names, sup_names))
        lines.append(
            {
                "index": i,
                "activity": s.activity,
                "dimension": s.unit_dimension,
                "region": s.region,
                "year": s.year or 0,
                "vintage_note": s.vintage_note,
                "rows": s.rows,
                "remembered": s.remembered,
                "selected": selected,
                "options": options,
                "chosen": next((o for o in options if o["selected"]), None),
                # No factor of the quantity's unit: the nearest ones need another unit.
                "nearest": [{"name": c.factor.name, "unit": c.factor.unit} for c in s.nearest],
            }
        )
    return lines


def _scope_label(scope: object) -> str:
    text = str(scope or "")
    if text.isdigit():
        return f"Scope {text}"
    return "Outside of scopes" if text == "outside" else text


def _chosen_option(
    value: str, library: dict[int, EmissionFactor], yours: dict[int, SupplierFactor]
) -> dict[str, Any]:
    factor_id, supplier_factor_id = parse_factor_key(value)
    if supplier_factor_id is not None and supplier_factor_id in yours:
        s = yours[supplier_factor_id]
        return {
            "value": value, "name": s.name, "source": "supplier", "dataset": "", "region": s.region,
            "unit": s.unit, "kg_co2e": s.kg_co2e, "scope": _scope_label(s.scope), "score": None, "flags": [],
            "reasons": ["your earlier choice"], "selected": True,
        }  # fmt: skip
    f = library.get(factor_id or 0)
    if f is None:
        return {
            "value": value, "name": "A factor no longer in the library", "source": "library",
            "dataset": "", "region": "", "unit": "", "kg_co2e": None, "scope": "", "score": None, "flags": [],
            "reasons": [], "selected": True,
        }  # fmt: skip
    return {
        "value": value, "name": f.name, "source": "library",
        "dataset": f"{f.dataset.key} v{f.dataset.version}", "region": f.region, "unit": f.unit,
        "kg_co2e": f.kg_co2e, "scope": _scope_label(f.scope), "score": None, "flags": list(f.flags),
        "reasons": ["your earlier choice"], "selected": True,
    }  # fmt: skip


def _save_choice(
    request: HttpRequest,
    run: ImportRun,
    activity: str,
    dimension: str,
    value: str,
    index: int | str,
) -> str:
    """Store one activity's factor; returns an error message ('' when saved)."""
    try:
        factor_id, supplier_factor_id = parse_factor_key(value)
    except ValueError:
        return "Choose one of the listed factors."
    try:
        factor_choice_set(
            run=run,
            activity=activity,
            unit_dimension=dimension,
            factor_id=factor_id,
            supplier_factor_id=supplier_factor_id,
            user=request.user,  # type: ignore[arg-type]
            region=request.POST.get(f"region_{index}") or None,
            year=_year_field(request.POST.get(f"year_{index}", "")),
        )
    except ImportInputError as exc:
        return exc.message
    return ""


def _year_field(value: str) -> int | None:
    return whole_number(value)


@role_required(Role.EDITOR, writes_only=True)
def import_factors(request: HttpRequest, run_id: int) -> HttpResponse:
    """Confirm one factor per distinct activity (all lines at once on POST)."""
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    if not run.is_checked:
        return redirect(resume_url(run))
    errors: list[str] = []
    if request.method == "POST":
        count = whole_number(request.POST.get("lines")) or 0
        for i in range(min(count, 2000)):
            value = request.POST.get(f"choice_{i}", "")
            if not value:
                continue
            error = _save_choice(
                request,
                run,
                request.POST.get(f"activity_{i}", ""),
                request.POST.get(f"dimension_{i}", ""),
                value,
                i,
            )
            if error:
                errors.append(f"{request.POST.get(f'activity_{i}', '')}: {error}")
        if not errors:
            import_run_confirm_factors(run=run)
            return redirect(next_step_url(run, "factors"))
    try:
        lines = _factor_lines(run)
        error = ""
    except ImportInputError as exc:
        lines, error = [], exc.message
    context = _wizard(run, "factors", request, lines=lines, errors=errors, error=error)
    return render(request, "imports/import_factors.html", context, status=422 if errors else 200)


@role_required(Role.EDITOR)
@require_POST
def import_factor_choose(request: HttpRequest, run_id: int) -> HttpResponse:
    """Save one line's factor as soon as it is picked (HTMX); the line re-renders itself."""
    run = _get_import_run_for_user(request, run_id)
    if not run.is_editable:
        return HttpResponse("This import can no longer be changed.", status=409)
    index = request.POST.get("index", "")
    if whole_number(index) is None:
        return HttpResponse("Say which line changed.", status=400)
    activity = request.POST.get(f"activity_{index}", "")
    dimension = request.POST.get(f"dimension_{index}", "")
    region = request.POST.get(f"region_{index}", "")
    year = _year_field(request.POST.get(f"year_{index}", "")) or 0
    error = _save_choice(
        request, run, activity, dimension, request.POST.get(f"choice_{index}", ""), index
    )
    try:
        lines = _factor_lines(run)
    except ImportInputError as exc:
        return HttpResponse(exc.message, status=422)
    line = next(
        (
            ln
            for ln in lines
            if ln["activity"] == activity
            and ln["dimension"] == dimension
            and (not region or (ln["region"], ln["year"]) == (region, year))
        ),
        None,
    )
    if line is None:
        raise Http404("No such activity in this import.")
    line["index"] = whole_number(index)
    context = _wizard(run, "factors", request, line=line, line_error=error, saved=not error)
    return render(
        request, "imports/import_factors.html#line", context, status=422 if error else 200
    )


@role_required(Role.EDITOR, writes_only=True)
def import_factor_search(request: HttpRequest, run_id: int) -> HttpResponse:
    """Search the whole library for one distinct activity's factor; the chosen one is saved as
    the line's choice (as the select does) and the factor step shows it."""
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    if run.status not in {ImportStatus.VALIDATED, ImportStatus.FAILED}:
        return redirect(resume_url(run))
    params = request.POST if request.method == "POST" else request.GET
    activity = params.get("activity", "").strip()
    dimension = params.get("dimension", "").strip()
    if not activity or not dimension:
        return HttpResponse("Say which activity of the file the factor is for.", status=400)
    error = ""
    if request.method == "POST":
        value = request.POST.get("factor", "")
        error = (
            _save_choice(request, run, activity, dimension, value, "")
            if value
            else "Choose a factor in the list."
        )
        if not error:
            messages.success(request, f"Factor chosen for “{activity}”.")
            return redirect("import_factors", run_id=run.id)
    picker = picker_context(params, dimension=dimension)
    context = _wizard(
        run,
        "factors",
        request,
        activity=activity,
        dimension=dimension,
        region=params.get("region", params.get("region_", "")),
        year=params.get("year", params.get("year_", "")),
        picker=picker,
        error=error,
    )
    return render(
        request, "imports/import_factor_search.html", context, status=422 if error else 200
    )


# --------------------------------------------------------------------------------------------
# commit, progress, undo


def _rows_to_import(run: ImportRun) -> int:
    """Rows the import step would write: a partly imported run's valid rows not in yet (cells
    fixed since its last check included)."""
    if run.status == ImportStatus.PARTIAL:
        return max(run.rows_valid - run.records_created, 0)
    return run.rows_valid


@role_required(Role.EDITOR)
def import_commit(request: HttpRequest, run_id: int) -> HttpResponse:
    """Check every row once more (fixes and factors included), then claim the commit and queue
    the job. Rows already in the inventory are counted and the user chooses: skip or import.

    A large file is not re-checked here: the job checks it again anyway, behind the progress bar,
    and stops with nothing written if rows have errors the user did not choose to skip.
    """
    run = _get_import_run_for_user(request, run_id)
    if run.is_committing:
        return redirect("import_progress", run_id=run.id)
    if (locked := _locked(request, run)) is not None:
        return locked
    if not run.is_checked:
        return redirect(resume_url(run))
    error = ""
    form = CommitForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            # A failed or partly imported run is always checked again: what it would import
            # depends on every row's state now.
            if (
                run.status in {ImportStatus.FAILED, ImportStatus.PARTIAL}
                or run.rows_total <= INLINE_RECHECK_ROWS
            ):
                import_run_validate(run=run)
                run.refresh_from_db()
            if run.rows_valid == 0:
                raise ImportInputError("No row is valid yet: there is nothing to import.")
            if not (run.detected or {}).get("rows_to_import", run.rows_valid):
                raise ImportInputError(
                    "Every valid row is already imported: fix the rows with errors first."
                )
            started = import_run_start_commit(
                run=run,
                user=request.user,  # type: ignore[arg-type]
                allow_partial=form.cleaned_data["allow_partial"],
                duplicates=form.cleaned_data["duplicates"] or DUPLICATES_REFUSE,
            )
        except ImportInputError as exc:
            if exc.code == "locked":
                # Another request claimed this commit meanwhile.
                messages.info(request, "This import was already started.")
                return redirect("import_progress", run_id=run.id)
            error = exc.message
            run.refresh_from_db()
        else:
            if not started:
                messages.info(request, "This import was already started.")
            return redirect("import_progress", run_id=run.id)
    elif request.method == "POST":
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    current = None
    if run.rows_total <= INLINE_RECHECK_ROWS:
        try:
            current = import_run_current_totals(run)
        except ImportInputError as exc:
            error = error or exc.message
    context = _wizard(
        run,
        "commit",
        request,
        error=error,
        form=form,
        rows_to_import=_rows_to_import(run),
        current=current,
    )
    return render(request, "imports/import_commit.html", context, status=422 if error else 200)


@login_required_tenant
@require_GET
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The import job's progress; the bar polls this view every second while it runs. Each poll
    sweeps the commits whose job died, so a failed run shows its error and a Retry button."""
    import_runs_sweep()
    run = _get_import_run_for_user(request, run_id)
    template = "imports/import_progress.html"
    if is_htmx(request):
        template += "#bar"
    context = {
        "run": run,
        "running": run.is_committing,
        "failed": run.has_failed,
        "retry": commit_options(run),
        "activities_url": f"{reverse('activities')}?run={run.id}",
        "can_edit": _can_edit(request),
        "records_kg_co2e": run_records_kg_co2e(run) if run.has_records else None,
    }
    return render(request, template, context)


@role_required(Role.EDITOR)
def import_undo(request: HttpRequest, run_id: int) -> HttpResponse:
    """Remove a committed import's records, after the user confirmed on this page."""
    run = _get_import_run_for_user(request, run_id)
    if not run.has_records:
        messages.info(request, "Only an imported file can be undone.")
        return redirect("import_detail", run_id=run.id)
    if request.method == "POST":
        try:
            removed = import_run_undo(run=run, user=request.user)  # type: ignore[arg-type]
        except ImportInputError as exc:
            messages.error(request, exc.message)
            return redirect("import_detail", run_id=run.id)
        messages.success(
            request,
            f"Undone: removed {removed:,} activity record{'s' if removed != 1 else ''} of "
            f"“{run.original_name}”.",
        )
        return redirect("imports")
    records = run.records.count()
    context = {"run": run, "records": records, "records_kg_co2e": run_records_kg_co2e(run)}
    return render(request, "imports/import_undo.html", context)
