"""The small set of named, generic transforms a YAML mapping may apply to a column.

Each transform works on a whole pandas Series at once. Numeric transforms are unit conversions with
exact constants; text transforms normalise codes. A mapping names them, e.g.
`transform: [g_to_kg, {gwp: CH4}]`; dataset-specific knowledge stays in the YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from factors.ingest.errors import MappingError
from factors.ingest.gwp import gwp100

# The international avoirdupois pound, exactly 0.45359237 kg (US/UK agreement of 1959).
KG_PER_LB = 0.45359237

NUMERIC_SCALES: dict[str, float] = {
    # grams -> kilograms (EPA publishes CH4 and N2O in g per unit)
    "g_to_kg": 1e-3,
    # pounds -> kilograms
    "lb_to_kg": KG_PER_LB,
    # lb per MWh -> kg per kWh (eGRID subregion output rates)
    "lb_per_mwh_to_kg_per_kwh": KG_PER_LB / 1000.0,
    # metric tons -> kg (EPA table 9 gives metric tons CO2e per short ton of material)
    "tonne_to_kg": 1000.0,
    # g CO2e per kWh -> kg CO2e per kWh (Our World in Data carbon intensity)
    "g_per_kwh_to_kg_per_kwh": 1e-3,
    # per million currency units -> per unit (input-output multipliers in kg per M.EUR)
    "per_million": 1e-6,
}


@dataclass(frozen=True)
class TransformCall:
    """One named transform with its argument, as written in a mapping."""

    name: str
    arg: Any = None


TextTransform = Callable[[pd.Series], pd.Series]


def _strip(series: pd.Series) -> pd.Series:
    return series.str.strip()


def _collapse_spaces(series: pd.Series) -> pd.Series:
    return series.str.replace(r"\s+", " ", regex=True).str.strip()


def _upper(series: pd.Series) -> pd.Series:
    return series.str.upper()


def _lower(series: pd.Series) -> pd.Series:
    return series.str.lower()


def _nace_code(series: pd.Series) -> pd.Series:
    """'1.11' -> '01.11', '1.5' -> '01.50', '10.2' -> '10.20' (codes that lost zeros as numbers)."""
    parts = series.str.strip().str.extract(r"^(\d{1,2})(?:\.(\d{1,2}))?$")
    division = parts[0].str.zfill(2)
    group = parts[1].fillna("").str.ljust(2, "0")
    code = division.where(parts[1].isna(), division + "." + group)
    return code.where(parts[0].notna())


def _country_table() -> tuple[dict[str, str], dict[str, str]]:
    import pycountry

    by_alpha3: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for country in pycountry.countries:
        by_alpha3[country.alpha_3] = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                by_name[name.lower()] = country.alpha_2
    return by_alpha3, by_name


_COUNTRIES: tuple[dict[str, str], dict[str, str]] | None = None


def _countries() -> tuple[dict[str, str], dict[str, str]]:
    global _COUNTRIES
    if _COUNTRIES is None:
        _COUNTRIES = _country_table()
    return _COUNTRIES


def _iso3_to_iso2(series: pd.Series) -> pd.Series:
    """ISO 3166 alpha-3 -> alpha-2; anything else becomes missing (the mapping decides what then)."""
    by_alpha3, _ = _countries()
    return series.str.strip().str.upper().map(by_alpha3)


def _country_name_to_iso2(series: pd.Series) -> pd.Series:
    """An English country name (ISO 3166 name, official or common name) -> alpha-2."""
    _, by_name = _countries()
    return series.str.strip().str.lower().map(by_name)


TEXT_TRANSFORMS: dict[str, TextTransform] = {
    "strip": _strip,
    "collapse_spaces": _collapse_spaces,
    "upper": _upper,
    "lower": _lower,
    "nace_code": _nace_code,
    "iso3_to_iso2": _iso3_to_iso2,
    "country_name_to_iso2": _country_name_to_iso2,
}

NUMERIC_TRANSFORMS = frozenset(NUMERIC_SCALES) | {"gwp"}


def parse_transform(raw: Any, where: str) -> TransformCall:
    """Read one transform entry (a name, or a one-key mapping such as {gwp: CH4})."""
    if isinstance(raw, str):
        name, arg = raw, None
    elif isinstance(raw, dict) and len(raw) == 1:
        name, arg = next(iter(raw.items()))
    else:
        raise MappingError(f"{where}: a transform is a name or a one-key mapping, not {raw!r}")
    if name not in TEXT_TRANSFORMS and name not in NUMERIC_TRANSFORMS:
        known = ", ".join(sorted([*TEXT_TRANSFORMS, *NUMERIC_TRANSFORMS]))
        raise MappingError(f"{where}: unknown transform {name!r} (known: {known})")
    if name == "gwp" and not isinstance(arg, str):
        raise MappingError(f"{where}: gwp needs the gas, e.g. {{gwp: CH4}}")
    return TransformCall(name, arg)


def is_numeric_transform(call: TransformCall) -> bool:
    """True for transforms that scale numbers rather than rewrite text."""
    return call.name in NUMERIC_TRANSFORMS


def apply_text_transform(call: TransformCall, series: pd.Series) -> pd.Series:
    """Apply a text transform to a string Series."""
    return TEXT_TRANSFORMS[call.name](series)


def apply_numeric_transform(call: TransformCall, values: pd.Series, *, gwp_set: str) -> pd.Series:
    """Scale a float Series: a unit conversion, or a gas mass times its GWP in `gwp_set`."""
    if call.name == "gwp":
        return values * gwp100(str(call.arg), gwp_set)
    return values * NUMERIC_SCALES[call.name]
