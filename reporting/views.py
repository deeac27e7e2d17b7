"""The dashboard (the tenant's home once it has data) and the reports page."""

from __future__ import annotations

import gzip
from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.access import login_required_tenant, role_required
from accounts.models import Role
from emissions.selectors_org import reporting_periods
from factortrace.numbers import whole_number
from factortrace.views import UPCOMING
from reporting import restatement, services
from reporting.downloads import DOWNLOADS, DownloadRefusedError, refusal_reason, report_file
from reporting.models import Report, ReportStatus
from reporting.regimes import PLANNED, REGIMES
from reporting.regimes.base import RegimeError
from reporting.selectors import dashboard, has_records, selected_period
from reporting.services import ReportError
from reporting.taxonomy import TaxonomyError
from reporting.vsme_template import TemplateError


@login_required_tenant
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard once records exist; before that, the way to the import wizard."""
    if not has_records():
        return render(request, "app/home.html", {"sections": UPCOMING, "empty": True})
    period = selected_period(request.GET.get("period"))
    return render(
        request,
        "reporting/dashboard.html",
        {"board": dashboard(period), "periods": reporting_periods(), "period": period},
    )


def _get_report_for_user(report_id: int) -> Report:
    """A report of this tenant (its own schema), for any signed-in user of it; 404 otherwise."""
    try:
        # The stored files are read only by the view that hands one out (deferred fields load
        # when accessed).
        return (
            Report.objects.select_related("period", "created_by")
            .defer("xhtml", "pdf", "template", "viewer")
            .get(id=report_id)
        )
    except Report.DoesNotExist as exc:
        raise Http404("No such report in your organisation.") from exc


@role_required(Role.EDITOR, writes_only=True)
def report_list(request: HttpRequest) -> HttpResponse:
    """The reports with their verdict and downloads; owners and editors generate a new one."""
    if request.method == "POST":
        regime_key = request.POST.get("regime", "")
        period_id = request.POST.get("period", "")
        formats = tuple(request.POST.getlist("formats"))
        try:
            if whole_number(period_id) is None:
                raise ReportError("Choose a reporting period.")
            services.report_request(
                user=request.user,
                period_id=int(period_id),
                regime_key=regime_key,
                formats=formats,
            )
        except (ReportError, RegimeError, TaxonomyError, TemplateError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, "The report is being generated; this page shows its progress."
            )
        return redirect("reports")
    reports = list(
        Report.objects.select_related("period", "created_by")
        .defer("xhtml", "pdf", "template", "viewer", "record_ids")
        .annotate(
            has_template=Q(template__isnull=False),
            has_viewer=Q(viewer__isnull=False),
        )
    )
    return render(
        request,
        "reporting/report_list.html",
        {
            "reports": reports,
            "regimes": list(REGIMES.values()),
            "planned": PLANNED,
            "periods": reporting_periods(),
            "working": any(
                r.status in (ReportStatus.PENDING, ReportStatus.RUNNING) for r in reports
            ),
            "can_edit": request.user.can_edit,  # type: ignore[union-attr]
        },
    )


def _refused(request: HttpRequest, report: Report) -> HttpResponse:
    reason = refusal_reason(report)
    return render(request, "reporting/report_refused.html", {"reason": reason}, status=409)


@login_required_tenant
@require_GET
def report_download(request: HttpRequest, report_id: int, fmt: str) -> HttpResponse:
    """A report's PDF, iXBRL XHTML, inline XBRL report package or filled VSME Digital Template,
    as an attachment; only a finished report that is not invalid is downloadable as final."""
    report = _get_report_for_user(report_id)
    if fmt not in DOWNLOADS:
        raise Http404("No such format.")
    try:
        found = report_file(report, fmt)
    except DownloadRefusedError:
        return _refused(request, report)
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return response


# The viewer page runs Arelle's viewer script (ours, from /static) over the report under its own
# policy: no script but that file (the viewer's data is a JSON block, never executed), styles
# inline as the viewer writes them, its export worker from a blob, no form, not framed. The
# sandbox keeps the page's origin: the viewer needs its storage and its config fetch, which an
# opaque origin refuses (checked in Chromium), so the policy, not the sandbox, is the guard.
VIEWER_CSP = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "worker-src": ["blob:"],
    "frame-src": ["'self'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "sandbox": ["allow-scripts", "allow-same-origin", "allow-popups", "allow-downloads"],
}


def _restatement_against(request: HttpRequest, report: Report) -> Report | None:
    """Version B asked for: another generated version of the same report (regime and period)
    through the access helper, or None for today's data and factors; BadRequest otherwise."""
    against = request.GET.get("against", "today")
    if against == "today":
        return None
    other_id = whole_number(against)
    if other_id is None:
        raise BadRequest("Choose a version of this report, or today's data and factors.")
    other = _get_report_for_user(other_id)
    if (
        other.id == report.id
        or not restatement.comparable_versions(report).filter(id=other.id).exists()
    ):
        raise BadRequest(
            "Version B must be another generated version of the same report (regime and period)."
        )
    return other


@login_required_tenant
@require_GET
@csp_replace(VIEWER_CSP)  # type: ignore[arg-type]  # django-csp types views as (request) only
def report_viewer(request: HttpRequest, report_id: int) -> HttpResponse:
    """The report in Arelle's iXBRL viewer (made when Arelle validated it)."""
    report = _get_report_for_user(report_id)
    if not report.is_final or report.viewer is None:
        return _refused(request, report)
    return HttpResponse(gzip.decompress(bytes(report.viewer)), content_type="text/html")


@login_required_tenant
@require_GET
def report_restatement(request: HttpRequest, report_id: int) -> HttpResponse:
    """What changes, by scope and Scope 3 category, from this report to another version of it or
    to today's data and factors."""
    report = _get_report_for_user(report_id)
    chosen = request.GET.get("a", "")
    chosen_id = whole_number(chosen)
    if chosen_id is not None and chosen_id != report.id:
        version_a = _get_report_for_user(chosen_id)
        query = {"against": request.GET["against"]} if "against" in request.GET else {}
        url = reverse("report_restatement", kwargs={"report_id": version_a.id})
        return redirect(f"{url}?{urlencode(query)}" if query else url)
    context: dict[str, object] = {
        "report": report,
        "reports": Report.objects.filter(status=ReportStatus.DONE).defer(
            "xhtml", "pdf", "template", "viewer", "record_ids"
        ),
        "versions": restatement.comparable_versions(report),
        "against": request.GET.get("against", "today"),
    }
    if report.status != ReportStatus.DONE:
        context["problem"] = "This version was not generated: it has no figures to compare."
        return render(request, "reporting/restatement.html", context, status=409)
    try:
        other = _restatement_against(request, report)
    except BadRequest as exc:
        context["problem"] = str(exc)
        return render(request, "reporting/restatement.html", context, status=400)
    context["result"] = restatement.restatement(report, other)
    return render(request, "reporting/restatement.html", context)
