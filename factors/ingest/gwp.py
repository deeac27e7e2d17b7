"""100-year GWPs for combining per-gas masses into kg CO2e at ingestion.

The values come from the engine's tables (`emissions.engine.gwp`, IPCC AR4/AR5/AR6, checked there
against EPA Emission Factors Hub 2025 table 11 for AR5), so ingestion and calculation agree.
"""

from __future__ import annotations

from emissions.engine import gwp as engine_gwp
from emissions.engine.errors import InputError
from factors.ingest.errors import MappingError


def gwp100(gas: str, gwp_set: str) -> float:
    """The 100-year GWP of `gas` (formula such as 'CH4' or a name such as 'Methane') in `gwp_set`."""
    try:
        return engine_gwp.gwp(gas, gwp_set)
    except InputError as exc:
        raise MappingError(f"GWP of {gas!r} in {gwp_set!r}: {exc.message}") from exc


def normalise_gwp_set(name: str) -> str:
    """'ar5', 'IPCC AR5' -> 'AR5'; MappingError for an unknown set."""
    try:
        return engine_gwp.normalise_gwp_set(name)
    except InputError as exc:
        raise MappingError(f"GWP set {name!r}: {exc.message}") from exc
