"""Generate a tenant's report from the command line: the same build as the Reports page.

python manage.py generate_report --tenant acme --period 2024 --regime vsme \
    --format pdf,ixbrl,package,template --out /tmp

Writes the files (PDF, iXBRL XHTML, inline XBRL report package .xbri, the filled VSME Digital
Template .xlsx; without --format, all the regime offers), prints the verdict as one JSON line;
exits non-zero when the report is invalid or cannot be made.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from emissions.models import ReportingPeriod
from reporting.models import Report, ReportStatus, Verdict
from reporting.regimes import REGIMES
from reporting.regimes.base import RegimeError
from reporting.render import REPORT_PACKAGE_EXTENSION, render_package
from reporting.services import FORMATS, ReportError, report_build, report_create
from reporting.taxonomy import TaxonomyError
from reporting.vsme_template import TemplateError
from tenants.models import Tenant


def find_period(text: str) -> ReportingPeriod:
    """The period named ``text``, else the one period starting in that year."""
    exact = ReportingPeriod.objects.filter(name__iexact=text).first()
    if exact is not None:
        return exact
    if text.isdigit():
        year = ReportingPeriod.objects.filter(Q(start__year=int(text)))
        if year.count() == 1:
            return year.get()
    names = ", ".join(ReportingPeriod.objects.values_list("name", flat=True)) or "none"
    raise CommandError(f"No single reporting period {text!r} (periods: {names}).")


class Command(BaseCommand):
    help = "Generate a report (ESRS E1 or VSME) for a tenant's period and print its verdict."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's subdomain (slug)")
        parser.add_argument("--period", required=True, help="period name or starting year")
        parser.add_argument("--regime", default="esrs_e1", choices=sorted(REGIMES))
        parser.add_argument(
            "--format",
            default="",
            help=f"comma-separated, of {','.join(FORMATS)} (template: VSME only); default all",
        )
        parser.add_argument("--out", default=".", help="folder the files are written to")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with the subdomain {options['tenant']!r}.")
        formats = tuple(f.strip() for f in options["format"].split(",") if f.strip())
        out = Path(options["out"])
        if not out.is_dir():
            raise CommandError(f"--out {out}: no such folder.")
        with schema_context(tenant.schema_name):
            period = find_period(options["period"])
            try:
                report = report_create(
                    user=None, period_id=period.id, regime_key=options["regime"], formats=formats
                )
            except (ReportError, TaxonomyError, TemplateError) as exc:
                raise CommandError(str(exc)) from exc
            Report.objects.filter(id=report.id).update(status=ReportStatus.RUNNING)
            try:
                report_build(report)
            except (ReportError, RegimeError, TaxonomyError, TemplateError) as exc:
                Report.objects.filter(id=report.id).update(
                    status=ReportStatus.FAILED, error=str(exc), finished_at=timezone.now()
                )
                raise CommandError(str(exc)) from exc
        stem = f"{tenant.slug}-{report.stem}"
        files = {
            "ixbrl": (report.xhtml, "xhtml"),
            "pdf": (report.pdf, "pdf"),
            "package": (
                None if report.xhtml is None else render_package(bytes(report.xhtml), stem),
                REPORT_PACKAGE_EXTENSION,
            ),
            "template": (report.template, "xlsx"),
        }
        written = []
        # An invalid report is not written out as final: its verdict says why.
        if report.verdict != Verdict.INVALID:
            for fmt in report.formats:
                content, extension = files[fmt]
                if content is not None:
                    written.append(out / f"{stem}.{extension}")
                    written[-1].write_bytes(bytes(content))
        validation = {k: v for k, v in report.validation.items() if k not in ("facts", "missing")}
        self.stdout.write(
            json.dumps(
                {
                    "report": report.id,
                    "verdict": report.verdict,
                    "validation": validation,
                    "files": [str(p) for p in written],
                }
            )
        )
        if report.verdict == Verdict.INVALID:
            raise CommandError(f"The report is invalid: {validation.get('error_count', 0)} errors.")
