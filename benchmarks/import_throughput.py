"""End-to-end import throughput: a realistic N-row supplier CSV -> committed, calculated records.

    .venv/bin/python scripts/services.py exec -- .venv/bin/python benchmarks/import_throughput.py
    ... benchmarks/import_throughput.py --rows 200000 --xlsx-rows 100000

Runs, in one process, on a tenant ``bench`` (created if missing; its records are removed after):
1. the whole pipeline: read + detect + map + normalise + validate + factor matching for every
   distinct activity + engine calculation + one COPY of the records in one transaction;
2. the baseline: ``pandas.read_csv`` of the same file + COPY of its raw columns into a table.
Prints rows/s, peak RSS and the ratio of the two times; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")
# A million generated rows make an 80 MB file, above the upload default of 50 MB.
os.environ.setdefault("IMPORT_MAX_BYTES", str(512 * 1024 * 1024))

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from benchmarks.pipeline import generate_csv, generate_xlsx  # noqa: E402
from emissions.models import ActivityRecord  # noqa: E402
from factors.models import FactorDataset  # noqa: E402
from factors.services import available_mappings, factors_ingest  # noqa: E402
from imports.models import FactorChoice, ImportRun, ImportStatus  # noqa: E402
from imports.pipeline import suggest_mapping  # noqa: E402
from imports.services import (  # noqa: E402
    count_duplicates,
    import_run_write,
    prepare,
    read_source,
)
from tenants.models import Tenant  # noqa: E402
from tenants.services import tenant_create  # noqa: E402

BENCH_SLUG = "bench"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ensure_setup() -> None:
    if not FactorDataset.objects.exists():
        print("ingesting the shipped factor datasets (once)...", flush=True)
        for mapping in available_mappings():
            factors_ingest(mapping=mapping)
    if not Tenant.objects.filter(slug=BENCH_SLUG).exists():
        tenant_create(
            company_name="Benchmark GmbH",
            slug=BENCH_SLUG,
            owner_name="Bench",
            owner_email="bench@bench.example",
            owner_password="bench-password-not-used",  # noqa: S106 (a benchmark tenant nobody signs in to)
        )


def _clean() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ActivityRecord._meta.db_table}")
    ImportRun.objects.all().delete()
    FactorChoice.objects.all().delete()


def run_pipeline(path: Path) -> dict[str, float]:
    """The import as the commit job does it, timed by stage."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    read = read_source(path, filename=path.name, sheet=None, header_row=None)
    timings["read_s"] = time.perf_counter() - start
    mapping = suggest_mapping(read.headers, read.frame.head(200)).mapping
    stage = time.perf_counter()
    prepared = prepare(read, mapping)
    timings["validate_match_calculate_s"] = time.perf_counter() - stage
    stage = time.perf_counter()
    with transaction.atomic():
        run = ImportRun.objects.create(
            status=ImportStatus.COMMITTING,
            original_name=path.name,
            size_bytes=read.size,
            sha256=read.sha256,
            mapping=mapping.to_dict(),
        )
        written = import_run_write(run_id=run.id, prepared=prepared)
    timings["write_s"] = time.perf_counter() - stage
    timings["total_s"] = time.perf_counter() - start
    # Outside the total: the duplicate check of the same rows against the inventory they are now
    # in (every row found), the worst case of a second import of one file.
    stage = time.perf_counter()
    timings["duplicates_found"] = count_duplicates(prepared)[1]
    timings["duplicate_check_full_s"] = time.perf_counter() - stage
    timings["rows"] = prepared.n_rows
    timings["valid"] = prepared.n_valid
    timings["written"] = written
    timings["distinct_activities"] = len(prepared.choices)
    return timings


def run_baseline(path: Path) -> float:
    """pandas.read_csv + COPY of the raw columns into a table: the floor any importer pays.
    (The table is dropped afterwards, outside the timing.)"""
    start = time.perf_counter()
    frame = pd.read_csv(
        path, sep=";", dtype=str, skiprows=1, encoding="utf-8-sig", keep_default_na=False
    )
    with connection.cursor() as cursor:
        columns = ", ".join(f"c{i} text" for i in range(len(frame.columns)))
        # A regular (WAL-logged) table, like the records table; a TEMP table would skip the WAL.
        cursor.execute(f"CREATE TABLE raw_rows ({columns})")
        buffer = io.BytesIO()
        pacsv.write_csv(
            pa.Table.from_pandas(frame, preserve_index=False),
            buffer,
            write_options=pacsv.WriteOptions(include_header=False),
        )
        with cursor.cursor.copy("COPY raw_rows FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE raw_rows")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--xlsx-rows", type=int, default=0, help="also time an XLSX of this many rows"
    )
    args = parser.parse_args()

    _ensure_setup()
    results: dict[str, object] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "verbrauch.csv"
        generate_csv(csv_path, args.rows, "de")
        with schema_context(BENCH_SLUG):
            _clean()
            timings = run_pipeline(csv_path)
            results["pipeline"] = {k: round(v, 3) for k, v in timings.items()}
            results["rows_per_s"] = round(args.rows / timings["total_s"])
            results["committed_rows_per_s"] = round(timings["written"] / timings["total_s"])
            results["peak_rss_mb"] = round(_peak_rss_mb())
            _clean()
            baseline = run_baseline(csv_path)
            results["baseline_s"] = round(baseline, 3)
            results["baseline_rows_per_s"] = round(args.rows / baseline)
            results["ratio_to_baseline"] = round(timings["total_s"] / baseline, 2)
            print(
                f"pipeline: {args.rows:,} rows in {timings['total_s']:.2f} s = {results['rows_per_s']:,} rows/s "
                f"(read {timings['read_s']:.2f} s, validate+match+calculate "
                f"{timings['validate_match_calculate_s']:.2f} s, write {timings['write_s']:.2f} s); "
                f"baseline {baseline:.2f} s; ratio {results['ratio_to_baseline']}; peak RSS {results['peak_rss_mb']} MB",
                flush=True,
            )
            if args.xlsx_rows:
                xlsx_path = Path(tmp) / "verbrauch.xlsx"
                generate_xlsx(xlsx_path, args.xlsx_rows)
                xlsx = run_pipeline(xlsx_path)
                results["xlsx_rows"] = args.xlsx_rows
                results["xlsx_rows_per_s"] = round(args.xlsx_rows / xlsx["total_s"])
                print(f"xlsx: {args.xlsx_rows:,} rows in {xlsx['total_s']:.2f} s", flush=True)
            _clean()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
