"""DEFRA 2024 flat file -> factors (pure reader, no database)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from factors.ingest.errors import IngestError
from factors.ingest.mapping import load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset

DEFRA = mapping_path("defra_2024")
SHEET = "Factors by Category"


@pytest.fixture(scope="module")
def defra() -> ReadResult:
    return read_dataset(load_mapping(DEFRA))


def _one(frame: pd.DataFrame, publisher_id: str) -> pd.Series:
    rows = frame[frame["publisher_id"] == publisher_id]
    assert len(rows) == 1, publisher_id
    return rows.iloc[0]


def test_it_reads_every_published_row_and_skips_blank_factors(defra: ReadResult) -> None:
    report = defra.report
    assert report.rows_read == 8740
    # The publisher's file has 1,711 blank factors (not applicable): skipped, never read as zero.
    assert report.skipped["blank factor (not applicable)"] == 1711
    # SECR "kWh (Net CV)" rows are energy per unit, not emission factors.
    assert (
        report.skipped["energy use per unit (kWh, SECR reporting), not an emission factor"] == 451
    )
    assert report.skipped_total == 1711 + 451


def test_it_folds_the_per_gas_rows_into_one_factor(defra: ReadResult) -> None:
    # 1,314 activities publish a total only, 1,302 a total plus CO2/CH4/N2O rows, and 56
    # (biogenic, outside of scopes) a CO2 row only: 2,672 factors from 7,029 non-blank rows.
    assert len(defra.frame) == 2672
    assert defra.report.tables[0].rows_folded == 3 * 1302
    assert defra.report.ingested == 2672
    assert 8740 - 1711 - 451 - 3 * 1302 == 2672
    with_split = defra.frame["co2"].notna() & defra.frame["ch4"].notna()
    assert int(with_split.sum()) == 1302
    assert defra.frame["publisher_id"].is_unique


def test_it_keeps_the_published_values_of_diesel_and_natural_gas(defra: ReadResult) -> None:
    diesel = _one(defra.frame, "1_101_1011_8_1")
    assert diesel["name"] == "Liquid fuels: Diesel (average biofuel blend)"
    assert diesel["kg_co2e"] == pytest.approx(2.51279, abs=1e-12)
    assert diesel["unit"] == "L"
    assert diesel["unit_label"] == "litres"
    assert (diesel["co2"], diesel["ch4"], diesel["n2o"]) == pytest.approx((2.4796, 0.00029, 0.0329))
    assert diesel["scope"] == "1"
    assert diesel["source_row"] == 187  # the total row's row in the sheet (header on row 6)
    gas_kwh = _one(defra.frame, "1_100_1004_6_1")
    assert gas_kwh["kg_co2e"] == pytest.approx(0.18290, abs=1e-12)
    assert (gas_kwh["unit"], gas_kwh["cv_basis"]) == ("kWh", "gross")
    assert _one(defra.frame, "1_100_1004_7_1")["cv_basis"] == "net"
    gas_m3 = _one(defra.frame, "1_100_1004_1_1")
    assert gas_m3["kg_co2e"] == pytest.approx(2.04542, abs=1e-12)
    assert gas_m3["unit_dimension"] == "volume"


def test_it_gives_the_folded_factor_the_id_of_the_total_row(defra: ReadResult) -> None:
    ids = set(defra.frame["publisher_id"])
    assert "1_101_1011_8_1" in ids
    assert not {"1_101_1011_8_2", "1_101_1011_8_3", "1_101_1011_8_4"} & ids
    # A biogenic CO2-only activity keeps its only row's id and value.
    biogenic = _one(defra.frame, "99_604_1011_8_2")
    assert (biogenic["scope"], biogenic["kg_co2e"], biogenic["co2"]) == ("outside", 0.16, 0.16)


def test_it_keeps_scopes_categories_and_regions_as_published(defra: ReadResult) -> None:
    frame = defra.frame
    assert set(frame["scope"]) == {"1", "2", "3", "outside"}
    level1 = set(frame["category"].str.split(" > ").str[0])
    assert {"Fuels", "UK electricity", "Freighting goods", "Hotel stay", "Waste disposal"} <= level1
    assert "SECR kWh pass & delivery vehs" not in level1
    hotels = frame[frame["category"].str.startswith("Hotel stay")]
    assert {"GB", "DE", "CN", "US"} <= set(hotels["region"])
    assert set(frame.loc[~frame.index.isin(hotels.index), "region"]) == {"GB"}
    uk = frame[frame["category"].str.startswith("UK electricity > Electricity generated")]
    assert len(uk) == 1
    assert uk.iloc[0][["scope", "basis", "kind", "unit"]].tolist() == [
        "2",
        "location",
        "grid_electricity",
        "kWh",
    ]
    assert (frame["kg_co2e"] >= 0).all()
    assert set(frame["gwp_set"]) == {"AR5"}
    assert set(frame["year"].astype(int)) == {2024}


def test_it_stores_units_the_engine_parses(defra: ReadResult) -> None:
    from emissions.engine.units import parse_unit

    for unit in defra.frame["unit"].unique():
        parse_unit(unit)
    assert {"room_night", "FTE_hour", "tonne * km", "passenger * km"} <= set(defra.frame["unit"])


def _sheet(path: Path, rows: list[list[object]], sheet: str = SHEET) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


HEADER: list[object] = [
    "ID",
    "Scope",
    "Level 1",
    "Level 2",
    "Level 3",
    "Level 4",
    "Column Text",
    "UOM",
    "GHG/Unit",
    "GHG Conversion Factor 2024",
]


def _workbook_rows(header: list[object], *data: list[object]) -> list[list[object]]:
    return [["title"], [SHEET], [], [], [None, None, "Category"], header, *data]


def test_it_reads_next_years_file_with_only_a_file_swap(tmp_path: Path) -> None:
    book = _sheet(
        tmp_path / "next.xlsx",
        _workbook_rows(
            HEADER,
            [
                "9_1_1",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Diesel",
                None,
                None,
                "litres",
                "kg CO2e",
                2.5,
            ],
            [
                "9_1_2",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Diesel",
                None,
                None,
                "litres",
                "kg CO2e of CO2 per unit",
                2.4,
            ],
            [
                "9_1_3",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Diesel",
                None,
                None,
                "litres",
                "kg CO2e of CH4 per unit",
                0.04,
            ],
            [
                "9_1_4",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Diesel",
                None,
                None,
                "litres",
                "kg CO2e of N2O per unit",
                0.06,
            ],
            [
                "9_2_1",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Petrol",
                None,
                None,
                "litres",
                "kg CO2e",
                None,
            ],
            [None, "END"],
        ),
    )
    result = read_dataset(load_mapping(DEFRA), files={SHEET: book})
    assert list(result.frame["publisher_id"]) == ["9_1_1"]
    assert result.frame.iloc[0][["kg_co2e", "co2", "ch4", "n2o"]].tolist() == [2.5, 2.4, 0.04, 0.06]
    assert result.report.skipped == {"blank factor (not applicable)": 1}


def test_it_names_file_sheet_row_and_column_when_a_column_is_missing(tmp_path: Path) -> None:
    header = [h if h != "UOM" else "Unit" for h in HEADER]
    book = _sheet(tmp_path / "renamed.xlsx", _workbook_rows(header, ["1", "Scope 1"]))
    with pytest.raises(IngestError) as caught:
        read_dataset(load_mapping(DEFRA), files={SHEET: book})
    error = caught.value
    assert (error.sheet, error.row, error.column) == (SHEET, 6, "UOM")
    assert "renamed.xlsx" in error.file
    assert "not in the header" in error.message


def test_it_reports_a_sheet_that_changed_shape(tmp_path: Path) -> None:
    # The header moved down a row: row 6 no longer holds it.
    rows: list[list[object]] = [["title"], [SHEET], [], [], [], [None, None, "Category"], HEADER]
    book = _sheet(tmp_path / "shifted.xlsx", rows)
    with pytest.raises(IngestError) as caught:
        read_dataset(load_mapping(DEFRA), files={SHEET: book})
    assert (caught.value.sheet, caught.value.row) == (SHEET, 6)
    assert caught.value.column in HEADER
    assert set(caught.value.extra["missing_columns"]) == set(HEADER)


def test_it_reports_a_missing_sheet_and_a_corrupt_workbook(tmp_path: Path) -> None:
    book = _sheet(tmp_path / "other.xlsx", _workbook_rows(HEADER), sheet="Something else")
    with pytest.raises(IngestError, match="sheet not found") as caught:
        read_dataset(load_mapping(DEFRA), files={SHEET: book})
    assert "Something else" in caught.value.message
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(IngestError, match="cannot read workbook"):
        read_dataset(load_mapping(DEFRA), files={SHEET: corrupt})
    with pytest.raises(IngestError, match="data file not found"):
        read_dataset(load_mapping(DEFRA), files={SHEET: tmp_path / "missing.xlsx"})


def test_it_names_the_cell_that_is_not_a_number(tmp_path: Path) -> None:
    book = _sheet(
        tmp_path / "text.xlsx",
        _workbook_rows(
            HEADER,
            [
                "9_1_1",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Diesel",
                None,
                None,
                "litres",
                "kg CO2e",
                2.5,
            ],
            [
                "9_2_1",
                "Scope 1",
                "Fuels",
                "Liquid fuels",
                "Petrol",
                None,
                None,
                "litres",
                "kg CO2e",
                "see note",
            ],
        ),
    )
    with pytest.raises(IngestError) as caught:
        read_dataset(load_mapping(DEFRA), files={SHEET: book})
    assert (caught.value.row, caught.value.column, caught.value.value) == (
        8,
        "GHG Conversion Factor 2024",
        "see note",
    )


def test_it_names_well_to_tank_factors_apart_from_combustion(defra: ReadResult) -> None:
    frame = defra.frame
    assert _one(frame, "1_101_1011_8_1")["name"] == "Liquid fuels: Diesel (average biofuel blend)"
    wtt = _one(frame, "11_101_1011_8_1")
    assert wtt["name"] == "WTT- fuels: Liquid fuels: Diesel (average biofuel blend)"
    assert (wtt["scope"], wtt["scope3_category"]) == ("3", 3)
    biogenic = frame[frame["scope"] == "outside"]
    assert biogenic["name"].str.startswith("Outside of scopes: ").all()
    # No name is shared by factors of two Level 1 headings (owned car vs business travel...).
    level1 = frame["category"].str.split(" > ").str[0]
    assert int(frame.assign(level1=level1).groupby("name")["level1"].nunique().max()) == 1


def test_it_ranks_diesel_combustion_first_among_the_real_defra_factors(
    defra: ReadResult,
) -> None:
    from factors.ranking import FactorCandidate, rank_candidates

    rows = defra.frame[defra.frame["unit_dimension"].isin(["volume", "mass", "energy"])]
    candidates = [
        FactorCandidate(
            name=r.name,
            unit=r.unit,
            region=r.region,
            kg_co2e=r.kg_co2e,
            unit_dimension=r.unit_dimension,
            publisher_id=r.publisher_id,
            category=r.category,
            scope=r.scope,
        )
        for r in rows.itertuples()
    ]
    found = rank_candidates(
        description="Diesel", candidates=candidates, unit_dimension="volume", region="GB"
    )
    ids = [c.factor.publisher_id for c in found]
    assert ids[0] == "1_101_1011_8_1"
    assert found[0].factor.kg_co2e == pytest.approx(2.51279, abs=1e-12)
    assert ids.index("1_101_1014_8_1") < 3  # gas oil (red diesel), direct combustion
    assert not any("Petrol" in c.factor.name for c in found)
    wtt = [i for i in ids if i.startswith("11_")]
    assert all(ids.index(i) > ids.index("1_101_1014_8_1") for i in wtt)
