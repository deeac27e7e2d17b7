"""Recompute stored results from their provenance alone and report whether they are equal.

python manage.py replay --tenant acme --run 12
python manage.py replay --tenant acme --record 3456
python manage.py replay --tenant acme --all

Every kind of record replays: imported, edited, re-factored, a supplier's factor, Scope 2
(location- and market-based figures). Exits non-zero listing every record that differs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from emissions.replay import records_replay
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Replay records from their stored provenance (factor, conversion, FX, deflator)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's subdomain (slug)")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--record", type=int, help="one activity record id")
        which.add_argument("--run", type=int, help="every record of one import run")
        which.add_argument("--all", action="store_true", help="every record of the tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with the subdomain {options['tenant']!r}.")
        with schema_context(tenant.schema_name):
            records = ActivityRecord.objects.order_by("id")
            if options["record"] is not None:
                records = records.filter(id=options["record"])
                what = f"record {options['record']}"
            elif options["run"] is not None:
                records = records.filter(import_run_id=options["run"])
                what = f"import run {options['run']}"
            else:
                what = f"tenant {tenant.slug}"
            results = records_replay(records.iterator(chunk_size=2000))
        if not results:
            raise CommandError(f"No records for {what} in {tenant.slug}.")
        differ = [r for r in results if not r.equal]
        for r in differ:
            detail = r.reason or (
                f"stored {r.kg_co2e!r} kg CO2e, replayed {r.replayed!r}"
                + (
                    f"; market-based stored {r.kg_co2e_market!r}, replayed {r.replayed_market!r}"
                    if r.kg_co2e_market is not None
                    else ""
                )
            )
            self.stdout.write(f"record {r.record_id} ({r.kind}): differs: {detail}")
        equal = len(results) - len(differ)
        kinds: dict[str, int] = {}
        for r in results:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        for kind, count in sorted(kinds.items()):
            self.stdout.write(f"  {kind}: {count}")
        self.stdout.write(f"{what}: {equal} of {len(results)} records replay equal")
        if differ:
            raise CommandError(f"{len(differ)} record(s) of {what} do not replay equal.")
