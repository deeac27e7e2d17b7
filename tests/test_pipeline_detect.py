"""Header row, blank rows and trailing totals (imports.pipeline.detect)."""

from __future__ import annotations

import pandas as pd
import pytest

from imports.pipeline import detect_header_row, find_skipped_rows, read_upload


def _frame(rows: list[list[str | None]], first_row: int = 2) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True))
    data = {f"c{i}": pd.Series(list(col), dtype="str") for i, col in enumerate(columns)}
    frame = pd.DataFrame(data)
    frame.index = pd.RangeIndex(first_row, first_row + len(rows), name="row")
    return frame


def test_it_finds_the_header_under_title_rows() -> None:
    rows = [
        ["ACME GmbH - Energiebericht", "", "", ""],
        ["Zeitraum: 01.01.2024 - 31.12.2024", "", "", ""],
        ["", "", "", ""],
        ["Datum", "Bezeichnung", "Menge", "Einheit"],
        ["31.01.2024", "Strom", "1.234,5", "kWh"],
    ]
    assert detect_header_row(rows) == 3


def test_it_finds_a_header_of_unknown_words_by_its_shape() -> None:
    rows: list[list[str | None]] = [
        ["Export 2024", None, None],
        ["Spalte Eins", "Spalte Zwei", "Spalte Drei"],
        ["2024-01-01", "x", "12"],
        ["2024-01-02", "y", "13"],
    ]
    assert detect_header_row(rows) == 1


def test_it_prefers_the_row_naming_known_fields() -> None:
    rows = [
        ["Werk", "Nord", "Abteilung", "Technik"],  # text, as wide, but not a header
        ["Datum", "Menge", "Einheit", "Bemerkung"],
        ["2024-01-01", "3", "kg", ""],
    ]
    assert detect_header_row(rows) == 1


@pytest.mark.parametrize(
    "label",
    [
        "Total",
        "TOTAL:",
        "Grand total",
        "Summe",
        "Gesamt",
        "Gesamtsumme",
        "Total général",
        "Totale",
        "Totale generale",
        "Totaal",
        "Suma",
        "Somme",
        "Zwischensumme",
    ],
)
def test_it_recognises_a_trailing_totals_row_in_six_languages(label: str) -> None:
    frame = _frame([["2024-01-01", "Diesel", "5"], ["2024-01-02", "Gas", "7"], [label, None, "12"]])
    keep, skipped = find_skipped_rows(frame)
    assert keep.tolist() == [True, True, False]
    assert [(s.row, s.reason) for s in skipped] == [(4, "total")]


def test_it_keeps_a_last_row_whose_activity_merely_starts_like_a_total() -> None:
    frame = _frame(
        [["Gesamtverbrauch Strom", "2024-01-01", "5"], ["Totalausfall Ersatz", "2024-01-02", "7"]]
    )
    keep, skipped = find_skipped_rows(frame)
    assert keep.all()
    assert skipped == []


def test_it_keeps_a_totals_row_in_the_middle_of_the_table() -> None:
    rows = [["Summe", None, "5"]] + [[f"2024-01-0{i}", "Gas", "1"] for i in range(1, 6)]
    keep, skipped = find_skipped_rows(_frame(rows))
    assert keep.all()
    assert skipped == []


def test_it_skips_a_footer_under_the_totals_row() -> None:
    frame = _frame(
        [["2024-01-01", "Diesel", "5"], ["Summe", None, "5"], ["Quelle: SAP", None, None]]
    )
    keep, skipped = find_skipped_rows(frame)
    assert keep.tolist() == [True, False, False]
    assert [s.reason for s in skipped] == ["total", "footer"]


def test_it_merges_consecutive_blank_rows_into_one_entry() -> None:
    frame = _frame([["a", "1"], [None, None], [None, None], ["b", "2"], [None, None]])
    keep, skipped = find_skipped_rows(frame)
    assert keep.tolist() == [True, False, False, True, False]
    assert [(s.row, s.last_row, s.reason) for s in skipped] == [(3, 4, "blank"), (6, 6, "blank")]


def test_it_reports_skipped_rows_by_their_spreadsheet_numbers() -> None:
    text = "Bericht\nDate,Activity,Quantity\n2024-01-01,Diesel,1\n,,\n2024-01-02,Gas,2\nTotal,,3\n"
    r = read_upload(text.encode(), filename="a.csv")
    assert list(r.frame.index) == [3, 5]
    assert [(s.row, s.reason) for s in r.skipped] == [(4, "blank"), (6, "total")]
    assert r.skipped[1].text == "Total | 3"
