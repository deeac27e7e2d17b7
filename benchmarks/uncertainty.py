"""The inventory's Monte Carlo at scale: N records x 10,000 iterations, as the background job runs it.

    .venv/bin/python scripts/services.py exec -- .venv/bin/python benchmarks/uncertainty.py
    ... benchmarks/uncertainty.py --records 200000 --factors 500 --iterations 2000

On a tenant ``benchmc`` (created if missing; its records are removed after): N records over three
calendar years on F supplier factors (each with its own GSD; scopes 1-3, the 15 Scope 3
categories, the four data-quality tiers) are written with one INSERT ... SELECT, then the job runs
(claim, one SQL aggregate into cells, the Monte Carlo of the whole inventory and of each year in
chunks of 1,000 iterations, results stored). Prints the stage times and the time of one chunk (the
unit several workers share; ``--share`` runs the run as chunk jobs, one after the other here);
the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from benchmarks.tenant import bench_tenant  # noqa: E402
from emissions.engine.uncertainty import monte_carlo_chunk, monte_carlo_model  # noqa: E402
from emissions.models import (  # noqa: E402
    ActivityRecord,
    SupplierFactor,
    UncertaintyRun,
    UncertaintyStatus,
)
from emissions.services_uncertainty import (  # noqa: E402
    CHUNK_ITERATIONS,
    cell_factor_keys,
    engine_frames,
    factor_uncertainties,
    inventory_cells,
    uncertainty_run_job,
)

BENCH_SLUG = "benchmc"
TIERS = ("metered", "invoiced", "estimated", "spend_based")


def _ensure_tenant() -> str:
    return bench_tenant(
        BENCH_SLUG, company="Monte Carlo Benchmark GmbH", email="benchmc@bench.example"
    )


def _clean() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ActivityRecord._meta.db_table}")
    UncertaintyRun.objects.all().delete()
    SupplierFactor.objects.all().delete()


def _write(records: int, factors: int) -> None:
    SupplierFactor.objects.bulk_create(
        SupplierFactor(
            name=f"Factor {i}",
            scope=1 + i % 3,
            category=(1 + i % 15) if i % 3 == 2 else None,
            unit="kg",
            kg_co2e=0.5 + (i % 17) / 10,
            uncertainty_gsd=(1.02 + (i % 40) / 40) if i % 5 else None,  # some use the default
            source_note="benchmark",
        )
        for i in range(factors)
    )
    ids = list(SupplierFactor.objects.order_by("id").values_list("id", "scope", "category"))
    table = ActivityRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_factors (n int, id bigint, scope int, category int)"
        )
        cursor.executemany(
            "INSERT INTO bench_factors VALUES (%s, %s, %s, %s)",
            [(n, i, s, c) for n, (i, s, c) in enumerate(ids)],
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (date, activity, site, supplier, country, notes, is_correction,
                quantity, unit, currency, scope, category, tier, data_quality, supplier_factor_id,
                factor_version, gwp_set, kg_co2e, market_basis, provenance)
            SELECT DATE '2022-01-01' + (g %% 1095), 'Activity ' || (g %% 997), 'Site ' || (g %% 20),
                '', '', '', false, 1 + (g %% 1000), 'kg', '', f.scope, f.category, 'primary',
                (%s::text[])[1 + (g / 7) %% 4], f.id, 'supplier', 'AR5', (1 + (g %% 1000)) * 0.7, '', '{{}}'
            FROM generate_series(0, %s - 1) AS g
            JOIN bench_factors f ON f.n = (g::bigint * 7919) %% %s
            """,
            [list(TIERS), records, len(ids)],
        )
        cursor.execute("DROP TABLE bench_factors")
        cursor.execute(f"ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--factors", type=int, default=2_000)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="leave the records in place")
    parser.add_argument(
        "--share",
        action="store_true",
        help="split the run into chunk jobs (run here one after the other, as one worker would)",
    )
    args = parser.parse_args()
    schema = _ensure_tenant()
    with schema_context(schema):
        _clean()
        start = time.perf_counter()
        _write(args.records, args.factors)
        write_s = time.perf_counter() - start
        print(f"wrote {args.records:,} records in {write_s:.1f} s", flush=True)

        # The stages on their own, for the breakdown.
        start = time.perf_counter()
        cells = inventory_cells()
        aggregate_s = time.perf_counter() - start
        factors = factor_uncertainties(sorted(set(cell_factor_keys(cells))))
        model = monte_carlo_model(*engine_frames(cells, factors))
        start = time.perf_counter()
        monte_carlo_chunk(model, seed=1, chunk=0, size=CHUNK_ITERATIONS)
        chunk_s = time.perf_counter() - start

        # The job as the worker runs it: claim, aggregate, simulate every period, store.
        run = UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING)
        settings.JOBS_IN_PROCESS = True  # shared chunks run here, in turn
        start = time.perf_counter()
        uncertainty_run_job(
            run_id=run.id, iterations=args.iterations, share=True if args.share else None
        )
        job_s = time.perf_counter() - start
        run.refresh_from_db()
        total = run.results.get(period="", group="total")
        periods = sorted({r.period for r in run.results.all()})
        if not args.keep:
            _clean()
    report = {
        "benchmark": "uncertainty",
        "records": args.records,
        "factors": args.factors,
        "iterations": args.iterations,
        "shared_in_chunk_jobs": bool(args.share),
        "status": run.status,
        "cells": run.cells,
        "periods": len(periods),
        "write_s": round(write_s, 2),
        "aggregate_s": round(aggregate_s, 2),
        "chunk_of_1000_iterations_s": round(chunk_s, 3),
        "job_s": round(job_s, 2),
        "limit_s": 30,
        "within_limit": job_s <= 30,
        "total_kg": round(total.deterministic, 1),
        "total_p2_5_kg": round(total.p2_5, 1),
        "total_p97_5_kg": round(total.p97_5, 1),
    }
    print(
        f"job: {job_s:.1f} s for {args.records:,} records x {args.iterations:,} iterations "
        f"({run.cells:,} cells, {len(periods)} periods: whole inventory + each year); "
        f"SQL aggregate {aggregate_s:.1f} s; one chunk of {CHUNK_ITERATIONS:,} iterations "
        f"{chunk_s:.2f} s"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
