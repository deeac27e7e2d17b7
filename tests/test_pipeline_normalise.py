"""Numbers, dates and coded values, decided per column (imports.pipeline.normalise)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.pipeline.normalise import (
    parse_category,
    parse_country,
    parse_dates,
    parse_flag,
    parse_numbers,
    parse_scope,
    parse_text,
)


def col(values: Sequence[str | None], first_row: int = 2) -> pd.Series:
    return pd.Series(
        pd.array(values, dtype="str"),
        index=pd.RangeIndex(first_row, first_row + len(values), name="row"),
    )


def numbers(values: list[str | None], **kwargs: object) -> list[float | None]:
    parsed = parse_numbers(col(values), **kwargs)  # type: ignore[arg-type]
    return [None if np.isnan(v) else v for v in parsed.values]


# ---------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("values", "expected", "decimal"),
    [
        (["1,234.56", "0.5", "12"], [1234.56, 0.5, 12.0], "."),  # US
        (["1.234,56", "0,5", "12"], [1234.56, 0.5, 12.0], ","),  # EU
        (["1'234.56", "1\u2019234\u2019567.8", "3.5"], [1234.56, 1234567.8, 3.5], "."),  # Swiss
        (["1 234,56", "1\u00a0234", "2\u202f000,5"], [1234.56, 1234.0, 2000.5], ","),  # spaces
        (["1234.5", "7", ".25"], [1234.5, 7.0, 0.25], "."),  # plain
        (["1.234.567", "12"], [1234567.0, 12.0], ","),  # two groups: thousands
        (["1,234,567", "12"], [1234567.0, 12.0], "."),
        (["1e3", "2.5E-2"], [1000.0, 0.025], "."),
    ],
)
def test_it_reads_each_number_format_and_detects_it_per_column(
    values: list[str], expected: list[float], decimal: str
) -> None:
    parsed = parse_numbers(col(values))
    assert parsed.values.tolist() == pytest.approx(expected)
    assert parsed.detected["decimal"] == decimal
    assert parsed.errors.empty


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-5", -5.0),
        ("\u22125", -5.0),
        ("(5)", -5.0),
        ("(1.234,50)", -1234.5),
        ("5-", -5.0),
        ("+5", 5.0),
        ("- 5", -5.0),
    ],
)
def test_it_reads_negative_numbers(text: str, value: float) -> None:
    assert numbers([text, "1,5"])[0] == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "--5", "(-5)", "-", "1.2.3,4,5", "12 kg", "€ 5", "1,2,3"])
def test_it_reports_what_is_not_a_number(text: str) -> None:
    parsed = parse_numbers(col(["1,5", text]))
    assert parsed.values.isna().tolist() == [False, True]
    err = parsed.errors.loc[3]
    assert err["code"] == "invalid_number"
    assert err["value"] == text
    assert err["message"] == f"'{text}' is not a number"
    assert "1.234,56" in err["suggestion"]  # the example follows the column's format


def test_it_reports_a_value_that_its_column_cannot_decide_with_both_readings() -> None:
    parsed = parse_numbers(col(["1.234", "12", None]))
    assert parsed.detected["decimal"] is None
    assert parsed.detected["ambiguous"] == 1
    assert np.isnan(parsed.values.loc[2])
    assert parsed.values.loc[3] == 12.0
    err = parsed.errors.loc[2]
    assert err["code"] == "ambiguous_number"
    assert "1.234" in err["suggestion"]
    assert "1234" in err["suggestion"]


def test_it_lets_one_value_decide_an_ambiguous_one() -> None:
    assert numbers(["1.234", "2,5"]) == [1234.0, 2.5]
    assert numbers(["1.234", "2.55"]) == [1.234, 2.55]
    assert numbers(["1,234", "1,234.5"]) == [1234.0, 1234.5]


def test_it_follows_the_decimal_option_and_flags_values_that_contradict_it() -> None:
    parsed = parse_numbers(col(["1.234", "2.5"]), decimal=",")
    assert parsed.values.loc[2] == 1234.0
    err = parsed.errors.loc[3]
    assert err["code"] == "number_format_mismatch"
    assert "2.5" in err["suggestion"]
    assert numbers(["1.234"], decimal=".") == [1.234]


def test_it_reads_workbook_numbers_as_stored_never_as_ambiguous() -> None:
    parsed = parse_numbers(col(["1.234", "5", "1.234,5"]), native=np.array([True, True, False]))
    assert parsed.values.tolist() == pytest.approx([1.234, 5.0, 1234.5])
    assert parsed.errors.empty


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["us", "eu", "ch", "space"]),
)
def test_it_reads_back_any_formatted_number(values: list, style: str) -> None:
    def fmt(v: float) -> str:
        text = f"{abs(v):,.2f}"
        if style == "eu":
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        elif style == "ch":
            text = text.replace(",", "'")
        elif style == "space":
            text = text.replace(",", " ").replace(".", ",")
        return ("-" if v < 0 else "") + text

    floats = [float(v) for v in values]
    decimal = "," if style in ("eu", "space") else "."
    parsed = parse_numbers(col([fmt(v) for v in floats]), decimal=decimal)
    assert parsed.errors.empty
    assert parsed.values.tolist() == pytest.approx(floats)


def test_it_parses_a_large_column_without_per_row_python() -> None:
    rng = np.random.default_rng(3)
    vals = rng.uniform(0, 1e6, 200_000).round(2)
    texts = [f"{v:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") for v in vals]
    parsed = parse_numbers(col(texts))
    assert parsed.detected["decimal"] == ","
    assert np.allclose(parsed.values.to_numpy(), vals)


# ---------------------------------------------------------------------------------- dates


def dates(values: list[str | None], **kwargs: object) -> list[str | None]:
    parsed = parse_dates(col(values), **kwargs)  # type: ignore[arg-type]
    return [None if pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in parsed.values]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-03-31", "2024-03-31"),
        ("2024-03-31T14:05:00", "2024-03-31"),
        ("2024/03/31", "2024-03-31"),
        ("31.03.2024", "2024-03-31"),
        ("31.03.24", "2024-03-31"),
        ("20240331", "2024-03-31"),
        ("45382", "2024-03-31"),  # Excel serial
        ("45382.5", "2024-03-31"),  # serial with a time of day
        ("31 Mar 2024", "2024-03-31"),
        ("31. März 2024", "2024-03-31"),
        ("31-mars-2024", "2024-03-31"),
        ("March 31, 2024", "2024-03-31"),
        ("31 maart 2024", "2024-03-31"),
        ("2024-02-29", "2024-02-29"),
    ],
)
def test_it_reads_each_date_format(text: str, iso: str) -> None:
    assert dates([text]) == [iso]


def test_it_decides_day_first_from_a_day_above_twelve() -> None:
    parsed = parse_dates(col(["03/04/2024", "13/04/2024", "05/05/2024"]))
    assert parsed.detected["order"] == "DMY"
    assert dates(["03/04/2024", "13/04/2024"]) == ["2024-04-03", "2024-04-13"]


def test_it_decides_month_first_from_a_day_above_twelve() -> None:
    assert dates(["03/04/2024", "04/13/2024"]) == ["2024-03-04", "2024-04-13"]


def test_it_reads_dotted_dates_day_first() -> None:
    assert dates(["03.04.2024"]) == ["2024-04-03"]


def test_it_reports_an_undecidable_date_with_both_readings() -> None:
    parsed = parse_dates(col(["03/04/2024", "07/07/2024"]))
    assert parsed.detected == {"order": None, "ambiguous": 1}
    err = parsed.errors.loc[2]
    assert err["code"] == "ambiguous_date"
    assert "3 April 2024" in err["suggestion"]
    assert "4 March 2024" in err["suggestion"]
    assert dates(["03/04/2024"], order="MDY") == ["2024-03-04"]
    assert dates(["03/04/2024"], order="DMY") == ["2024-04-03"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("31.02.2024", "February 2024 has 29 days"),
        ("29.02.2023", "February 2023 has 28 days"),
        ("2024-13-01", "no month 13"),
        ("31/04/2024", "April 2024 has 30 days"),
        ("yesterday", "is not a date"),
        ("2024", "is a number, not a date"),
        ("01.01.1850", "outside"),
    ],
)
def test_it_reports_impossible_dates(text: str, fragment: str) -> None:
    parsed = parse_dates(col([text, "15.01.2024"]))
    assert pd.isna(parsed.values.loc[2])
    err = parsed.errors.loc[2]
    assert err["code"] == "invalid_date"
    assert err["value"] == text
    assert fragment in err["message"]


def test_it_suggests_the_other_order_for_a_date_the_column_order_rejects() -> None:
    parsed = parse_dates(col(["13/01/2024"]), order="MDY")
    assert "13 January 2024" in parsed.errors.iloc[0]["suggestion"]


def test_it_parses_each_distinct_date_once_and_spreads_it_to_every_row() -> None:
    values = ["31.01.2024", "29.02.2024", None, "31.02.2024"] * 50_000
    parsed = parse_dates(col(values))
    assert parsed.values.notna().sum() == 100_000
    assert len(parsed.errors) == 50_000
    assert parsed.errors.index[0] == 5


# ---------------------------------------------------------------------------------- codes, text


def test_it_reads_countries_in_six_languages() -> None:
    parsed = parse_country(
        col(
            [
                "DE",
                "DEU",
                "Deutschland",
                "Allemagne",
                "Alemania",
                "Germania",
                "Duitsland",
                "United Kingdom",
                "UK",
                "Schweiz",
                None,
            ]
        )
    )
    assert parsed.values.tolist()[:10] == ["DE"] * 7 + ["GB", "GB", "CH"]
    assert parsed.errors.empty


def test_it_suggests_a_country_for_a_typo() -> None:
    parsed = parse_country(col(["Germny", "Atlantis"]))
    assert parsed.errors.loc[2, "suggestion"] == "Did you mean DE?"
    assert parsed.errors.loc[3, "code"] == "invalid_country"


def test_it_reads_scopes_and_scope_3_categories() -> None:
    assert parse_scope(col(["1", "Scope 2", "S3", None])).values.tolist()[:3] == [1, 2, 3]
    bad = parse_scope(col(["4"]))
    assert bad.errors.iloc[0]["code"] == "invalid_scope"
    cats = parse_category(
        col(
            [
                "6",
                "3.6",
                "Cat. 6",
                "Category 6 - Business travel",
                "business travel",
                "Kategorie 1",
                "C15",
            ]
        )
    )
    assert cats.values.tolist() == [6, 6, 6, 6, 6, 1, 15]
    assert parse_category(col(["16"])).errors.iloc[0]["code"] == "invalid_category"


def test_it_reads_yes_and_no_in_six_languages() -> None:
    parsed = parse_flag(col(["ja", "oui", "sí", "x", "1", "nein", "non", "", None, "vielleicht"]))
    assert parsed.values.tolist()[:9] == [True, True, True, True, True, False, False, False, False]
    assert parsed.errors.loc[11, "code"] == "invalid_flag"


def test_it_tidies_text_and_reports_overlong_text() -> None:
    parsed = parse_text(col(["  Diesel   Lkw ", "x" * 20]), max_length=10)
    assert parsed.values.loc[2] == "Diesel Lkw"
    assert parsed.errors.loc[3, "code"] == "text_too_long"


def test_it_keeps_dates_in_a_datetime_column() -> None:
    parsed = parse_dates(col(["2024-01-01"]))
    assert pd.api.types.is_datetime64_any_dtype(parsed.values)
    assert parsed.values.iloc[0] == pd.Timestamp(dt.date(2024, 1, 1))
