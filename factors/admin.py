"""Operator admin for the factor library: datasets with their ingestion reports, factors (read-only),
and ingestion of the shipped datasets as background jobs with their progress.

The library is written only by ingestion (the CLI or the jobs started here): nothing is added,
changed or deleted by hand, so reports can always point at the exact version they used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from factors.models import EmissionFactor, FactorDataset
from factors.services import available_mappings, ingest_dataset_job, last_ingestion_result
from factortrace.jobs import enqueue_public

INGEST_QUEUE = "factors"
INGEST_JOB = f"{ingest_dataset_job.__module__}.{ingest_dataset_job.__qualname__}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def enqueue_ingestion(keys: list[str]) -> None:
    """One job per dataset key on the factors queue (in-process without Redis), after commit."""
    for key in keys:
        enqueue_public(ingest_dataset_job, queue=INGEST_QUEUE, dataset_key=key)


@dataclass(frozen=True)
class IngestJob:
    """An ingestion job as RQ records it."""

    dataset_key: str
    status: str
    step: str
    fraction: float
    enqueued_at: datetime | None
    ended_at: datetime | None
    error: str

    @property
    def percent(self) -> int:
        return round(self.fraction * 100)

    @property
    def active(self) -> bool:
        return self.status in {"queued", "started", "deferred", "scheduled"}


def ingestion_jobs() -> dict[str, IngestJob]:
    """The most recent RQ ingestion job of each dataset key (empty without Redis)."""
    if settings.JOBS_IN_PROCESS:
        return {}
    import django_rq
    from rq.job import Job

    queue = django_rq.get_queue(INGEST_QUEUE)
    ids = [
        *queue.job_ids,
        *queue.started_job_registry.get_job_ids(),
        *queue.finished_job_registry.get_job_ids(),
        *queue.failed_job_registry.get_job_ids(),
    ]
    latest: dict[str, IngestJob] = {}
    for job in Job.fetch_many(list(dict.fromkeys(ids)), connection=queue.connection):
        if job is None or len(job.args) < 3 or job.args[0] != INGEST_JOB:
            continue
        key = str(job.args[2].get("dataset_key", ""))
        progress = job.meta.get("progress") or {}
        raw = job.get_status(refresh=False)
        status = str(getattr(raw, "value", raw)).lower()
        error = (job.exc_info or "").strip().splitlines()[-1:] if status == "failed" else []
        found = IngestJob(
            dataset_key=key,
            status=status,
            step=str(progress.get("step", "")),
            fraction=float(progress.get("fraction", 1.0 if status == "finished" else 0.0)),
            enqueued_at=job.enqueued_at,
            ended_at=job.ended_at,
            error=error[0] if error else "",
        )
        previous = latest.get(key)
        if previous is None or _stamp(previous.enqueued_at) <= _stamp(job.enqueued_at):
            latest[key] = found
    return latest


def _stamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


@admin.register(FactorDataset)
class FactorDatasetAdmin(ReadOnlyAdmin):
    list_display = (
        "key",
        "version",
        "is_current",
        "factor_count",
        "skipped_count",
        "flagged_count",
        "edition",
        "ingested_at",
    )
    list_filter = ("is_current", "family")
    search_fields = ("key", "title", "publisher")
    ordering = ("key", "-version")
    actions = ("ingest_again",)
    change_list_template = "admin/factors/factordataset/change_list.html"
    fieldsets = (
        (None, {"fields": ("key", "family", "version", "is_current", "title")}),
        (
            "Source",
            {
                "fields": (
                    "publisher",
                    "edition",
                    "publisher_version",
                    "source_url",
                    "licence",
                    "attribution",
                )
            },
        ),
        (
            "Ingestion",
            {
                "fields": (
                    "ingested_at",
                    "file_sha256",
                    "mapping_sha256",
                    "rows_read",
                    "factor_count",
                    "skipped_count",
                    "flagged_count",
                    "report_display",
                )
            },
        ),
    )
    readonly_fields = (
        *(f.name for f in FactorDataset._meta.fields if f.name not in {"id", "report"}),
        "report_display",
    )

    @admin.display(description="Ingestion report")
    def report_display(self, obj: FactorDataset) -> str:
        return format_report(obj.report)

    @admin.action(description="Ingest these datasets' keys again (a no-op if nothing changed)")
    def ingest_again(self, request: HttpRequest, queryset: QuerySet[FactorDataset]) -> Any:
        self._require_operator(request)
        keys = sorted(set(queryset.values_list("key", flat=True)))
        enqueue_ingestion(keys)
        messages.success(request, f"Ingestion started for {', '.join(keys)}.")
        return HttpResponseRedirect(reverse("admin:factors_factordataset_jobs"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("ingest/", wrap(self.ingest_view), name="factors_factordataset_ingest"),
            path("ingest/jobs/", wrap(self.jobs_view), name="factors_factordataset_jobs"),
            *super().get_urls(),
        ]

    def _require_operator(self, request: HttpRequest) -> None:
        if not request.user.is_superuser:
            raise PermissionDenied

    def ingest_view(self, request: HttpRequest) -> HttpResponse:
        """Confirm, then enqueue one job per chosen shipped dataset key."""
        self._require_operator(request)
        shipped = [(m.key, m.title) for m in available_mappings()]
        if request.method == "POST":
            chosen = [k for k, _ in shipped if k in request.POST.getlist("dataset")]
            if not chosen:
                messages.error(request, "Choose at least one dataset.")
            else:
                enqueue_ingestion(chosen)
                messages.success(
                    request,
                    f"Ingestion of {len(chosen)} dataset{'s' if len(chosen) != 1 else ''} started.",
                )
                return HttpResponseRedirect(reverse("admin:factors_factordataset_jobs"))
        current = dict(FactorDataset.objects.filter(is_current=True).values_list("key", "version"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Ingest the shipped datasets",
            "datasets": [(key, title, current.get(key)) for key, title in shipped],
            "jobs_in_process": settings.JOBS_IN_PROCESS,
        }
        return TemplateResponse(request, "admin/factors/factordataset/ingest.html", context)

    def jobs_view(self, request: HttpRequest) -> HttpResponse:
        """Progress of the ingestion jobs and the last result of each dataset key."""
        self._require_operator(request)
        jobs = ingestion_jobs()
        current = {d.key: d for d in FactorDataset.objects.filter(is_current=True).order_by("key")}
        rows: list[dict[str, Any]] = [
            {
                "key": m.key,
                "title": m.title,
                "dataset": current.get(m.key),
                "job": jobs.get(m.key),
                "result": summarise_result(last_ingestion_result(m.key)),
            }
            for m in available_mappings()
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Factor ingestion jobs",
            "rows": rows,
            "running": any(job.active for job in jobs.values()),
            "jobs_in_process": settings.JOBS_IN_PROCESS,
        }
        return TemplateResponse(request, "admin/factors/factordataset/jobs.html", context)


@admin.register(EmissionFactor)
class EmissionFactorAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "dataset",
        "publisher_id",
        "scope",
        "region",
        "unit",
        "kg_co2e",
        "flags",
    )
    list_filter = ("dataset__is_current", "dataset__key", "scope", "basis", "unit_dimension")
    search_fields = ("name", "publisher_id", "region", "category")
    list_select_related = ("dataset",)
    show_full_result_count = False
    readonly_fields = tuple(f.name for f in EmissionFactor._meta.fields if f.name != "id")


def summarise_result(result: dict[str, Any] | None) -> str:
    """One line for the last job result of a dataset key."""
    if result is None:
        return ""
    finished = str(result.get("finished_at", ""))[:19].replace("T", " ")
    if not result.get("ok"):
        error = result.get("error") or {}
        where = ", ".join(
            f"{k} {error[k]}" for k in ("file", "sheet", "row", "column") if error.get(k)
        )
        return f"failed at {finished}: {error.get('error', 'error')}" + (
            f" ({where})" if where else ""
        )
    parts = []
    for report in result.get("reports", []):
        version = report.get("dataset_version")
        text = f"{report.get('status')}" + (f" as version {version}" if version else "")
        if report.get("status") == "ingested":
            text += (
                f": {report.get('ingested')} factors, {report.get('skipped_total')} skipped, "
                f"{report.get('flagged_total')} flags"
            )
        parts.append(text)
    return f"{'; '.join(parts)} (at {finished} UTC)"


def format_report(report: dict[str, Any]) -> str:
    """The stored ingestion report as HTML: counts, tables, then skipped and flagged by reason."""
    if not report:
        return "—"
    head = format_html(
        "<p><strong>{}</strong>: {} rows read, {} factors ingested, {} skipped, {} flags</p>",
        report.get("status", ""),
        report.get("rows_read", 0),
        report.get("ingested", 0),
        report.get("skipped_total", 0),
        report.get("flagged_total", 0),
    )
    tables = format_html_join(
        "",
        "<li>{} ({}{}): {} rows, {} not selected, {} per-gas rows folded</li>",
        (
            (
                t.get("table"),
                t.get("file"),
                f", sheet {t['sheet']}" if t.get("sheet") else "",
                t.get("rows_read", 0),
                t.get("rows_filtered_out", 0),
                t.get("rows_folded", 0),
            )
            for t in report.get("tables", [])
        ),
    )
    examples = report.get("examples", {})
    reasons = format_html_join(
        "",
        "<tr><td>{}</td><td style='text-align:right'>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (kind, count, reason, ", ".join(examples.get(reason, [])))
            for kind in ("skipped", "flagged")
            for reason, count in report.get(kind, {}).items()
        ),
    )
    table = (
        format_html(
            "<table><thead><tr><th>What</th><th>Rows</th><th>Reason</th><th>Examples</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            reasons,
        )
        if reasons
        else format_html("<p>{}</p>", "Nothing skipped or flagged.")
    )
    return format_html("{}<ul>{}</ul>{}", head, tables, table)
