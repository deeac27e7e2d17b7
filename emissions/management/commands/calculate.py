"""`python manage.py calculate --factor-value 2.51279 --factor-unit 'kg CO2e / L' --quantity 1000
--unit L [--date 2024-03-01] [--fuel ...] [--gwp-set AR5] [--json]`: one activity through the
calculation engine, printed with its provenance.

`--factor <dataset:id>` takes the factor from the factor library through `lookup_factor`, the one
function to replace when the library is wired in; until then it stops with a clear error.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from emissions.engine.calculate import calculate, explain, provenance_of, single_factor
from emissions.engine.errors import EngineError


def lookup_factor(spec: str) -> pd.DataFrame:
    """A one-row factors frame for ``dataset:id`` (the dataset key and the publisher's own id),
    read from the current version of that dataset in the factor library."""
    from emissions.inventory import factor_frame
    from factors.models import EmissionFactor

    dataset, sep, publisher_id = spec.partition(":")
    if not sep or not dataset or not publisher_id:
        raise CommandError(
            f"--factor {spec!r}: write it as dataset:id, e.g. defra_2024:1_101_1011_8_1."
        )
    factor = (
        EmissionFactor.objects.filter(
            dataset__key=dataset, publisher_id=publisher_id, dataset__is_current=True
        )
        .only("id")
        .first()
    )
    if factor is None:
        raise CommandError(
            f"No factor {publisher_id!r} in the current version of {dataset!r}. "
            'Find one with: python manage.py factor_search "diesel"'
        )
    frame = factor_frame(factor_ids=[factor.id])
    frame["factor_key"] = spec
    return frame


class Command(BaseCommand):
    help = "Calculate kg CO2e for one activity quantity and factor, with its provenance."

    def add_arguments(self, parser: ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--factor", help="a library factor as dataset:id")
        source.add_argument(
            "--factor-value", type=float, help="kg CO2e per factor unit, e.g. 2.51279"
        )
        parser.add_argument(
            "--factor-unit", help="with --factor-value, e.g. 'kg CO2e / L', 'lb/MWh'"
        )
        parser.add_argument("--quantity", required=True, help="activity quantity, e.g. 1000")
        parser.add_argument(
            "--unit", required=True, help="activity unit, e.g. L, kWh (Gross CV), GBP"
        )
        parser.add_argument("--date", help="transaction date (YYYY-MM-DD), for spend")
        parser.add_argument(
            "--fuel",
            help="fuel for density and calorific values, e.g. 'Diesel (average biofuel blend)'",
        )
        parser.add_argument("--gwp-set", default="AR5", help="AR4, AR5 (default) or AR6")
        parser.add_argument("--correction", action="store_true", help="allow a negative quantity")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = bool(options["json"])
        try:
            if options["factor"]:
                factors = lookup_factor(options["factor"])
            else:
                if not options["factor_unit"]:
                    raise CommandError("--factor-value needs --factor-unit, e.g. 'kg CO2e / L'.")
                factors = single_factor(options["factor_value"], options["factor_unit"], key="cli")
            activity = pd.DataFrame(
                [
                    {
                        "quantity": options["quantity"],
                        "unit": options["unit"],
                        "factor_key": factors["factor_key"].iloc[0],
                        "date": options["date"],
                        "fuel": options["fuel"],
                        "is_correction": bool(options["correction"]),
                    }
                ]
            )
            result = calculate(activity, factors, gwp_set=options["gwp_set"])
        except EngineError as exc:
            self._fail(exc.to_dict(), as_json)
            return
        row = result.iloc[0]
        if not bool(row["ok"]):
            self._fail(row["error"], as_json)
            return
        if as_json:
            payload = {
                "ok": True,
                "kg_co2e": float(row["kg_co2e"]),
                "by_gas_kg_co2e": {
                    gas: None if pd.isna(row[f"{gas}_kg_co2e"]) else float(row[f"{gas}_kg_co2e"])
                    for gas in ("co2", "ch4", "n2o", "other")
                },
                "provenance": provenance_of(result, result.index[0]),
                "explanation": explain(result, result.index[0]),
            }
            self.stdout.write(json.dumps(payload, default=str))
            return
        self.stdout.write(f"{float(row['kg_co2e']):,.6g} kg CO2e")
        self.stdout.write(explain(result, result.index[0]))

    def _fail(self, error: dict[str, Any], as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"ok": False, "error": error}, default=str))
        parts = [error.get("message") or "", error.get("suggestion") or ""]
        if error.get("expected"):
            parts.insert(1, f"Expected: {error['expected']}.")
        raise CommandError(" ".join(p for p in parts if p))
