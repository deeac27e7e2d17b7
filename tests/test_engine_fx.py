"""Money in the calculation engine: currencies, ECB rates, deflation."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from currency_converter.currency_converter import CURRENCY_FILE

from emissions.engine import fx
from emissions.engine.errors import CurrencyError


def bundled_rate(code: str, day: str) -> float:
    """The rate printed in the bundled ECB file for one day, read independently of fx."""
    with zipfile.ZipFile(CURRENCY_FILE) as archive, archive.open(archive.namelist()[0]) as fh:
        frame = pd.read_csv(fh, na_values=["N/A"])
    return float(frame.loc[frame["Date"] == day, code].iloc[0])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("eur", "EUR"),
        ("USD", "USD"),
        ("€", "EUR"),
        ("£", "GBP"),
        ("$", "USD"),
        ("US$", "USD"),
        ("C$", "CAD"),
        ("A$", "AUD"),
        ("CHF", "CHF"),
        ("Fr.", "CHF"),
        ("zł", "PLN"),
        ("Kč", "CZK"),
        ("₹", "INR"),
        ("元", "CNY"),
        ("円", "JPY"),
        ("sterling", "GBP"),
        (" sek ", "SEK"),
    ],
)
def test_it_reads_codes_and_unambiguous_symbols(text: str, code: str) -> None:
    assert fx.parse_currency(text) == code


@pytest.mark.parametrize(
    ("text", "choice"), [("¥", "JPY"), ("kr", "DKK"), ("dollars", "CAD"), ("pound", "lb")]
)
def test_it_refuses_ambiguous_symbols(text: str, choice: str) -> None:
    with pytest.raises(CurrencyError) as info:
        fx.parse_currency(text)
    assert info.value.code == "currency_ambiguous"
    assert choice in info.value.message


def test_it_suggests_a_currency_for_a_typo() -> None:
    with pytest.raises(CurrencyError) as info:
        fx.parse_currency("EUE")
    assert info.value.code == "currency_unknown"
    assert "EUR" in info.value.suggestion


def test_it_says_when_a_real_currency_has_no_ecb_rate() -> None:
    with pytest.raises(CurrencyError) as info:
        fx.parse_currency("AED")
    assert info.value.code == "currency_not_covered"
    assert "EUR or USD" in info.value.suggestion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kEUR", ("EUR", 1e3)),
        ("€k", ("EUR", 1e3)),
        ("TEUR", ("EUR", 1e3)),
        ("MEUR", ("EUR", 1e6)),
        ("$m", ("USD", 1e6)),
        ("EUR '000", ("EUR", 1e3)),
        ("£bn", ("GBP", 1e9)),
        ("USD", ("USD", 1.0)),
    ],
)
def test_it_reads_scaled_money_units(text: str, expected: tuple[str, float]) -> None:
    assert fx.parse_money_unit(text) == expected


def test_it_parses_a_currency_column_and_reports_each_bad_value_once() -> None:
    values = pd.Series(["EUR", "€", "¥", None, "eur"] * 1000, dtype=object)
    parsed, errors = fx.parse_currency_column(values)
    assert parsed.iloc[0] == parsed.iloc[1] == parsed.iloc[4] == "EUR"
    assert pd.isna(parsed.iloc[2])
    assert pd.isna(parsed.iloc[3])
    assert parsed.isna().sum() == 2000
    assert set(errors) == {"¥", ""}
    assert errors["¥"].code == "currency_ambiguous"


def test_it_converts_at_the_rate_of_the_day() -> None:
    out = fx.to_eur([1000.0], ["GBP"], pd.to_datetime(["2024-03-15"]))
    rate = bundled_rate("GBP", "2024-03-15")
    assert rate == 0.8541
    assert out["rate"].iloc[0] == rate
    assert out["eur"].iloc[0] == pytest.approx(1000 / rate)
    assert str(out["rate_date"].iloc[0].date()) == "2024-03-15"


@pytest.mark.parametrize(
    ("day", "rate_day"),
    [
        ("2024-03-16", "2024-03-15"),
        ("2024-03-17", "2024-03-15"),
        ("2024-12-25", "2024-12-24"),
        ("2024-03-29", "2024-03-28"),
        ("2024-04-01", "2024-03-28"),
    ],  # weekend, Christmas, Easter
)
def test_it_takes_the_last_known_rate_on_weekends_and_holidays(day: str, rate_day: str) -> None:
    out = fx.to_eur([100.0], ["USD"], pd.to_datetime([day]))
    assert str(out["rate_date"].iloc[0].date()) == rate_day
    assert out["rate"].iloc[0] == bundled_rate("USD", rate_day)


def test_it_converts_a_column_of_mixed_currencies_and_dates() -> None:
    days = pd.to_datetime(["2024-03-15", "2024-06-10", "2023-01-02", "2024-06-10"])
    out = fx.to_eur(
        np.array([10.0, 20.0, 30.0, 40.0]),
        np.array(["USD", "SEK", "EUR", "USD"], dtype=object),
        days,
    )
    expected = [
        10 / bundled_rate("USD", "2024-03-15"),
        20 / bundled_rate("SEK", "2024-06-10"),
        30.0,
        40 / bundled_rate("USD", "2024-06-10"),
    ]
    np.testing.assert_allclose(out["eur"].to_numpy(), expected)
    assert out["error"].isna().all()


def test_it_refuses_dates_beyond_the_bundled_rates() -> None:
    with pytest.raises(CurrencyError) as info:
        fx.to_eur([1.0], ["USD"], pd.to_datetime(["2031-01-01"]))
    assert info.value.code == "fx_rate_missing"
    assert "currencyconverter" in info.value.suggestion
    out = fx.to_eur(
        [1.0, 2.0], ["RUB", "USD"], pd.to_datetime(["2024-01-10", "2024-01-10"]), errors="coerce"
    )
    assert np.isnan(out["eur"].iloc[0])
    assert out["error"].iloc[0]["code"] == "fx_rate_missing"
    assert out["error"].iloc[1] is None


def test_it_needs_a_date_to_convert() -> None:
    out = fx.to_eur([1.0], ["GBP"], [None], errors="coerce")
    assert out["error"].iloc[0]["code"] == "fx_date_missing"


def test_it_converts_between_two_currencies_through_eur() -> None:
    out = fx.convert_currency([1000.0], ["GBP"], "USD", pd.to_datetime(["2024-03-15"]))
    assert out["amount"].iloc[0] == pytest.approx(1000 / 0.8541 * bundled_rate("USD", "2024-03-15"))


def test_it_ships_the_published_price_indices() -> None:
    table = fx.price_indices().set_index(["index", "year"])["value"]
    # BLS CPI-U annual averages (CUUR0000SA0) and Eurostat HICP (prc_hicp_aind, EA, 2015=100).
    assert table[("US_CPI_U", 2022)] == 292.655
    assert table[("US_CPI_U", 2023)] == 304.702
    assert table[("US_CPI_U", 2024)] == 313.689
    assert table[("EA_HICP", 2015)] == 100.0
    assert table[("EA_HICP", 2022)] == 116.82
    # Published annual inflation: US 8.0% in 2022, euro area 8.4% in 2022, 5.4% in 2023.
    assert table[("US_CPI_U", 2022)] / table[("US_CPI_U", 2021)] - 1 == pytest.approx(
        0.080, abs=5e-4
    )
    assert table[("EA_HICP", 2022)] / table[("EA_HICP", 2021)] - 1 == pytest.approx(0.084, abs=5e-4)
    assert table[("EA_HICP", 2023)] / table[("EA_HICP", 2022)] - 1 == pytest.approx(0.054, abs=5e-4)
    header = fx.PRICE_INDEX_FILE.read_text(encoding="utf-8").splitlines()[:8]
    assert any("CUUR0000SA0" in line for line in header)
    assert any("prc_hicp_aind" in line for line in header)


def test_it_deflates_spend_to_the_factor_price_year() -> None:
    out = fx.deflate([1000.0, 1000.0, 1000.0], [2024, 2022, 2030], 2022, "USD")
    assert out["amount"].iloc[0] == pytest.approx(1000 * 292.655 / 313.689)
    assert out["amount"].iloc[1] == pytest.approx(1000.0)
    assert out["index_year"].iloc[2] == 2025
    assert "not published" in out["note"].iloc[2]
    eur = fx.deflate([500.0], [2024], 2022, "EUR")
    assert eur["amount"].iloc[0] == pytest.approx(500 * 116.82 / 126.07)


def test_it_refuses_to_deflate_without_an_index() -> None:
    early = fx.deflate([1.0], [1990], 2022, "USD")
    assert early["error"].iloc[0]["code"] == "price_year_missing"
    with pytest.raises(CurrencyError):
        fx.deflate([1.0], [2024], 2022, "GBP")
