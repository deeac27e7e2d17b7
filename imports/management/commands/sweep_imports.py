"""Fail the commits whose job died (worker killed, machine restarted), in every tenant.

    python manage.py sweep_imports        # e.g. every minute from cron

A committing import renews its lease while its job runs; one whose lease ran out is marked failed
with the reason, retryable, nothing written (its transaction died with it). The progress page
sweeps its own tenant on every poll; this command covers the runs nobody is watching.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context

from imports.services import import_runs_sweep
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Mark import commits whose job died as failed (retryable)."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        schemas = Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list(
            "schema_name", flat=True
        )
        for schema in schemas:
            with schema_context(schema):
                swept = import_runs_sweep()
            if swept:
                self.stdout.write(f"{schema}: {swept} import(s) marked failed")
            total += swept
        self.stdout.write(f"{total} stale import(s) marked failed.")
