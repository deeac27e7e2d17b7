"""The JSON API's import: time from POST /api/v1/imports to committed records, against the same
rows imported alone (what `manage.py import_activities` does: read, validate, match, calculate, write).

    .venv/bin/python scripts/services.py exec -- .venv/bin/python benchmarks/api.py --rows 100000

On a tenant ``bench`` (created if missing; its records removed before and after), the factor
library holding at least DEFRA 2024 and the OWID grid (ingested if the library is empty):
1. ``import_alone``: the CLI's path, in-process (a warm reader fork server and factor index, as a
   worker has);
2. ``api_post_to_committed``: a JSON batch of the same rows POSTed through the whole middleware
   stack with a read-and-write token; the commit job runs in this process as soon as the request's
   transaction commits (JOBS_IN_PROCESS), with the file read again as a fresh worker would (the
   per-process read cache is emptied before the job). The clock stops when the run is committed.
``api_overhead_s`` is the difference (target <= 3 s), ``api_overhead_cpu_s`` the same in CPU seconds of
this process (steadier on a shared machine; the parse child's apart). Each path's steps are timed too
(``cli_*``, ``api_*``; ``api_prepare_run_s`` is the check's preparation plus the job's). The Monte Carlo
job a write requests is queued, not run, in both paths. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import astuple
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The feed's columns (a US-style ERP export) and the mapping both paths use.
FEED_MAPPING: dict[str, Any] = {
    "columns": {
        "date": "Date",
        "activity": "Description",
        "quantity": "Quantity",
        "unit": "UOM",
        "amount": "Amount",
        "currency": "Currency",
        "site": "Site",
        "supplier": "Vendor",
        "country": "Country",
        "notes": "Notes",
    },
    "options": {"decimal": ".", "date_order": "MDY"},
}


def monthly_feed(path: Path, rows: int) -> list[dict[str, str]]:
    """Write a feed of `rows` quantity rows (activities the DEFRA set covers; ~0.1 % bad units)
    as CSV at `path`, and return the same rows as the JSON objects an ERP would send."""
    from benchmarks.pipeline import generate_csv

    generate_csv(path, rows, "us", spend_stems=())
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def mapping_yaml(path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(FEED_MAPPING, allow_unicode=True))
    return path


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")
    os.environ.setdefault("IMPORT_MAX_BYTES", str(512 * 1024 * 1024))
    django.setup()


COMMIT_JOB = "imports.jobs.import_run_commit_job"


def _time_stages(figures: dict[str, Any], *, prefix: str, cli: bool = False) -> Any:
    """Time the steps of one path into `figures` as <prefix>_<step>_s (the API's calls into the
    import services and the commit job's parts; or the command's); returns the function that puts
    the originals back."""
    import api.imports
    import api.v1
    import imports.jobs
    import imports.management.commands.import_activities as command
    import imports.services

    patched: list[tuple[Any, str, Any]] = []

    def timed(module: Any, name: str) -> None:
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = f"{prefix}_{name.strip('_')}_s"
                figures[key] = round(figures.get(key, 0) + time.perf_counter() - started, 3)

        patched.append((module, name, original))
        setattr(module, name, wrapper)

    if cli:
        for name in ("read_source", "prepare", "count_duplicates", "import_run_write"):
            timed(command, name)
    else:
        timed(api.v1, "_json_batch")
        timed(api.v1, "rows_as_csv")
        for name in ("import_run_create", "import_run_set_mapping", "import_run_validate"):
            timed(api.imports, name)
        # both prepares (the check's and the job's) and the job's write
        timed(imports.services, "import_run_prepared")
        for name in ("import_run_prepared", "import_run_write"):
            timed(imports.jobs, name)

    def restore() -> None:
        for module, name, original in patched:
            setattr(module, name, original)

    return restore


def run(rows: int, slug: str) -> dict[str, Any]:
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django_tenants.utils import schema_context

    import factortrace.jobs
    import imports.preparation
    import imports.selectors
    from accounts.models import User
    from api.tokens import api_token_create
    from benchmarks.tenant import bench_clean, bench_library, bench_tenant
    from emissions.selectors_inventory import inventory_totals
    from factors.library_index import library_index
    from imports.models import ImportRun, ImportStatus
    from imports.pipeline import Mapping

    bench_library(["defra_2024", "owid_grid_2025"])
    bench_tenant(slug)
    figures: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory() as tmp_name, schema_context(slug):
        tmp = Path(tmp_name)
        feed = monthly_feed(tmp / "feed.csv", rows)
        mapping = mapping_yaml(tmp / "feed.yml")
        body = json.dumps({"rows": feed, "mapping": FEED_MAPPING}).encode()
        figures["json_mb"] = round(len(body) / 1_048_576, 1)
        bench_clean()
        # Warm what a running web process and worker have warm: the reader's fork server, the
        # factor index, the matching vocabulary (a small feed of the same activities, prepared).
        warm = tmp / "warm.csv"
        monthly_feed(warm, 2000)
        imports.preparation.prepare(
            imports.selectors.read_source(warm, filename="warm.csv", sheet=None, header_row=None),
            Mapping.from_dict(FEED_MAPPING),
        )
        library_index()

        cli_stages = _time_stages(figures, prefix="cli", cli=True)
        started, cpu = time.perf_counter(), time.process_time()
        out = io.StringIO()
        with contextlib.suppress(SystemExit):
            call_command(
                "import_activities",
                "--tenant",
                slug,
                str(tmp / "feed.csv"),
                "--mapping",
                str(mapping),
                "--allow-partial",
                "--json",
                stdout=out,
            )
        figures["import_alone_s"] = round(time.perf_counter() - started, 3)
        figures["import_alone_cpu_s"] = round(time.process_time() - cpu, 3)
        cli_stages()
        cli = json.loads(out.getvalue())
        figures["cli_records"] = cli.get("records")
        cli_totals = inventory_totals()
        bench_clean()

        owner = User.objects.filter(role="owner").first()
        assert owner is not None
        secret = api_token_create(name="benchmark", scope="write", user=owner).secret
        client = Client(HTTP_HOST=f"{slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
        original = factortrace.jobs.run_in_schema

        def as_a_fresh_worker(path: str, *args: Any, **kwargs: Any) -> Any:
            if path != COMMIT_JOB:
                # The Monte Carlo the write requests runs later on its own queue, as after a CLI
                # import: not part of either figure.
                return None
            imports.selectors._READ_CACHE.clear()  # a worker reads the stored file again
            return original(path, *args, **kwargs)

        factortrace.jobs.run_in_schema = as_a_fresh_worker  # type: ignore[assignment]
        stages = _time_stages(figures, prefix="api")
        try:
            with override_settings(JOBS_IN_PROCESS=True, API_RATE_LIMIT_PER_MINUTE=1000):
                started, cpu = time.perf_counter(), time.process_time()
                response = client.post(
                    "/api/v1/imports?allow_partial=true", data=body, content_type="application/json"
                )
                run_id = response.json()["id"]
                status = ImportRun.objects.values_list("status", flat=True).get(id=run_id)
                figures["api_post_to_committed_s"] = round(time.perf_counter() - started, 3)
                figures["api_post_to_committed_cpu_s"] = round(time.process_time() - cpu, 3)
        finally:
            factortrace.jobs.run_in_schema = original  # type: ignore[assignment]
            stages()
        assert response.status_code == 202, response.content[:500]
        assert status in {ImportStatus.COMMITTED, ImportStatus.PARTIAL}, status
        detail = client.get(f"/api/v1/imports/{run_id}").json()
        figures["api_records"] = detail["counts"]["records"]
        api_totals = inventory_totals()
        figures["cli_location_kg"] = round(cli_totals.location, 3)
        figures["api_location_kg"] = round(api_totals.location, 3)
        figures["same_inventory"] = all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
            for a, b in zip(astuple(api_totals), astuple(cli_totals), strict=True)
        )
        figures["api_overhead_s"] = round(
            figures["api_post_to_committed_s"] - figures["import_alone_s"], 3
        )
        figures["api_overhead_cpu_s"] = round(
            figures["api_post_to_committed_cpu_s"] - figures["import_alone_cpu_s"], 3
        )
        bench_clean()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tenant", default="bench")
    args = parser.parse_args()
    _setup()
    figures = run(args.rows, args.tenant)
    for key, value in figures.items():
        print(f"{key:28} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
