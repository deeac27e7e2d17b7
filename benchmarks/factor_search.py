"""Benchmark: the factor search (browser, wizard picker and record page share it) over the real
library, every shipped dataset ingested.

Run with the project's database settings, e.g.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ft_search .venv/bin/python benchmarks/factor_search.py
Datasets not yet in that database are ingested first (an ingested one is left as it is). Each
search is what one picker request costs the database: the facet counts and one page of results
(`factor_browse`, page size as the picker's). Target: median <= 300 ms per search. The last line
printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")

import django

django.setup()

from factors.models import EmissionFactor, FactorDataset  # noqa: E402
from factors.picker import PICKER_PAGE_SIZE  # noqa: E402
from factors.selectors import FactorFilters, factor_browse, search_words  # noqa: E402
from factors.services import available_mappings, factors_ingest  # noqa: E402

TARGET_MEDIAN_MS = 300.0
REPEATS = 5

# What people type, with the facets they pick (the wizard opens on the activity's dimension).
SEARCHES: list[dict[str, str]] = [
    {},
    {"q": "petrol"},
    {"q": "petrol", "dimension": "volume"},
    {"q": "diesel", "dimension": "volume", "dataset": "defra_2024"},
    {"q": "electricity", "region": "DE"},
    {"q": "natural gas", "dimension": "energy"},
    {"q": "steel"},
    {"q": "flight economy", "scope": "3"},
    {"q": "hgv"},
    {"q": "waste landfill", "year": "2024"},
    {"q": "331110"},
    {"dimension": "money", "region": "US"},
    {"q": "a"},
    {"q": "zzz no such factor"},
]


def _filters(params: dict[str, str]) -> FactorFilters:
    return FactorFilters(
        words=search_words(params.get("q", "")),
        dataset=params.get("dataset", ""),
        scope=params.get("scope", ""),
        region=params.get("region", ""),
        dimension=params.get("dimension", ""),
        year=params.get("year", ""),
    )


def _once(filters: FactorFilters) -> tuple[float, int]:
    start = time.perf_counter()
    page, _facets = factor_browse(filters, page=1, per_page=PICKER_PAGE_SIZE)
    rows = list(page.object_list)
    elapsed = (time.perf_counter() - start) * 1000
    assert len(rows) <= PICKER_PAGE_SIZE
    return elapsed, page.paginator.count


def main() -> None:
    mappings = available_mappings()
    present = set(FactorDataset.objects.filter(is_current=True).values_list("key", flat=True))
    for mapping in mappings:
        if mapping.key not in present:
            print(f"ingesting {mapping.key}")
            factors_ingest(mapping=mapping)
    factors = EmissionFactor.objects.filter(dataset__is_current=True).count()
    per_search = []
    all_ms: list[float] = []
    for params in SEARCHES:
        filters = _filters(params)
        _once(filters)  # warm the connection and the plan cache, as a running server is
        times, count = [], 0
        for _ in range(REPEATS):
            ms, count = _once(filters)
            times.append(ms)
        all_ms.extend(times)
        median = statistics.median(times)
        per_search.append({"search": params, "results": count, "median_ms": round(median, 1)})
        print(f"{json.dumps(params):60} {count:6} results  median {median:7.1f} ms")
    all_ms.sort()
    median = statistics.median(all_ms)
    p95 = all_ms[min(len(all_ms) - 1, round(0.95 * (len(all_ms) - 1)))]
    result = {
        "datasets": len(mappings),
        "factors_current": factors,
        "searches": len(SEARCHES),
        "repeats": REPEATS,
        "median_ms": round(median, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(all_ms[-1], 1),
        "target_median_ms": TARGET_MEDIAN_MS,
        "ok": median <= TARGET_MEDIAN_MS,
        "per_search": per_search,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
