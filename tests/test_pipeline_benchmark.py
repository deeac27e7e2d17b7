"""The pipeline benchmark's generator and measurement still work (on a few thousand rows)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "pipeline.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pipeline_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_generates_and_measures_both_file_formats(tmp_path: Path) -> None:
    bench = _load()
    de, us = tmp_path / "de.csv", tmp_path / "us.csv"
    bench.generate_csv(de, 3000, "de")
    bench.generate_csv(us, 3000, "us")
    run = bench.measure([de, us])
    for f in run["files"]:
        assert f["rows"] == 3000
        assert f["mapped"] == [
            "activity",
            "amount",
            "country",
            "currency",
            "date",
            "notes",
            "quantity",
            "site",
            "supplier",
            "unit",
        ]
        # About 0.1% of the generated rows carry an unknown unit; everything else is valid.
        assert 0 < f["invalid"] < 30
    assert run["files"][0]["skipped"][0]["reason"] == "total"


def test_it_generates_a_readable_workbook(tmp_path: Path) -> None:
    bench = _load()
    path = tmp_path / "w.xlsx"
    bench.generate_xlsx(path, 2000)
    run = bench.measure([path])
    f = run["files"][0]
    assert f["rows"] == 2000
    assert f["invalid"] == 0
