"""EFRAG's VSME Digital Template filled in: the workbook SMEs' customers ask for.

Every input cell of the template is an Excel named range equal to a VSME taxonomy concept's local
name, ``Concept_Member`` for a dimensional one (``EnergyConsumptionFromFuels_RenewableEnergyMember``);
a fact on an axis's default member (the total) goes to ``Concept`` or ``Concept_<default member>``.
The B3 facts of a VSME report are written there, with the entity, identifier, period, currency and
turnover of the General Information sheet. Cells the template computes (totals, intensities) get
our figure as a value too: openpyxl keeps no computed values, and a reader that does not
recalculate would otherwise find them empty.

The template: ``settings.VSME_TEMPLATE_XLSX`` (EFRAG's 1.3.0 ships in data/vsme/ with its MIT
licence). openpyxl drops the workbook's drop-down lists defined as Excel extensions when it saves
(its warning "Data Validation extension is not supported"): the values stay, the lists go.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from reporting.regimes.base import Fact, ReportInput
from reporting.taxonomy import Taxonomy

# The template's identifier schemes (sheet "Enumeration Lists", "Identifier (context identifier
# scheme)"): LEI, DUNS, EU ID, PermID. A national register number is none of them.
IDENTIFIER_SCHEMES = {"lei": "LEI"}
# Questions the template asks before a block, found by the label formula in column C of their
# row (they have no named range): "has the undertaking obtained the information for the energy
# breakdown" and "is it disclosing Scope 3 (by category)".
ENVIRONMENT = "Environmental Disclosures"
BREAKDOWN_QUESTION = ("template_label_has_the_undertaking_obtained_the_necessary", "G")
SCOPE3_QUESTION = ("template_label_is_the_undertaking_disclosing_entity_specific", "G")
SCOPE3_ROWS = ("template_label_1_purchased_goods_and_services", "D")  # categories 1-15 follow


class TemplateError(Exception):
    """The template is missing or unreadable: no file is made, the message says why."""


@dataclass
class FilledTemplate:
    content: bytes
    written: dict[str, Any] = field(default_factory=dict)  # named range -> value
    skipped: list[str] = field(default_factory=list)  # facts with no named range


def template_path() -> Path:
    path = Path(settings.VSME_TEMPLATE_XLSX or "")
    if not settings.VSME_TEMPLATE_XLSX or not path.is_file():
        raise TemplateError(
            f"The VSME Digital Template is not at {str(path)!r} (VSME_TEMPLATE_XLSX): the "
            "filled template cannot be made."
        )
    return path


def _cell(workbook: Any, name: str) -> Any | None:
    defined = workbook.defined_names.get(name)
    if defined is None:
        return None
    for sheet, ref in defined.destinations:
        if sheet in workbook.sheetnames:
            first = ref.replace("$", "").split(":")[0]
            return workbook[sheet][first]
    return None


def _row_of(sheet: Any, label: str) -> int | None:
    for (cell,) in sheet.iter_rows(min_col=3, max_col=3):
        if isinstance(cell.value, str) and label in cell.value:
            return int(cell.row)
    return None


def _names(fact: Fact, taxonomy: Taxonomy) -> list[str]:
    local = fact.concept.split(":", 1)[1]
    if fact.dimension:
        return [f"{local}_{fact.dimension[1].split(':', 1)[1]}"]
    return [local] + [f"{local}_{m.split(':', 1)[1]}" for m in taxonomy.defaults.values()]


def fill_template(data: ReportInput, facts: list[Fact], taxonomy: Taxonomy) -> FilledTemplate:
    """The template with the report's B3 facts and identifying information (xlsx bytes)."""
    import openpyxl

    path = template_path()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the dropped extensions, said above
            workbook = openpyxl.load_workbook(path)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise TemplateError(f"The VSME Digital Template {path.name} cannot be read: {exc}") from exc
    filled = FilledTemplate(content=b"")

    def put(name: str, value: Any) -> bool:
        cell = _cell(workbook, name)
        if cell is None:
            return False
        cell.value = value
        filled.written[name] = value
        return True

    profile, period = data.profile, data.period
    put("template_reporting_entity_name", profile.legal_name)
    put("template_reporting_entity_identifier", profile.identifier)
    scheme = IDENTIFIER_SCHEMES.get(profile.identifier_scheme)
    if scheme:
        put("template_reporting_entity_identifier_scheme", scheme)
    put("template_currency", period.currency)
    if period.net_revenue:
        put("Turnover", float(period.net_revenue))
    general = _cell(workbook, "template_reporting_period_startdate")
    if general is not None:
        sheet = general.parent
        for row, day in ((general.row - 3, period.start), (general.row + 1, period.end)):
            for offset, part in enumerate((day.year, day.month, day.day)):
                sheet.cell(row=row + offset, column=general.column, value=part)
    put("template_reporting_period_startdate", period.start.isoformat())
    put("template_reporting_period_enddate", period.end.isoformat())
    for fact in facts:
        if not any(put(name, fact.value) for name in _names(fact, taxonomy)):
            filled.skipped.append(
                fact.concept + (f" [{fact.dimension[1]}]" if fact.dimension else "")
            )
    environment = workbook[ENVIRONMENT] if ENVIRONMENT in workbook.sheetnames else None
    if environment is not None:
        breakdown = any(f.dimension for f in facts if f.unit.id == "MWh")
        _answer(environment, BREAKDOWN_QUESTION, breakdown)
        scope3 = [r for r in data.categories if r.key is not None]
        reported = any(f.concept.endswith(":GrossScope3GreenhouseGasEmissions") for f in facts)
        _answer(environment, SCOPE3_QUESTION, reported)
        first = _row_of(environment, SCOPE3_ROWS[0])
        if reported and first is not None:
            for row in scope3:
                environment[f"{SCOPE3_ROWS[1]}{first + row.key - 1}"] = round(
                    row.location / 1000, 3
                )
    buffer = io.BytesIO()
    workbook.save(buffer)
    filled.content = buffer.getvalue()
    return filled


def _answer(sheet: Any, question: tuple[str, str], value: bool) -> None:
    row = _row_of(sheet, question[0])
    if row is not None:
        sheet[f"{question[1]}{row}"] = value
