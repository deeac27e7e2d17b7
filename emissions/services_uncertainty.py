"""The inventory's Monte Carlo as a background job: requested whenever the records change (an
import commit, an edit, a deletion, an undo), coalesced to one waiting run per tenant.

The job reads the inventory as cells, one per (factor, scope, category, data-quality tier, year),
with one SQL aggregate: a million records become a few thousand cells, and the engine's Monte
Carlo (emissions.engine.uncertainty) draws each factor once per iteration for every cell that uses
it (records sharing a factor move together). Within a cell the records' activity uncertainties are
independent and are combined by their mean and variance (Fenton-Wilkinson), as the engine does.
Iterations run in chunks with independent seeded streams, so the chunks could be shared between
workers; here one job computes them in turn and reports its progress after each.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from django.db import IntegrityError, transaction
from django.db.models import Count, F, FloatField, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone

from emissions.engine.uncertainty import (
    monte_carlo_chunk,
    monte_carlo_model,
    monte_carlo_summary,
)
from emissions.models import (
    ActivityRecord,
    Scope,
    SupplierFactor,
    UncertaintyResult,
    UncertaintyRun,
    UncertaintyStatus,
)
from emissions.uncertainty_defaults import (
    library_factor_default,
    record_tier_gsd,
    supplier_factor_gsd,
)
from factors.models import EmissionFactor
from factortrace.jobs import enqueue_for_tenant
from factortrace.tenancy import current_schema

logger = logging.getLogger(__name__)

ITERATIONS = 10_000
CHUNK_ITERATIONS = 1_000
_SCOPE_NAMES = {Scope.SCOPE_1: "scope_1", Scope.SCOPE_2: "scope_2", Scope.SCOPE_3: "scope_3"}
ALL_PERIODS = ""


def uncertainty_run_request(*, schema_name: str | None = None) -> UncertaintyRun | None:
    """Ask for a new Monte Carlo of the current tenant once this transaction commits.

    Returns the new waiting run, or None when one is already waiting (it will read the data as it
    is when it starts) or when called outside a tenant.
    """
    schema = schema_name or current_schema()
    if schema == "public":
        return None
    if UncertaintyRun.objects.filter(status=UncertaintyStatus.PENDING).exists():
        return None
    try:
        with transaction.atomic():
            run = UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING)
    except IntegrityError:  # another request created the waiting run meanwhile
        return None
    enqueue_for_tenant(uncertainty_run_job, schema_name=schema, run_id=run.id)
    return run


def inventory_cells() -> pd.DataFrame:
    """The tenant's records (outside-of-scopes ones excluded) summed per (factor, scope, category,
    data-quality tier, year): kg, sum of kg squared and record count per cell."""
    rows = (
        ActivityRecord.objects.exclude(scope=Scope.OUTSIDE)
        .order_by()
        .annotate(year=ExtractYear("date"))
        .values("factor_id", "supplier_factor_id", "scope", "category", "data_quality", "year")
        .annotate(
            kg=Sum("kg_co2e"),
            kg2=Sum(F("kg_co2e") * F("kg_co2e"), output_field=FloatField()),
            records=Count("id"),
        )
    )
    columns = [
        "factor_id",
        "supplier_factor_id",
        "scope",
        "category",
        "data_quality",
        "year",
        "kg",
        "kg2",
        "records",
    ]
    return pd.DataFrame.from_records(list(rows), columns=columns)


def cell_factor_keys(cells: pd.DataFrame) -> pd.Series:
    lib = cells["factor_id"].astype("Int64").astype(str)
    sup = cells["supplier_factor_id"].astype("Int64").astype(str)
    return pd.Series(
        np.where(
            cells["supplier_factor_id"].notna(),
            "sup:" + sup,
            np.where(cells["factor_id"].notna(), "lib:" + lib, "none"),
        ),
        index=cells.index,
    )


def factor_uncertainties(keys: list[str]) -> pd.DataFrame:
    """One row per factor key with the engine's uncertainty columns (published value in
    ``kg_co2e``): a library factor's own distribution, else the documented default by dataset
    family, kind and basis; a supplier factor's stated GSD, else the default."""
    lib_ids = [int(k[4:]) for k in keys if k.startswith("lib:")]
    sup_ids = [int(k[4:]) for k in keys if k.startswith("sup:")]
    rows: dict[str, dict[str, Any]] = {}
    library = EmissionFactor.objects.filter(id__in=lib_ids).values(
        "id",
        "kg_co2e",
        "kind",
        "basis",
        "dataset__family",
        "uncertainty_distribution",
        "uncertainty_sd",
        "uncertainty_low",
        "uncertainty_high",
    )
    for f in library:
        row: dict[str, Any] = {"kg_co2e": f["kg_co2e"]}
        if f["uncertainty_distribution"]:
            row.update(
                uncertainty_distribution=f["uncertainty_distribution"],
                uncertainty_sd=f["uncertainty_sd"],
                uncertainty_low=f["uncertainty_low"],
                uncertainty_high=f["uncertainty_high"],
            )
        else:
            default = library_factor_default(
                family=f["dataset__family"], kind=f["kind"], basis=f["basis"]
            )
            row.update(uncertainty_distribution="lognormal", uncertainty_gsd=default["gsd"])
        rows[f"lib:{f['id']}"] = row
    for s in SupplierFactor.objects.filter(id__in=sup_ids).values(
        "id", "kg_co2e", "uncertainty_gsd"
    ):
        rows[f"sup:{s['id']}"] = {
            "kg_co2e": s["kg_co2e"],
            "uncertainty_distribution": "lognormal",
            "uncertainty_gsd": supplier_factor_gsd(s["uncertainty_gsd"]),
        }
    fallback = library_factor_default(family="", kind="", basis="")
    frame = pd.DataFrame(
        [
            rows.get(
                k,
                {
                    "kg_co2e": 1.0,
                    "uncertainty_distribution": "lognormal",
                    "uncertainty_gsd": fallback["gsd"],
                },
            )
            for k in keys
        ],
        index=pd.Index(keys, name="factor_key"),
    )
    for column in (
        "uncertainty_distribution",
        "uncertainty_gsd",
        "uncertainty_sd",
        "uncertainty_low",
        "uncertainty_high",
    ):
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def engine_frames(
    cells: pd.DataFrame, factors: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The engine's (result, factors, activities) frames for a set of cells.

    A cell is a pseudo-record of ``kg`` kg CO2e at a relative factor of 1: the factor's sampled
    value divided by its published value multiplies the cell (bounds and SDs are rescaled by the
    engine, which reads the published value from ``factors.kg_co2e``). The cell's activity
    uncertainty is the sum of its records' independent lognormals (GSD by data-quality tier),
    matched by mean and variance; a cell that sums to 0 gets a normal of the same variance.
    """
    keys = cell_factor_keys(cells)
    factor_row = pd.Index(factors.index).get_indexer(keys)
    kg = cells["kg"].to_numpy(dtype=np.float64)
    kg2 = cells["kg2"].to_numpy(dtype=np.float64)
    category = pd.to_numeric(cells["category"], errors="coerce").to_numpy(dtype=np.float64)
    result = pd.DataFrame(
        {
            "ok": True,
            "scope": cells["scope"].map(_SCOPE_NAMES).to_numpy(),
            "factor_row": factor_row,
            "quantity": kg,
            "quantity_converted": kg,
            "factor_kg_co2e_per_unit": 1.0,
            "scope3_category": category,
            "kg_co2e": kg,
        }
    )
    tier_gsd = record_tier_gsd()
    sigma2 = np.log(cells["data_quality"].map(tier_gsd).fillna(1.0).to_numpy(np.float64)) ** 2
    variance = kg2 * np.expm1(sigma2)
    nonzero = kg != 0
    ratio = np.divide(variance, kg**2, out=np.zeros_like(kg), where=nonzero)
    activities = pd.DataFrame(
        {
            "uncertainty_distribution": np.where(nonzero, "lognormal", "normal"),
            "uncertainty_gsd": np.where(nonzero, np.exp(np.sqrt(np.log1p(ratio))), np.nan),
            "uncertainty_sd": np.where(nonzero, np.nan, np.sqrt(variance)),
        }
    )
    return result, factors.reset_index(drop=True), activities


def _period_cells(cells: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    years = sorted(int(y) for y in cells["year"].dropna().unique())
    return [(ALL_PERIODS, cells)] + [
        (str(year), cells[cells["year"] == year].reset_index(drop=True)) for year in years
    ]


def _progress(run_id: int, percent: int) -> None:
    UncertaintyRun.objects.filter(id=run_id).update(progress=percent)


def uncertainty_run_job(*, run_id: int, iterations: int = ITERATIONS) -> dict[str, Any]:
    """Claim a waiting run (a conditional UPDATE: a run is computed once), simulate the inventory
    as it is now, whole and per calendar year, and store each scope's interval."""
    claimed = UncertaintyRun.objects.filter(id=run_id, status=UncertaintyStatus.PENDING).update(
        status=UncertaintyStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    if claimed != 1:
        return {"status": "skipped"}
    try:
        results = _simulate(run_id=run_id, iterations=iterations, seed=run_id)
    except Exception:
        logger.exception("uncertainty run failed", extra={"run": run_id})
        UncertaintyRun.objects.filter(id=run_id).update(
            status=UncertaintyStatus.FAILED,
            error="The Monte Carlo failed; the next change of the data runs it again.",
            finished_at=timezone.now(),
        )
        return {"status": "failed"}
    return {"status": "done", "results": results}


def _simulate(*, run_id: int, iterations: int, seed: int) -> int:
    cells = inventory_cells()
    keys = sorted(set(cell_factor_keys(cells))) if len(cells) else []
    factors = factor_uncertainties(keys)
    periods = _period_cells(cells) if len(cells) else []
    chunks = [
        (start, min(CHUNK_ITERATIONS, iterations - start))
        for start in range(0, iterations, CHUNK_ITERATIONS)
    ]
    steps, done = max(1, len(periods) * len(chunks)), 0
    rows: list[UncertaintyResult] = []
    for p, (period, subset) in enumerate(periods):
        result, factor_frame, activities = engine_frames(subset, factors)
        model = monte_carlo_model(result, factor_frame, activities)
        samples = []
        for k, (_start, size) in enumerate(chunks):
            samples.append(monte_carlo_chunk(model, seed=seed * 1000 + p, chunk=k, size=size))
            done += 1
            _progress(run_id, int(100 * done / steps))
        summary = monte_carlo_summary(model, np.concatenate(samples, axis=1))
        rows.extend(
            UncertaintyResult(run_id=run_id, period=period, group=str(group), **values)
            for group, values in summary.to_dict("index").items()
        )
    with transaction.atomic():
        UncertaintyResult.objects.bulk_create(rows)
        UncertaintyRun.objects.filter(id=run_id).update(
            status=UncertaintyStatus.DONE,
            progress=100,
            iterations=iterations,
            seed=seed,
            records=int(cells["records"].sum()) if len(cells) else 0,
            cells=len(cells),
            finished_at=timezone.now(),
        )
    return len(rows)
