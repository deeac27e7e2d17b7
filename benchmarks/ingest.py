"""Benchmark: ingest every shipped factor dataset into an empty library, then the no-op re-run.

Run with the project's database settings, e.g.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ft_factors .venv/bin/python benchmarks/ingest.py
It empties the factor tables of that database first. Targets: full ingest <= 60 s, re-run <= 10 s.
The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from factors.models import EmissionFactor, FactorDataset  # noqa: E402
from factors.services import available_mappings, factors_ingest  # noqa: E402

TARGET_FULL_S = 60.0
TARGET_RERUN_S = 10.0


def main() -> None:
    # TRUNCATE, not the ORM: tenant tables that reference factors live in other schemas.
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {EmissionFactor._meta.db_table}, {FactorDataset._meta.db_table} RESTART IDENTITY"
        )
    mappings = available_mappings()
    start = time.perf_counter()
    per_dataset = {}
    for mapping in mappings:
        t0 = time.perf_counter()
        report = factors_ingest(mapping=mapping)
        per_dataset[mapping.key] = {
            "factors": report.ingested,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        print(
            f"{mapping.key}: {report.ingested} factors in {per_dataset[mapping.key]['seconds']} s"
        )
    full = time.perf_counter() - start
    start = time.perf_counter()
    statuses = [factors_ingest(mapping=m).status for m in mappings]
    rerun = time.perf_counter() - start
    factors = EmissionFactor.objects.count()
    result = {
        "datasets": len(mappings),
        "factors": factors,
        "full_ingest_s": round(full, 3),
        "full_ingest_target_s": TARGET_FULL_S,
        "rerun_noop_s": round(rerun, 3),
        "rerun_target_s": TARGET_RERUN_S,
        "rerun_all_unchanged": all(s == "unchanged" for s in statuses),
        "factors_after_rerun": EmissionFactor.objects.count(),
        "ok": full <= TARGET_FULL_S
        and rerun <= TARGET_RERUN_S
        and factors == EmissionFactor.objects.count(),
        "per_dataset": per_dataset,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
