"""End-to-end import throughput: a realistic N-row supplier CSV -> committed, calculated records.

    .venv/bin/python scripts/services.py exec -- .venv/bin/python benchmarks/import_throughput.py \
        --rows 1000000 --web-mb 50
    ... benchmarks/import_throughput.py --rows 200000 --xlsx-rows 100000

Runs, in one process, on a tenant ``bench`` (created if missing; its records are removed after):
1. the commit job's path in a work-horse forked by a warmed worker: the worker built the factor
   library's index and the concept vocabulary before the fork (``factortrace.worker``; timed apart
   as ``worker_warm_up``, outside the total: it is paid once per library change, not per job), the
   job checks the index is current, then the file is read in the parse child + detect + map +
   normalise + validate + factor matching per distinct activity x region x year + engine
   calculation + duplicate check + companion WTT / T&D lines + one COPY in one transaction. The file has >= 99% valid rows (spend rows only for activities
   with a spend factor); committed rows are the main lines written, companion lines apart;
2. the baseline: ``pandas.read_csv`` of the same file + COPY of its raw columns into a table;
3. with ``--web-mb``: the web path of a file of that size (store + parse child, then the check).
Every stage reports wall and CPU seconds (CPU of this process; the parse child's apart, with its
peak RSS): on a shared machine CPU seconds are the steadier figure. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
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
from django.core.files.uploadedfile import UploadedFile  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from benchmarks.pipeline import generate_csv, generate_xlsx  # noqa: E402
from benchmarks.tenant import BENCH_SLUG, bench_clean, bench_library, bench_tenant  # noqa: E402
from emissions.models import ActivityRecord  # noqa: E402
from factors import concepts  # noqa: E402
from factors.library_index import (  # noqa: E402
    STATE_CHECK_SECONDS,
    library_index,
    library_index_clear,
    library_warm,
)
from imports.models import ImportRun, ImportStatus  # noqa: E402
from imports.pipeline import isolate, suggest_mapping  # noqa: E402
from imports.preparation import prepare  # noqa: E402
from imports.selectors import read_source  # noqa: E402
from imports.services import import_run_create, import_run_validate  # noqa: E402
from imports.writer import count_duplicates, import_run_write  # noqa: E402

# Stems whose spend rows (amount only) the shipped library has a spend factor for; the others'
# spend rows would be "no factor" errors, so the generated file has quantity rows for them.
SPEND_STEMS = ("Heizöl EL", "Erdgas Heizung", "Strom Netzbezug", "Schmierstoffe", "Propan Stapler")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start_reader(path: Path) -> None:
    """Start the fork server (a web or worker process has it running already), outside timings."""
    read_source(path, filename=path.name, sheet=None, header_row=None)


class Stages:
    """Wall and CPU seconds per stage (CPU of this process; the parse child's separately)."""

    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.figures[f"{name}_s"] = round(time.perf_counter() - wall, 3)
        self.figures[f"{name}_cpu_s"] = round(time.process_time() - cpu, 3)


def _warm_reader(tmp: Path) -> None:
    """Start the reader's fork server on a small file (a web or worker process has it running)."""
    small = tmp / "warm.csv"
    if not small.exists():
        generate_csv(small, 100, "de", spend_stems=SPEND_STEMS)
    _start_reader(small)


def _child_figures() -> dict[str, float]:
    """CPU seconds and peak RSS of the last parse child (reported by the reader's fork server)."""
    usage = isolate.LAST_CHILD_USAGE
    return {
        "parse_child_cpu_s": round(usage["cpu_s"], 3),
        "parse_child_peak_rss_mb": round(usage["peak_rss_mb"]),
    }


def run_pipeline(path: Path, tmp: Path) -> dict[str, float]:
    """The import as the commit job does it in a work-horse of a warmed worker, timed by stage."""
    warm_up = Stages()
    _warm_reader(tmp)
    library_index_clear()
    concepts.vocabulary.cache_clear()
    with warm_up.stage("worker_warm_up"):
        library_warm()
    # The work-horse starts later than its worker checked the library: it checks it again.
    time.sleep(STATE_CHECK_SECONDS)
    stages = Stages()
    with stages.stage("library_index"):
        library_index()
    with stages.stage("read"):
        read = read_source(path, filename=path.name, sheet=None, header_row=None)
    mapping = suggest_mapping(read.headers, read.frame.head(200)).mapping
    with stages.stage("validate_match_calculate"):
        prepared = prepare(read, mapping)
    with stages.stage("write"), transaction.atomic():
        run = ImportRun.objects.create(
            status=ImportStatus.COMMITTING,
            original_name=path.name,
            size_bytes=read.size,
            sha256=read.sha256,
            mapping=mapping.to_dict(),
        )
        written = import_run_write(run_id=run.id, prepared=prepared)
    timings = dict(stages.figures)
    timings.update(warm_up.figures)
    timings.update(_child_figures())
    timings["total_s"] = round(
        sum(v for k, v in stages.figures.items() if k.endswith("_s") and not k.endswith("cpu_s")), 3
    )
    timings["total_cpu_s"] = round(
        sum(v for k, v in stages.figures.items() if k.endswith("_cpu_s"))
        + timings["parse_child_cpu_s"],
        3,
    )
    lines = dict(ActivityRecord.objects.values_list("line_kind").annotate(n=Count("id")).order_by())
    # Outside the total: the duplicate check of the same rows against the inventory they are now
    # in (every row found), the worst case of a second import of one file.
    with stages.stage("duplicate_check_full"):
        timings["duplicates_found"] = count_duplicates(prepared)[1]
    timings["duplicate_check_full_s"] = stages.figures["duplicate_check_full_s"]
    timings["rows"] = prepared.n_rows
    timings["valid"] = prepared.n_valid
    timings["valid_share"] = round(prepared.n_valid / max(prepared.n_rows, 1), 4)
    timings["committed_main"] = written
    timings["committed_main_db"] = lines.pop("main", 0)
    timings["committed_companion_lines"] = sum(lines.values())
    timings["distinct_activities"] = len(prepared.choices)
    return timings


def run_web(path: Path, tmp: Path) -> dict[str, float]:
    """The web path of one upload: store + parse in the child (import_run_create), then the
    check the results page runs (import_run_validate: validate, match, calculate, duplicates).
    The index is warm (a web process built it at its first request); the multipart parse of the
    request body by Django is not included."""
    stages = Stages()
    _warm_reader(tmp)
    library_index()
    with stages.stage("upload_parse"), path.open("rb") as handle:
        upload = UploadedFile(handle, name=path.name, size=path.stat().st_size)
        run = import_run_create(upload=upload, user=None)
    with stages.stage("check"):
        prepared = import_run_validate(run=run)
    figures = dict(stages.figures)
    figures.update(_child_figures())
    figures["total_s"] = round(figures["upload_parse_s"] + figures["check_s"], 3)
    figures["rows"] = prepared.n_rows
    figures["valid"] = prepared.n_valid
    figures["size_mb"] = round(path.stat().st_size / 1_048_576, 1)
    return figures


def run_baseline(path: Path) -> dict[str, float]:
    """pandas.read_csv + COPY of the raw columns into a table: the floor any importer pays.
    (The table is dropped afterwards, outside the timing.)"""
    stages = Stages()
    with stages.stage("baseline"):
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
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE raw_rows")
    return stages.figures


def _rows_for_megabytes(tmp: Path, megabytes: float) -> int:
    sample = tmp / "sample.csv"
    generate_csv(sample, 20_000, "de", spend_stems=SPEND_STEMS)
    return int(megabytes * 1_048_576 / (sample.stat().st_size / 20_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--xlsx-rows", type=int, default=0, help="also time an XLSX of this many rows"
    )
    parser.add_argument(
        "--web-mb", type=float, default=0, help="also time the web path of a file of this size"
    )
    parser.add_argument("--no-pipeline", action="store_true", help="only the web path")
    args = parser.parse_args()

    bench_library()
    bench_tenant()
    results: dict[str, object] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp_name, schema_context(BENCH_SLUG):
        tmp = Path(tmp_name)
        bench_clean()
        if not args.no_pipeline:
            csv_path = tmp / "verbrauch.csv"
            generate_csv(csv_path, args.rows, "de", spend_stems=SPEND_STEMS)
            timings = run_pipeline(csv_path, tmp)
            results["pipeline"] = timings
            committed = timings["committed_main"]
            results["committed_rows_per_s"] = round(committed / timings["total_s"])
            results["valid_share"] = timings["valid_share"]
            results["peak_rss_mb"] = round(_peak_rss_mb())
            results["parse_child_peak_rss_mb"] = timings["parse_child_peak_rss_mb"]
            bench_clean()
            baseline = run_baseline(csv_path)
            results["baseline"] = baseline
            results["ratio_to_baseline"] = round(timings["total_s"] / baseline["baseline_s"], 2)
            results["cpu_ratio_to_baseline"] = round(
                timings["total_cpu_s"] / max(baseline["baseline_cpu_s"], 1e-9), 2
            )
            print(
                f"pipeline: {args.rows:,} rows, {committed:,} committed "
                f"(+{timings['committed_companion_lines']:,} companion lines) in "
                f"{timings['total_s']:.2f} s = {results['committed_rows_per_s']:,} committed rows/s; "
                f"stages (wall/cpu s): "
                + ", ".join(
                    f"{name} {timings[name + '_s']:.2f}/{timings[name + '_cpu_s']:.2f}"
                    for name in ("library_index", "read", "validate_match_calculate", "write")
                )
                + f", parse child cpu {timings['parse_child_cpu_s']:.2f} (outside the total: "
                f"worker warm-up before the fork {timings['worker_warm_up_s']:.2f}/"
                f"{timings['worker_warm_up_cpu_s']:.2f}); baseline "
                f"{baseline['baseline_s']:.2f} s; ratio {results['ratio_to_baseline']}; peak RSS "
                f"{results['peak_rss_mb']} MB (parse child {results['parse_child_peak_rss_mb']} MB)",
                flush=True,
            )
            if args.xlsx_rows:
                xlsx_path = tmp / "verbrauch.xlsx"
                generate_xlsx(xlsx_path, args.xlsx_rows)
                xlsx = run_pipeline(xlsx_path, tmp)
                results["xlsx_rows"] = args.xlsx_rows
                results["xlsx_committed_rows_per_s"] = round(
                    xlsx["committed_main"] / xlsx["total_s"]
                )
                print(f"xlsx: {args.xlsx_rows:,} rows in {xlsx['total_s']:.2f} s", flush=True)
            bench_clean()
        if args.web_mb:
            web_path = tmp / "upload.csv"
            generate_csv(
                web_path, _rows_for_megabytes(tmp, args.web_mb), "de", spend_stems=SPEND_STEMS
            )
            results["web"] = run_web(web_path, tmp)
            print(
                f"web: {results['web']['size_mb']} MB, {results['web']['rows']:,} rows, upload+parse "
                f"{results['web']['upload_parse_s']:.2f} s + check {results['web']['check_s']:.2f} s "
                f"= {results['web']['total_s']:.2f} s",
                flush=True,
            )
            bench_clean()
        results["peak_rss_mb"] = round(_peak_rss_mb())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
