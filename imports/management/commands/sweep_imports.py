"""Fail the commits whose job died (worker killed, machine restarted), in every tenant.

    python manage.py sweep_imports

A committing import renews its lease while its job runs; one whose lease ran out is marked failed
with the reason, retryable, nothing written (its transaction died with it). The progress page
sweeps its own tenant on every poll and each worker sweeps every minute
(settings.WORKER_MAINTENANCE_TASKS); this command is for cron where no worker runs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from imports.jobs import import_runs_sweep_all


class Command(BaseCommand):
    help = "Mark import commits whose job died as failed (retryable)."

    def handle(self, *args: Any, **options: Any) -> None:
        swept = import_runs_sweep_all()
        for schema, n in swept.items():
            self.stdout.write(f"{schema}: {n} import(s) marked failed")
        self.stdout.write(f"{sum(swept.values())} stale import(s) marked failed.")
