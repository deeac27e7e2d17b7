"""The report benchmark's seeding and measurement still work (on a thousand records, without
Arelle: tests/test_report_validation.py covers both ways of validating)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.report_helpers import ESRS_DIR

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "report.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
# The generated records carry a provenance of the size an import writes, not a replayable one.
@pytest.mark.replay_unchecked
def test_it_seeds_and_measures_a_small_inventory(
    tenants: dict[str, object], db: None, settings: Any
) -> None:
    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    bench = _load()
    # On the test tenant, in the test's transaction (the script makes and keeps a "bench" one).
    results = bench.run(1000, validation=False, build=False, schema="acme")
    assert results["records"] == 1000
    # About 5 % of the generated records are outside the scopes: counted, not in the totals.
    assert results["records_in_period"] == 1000
    assert results["location_t"] > 0
    assert results["pdf_s"] > 0
    assert set(results["met"]) == {"aggregation_s", "pdf_s"}
    table = bench.generate(2000)
    scopes = table.column("scope").to_pylist()
    assert set(scopes) == {0, 1, 2, 3}
    categories = {
        c for c, s in zip(table.column("category").to_pylist(), scopes, strict=True) if s == 3
    }
    assert categories == set(range(1, 16))
