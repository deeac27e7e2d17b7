"""Renderings: one XHTML document that is the inline XBRL 1.1 report (contexts with the entity
identifier and the period, units, decimals) and the source of the PDF (WeasyPrint: cover, tables,
charts, page numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from reporting import charts
from reporting.regimes.base import Fact, Regime, RegimeError, ReportInput, Unit

LEI_SCHEME = "http://standards.iso.org/iso/17442"


@dataclass(frozen=True)
class Context:
    id: str
    dimension: tuple[str, str] | None


@dataclass(frozen=True)
class TaggedFact:
    fact: Fact
    context: str
    shown: str
    negative: bool


def entity_scheme(data: ReportInput) -> str:
    profile = data.profile
    if not profile.identifier:
        raise RegimeError(
            "The organisation profile has no identifier (LEI or national register number): "
            "add it in Settings before generating an XBRL report."
        )
    if profile.identifier_scheme == "lei":
        return LEI_SCHEME
    return f"urn:factortrace:national-register:{profile.country.lower()}"


def _shown(fact: Fact) -> str:
    shown = abs(fact.value) * 10 ** (-fact.scale)
    return f"{shown:,.{max(0, fact.decimals + fact.scale)}f}"


def render_xhtml(regime: Regime, data: ReportInput, facts: list[Fact], notes: list[str]) -> bytes:
    """The iXBRL XHTML (UTF-8 bytes) that also prints as the PDF."""
    scheme = entity_scheme(data)
    rendering = regime.rendering()
    contexts: dict[tuple[str, str] | None, Context] = {None: Context("c0", None)}
    units: dict[str, Unit] = {}
    tagged = []
    for fact in facts:
        if fact.dimension not in contexts:
            contexts[fact.dimension] = Context(f"c{len(contexts)}", fact.dimension)
        units[fact.unit.id] = fact.unit
        tagged.append(TaggedFact(fact, contexts[fact.dimension].id, _shown(fact), fact.value < 0))
    sections: dict[str, list[TaggedFact]] = {}
    for t in tagged:
        sections.setdefault(t.fact.section, []).append(t)
    context: dict[str, Any] = {
        "regime": regime,
        "rendering": rendering,
        "data": data,
        "scheme": scheme,
        "contexts": list(contexts.values()),
        "units": list(units.values()),
        "sections": list(sections.items()),
        "notes": notes,
        "generated": timezone.now(),
        "chart": charts.as_image(
            charts.bar_chart(
                [(t.fact.label, t.fact.value) for t in tagged if t.fact.unit.id == "tCO2e"],
                title="Reported emissions",
            ),
            alt="Reported emissions by datapoint, t CO2e",
        ),
    }
    return render_to_string("reporting/report.xhtml", context).encode("utf-8")


def render_pdf(xhtml: bytes) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=xhtml.decode("utf-8")).write_pdf()
    return pdf


# XBRL Report Packages 1.0 (XBRL International, 2023): an inline XBRL report package is a zip
# with the ".xbri" extension, one top-level folder holding META-INF/reportPackage.json (its
# documentType) and the report in reports/.
REPORT_PACKAGE_TYPE = "https://xbrl.org/report-package/2023/xbri"
REPORT_PACKAGE_EXTENSION = "xbri"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same report always makes the same package


def render_package(xhtml: bytes, stem: str) -> bytes:
    """The inline XBRL report package (zip bytes) around one iXBRL document."""
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(f"{stem}/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)

        document = {"documentInfo": {"documentType": REPORT_PACKAGE_TYPE}}
        add("META-INF/reportPackage.json", json.dumps(document, indent=2).encode())
        add(f"reports/{stem}.xhtml", xhtml)
    return buffer.getvalue()
