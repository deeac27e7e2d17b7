"""Everything `make run` does before serving, in one process: migrate, static files, factor library, demo."""

from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from factors.models import FactorDataset


class Command(BaseCommand):
    help = "Migrate every schema, collect static files, ingest the shipped factor datasets once, bootstrap the demo."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        call_command("migrate_schemas", executor="standard", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not FactorDataset.objects.exists():
            self.stdout.write("Ingesting the shipped factor datasets (first start only)...")
            call_command("ingest_factors", all=True, stdout=self.stdout)
        call_command("bootstrap_demo", stdout=self.stdout)
        self.stdout.write(f"Ready in {time.monotonic() - started:.1f} s.")
