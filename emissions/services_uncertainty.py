"""The inventory's Monte Carlo as a background job: requested whenever the records change (an
import commit, an edit, a deletion, an undo), coalesced to one waiting run per tenant.

The job reads the inventory as cells, one per (factor, scope, category, data-quality tier, year),
with one SQL aggregate: a million records become a few thousand cells, and the engine's Monte
Carlo (emissions.engine.uncertainty) draws each factor once per iteration for every cell that uses
it (records sharing a factor move together). Within a cell the records' activity uncertainties are
independent and are combined by their mean and variance (Fenton-Wilkinson), as the engine does.
Iterations run in chunks with independent seeded streams: one job computes them in turn and
reports its progress after each, or, for a large inventory, queues each chunk as a job of its own
that any worker takes (the same seed gives the same numbers either way).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
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
from emissions.factor_keys import (
    LIBRARY,
    SUPPLIER,
    factor_key_id,
    is_library_key,
    is_supplier_key,
    library_key,
    supplier_key,
)
from emissions.models import (
    ActivityRecord,
    Scope,
    SupplierFactor,
    UncertaintyChunk,
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
# Above this many cell-iterations (cells x iterations x periods) the chunks are queued as separate
# jobs that several workers share; below it one job computes them in turn (1M records on 2,000
# factors make about 24,000 cells: 10,000 iterations x 4 periods take about 12 s in one job).
SHARE_CELL_ITERATIONS = 2_000_000_000
_SCOPE_NAMES = {Scope.SCOPE_1: "scope_1", Scope.SCOPE_2: "scope_2", Scope.SCOPE_3: "scope_3"}
ALL_PERIODS = ""
# A run still waiting this long after it was requested has lost its job.
STALE_AFTER = dt.timedelta(minutes=30)


def uncertainty_run_request(*, schema_name: str | None = None) -> UncertaintyRun | None:
    """Ask for a new Monte Carlo of the current tenant once this transaction commits.

    Returns the new waiting run, or None when one is already waiting (it will read the data as it
    is when it starts) or when called outside a tenant.
    """
    schema = schema_name or current_schema()
    if schema == "public":
        return None
    waiting = UncertaintyRun.objects.filter(status=UncertaintyStatus.PENDING).first()
    if waiting is not None:
        if waiting.requested_at < timezone.now() - STALE_AFTER:
            # Its job was lost (a queue flushed): queue it again; the claim runs it once.
            enqueue_for_tenant(uncertainty_run_job, schema_name=schema, run_id=waiting.id)
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
            SUPPLIER + sup,
            np.where(cells["factor_id"].notna(), LIBRARY + lib, "none"),
        ),
        index=cells.index,
    )


def factor_uncertainties(keys: list[str]) -> pd.DataFrame:
    """One row per factor key with the engine's uncertainty columns (published value in
    ``kg_co2e``): a library factor's own distribution, else the documented default by dataset
    family, kind and basis; a supplier factor's stated GSD, else the default."""
    lib_ids = [factor_key_id(k) for k in keys if is_library_key(k)]
    sup_ids = [factor_key_id(k) for k in keys if is_supplier_key(k)]
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
        rows[library_key(f["id"])] = row
    for s in SupplierFactor.objects.filter(id__in=sup_ids).values(
        "id", "kg_co2e", "uncertainty_gsd"
    ):
        rows[supplier_key(s["id"])] = {
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


def _chunks(iterations: int) -> list[int]:
    """Sizes of the iteration chunks (each drawn from its own seeded stream)."""
    return [
        min(CHUNK_ITERATIONS, iterations - start)
        for start in range(0, iterations, CHUNK_ITERATIONS)
    ]


def _fail(run_id: int) -> dict[str, Any]:
    logger.exception("uncertainty run failed", extra={"run": run_id})
    UncertaintyRun.objects.filter(id=run_id).exclude(status=UncertaintyStatus.DONE).update(
        status=UncertaintyStatus.FAILED,
        error="The Monte Carlo failed; the next change of the data runs it again.",
        finished_at=timezone.now(),
    )
    UncertaintyChunk.objects.filter(run_id=run_id).delete()
    return {"status": "failed"}


class _Inputs:
    """What every chunk of a run reads: the cells and the factor distributions, frozen at start."""

    def __init__(self, cells: pd.DataFrame, factors: pd.DataFrame) -> None:
        self.cells, self.factors = cells, factors
        self.periods = _period_cells(cells) if len(cells) else []

    def model(self, period: int) -> Any:
        return monte_carlo_model(*engine_frames(self.periods[period][1], self.factors))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("cells.parquet", self.cells.to_parquet())
            archive.writestr("factors.parquet", self.factors.to_parquet())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> _Inputs:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            cells = pd.read_parquet(io.BytesIO(archive.read("cells.parquet")))
            factors = pd.read_parquet(io.BytesIO(archive.read("factors.parquet")))
        return cls(cells, factors)


def uncertainty_run_job(
    *, run_id: int, iterations: int = ITERATIONS, share: bool | None = None
) -> dict[str, Any]:
    """Claim a waiting run (a conditional UPDATE: a run is computed once), read the inventory as it
    is now, simulate it whole and per calendar year, and store each scope's interval.

    A large inventory (``share``; by default above SHARE_CELL_ITERATIONS) is split: its inputs are
    frozen on the run and each chunk of iterations is queued as its own job, for any worker.
    """
    claimed = UncertaintyRun.objects.filter(id=run_id, status=UncertaintyStatus.PENDING).update(
        status=UncertaintyStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    if claimed != 1:
        return {"status": "skipped"}
    try:
        run = UncertaintyRun.objects.get(id=run_id)
        seed = run.seed or run.id
        cells = inventory_cells()
        keys = sorted(set(cell_factor_keys(cells))) if len(cells) else []
        inputs = _Inputs(cells, factor_uncertainties(keys))
        chunks = _chunks(iterations)
        work = len(cells) * iterations * max(1, len(inputs.periods))
        if inputs.periods and (share or (share is None and work > SHARE_CELL_ITERATIONS)):
            return _share(run_id, inputs, chunks, seed)
        total = max(1, len(inputs.periods) * len(chunks))
        summaries = []
        for p in range(len(inputs.periods)):
            model = inputs.model(p)
            samples = []
            for k, size in enumerate(chunks):
                samples.append(monte_carlo_chunk(model, seed=seed * 1000 + p, chunk=k, size=size))
                _progress(run_id, int(100 * (p * len(chunks) + k + 1) / total))
            summaries.append(monte_carlo_summary(model, np.concatenate(samples, axis=1)))
        stored = _store(run_id, inputs, summaries, iterations=iterations, seed=seed)
    except Exception:
        return _fail(run_id)
    return {"status": "done", "results": stored}


def _share(run_id: int, inputs: _Inputs, chunks: list[int], seed: int) -> dict[str, Any]:
    schema = current_schema()
    with transaction.atomic():
        UncertaintyRun.objects.filter(id=run_id).update(
            inputs=inputs.to_bytes(),
            chunks_total=len(inputs.periods) * len(chunks),
            iterations=sum(chunks),
            seed=seed,
        )
        for p in range(len(inputs.periods)):
            for k, size in enumerate(chunks):
                enqueue_for_tenant(
                    uncertainty_chunk_job,
                    schema_name=schema,
                    run_id=run_id,
                    period=p,
                    chunk=k,
                    size=size,
                )
    return {"status": "shared", "chunks": len(inputs.periods) * len(chunks)}


def uncertainty_chunk_job(*, run_id: int, period: int, chunk: int, size: int) -> dict[str, Any]:
    """One chunk of a shared run: its samples stored; the last chunk in summarises the run."""
    run = UncertaintyRun.objects.filter(id=run_id, status=UncertaintyStatus.RUNNING).first()
    if run is None or run.inputs is None:
        return {"status": "skipped"}
    try:
        inputs = _Inputs.from_bytes(bytes(run.inputs))
        model = inputs.model(period)
        samples = monte_carlo_chunk(model, seed=run.seed * 1000 + period, chunk=chunk, size=size)
        UncertaintyChunk.objects.bulk_create(
            [
                UncertaintyChunk(
                    run_id=run_id, period=period, chunk=chunk, samples=samples.tobytes()
                )
            ],
            ignore_conflicts=True,  # a chunk computed twice keeps its first (identical) samples
        )
        with transaction.atomic():
            locked = UncertaintyRun.objects.select_for_update().get(id=run_id)
            done = UncertaintyChunk.objects.filter(run_id=run_id).count()
            if locked.status != UncertaintyStatus.RUNNING:
                return {"status": "skipped"}
            if done < locked.chunks_total:
                locked.progress = int(100 * done / locked.chunks_total)
                locked.save(update_fields=["progress"])
                return {"status": "chunk", "done": done}
            summaries = []
            for p in range(len(inputs.periods)):
                p_model = inputs.model(p)
                stored = UncertaintyChunk.objects.filter(run_id=run_id, period=p).order_by("chunk")
                totals = np.concatenate(
                    [
                        np.frombuffer(bytes(c.samples)).reshape(len(p_model.groups), -1)
                        for c in stored
                    ],
                    axis=1,
                )
                summaries.append(monte_carlo_summary(p_model, totals))
            results = _store(
                run_id, inputs, summaries, iterations=locked.iterations, seed=locked.seed
            )
            UncertaintyChunk.objects.filter(run_id=run_id).delete()
            UncertaintyRun.objects.filter(id=run_id).update(inputs=None)
    except Exception:
        return _fail(run_id)
    return {"status": "done", "results": results}


def _store(
    run_id: int, inputs: _Inputs, summaries: list[pd.DataFrame], *, iterations: int, seed: int
) -> int:
    rows = [
        UncertaintyResult(run_id=run_id, period=period, group=str(group), **values)
        for (period, _cells), summary in zip(inputs.periods, summaries, strict=True)
        for group, values in summary.to_dict("index").items()
    ]
    cells = inputs.cells
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
