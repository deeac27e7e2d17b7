"""YAML mappings and the generic transforms (pure)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from factors.ingest.errors import IngestError, MappingError
from factors.ingest.mapping import load_mapping, shipped_mappings
from factors.ingest.reader import read_dataset
from factors.ingest.transforms import KG_PER_LB, NUMERIC_SCALES, TEXT_TRANSFORMS

MINIMAL = """
key: test_2024
title: Test factors
publisher: Test publisher
edition: "2024"
source_url: https://example.org/factors
licence: CC0
fields:
  scope: "1"
  region: GB
  gwp_set: AR5
  basis: activity
  kind: fuel
tables:
  - name: factors
    file: {file}
    na_values: [n/a]
    fields:
      publisher_id: {{column: id}}
      name: {{column: name}}
      unit: {{column: unit, map: {{litres: L, kWh: kWh}}}}
      co2: {{column: co2_kg}}
      ch4: {{column: ch4_g, transform: [g_to_kg, {{gwp: CH4}}]}}
      kg_co2e: {{sum: [co2, ch4]}}
"""


def _mapping(tmp_path: Path, csv_text: str, yaml_text: str = MINIMAL) -> Path:
    data = tmp_path / "factors.csv"
    data.write_text(csv_text, encoding="utf-8")
    path = tmp_path / "test_2024.yml"
    path.write_text(yaml_text.format(file=data), encoding="utf-8")
    return path


def test_it_loads_every_shipped_mapping() -> None:
    keys = {load_mapping(p).key for p in shipped_mappings()}
    assert keys == {
        "defra_2024",
        "epa_hub_2025",
        "useeio_v1_3",
        "exiobase_2022",
        "exiobase_nace_2022",
        "exiobase_mrio",
        "owid_grid_2025",
        "aib_residual_mix_2021",
    }


def test_it_reads_a_csv_through_a_mapping(tmp_path: Path) -> None:
    path = _mapping(
        tmp_path,
        "id,name,unit,co2_kg,ch4_g\n"
        "a,Diesel,litres,2.5,10\n"
        "b,Gas,kWh,n/a,1\n"
        "c,Coal,bag,3,1\n"
        "d,Oil,litres,-1,0\n"
        "a,Diesel again,litres,2.6,0\n",
    )
    result = read_dataset(load_mapping(path))
    assert list(result.frame["publisher_id"]) == ["a"]
    diesel = result.frame.iloc[0]
    assert diesel["kg_co2e"] == pytest.approx(2.5 + 10e-3 * 28)
    assert diesel["source_row"] == 2
    assert result.report.skipped == {
        "blank factor (not applicable)": 1,
        "unit: no mapping for 'bag'": 1,
        "negative factor": 1,
        "duplicate publisher id": 1,
    }
    assert result.report.examples["negative factor"] == ["factors row 5"]


def test_it_rejects_a_mapping_with_an_unknown_key_or_transform(tmp_path: Path) -> None:
    bad_key = MINIMAL.replace("na_values: [n/a]", "na_value: [n/a]")
    with pytest.raises(MappingError, match=r"unknown key\(s\) \['na_value'\]"):
        load_mapping(_mapping(tmp_path, "id\n", bad_key))
    bad_transform = MINIMAL.replace("g_to_kg", "grams_to_kg")
    with pytest.raises(MappingError, match="unknown transform 'grams_to_kg'"):
        load_mapping(_mapping(tmp_path, "id\n", bad_transform))
    missing = MINIMAL.replace("      name: {{column: name}}\n", "")
    with pytest.raises(MappingError, match="required field\\(s\\) not mapped: name"):
        load_mapping(_mapping(tmp_path, "id\n", missing))


def test_it_names_the_missing_column_of_a_csv(tmp_path: Path) -> None:
    path = _mapping(tmp_path, "id,name,units,co2_kg,ch4_g\na,Diesel,litres,2.5,10\n")
    with pytest.raises(IngestError) as caught:
        read_dataset(load_mapping(path))
    assert (caught.value.row, caught.value.column) == (1, "unit")
    assert caught.value.file.endswith("factors.csv")


def test_it_reports_a_corrupt_csv(tmp_path: Path) -> None:
    path = _mapping(tmp_path, "")
    (tmp_path / "factors.csv").write_bytes(b"id,name\n\xff\xfe\x00broken")
    with pytest.raises(IngestError, match="not utf-8-sig text"):
        read_dataset(load_mapping(path))
    (tmp_path / "factors.csv").write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        read_dataset(load_mapping(path))


def test_it_converts_with_exact_constants() -> None:
    assert KG_PER_LB == 0.45359237
    assert NUMERIC_SCALES["lb_per_mwh_to_kg_per_kwh"] == pytest.approx(0.45359237e-3)
    assert NUMERIC_SCALES["tonne_to_kg"] == 1000.0
    assert NUMERIC_SCALES["g_per_kwh_to_kg_per_kwh"] == 1e-3


def test_it_normalises_nace_codes_and_country_codes() -> None:
    codes = pd.Series(["1.11", "1.5", "10.2", "46.32", "84", "x"], dtype="string")
    assert TEXT_TRANSFORMS["nace_code"](codes).tolist() == [
        "01.11", "01.50", "10.20", "46.32", "84", pd.NA,
    ]  # fmt: skip
    iso3 = pd.Series(["DEU", "GBR", "OWID_WRL"], dtype="string")
    assert TEXT_TRANSFORMS["iso3_to_iso2"](iso3).tolist()[:2] == ["DE", "GB"]
    assert pd.isna(TEXT_TRANSFORMS["iso3_to_iso2"](iso3).iloc[2])
    names = pd.Series(["Germany", "China", "United States"], dtype="string")
    assert TEXT_TRANSFORMS["country_name_to_iso2"](names).tolist() == ["DE", "CN", "US"]


def test_it_uses_epa_table_11_gwps_for_ar5() -> None:
    from factors.ingest.gwp import gwp100
    from factors.ingest.mapping import RAW_DIR

    table = pd.read_csv(RAW_DIR / "epa_hub" / "epa_hub2025_table11_gwp_ar5.csv")
    published = dict(zip(table["formula"], table["gwp100"], strict=True))
    assert (published["CH4"], published["N2O"]) == (28, 265)
    assert gwp100("CH4", "AR5") == published["CH4"]
    assert gwp100("N2O", "AR5") == published["N2O"]
    assert gwp100("SF6", "AR5") == published["SF6"]
