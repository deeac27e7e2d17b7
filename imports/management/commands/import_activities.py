"""Import a recurring feed from the command line, through the same pipeline as the wizard.

    python manage.py import_activities --tenant acme meters-2024-11.csv --template "Meter export"
    python manage.py import_activities --tenant acme fuel.xlsx --mapping fuel.yml --sheet Daten --json

With invalid rows and no --allow-partial nothing is committed and the command exits with status 1.

Rows already in the inventory (a record with the same date, activity, quantity, unit and site):
by default nothing is committed and the command exits with status 1, naming how many; a recurring
feed whose exports overlap passes --duplicates skip (import only the new rows), and
--duplicates import writes them anyway.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import schema_context

from imports.errors import ImportInputError
from imports.models import ImportRun, ImportStatus, MappingTemplate
from imports.pipeline import (
    Mapping,
    PipelineError,
    header_signature,
    load_mapping_file,
    suggest_mapping,
)
from imports.preparation import prepare
from imports.selectors import choice_summaries, read_source
from imports.writer import (
    DUPLICATE_CHOICES,
    DUPLICATES_REFUSE,
    DUPLICATES_SKIP,
    count_duplicates,
    import_run_write,
)
from tenants.models import Tenant

EXIT_INVALID = 1


class Command(BaseCommand):
    help = "Validate, calculate and import an activity file for one tenant."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's subdomain (slug)")
        parser.add_argument("file", help="CSV, XLSX, XLS or ODS file")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--template", help="a mapping template saved in the wizard")
        source.add_argument("--mapping", help="a mapping YAML file (see the README)")
        parser.add_argument("--sheet", help="workbook sheet (default: the first with data)")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and calculate, write nothing"
        )
        parser.add_argument(
            "--allow-partial",
            action="store_true",
            help="import the valid rows even if others are invalid",
        )
        parser.add_argument(
            "--duplicates",
            choices=DUPLICATE_CHOICES,
            default=DUPLICATES_REFUSE,
            help="rows already in the inventory: refuse the file (default), skip them, or import "
            "them anyway",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with the subdomain {options['tenant']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        with schema_context(tenant.schema_name):
            try:
                summary = self._run(path, options)
            except ImportInputError as exc:
                if options["json"]:
                    self.stdout.write(json.dumps({"error": exc.to_dict()}))
                    raise SystemExit(EXIT_INVALID) from None
                raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(summary, default=str))
        else:
            self._print(summary)
        if summary["invalid"] and not options["allow_partial"]:
            raise SystemExit(EXIT_INVALID)
        if summary["duplicates"] and options["duplicates"] == DUPLICATES_REFUSE:
            raise SystemExit(EXIT_INVALID)

    def _mapping(self, headers: list[str], options: dict[str, Any], sample: Any) -> Mapping:
        if options["mapping"]:
            try:
                return load_mapping_file(options["mapping"])
            except PipelineError as exc:
                raise ImportInputError.from_pipeline(exc) from None
        if options["template"]:
            template = MappingTemplate.objects.filter(name=options["template"]).first()
            if template is None:
                names = (
                    ", ".join(MappingTemplate.objects.values_list("name", flat=True))
                    or "none saved yet"
                )
                raise ImportInputError(
                    f"No mapping template named {options['template']!r} (templates: {names})."
                )
            return Mapping.from_dict(template.mapping)
        template = MappingTemplate.objects.filter(
            header_signature=header_signature(headers)
        ).first()
        if template is not None:
            return Mapping.from_dict(template.mapping)
        return suggest_mapping(headers, sample).mapping

    def _run(self, path: Path, options: dict[str, Any]) -> dict[str, Any]:
        sheet = options["sheet"]
        read = read_source(path, filename=path.name, sheet=sheet, header_row=None)
        mapping = self._mapping(read.headers, options, read.frame.head(200))
        if mapping.options.header_row or (mapping.options.sheet and not sheet):
            read = read_source(
                path,
                filename=path.name,
                sheet=sheet or mapping.options.sheet,
                header_row=mapping.options.header_row,
            )
        prepared = prepare(read, mapping)
        summary: dict[str, Any] = {
            "rows": prepared.n_rows,
            "valid": prepared.n_valid,
            "invalid": prepared.n_invalid,
            "excluded": prepared.n_excluded,
            "errors": prepared.error_records(limit=1000),
            "kg_co2e": round(prepared.kg_co2e, 6),
            "assumptions": prepared.assumptions,
            "duplicates": count_duplicates(prepared)[1],
            "committed": False,
            "choices": choice_summaries(prepared.choices),
        }
        if options["dry_run"] or (prepared.n_invalid and not options["allow_partial"]):
            return summary
        if summary["duplicates"] and options["duplicates"] == DUPLICATES_REFUSE:
            return summary
        with transaction.atomic():
            run = ImportRun(
                status=ImportStatus.COMMITTING,
                original_name=path.name[:255],
                size_bytes=read.size,
                sha256=read.sha256,
                detected={**read.metadata(), "assumptions": prepared.assumptions},
                sheet=read.sheet or "",
                mapping=mapping.to_dict(),
            )
            with path.open("rb") as handle:
                run.file.save(path.name, File(handle, name=path.name), save=False)
            run.save()
            written = import_run_write(
                run_id=run.id, prepared=prepared, duplicates=options["duplicates"]
            )
        skipped = summary["duplicates"] if options["duplicates"] == DUPLICATES_SKIP else 0
        summary.update(committed=True, import_run=run.id, records=written, skipped=skipped)
        return summary

    def _print(self, summary: dict[str, Any]) -> None:
        self.stdout.write(
            f"{summary['rows']} rows: {summary['valid']} valid, {summary['invalid']} invalid"
            + (f", {summary['excluded']} excluded by the row filter" if summary["excluded"] else "")
            + "; "
            f"{summary['kg_co2e']:,.3f} kg CO2e"
        )
        for assumption in summary["assumptions"]:
            self.stdout.write(f"  assumed: {assumption['text']} ({assumption['count']} rows)")
        for error in summary["errors"][:50]:
            self.stdout.write(
                f"  row {error['row']}, {error['column']}: {error['message']}"
                + (f" ({error['suggestion']})" if error.get("suggestion") else "")
            )
        if summary["duplicates"]:
            self.stdout.write(
                f"{summary['duplicates']} rows are already in the inventory (same date, activity, "
                "quantity, unit and site)" + ("; skipped." if summary.get("skipped") else ".")
            )
        if summary["committed"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {summary['records']} records (import run {summary['import_run']})."
                )
            )
        elif summary["duplicates"] and not summary["invalid"]:
            self.stdout.write(
                "Nothing was written: choose --duplicates skip (import only the new rows) or "
                "--duplicates import (import them anyway)."
            )
        else:
            self.stdout.write("Nothing was written.")
