"""One shape for a record's provenance, written by every path that computes a record (an import's
records, an edited record, a re-factored record, a companion line of an import) and read by
``emissions.replay``.

``ActivityRecord.provenance`` (version 2)::

    {
      "v": 2,
      "calculation": "<key>" | {...},   # the engine's calculation: a key into the import run's
                                        # detected["calculations"], or the calculation itself
      "money": {"fx": {"rate", "date", "from", "to", "source"} | null,
                "deflator": {"value", "index", "from_year", "to_year", "index_from",
                             "index_to", "source"} | null},        # spend rows only
      "region": "GB", "region_why": "the site's country",           # where known
      "scope2_market": {"basis", "kwh_per_unit", "fallback_kg_co2e_per_kwh", "instrument_id",
                        "instrument_kg_co2e_per_kwh", "covered_share", ...},  # Scope 2 energy
      "vintage_note" / "location_note": "...",                     # warnings, where any
      "location_source": "...",            # which generation factor location-based took, why
      "edited": true, "corrected": {"by", "at", "fields"},        # after an edit
      "factor_changes": [...]                                      # after each re-factoring
    }

The engine's calculation holds the factor (``id``, ``dataset``, ``version``, ``publisher_id``,
``kg_co2e_per_unit``, ``gwp_basis``), the conversion path (multiplier and each step with its
density or calorific value and that value's source), the GWP set and the engine's own
market-based factor. Records written before version 2 carry no ``"v"`` and the same keys where
they had them; ``read`` accepts both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emissions.factor_keys import is_library_key

VERSION = 2

# The per-row parts besides the calculation and money, in the order the import builds them.
ROW_PARTS = (
    "region",
    "region_why",
    "scope2_market",
    "vintage_note",
    "location_note",
    "location_source",
)


def build(
    *,
    calculation: str | Mapping[str, Any],
    money: Mapping[str, Any] | None = None,
    region: str | None = None,
    region_why: str | None = None,
    scope2_market: Mapping[str, Any] | None = None,
    **notes: Any,
) -> dict[str, Any]:
    """A record's provenance (the documented shape above). ``calculation``: the engine's
    calculation dict, or its key in the import run's calculations; ``money``: the FX rate and
    deflator the row used (``emissions.engine.calculate.money_of``); ``notes``: other keys kept
    as given (vintage_note, location_note, location_source, edited, factor_changes), empty ones dropped."""
    out: dict[str, Any] = {"v": VERSION, "calculation": calculation}
    if money:
        out["money"] = dict(money)
    if region:
        out["region"] = region
    if region_why:
        out["region_why"] = region_why
    if scope2_market:
        out["scope2_market"] = dict(scope2_market)
    out.update({k: v for k, v in notes.items() if v not in (None, "", [], {})})
    return out


def build_text(**parts: Any) -> str:
    """``build`` as the JSON text the import's COPY writes (keys sorted: one text per
    distinct combination, shared by its rows)."""
    return json.dumps(build(**parts), sort_keys=True)


@dataclass(frozen=True)
class Reading:
    """A stored provenance, read back (either version)."""

    version: int
    calculation: dict[str, Any] | None
    money: dict[str, Any] | None
    scope2_market: dict[str, Any] | None
    region: str | None
    region_why: str | None
    edited: bool
    factor_changes: list[dict[str, Any]]

    @property
    def factor(self) -> dict[str, Any]:
        return dict((self.calculation or {}).get("factor") or {})

    @property
    def conversion(self) -> dict[str, Any]:
        return dict((self.calculation or {}).get("conversion") or {})

    @property
    def gwp_set(self) -> str | None:
        return (self.calculation or {}).get("gwp_set")


def read(
    provenance: Mapping[str, Any] | None,
    calculations: Callable[[str], Mapping[str, Any] | None] = lambda key: None,
) -> Reading:
    """Read a stored provenance; ``calculations`` resolves an import's calculation key."""
    stored = dict(provenance or {})
    calc = stored.get("calculation")
    if isinstance(calc, str):
        found = calculations(calc)
        calc = dict(found) if isinstance(found, Mapping) else None
    elif not isinstance(calc, Mapping):
        calc = None
    money = stored.get("money")
    market = stored.get("scope2_market")
    return Reading(
        version=int(stored.get("v", 1)),
        calculation=dict(calc) if calc is not None else None,
        money=dict(money) if isinstance(money, Mapping) else None,
        scope2_market=dict(market) if isinstance(market, Mapping) else None,
        region=stored.get("region") or None,
        region_why=stored.get("region_why") or None,
        edited=bool(stored.get("edited")),
        factor_changes=list(stored.get("factor_changes") or []),
    )


def missing(reading: Reading) -> list[str]:
    """The documented fields a version-2 provenance lacks (empty when complete): the factor's
    id, dataset, value (and version and publisher's id for a library factor), the GWP set, the
    source of each density or calorific value, the FX rate with its date and source and the
    deflator with its index values where money was converted, the kWh behind a market-based
    Scope 2 figure, and why a region was taken."""
    calc = reading.calculation
    if calc is None:
        return ["calculation"]
    out = [] if calc.get("gwp_set") else ["calculation.gwp_set"]
    factor = reading.factor
    needed = ["id", "dataset", "kg_co2e_per_unit"]
    if is_library_key(str(factor.get("key", ""))):
        needed += ["version", "publisher_id"]
    out += [f"factor.{k}" for k in needed if factor.get(k) in (None, "")]
    for i, step in enumerate(reading.conversion.get("steps") or []):
        if step.get("via") != "unit conversion" and not step.get("source"):
            out.append(f"conversion.steps[{i}].source")
    method = calc.get("money") or {}
    stored = reading.money or {}
    if method and not stored:
        out.append("money")
    for part, keys in (("fx", ("rate", "date", "source")), ("deflator", _DEFLATOR_KEYS)):
        if stored and method.get(part):
            given = stored.get(part) or {}
            out += [f"money.{part}.{k}" for k in keys if given.get(k) in (None, "")]
    market = reading.scope2_market
    if market is not None:
        if market.get("kwh_per_unit") is None:
            out.append("scope2_market.kwh_per_unit")
        if market.get("covered_share") and market.get("instrument_kg_co2e_per_kwh") is None:
            out.append("scope2_market.instrument_kg_co2e_per_kwh")
    if reading.region and not reading.region_why:
        out.append("region_why")
    return out


_DEFLATOR_KEYS = ("index", "index_from", "index_to", "from_year", "to_year", "source")
