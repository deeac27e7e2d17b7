"""`python manage.py factor_search "diesel" [--region GB] [--unit L] [--year 2024] [--tenant acme] [--json]`.

Ranks exactly as the import wizard does: the same activity text (numbers dropped), the same
matcher, and with `--tenant` that tenant's supplier factors, which the wizard prefers.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from emissions.engine.errors import EngineError
from factors.matching import activity_text, match_factors


class Command(BaseCommand):
    help = "Rank library factors for an activity description, with the reason for each."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("description", help="what the activity is, e.g. 'diesel' or 'Strom'")
        parser.add_argument("--region", help="ISO 3166 alpha-2 code (GB, DE, US) or GLOBAL")
        parser.add_argument("--unit", help="the activity's unit (L, kWh, kg, EUR...)")
        parser.add_argument("--year", type=int)
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument(
            "--tenant", help="include this tenant's supplier factors (subdomain), as the wizard"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = match_factors(
                description=activity_text(options["description"]),
                unit=options["unit"],
                region=options["region"],
                year=options["year"],
                limit=options["limit"],
                extra_candidates=_supplier_candidates(options["tenant"]),
            )
        except EngineError as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": exc.to_dict()}))
            raise CommandError(f"{exc.message} {exc.suggestion or ''}".strip()) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"ok": True, "candidates": [c.as_dict() for c in found]}))
            return
        if not found:
            self.stdout.write("no matching factor")
        for rank, candidate in enumerate(found, start=1):
            f = candidate.factor
            self.stdout.write(
                f"{rank:>2}. {f.kg_co2e:.6g} kg CO2e/{f.unit}  {f.name}  [{f.region}, "
                f"{f.dataset_key} v{f.dataset_version} {f.publisher_id}]"
            )
            self.stdout.write(f"    {'; '.join(candidate.reasons)}")


def _supplier_candidates(slug: str | None) -> list[Any]:
    if not slug:
        return []
    from django_tenants.utils import schema_context

    from emissions.selectors import supplier_factor_candidates
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(slug=slug).exclude(schema_name="public").first()
    if tenant is None:
        raise CommandError(f"No tenant with the subdomain {slug!r}.")
    with schema_context(tenant.schema_name):
        return list(supplier_factor_candidates())
