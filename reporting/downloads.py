"""A report's files as downloads, for the reports page and the API: which a report has, and the
one rule for handing one out (only a finished report that is not invalid is downloadable as
final)."""

from __future__ import annotations

from dataclasses import dataclass

from reporting.models import Report, Verdict
from reporting.render import REPORT_PACKAGE_EXTENSION, render_package

# format -> (what it is, content type, extension)
DOWNLOADS = {
    "pdf": ("PDF", "application/pdf", "pdf"),
    "xhtml": ("iXBRL", "application/xhtml+xml", "xhtml"),
    "package": ("report package", "application/zip", REPORT_PACKAGE_EXTENSION),
    "template": (
        "VSME Digital Template",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
}


class DownloadRefusedError(Exception):
    """The report cannot be downloaded in this format; the message says why."""


@dataclass(frozen=True)
class ReportFile:
    content: bytes
    content_type: str
    filename: str


def refusal_reason(report: Report) -> str:
    if report.verdict == Verdict.INVALID:
        return "Arelle found errors in this report: it cannot be downloaded as final."
    return "This report has no such file (not finished, or the format was not asked for)."


def report_formats(report: Report, *, has_template: bool) -> list[str]:
    """The formats a final report can be downloaded in (none before it is final)."""
    if not report.is_final:
        return []
    found = ["pdf"] if "pdf" in report.formats else []
    found.append("xhtml")
    if "package" in report.formats:
        found.append("package")
    if has_template:
        found.append("template")
    return found


def _content(report: Report, fmt: str) -> bytes | None:
    if fmt == "package":
        return None if report.xhtml is None else render_package(bytes(report.xhtml), report.stem)
    field = {"xhtml": "xhtml", "pdf": "pdf", "template": "template"}[fmt]
    content = getattr(report, field)
    return None if content is None else bytes(content)


def report_file(report: Report, fmt: str) -> ReportFile:
    """The report's file in `fmt` (a key of DOWNLOADS); DownloadRefusedError when the report is
    not final (not done, or invalid) or has no such file."""
    _, content_type, extension = DOWNLOADS[fmt]
    content = _content(report, fmt) if report.is_final else None
    if content is None:
        raise DownloadRefusedError(refusal_reason(report))
    return ReportFile(content, content_type, f"{report.stem}.{extension}")
