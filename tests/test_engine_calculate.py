"""The calculation engine against hand-computed published examples, and its handling of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emissions.engine import calculate as calc
from emissions.engine.calculate import (
    calculate,
    conversion_path,
    data_quality_shares,
    errors_of,
    explain,
    provenance_of,
    single_factor,
    summarise,
)
from emissions.engine.errors import DimensionError, EngineError, FactorError, InputError

ROOT = Path(__file__).resolve().parents[1]
DIESEL = "Diesel (average biofuel blend)"


def data_file(folder: str, name: str) -> Path:
    """The project's data/raw copy of a shared dataset, else the shared folder."""
    for base in (ROOT / "data" / "raw", ROOT / ".." / "shared" / "data"):
        if (base / folder / name).exists():
            return base / folder / name
    pytest.skip(f"{folder}/{name} is not available")


@pytest.fixture(scope="module")
def defra() -> pd.DataFrame:
    return pd.read_csv(
        data_file("defra_2024", "defra_2024_flat_factors_by_category.csv")
    ).set_index("ID")


def defra_factors(defra: pd.DataFrame) -> pd.DataFrame:
    """DEFRA 2024 rows as the factor library would hand them over (total plus gas split)."""
    rows = []
    for factor_id, unit in (
        ("1_101_1011_8", "litres"),
        ("1_101_1011_6", "kWh (Gross CV)"),
        ("1_101_1011_7", "kWh (Net CV)"),
        ("1_100_1004_6", "kWh (Gross CV)"),
        ("1_100_1004_1", "cubic metres"),
    ):
        fuel = defra.loc[f"{factor_id}_1", "Level 3"]
        rows.append(
            {
                "factor_key": f"defra:{factor_id}",
                "factor_id": f"{factor_id}_1",
                "dataset": "DEFRA 2024",
                "dataset_version": "1.1",
                "unit": unit,
                "fuel": fuel,
                "scope": defra.loc[f"{factor_id}_1", "Scope"],
                "kg_co2e": defra.loc[f"{factor_id}_1", "GHG Conversion Factor 2024"],
                "co2_kg_co2e": defra.loc[f"{factor_id}_2", "GHG Conversion Factor 2024"],
                "ch4_kg_co2e": defra.loc[f"{factor_id}_3", "GHG Conversion Factor 2024"],
                "n2o_kg_co2e": defra.loc[f"{factor_id}_4", "GHG Conversion Factor 2024"],
                "gwp_basis": "AR5",
            }
        )
    return pd.DataFrame(rows)


def one(activity: dict[str, object], factors: pd.DataFrame, **kwargs: object) -> pd.Series:
    result = calculate(pd.DataFrame([activity]), factors, **kwargs)  # type: ignore[arg-type]
    return result.iloc[0]


# --- Published examples ---------------------------------------------------------------------


def test_it_computes_defra_diesel_per_litre(defra: pd.DataFrame) -> None:
    factors = defra_factors(defra)
    row = one({"quantity": 1000, "unit": "L", "factor_key": "defra:1_101_1011_8"}, factors)
    assert row["ok"]
    assert row["kg_co2e"] == pytest.approx(2512.79, abs=1e-6)
    assert row["co2_kg_co2e"] + row["ch4_kg_co2e"] + row["n2o_kg_co2e"] == pytest.approx(2512.79)
    assert row["scope"] == "scope_1"
    assert row["tier"] == "secondary"


def test_it_computes_defra_natural_gas_per_gross_kwh(defra: pd.DataFrame) -> None:
    row = one(
        {"quantity": 10_000, "unit": "kWh (Gross CV)", "factor_key": "defra:1_100_1004_6"},
        defra_factors(defra),
    )
    assert row["kg_co2e"] == pytest.approx(1829.0, abs=1e-6)


def test_it_goes_from_litres_to_gross_kwh_through_density_and_calorific_value(
    defra: pd.DataFrame,
) -> None:
    factors = defra_factors(defra)
    row = one({"quantity": 1000, "unit": "litres", "factor_key": "defra:1_101_1011_6"}, factors)
    # 1,000 L x 0.833519 kg/L (density 833.519 kg/m3) x 45.399/3.6 kWh/kg (gross CV) x 0.23902.
    kwh = 1000 * 0.833519 * 45.399 / 3.6
    assert row["quantity_converted"] == pytest.approx(kwh, rel=1e-12)
    assert row["kg_co2e"] == pytest.approx(kwh * 0.23902, rel=1e-12)
    # DEFRA's per-kWh and per-litre factors agree through its own fuel properties.
    assert row["kg_co2e"] == pytest.approx(2512.79, rel=5e-3)
    prov = provenance_of(
        calculate(
            pd.DataFrame(
                [{"quantity": 1000, "unit": "litres", "factor_key": "defra:1_101_1011_6"}]
            ),
            factors,
        ),
        0,
    )
    path = prov["conversion"]["path"]
    assert "density 833.519 kg/m3" in path
    assert "gross CV 45.399 GJ/t" in path
    assert any("Fuel properties" in s and "row 25" in s for s in prov["conversion"]["sources"])
    text = explain(
        calculate(
            pd.DataFrame(
                [{"quantity": 1000, "unit": "litres", "factor_key": "defra:1_101_1011_6"}]
            ),
            factors,
        ),
        0,
    )
    assert text.startswith(
        "1,000 L -> 1 m3 via unit conversion -> 833.519 kg via density 833.519 kg/m3"
    )


def test_it_converts_between_net_and_gross_kwh_with_the_fuel(defra: pd.DataFrame) -> None:
    row = one(
        {"quantity": 1000, "unit": "kWh (Gross CV)", "factor_key": "defra:1_101_1011_7"},
        defra_factors(defra),
    )
    assert row["quantity_converted"] == pytest.approx(1000 * 42.719 / 45.399)
    assert row["kg_co2e"] == pytest.approx(1000 * 42.719 / 45.399 * 0.25403)


def test_it_agrees_with_defra_between_cubic_metres_and_kwh_of_natural_gas(
    defra: pd.DataFrame,
) -> None:
    row = one(
        {"quantity": 100, "unit": "m3", "factor_key": "defra:1_100_1004_6"}, defra_factors(defra)
    )
    # 100 m3 x 0.796 kg/m3 x 50.552/3.6 kWh/kg x 0.18290 against DEFRA's 2.04542 kg/m3.
    assert row["kg_co2e"] == pytest.approx(100 * 0.796 * 50.552 / 3.6 * 0.1829, rel=1e-12)
    assert row["kg_co2e"] == pytest.approx(204.542, rel=2e-3)


EPA = pd.DataFrame(
    [
        # EPA GHG Emission Factors Hub 2025, Table 1, Distillate Fuel Oil No. 2 per gallon.
        {
            "factor_key": "epa:dfo2",
            "unit": "gallon",
            "co2_kg": 10.21,
            "ch4_g": 0.41,
            "n2o_g": 0.08,
            "scope": 1,
            "dataset": "EPA GHG Emission Factors Hub",
            "dataset_version": "2025",
        },
        # Table 6, eGRID2023 CAMX, lb per MWh.
        {
            "factor_key": "egrid:CAMX",
            "unit": "MWh",
            "co2_lb": 436.655,
            "ch4_lb": 0.025,
            "n2o_lb": 0.003,
            "scope": 2,
        },
    ]
)


@pytest.mark.parametrize(
    ("gwp_set", "expected"),
    [
        ("AR5", 10210 + 0.41 * 28 + 0.08 * 265),
        ("AR4", 10210 + 0.41 * 25 + 0.08 * 298),
        ("AR6", 10210 + 0.41 * 27.0 + 0.08 * 273),
    ],
)
def test_it_combines_epa_grams_of_ch4_and_n2o_with_the_chosen_gwp_set(
    gwp_set: str, expected: float
) -> None:
    row = one(
        {"quantity": 1000, "unit": "US gallon", "factor_key": "epa:dfo2"}, EPA, gwp_set=gwp_set
    )
    assert row["kg_co2e"] == pytest.approx(expected, rel=1e-12)
    assert row["ch4_kg"] == pytest.approx(0.41)
    assert row["n2o_kg_co2e"] == pytest.approx(0.08 * {"AR4": 298, "AR5": 265, "AR6": 273}[gwp_set])


def test_it_matches_the_epa_table_for_every_stationary_fuel() -> None:
    table = pd.read_csv(data_file("epa_hub", "epa_hub2025_table1_stationary_combustion.csv"))
    table = table[table["per_unit"].isin(["gallon", "scf", "short ton"])].reset_index(drop=True)
    factors = pd.DataFrame(
        {
            "factor_key": [f"epa:{i}" for i in range(len(table))],
            "unit": table["per_unit"],
            "co2_kg": table["co2_kg_per_unit"],
            "ch4_g": table["ch4_g_per_unit"],
            "n2o_g": table["n2o_g_per_unit"],
        }
    )
    activities = pd.DataFrame(
        {"quantity": 1.0, "unit": table["per_unit"], "factor_key": factors["factor_key"]}
    )
    result = calculate(activities, factors, gwp_set="AR5")
    expected = (
        table["co2_kg_per_unit"]
        + table["ch4_g_per_unit"] / 1000 * 28
        + table["n2o_g_per_unit"] / 1000 * 265
    )
    np.testing.assert_allclose(result["kg_co2e"].to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_it_turns_egrid_pounds_per_mwh_into_kg_per_kwh() -> None:
    row = one({"quantity": 1000, "unit": "kWh", "factor_key": "egrid:CAMX"}, EPA)
    per_mwh = (436.655 + 0.025 * 28 + 0.003 * 265) * 0.45359237
    assert row["factor_kg_co2e_per_unit"] == pytest.approx(per_mwh)
    assert row["kg_co2e"] == pytest.approx(per_mwh)  # 1,000 kWh = 1 MWh
    assert row["kg_co2e"] / 1000 == pytest.approx(0.198741, abs=1e-6)  # kg CO2e per kWh
    assert row["scope"] == "scope_2"
    assert row["market_basis"] == "location"


@pytest.fixture(scope="module")
def useeio() -> pd.DataFrame:
    table = pd.read_csv(
        data_file(
            "useeio_supply_chain", "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv"
        )
    )
    row = table[table["2017 NAICS Code"] == 331110].iloc[0]
    return single_factor(
        row["Supply Chain Emission Factors with Margins"],
        row["Unit"],
        key="useeio:331110",
        scope=3,
        category=1,
        basis="spend",
        dataset="USEEIO Supply Chain",
        dataset_version="1.3.0",
    )


def test_it_converts_and_deflates_a_useeio_spend_line_in_gbp(useeio: pd.DataFrame) -> None:
    assert useeio["kg_co2e"].iloc[0] == 0.787
    assert useeio["price_year"].iloc[0] == 2022
    # A Saturday: the ECB rates of Friday 15 March 2024 apply (GBP 0.85410, USD 1.0892 per EUR).
    row = one(
        {"quantity": 1000, "unit": "GBP", "factor_key": "useeio:331110", "date": "2024-03-16"},
        useeio,
    )
    usd_2024 = 1000 / 0.8541 * 1.0892
    usd_2022 = usd_2024 * 292.655 / 313.689  # CPI-U annual averages 2022 / 2024
    assert row["quantity_converted"] == pytest.approx(usd_2022, rel=1e-12)
    assert row["kg_co2e"] == pytest.approx(usd_2022 * 0.787, rel=1e-12)
    assert row["fx_rate"] == pytest.approx(1.0892 / 0.8541)
    assert str(pd.Timestamp(row["fx_rate_date"]).date()) == "2024-03-15"
    assert row["deflator"] == pytest.approx(292.655 / 313.689)
    assert row["deflator_year"] == 2024
    assert row["tier"] == "spend"
    assert row["scope3_category"] == 1


def test_it_deflates_an_exiobase_spend_line_in_eur() -> None:
    table = pd.read_csv(
        data_file("exiobase", "exiobase3_IOT2022pxp_combustion_GWP100_multipliers_clean.csv")
    )
    value = table[
        (table["region"] == "DE") & table["product"].str.startswith("Motor vehicles, trailers")
    ]
    factor = single_factor(
        float(value["kgCO2e_per_EUR"].iloc[0]),
        "kg CO2e / EUR",
        key="exio:DE:34",
        price_year=2022,
        scope=3,
        category="Purchased goods and services",
    )
    row = one(
        {"quantity": 5000, "unit": "€", "factor_key": "exio:DE:34", "date": "2024-06-10"}, factor
    )
    eur_2022 = 5000 * 116.82 / 126.07  # euro-area HICP 2022 / 2024
    assert row["kg_co2e"] == pytest.approx(eur_2022 * 0.22772650817445292, rel=1e-12)
    assert row["fx_rate"] == 1.0
    assert row["scope3_category"] == 1
    spend_sek = one(
        {
            "quantity": 50_000,
            "currency": "SEK",
            "unit": None,
            "factor_key": "exio:DE:34",
            "date": pd.Timestamp("2024-06-10"),
        },
        factor,
    )
    assert spend_sek["kg_co2e"] == pytest.approx(
        50_000 / 11.3330 * 116.82 / 126.07 * 0.22772650817445292
    )


# --- Conversions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "fuel", "expected"),
    [
        ("L", "kg", DIESEL, 0.833519),
        ("kg", "L", DIESEL, 1 / 0.833519),
        ("kWh", "MJ", None, 3.6),
        ("EC therm", "kWh", None, 29.30711),
        ("US gallon", "L", None, 3.785411784),
        ("tonnes", "kWh (Net CV)", "LPG", 45.944 / 3.6 * 1000),
        ("kWh (Gross CV)", "m3", "Natural Gas", 3.6 / 50.552 / 0.796),
    ],
)
def test_it_finds_conversion_paths(
    source: str, target: str, fuel: str | None, expected: float
) -> None:
    assert conversion_path(source, target, fuel=fuel).multiplier == pytest.approx(
        expected, rel=1e-6
    )


def test_it_asks_for_a_fuel_when_mass_meets_energy() -> None:
    with pytest.raises(DimensionError) as info:
        conversion_path("kg", "kWh (Gross CV)")
    assert info.value.code == "dimension_needs_fuel"
    assert "fuel" in info.value.suggestion
    assert "calorific value" in info.value.suggestion


def test_it_asks_for_the_cv_basis_of_kwh_going_to_litres() -> None:
    with pytest.raises(DimensionError) as info:
        conversion_path("kWh", "L", fuel=DIESEL)
    assert info.value.code == "cv_basis_unknown"


def test_it_converts_each_distinct_combination_once(
    monkeypatch: pytest.MonkeyPatch, defra: pd.DataFrame
) -> None:
    calls: list[tuple[object, ...]] = []
    original = calc._path_cached

    def counting(*args: object) -> calc.ConversionPath:
        calls.append(args)
        return original.__wrapped__(*args)  # type: ignore[attr-defined]

    monkeypatch.setattr(calc, "_path_cached", counting)
    activities = pd.DataFrame(
        {
            "quantity": np.arange(20_000, dtype=float),
            "unit": np.tile(["L", "kg"], 10_000),
            "factor_key": "defra:1_101_1011_8",
        }
    )
    result = calculate(activities, defra_factors(defra))
    assert len(calls) == 2
    assert result["ok"].all()
    np.testing.assert_allclose(
        result["kg_co2e"].to_numpy()[1::2],
        np.arange(1, 20_000, 2) / 833.519 * 1000 * 2.51279,
        rtol=1e-12,
    )


# --- Scopes, market-based, tiers ------------------------------------------------------------

GRID = pd.DataFrame(
    [
        {
            "factor_key": "grid:DE",
            "unit": "kWh",
            "kg_co2e": 0.38,
            "scope": 2,
            "residual_mix_key": "rm:DE",
        },
        {"factor_key": "grid:FR", "unit": "kWh", "kg_co2e": 0.05, "scope": 2},
        {
            "factor_key": "rm:DE",
            "unit": "kWh",
            "kg_co2e": 0.62,
            "scope": 2,
            "basis": "residual_mix",
        },
        {
            "factor_key": "ppa:wind",
            "unit": "kWh",
            "kg_co2e": 0.0,
            "scope": 2,
            "basis": "contractual",
        },
        {
            "factor_key": "supplier:steel",
            "unit": "tonne",
            "kg_co2e": 1500.0,
            "scope": 3,
            "category": 1,
            "basis": "supplier_specific",
        },
        {"factor_key": "avg:steel", "unit": "tonne", "kg_co2e": 1900.0, "scope": 3, "category": 1},
        {
            "factor_key": "travel:rail",
            "unit": "passenger.km",
            "kg_co2e": 0.035,
            "scope": 3,
            "category": "Business travel",
        },
        {"factor_key": "fuel:diesel", "unit": "litres", "kg_co2e": 2.51279, "scope": "Scope 1"},
    ]
)


def inventory() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "quantity": 1000,
                "unit": "kWh",
                "factor_key": "grid:DE",
            },  # residual mix of the grid factor
            {
                "quantity": 1000,
                "unit": "MWh",
                "factor_key": "grid:DE",
                "market_factor_key": "ppa:wind",
            },
            {"quantity": 2000, "unit": "kWh", "factor_key": "grid:FR"},  # no residual mix: location
            {"quantity": 10, "unit": "t", "factor_key": "supplier:steel"},
            {"quantity": 5, "unit": "t", "factor_key": "avg:steel"},
            {"quantity": 800, "unit": "pkm", "factor_key": "travel:rail"},
            {"quantity": 100, "unit": "L", "factor_key": "fuel:diesel"},
        ],
        index=pd.Index([f"r{i}" for i in range(7)]),
    )


def test_it_reports_scope_2_location_and_market_based_side_by_side() -> None:
    result = calculate(inventory(), GRID)
    s2 = result[result["scope"] == "scope_2"]
    assert s2["kg_co2e"].tolist() == pytest.approx([380.0, 380_000.0, 100.0])
    assert s2["kg_co2e_market"].tolist() == pytest.approx([620.0, 0.0, 100.0])
    assert s2["market_basis"].tolist() == ["residual_mix", "contractual", "location"]
    summary = summarise(result)
    assert summary["scope_2_location_kg"] == pytest.approx(380_480.0)
    assert summary["scope_2_market_kg"] == pytest.approx(720.0)
    assert summary["scope_2_market_basis_kg"] == pytest.approx(
        {"contractual": 0.0, "residual_mix": 620.0, "location": 100.0}
    )
    assert summary["total_market_kg"] == pytest.approx(
        summary["total_location_kg"] - 380_480.0 + 720.0
    )
    market = provenance_of(result, "r1")["scope2_market"]
    assert market["basis"] == "contractual"
    assert market["factor"]["key"] == "ppa:wind"


def test_it_reports_scope_3_categories_and_the_primary_data_share() -> None:
    result = calculate(inventory(), GRID)
    assert result.loc["r5", "scope3_category"] == 6
    assert result.loc["r3", "tier"] == "primary"
    assert result.loc["r4", "tier"] == "secondary"
    summary = summarise(result)
    assert summary["scope_3_by_category_kg"] == pytest.approx({1: 15_000.0 + 9_500.0, 6: 28.0})
    shares = data_quality_shares(result)
    assert shares["scope3_primary_share_label"] == "Scope 3 share computed from primary data"
    assert shares["scope3_primary_share"] == pytest.approx(15_000.0 / (15_000.0 + 9_500.0 + 28.0))
    assert sum(v for v in shares["share_by_tier"].values() if v) == pytest.approx(1.0)


def test_it_lets_a_row_override_scope_category_and_tier() -> None:
    rows = pd.DataFrame(
        [
            {
                "quantity": 1,
                "unit": "t",
                "factor_key": "avg:steel",
                "scope3_category": "Cat. 2",
                "tier": "supplier-specific",
            }
        ]
    )
    row = calculate(rows, GRID).iloc[0]
    assert row["scope3_category"] == 2
    assert row["tier"] == "primary"


# --- Bad input ------------------------------------------------------------------------------


def test_it_gives_zero_for_a_zero_quantity() -> None:
    row = one({"quantity": 0, "unit": "L", "factor_key": "fuel:diesel"}, GRID)
    assert row["ok"]
    assert row["kg_co2e"] == 0.0


def test_it_refuses_a_negative_quantity_unless_it_is_a_correction() -> None:
    rows = pd.DataFrame(
        [
            {"quantity": -50, "unit": "L", "factor_key": "fuel:diesel", "is_correction": False},
            {"quantity": -50, "unit": "L", "factor_key": "fuel:diesel", "is_correction": "yes"},
        ]
    )
    result = calculate(rows, GRID)
    assert not result["ok"].iloc[0]
    assert result["error"].iloc[0]["code"] == "quantity_negative"
    assert result["error"].iloc[0]["value"] == -50
    assert result["kg_co2e"].iloc[1] == pytest.approx(-50 * 2.51279)


@pytest.mark.parametrize(
    ("activity", "code", "value"),
    [
        ({"quantity": 5, "unit": None}, "unit_missing", None),
        ({"quantity": 5, "unit": "litrs"}, "unit_unknown", "litrs"),
        ({"quantity": 5, "unit": "ton"}, "unit_ambiguous", "ton"),
        ({"quantity": 5, "unit": "kWh"}, "dimension_needs_fuel", "kWh"),
        ({"quantity": 5, "unit": "km"}, "dimension_mismatch", "km"),
        ({"quantity": None, "unit": "L"}, "quantity_missing", None),
        ({"quantity": "12,5 l", "unit": "L"}, "quantity_not_number", "12,5 l"),
        ({"quantity": float("inf"), "unit": "L"}, "quantity_not_finite", "inf"),
        ({"quantity": 1e308, "unit": "m3"}, "result_not_finite", "overflow"),
        ({"quantity": 5, "unit": "EUR"}, "dimension_mismatch", "EUR"),
    ],
)
def test_it_returns_structured_errors_for_bad_rows(
    activity: dict[str, object], code: str, value: object
) -> None:
    factors = GRID.assign(fuel=None)
    row = one({"factor_key": "fuel:diesel", **activity}, factors)
    assert not row["ok"]
    error = row["error"]
    assert error["code"] == code
    if value is not None:
        assert error["value"] == value
    assert error["message"]
    assert error["expected"]
    assert np.isnan(row["kg_co2e"])
    assert np.isnan(row["kg_co2e_market"])


def test_it_keeps_nan_and_inf_out_of_every_total() -> None:
    rows = pd.concat(
        [
            inventory(),
            pd.DataFrame(
                [
                    {"quantity": np.nan, "unit": "L", "factor_key": "fuel:diesel"},
                    {"quantity": np.inf, "unit": "L", "factor_key": "fuel:diesel"},
                    {"quantity": 1e308, "unit": "m3", "factor_key": "fuel:diesel"},
                    {"quantity": 3, "unit": "L", "factor_key": "no:such:factor"},
                ],
                index=["bad1", "bad2", "bad3", "bad4"],
            ),
        ]
    )
    result = calculate(rows, GRID)
    summary = summarise(result)
    assert summary["rows_with_errors"] == 4
    numbers = [v for v in summary.values() if isinstance(v, float)]
    assert numbers
    assert all(np.isfinite(numbers))
    assert summary["total_location_kg"] == pytest.approx(
        summarise(calculate(inventory(), GRID))["total_location_kg"]
    )
    reported = errors_of(result)
    assert [e["row"] for e in reported] == ["bad1", "bad2", "bad3", "bad4"]
    assert reported[3]["code"] == "factor_unknown"
    assert reported[3]["value"] == "no:such:factor"


def test_it_refuses_frames_that_break_the_contract() -> None:
    with pytest.raises(InputError):
        calculate(pd.DataFrame({"quantity": [1.0]}), GRID)
    with pytest.raises(FactorError):
        calculate(inventory(), pd.concat([GRID, GRID.iloc[:1]]))
    with pytest.raises(EngineError):
        calculate(inventory(), GRID, gwp_set="SAR")


def test_it_marks_rows_of_a_blank_factor_instead_of_counting_zero() -> None:
    factors = pd.DataFrame([{"factor_key": "blank", "unit": "kg", "kg_co2e": np.nan}])
    row = one({"quantity": 10, "unit": "kg", "factor_key": "blank"}, factors)
    assert not row["ok"]
    assert row["error"]["code"] == "factor_value"


def test_it_reweights_a_defra_gas_split_to_another_gwp_set(defra: pd.DataFrame) -> None:
    row = one(
        {"quantity": 1000, "unit": "L", "factor_key": "defra:1_101_1011_8"},
        defra_factors(defra),
        gwp_set="AR6",
    )
    # CO2 unchanged; CH4 x 29.8/28 (diesel is fossil: AR6 WG1 Table 7.15 gives 29.8 for fossil
    # methane, 27.0 for biogenic); N2O x 273/265 (AR6 over the AR5 basis DEFRA 2024 uses).
    expected = 1000 * (2.4796 + 0.00029 * 29.8 / 28 + 0.0329 * 273 / 265)
    assert row["kg_co2e"] == pytest.approx(expected, rel=1e-12)


def test_it_records_how_every_result_was_made(defra: pd.DataFrame, useeio: pd.DataFrame) -> None:
    factors = pd.concat([defra_factors(defra), useeio], ignore_index=True)
    rows = pd.DataFrame(
        [
            {"quantity": 1000, "unit": "L", "factor_key": "defra:1_101_1011_8"},
            {"quantity": 1000, "unit": "GBP", "factor_key": "useeio:331110", "date": "2024-03-15"},
        ]
    )
    result = calculate(rows, factors, gwp_set="AR5")
    first = provenance_of(result, 0)
    assert first["gwp_set"] == "AR5"
    assert first["factor"]["id"] == "1_101_1011_8_1"
    assert first["factor"]["version"] == "1.1"
    assert first["factor"]["dataset"] == "DEFRA 2024"
    second = provenance_of(result, 1)
    assert second["money"]["rate"] == pytest.approx(1.0892 / 0.8541)
    assert second["money"]["rate_date"] == "2024-03-15"
    assert second["money"]["deflator"]["index"] == "US_CPI_U"
    assert second["money"]["deflator"]["to_year"] == 2022
    assert json.loads(result["provenance"].iloc[1])["factor"]["version"] == "1.3.0"
    assert "ECB reference rate of 2024-03-15" in explain(result, 1)


def test_it_reports_outside_of_scopes_beside_the_total_and_counts_unscoped_rows() -> None:
    factors = pd.DataFrame(
        [
            {"factor_key": "bio", "unit": "kg", "kg_co2e": 1.5, "scope": "Outside of Scopes"},
            {"factor_key": "plain", "unit": "kg", "kg_co2e": 2.0},
            {"factor_key": "s1", "unit": "kg", "kg_co2e": 3.0, "scope": "1"},
        ]
    )
    rows = pd.DataFrame(
        {"quantity": [10.0, 10.0, 10.0], "unit": "kg", "factor_key": ["bio", "plain", "s1"]}
    )
    summary = summarise(calculate(rows, factors))
    assert summary["outside_scopes_kg"] == pytest.approx(15.0)
    assert summary["unscoped_kg"] == pytest.approx(20.0)
    assert summary["total_location_kg"] == pytest.approx(50.0)


def test_it_builds_a_factor_from_a_value_and_its_unit() -> None:
    egrid = single_factor(436.655, "lb CO2 / MWh", key="camx", scope=2)
    assert egrid["co2_kg"].iloc[0] == pytest.approx(436.655 * 0.45359237)
    assert egrid["unit"].iloc[0] == "MWh"
    row = one({"quantity": 2, "unit": "MWh", "factor_key": "camx"}, egrid)
    assert row["kg_co2e"] == pytest.approx(2 * 436.655 * 0.45359237)
    assert row["co2_kg"] == pytest.approx(row["kg_co2e"])


def test_it_asks_for_a_unique_label_to_explain_a_row() -> None:
    rows = pd.DataFrame(
        {"quantity": [1.0, 2.0], "unit": "L", "factor_key": "fuel:diesel"}, index=[7, 7]
    )
    result = calculate(rows, GRID)
    with pytest.raises(InputError):
        explain(result, 7)


def test_it_uses_a_row_fuel_and_a_factor_cv_basis_column() -> None:
    factors = pd.DataFrame(
        [
            {
                "factor_key": "epa:mmbtu",
                "unit": "mmBtu",
                "co2_kg": 53.06,
                "ch4_g": 1.0,
                "n2o_g": 0.1,
                "cv_basis": "HHV",
                "scope": 1,
            },
        ]
    )
    row = one(
        {"quantity": 1000, "unit": "m3", "factor_key": "epa:mmbtu", "fuel": "Natural Gas"}, factors
    )
    mmbtu = 1000 * 0.796 * 50.552 / 3.6 / 293.07107017222
    assert row["quantity_converted"] == pytest.approx(mmbtu, rel=1e-9)
    assert row["kg_co2e"] == pytest.approx(mmbtu * (53.06 + 0.001 * 28 + 0.0001 * 265), rel=1e-9)


def test_it_takes_the_residual_mix_a_row_names_and_refuses_unknown_market_factors() -> None:
    rows = pd.DataFrame(
        [
            {
                "quantity": 1000,
                "unit": "kWh",
                "factor_key": "grid:FR",
                "residual_factor_key": "rm:DE",
                "market_factor_key": None,
            },
            {
                "quantity": 1000,
                "unit": "kWh",
                "factor_key": "grid:FR",
                "residual_factor_key": None,
                "market_factor_key": "ppa:unknown",
            },
        ]
    )
    result = calculate(rows, GRID)
    assert result["kg_co2e_market"].iloc[0] == pytest.approx(620.0)
    assert result["market_basis"].iloc[0] == "residual_mix"
    assert not result["ok"].iloc[1]
    assert result["error"].iloc[1]["code"] == "factor_unknown"
