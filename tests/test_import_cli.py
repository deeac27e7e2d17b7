"""`manage.py import_activities`: the wizard's pipeline for recurring feeds, all or nothing by default."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from imports.models import ImportRun
from tests.test_import_services import DIESEL, GERMAN_CSV

CLEAN_CSV = GERMAN_CSV.replace(b"abc", b"10").replace(b"Fass", b"L")


@pytest.fixture
def feed(tmp_path: Path, tenants: dict[str, object], library: None, db: None) -> Path:
    path = tmp_path / "tankkarte.csv"
    path.write_bytes(GERMAN_CSV)
    return path


def _run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("import_activities", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _records() -> int:
    """The imported activities (main lines; their WTT lines are tests/test_companion_lines.py's)."""
    with schema_context("acme"):
        return ActivityRecord.objects.filter(line_kind="main").count()


def test_it_commits_nothing_when_rows_are_invalid(feed: Path) -> None:
    code, out = _run("--tenant", "acme", str(feed), "--json")
    assert code == 1
    summary = json.loads(out)
    assert {k: summary[k] for k in ("rows", "valid", "invalid")} == {
        "rows": 4,
        "valid": 1,
        "invalid": 3,
    }
    assert summary["kg_co2e"] == pytest.approx(1234.5 * DIESEL)
    assert {(e["row"], e["column"]) for e in summary["errors"]} == {
        (4, "Menge"),
        (5, "Einheit"),
        (6, "Einheit"),
    }
    assert _records() == 0
    with schema_context("acme"):
        assert not ImportRun.objects.exists()


def test_it_commits_the_valid_rows_with_allow_partial(feed: Path) -> None:
    code, out = _run("--tenant", "acme", str(feed), "--allow-partial")
    assert code == 0
    assert "Imported 1 records" in out
    with schema_context("acme"):
        record = ActivityRecord.objects.get(line_kind="main")  # (its WTT line aside)
        assert record.kg_co2e == pytest.approx(1234.5 * DIESEL)
        assert record.import_run.original_name == "tankkarte.csv"


def test_it_writes_nothing_on_a_dry_run(feed: Path) -> None:
    feed.write_bytes(CLEAN_CSV)
    code, out = _run("--tenant", "acme", str(feed), "--dry-run", "--json")
    assert code == 0
    assert json.loads(out)["valid"] == 4
    assert _records() == 0


def test_it_reads_a_mapping_file(feed: Path, tmp_path: Path) -> None:
    feed.write_bytes(CLEAN_CSV)
    mapping = tmp_path / "tankkarte.yml"
    mapping.write_text(
        "columns:\n  date: Datum\n  activity: Beschreibung\n  quantity: Menge\n  unit: Einheit\n"
        "options:\n  decimal: ','\n  date_order: DMY\n"
    )
    code, out = _run("--tenant", "acme", str(feed), "--mapping", str(mapping), "--json")
    assert code == 0, out
    summary: dict[str, Any] = json.loads(out)
    assert summary["committed"]
    assert summary["kg_co2e"] == pytest.approx((1234.5 + 10 + 100 + 200) * DIESEL)
    assert _records() == 4


def test_it_explains_bad_arguments(feed: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No tenant"):
        call_command("import_activities", "--tenant", "initech", str(feed))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_activities", "--tenant", "acme", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No mapping template named"):
        call_command("import_activities", "--tenant", "acme", str(feed), "--template", "Nope")
    bad = tmp_path / "bad.yml"
    bad.write_text("columns: [1, 2]\n")
    with pytest.raises(CommandError, match="columns"):
        call_command("import_activities", "--tenant", "acme", str(feed), "--mapping", str(bad))


def test_it_explains_each_activity_s_factor_in_json(feed: Path) -> None:
    feed.write_bytes(CLEAN_CSV)
    code, out = _run("--tenant", "acme", str(feed), "--dry-run", "--json")
    assert code == 0
    (diesel,) = json.loads(out)["choices"]
    assert (diesel["activity"], diesel["rows"], diesel["unit_dimension"]) == ("Diesel", 4, "volume")
    factor = diesel["factor"]
    assert {k: factor[k] for k in ("source", "dataset", "version", "scope", "unit")} == {
        "source": "library",
        "dataset": "defra_2024",
        "version": 1,
        "scope": "1",
        "unit": "L",
    }
    assert factor["name"] == "Liquid fuels: Diesel (average biofuel blend)"
    assert "names diesel" in diesel["why"]
    assert diesel["alternatives"]
    assert all("WTT" not in a["name"] for a in diesel["alternatives"])
