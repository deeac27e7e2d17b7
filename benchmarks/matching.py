"""Factor matching: accuracy on the labelled set, speed, and coverage of the pipeline's files.

    python benchmarks/matching.py            # needs no database: reads the shipped datasets

Prints top-1 accuracy overall, per language, on the held-out fifth and on the rows written after
tuning of tests/data/matching/labelled.csv; the time to match 10,000 distinct activity descriptions
(ledger stems from the labelled set with cost centres, sites and order numbers, as an import's
distinct activities look); and whether every distinct activity (and unit) of
benchmarks/pipeline.py's generated files matches a factor. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATASETS = [
    "defra_2024",
    "epa_hub_2025",
    "owid_grid_2025",
    "aib_residual_mix_2021",
    "exiobase_2022",
    "useeio_v1_3",
]
DISTINCT = 10_000
# The pipeline generator's country column as ledgers write it -> ISO code.
COUNTRY_CODES = {"Deutschland": "DE"}
CURRENCY_UNITS = {"€": "EUR"}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")
    import django

    django.setup()


def _index():  # type: ignore[no-untyped-def]
    from factors.ingest.reader import read_dataset
    from factors.labelled import index_from_frames
    from factors.services import select_mappings

    return index_from_frames((m.key, read_dataset(m).frame) for m in select_mappings(DATASETS))


def accuracy(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from factors.labelled import labelled_rows, score
    from factors.matching import match_factors

    def top_of(row):  # type: ignore[no-untyped-def]
        found = match_factors(
            description=row.description, unit=row.unit, region=row.country, index=index, limit=1
        )
        return found[0].factor if found else None

    rows = labelled_rows()
    overall, by_lang, misses = score(rows, top_of)
    held, _, _ = score([r for r in rows if r.split == "holdout"], top_of)
    fresh, _, _ = score([r for r in rows if r.split == "fresh"], top_of)
    return {
        "rows": overall.total,
        "top1": round(overall.accuracy, 4),
        "by_language": {k: round(v.accuracy, 4) for k, v in by_lang.items()},
        "held_out_rows": held.total,
        "held_out_top1": round(held.accuracy, 4),
        "fresh_rows": fresh.total,
        "fresh_top1": round(fresh.accuracy, 4),
        "misses": [f"{r.lang} {r.description!r}: {why} <- {name}" for r, why, name in misses],
    }


def _distinct_activities(n: int) -> list[tuple[str, str, str]]:
    """n distinct (description, unit, country) from the labelled stems with ERP noise."""
    from factors.labelled import labelled_rows

    stems = labelled_rows()
    sites = ["Werk Nord", "Plant 2", "HQ", "Lager Ost", "Site Lyon", "Magazzino 3", "Zakład B"]
    out: list[tuple[str, str, str]] = []
    k = 0
    while len(out) < n:
        row = stems[k % len(stems)]
        variant = k // len(stems)
        noise = f"KSt {4100 + variant % 97} {sites[variant % len(sites)]} PO-{47110 + k}"
        out.append((f"{row.description} {noise}", row.unit, row.country))
        k += 1
    return out


def speed(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from factors.concepts import read
    from factors.matching import match_factors

    activities = _distinct_activities(DISTINCT)
    assert len({a for a, _, _ in activities}) == DISTINCT
    index.ranked.clear()
    start, cpu = time.perf_counter(), time.process_time()
    unmatched = 0
    for description, unit, country in activities:
        found = match_factors(description=description, unit=unit, region=country, index=index)
        unmatched += not found
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    readings = {read(a).key for a, _, _ in activities}
    # Ranking without the per-reading cache: one ranking per distinct reading.
    index.ranked.clear()
    start = time.perf_counter()
    for description, unit, country in activities[: len(readings)]:
        match_factors(description=description, unit=unit, region=country, index=index)
    uncached = (time.perf_counter() - start) / len(readings)
    return {
        "activities": DISTINCT,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "target_seconds": 5.0,
        "distinct_readings": len(readings),
        "ms_per_ranking_uncached": round(uncached * 1000, 2),
        "unmatched": unmatched,
    }


def pipeline_coverage(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every distinct activity and unit of the pipeline benchmark's files matches a factor."""
    import importlib.util

    from emissions.engine.units import unit_dimension
    from factors.matching import match_factors

    spec = importlib.util.spec_from_file_location(
        "pipeline_benchmark", ROOT / "benchmarks" / "pipeline.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    currencies = sorted({CURRENCY_UNITS.get(c, c) for c in bench.CURRENCIES})
    countries = sorted({COUNTRY_CODES.get(c, c) for c in bench.COUNTRIES})
    checked, missing, spend = 0, [], 0
    for text, units in bench._activity_texts():
        for unit in [*units, *currencies]:
            if unit_dimension(unit) is None:
                continue
            for country in countries:
                checked += 1
                spend += unit in currencies
                if not match_factors(description=text, unit=unit, region=country, index=index):
                    missing.append(f"{text} [{unit}, {country}]")
    return {
        "checked": checked,
        "of_which_spend": spend,
        "unmatched": len(missing),
        "examples": missing[:10],
    }


def main() -> None:
    _setup()
    t = time.perf_counter()
    index = _index()
    print(f"library read and indexed in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    acc = accuracy(index)
    print(f"top-1 accuracy: {acc['top1']:.1%} of {acc['rows']}", file=sys.stderr)
    for lang, value in acc["by_language"].items():  # type: ignore[attr-defined]
        print(f"  {lang}: {value:.1%}", file=sys.stderr)
    print(
        f"held-out: {acc['held_out_top1']:.1%} of {acc['held_out_rows']}; "
        f"written after tuning: {acc['fresh_top1']:.1%} of {acc['fresh_rows']}",
        file=sys.stderr,
    )
    fast = speed(index)
    print(
        f"{fast['activities']} distinct activities matched in {fast['seconds']} s "
        f"(CPU {fast['cpu_seconds']} s) "
        f"({fast['distinct_readings']} distinct readings, "
        f"{fast['ms_per_ranking_uncached']} ms per uncached ranking)",
        file=sys.stderr,
    )
    coverage = pipeline_coverage(index)
    print(
        f"pipeline benchmark activities: {coverage['checked']} checked, "
        f"{coverage['unmatched']} unmatched",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "benchmark": "factors.matching",
                "accuracy": acc,
                "speed": fast,
                "pipeline_coverage": coverage,
            }
        )
    )


if __name__ == "__main__":
    main()
