"""`python manage.py ingest_factors`: ingest the shipped factor datasets (or one file) and print the report."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from factors.ingest.errors import IngestError
from factors.ingest.mapping import load_mapping
from factors.ingest.report import IngestionReport
from factors.services import (
    factors_ingest,
    factors_ingest_mrio,
    file_override,
    select_mappings,
)


class Command(BaseCommand):
    help = (
        "Ingest emission-factor datasets described by data/mappings/*.yml into the factor library. "
        "Re-running with the same files changes nothing; changed files make a new dataset version."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dataset",
            action="append",
            default=[],
            metavar="KEY",
            help="dataset key (defra_2024) or family (defra); repeatable",
        )
        parser.add_argument("--all", action="store_true", help="every shipped dataset")
        parser.add_argument(
            "--mapping",
            metavar="PATH",
            help="a mapping file that is not shipped (data/mappings/alternates/*.yml, your own)",
        )
        parser.add_argument("--file", help="use this file instead of the shipped one (one dataset)")
        parser.add_argument("--dry-run", action="store_true", help="read and check, write nothing")
        parser.add_argument(
            "--from-mrio", metavar="PATH", help="EXIOBASE 3 release (zip) to compute"
        )
        parser.add_argument(
            "--year", type=int, help="year of the EXIOBASE release (with --from-mrio)"
        )
        parser.add_argument(
            "--gwp-set", default="AR5", help="GWP set for --from-mrio (AR4, AR5, AR6)"
        )
        parser.add_argument("--json", action="store_true", help="print the reports as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        try:
            reports = self._run(options)
        except IngestError as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": exc.as_dict()}))
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"ok": True, "reports": [r.as_dict() for r in reports]}))
        else:
            for report in reports:
                self.stdout.write(report.format_text())

    def _run(self, options: dict[str, Any]) -> list[IngestionReport]:
        datasets: list[str] = options["dataset"]
        if options["from_mrio"]:
            if options["year"] is None:
                raise CommandError("--from-mrio needs --year (e.g. --year 2022)")
            if datasets and datasets != ["exiobase"]:
                raise CommandError(
                    "--from-mrio computes the exiobase dataset: use --dataset exiobase"
                )
            return [
                factors_ingest_mrio(
                    path=options["from_mrio"],
                    year=options["year"],
                    gwp_set=options["gwp_set"],
                    dry_run=options["dry_run"],
                    progress=self._progress,
                )
            ]
        if options["mapping"]:
            if datasets or options["all"]:
                raise CommandError("--mapping reads one dataset: leave out --dataset and --all")
            mappings = [load_mapping(options["mapping"])]
        elif not datasets and not options["all"]:
            raise CommandError("name --dataset KEY (repeatable), --all or --mapping PATH")
        else:
            mappings = select_mappings(None if options["all"] else datasets)
        files = file_override(mappings, options["file"])
        return [
            factors_ingest(
                mapping=m, files=files, dry_run=options["dry_run"], progress=self._progress
            )
            for m in mappings
        ]

    def _progress(self, step: str, fraction: float) -> None:
        if self.verbosity >= 2:
            self.stderr.write(f"{step} ({fraction:.0%})")
