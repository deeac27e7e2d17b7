"""Fuel properties (density, net and gross calorific values) from DEFRA 2024.

The values are the "Fuel properties" sheet of UK DESNZ/DEFRA "Greenhouse gas reporting:
conversion factors 2024", full set for advanced users, v1.1 (Open Government Licence v3.0),
extracted once by ``extract_fuel_properties`` into ``data/fuel_properties_defra_2024.csv``, which
keeps the sheet name and row of every value. Tests re-extract the sheet and compare.

The engine uses density (kg/m3) to go between volume and mass and the calorific values
(GJ/tonne = MJ/kg; divided by 3.6 for kWh/kg) to go between mass and energy, on the net or gross
basis the factor or the activity states.

Public API
----------
- ``FUEL_PROPERTIES_FILE``, ``FUEL_PROPERTIES_SOURCE``.
- ``fuel_properties() -> DataFrame``: one row per fuel (columns as in the CSV, plus ``key``).
- ``resolve_fuel(name) -> str``: the DEFRA fuel name for a name from a sheet (case and spacing
  ignored; a few unambiguous aliases such as "CNG", "Gas oil", "Kerosene"); a name that matches
  several fuels ("Diesel", "Petrol") or none raises InputError naming the choices.
- ``fuel_property(name) -> FuelProperties``.
- ``extract_fuel_properties(xlsx_path) -> DataFrame``: re-read the sheet from the DEFRA workbook.
- ``regional_heat_content(fuel, region) -> RegionalHeatContent | None``: a heat content per
  standard cubic foot published for the region (US natural gas: EPA Hub 2025, 1,026 Btu/scf),
  from ``data/fuel_properties_regional.csv``; None where only DEFRA's (UK) properties exist.
- ``fuel_origin(name) -> "fossil" | "biogenic" | None``: whether a fuel's methane is fossil (for
  AR6's CH4 fossil / non-fossil split); None for a name that is not a DEFRA fuel.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

DATA_DIR = Path(__file__).resolve().parent / "data"
FUEL_PROPERTIES_FILE = DATA_DIR / "fuel_properties_defra_2024.csv"
FUEL_PROPERTIES_SOURCE = "DEFRA/DESNZ GHG conversion factors 2024 v1.1, Fuel properties"
REGIONAL_PROPERTIES_FILE = DATA_DIR / "fuel_properties_regional.csv"
#: Regions whose fuels DEFRA's "Fuel properties" sheet describes.
DEFRA_REGIONS = frozenset({"GB", "UK"})
# DEFRA fuels whose carbon is biogenic (the sheet's "Other fuels" block: biofuels, biogas, wood;
# DEFRA reports their CO2 "outside of scopes"). The "Commonly Used Fossil Fuels" block, CNG and
# LNG are fossil.
_BIOGENIC_FUELS = frozenset(
    {
        "Biodiesel (ME)",
        "Biodiesel (BtL or HVO)",
        "Bioethanol",
        "BioETBE",
        "Biogas",
        "Biomethane",
        "Grasses/Straw",
        "Landfill Gas",
        "Wood Chips",
        "Wood Logs",
        "Wood Pellets",
    }
)
_FOSSIL_OTHER = frozenset({"CNG", "LNG"})
SHEET = "Fuel properties"

# Columns of the sheet, left to right from column C, with the units printed under the headers.
_COLUMNS = (
    ("year", "Year", ""),
    ("net_cv_gj_per_t", "Net CV", "GJ/tonne"),
    ("gross_cv_gj_per_t", "Gross CV", "GJ/tonne"),
    ("density_kg_per_m3", "Density", "kg/m3"),
    ("litres_per_tonne", "Density", "litres/tonne"),
    ("net_cv_kwh_per_kg", "Net CV", "kWh/kg"),
    ("gross_cv_kwh_per_kg", "Gross CV", "kWh/kg"),
    ("net_cv_kwh_per_l", "Net CV", "kWh/litre"),
    ("gross_cv_kwh_per_l", "Gross CV", "kWh/litre"),
)

# Names seen in sheets that stand for exactly one DEFRA fuel.
_ALIASES = {
    "natural gas (gross cv)": "Natural Gas",
    "natural gas (net cv)": "Natural Gas",
    "compressed natural gas": "CNG",
    "liquefied natural gas": "LNG",
    "liquefied petroleum gas": "LPG",
    "liquefied petroleum gases": "LPG",
    "kerosene": "Burning Oil",
    "heating oil": "Burning Oil",
    "jet fuel": "Aviation Turbine Fuel",
    "jet a-1": "Aviation Turbine Fuel",
    "avgas": "Aviation Spirit",
    "red diesel": "Gas Oil",
    "heavy fuel oil": "Fuel Oil",
    "hvo": "Biodiesel (BtL or HVO)",
    "wood pellet": "Wood Pellets",
    "wood chip": "Wood Chips",
    "wood log": "Wood Logs",
}


@dataclass(frozen=True)
class FuelProperties:
    """Properties of one fuel, with where they come from."""

    name: str
    density_kg_per_m3: float
    net_cv_kwh_per_kg: float
    gross_cv_kwh_per_kg: float
    net_cv_gj_per_t: float
    gross_cv_gj_per_t: float
    source: str

    def cv_kwh_per_kg(self, basis: str) -> float:
        """Calorific value on the ``"net"`` or ``"gross"`` basis, kWh per kg (NaN if unknown)."""
        return self.net_cv_kwh_per_kg if basis == "net" else self.gross_cv_kwh_per_kg

    def cv_gj_per_t(self, basis: str) -> float:
        """Calorific value on the ``"net"`` or ``"gross"`` basis, GJ per tonne (NaN if unknown)."""
        return self.net_cv_gj_per_t if basis == "net" else self.gross_cv_gj_per_t


def _key(name: object) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().casefold()


def _number(cell: object) -> float:
    if cell is None or cell == "":
        return float("nan")
    return float(cell)  # type: ignore[arg-type]


def extract_fuel_properties(xlsx_path: str | Path) -> pd.DataFrame:
    """Read the "Fuel properties" sheet of the DEFRA 2024 full-set workbook into a frame.

    Checks that each block of the sheet still has the expected header and unit rows, so a
    changed layout fails loudly instead of shifting columns.
    """
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(xlsx_path)).get_sheet_by_name(SHEET).to_python()
    records: list[dict[str, object]] = []
    section = ""
    header_ok = False
    for number, row in enumerate(rows, start=1):
        cells = [*list(row), *[""] * 11][:11]
        labels = [str(c).replace("\n", " ").strip() for c in cells[2:11]]
        if labels[0] == "Year":
            header_ok = [re.sub(r"\s*\[note \d+\]", "", lab) for lab in labels] == [
                c[1] for c in _COLUMNS
            ]
            units = [str(c).strip() for c in rows[number][2:11]]
            header_ok = header_ok and units[1:] == [c[2] for c in _COLUMNS][1:]
            if not header_ok:
                raise ValueError(f"Unexpected header in {SHEET!r} rows {number}-{number + 1}")
            continue
        if str(cells[0]).strip():
            section = str(cells[0]).strip()
        name = str(cells[1]).strip()
        if not name or not isinstance(cells[2], int | float) or not header_ok:
            continue
        record: dict[str, object] = {"fuel": name, "section": section}
        for (column, _, _), cell in zip(_COLUMNS, cells[2:11], strict=True):
            record[column] = _number(cell)
        record["year"] = int(float(cells[2]))
        record["sheet"] = SHEET
        record["row"] = number
        records.append(record)
    return pd.DataFrame.from_records(records)


@functools.cache
def fuel_properties() -> pd.DataFrame:
    """The shipped fuel-property table, indexed by a case-folded fuel key."""
    frame = pd.read_csv(FUEL_PROPERTIES_FILE, comment="#")
    frame["key"] = frame["fuel"].map(_key)
    return frame.set_index("key", drop=False)


@functools.lru_cache(maxsize=1024)
def resolve_fuel(name: str) -> str:
    """The DEFRA fuel name for ``name``; raises InputError if unknown or ambiguous."""
    table = fuel_properties()
    key = _key(name)
    if key in table.index:
        return str(table.loc[key, "fuel"])
    if key in _ALIASES:
        return _ALIASES[key]
    starts = [
        str(f) for k, f in zip(table.index, table["fuel"], strict=True) if k.startswith(key + " (")
    ]
    if len(starts) == 1:
        return starts[0]
    if len(starts) > 1:
        raise InputError(
            f"Fuel {name!r} matches several fuels with different properties: {', '.join(starts)}.",
            value=name,
            expected="one of: " + "; ".join(starts),
            suggestion=f"Name the fuel exactly, e.g. {starts[0]!r}.",
            code="fuel_ambiguous",
        )
    close = difflib.get_close_matches(key, list(table.index) + list(_ALIASES), n=3, cutoff=0.6)
    names = [str(table.loc[c, "fuel"]) if c in table.index else _ALIASES[c] for c in close]
    raise InputError(
        f"No fuel properties for {name!r}.",
        value=name,
        expected="a fuel from the DEFRA 2024 Fuel properties sheet (e.g. 'Diesel (average "
        "biofuel blend)', 'Natural Gas', 'LPG', 'Fuel Oil')",
        suggestion=("Did you mean " + " or ".join(dict.fromkeys(names)) + "?")
        if names
        else "Choose a fuel listed in the DEFRA 2024 Fuel properties sheet.",
        code="fuel_unknown",
    )


@functools.lru_cache(maxsize=1024)
def fuel_property(name: str) -> FuelProperties:
    """Density and calorific values of a fuel (NaN where DEFRA gives none)."""
    fuel = resolve_fuel(name)
    row = fuel_properties().loc[_key(fuel)]
    return FuelProperties(
        name=fuel,
        density_kg_per_m3=float(row["density_kg_per_m3"]),
        net_cv_kwh_per_kg=float(row["net_cv_gj_per_t"]) / 3.6,
        gross_cv_kwh_per_kg=float(row["gross_cv_gj_per_t"]) / 3.6,
        net_cv_gj_per_t=float(row["net_cv_gj_per_t"]),
        gross_cv_gj_per_t=float(row["gross_cv_gj_per_t"]),
        source=f"{FUEL_PROPERTIES_SOURCE} ({fuel}, row {int(row['row'])})",
    )


@dataclass(frozen=True)
class RegionalHeatContent:
    """A fuel's heat content per standard cubic foot as a region's publisher gives it."""

    fuel: str
    region: str
    btu_per_scf: float
    cv_basis: str
    source: str

    @property
    def kwh_per_m3(self) -> float:
        """The heat content in kWh per cubic metre (1 Btu = 1055.05585262 J; 1 ft = 0.3048 m)."""
        return self.btu_per_scf * 1055.05585262 / 3.6e6 / 0.3048**3


@functools.cache
def _regional_table() -> dict[tuple[str, str], RegionalHeatContent]:
    frame = pd.read_csv(REGIONAL_PROPERTIES_FILE, comment="#")
    return {
        (str(r.fuel), str(r.region)): RegionalHeatContent(
            str(r.fuel),
            str(r.region),
            float(r.heat_content_btu_per_scf),
            str(r.cv_basis),
            str(r.source),
        )
        for r in frame.itertuples(index=False)
    }


def regional_heat_content(fuel: str, region: str | None) -> RegionalHeatContent | None:
    """The region's own heat content per scf for ``fuel`` (a DEFRA fuel name), or None."""
    if not region:
        return None
    return _regional_table().get((resolve_fuel(fuel), str(region).upper()))


@functools.lru_cache(maxsize=1024)
def fuel_origin(name: str | None) -> str | None:
    """ "fossil" or "biogenic" for a DEFRA fuel name (or alias); None when unknown."""
    if not name:
        return None
    try:
        fuel = resolve_fuel(name)
    except InputError:
        return None
    if fuel in _BIOGENIC_FUELS:
        return "biogenic"
    section = str(fuel_properties().loc[_key(fuel), "section"])
    if section == "Commonly Used Fossil Fuels" or fuel in _FOSSIL_OTHER:
        return "fossil"
    return None


def _write_csv(frame: pd.DataFrame, path: Path = FUEL_PROPERTIES_FILE) -> None:
    """Write the extracted table with its provenance header (used once, kept for updates)."""
    header = (
        "# Fuel properties from UK DESNZ/DEFRA 'Greenhouse gas reporting: conversion factors 2024',\n"
        "# full set for advanced users, v1.1 (18 Oct 2024), sheet 'Fuel properties'; 'row' is the\n"
        "# sheet's 1-based row. Open Government Licence v3.0. Extracted with\n"
        "# emissions.engine.fuels.extract_fuel_properties; blank cells are values DEFRA does not give.\n"
    )
    columns = ["fuel", "section", *[c[0] for c in _COLUMNS], "sheet", "row"]
    body = frame[columns].replace({np.nan: None}).to_csv(index=False, lineterminator="\n")
    path.write_text(header + body, encoding="utf-8")
