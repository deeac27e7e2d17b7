"""Generating a report: requested by an owner or editor (a Report row, then an RQ job), built from
the inventory selector's totals for the period, rendered as iXBRL XHTML and PDF, validated by
Arelle where the regime's taxonomy package is present, stored with its verdict, the dataset
versions it used and a fingerprint of its records."""

from __future__ import annotations

import gzip
import hashlib
import logging
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.templatetags.static import static
from django.utils import timezone

from billing.ledger import NoCreditsError, credit_consume_for_report, credit_return_for_report
from emissions.models import ReportingPeriod
from emissions.selectors_activities import activity_records
from emissions.selectors_inventory import inventory_summary
from emissions.selectors_org import organisation_profile
from factortrace.jobs import enqueue_for_tenant
from factortrace.tenancy import current_schema
from reporting.energy import energy_mix
from reporting.models import Report, ReportStatus, Verdict
from reporting.regimes import REGIMES, regime
from reporting.regimes.base import Fact, RegimeError, ReportInput
from reporting.render import REPORT_PACKAGE_EXTENSION, render_package, render_pdf, render_xhtml
from reporting.restatement import inventory_snapshot
from reporting.selectors import period_filters
from reporting.taxonomy import TaxonomyError, vsme_taxonomy
from reporting.validate import (
    ValidationUnavailableError,
    check_against_taxonomy,
    validate_ixbrl,
    viewer_available,
)
from reporting.validate import Verdict as ArelleVerdict
from reporting.vsme_template import TemplateError, fill_template, template_path

logger = logging.getLogger(__name__)

FORMATS = ("pdf", "ixbrl", "package", "template")
# What each regime can render; the iXBRL is always made (the PDF and the package are built from
# it). The VSME Digital Template is EFRAG's workbook for VSME only.
REGIME_FORMATS = {
    "esrs_e1": ("pdf", "ixbrl", "package"),
    "vsme": ("pdf", "ixbrl", "package", "template"),
}
VIEWER_SCRIPT = "ixbrlviewer/ixbrlviewer.js"  # static path (settings.STATICFILES_DIRS)


class ReportError(Exception):
    """A report cannot be requested or built; the message says why."""


def records_fingerprint(period: ReportingPeriod) -> str:
    """A digest of the period's records as they are now (count, ids, kg sums, last change)."""
    agg = (
        activity_records(period_filters(period))
        .order_by()
        .aggregate(
            n=Count("id"),
            ids=Sum("id"),
            kg=Sum("kg_co2e"),
            market=Sum("kg_co2e_market"),
            changed=Max("updated_at"),
        )
    )
    return hashlib.sha256(repr(sorted(agg.items())).encode()).hexdigest()


def report_input(period: ReportingPeriod) -> ReportInput:
    """The period's inventory (from the one inventory selector) with the organisation profile."""
    profile = organisation_profile()
    if profile is None:
        raise ReportError("Set up the organisation profile in Settings before generating a report.")
    summary = inventory_summary(filters=period_filters(period))
    if summary.totals.records == 0:
        raise ReportError(f"The period {period.name} has no activity records to report.")
    return ReportInput(
        period=period,
        profile=profile,
        totals=summary.totals,
        categories=summary.categories,
        datasets=summary.datasets,
        gwp_sets=summary.gwp_sets,
        energy=energy_mix(period),
    )


def _facts_json(facts: list[Fact]) -> list[dict[str, Any]]:
    return [
        {
            "concept": f.concept,
            "label": f.label,
            "value": f.value,
            "unit": f.unit.id,
            "decimals": f.decimals,
            "dimension": list(f.dimension) if f.dimension else None,
        }
        for f in facts
    ]


def report_create(
    *, user: Any, period_id: int, regime_key: str, formats: tuple[str, ...] = ()
) -> Report:
    """A new version of the regime's report for the period, waiting to be built (checked first:
    an unknown regime or format, no period, profile or data raise ReportError, a missing
    taxonomy TaxonomyError, a missing VSME template TemplateError; nothing saved). No formats:
    all the regime has."""
    if regime_key not in REGIMES:
        raise ReportError(f"Unknown regime {regime_key!r}; one of {', '.join(REGIMES)}.")
    allowed = REGIME_FORMATS.get(regime_key, ("pdf", "ixbrl"))
    formats = tuple(dict.fromkeys(formats or allowed))
    unknown = set(formats) - set(allowed)
    if unknown:
        raise ReportError(
            f"A {REGIMES[regime_key].name} report is made as {', '.join(allowed)}; "
            f"not {', '.join(sorted(unknown))}."
        )
    if "template" in formats:
        template_path()  # no template: TemplateError now, not in the job
    period = ReportingPeriod.objects.filter(id=period_id).first()
    if period is None:
        raise ReportError("No such reporting period.")
    report_input(period)  # no data / no profile: say so now
    REGIMES[regime_key].rendering()  # no taxonomy configured: TaxonomyError now, not in the job
    with transaction.atomic():
        latest = Report.objects.filter(regime=regime_key, period=period).aggregate(
            v=Max("version")
        )["v"]
        return Report.objects.create(
            regime=regime_key,
            period=period,
            period_name=period.name,
            period_start=period.start,
            period_end=period.end,
            version=(latest or 0) + 1,
            formats=list(formats),
            created_by=user,
        )


def report_request(
    *, user: Any, period_id: int, regime_key: str, formats: tuple[str, ...] = ()
) -> Report:
    """Create the report, consume one credit for it and queue its generation once this
    transaction commits; with no credit left, ReportError and nothing is created."""
    with transaction.atomic():
        report = report_create(
            user=user, period_id=period_id, regime_key=regime_key, formats=formats
        )
        try:
            credit_consume_for_report(
                schema_name=current_schema(),
                report_id=report.id,
                actor=getattr(user, "email", "") or "system",
            )
        except NoCreditsError as exc:
            raise ReportError(
                "No report credits left: buy credits or redeem a voucher on the Billing page."
            ) from exc
        enqueue_for_tenant(
            report_generate_job,
            schema_name=current_schema(),
            on_failure=report_generate_failed,
            report_id=report.id,
        )
    return report


def _progress(report_id: int, percent: int) -> None:
    Report.objects.filter(id=report_id).update(progress=percent)


def report_build(report: Report) -> Report:
    """Render, validate and store one report in place (the job's work; also the CLI's)."""
    chosen = regime(report.regime)
    period = report.period
    if period is None:
        raise ReportError("The reporting period of this report was deleted.")
    as_of = timezone.now()  # before the figures are read: see reporting.restatement
    data = report_input(period)
    facts, notes = chosen.datapoints(data)
    _progress(report.id, 20)
    xhtml = render_xhtml(chosen, data, facts, notes)
    _progress(report.id, 40)
    pdf = render_pdf(xhtml) if "pdf" in report.formats else None
    _progress(report.id, 50)
    template = None
    if "template" in report.formats:
        filled = fill_template(data, facts, vsme_taxonomy())
        template = filled.content
        if filled.skipped:
            notes.append(
                "Not in the VSME Digital Template (no named range): " + ", ".join(filled.skipped)
            )
    _progress(report.id, 60)
    verdict, validation = Verdict.UNCHECKED, {}
    viewer = None
    packages = _packages(report.regime)
    if report.regime == "vsme":
        # No VSME taxonomy package ships (data/vsme/NOTES.md): the facts are checked against
        # EFRAG's taxonomy dump instead (concept, abstract, period type, unit for its type).
        checked = check_against_taxonomy(vsme_taxonomy(), facts)
        verdict = Verdict.VALID if checked.valid else Verdict.INVALID
        validation = {**checked.summary(), "checked_by": "the VSME taxonomy dump"}
        if _arelle_reads(report.regime):
            # Without the taxonomy Arelle cannot validate, but it reads the facts back and its
            # viewer shows them (by concept name: no labels).
            try:
                read = validate_ixbrl(xhtml, (), viewer_script=_viewer_script())
            except ValidationUnavailableError:
                pass
            else:
                validation["facts"] = read.facts
                viewer = gzip.compress(read.viewer, mtime=0) if read.viewer else None
    elif packages:
        # Arelle opens the report package (as a recipient would) and validates the iXBRL in it;
        # its ixbrl-viewer plugin writes the viewer page in the same run.
        try:
            result: ArelleVerdict = validate_ixbrl(
                render_package(xhtml, report.stem),
                packages,
                filename=f"{report.stem}.{REPORT_PACKAGE_EXTENSION}",
                viewer_script=_viewer_script(),
            )
        except ValidationUnavailableError as exc:
            validation = {"unavailable": str(exc)}
        else:
            verdict = Verdict.VALID if result.valid else Verdict.INVALID
            validation = {**result.summary(), "checked_by": "Arelle (report package)"}
            viewer = gzip.compress(result.viewer, mtime=0) if result.viewer else None
    else:
        validation = {"unavailable": "No taxonomy package for this regime: not validated."}
    report.xhtml = xhtml
    report.pdf = pdf
    report.template = template
    report.viewer = viewer
    report.facts = _facts_json(facts)
    report.validation = {**validation, "notes": notes}
    report.verdict = verdict
    report.datasets = data.datasets
    report.fingerprint = records_fingerprint(period)
    report.inventory, report.record_ids = inventory_snapshot(
        totals=data.totals,
        categories=data.categories,
        filters=period_filters(period),
        as_of=as_of,
    )
    report.status = ReportStatus.DONE
    report.progress = 100
    report.finished_at = timezone.now()
    report.save()
    return report


def _viewer_script() -> str:
    return static(VIEWER_SCRIPT) if viewer_available() else ""


def _arelle_reads(regime_key: str) -> bool:
    """Arelle reads a report it cannot validate (VSME without its package) back: the facts and
    the viewer page. Tests that build many reports turn it off."""
    return True


def _packages(regime_key: str) -> tuple[Any, ...]:
    from reporting.taxonomy import esrs_taxonomy

    if regime_key == "esrs_e1":
        return esrs_taxonomy().packages
    return ()  # VSME: the taxonomy package is not shipped (data/vsme/NOTES.md)


def report_generate_job(*, report_id: int) -> dict[str, Any]:
    claimed = Report.objects.filter(id=report_id, status=ReportStatus.PENDING).update(
        status=ReportStatus.RUNNING, progress=5
    )
    if claimed != 1:
        return {"status": "skipped"}
    report = Report.objects.select_related("period").get(id=report_id)
    try:
        report_build(report)
    except (ReportError, RegimeError, TaxonomyError, TemplateError) as exc:
        Report.objects.filter(id=report_id).update(
            status=ReportStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
        credit_return_for_report(schema_name=current_schema(), report_id=report_id, reason=str(exc))
        return {"status": "failed", "error": str(exc)}
    return {"status": "done", "verdict": report.verdict}


def report_generate_failed(*, report_id: int, reason: str = "") -> None:
    failed = (
        Report.objects.filter(id=report_id)
        .filter(Q(status=ReportStatus.PENDING) | Q(status=ReportStatus.RUNNING))
        .update(
            status=ReportStatus.FAILED,
            error="The report could not be generated; please try again.",
            finished_at=timezone.now(),
        )
    )
    if failed:
        credit_return_for_report(
            schema_name=current_schema(), report_id=report_id, reason=reason or "job failed"
        )
    logger.warning("report %s failed: %s", report_id, reason)


def arelle_facts(report: Report) -> list[dict[str, Any]]:
    """The facts Arelle read back from the stored iXBRL (kept with the verdict)."""
    facts: list[dict[str, Any]] = report.validation.get("facts", [])
    return facts
