"""Validation rules, structured cell errors, preview, single-row re-validation and bulk fixes
(imports.pipeline.validate), over files read by read_upload."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emissions.engine.fx import to_eur
from imports.pipeline import (
    ERROR_COLUMNS,
    Mapping,
    MappingOptions,
    PipelineError,
    apply_fixes,
    count_value,
    preview,
    read_upload,
    replace_value,
    revalidate_row,
    suggest_mapping,
    validate,
)

GERMAN = (
    "Verbrauchsdaten Werk Nord\n"
    "Datum;Bezeichnung;Menge;Einheit;Betrag;Währung;Bemerkung\n"
    "31.01.2024;Strom Netzbezug;1.234,5;kWh;;;\n"  # row 3
    "29.02.2024;Diesel;500;l;;;\n"  # row 4
    "31.02.2024;Erdgas;abc;Fass;5,00;XYZ;\n"  # row 5: four bad cells
    "01.03.2024;Heizöl;-20;l;;;Korrektur Januar\n"  # row 6: a correction
    "02.03.2024;Heizöl;-20;l;;;\n"  # row 7: negative, no correction
    "03.03.2024;;1;l;;;\n"  # row 8: no activity
    "04.03.2024;Papier;;;;;\n"  # row 9: no quantity or amount
    "05.03.2024;Bahnreise;;;120,00;USD;\n"  # row 10: spend row
    "06.03.2024;Strom;12;;;;\n"  # row 11: quantity without unit
    ';"=HYPERLINK(""http://x"",""y"")";1;kg;;;\n'  # row 12: no date, formula-like text kept
    "07.03.2024;+cmd|' /C calc'!A0;2;kg;;;\n"  # row 13
    "Summe;;;;;;\n"
)


@pytest.fixture
def german() -> tuple[pd.DataFrame, Mapping]:
    read = read_upload(GERMAN.encode("cp1252", errors="replace"), filename="werk.csv")
    mapping = suggest_mapping(read.headers, read.frame.head(50)).mapping
    return read.frame, mapping


def test_it_validates_a_supplier_file_and_returns_structured_errors(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, mapping = german
    result = validate(frame, mapping)
    assert result.n_rows == 11
    assert result.valid[result.valid].index.tolist() == [3, 4, 6, 10, 12 + 1]
    assert list(result.errors.columns) == list(ERROR_COLUMNS)
    errors = {(e["row"], e["column"], e["code"]) for e in result.error_records()}
    assert errors == {
        (5, "Datum", "invalid_date"),
        (5, "Menge", "invalid_number"),
        (5, "Einheit", "unit_unknown"),
        (5, "Währung", "currency_unknown"),
        (7, "Menge", "negative_quantity"),
        (8, "Bezeichnung", "missing_activity"),
        (9, "Menge", "missing_quantity"),
        (11, "Einheit", "missing_unit"),
        (12, "Datum", "missing_date"),
    }
    json.dumps(result.error_records())  # JSON-ready
    json.dumps(result.summary())


@pytest.mark.parametrize(
    ("column", "value", "message", "suggestion"),
    [
        (
            "Datum",
            "31.02.2024",
            "'31.02.2024' is not a date: February 2024 has 29 days",
            "day and the month",
        ),
        ("Menge", "abc", "'abc' is not a number", "1.234,56"),
        ("Einheit", "Fass", "Unknown unit 'Fass'", "kWh"),
        ("Währung", "XYZ", "Unknown currency 'XYZ'", "EUR"),
    ],
)
def test_it_explains_each_bad_cell_of_the_issue(
    german: tuple[pd.DataFrame, Mapping], column: str, value: str, message: str, suggestion: str
) -> None:
    frame, mapping = german
    errs = validate(frame, mapping).error_records(column=column)
    err = next(e for e in errs if e["value"] == value)
    assert err["row"] == 5
    assert err["message"] == message
    assert suggestion in err["suggestion"]


def test_it_normalises_the_valid_rows(german: tuple[pd.DataFrame, Mapping]) -> None:
    frame, mapping = german
    result = validate(frame, mapping)
    data = result.data
    assert data.loc[3, "quantity"] == 1234.5
    assert data.loc[3, "unit"] == "kWh"
    assert data.loc[4, "unit"] == "L"
    assert data.loc[4, "date"] == pd.Timestamp("2024-02-29")
    assert data.loc[6, "quantity"] == -20.0
    assert bool(data.loc[6, "is_correction"])
    assert data.loc[10, "currency"] == "USD"
    assert data.loc[12, "activity"] == '=HYPERLINK("http://x","y")'  # kept as text
    assert data.loc[13, "activity"] == "+cmd|' /C calc'!A0"
    assert pd.api.types.is_datetime64_any_dtype(data["date"])
    assert data["quantity"].dtype == np.float64
    assert result.detected["quantity"]["decimal"] == ","
    assert result.detected["date"]["order"] == "DMY"
    assert result.valid_data().index.tolist() == [3, 4, 6, 10, 13]


def test_it_converts_amounts_to_eur_at_the_rows_date_through_the_engine(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, mapping = german
    data = validate(frame, mapping).data
    expected = to_eur([120.0], ["USD"], pd.to_datetime(["2024-03-05"]), errors="coerce")
    assert data.loc[10, "amount_eur"] == pytest.approx(float(expected["eur"].iloc[0]))
    assert data.loc[10, "fx_rate"] == pytest.approx(float(expected["rate"].iloc[0]))
    assert 100 < data.loc[10, "amount_eur"] < 120  # the euro was worth more than a dollar


def test_it_accepts_negative_quantities_on_rows_flagged_as_corrections() -> None:
    frame = pd.DataFrame(
        {
            "Date": ["2024-01-01", "2024-01-02"],
            "Activity": ["Diesel", "Diesel"],
            "Quantity": ["-5", "-5"],
            "Correction": ["yes", ""],
        },
        dtype="str",
    )
    frame.index = pd.RangeIndex(2, 4, name="row")
    mapping = Mapping(
        columns={
            "date": "Date",
            "activity": "Activity",
            "quantity": "Quantity",
            "correction": "Correction",
        },
        constants={"unit": "L"},
    )
    result = validate(frame, mapping)
    assert result.valid.tolist() == [True, False]
    assert result.errors.iloc[0]["code"] == "negative_quantity"


def test_it_takes_extra_correction_words_from_the_options() -> None:
    frame = pd.DataFrame(
        {
            "Date": ["2024-01-01"],
            "Activity": ["Diesel"],
            "Quantity": ["-5"],
            "Notes": ["Rücklieferung"],
        },
        dtype="str",
    )
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "Quantity", "notes": "Notes"},
        constants={"unit": "L"},
    )
    assert not validate(frame, mapping).valid.iloc[0]
    assert validate(frame, mapping, {"correction_words": ["Rücklieferung"]}).valid.iloc[0]


def test_it_applies_constants_for_columns_the_file_lacks() -> None:
    frame = pd.DataFrame(
        {
            "Zeitraum von": ["01.01.2024"],
            "Zeitraum bis": ["31.01.2024"],
            "Zähler": ["Hauptzähler"],
            "Verbrauch": ["12.345"],
        },
        dtype="str",
    )
    mapping = Mapping(
        columns={
            "period_start": "Zeitraum von",
            "period_end": "Zeitraum bis",
            "activity": "Zähler",
            "quantity": "Verbrauch",
        },
        constants={"unit": "kWh", "country": "Deutschland", "scope": "2"},
        options=MappingOptions(decimal=","),
    )
    result = validate(frame, mapping)
    assert result.valid.all()
    row = result.data.iloc[0]
    assert row["quantity"] == 12345.0
    assert row["unit"] == "kWh"
    assert row["country"] == "DE"
    assert row["scope"] == 2
    assert row["period_end"] == pd.Timestamp("2024-01-31")


def test_it_refuses_an_invalid_constant_as_a_mapping_error() -> None:
    frame = pd.DataFrame(
        {"Date": ["2024-01-01"], "Activity": ["Diesel"], "Qty": ["5"]}, dtype="str"
    )
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "Qty"},
        constants={"unit": "Fass"},
    )
    with pytest.raises(PipelineError) as info:
        validate(frame, mapping)
    assert info.value.code == "mapping_invalid"
    assert "Fass" in info.value.message


def test_it_refuses_an_incomplete_mapping() -> None:
    frame = pd.DataFrame({"Date": ["2024-01-01"]}, dtype="str")
    with pytest.raises(PipelineError) as info:
        validate(frame, Mapping(columns={"date": "Date"}))
    assert info.value.code == "mapping_incomplete"


def test_it_reports_a_period_that_ends_before_it_starts() -> None:
    frame = pd.DataFrame(
        {"From": ["2024-02-01"], "To": ["2024-01-01"], "What": ["Gas"], "Cost": ["10"]}, dtype="str"
    )
    mapping = Mapping(
        columns={"period_start": "From", "period_end": "To", "activity": "What", "amount": "Cost"},
        constants={"currency": "EUR"},
    )
    result = validate(frame, mapping)
    assert result.errors.iloc[0]["code"] == "period_reversed"


def test_it_notes_columns_whose_format_the_user_must_choose() -> None:
    frame = pd.DataFrame(
        {
            "Date": ["03/04/2024", "05/06/2024"],
            "Activity": ["Gas", "Gas"],
            "Quantity": ["1.500", "2.250"],
        },
        dtype="str",
    )
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "Quantity"},
        constants={"unit": "kWh"},
    )
    result = validate(frame, mapping)
    assert result.n_valid == 0
    codes = {n["code"] for n in result.notes}
    assert codes == {"decimal_undecided", "date_order_undecided"}
    fixed = validate(frame, mapping, {"decimal": ",", "date_order": "DMY"})
    assert fixed.valid.all()
    assert fixed.data["quantity"].tolist() == [1500.0, 2250.0]
    assert fixed.data["date"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-06-05")]


def test_it_reads_workbook_numbers_through_validation() -> None:
    frame = pd.DataFrame(
        {"Date": ["2024-01-01"], "Activity": ["Gas"], "Quantity": ["1.234"]}, dtype="str"
    )
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "Quantity"},
        constants={"unit": "kWh"},
    )
    result = validate(frame, mapping, native_numbers={"Quantity": np.array([True])})
    assert result.data["quantity"].tolist() == [1.234]


def test_it_previews_raw_values_beside_normalised_ones(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, mapping = german
    shown = preview(frame, mapping, n=3)
    json.dumps(shown)
    assert [r["row"] for r in shown["rows"]] == [3, 4, 5]
    first = shown["rows"][0]["cells"]
    assert first["quantity"] == {"raw": "1.234,5", "value": 1234.5, "errors": []}
    assert first["date"]["raw"] == "31.01.2024"
    assert first["date"]["value"] == "2024-01-31"
    bad = shown["rows"][2]
    assert not bad["valid"]
    assert bad["cells"]["unit"]["errors"][0]["value"] == "Fass"
    assert shown["fields"][0] == {"field": "date", "label": "Date", "source": "Datum"}


def test_it_revalidates_one_fixed_row_as_the_whole_column_was_read(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, mapping = german
    result = validate(frame, mapping)
    frame2, _ = apply_fixes(
        frame,
        [
            (5, "Datum", "28.02.2024"),
            (5, "Menge", "1.500"),
            (5, "Einheit", "m3"),
            (5, "Währung", "EUR"),
        ],
    )
    check = revalidate_row(frame2, mapping, 5, detected=result.detected_options())
    assert check.valid, check.errors
    # Alone, "1.500" would be ambiguous; the column's decimal comma decides it.
    assert check.values["quantity"] == 1500.0
    assert check.values["date"] == "2024-02-28"
    json.dumps(check.to_dict())
    assert not revalidate_row(frame2, mapping, 7, detected=result.detected_options()).valid
    with pytest.raises(PipelineError):
        revalidate_row(frame2, mapping, 999)


def test_it_applies_a_fix_to_every_cell_holding_the_same_value() -> None:
    frame = pd.DataFrame({"Unit": ["Fass", "kWh", " Fass ", None, "Fass"]}, dtype="str")
    assert count_value(frame, "Unit", "Fass") == 3
    assert count_value(frame, "Unit", None) == 1
    fixed, n = replace_value(frame, "Unit", "Fass", "L")
    assert n == 3
    assert fixed["Unit"].tolist()[:3] == ["L", "kWh", "L"]
    assert frame["Unit"].iloc[0] == "Fass"  # the original is untouched


def test_it_groups_errors_for_apply_to_all(german: tuple[pd.DataFrame, Mapping]) -> None:
    frame, mapping = german
    frame = pd.concat([frame, frame.loc[[5]].set_axis([50])])
    summary = validate(frame, mapping).error_summary()
    fass = next(s for s in summary if s["value"] == "Fass")
    assert fass["count"] == 2
    assert fass["rows"] == [5, 50]
    assert fass["code"] == "unit_unknown"


def test_it_validates_a_large_file_with_column_operations() -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Datum": pd.Series(
                pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")
            ).dt.strftime("%d.%m.%Y"),
            "Text": np.array(["Diesel", "Strom", "Gas"])[rng.integers(0, 3, n)],
            "Menge": [f"{v:.2f}".replace(".", ",") for v in rng.uniform(1, 1000, n)],
            "Einheit": np.array(["l", "kWh", "m3", "Fass"])[rng.integers(0, 4, n)],
        },
        dtype="str",
    )
    frame.index = pd.RangeIndex(2, n + 2, name="row")
    mapping = Mapping(
        columns={"date": "Datum", "activity": "Text", "quantity": "Menge", "unit": "Einheit"}
    )
    result = validate(frame, mapping)
    fass = (frame["Einheit"] == "Fass").to_numpy()
    assert (~result.valid.to_numpy() == fass).all()
    assert len(result.errors) == fass.sum()


def test_it_reports_a_category_on_a_row_outside_scope_3() -> None:
    frame = pd.DataFrame(
        {
            "Date": ["2024-01-01", "2024-01-01"],
            "What": ["Flight", "Gas"],
            "Qty": ["100", "5"],
            "Scope": ["3", "1"],
            "Category": ["6", "6"],
        },
        dtype="str",
    )
    mapping = Mapping(
        columns={
            "date": "Date",
            "activity": "What",
            "quantity": "Qty",
            "scope": "Scope",
            "category": "Category",
        },
        constants={"unit": "km"},
    )
    result = validate(frame, mapping)
    assert result.valid.tolist() == [True, False]
    assert result.errors.iloc[0]["code"] == "category_outside_scope_3"


def test_it_applies_many_fixes_with_one_replacement_per_column(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, _ = german
    fixed, _ = apply_fixes(
        frame, [(5, "Einheit", "m3"), (7, "Menge", "20"), (5, "Einheit", "L"), (9, "Menge", "")]
    )
    assert fixed.loc[5, "Einheit"] == "L"  # the later fix wins
    assert fixed.loc[7, "Menge"] == "20"
    assert pd.isna(fixed.loc[9, "Menge"])
    assert frame.loc[5, "Einheit"] == "Fass"  # the original is untouched
    with pytest.raises(PipelineError):
        apply_fixes(frame, [(999, "Einheit", "L")])
    with pytest.raises(PipelineError):
        apply_fixes(frame, [(5, "Nope", "L")])


def test_it_revalidates_a_row_with_fixes_given_for_it_alone(
    german: tuple[pd.DataFrame, Mapping],
) -> None:
    frame, mapping = german
    result = validate(frame, mapping)
    check = revalidate_row(
        frame, mapping, 7, fixes={"Bemerkung": "Storno"}, detected=result.detected_options()
    )
    assert check.valid
    assert check.values["is_correction"] is True
