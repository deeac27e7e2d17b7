"""A tenant's inventory from the command line, through the same selector as the activities page.

python manage.py inventory --tenant acme
python manage.py inventory --tenant acme --year 2024 --json
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from emissions.selectors_activities import ActivityFilters
from emissions.selectors_inventory import (
    DIMENSIONS,
    inventory_breakdown,
    inventory_totals,
    inventory_uncertainty,
)
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Print a tenant's inventory: totals by scope (Scope 2 both ways) and breakdowns."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's subdomain (slug)")
        parser.add_argument("--year", type=int, help="only records dated in this calendar year")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"No tenant with the subdomain {options['tenant']!r}.")
        year = options.get("year")
        if year is not None and not 1900 <= year <= 2200:
            raise CommandError(f"--year {year}: give a calendar year such as 2024.")
        filters = (
            ActivityFilters(date_from=dt.date(year, 1, 1), date_to=dt.date(year, 12, 31))
            if year
            else ActivityFilters()
        )
        with schema_context(tenant.schema_name):
            totals = inventory_totals(filters=filters)
            breakdowns = {by: inventory_breakdown(by=by, filters=filters) for by in DIMENSIONS}
            uncertainty = inventory_uncertainty(period=str(year) if year else "")
        intervals = {
            name: {"p2_5": r.p2_5, "p97_5": r.p97_5, "deterministic": r.deterministic}
            for name, r in uncertainty.groups.items()
        }
        if options["json"]:
            payload = {
                "tenant": tenant.slug,
                "year": year,
                "totals_kg": asdict(totals),
                **{
                    f"by_{by}": [
                        {
                            "key": str(r.key) if r.key is not None else None,
                            "label": r.label,
                            "records": r.records,
                            "location_kg": r.location,
                            "market_kg": r.market,
                        }
                        for r in rows
                    ]
                    for by, rows in breakdowns.items()
                },
                "uncertainty_95_kg": intervals,
            }
            self.stdout.write(json.dumps(payload))
            return
        out = self.stdout.write
        out(f"{tenant.slug}{f' {year}' if year else ''}: {totals.records:,} records (kg CO2e)")
        out(f"  Total, Scope 2 location-based  {totals.location:,.3f}")
        out(f"  Total, Scope 2 market-based    {totals.market:,.3f}")
        out(f"  Scope 1                        {totals.scope_1:,.3f}")
        out(f"  Scope 2 location-based         {totals.scope_2_location:,.3f}")
        out(f"  Scope 2 market-based           {totals.scope_2_market:,.3f}")
        out(f"  Scope 3                        {totals.scope_3:,.3f}")
        out(f"  Outside of scopes              {totals.outside:,.3f}")
        for by, rows in breakdowns.items():
            out(f"By {by.replace('_', ' ')} (location-based / market-based):")
            for r in rows:
                out(f"  {r.label:<40} {r.location:>16,.3f} {r.market:>16,.3f}  ({r.records:,})")
        if intervals:
            out(f"95 % interval (Monte Carlo of {uncertainty.computed_at:%Y-%m-%d %H:%M}):")
            for name, i in intervals.items():
                out(f"  {name:<20} {i['p2_5']:,.3f} - {i['p97_5']:,.3f}")
