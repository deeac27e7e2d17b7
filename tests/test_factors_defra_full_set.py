"""DEFRA 2024 "full set" workbook -> the same factors as the flat file, through a mapping only."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from factors.ingest.mapping import MAPPINGS_DIR, load_mapping, mapping_path, shipped_mappings
from factors.ingest.reader import ReadResult, read_dataset
from factors.models import FactorDataset

FULL_SET = MAPPINGS_DIR / "alternates" / "defra_2024_full_set.yml"
# What identifies a factor in both layouts (the full set has no publisher ids).
KEY = ["scope", "category", "name", "unit_label"]
VALUES = ["kg_co2e", "co2", "ch4", "n2o"]
SAME = [
    "unit",
    "unit_dimension",
    "region",
    "kind",
    "basis",
    "cv_basis",
    "gwp_set",
    "scope3_category",
    "year",
    "flags",
]


@pytest.fixture(scope="module")
def flat() -> ReadResult:
    return read_dataset(load_mapping(mapping_path("defra_2024")))


@pytest.fixture(scope="module")
def full() -> ReadResult:
    return read_dataset(load_mapping(FULL_SET))


def test_it_reads_the_full_set_as_the_same_factors_as_the_flat_file(
    flat: ReadResult, full: ReadResult
) -> None:
    a = flat.frame.set_index(KEY).sort_index()
    b = full.frame.set_index(KEY).sort_index()
    assert a.index.is_unique
    assert b.index.is_unique
    assert len(b) == len(a) == 2672
    assert b.index.equals(a.index)
    for column in VALUES:
        # Value for value, per gas: the same numbers, and blank (not published) in the same places.
        x, y = a[column].to_numpy(), b[column].to_numpy()
        assert np.array_equal(np.isnan(x), np.isnan(y)), column
        assert np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)]), column
    for column in SAME:
        x, y = a[column].astype(object), b[column].astype(object)
        differ = ~((x == y) | (x.isna() & y.isna()))
        assert not differ.any(), (column, a[differ].index[:3].tolist())
    # Per-gas splits where the flat file has gas rows: 1,302 factors, in both layouts.
    assert int((b["co2"].notna() & b["ch4"].notna()).sum()) == 1302


def test_it_reports_the_full_sets_blank_cells_as_not_applicable(full: ReadResult) -> None:
    report = full.report
    # The full set gives each (row, group) one row: 2,672 factors, and the blank cells, skipped.
    assert report.rows_read == report.ingested + report.skipped_total
    assert set(report.skipped) == {"blank factor (not applicable)"}
    assert report.tables[0].sheet is None
    assert report.examples["blank factor (not applicable)"][0].startswith("Full set: ")
    # The 31 factor sheets are read, never the guidance, SECR energy or "Overseas electricity".
    sheets = set(full.frame["source_table"])
    assert len(sheets) == 31
    assert {"Fuels", "Freighting goods", "Hotel stay", "Outside of scopes"} <= sheets
    assert not any(s.startswith(("SECR", "Overseas", "Conversions")) for s in sheets)


def test_it_names_each_full_set_factor_by_its_sheet_row_and_group(full: ReadResult) -> None:
    frame = full.frame.set_index("publisher_id")
    assert frame.index.is_unique
    # Cross-check values of the README (DEFRA 2024 flat file, kg CO2e per unit).
    gas = frame.loc["Fuels!40"]
    assert gas["name"] == "Gaseous fuels: Natural gas"
    assert (gas["unit_label"], gas["kg_co2e"]) == ("cubic metres", 2.04542)
    car = frame.loc["Passenger vehicles!26 Petrol"]
    assert car["name"] == "Cars (by market segment): Mini, Petrol"
    assert (car["kg_co2e"], car["co2"], car["ch4"], car["n2o"]) == (
        0.13087,
        0.13019,
        0.00036,
        0.00032,
    )
    biogenic = frame.loc["Outside of scopes!21"]
    assert biogenic["scope"] == "outside"
    assert biogenic["kg_co2e"] == biogenic["co2"]


def test_it_does_not_ship_the_full_set_with_the_flat_file() -> None:
    keys = {load_mapping(p).key for p in shipped_mappings()}
    assert "defra_2024" in keys
    assert "defra_2024_full_set" not in keys


@pytest.mark.django_db
def test_it_ingests_the_full_set_with_the_command() -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="--mapping reads one dataset"):
        call_command("ingest_factors", "--mapping", str(FULL_SET), "--all")
    call_command("ingest_factors", "--mapping", str(FULL_SET), "--dry-run", "--json", stdout=out)
    dry = json.loads(out.getvalue())["reports"][0]
    assert (dry["dataset"], dry["ingested"]) == ("defra_2024_full_set", 2672)
    assert not FactorDataset.objects.filter(key="defra_2024_full_set").exists()
    out = StringIO()
    call_command("ingest_factors", "--mapping", str(FULL_SET), stdout=out)
    assert "defra_2024_full_set: ingested (version 1)" in out.getvalue()
    dataset = FactorDataset.objects.get(key="defra_2024_full_set")
    assert dataset.family == "defra"
    diesel = dataset.factors.get(publisher_id="Fuels!72")
    assert diesel.kg_co2e == pytest.approx(2.51279, abs=1e-12)
    assert pd.notna(diesel.co2)
