"""EXIOBASE (or any pymrio system) -> kg CO2e per unit of money by region and product.

`multipliers_from_iosystem(io)` sums every greenhouse-gas stressor of one satellite account,
weighted by its GWP, in the total multipliers M = S (I - A)^-1 that pymrio computes (`calc_all`),
and returns one row per (region, product) with the per-gas split, ready for the `exiobase_mrio`
mapping. `parse_exiobase_zip(path)` opens a downloaded EXIOBASE 3 release with pymrio.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from factors.ingest.errors import IngestError
from factors.ingest.gwp import gwp100, normalise_gwp_set

# Satellite accounts that carry air emissions, in order of preference (EXIOBASE 3.8+ has
# 'air_emissions'; older releases put them in 'satellite').
GHG_EXTENSIONS = ("air_emissions", "satellite", "emissions")
# EXIOBASE stressor names start with the gas: "CO2 - combustion - air", "CH4 - agriculture - air",
# "N2O - ...", "SF6 - air", "HFC - air" (kg CO2-eq), "PFC - air" (kg CO2-eq), "NF3 - air".
_GAS_PREFIX = re.compile(r"^\s*(CO2|CH4|N2O|SF6|NF3|HFC|PFC)\b", re.IGNORECASE)
# Biogenic CO2 is reported outside the scopes (GHG Protocol), not in the factor.
_BIOGENIC = re.compile(r"biogenic", re.IGNORECASE)
_MONEY = re.compile(r"^\s*(?:M\.?|Mill\.?|million|Mio\.?)\s*([A-Z]{3})\s*$", re.IGNORECASE)
GAS_FIELD = {"CO2": "co2", "CH4": "ch4", "N2O": "n2o"}


def parse_exiobase_zip(path: str | Path) -> Any:
    """Parse an EXIOBASE 3 release (zip or folder) with pymrio; IngestError if it is not one."""
    import pymrio

    path = Path(path)
    if not path.exists():
        raise IngestError("EXIOBASE release not found", file=str(path))
    try:
        return pymrio.parse_exiobase3(path=str(path))
    except Exception as exc:  # pymrio raises bare exceptions for files it cannot read
        raise IngestError(
            f"not an EXIOBASE 3 release pymrio can parse: {exc}", file=path.name
        ) from exc


def _money_unit(io: Any) -> tuple[str, float]:
    units = io.unit["unit"].unique() if getattr(io, "unit", None) is not None else []
    if len(units) != 1:
        raise IngestError(f"the system's monetary unit is not one unit: {list(units)}")
    match = _MONEY.match(str(units[0]))
    if match is None:
        raise IngestError(
            f"monetary unit {units[0]!r} is not 'million <currency>' (M.EUR, Mill USD)"
        )
    return match.group(1).upper(), 1e6


def _pick_extension(io: Any, extension: str | None) -> Any:
    attrs = {name: getattr(io, name) for name in io.get_extensions(data=False)}
    names = sorted(attrs)
    if extension is not None:
        if extension not in attrs:
            raise IngestError(f"the system has no extension {extension!r} (has {names})")
        return attrs[extension]
    for name in GHG_EXTENSIONS:
        if name in attrs:
            return attrs[name]
    raise IngestError(f"no greenhouse-gas extension among {names}; name one with extension=")


def stressor_gases(stressors: pd.Index) -> dict[Any, str]:
    """EXIOBASE stressor -> gas ('CO2', 'CH4', ..., 'HFC', 'PFC'), biogenic CO2 and non-GHG left out."""
    found: dict[Any, str] = {}
    for key in stressors:
        name = key[0] if isinstance(key, tuple) else key
        match = _GAS_PREFIX.match(str(name))
        if match and not _BIOGENIC.search(str(name)):
            found[key] = match.group(1).upper()
    return found


def multipliers_from_iosystem(
    io: Any,
    *,
    gwp_set: str = "AR5",
    extension: str | None = None,
    gases: Mapping[Any, str] | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """kg CO2e per unit of money (EUR for EXIOBASE) for every region and product.

    `gases` maps stressor index keys (the whole key, or its first level) to a gas; by default
    the EXIOBASE stressor names are recognised. A stressor whose unit says CO2-eq is already
    weighted; other stressors are kg of gas times their GWP in `gwp_set`. Columns: region,
    product, kg_co2e, co2, ch4, n2o, other_ghg, currency, gwp_set, year.
    """
    gwp_set = normalise_gwp_set(gwp_set)
    ext = _pick_extension(io, extension)
    if getattr(ext, "M", None) is None:
        io.calc_all()
    multipliers: pd.DataFrame = ext.M
    if gases is None:
        chosen = stressor_gases(multipliers.index)
    else:
        chosen = {}
        for key in multipliers.index:
            first = key[0] if isinstance(key, tuple) else key
            gas = gases.get(key, gases.get(first))
            if gas is not None:
                chosen[key] = gas
    if not chosen:
        raise IngestError(f"no greenhouse-gas stressors in extension {getattr(ext, 'name', '?')!r}")
    currency, per_money = _money_unit(io)
    units = ext.unit["unit"] if getattr(ext, "unit", None) is not None else pd.Series(dtype=str)
    keys = list(chosen)
    weights = np.empty(len(keys))
    for i, key in enumerate(keys):
        unit = str(units.get(key, "kg"))
        weighted = "co2" in unit.lower().replace(" ", "")  # "kg CO2-eq": already CO2e
        weights[i] = (
            1.0 if weighted or chosen[key] in ("HFC", "PFC") else gwp100(chosen[key], gwp_set)
        )
        if not weighted and not unit.strip().lower().startswith("kg"):
            raise IngestError(f"stressor {key!r} is in {unit!r}; expected kg or kg CO2-eq")
    rows = multipliers.loc[keys].to_numpy(dtype="float64") * weights[:, None] / per_money
    gas_of = np.array([chosen[k] for k in keys])
    out = pd.DataFrame(
        {
            "region": multipliers.columns.get_level_values(0).astype(str),
            "product": multipliers.columns.get_level_values(1).astype(str),
            "kg_co2e": rows.sum(axis=0),
        }
    )
    for gas, field in GAS_FIELD.items():
        out[field] = rows[gas_of == gas].sum(axis=0)
    other = ~np.isin(gas_of, list(GAS_FIELD))
    out["other_ghg"] = rows[other].sum(axis=0)
    out["currency"] = currency
    out["gwp_set"] = gwp_set
    out["year"] = "" if year is None else str(year)
    return out
