"""Fuel properties of the calculation engine against the DEFRA 2024 workbook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emissions.engine import fuels
from emissions.engine.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
WORKBOOK = "ghg-conversion-factors-2024-full_set__for_advanced_users__v1_1.xlsx"


def data_file(folder: str, name: str) -> Path:
    """The project's data/raw copy of a shared dataset, else the shared folder."""
    for base in (ROOT / "data" / "raw", ROOT / ".." / "shared" / "data"):
        if (base / folder / name).exists():
            return base / folder / name
    pytest.skip(f"{folder}/{name} is not available")


def test_it_ships_exactly_what_the_defra_fuel_properties_sheet_says() -> None:
    fresh = fuels.extract_fuel_properties(data_file("defra_2024", WORKBOOK))
    shipped = fuels.fuel_properties().reset_index(drop=True)
    assert len(fresh) == len(shipped) == 39
    assert fresh["fuel"].tolist() == shipped["fuel"].tolist()
    assert fresh["row"].tolist() == shipped["row"].tolist()
    numeric = [c for c in fresh.columns if c not in ("fuel", "section", "sheet")]
    np.testing.assert_array_equal(fresh[numeric].to_numpy(float), shipped[numeric].to_numpy(float))


def test_it_has_the_published_diesel_and_natural_gas_properties() -> None:
    diesel = fuels.fuel_property("Diesel (average biofuel blend)")
    assert diesel.density_kg_per_m3 == 833.519
    assert (diesel.net_cv_gj_per_t, diesel.gross_cv_gj_per_t) == (42.719, 45.399)
    assert diesel.gross_cv_kwh_per_kg == pytest.approx(12.611, abs=5e-4)  # published kWh/kg
    assert "row 25" in diesel.source
    gas = fuels.fuel_property("natural gas")
    assert (gas.density_kg_per_m3, gas.gross_cv_gj_per_t) == (0.796, 50.552)


def test_it_keeps_the_sheet_consistent_with_itself() -> None:
    table = fuels.fuel_properties()
    # kWh/kg = GJ/t / 3.6 and kWh/litre = kWh/kg x density, to DEFRA's three decimals.
    for basis in ("net", "gross"):
        per_kg = table[f"{basis}_cv_gj_per_t"] / 3.6
        assert np.allclose(per_kg, table[f"{basis}_cv_kwh_per_kg"], atol=6e-4)
        per_litre = per_kg * table["density_kg_per_m3"] / 1000
        published = table[f"{basis}_cv_kwh_per_l"]
        both = per_litre.notna() & published.notna()
        assert both.sum() == 30
        assert np.allclose(per_litre[both], published[both], atol=6e-4)


def test_it_resolves_sheet_names_of_fuels() -> None:
    assert (
        fuels.resolve_fuel("  diesel (AVERAGE biofuel blend) ") == "Diesel (average biofuel blend)"
    )
    assert fuels.resolve_fuel("Compressed natural gas") == "CNG"
    assert fuels.resolve_fuel("Biomethane") == "Biomethane"


def test_it_refuses_a_fuel_name_that_matches_several_fuels() -> None:
    with pytest.raises(InputError) as info:
        fuels.resolve_fuel("Diesel")
    assert info.value.code == "fuel_ambiguous"
    assert "Diesel (100% mineral diesel)" in info.value.expected


def test_it_suggests_a_fuel_for_a_typo() -> None:
    with pytest.raises(InputError) as info:
        fuels.resolve_fuel("Propan")
    assert info.value.code == "fuel_unknown"
    assert "Propane" in info.value.suggestion


def test_it_reads_the_shipped_csv_with_its_provenance_header() -> None:
    text = fuels.FUEL_PROPERTIES_FILE.read_text(encoding="utf-8")
    assert text.startswith("# Fuel properties from UK DESNZ/DEFRA")
    assert "Open Government Licence" in text
    frame = pd.read_csv(fuels.FUEL_PROPERTIES_FILE, comment="#")
    assert (frame["sheet"] == "Fuel properties").all()
