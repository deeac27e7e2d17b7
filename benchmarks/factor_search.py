"""Benchmark: the factor search (browser, wizard picker and record page share it) over the real
library, every shipped dataset ingested.

Run with the project's database settings, e.g.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ft_search .venv/bin/python benchmarks/factor_search.py
Datasets not yet in that database are ingested first (an ingested one is left as it is). Each
search is what one picker request costs: the facet counts and one page of results
(`factor_browse`, page size as the picker's), then the same with the picker's results partial
rendered (the tenant's supplier factors, one small query in its schema, left out). Target:
median <= 300 ms per rendered search. The last line printed is one JSON object.
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

from django.http import QueryDict  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.urls import set_urlconf  # noqa: E402

from factors.models import EmissionFactor, FactorDataset  # noqa: E402
from factors.picker import PICKER_PAGE_SIZE, factor_filters  # noqa: E402
from factors.selectors import FactorFilters, factor_browse  # noqa: E402
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
    query = QueryDict(mutable=True)
    query.update(params)
    return factor_filters(query)


def _once(filters: FactorFilters) -> tuple[float, float, int]:
    """(ms for the search, ms with the picker's results partial rendered, result count)."""
    start = time.perf_counter()
    page, facets = factor_browse(filters, page=1, per_page=PICKER_PAGE_SIZE)
    rows = list(page.object_list)
    searched = (time.perf_counter() - start) * 1000
    picker = {"filters": filters, "page": page, "facets": facets, "your_factors": []}
    render_to_string("factors/_picker.html#results", {"picker": picker})
    rendered = (time.perf_counter() - start) * 1000
    assert len(rows) <= PICKER_PAGE_SIZE
    return searched, rendered, page.paginator.count


def main() -> None:
    mappings = available_mappings()
    present = set(FactorDataset.objects.filter(is_current=True).values_list("key", flat=True))
    for mapping in mappings:
        if mapping.key not in present:
            print(f"ingesting {mapping.key}")
            factors_ingest(mapping=mapping)
    factors = EmissionFactor.objects.filter(dataset__is_current=True).count()
    set_urlconf("factortrace.urls_tenant")  # the partial links to the tenant app's picker URL
    per_search = []
    all_ms: list[float] = []
    all_rendered: list[float] = []
    for params in SEARCHES:
        filters = _filters(params)
        _once(filters)  # warm the connection and the plan cache, as a running server is
        times, rendered, count = [], [], 0
        for _ in range(REPEATS):
            ms, with_render, count = _once(filters)
            times.append(ms)
            rendered.append(with_render)
        all_ms.extend(times)
        all_rendered.extend(rendered)
        median = statistics.median(times)
        per_search.append(
            {
                "search": params,
                "results": count,
                "median_ms": round(median, 1),
                "median_rendered_ms": round(statistics.median(rendered), 1),
            }
        )
        print(
            f"{json.dumps(params):60} {count:6} results  median {median:7.1f} ms"
            f"  rendered {statistics.median(rendered):7.1f} ms"
        )
    all_ms.sort()
    all_rendered.sort()
    median = statistics.median(all_ms)
    p95 = all_ms[min(len(all_ms) - 1, round(0.95 * (len(all_ms) - 1)))]
    rendered_median = statistics.median(all_rendered)
    rendered_p95 = all_rendered[min(len(all_rendered) - 1, round(0.95 * (len(all_rendered) - 1)))]
    result = {
        "datasets": len(mappings),
        "factors_current": factors,
        "searches": len(SEARCHES),
        "repeats": REPEATS,
        "median_ms": round(median, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(all_ms[-1], 1),
        "rendered_median_ms": round(rendered_median, 1),
        "rendered_p95_ms": round(rendered_p95, 1),
        "target_median_ms": TARGET_MEDIAN_MS,
        "ok": rendered_median <= TARGET_MEDIAN_MS,
        "per_search": per_search,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
