"""Units of the calculation engine: parsing what sheets say, refusals, conversions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emissions.engine import units
from emissions.engine.errors import DimensionError, UnitError
from emissions.engine.fx import ecb_currencies

# Units in the shipped datasets' unit columns (DEFRA 2024 UOM, EPA Hub 2025, Ignite).
DATASET_UNITS = [
    ("tonnes", "tonne", "mass"),
    ("litres", "L", "volume"),
    ("kWh (Net CV)", "kWh", "energy"),
    ("kWh (Gross CV)", "kWh", "energy"),
    ("cubic metres", "m ** 3", "volume"),
    ("cubic metres (m3)", "m ** 3", "volume"),
    ("GJ", "GJ", "energy"),
    ("kg", "kg", "mass"),
    ("kWh", "kWh", "energy"),
    ("km", "km", "distance"),
    ("miles", "mi", "distance"),
    ("tonne.km", "tonne * km", "freight (mass x distance)"),
    ("tonne-km", "tonne * km", "freight (mass x distance)"),
    ("million litres", "ML", "volume"),
    ("passenger.km", "passenger * km", "passenger distance"),
    ("passenger-km", "passenger * km", "passenger distance"),
    ("Room per night", "room_night", "count (room-nights)"),
    ("per FTE Working Hour", "FTE_hour", "time"),
    ("FTE working hour", "FTE_hour", "time"),
    ("gallon", "US_gallon", "volume"),
    ("scf", "scf", "volume"),
    ("short ton", "short_ton", "mass"),
    ("mmBtu", "MMBtu", "energy"),
    ("vehicle-mile", "vehicle * mi", "vehicle distance"),
    ("passenger-mile", "passenger * mi", "passenger distance"),
    ("ton-mile", "short_ton * mi", "freight (mass x distance)"),
    ("short ton-mile", "short_ton * mi", "freight (mass x distance)"),
    ("USD", "USD", "money"),
    ("EUR", "EUR", "money"),
    ("GBP", "GBP", "money"),
]


@pytest.mark.parametrize(("text", "canonical", "dimension"), DATASET_UNITS)
def test_it_parses_the_units_of_the_shipped_datasets(
    text: str, canonical: str, dimension: str
) -> None:
    assert units.canonical_unit(text) == canonical
    assert units.unit_dimension(text) == dimension


SHEET_ALIASES = {
    "Liter": "L",
    "Litre": "L",
    "Ltr": "L",
    "ltrs": "L",
    "l": "L",
    "m3": "m ** 3",
    "m³": "m ** 3",
    "cbm": "m ** 3",
    "kwh": "kWh",
    "KWh": "kWh",
    "MWh": "MWh",
    "GJ": "GJ",
    "t": "tonne",
    "tonnes": "tonne",
    "metric ton": "tonne",
    "short ton": "short_ton",
    "US gallon": "US_gallon",
    "gal": "US_gallon",
    "imperial gallon": "UK_gallon",
    "mi": "mi",
    "miles": "mi",
    "tkm": "tonne * km",
    "t.km": "tonne * km",
    "pkm": "passenger * km",
    "pax-km": "passenger * km",
    "EC therm": "EC_therm",
    "US therm": "US_therm",
    "MMBTU": "MMBtu",
    "kEUR": "kEUR",
    "€": "EUR",
    "TEUR": "kEUR",
    "Mio. EUR": "MEUR",
    "£k": "kGBP",
    "$": "USD",
    "kg CO2e": "kg * CO2e",
    "kgs": "kg",
    "Kilometres": "km",
}


@pytest.mark.parametrize(("text", "canonical"), SHEET_ALIASES.items())
def test_it_parses_what_real_sheets_say(text: str, canonical: str) -> None:
    assert units.canonical_unit(text) == canonical


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("ton", "short ton"),
        ("tons", "long ton"),
        ("barrel", "oil barrel"),
        ("bbl", "42 US gal"),
        ("therm", "US therm"),
        ("kt", "knot"),
        ("MT", "megatonne"),
        ("T", "tesla"),
        ("mWh", "milliwatt"),
        ("nm", "nautical mile"),
        ("MBtu", "MMBtu"),
        ("Nm3", "15 °C"),
        ("¥", "CNY"),
        ("kr", "NOK"),
        ("mEUR", "MEUR"),
    ],
)
def test_it_refuses_ambiguous_units_and_names_the_choices(text: str, choice: str) -> None:
    with pytest.raises(UnitError) as info:
        units.parse_unit(text)
    error = info.value.to_dict()
    assert error["code"] == "unit_ambiguous"
    assert error["value"] == text
    assert choice in error["message"] + error["expected"]
    assert error["suggestion"]


@pytest.mark.parametrize(
    ("typo", "hint"), [("litrs", "L"), ("kwhh", "kWh"), ("kilogrms", "kg"), ("tonnnes", "tonne")]
)
def test_it_suggests_close_units_for_unknown_ones(typo: str, hint: str) -> None:
    with pytest.raises(UnitError) as info:
        units.parse_unit(typo)
    assert info.value.code == "unit_unknown"
    assert "Did you mean" in info.value.suggestion
    assert hint in info.value.suggestion


@pytest.mark.parametrize("missing", [None, "", "   ", float("nan")])
def test_it_reports_a_missing_unit(missing: object) -> None:
    with pytest.raises(UnitError) as info:
        units.parse_unit(missing)
    assert info.value.code == "unit_missing"


def test_it_refuses_numbers_inside_a_unit() -> None:
    with pytest.raises(UnitError):
        units.parse_unit("1000 kg")


@pytest.mark.parametrize(
    ("source", "target", "factor"),
    [
        ("L", "m3", 0.001),
        ("US gallon", "L", 3.785411784),  # 231 cubic inches, exact
        ("imperial gallon", "L", 4.54609),  # exact by definition
        ("EC therm", "kWh", 29.3071),  # DEFRA 2024 Conversions sheet: 29.30710833
        ("US therm", "MJ", 105.4804),
        ("MMBtu", "kWh", 293.0711),
        ("kWh", "MJ", 3.6),
        ("GJ", "kWh", 277.7778),
        ("short ton", "tonne", 0.90718474),
        ("long ton", "kg", 1016.0469088),
        ("lb/MWh", "kg/kWh", 0.45359237e-3),
        ("miles", "km", 1.609344),
        ("short ton-mile", "tonne.km", 0.90718474 * 1.609344),
        ("scf", "m3", 0.028316846592),
        ("oil barrel", "L", 158.987294928),
        ("million litres", "m3", 1000.0),
        ("kEUR", "EUR", 1000.0),
        ("room nights", "Room per night", 1.0),
    ],
)
def test_it_converts_known_quantities(source: str, target: str, factor: float) -> None:
    assert units.conversion_factor(source, target) == pytest.approx(factor, rel=2e-6)


def test_it_matches_the_defra_conversions_sheet_for_energy_and_volume() -> None:
    # DEFRA 2024 full set, sheet "Conversions": kWh->therm 0.0341214, L->US gallon 0.264172051.
    assert units.conversion_factor("kWh", "EC therm") == pytest.approx(0.034121414797, rel=1e-6)
    assert units.conversion_factor("L", "US gallon") == pytest.approx(0.264172051, rel=1e-8)
    assert units.conversion_factor("km", "nmi") == pytest.approx(0.539956803517458, rel=1e-9)


def test_it_converts_money_in_different_currencies_only_through_exchange_rates() -> None:
    with pytest.raises(DimensionError) as info:
        units.conversion_factor("EUR", "USD")
    assert info.value.code == "dimension_currency"
    assert all(units.unit_dimension(code) == "money" for code in ecb_currencies())
    assert units.unit_currency("MEUR") == ("EUR", 1e6)
    assert units.unit_currency("kg") is None


def test_it_refuses_conversions_across_dimensions_with_a_suggestion() -> None:
    with pytest.raises(DimensionError) as info:
        units.conversion_factor("kg", "kWh")
    error = info.value.to_dict()
    assert error["code"] == "dimension_mismatch"
    assert error["value"] == "kg"
    assert "energy" in error["expected"]
    assert error["suggestion"]


@pytest.mark.parametrize(
    ("text", "basis"),
    [
        ("kWh (Net CV)", "net"),
        ("kWh (Gross CV)", "gross"),
        ("kWh (gross)", "gross"),
        ("GJ NCV", "net"),
        ("MMBtu HHV", "gross"),
        ("kWh", None),
        ("net ton", None),
    ],
)
def test_it_reads_the_calorific_value_basis_as_metadata(text: str, basis: str | None) -> None:
    assert units.parse_cv_basis(text) == basis


def test_it_parses_each_distinct_value_of_a_column_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = units.canonical_unit

    def counting(text: object) -> str:
        calls.append(text)
        return original(text)

    monkeypatch.setattr(units, "canonical_unit", counting)
    column = pd.Series(np.tile(["litres", "kWh (Gross CV)", "ton", None], 25_000), dtype=object)
    parsed, errors = units.parse_unit_column(column)
    assert len(calls) == 3
    assert parsed.iloc[:4].tolist()[:2] == ["L", "kWh"]
    assert parsed.isna().sum() == 50_000
    assert set(errors) == {"ton", ""}
    assert errors["ton"].code == "unit_ambiguous"
    assert errors[""].code == "unit_missing"


@pytest.mark.parametrize(
    ("text", "scale", "gas", "per_unit", "cv", "year"),
    [
        ("kg CO2e / L", 1.0, "CO2e", "L", None, None),
        ("lb/MWh", 0.45359237, None, "MWh", None, None),
        ("g CH4 per scf", 0.001, "CH4", "scf", None, None),
        ("kg CO2e/2022 USD, purchaser price", 1.0, "CO2e", "USD", None, 2022),
        ("kgCO2e/kWh (Net CV)", 1.0, "CO2e", "kWh", "net", None),
        ("kWh (Gross CV)", 1.0, None, "kWh", "gross", None),
        ("t CO2e / short ton", 1000.0, "CO2e", "short_ton", None, None),
        ("Room per night", 1.0, None, "room_night", None, None),
    ],
)
def test_it_splits_factor_units(
    text: str, scale: float, gas: str | None, per_unit: str, cv: str | None, year: int | None
) -> None:
    parsed = units.parse_factor_unit(text)
    assert parsed.scale_to_kg == pytest.approx(scale)
    assert (parsed.gas, parsed.per_unit, parsed.cv_basis, parsed.price_year) == (
        gas,
        per_unit,
        cv,
        year,
    )


_SAME_DIMENSION = [
    ["L", "m3", "US gallon", "imperial gallon", "ML", "scf", "cubic feet", "oil barrel"],
    ["kg", "tonne", "short ton", "long ton", "lb", "g", "kilotonne"],
    ["kWh", "MWh", "GJ", "MJ", "MMBtu", "EC therm", "US therm", "Btu"],
    ["km", "miles", "nmi", "m"],
    ["tkm", "short ton-mile", "tonne-mile"],
    ["pkm", "passenger-mile"],
    ["EUR", "kEUR", "MEUR"],
]


@settings(max_examples=60, deadline=None)
@given(
    group=st.sampled_from(_SAME_DIMENSION),
    data=st.data(),
    magnitude=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False),
)
def test_it_round_trips_quantities_between_units_of_one_dimension(
    group: list[str], data: st.DataObject, magnitude: float
) -> None:
    source = data.draw(st.sampled_from(group))
    target = data.draw(st.sampled_from(group))
    there = magnitude * units.conversion_factor(source, target)
    back = there * units.conversion_factor(target, source)
    assert math.isclose(back, magnitude, rel_tol=1e-12)
    # Canonical strings are stable and parse back to the same unit.
    canonical = units.canonical_unit(source)
    assert units.canonical_unit(canonical) == canonical
    assert units.parse_unit(canonical) == units.parse_unit(source)
