"""The engine's unit registry as the factor library needs it: does a unit parse, what dimension it
has, and how many canonical units one of it is (to compare factors per canonical unit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from emissions.engine.errors import EngineError
from emissions.engine.units import (
    canonical_unit,
    conversion_factor,
    parse_unit,
    unit_currency,
    unit_dimension,
)

# The architecture's canonical units, to compare factors per canonical unit.
CANONICAL_BY_DIMENSION = {"energy": "kWh", "mass": "kg", "volume": "L", "distance": "km"}


@dataclass(frozen=True)
class UnitInfo:
    """A parsed unit: the string to store, its dimension, and its size in the canonical unit.

    `per_canonical` is how many canonical units one `unit` is (1 tonne = 1000 kg), so a factor per
    `unit` divided by it is the factor per canonical unit. Money keeps its own currency
    (the canonical is the currency, the size its scale: kEUR -> 1000 EUR).
    """

    unit: str
    stored: str
    dimension: str
    canonical: str
    per_canonical: float


@cache
def unit_info(unit: str) -> UnitInfo | str:
    """UnitInfo for a unit string, or the engine's message when it does not parse."""
    try:
        parse_unit(unit)
        stored = canonical_unit(unit)
        dimension = unit_dimension(unit)
        money = unit_currency(unit)
        if money is not None:
            canonical, size = money
        elif dimension in CANONICAL_BY_DIMENSION:
            canonical = CANONICAL_BY_DIMENSION[dimension]
            size = conversion_factor(unit, canonical)
        else:
            canonical, size = stored, 1.0
    except EngineError as exc:
        return exc.message
    try:
        parse_unit(stored)
    except EngineError:
        # The registry's canonical spelling must parse back; if not, keep the spelling that did.
        stored = unit
    return UnitInfo(
        unit=unit, stored=stored, dimension=dimension, canonical=canonical, per_canonical=size
    )


def resolve_units(units: Iterable[str]) -> dict[str, UnitInfo | str]:
    """Resolve each distinct unit once."""
    return {unit: unit_info(unit) for unit in units}


def dimension_of(unit: str) -> str | None:
    """The dimension name of a unit, or None when it does not parse."""
    info = unit_info(unit)
    return info.dimension if isinstance(info, UnitInfo) else None
