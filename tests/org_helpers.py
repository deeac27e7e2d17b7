"""Sites, reporting periods and contracts in a tenant's schema, for view tests and the isolation
matrix."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django_tenants.utils import schema_context


def make_site(schema: str = "acme", **fields: Any) -> Any:
    from emissions.models import Site

    values: dict[str, Any] = {"name": "Werk Ulm", "country": "DE", "aliases": ["Ulm"], **fields}
    with schema_context(schema):
        return Site.objects.create(**values)


def make_period(schema: str = "acme", **fields: Any) -> Any:
    from emissions.models import ReportingPeriod

    values: dict[str, Any] = {
        "name": "FY2024",
        "start": dt.date(2024, 1, 1),
        "end": dt.date(2024, 12, 31),
        "net_revenue": 1_000_000,
        "currency": "EUR",
        **fields,
    }
    with schema_context(schema):
        return ReportingPeriod.objects.create(**values)


def make_instrument(schema: str = "acme", **fields: Any) -> Any:
    from emissions.models import ContractualInstrument

    site = fields.pop("site", None) or make_site(
        schema, name=f"Site {dt.datetime.now(dt.UTC)}", aliases=[]
    )
    values: dict[str, Any] = {
        "kind": "green_tariff",
        "site": site,
        "supplier": "Ökostrom GmbH",
        "start": dt.date(2024, 1, 1),
        "end": dt.date(2024, 12, 31),
        "kg_co2e_per_kwh": 0.0,
        **fields,
    }
    with schema_context(schema):
        return ContractualInstrument.objects.create(**values)


def site_kwargs() -> dict[str, int]:
    return {"site_id": make_site(name=f"Site {dt.datetime.now(dt.UTC)}", aliases=[]).id}


def period_kwargs() -> dict[str, int]:
    return {
        "period_id": make_period(
            name="FY1999", start=dt.date(1999, 1, 1), end=dt.date(1999, 12, 31)
        ).id
    }


def instrument_kwargs() -> dict[str, int]:
    return {"instrument_id": make_instrument().id}
