"""Workbook layouts in a mapping: sheet lists, fill-down, column groups, headers found by content.

Small workbooks made here with openpyxl, laid out as the DEFRA "full set" is (pure, no database).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from factors.ingest.errors import IngestError, MappingError
from factors.ingest.mapping import load_mapping
from factors.ingest.reader import ReadResult, read_dataset

MAPPING = """
key: layout_2024
title: Layout test factors
publisher: Test publisher
edition: "2024"
source_url: https://example.org/factors
licence: CC0
fields:
  region: GB
  gwp_set: AR5
  basis: activity
  kind: activity
tables:
  - name: workbook
    file: {file}
{table}
    fields:
      publisher_id: {{template: "{{Category}}!{{__row}}/{{Fuel}}"}}
      scope: {{column: Scope, map: {{Scope 1: "1", Scope 3: "3"}}}}
      name: {{join: [Activity, Type, Fuel], sep: ", "}}
      unit: {{column: Unit, map: {{km: km, miles: mile, tonnes: tonne}}}}
      kg_co2e: {{column: kg CO2e}}
      co2: {{column: kg CO2e of CO2 per unit}}
"""
LAYOUT = """
    sheets: {all_except: [Notes, Sheet1]}
    sheet_column: Category
    sheet_cells: {Scope: B2}
    header_starts_with: Activity
    stop_at_blank: Unit
    fill_down: [Activity, Type]
    column_groups: {name: Fuel, columns: [kg CO2e, kg CO2e of CO2 per unit]}
"""
CO2 = "kg CO2e of CO2 per unit"


def _workbook(path: Path) -> Path:
    book = Workbook()
    transport = book.active
    assert transport is not None
    transport.title = "Transport"
    rows: list[list[object]] = [
        ["Transport factors"],
        ["Scope:", "Scope 1"],
        [],
        [None, None, None, "Diesel", None, "Petrol", None],
        ["Activity", "Type", "Unit", "kg CO2e", CO2, "kg CO2e", CO2],
        ["Cars", "Small", "km", 0.1, 0.09, 0.2, 0.19],
        [None, None, "miles", 0.16, 0.15, 0.32, 0.31],
        [None, "Large", "km", 0.3, 0.29, None, None],
        ["Vans", None, "km", 0.5, 0.49, 0.6, 0.59],
        [],
        ["Note: a second table follows, with one value column and no groups."],
        ["Activity", "Type", "Unit", "kg CO2e"],
        ["Boats", "Ferry", "km", 0.11],
        [],
        ["FAQ: what is a ferry?"],
    ]
    for row in rows:
        transport.append(row)
    # The publisher merges the group labels over their columns and a label over its rows.
    transport.merge_cells("D4:E4")
    transport.merge_cells("F4:G4")
    transport.merge_cells("A6:A8")
    waste = book.create_sheet("Waste")
    for row in (
        ["Waste factors"],
        ["Scope:", "Scope 3"],
        ["Activity", "Type", "Unit", "kg CO2e", CO2],
        ["Landfill", "Mixed", "tonnes", 500, None],
    ):
        waste.append(row)
    book.create_sheet("Notes").append(["How to use these factors"])
    book.create_sheet("Sheet1").append(["junk", 1, 2])
    book.save(path)
    return path


def _mapping(tmp_path: Path, table: str = LAYOUT) -> Path:
    book = _workbook(tmp_path / "factors.xlsx")
    path = tmp_path / "layout_2024.yml"
    path.write_text(MAPPING.format(file=book, table=table.rstrip("\n")), encoding="utf-8")
    return path


def _read(tmp_path: Path, table: str = LAYOUT) -> ReadResult:
    return read_dataset(load_mapping(_mapping(tmp_path, table)))


def _factor(result: ReadResult, publisher_id: str) -> pd.Series:
    rows = result.frame[result.frame["publisher_id"] == publisher_id]
    assert len(rows) == 1, (publisher_id, result.frame["publisher_id"].tolist())
    return rows.iloc[0]


def test_it_fills_labels_down_over_blank_and_merged_cells(tmp_path: Path) -> None:
    result = _read(tmp_path)
    # A6:A8 merged ("Cars") and B7 blank ("Small" above) carry down.
    assert _factor(result, "Transport!7/Diesel")["name"] == "Cars, Small, Diesel"
    assert _factor(result, "Transport!8/Diesel")["name"] == "Cars, Large, Diesel"
    # A new Activity clears the Type above it: the van row has no type, not "Large".
    assert _factor(result, "Transport!9/Petrol")["name"] == "Vans, Petrol"


def test_it_turns_column_groups_into_one_row_per_group(tmp_path: Path) -> None:
    result = _read(tmp_path)
    diesel = _factor(result, "Transport!6/Diesel")
    petrol = _factor(result, "Transport!6/Petrol")
    assert (diesel["kg_co2e"], diesel["co2"]) == (0.1, 0.09)
    assert (petrol["kg_co2e"], petrol["co2"]) == (0.2, 0.19)
    assert (petrol["unit"], _factor(result, "Transport!7/Petrol")["unit"]) == ("km", "mi")
    # A blank group cell is "not applicable": skipped, never zero.
    assert not (result.frame["publisher_id"] == "Transport!8/Petrol").any()
    assert result.report.skipped["blank factor (not applicable)"] == 1
    assert result.report.examples["blank factor (not applicable)"] == ["workbook: Transport row 8"]
    # The second table has no group labels above it: one ungrouped factor per row, and a value
    # column it does not have stays blank.
    ferry = _factor(result, "Transport!13/")
    assert ferry["name"] == "Boats, Ferry"
    assert ferry["kg_co2e"] == 0.11
    assert np.isnan(ferry["co2"])


def test_it_reads_all_sheets_but_some_and_ends_each_table_at_a_blank_row(tmp_path: Path) -> None:
    result = _read(tmp_path)
    # Transport: 4 rows x 2 groups + 1 ferry row; Waste: 1 row. Notes, FAQs and the sheets left
    # out are not read.
    assert result.report.rows_read == 10
    assert result.report.ingested == 9
    waste = _factor(result, "Waste!4/")
    assert (waste["scope"], waste["name"], waste["unit"]) == ("3", "Landfill, Mixed", "tonne")
    assert waste["kg_co2e"] == 500
    assert set(result.frame["scope"]) == {"1", "3"}


def test_it_reads_a_list_of_sheets(tmp_path: Path) -> None:
    result = _read(tmp_path, LAYOUT.replace("{all_except: [Notes, Sheet1]}", "[Waste]"))
    assert result.frame["publisher_id"].tolist() == ["Waste!4/"]


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (
            ("[Notes, Sheet1]", "[Notes, Sheet 1]"),
            "tables[0].sheets.all_except",
            "sheet 'Sheet 1' is not in the workbook",
        ),
        (
            ("{all_except: [Notes, Sheet1]}", "[Waste, Transprot]"),
            "tables[0].sheets",
            "sheet 'Transprot' is not in the workbook",
        ),
        (
            ("[Notes, Sheet1]", "[Sheet1]"),
            "tables[0].header_starts_with",
            "no row starts with 'Activity'",
        ),
        (
            ("fill_down: [Activity, Type]", "fill_down: [Activity, Typ]"),
            "tables[0].fill_down",
            "column 'Typ' is not in any header read",
        ),
        (
            ("stop_at_blank: Unit", "stop_at_blank: Units"),
            "tables[0].stop_at_blank",
            "column 'Units' is not in this table's header",
        ),
        (
            ("columns: [kg CO2e, kg CO2e of CO2 per unit]", "columns: [kg CO2 e]"),
            "tables[0].column_groups.columns",
            "none of ['kg CO2 e'] is in the header",
        ),
    ],
)
def test_it_names_the_mapping_key_of_a_sheet_or_column_not_found(
    tmp_path: Path, change: tuple[str, str], key: str, message: str
) -> None:
    old, new = change
    assert old in LAYOUT
    with pytest.raises(IngestError) as caught:
        _read(tmp_path, LAYOUT.replace(old, new))
    assert caught.value.message.startswith(f"{key}: {message}")
    assert caught.value.as_dict()["mapping_key"] == key


def test_it_names_the_field_that_reads_a_missing_column(tmp_path: Path) -> None:
    path = _mapping(tmp_path)
    path.write_text(
        path.read_text().replace("[Activity, Type, Fuel]", "[Activity, Kind, Fuel]"),
        encoding="utf-8",
    )
    with pytest.raises(IngestError, match="not in the header") as caught:
        read_dataset(load_mapping(path))
    assert caught.value.column == "Kind"
    assert caught.value.as_dict()["mapping_key"] == "tables[0].fields.name"
    assert "used by tables[0].fields.name" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("    sheet_column: Category", "    sheet: Transport"), "tables[0].sheets"),
        (("{Scope: B2}", "{Scope: second row}"), "tables[0].sheet_cells.Scope"),
        (("    stop_at_blank: Unit", "    header_row: 5"), "tables[0].header_starts_with"),
        (("{name: Fuel, columns", "{label: Fuel, columns"), "tables[0].column_groups"),
        (("columns: [kg CO2e, kg CO2e of CO2 per unit]", "columns: []"), "column_groups.columns"),
        (("{all_except: [Notes, Sheet1]}", "{but: [Notes]}"), "tables[0].sheets"),
    ],
)
def test_it_rejects_a_malformed_layout_naming_the_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    old, new = change
    assert old in LAYOUT
    path = _mapping(tmp_path, LAYOUT.replace(old, new))
    with pytest.raises(MappingError, match=key.replace(".", r"\.").replace("[", r"\[")):
        load_mapping(path)


def test_it_keeps_sheets_to_workbooks(tmp_path: Path) -> None:
    csv = tmp_path / "factors.csv"
    csv.write_text("Activity,Unit,kg CO2e\nCars,km,0.1\n", encoding="utf-8")
    path = tmp_path / "layout_2024.yml"
    path.write_text(
        MAPPING.format(file=csv, table="    sheets: [Transport]"),
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=r"tables\[0\]\.sheets: only a workbook"):
        load_mapping(path)


def test_it_fills_down_and_renames_in_a_csv_too(tmp_path: Path) -> None:
    csv = tmp_path / "factors.csv"
    csv.write_text(
        "Category,Activity,Kind,Unit,kg CO2e,kg CO2e of CO2 per unit,Fuel,Scope\n"
        "Transport,Cars,Small,km,0.1,,Diesel,Scope 1\n"
        ",,,miles,0.16,,Diesel,Scope 1\n"
        ",Vans,,km,0.5,,Diesel,Scope 1\n",
        encoding="utf-8",
    )
    table = "    rename: {Kind: Type}\n    fill_down: [Category, Activity, Type]"
    path = tmp_path / "layout_2024.yml"
    path.write_text(MAPPING.format(file=csv, table=table), encoding="utf-8")
    result = read_dataset(load_mapping(path))
    assert result.frame["name"].tolist() == ["Cars, Small, Diesel"] * 2 + ["Vans, Diesel"]
    assert result.frame["publisher_id"].tolist() == [
        "Transport!2/Diesel",
        "Transport!3/Diesel",
        "Transport!4/Diesel",
    ]
    path.write_text(
        MAPPING.format(file=csv, table=table.replace("Activity, Type]", "Activity, Typo]")),
        encoding="utf-8",
    )
    with pytest.raises(IngestError, match=r"^tables\[0\]\.fill_down: column 'Typo'"):
        read_dataset(load_mapping(path))


def test_it_extends_another_mappings_maps_and_fields(tmp_path: Path) -> None:
    base = _mapping(tmp_path)
    child = tmp_path / "alternates" / "layout_2024_other.yml"
    child.parent.mkdir()
    shared = "fields:\n  region: GB\n  gwp_set: AR5\n  basis: activity\n  kind: activity\n"
    text = base.read_text()
    assert shared in text
    child.write_text(
        text.replace("key: layout_2024", "key: layout_2024_other")
        .replace(shared, "extends: ../layout_2024.yml\nfields:\n  region: IE\n")
        .replace("{{Category}}!{{__row}}/{{Fuel}}", "other-{{__row}}")
        .replace('"{Category}!{__row}/{Fuel}"', '"other-{__row}/{Fuel}"'),
        encoding="utf-8",
    )
    result = read_dataset(load_mapping(child))
    # Its own fields win; the others (gwp_set, basis, kind) are the base mapping's.
    waste = _factor(result, "other-4/")
    assert (waste["region"], waste["gwp_set"], waste["kind"]) == ("IE", "AR5", "activity")
    assert waste["kg_co2e"] == 500
    # An edit to the base mapping is an edit to this one (a new dataset version).
    before = load_mapping(child).sha256
    base.write_text(base.read_text().replace("region: GB", "region: GB  # United Kingdom"))
    assert load_mapping(child).sha256 != before
    child.write_text(child.read_text().replace("../layout_2024.yml", "../layout_2023.yml"))
    with pytest.raises(MappingError, match=r"^extends: cannot read mapping '../layout_2023.yml'"):
        load_mapping(child)
