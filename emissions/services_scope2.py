"""Scope 2 market-based figures of a site's records, allocated together.

A contractual instrument covers a site's consumption in its period, whatever import (or edit)
each record came from: its MWh go to the site's electricity (or heat) records in date order,
first kWh first (``emissions.engine.scope2``). Whenever those records or the site's contracts
change (an import committed or undone, a record edited or deleted, a contract added, changed or
deleted) ``scope2_market_reallocate`` recomputes the market-based figure of every record of the
site the change can move, and its provenance's ``scope2_market`` detail, in the caller's
transaction. The location-based figure is never touched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from emissions.models import ActivityRecord, ContractualInstrument
from emissions.provenance import read
from emissions.replay import kwh_in, record_quantity
from emissions.scope2 import CARRIER_OF_KIND, market_of, stated_rate
from emissions.selectors_org import site_key, site_names
from factortrace.tenancy import current_schema

logger = logging.getLogger(__name__)


def scope2_sites_of(*, site_texts: Iterable[str]) -> set[int]:
    """The Site ids that these site names or aliases (as records carry them) mean."""
    names = site_names()
    return {site.id for text in site_texts if (site := names.get(site_key(text))) is not None}


def scope2_sites_of_run(*, run_id: int) -> set[int]:
    """The sites an import run's Scope 2 records belong to."""
    texts = (
        ActivityRecord.objects.filter(import_run_id=run_id, scope=2, line_kind="main")
        .exclude(site="")
        .values_list("site", flat=True)
        .distinct()
    )
    return scope2_sites_of(site_texts=texts)


def _lock() -> None:
    """One allocation of a tenant at a time (a transaction-level advisory lock): two changes of
    one site's records or contracts never interleave their reads and writes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"scope2.allocation:{current_schema()}"],
        )


@transaction.atomic
def scope2_market_reallocate(*, site_ids: Iterable[int], site_texts: Iterable[str] = ()) -> int:
    """Recompute the market-based figure of the sites' Scope 2 electricity and heat records that
    a contract covers or covered (dated in a contract's period, or naming a contract), allocating
    each capped contract's MWh over all of them in date order. Returns the records changed.

    ``site_texts``: names the sites had before a rename or an alias removed; records carrying
    them belong to another site now, or to none, and are recomputed as such."""
    ids = {int(i) for i in site_ids}
    former = {site_key(t) for t in site_texts}
    if not ids:
        return 0
    _lock()
    names = site_names()
    texts = [
        text
        for text in ActivityRecord.objects.filter(scope=2, line_kind="main")
        .exclude(site="")
        .values_list("site", flat=True)
        .distinct()
        if ((site := names.get(site_key(text))) is not None and site.id in ids)
        or site_key(text) in former
    ]
    if not texts:
        return 0
    periods = Q()
    for start, end in ContractualInstrument.objects.filter(site_id__in=ids).values_list(
        "start", "end"
    ):
        periods |= Q(date__gte=start, date__lte=end)
    covered_before = Q(provenance__scope2_market__has_key="instrument_id") | Q(
        provenance__scope2_market__has_key="supplier_rate_instrument_id"
    )
    records = list(
        ActivityRecord.objects.filter(
            scope=2,
            line_kind="main",
            site__in=texts,
            factor_id__isnull=False,
            supplier_factor_id__isnull=True,
        )
        .filter(periods | covered_before)
        .select_for_update()
        .order_by("date", "id")
    )
    return _recompute(records, names)


def _recompute(records: list[ActivityRecord], names: dict[str, Any]) -> int:
    from factors.models import EmissionFactor
    from imports.models import ImportRun

    if not records:
        return 0
    kinds = dict(
        EmissionFactor.objects.filter(id__in={r.factor_id for r in records}).values_list(
            "id", "kind"
        )
    )
    records = [r for r in records if kinds.get(r.factor_id or 0, "") in CARRIER_OF_KIND]
    calculations = {
        run_id: stored or {}
        for run_id, stored in ImportRun.objects.filter(
            id__in={r.import_run_id for r in records if r.import_run_id}
        ).values_list("id", "detected__calculations")
    }
    rows: list[dict[str, Any]] = []
    kept: list[ActivityRecord] = []
    for record in records:
        runs = calculations.get(record.import_run_id or 0, {})
        reading = read(record.provenance, runs.get)
        calc = reading.calculation
        quantity = record_quantity(record)
        if calc is None or quantity is None:
            # Nothing to allocate it by (a record put in by hand): it keeps its figure.
            logger.warning("scope 2 record without a calculation", extra={"record": record.id})
            continue
        detail = reading.scope2_market or {}
        conversion = calc.get("conversion") or {}
        per_unit = detail.get("kwh_per_unit")
        if per_unit is None:
            per_unit = kwh_in(
                str(conversion.get("to") or "") or str(reading.factor.get("unit") or "")
            )
        if per_unit is None:
            continue
        multiplier = float(conversion.get("multiplier", 1.0))
        site = names.get(site_key(record.site))
        rows.append(
            {
                # As emissions.replay computes it, so a stored figure replays equal.
                "kwh": float(quantity) * multiplier * float(per_unit),
                "kwh_per_unit": float(per_unit),
                "location_kg": record.kg_co2e,
                "site": site.id if site is not None else -1,
                "day": np.datetime64(record.date, "D"),
                "region": reading.region or record.country or "GLOBAL",
                "year": record.date.year,
                "carrier": CARRIER_OF_KIND[kinds[record.factor_id or 0]],
                "stated": stated_rate(detail),
                "order": record.id,
            }
        )
        kept.append(record)
    if not kept:
        return 0
    frame = pd.DataFrame(rows)
    result, details = market_of(
        kwh=frame["kwh"].to_numpy(dtype="float64"),
        kwh_per_unit=frame["kwh_per_unit"].to_numpy(dtype="float64"),
        location_kg=frame["location_kg"].to_numpy(dtype="float64"),
        site=frame["site"].to_numpy(dtype="int64"),
        day=frame["day"].to_numpy(dtype="datetime64[D]"),
        regions=frame["region"].astype(str),
        years=frame["year"].astype("int64"),
        carrier=frame["carrier"].to_numpy(dtype=object),
        supplier_rate=frame["stated"].to_numpy(dtype="float64"),
        order=frame["order"].to_numpy(dtype="int64"),
    )
    changed: list[ActivityRecord] = []
    now = timezone.now()
    for record, kg, basis, text in zip(kept, result.kg_co2e, result.basis, details, strict=True):
        detail = json.loads(text)
        provenance = dict(record.provenance or {})
        if (
            record.kg_co2e_market == float(kg)
            and record.market_basis == str(basis)
            and provenance.get("scope2_market") == detail
        ):
            continue
        record.kg_co2e_market = float(kg)
        record.market_basis = str(basis)
        provenance["scope2_market"] = detail
        record.provenance = provenance
        record.updated_at = now
        changed.append(record)
    ActivityRecord.objects.bulk_update(
        changed, ["kg_co2e_market", "market_basis", "provenance", "updated_at"], batch_size=1000
    )
    return len(changed)
