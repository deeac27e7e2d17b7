"""GWP sets of the calculation engine, checked against published tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from emissions.engine import gwp
from emissions.engine.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def data_file(folder: str, name: str) -> Path:
    """The project's data/raw copy of a shared dataset, else the shared folder."""
    for base in (ROOT / "data" / "raw", ROOT / ".." / "shared" / "data"):
        if (base / folder / name).exists():
            return base / folder / name
    pytest.skip(f"{folder}/{name} is not available")


def test_it_has_the_ar5_values_of_epa_hub_table_11() -> None:
    table = pd.read_csv(data_file("epa_hub", "epa_hub2025_table11_gwp_ar5.csv"))
    assert len(table) == 32
    for name, formula, value in table[["name", "formula", "gwp100"]].itertuples(index=False):
        assert gwp.gwp(name, "AR5") == value, name
        assert gwp.gwp(formula, "AR5") == value, formula


def test_it_has_the_ar4_values_of_40_cfr_98_table_a1() -> None:
    # 40 CFR Part 98, Subpart A, Table A-1 (as published before the 2024 amendment): IPCC AR4.
    expected = {
        "CH4": 25,
        "N2O": 298,
        "SF6": 22800,
        "NF3": 17200,
        "HFC-23": 14800,
        "HFC-32": 675,
        "HFC-125": 3500,
        "HFC-134a": 1430,
        "HFC-143a": 4470,
        "HFC-152a": 124,
        "HFC-227ea": 3220,
        "HFC-236fa": 9810,
        "HFC-245fa": 1030,
        "HFC-365mfc": 794,
        "HFC-43-10mee": 1640,
        "PFC-14": 7390,
        "PFC-116": 12200,
        "PFC-218": 8830,
        "PFC-318": 10300,
        "HFC-41": 92,
        "HFC-161": 12,
        "HFC-152": 53,
    }
    for gas, value in expected.items():
        assert gwp.gwp(gas, "AR4") == value, gas


def test_it_has_the_ar6_values_of_ipcc_table_7_15() -> None:
    # IPCC AR6 WG I Table 7.15; methane split as in the GHG Protocol GWP table (2024).
    assert gwp.gwp("CH4", "AR6") == 27.0
    assert gwp.gwp("CH4_fossil", "AR6") == 29.8
    assert gwp.gwp("N2O", "AR6") == 273
    assert gwp.gwp("HFC-134a", "AR6") == 1530
    assert gwp.gwp("SF6", "AR6") == 24300
    assert gwp.gwp("fossil methane", "AR5") == 30


def test_it_has_every_gas_in_every_set() -> None:
    keys = [set(values) for values in gwp.GWP_SETS.values()]
    assert keys[0] == keys[1] == keys[2]
    assert set(gwp.GWP_SOURCES) == set(gwp.GWP_SETS) == {"AR4", "AR5", "AR6"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Methane", "CH4"),
        ("ch4", "CH4"),
        ("R-134a", "HFC-134a"),
        ("CH2FCF3", "HFC-134a"),
        ("hfc_134a", "HFC-134a"),
        ("Sulphur hexafluoride", "SF6"),
        ("c-C4F8", "PFC-318"),
        ("ch4_fossil", "CH4_fossil"),
        ("Carbon tetrafluoride", "PFC-14"),
    ],
)
def test_it_recognises_gas_names_formulas_and_codes(name: str, expected: str) -> None:
    assert gwp.gas_id(name) == expected


def test_it_suggests_a_gas_for_a_typo() -> None:
    with pytest.raises(InputError) as info:
        gwp.gas_id("HFC-134b")
    assert info.value.code == "gas"
    assert "HFC-134" in info.value.suggestion


@pytest.mark.parametrize(
    ("name", "expected"), [("ar5", "AR5"), ("IPCC AR6", "AR6"), ("AR4GWP100", "AR4")]
)
def test_it_normalises_gwp_set_names(name: str, expected: str) -> None:
    assert gwp.normalise_gwp_set(name) == expected


def test_it_refuses_an_unknown_gwp_set() -> None:
    with pytest.raises(InputError) as info:
        gwp.normalise_gwp_set("SAR")
    assert info.value.code == "gwp_set"
    assert "AR5" in info.value.expected
