"""Activity quantities x emission factors -> kg CO2e, vectorised over whole frames.

``calculate(activities, factors, gwp_set="AR5")`` returns one result row per activity row (same
index). Unit conversions, fuel-property paths, exchange rates and deflators are worked out once
per distinct combination and broadcast to the rows; no Python loop runs per row.

Activities (input columns)
--------------------------
Required: ``quantity`` (number), ``unit`` (text; may be empty on spend rows that give
``currency``), ``factor_key`` (matches ``factors.factor_key``).
Optional:
- ``fuel``: DEFRA fuel-property name used for volume/mass/energy conversions (overrides the
  factor's ``fuel``).
- ``date``: transaction date; needed for spend in a currency other than the factor's, and for
  deflation to the factor's price year.
- ``currency``: currency of a spend row when ``unit`` is empty (or equal to it).
- ``is_correction``: True allows a negative quantity (a credit note, a reversal).
- ``tier``: "primary" (primary / supplier-specific), "secondary" (secondary activity-based) or
  "spend" (spend-based); inferred when absent (see ``tier`` below).
- ``scope`` (1, 2, 3, "Scope 2", "outside") and ``scope3_category`` (1-15 or a GHG Protocol
  category name): override the factor's.
- ``market_factor_key``: a supplier-specific or contractual factor (PPA, EAC, green tariff) for
  Scope 2 market-based; ``residual_factor_key``: the residual-mix factor to use instead.

Factors (input columns)
-----------------------
Required: ``factor_key`` (unique), ``unit`` (what the factor is per: "L", "kWh (Gross CV)",
"tonne.km", "USD"; or a ratio with a kg numerator: "kg CO2e / L", "kg CO2e/2022 USD"), and values:
- ``kg_co2e``: kg CO2e per unit (as published), and/or
- per-gas masses ``<gas>_kg``, ``<gas>_g``, ``<gas>_lb`` or ``<gas>_t`` per unit (``co2_kg``,
  ``ch4_g``, ``n2o_lb``, ``hfc_134a_kg``, ``ch4_fossil_g``, ...), combined with the chosen GWP set;
  and/or per-gas CO2e ``co2_kg_co2e``, ``ch4_kg_co2e``, ``n2o_kg_co2e``, ``other_kg_co2e`` on the
  factor's ``gwp_basis`` (re-weighted to the chosen set when ``gwp_basis`` is given).
Optional: ``fuel``, ``cv_basis`` ("net"/"gross"; also read from the unit), ``currency`` and
``price_year`` (spend factors; also read from "kg CO2e/2022 USD"), ``scope``, ``category``
(Scope 3 category 1-15), ``basis`` ("activity", "spend", "supplier_specific", "contractual",
"location", "residual_mix"), ``gwp_basis``, ``dataset``, ``dataset_version``, ``factor_id``,
``residual_mix_key`` (on a location-based grid factor: the residual-mix factor of its market),
``uncertainty_*`` and ``dq_*`` columns (used by ``uncertainty``).

How a factor's value is combined (chosen GWP set = G):
(a) per-gas masses present: total = sum(mass x GWP_G) + ``other_kg_co2e``; a published
    ``kg_co2e`` is kept in the provenance for comparison only;
(b) per-gas CO2e present with ``gwp_basis`` B: each gas x GWP_G/GWP_B (``other`` as published);
    total = ``kg_co2e`` + the re-weighting differences (or the sum of gases without a total);
(c) otherwise ``kg_co2e`` as published (its GWP basis is recorded).

Result (output columns)
-----------------------
``ok``; ``quantity`` (as given); ``kg_co2e`` (location-based for Scope 2); ``kg_co2e_market``
(market-based for Scope 2, equal to ``kg_co2e`` on other rows, so its sum is the market-based
total); ``market_basis`` ("contractual", "residual_mix" or "location" fallback, Scope 2 only);
``co2_kg_co2e``, ``ch4_kg_co2e``, ``n2o_kg_co2e``, ``other_kg_co2e`` (by gas, chosen set; NaN
where the factor has no split); ``co2_kg``, ``ch4_kg``, ``n2o_kg`` (gas masses where known);
``quantity_converted`` and ``converted_unit`` (the quantity in the factor's unit, after fuel
properties, FX and deflation); ``factor_kg_co2e_per_unit`` (the effective factor);
``factor_row`` (position in ``factors``, -1 if unknown); ``scope`` ("scope_1", "scope_2",
"scope_3", "outside_scopes" or NaN); ``scope3_category`` (1-15, nullable); ``tier``
("primary", "secondary", "spend"; inferred as spend for money units, primary for
supplier-specific or contractual factors, else secondary); ``fx_rate`` (factor currency per
activity currency) and ``fx_rate_date`` (the ECB date used); ``deflator`` and ``deflator_year``
(the index year used); ``provenance``; ``error`` (None, or ``EngineError.to_dict()``).
Rows with an error have NaN results and ``ok`` False, so NaN or inf never reach a total.

``provenance`` is JSON text, one per distinct way of calculating (a categorical column, cheap to
store): ``gwp_set``; ``factor`` (key, id, dataset, version, unit, kg_co2e_per_unit, gwp_basis,
how the value was combined); ``conversion`` (from, to, multiplier, path such as "L -> m3 via unit
conversion -> kg via density 833.519 kg/m3 -> kWh (gross CV) via gross CV 45.399 GJ/t", steps,
sources with sheet and row); ``money`` (factor currency, FX and deflation method, index, price
year) for spend; ``scope2_market`` (basis and the market factor with its own conversion) for
Scope 2. The day's FX rate and deflator are the row's columns; ``provenance_of(result, row)``
returns both merged, and ``explain`` says it in words with the row's numbers.

Public API
----------
- ``calculate(activities, factors, *, gwp_set="AR5", max_stale_days=7) -> DataFrame``.
- ``single_factor(value, unit, *, key="factor", fuel=None, **columns) -> DataFrame``: a one-row
  factors frame from "2.51279 kg CO2e / L"-style input (the CLI's ``--factor-value``).
- ``conversion_path(from_unit, to_unit, *, fuel=None, from_cv=None, to_cv=None) ->
  ConversionPath`` (``multiplier``, ``steps``, ``text``); raises EngineError.
- ``errors_of(result) -> list[dict]``: ``{"row": index label, **error}`` per failed row.
- ``money_of(result) -> Series``: per row, the FX rate (date, source) and deflator (index values)
  used, JSON text to store with the result; ``replay(calculation, quantity, money) -> dict``:
  the result recomputed from stored provenance only.
- ``assumptions_of(result) -> list[dict]``: ``{"code", "count", "text"}`` per assumption made
  (conversion notes, the AR6 methane value used), with the number of rows it concerns.
- Activities may carry ``region`` (ISO alpha-2): a volume of a fuel meeting an energy factor
  uses that region's published heat content where one is shipped (``fuels``), else DEFRA's
  (said in the provenance); "gal" is read by it (US gallon; imperial for GB/IE) or refused.
  Without a ``region`` column "gal" stays pint's US gallon.
- ``explain(result, row) -> str``: the calculation of one row in words, with its numbers.
- ``provenance_of(result, row) -> dict``: the row's provenance JSON plus its own numbers.
- ``summarise(result) -> dict``: totals (location- and market-based), by scope, Scope 3 by
  category, by gas, Scope 2 market basis, data-quality shares.
- ``data_quality_shares(result) -> dict``: shares of emissions by tier, overall and in Scope 3,
  including ``scope3_primary_share`` ("Scope 3 share computed from primary data", ESRS E1).
- ``normalise_scope``, ``normalise_scope3_category``, ``normalise_tier``: value normalisers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import fx, units
from .errors import (
    CurrencyError,
    DimensionError,
    EngineError,
    FactorError,
    InputError,
    QuantityError,
)
from .fuels import (
    DEFRA_REGIONS,
    FuelProperties,
    RegionalHeatContent,
    fuel_origin,
    fuel_property,
    regional_heat_content,
)
from .gwp import GWP_SETS, gas_id, normalise_gwp_set

GAS_GROUPS = ("co2", "ch4", "n2o", "other")
_MASS_SCALE = {"kg": 1.0, "g": 1e-3, "lb": 0.45359237, "t": 1e3}
_GROUP_OF_GAS = {"CO2": "co2", "CH4": "ch4", "CH4_fossil": "ch4", "N2O": "n2o"}

SCOPES = ("scope_1", "scope_2", "scope_3", "outside_scopes")
TIERS = ("primary", "secondary", "spend")
MARKET_BASES = ("contractual", "residual_mix", "location")
BASES = ("activity", "spend", "supplier_specific", "contractual", "location", "residual_mix")

# GHG Protocol Corporate Value Chain (Scope 3) Standard, categories 1-15.
SCOPE3_CATEGORIES: dict[int, str] = {
    1: "Purchased goods and services",
    2: "Capital goods",
    3: "Fuel- and energy-related activities",
    4: "Upstream transportation and distribution",
    5: "Waste generated in operations",
    6: "Business travel",
    7: "Employee commuting",
    8: "Upstream leased assets",
    9: "Downstream transportation and distribution",
    10: "Processing of sold products",
    11: "Use of sold products",
    12: "End-of-life treatment of sold products",
    13: "Downstream leased assets",
    14: "Franchises",
    15: "Investments",
}


# --- Normalisers of small vocabularies ------------------------------------------------------


def _squash(value: Any) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(value).lower()).strip()


def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or value is pd.NA
        or (isinstance(value, str) and not value.strip())
    )


def normalise_scope(value: Any) -> str | None:
    """ "scope_1", "scope_2", "scope_3", "outside_scopes", or None when empty; InputError otherwise."""
    if _missing(value):
        return None
    text = _squash(value)
    if text in {"1", "2", "3", "1 0", "2 0", "3 0"}:
        return f"scope_{text[0]}"
    match = re.fullmatch(r"(?:ghg )?scope ?([123])(?: .*)?", text)
    if match:
        return f"scope_{match.group(1)}"
    if text in {"outside", "outside of scopes", "outside scopes", "outside of scope", "biogenic"}:
        return "outside_scopes"
    raise InputError(
        f"Unknown scope {value!r}.",
        value=value,
        expected="1, 2, 3 (or 'Scope 1'...) or 'outside of scopes'",
        code="scope",
    )


_CATEGORY_NAMES = {_squash(name): number for number, name in SCOPE3_CATEGORIES.items()}
_CATEGORY_NAMES.update(
    {
        "purchased goods": 1,
        "fuel and energy related activities": 3,
        "upstream transportation": 4,
        "waste": 5,
        "waste generated": 5,
        "commuting": 7,
        "downstream transportation": 9,
        "end of life treatment of sold products": 12,
    }
)


def normalise_scope3_category(value: Any) -> int | None:
    """GHG Protocol Scope 3 category 1-15 from 6, "6", "Category 6", "Cat. 6", "3.6" or
    "Business travel"; None when empty; InputError otherwise."""
    if _missing(value):
        return None
    if isinstance(value, int | np.integer | float | np.floating) and float(value).is_integer():
        number = int(value)
    else:
        text = _squash(value)
        match = re.fullmatch(r"(?:scope 3 )?(?:category|cat)? ?(?:3 )?(\d{1,2})(?: .*)?", text)
        number = int(match.group(1)) if match else _CATEGORY_NAMES.get(text, -1)
    if 1 <= number <= 15:
        return number
    raise InputError(
        f"Unknown Scope 3 category {value!r}.",
        value=value,
        expected="a GHG Protocol Scope 3 category number 1-15 or its name",
        suggestion="e.g. 1 (Purchased goods and services) or 6 (Business travel).",
        code="scope3_category",
    )


_TIER_NAMES = {
    "primary": "primary",
    "primary data": "primary",
    "supplier specific": "primary",
    "supplier": "primary",
    "primary supplier specific": "primary",
    "measured": "primary",
    "secondary": "secondary",
    "secondary data": "secondary",
    "activity based": "secondary",
    "average data": "secondary",
    "secondary activity based": "secondary",
    "average": "secondary",
    "spend": "spend",
    "spend based": "spend",
    "eeio": "spend",
}


def normalise_tier(value: Any) -> str | None:
    """ "primary", "secondary" or "spend" (with common synonyms); None when empty."""
    if _missing(value):
        return None
    found = _TIER_NAMES.get(_squash(value))
    if found:
        return found
    raise InputError(
        f"Unknown data-quality tier {value!r}.",
        value=value,
        expected="primary (supplier-specific), secondary (activity-based) or spend (spend-based)",
        code="tier",
    )


_BASIS_NAMES = {
    "activity": "activity",
    "activity based": "activity",
    "average": "activity",
    "spend": "spend",
    "spend based": "spend",
    "supplier specific": "supplier_specific",
    "supplier": "supplier_specific",
    "product specific": "supplier_specific",
    "contractual": "contractual",
    "market": "contractual",
    "market based": "contractual",
    "location": "location",
    "location based": "location",
    "grid average": "location",
    "residual mix": "residual_mix",
    "residual": "residual_mix",
}


def _normalise_basis(value: Any) -> str:
    if _missing(value):
        return "activity"
    found = _BASIS_NAMES.get(_squash(value))
    if found:
        return found
    raise InputError(
        f"Unknown factor basis {value!r}.",
        value=value,
        expected=", ".join(BASES),
        code="factor_basis",
    )


def _normalise_cv(value: Any) -> str | None:
    if _missing(value):
        return None
    text = _squash(value)
    if text in {"net", "net cv", "ncv", "lhv", "lower heating value"}:
        return "net"
    if text in {"gross", "gross cv", "gcv", "hhv", "higher heating value"}:
        return "gross"
    raise InputError(
        f"Unknown calorific-value basis {value!r}.",
        value=value,
        expected="net (NCV, LHV) or gross (GCV, HHV)",
        code="cv_basis",
    )


def _truthy(value: Any) -> bool:
    if _missing(value):
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return bool(value)
    return _squash(value) in {"1", "true", "yes", "y", "x", "correction", "credit", "reversal"}


# --- Conversion paths -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One conversion step: multiply by ``multiplier`` to go to ``to_unit``."""

    to_unit: str
    multiplier: float
    via: str
    source: str | None = None


@dataclass(frozen=True)
class ConversionPath:
    """How a quantity in one unit becomes a quantity in a factor's unit."""

    from_unit: str
    to_unit: str
    multiplier: float
    steps: tuple[Step, ...] = ()
    kind: str = "physical"  # or "money": exchange rates and deflation follow per row
    from_currency: str | None = None
    to_currency: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        """E.g. "L -> kg via density 833.519 kg/m3 -> kWh via gross CV 45.399 GJ/t"."""
        if not self.steps:
            return f"{self.from_unit} (no conversion)"
        parts = [_show(self.from_unit)]
        parts.extend(f"-> {_show(s.to_unit)} via {s.via}" for s in self.steps)
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        sources = sorted({s.source for s in self.steps if s.source})
        return {
            "from": self.from_unit,
            "to": self.to_unit,
            "multiplier": self.multiplier,
            "path": self.text,
            "steps": [
                {"to": s.to_unit, "multiplier": s.multiplier, "via": s.via, "source": s.source}
                for s in self.steps
            ],
            "sources": sources,
            "notes": list(self.notes),
        }


_FUEL_DIMS = {"volume", "mass", "energy"}
_BASE_OF = {"volume": "m ** 3", "mass": "kg", "energy": "kWh"}


def _fmt(x: float) -> str:
    return f"{x:,.6g}"


def _show(unit: str) -> str:
    """A unit as people write it: "m ** 3" -> "m3", "tonne * km" -> "tonne.km"."""
    return re.sub(r"\s*\*\*\s*(\d)", r"\1", unit).replace(" * ", ".").replace("_", " ")


def _unit_step(source: str, target: str) -> list[Step]:
    if units.parse_unit(source) == units.parse_unit(target):
        return []
    return [
        Step(
            units.canonical_unit(target), units.conversion_factor(source, target), "unit conversion"
        )
    ]


def _needs_fuel_error(source: str, target: str, sdim: str, tdim: str) -> DimensionError:
    prop = "calorific value" if "energy" in {sdim, tdim} else "density"
    return DimensionError(
        f"{source} ({sdim}) given but the factor is per {target} ({tdim}): the conversion needs "
        f"a fuel's {prop}.",
        value=source,
        expected=f"a quantity in {tdim}, or a fuel so the engine can use its {prop}",
        suggestion=f"Add the fuel (e.g. 'Diesel (average biofuel blend)') so its {prop} from the "
        f"DEFRA 2024 fuel properties can be used, or choose a factor per unit of {sdim}.",
        code="dimension_needs_fuel",
    )


def _regional_path(
    source: str,
    target: str,
    sdim: str,
    heat: RegionalHeatContent,
    from_cv: str | None,
    to_cv: str | None,
) -> ConversionPath:
    """Volume <-> energy through a region's own heat content per scf (US natural gas: EPA)."""
    props = fuel_property(heat.fuel)
    steps: list[Step] = []
    via = f"{heat.region} heat content {_fmt(heat.btu_per_scf)} Btu/scf ({heat.cv_basis} CV)"
    if sdim == "volume":
        energy_cv = to_cv or heat.cv_basis
        steps += _unit_step(source, "scf")
        steps.append(Step(f"MMBtu ({heat.cv_basis} CV)", heat.btu_per_scf / 1e6, via, heat.source))
        if energy_cv != heat.cv_basis:
            steps.append(_cv_ratio_step(f"MMBtu ({energy_cv} CV)", props, energy_cv, heat.cv_basis))
        steps += _unit_step("MMBtu", target)
    else:
        energy_cv = from_cv or heat.cv_basis
        steps += _unit_step(source, "MMBtu")
        if energy_cv != heat.cv_basis:
            steps.append(
                _cv_ratio_step(f"MMBtu ({heat.cv_basis} CV)", props, heat.cv_basis, energy_cv)
            )
        steps.append(Step("scf", 1e6 / heat.btu_per_scf, via, heat.source))
        steps += _unit_step("scf", target)
    notes = [f"{heat.fuel} properties for region {heat.region}: {heat.source}"]
    if (to_cv if sdim == "volume" else from_cv) is None:
        notes.append(
            f"energy taken on the {heat.cv_basis} CV basis of the {heat.region} heat content"
        )
    multiplier = float(np.prod([s.multiplier for s in steps])) if steps else 1.0
    return ConversionPath(source, target, multiplier, tuple(steps), notes=tuple(notes))


def _cv_ratio_step(to_unit: str, props: FuelProperties, to_cv: str, from_cv: str) -> Step:
    return Step(
        to_unit,
        props.cv_gj_per_t(to_cv) / props.cv_gj_per_t(from_cv),
        f"{to_cv}/{from_cv} CV ratio {_fmt(props.cv_gj_per_t(to_cv))}/"
        f"{_fmt(props.cv_gj_per_t(from_cv))} GJ/t",
        props.source,
    )


@functools.lru_cache(maxsize=65536)
def _path_cached(
    source: str,
    target: str,
    fuel: str | None,
    from_cv: str | None,
    to_cv: str | None,
    region: str | None = None,
) -> ConversionPath:
    src_money, dst_money = units.unit_currency(source), units.unit_currency(target)
    if src_money or dst_money:
        if not (src_money and dst_money):
            sdim, tdim = units.unit_dimension(source), units.unit_dimension(target)
            raise DimensionError(
                f"Cannot convert {source} ({sdim}) to {target} ({tdim}).",
                value=source,
                expected=f"an amount of money in {dst_money[0]}"
                if dst_money
                else f"a unit of {tdim}",
                suggestion="Use a spend-based factor for amounts of money, or an activity-based "
                "factor for physical quantities.",
                code="dimension_mismatch",
            )
        scale = src_money[1] / dst_money[1]
        money_steps: tuple[Step, ...] = ()
        if scale != 1:
            money_steps = (Step(units.canonical_unit(target), scale, "unit conversion"),)
        return ConversionPath(
            source, target, scale, money_steps, "money", src_money[0], dst_money[0]
        )
    sdim, tdim = units.unit_dimension(source), units.unit_dimension(target)
    notes: list[str] = []
    steps: list[Step]
    if (
        sdim == tdim
        or units.parse_unit(source).dimensionality == units.parse_unit(target).dimensionality
    ):
        steps = _unit_step(source, target)
        if sdim == "energy" and from_cv and to_cv and from_cv != to_cv:
            if not fuel:
                raise DimensionError(
                    f"The quantity is in kWh on a {from_cv} CV basis but the factor is per "
                    f"kWh on a {to_cv} CV basis: the conversion needs a fuel's calorific values.",
                    value=f"{source} ({from_cv} CV)",
                    expected=f"energy on a {to_cv} CV basis, or a fuel",
                    suggestion="Add the fuel so its net and gross calorific values can be used.",
                    code="dimension_needs_fuel",
                )
            props = fuel_property(fuel)
            steps.append(_cv_ratio_step(f"{target} ({to_cv} CV)", props, to_cv, from_cv))
            notes.append(f"{from_cv} CV quantity converted to the factor's {to_cv} CV basis")
        elif sdim == "energy" and to_cv and not from_cv:
            notes.append(f"quantity taken on the factor's {to_cv} CV basis")
        multiplier = float(np.prod([s.multiplier for s in steps])) if steps else 1.0
        return ConversionPath(source, target, multiplier, tuple(steps), notes=tuple(notes))
    if sdim not in _FUEL_DIMS or tdim not in _FUEL_DIMS:
        units.conversion_factor(source, target)  # raises the DimensionError that explains why
        raise AssertionError(f"{source} and {target} converted although their dimensions differ")
    if not fuel:
        raise _needs_fuel_error(source, target, sdim, tdim)
    props = fuel_property(fuel)
    if {sdim, tdim} == {"volume", "energy"}:
        heat = regional_heat_content(props.name, region)
        if heat is not None:
            return _regional_path(source, target, sdim, heat, from_cv, to_cv)
    if region is not None and region.upper() not in DEFRA_REGIONS:
        notes.append(
            f"{props.name} properties from DEFRA (UK): "
            + (f"none shipped for region {region.upper()}" if region else "the row has no region")
        )
    steps = []
    # Source -> kg.
    if sdim == "volume":
        if not np.isfinite(props.density_kg_per_m3):
            raise _missing_property(props.name, "density")
        steps += _unit_step(source, "m ** 3")
        steps.append(
            Step(
                "kg",
                props.density_kg_per_m3,
                f"density {_fmt(props.density_kg_per_m3)} kg/m3",
                props.source,
            )
        )
    elif sdim == "energy":
        if not from_cv:
            raise _cv_unknown_error(source, "quantity")
        cv = props.cv_kwh_per_kg(from_cv)
        if not np.isfinite(cv) or cv <= 0:
            raise _missing_property(props.name, f"{from_cv} calorific value")
        steps += _unit_step(source, "kWh")
        steps.append(
            Step(
                "kg",
                1.0 / cv,
                f"{from_cv} CV {_fmt(props.cv_gj_per_t(from_cv))} GJ/t",
                props.source,
            )
        )
    else:
        steps += _unit_step(source, "kg")
    # kg -> target.
    if tdim == "volume":
        if not np.isfinite(props.density_kg_per_m3):
            raise _missing_property(props.name, "density")
        steps.append(
            Step(
                "m ** 3",
                1.0 / props.density_kg_per_m3,
                f"density {_fmt(props.density_kg_per_m3)} kg/m3",
                props.source,
            )
        )
        steps += _unit_step("m ** 3", target)
    elif tdim == "energy":
        if not to_cv:
            raise _cv_unknown_error(target, "factor")
        cv = props.cv_kwh_per_kg(to_cv)
        if not np.isfinite(cv) or cv <= 0:
            raise _missing_property(props.name, f"{to_cv} calorific value")
        steps.append(
            Step(
                f"kWh ({to_cv} CV)",
                cv,
                f"{to_cv} CV {_fmt(props.cv_gj_per_t(to_cv))} GJ/t",
                props.source,
            )
        )
        steps += _unit_step("kWh", target)
    else:
        steps += _unit_step("kg", target)
    multiplier = float(np.prod([s.multiplier for s in steps]))
    return ConversionPath(source, target, multiplier, tuple(steps), notes=tuple(notes))


def _missing_property(fuel: str, prop: str) -> DimensionError:
    return DimensionError(
        f"DEFRA 2024 gives no {prop} for {fuel}.",
        value=fuel,
        expected=f"a fuel with a published {prop}",
        suggestion="Report the quantity in the factor's unit, or choose a factor per unit you have.",
        code="fuel_property_missing",
    )


def _cv_unknown_error(unit: str, who: str) -> DimensionError:
    return DimensionError(
        f"The {who}'s energy unit {unit} does not say whether it is on a net or gross "
        "calorific-value basis, which changes the result by 5-10%.",
        value=unit,
        expected=f"{unit} (Net CV) or {unit} (Gross CV)",
        suggestion="Write the basis with the unit, e.g. 'kWh (Gross CV)' (UK gas bills are gross).",
        code="cv_basis_unknown",
    )


def conversion_path(
    from_unit: Any,
    to_unit: Any,
    *,
    fuel: str | None = None,
    from_cv: str | None = None,
    to_cv: str | None = None,
    region: str | None = None,
) -> ConversionPath:
    """How to turn a quantity in ``from_unit`` into ``to_unit``, with fuel properties if needed.

    ``from_cv``/``to_cv`` are the calorific-value bases ("net"/"gross") of energy units; they
    are also read from the unit text ("kWh (Gross CV)"). ``region`` (ISO alpha-2) is where the
    quantity was measured: a volume of a fuel meeting an energy unit uses that region's published
    heat content where one is shipped (US natural gas: EPA's 1,026 Btu/scf), else DEFRA's UK
    properties (said in ``notes`` for a region other than GB). Raises UnitError, DimensionError
    or InputError (unknown fuel).
    """
    source, target = units.canonical_unit(from_unit), units.canonical_unit(to_unit)
    from_cv = from_cv or units.parse_cv_basis(from_unit)
    to_cv = to_cv or units.parse_cv_basis(to_unit)
    return _path_cached(source, target, fuel or None, from_cv, to_cv, _region_code(region))


def _region_code(region: Any) -> str | None:
    if _missing(region):
        return None
    text = str(region).strip().upper()
    return text or None


# --- Factor table ---------------------------------------------------------------------------


@dataclass
class _FactorTable:
    keys: pd.Index
    per_unit: np.ndarray  # canonical unit str or None
    cv: np.ndarray  # "net"/"gross"/None
    fuel: np.ndarray  # str or None
    currency: np.ndarray  # str or None
    currency_code: np.ndarray  # position in fx.ecb_currencies(), -1 when not money
    price_year: np.ndarray  # float (NaN when none)
    total: np.ndarray  # kg CO2e per unit, chosen GWP set
    group_co2e: dict[str, np.ndarray]
    group_mass: dict[str, np.ndarray]
    scope_code: np.ndarray  # index into SCOPES, -1 when none
    category: np.ndarray  # float (NaN when none)
    basis: np.ndarray  # str
    residual_idx: np.ndarray  # position of the factor's residual-mix factor, -1 when none
    error: np.ndarray  # dict or None
    has_error: np.ndarray  # bool
    provenance: list[dict[str, Any]]
    conv_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conv: list[tuple[Any, Any, Any]] = field(default_factory=list)
    unit_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unit_categories: list[str] = field(default_factory=list)


class _Errors:
    """Row errors: the first error set on a row (the most fundamental one) wins.

    The payload array is allocated on the first error, so clean data costs one bool per row.
    """

    def __init__(self, n: int) -> None:
        self.mask = np.zeros(n, dtype=bool)
        self._payload: np.ndarray | None = None

    @property
    def payload(self) -> np.ndarray:
        if self._payload is None:
            self._payload = np.full(len(self.mask), None, dtype=object)
        return self._payload

    def set(self, where: np.ndarray, payload: Any) -> None:
        """Set one payload (dict) or per-row payloads (object array of length n) where ``where``."""
        target = where & ~self.mask
        if not target.any():
            return
        self.payload[target] = payload[target] if isinstance(payload, np.ndarray) else payload
        self.mask |= target

    def set_codes(self, codes: np.ndarray, by_code: np.ndarray) -> None:
        """Set per-code payloads (None = no error) on the rows carrying each code."""
        has = np.array([p is not None for p in by_code], dtype=bool)
        if not has.any():
            return
        where = has[codes] & ~self.mask
        if where.any():
            self.payload[where] = by_code[codes[where]]
            self.mask |= where

    def merge(self, other: _Errors, rows: np.ndarray | None = None) -> None:
        """Take ``other``'s errors; ``rows`` maps its rows to ours when it covers a subset."""
        if not other.mask.any():
            return
        local = np.flatnonzero(other.mask)
        positions = local if rows is None else rows[local]
        keep = ~self.mask[positions]
        if keep.any():
            self.payload[positions[keep]] = other.payload[local[keep]]
            self.mask[positions[keep]] = True


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=object) if name in frame.columns else None


def _distinct(values: Any, fn: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``fn`` once per distinct value (and once to None for missing values).

    Returns (codes per row, results per code, error dict or None per code); missing values carry
    the last code.
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    k = len(uniques)
    results = np.full(k + 1, None, dtype=object)
    errors = np.full(k + 1, None, dtype=object)
    for i, raw in enumerate([*list(uniques), None]):
        try:
            results[i] = fn(raw)
        except EngineError as exc:
            errors[i] = exc.to_dict()
    codes = np.asarray(codes, dtype=np.int64)
    return np.where(codes < 0, k, codes), results, errors


def _per_distinct(
    values: np.ndarray | None, n: int, fn: Callable[[Any], Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row results and errors of ``fn`` (computed once per distinct value)."""
    if values is None:
        return np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    codes, results, errors = _distinct(values, fn)
    return results[codes], errors[codes]


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


_MASS_COLUMN = re.compile(r"^(?P<gas>[a-z0-9_]+?)_(?P<unit>kg|g|lb|t)$")
_CO2E_COLUMN = re.compile(r"^(?P<gas>[a-z0-9_]+?)_kg_co2e$")


def _gas_columns(
    columns: Sequence[Hashable],
) -> tuple[list[tuple[str, str, float]], list[tuple[str, str]]]:
    """(mass columns as (name, gas, scale to kg), CO2e columns as (name, gas or "other"))."""
    mass: list[tuple[str, str, float]] = []
    co2e: list[tuple[str, str]] = []
    for column in columns:
        name = str(column)
        if name == "kg_co2e" or name.startswith(("uncertainty_", "dq_")):
            continue
        match = _CO2E_COLUMN.match(name)
        if match:
            gas = match.group("gas")
            if gas == "other":
                co2e.append((name, "other"))
            else:
                # Columns whose prefix is not a gas are not value columns: ignore them.
                with contextlib.suppress(InputError):
                    co2e.append((name, gas_id(gas)))
            continue
        match = _MASS_COLUMN.match(name)
        if match:
            with contextlib.suppress(InputError):
                mass.append((name, gas_id(match.group("gas")), _MASS_SCALE[match.group("unit")]))
    return mass, co2e


def _first_error(errors: np.ndarray, *more: np.ndarray) -> np.ndarray:
    out = errors.copy()
    for other in more:
        empty = np.array([e is None for e in out], dtype=bool)
        out[empty] = other[empty]
    return out


def _prepare_factors(factors: pd.DataFrame, gwp_set: str) -> _FactorTable:
    """Everything the calculation needs from the factors frame, one entry per factor."""
    for required in ("factor_key", "unit"):
        if required not in factors.columns:
            raise FactorError(
                f"The factors frame has no {required!r} column.",
                value=list(map(str, factors.columns)),
                expected="columns factor_key, unit and kg_co2e (or per-gas columns)",
                code="factors_frame",
            )
    n = len(factors)
    keys = pd.Index(factors["factor_key"].astype(str).to_numpy(dtype=object), dtype=object)
    key_text = keys.to_numpy(dtype=object)
    if keys.has_duplicates:
        dupes = sorted(set(keys[keys.duplicated()]))[:5]
        raise FactorError(
            f"Duplicate factor keys: {', '.join(dupes)}.",
            value=dupes,
            expected="one row per factor_key",
            code="factors_frame",
        )
    mass_cols, co2e_cols = _gas_columns(list(factors.columns))
    if "kg_co2e" not in factors.columns and not mass_cols and not co2e_cols:
        raise FactorError(
            "The factors frame has no value column.",
            value=list(map(str, factors.columns)),
            expected="kg_co2e, and/or per-gas columns such as co2_kg, ch4_g, n2o_kg_co2e",
            code="factors_frame",
        )
    unit_text = factors["unit"].to_numpy(dtype=object)
    parsed, unit_err = _per_distinct(unit_text, n, units.parse_factor_unit)
    per_unit = np.full(n, None, dtype=object)
    cv = np.full(n, None, dtype=object)
    currency = np.full(n, None, dtype=object)
    price_year = np.full(n, np.nan)
    for i, fu in enumerate(parsed):
        if fu is None:
            continue
        if fu.scale_to_kg != 1.0:
            unit_err[i] = FactorError(
                f"Factor values must be in kg per unit; the unit {unit_text[i]!r} emits another mass.",
                value=unit_text[i],
                expected="a unit such as 'kg CO2e / L' (or per-gas columns like co2_lb, ch4_g)",
                suggestion="Convert the value to kg, or put it in a per-gas column with its unit.",
                code="factor_unit",
            ).to_dict()
            continue
        per_unit[i] = fu.per_unit
        cv[i] = fu.cv_basis
        price_year[i] = np.nan if fu.price_year is None else fu.price_year
        money = units.unit_currency(fu.per_unit)
        currency[i] = money[0] if money else None

    cv_col, cv_err = _per_distinct(_column(factors, "cv_basis"), n, _normalise_cv)
    conflict_err = np.full(n, None, dtype=object)
    for j in np.flatnonzero([c is not None for c in cv_col]):
        if cv[j] is not None and cv[j] != cv_col[j]:
            conflict_err[j] = FactorError(
                f"The factor unit says {cv[j]} CV but its cv_basis column says {cv_col[j]}.",
                value=cv_col[j],
                expected=str(cv[j]),
                code="factor_cv_basis",
            ).to_dict()
        cv[j] = cv_col[j]
    cur_col, cur_err = _per_distinct(
        _column(factors, "currency"), n, lambda v: None if _missing(v) else fx.parse_currency(v)
    )
    for j in np.flatnonzero([c is not None for c in cur_col]):
        if currency[j] is not None and currency[j] != cur_col[j]:
            conflict_err[j] = CurrencyError(
                f"The factor's unit is per {currency[j]} but its currency column says {cur_col[j]}.",
                value=cur_col[j],
                expected=str(currency[j]),
                code="factor_currency",
            ).to_dict()
    if "price_year" in factors.columns:
        years = _numeric(factors, "price_year")
        price_year = np.where(np.isfinite(years), years, price_year)
    fuel, _ = _per_distinct(
        _column(factors, "fuel"), n, lambda v: None if _missing(v) else str(v).strip()
    )
    scope, scope_err = _per_distinct(_column(factors, "scope"), n, normalise_scope)
    scope_code = np.array([SCOPES.index(s) if s else -1 for s in scope], dtype=np.int64)
    cat, cat_err = _per_distinct(_column(factors, "category"), n, normalise_scope3_category)
    category = np.array([np.nan if c is None else float(c) for c in cat], dtype=np.float64)
    basis, basis_err = _per_distinct(_column(factors, "basis"), n, _normalise_basis)
    basis = np.array(["activity" if b is None else b for b in basis], dtype=object)
    residual_key, _ = _per_distinct(
        _column(factors, "residual_mix_key"), n, lambda v: None if _missing(v) else str(v)
    )

    total, group_co2e, group_mass, value_notes = _combine_gases(
        factors, gwp_set, mass_cols, co2e_cols
    )
    value_columns = (
        (["kg_co2e"] if "kg_co2e" in factors.columns else [])
        + [c for c, *_ in mass_cols]
        + [c for c, _ in co2e_cols]
    )
    raw = factors[value_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_value = ~np.isfinite(total) | np.isinf(raw).any(axis=1)
    value_err = np.full(n, None, dtype=object)
    for j in np.flatnonzero(bad_value):
        value_err[j] = FactorError(
            f"Factor {key_text[j]!r} has no finite value.",
            value=key_text[j],
            expected="a number in kg_co2e or in the per-gas columns",
            suggestion="A blank factor means 'not applicable' in its source: pick another factor.",
            code="factor_value",
        ).to_dict()
    error = _first_error(
        unit_err, conflict_err, cv_err, cur_err, scope_err, cat_err, basis_err, value_err
    )

    ids, datasets = _column(factors, "factor_id"), _column(factors, "dataset")
    versions, gwp_basis = _column(factors, "dataset_version"), _column(factors, "gwp_basis")
    publisher_ids = _column(factors, "publisher_id")

    def text(values: np.ndarray | None, i: int) -> str | None:
        return None if values is None or _missing(values[i]) else str(values[i])

    provenance = [
        {
            "key": key_text[i],
            "id": text(ids, i) or key_text[i],
            "dataset": text(datasets, i),
            "version": text(versions, i),
            "publisher_id": text(publisher_ids, i),
            "unit": text(unit_text, i),
            "kg_co2e_per_unit": float(total[i]) if np.isfinite(total[i]) else None,
            "gwp_basis": text(gwp_basis, i),
            "value": value_notes[i],
        }
        for i in range(n)
    ]
    conv_codes, conv_uniques = pd.factorize(
        pd.Series([f"{per_unit[i]}\x1f{cv[i]}\x1f{fuel[i]}" for i in range(n)], dtype=object)
    )
    conv = [None] * len(conv_uniques)
    for i, code in enumerate(conv_codes):
        if conv[code] is None:
            conv[code] = (per_unit[i], cv[i], fuel[i])
    unit_codes, unit_uniques = pd.factorize(pd.Series(per_unit, dtype=object), use_na_sentinel=True)
    return _FactorTable(
        keys=keys,
        per_unit=per_unit,
        cv=cv,
        fuel=fuel,
        currency=currency,
        price_year=price_year,
        currency_code=np.array(
            [fx.ecb_currencies().index(c) if c else -1 for c in currency], dtype=np.int64
        ),
        total=total,
        group_co2e=group_co2e,
        group_mass=group_mass,
        scope_code=scope_code,
        category=category,
        basis=basis,
        error=error,
        residual_idx=keys.get_indexer(pd.Index(residual_key, dtype=object)).astype(np.int64),
        has_error=np.array([e is not None for e in error], dtype=bool),
        provenance=provenance,
        conv_code=np.asarray(conv_codes, dtype=np.int64),
        conv=conv,  # type: ignore[arg-type]
        unit_code=np.asarray(unit_codes, dtype=np.int64),
        unit_categories=[str(u) for u in unit_uniques],
    )


def _ch4_origins(factors: pd.DataFrame) -> np.ndarray:
    """ "fossil", "biogenic" or None per factor: the ``ch4_origin`` column where given, else the
    origin of the factor's fuel (DEFRA fuel names; ``fuels.fuel_origin``)."""
    n = len(factors)
    given, _ = _per_distinct(_column(factors, "ch4_origin"), n, _normalise_origin)
    fuel, _ = _per_distinct(
        _column(factors, "fuel"), n, lambda v: None if _missing(v) else fuel_origin(str(v))
    )
    return np.where(pd.notna(given), given, fuel)


def _normalise_origin(value: Any) -> str | None:
    if _missing(value):
        return None
    text = _squash(value)
    if text in {"fossil", "fossil fuel", "fossil ch4"}:
        return "fossil"
    if text in {"biogenic", "non fossil", "nonfossil", "bio", "biogenic ch4"}:
        return "biogenic"
    raise InputError(
        f"Unknown methane origin {value!r}.",
        value=value,
        expected="fossil or biogenic",
        code="ch4_origin",
    )


def _ch4_fossil(factors: pd.DataFrame) -> np.ndarray:
    return np.asarray(_ch4_origins(factors) == "fossil", dtype=bool)


def _ch4_origin_known(factors: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.notna(_ch4_origins(factors)), dtype=bool)


def _combine_gases(
    factors: pd.DataFrame,
    gwp_set: str,
    mass_cols: list[tuple[str, str, float]],
    co2e_cols: list[tuple[str, str]],
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Effective kg CO2e per unit (chosen set), CO2e and mass by gas group, and a note per factor."""
    n = len(factors)
    published = _numeric(factors, "kg_co2e") if "kg_co2e" in factors.columns else np.full(n, np.nan)

    def accumulate(target: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(values), target, np.nan_to_num(target) + values)

    group_mass = {g: np.full(n, np.nan) for g in ("co2", "ch4", "n2o")}
    from_mass = {g: np.full(n, np.nan) for g in GAS_GROUPS}
    fossil = _ch4_fossil(factors)

    def gwp_of(set_name: str | None, gas: str) -> np.ndarray:
        """GWP of ``gas`` in a set per factor: AR6 methane is 29.8 for fossil sources and 27.0
        for biogenic ones (IPCC AR6 WG1 Table 7.15); other sets give one methane value."""
        if set_name is None:
            return np.full(n, np.nan)
        values = GWP_SETS[set_name]
        if gas == "CH4" and set_name == "AR6":
            return np.where(fossil, values["CH4_fossil"], values["CH4"])
        return np.full(n, values[gas])

    for column, gas, scale in mass_cols:
        values = _numeric(factors, column) * scale
        group = _GROUP_OF_GAS.get(gas, "other")
        if group in group_mass:
            group_mass[group] = accumulate(group_mass[group], values)
        from_mass[group] = accumulate(from_mass[group], values * gwp_of(gwp_set, gas))
    has_mass = np.zeros(n, dtype=bool)
    for arr in from_mass.values():
        has_mass |= np.isfinite(arr)

    basis_names = np.full(n, None, dtype=object)
    if "gwp_basis" in factors.columns:
        basis_names, basis_err = _per_distinct(
            factors["gwp_basis"].to_numpy(dtype=object),
            n,
            lambda v: None if _missing(v) else normalise_gwp_set(v),
        )
        bad = [e for e in basis_err if e is not None]
        if bad:
            raise InputError(
                bad[0]["message"],
                value=bad[0]["value"],
                expected=bad[0]["expected"],
                code="gwp_set",
            )
    published_split = {g: np.full(n, np.nan) for g in GAS_GROUPS}
    reweighted = {g: np.full(n, np.nan) for g in GAS_GROUPS}
    for column, gas in co2e_cols:
        values = _numeric(factors, column)
        group = "other" if gas == "other" else _GROUP_OF_GAS.get(gas, "other")
        ratio = np.ones(n)
        if gas != "other":
            base = np.full(n, np.nan)
            for b in {b for b in basis_names if b is not None}:
                here = basis_names == b
                base[here] = gwp_of(b, gas)[here]
            ratio = np.where(np.isfinite(base), gwp_of(gwp_set, gas) / base, 1.0)
            if group in group_mass:
                group_mass[group] = np.where(
                    np.isnan(group_mass[group]), values / base, group_mass[group]
                )
        published_split[group] = accumulate(published_split[group], values)
        reweighted[group] = accumulate(reweighted[group], values * ratio)
    has_split = np.zeros(n, dtype=bool)
    for arr in reweighted.values():
        has_split |= np.isfinite(arr)

    def nansum(parts: dict[str, np.ndarray]) -> np.ndarray:
        stacked = np.vstack([parts[g] for g in GAS_GROUPS])
        return np.where(np.isfinite(stacked).any(axis=0), np.nansum(stacked, axis=0), np.nan)

    group_co2e = {
        g: np.where(np.isfinite(from_mass[g]), from_mass[g], reweighted[g]) for g in GAS_GROUPS
    }
    total_from_mass = nansum(group_co2e)
    adjust = np.nan_to_num(nansum(reweighted) - nansum(published_split))
    total_from_split = np.where(np.isfinite(published), published + adjust, nansum(reweighted))
    total = np.where(has_mass, total_from_mass, np.where(has_split, total_from_split, published))
    has_ch4 = np.isfinite(group_mass["ch4"]) | np.isfinite(reweighted["ch4"])
    origin_known = _ch4_origin_known(factors)
    notes = []
    for i in range(n):
        if has_mass[i]:
            note = f"sum of per-gas masses x {gwp_set} GWP100"
            if np.isfinite(published[i]):
                note += f" (published kg_co2e {published[i]:.6g} not used)"
        elif has_split[i]:
            if basis_names[i] is None:
                note = "per-gas CO2e as published (GWP basis not given)"
            elif basis_names[i] == gwp_set:
                note = f"per-gas CO2e as published on {gwp_set} GWP100"
            else:
                note = f"per-gas CO2e re-weighted from {basis_names[i]} to {gwp_set} GWP100"
        else:
            note = "kg CO2e as published"
        if gwp_set == "AR6" and (has_mass[i] or has_split[i]) and has_ch4[i]:
            if fossil[i]:
                note += "; CH4 fossil GWP 29.8 (IPCC AR6 WG1 Table 7.15)"
            elif origin_known[i]:
                note += "; CH4 biogenic (non-fossil) GWP 27.0 (IPCC AR6 WG1 Table 7.15)"
            else:
                note += "; CH4 origin not known: non-fossil GWP 27.0 used (IPCC AR6 WG1 Table 7.15)"
        notes.append(note)
    split = has_mass | has_split
    for g in GAS_GROUPS:
        group_co2e[g] = np.where(split, group_co2e[g], np.nan)
    return total, group_co2e, group_mass, notes


# --- Calculation ----------------------------------------------------------------------------


def _factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _dense(key: np.ndarray) -> np.ndarray:
    """Dense codes 0..k-1 for non-negative integer keys, in key order: a table lookup when the
    keys are small (a few ms for a million rows), a hash otherwise."""
    if not len(key):
        return key.astype(np.int64)
    top = int(key.max())
    if top < max(2 * len(key), 1 << 20):
        seen = np.zeros(top + 1, dtype=bool)
        seen[key] = True
        return (np.cumsum(seen, dtype=np.int32) - 1)[key].astype(np.int64)
    return np.asarray(pd.factorize(key)[0], dtype=np.int64)


def _combine(*codes: np.ndarray) -> np.ndarray:
    """One dense code 0..k-1 per distinct tuple of non-negative integer codes."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    span = 1
    limit = max(2 * len(key), 1 << 20)
    for c in codes:
        c = np.asarray(c, dtype=np.int64)
        width = int(c.max(initial=0)) + 1
        if span * width > limit:
            key = _dense(key)
            span = int(key.max(initial=0)) + 1
        key = key * width + c
        span *= width
    return _dense(key)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """One row carrying each code 0..k-1 (dense codes)."""
    k = int(codes.max(initial=-1)) + 1
    rows = np.zeros(k, dtype=np.int64)
    rows[codes] = np.arange(len(codes))
    return rows


def _map_keys(values: pd.Series, keys: pd.Index) -> np.ndarray:
    """Position of each value in ``keys`` (-1 if absent), hashing each distinct value once."""
    codes, uniques = _factorize(values)
    positions = keys.get_indexer(pd.Index([str(u) for u in uniques], dtype=object))
    positions = np.append(positions, -1)
    return positions[np.where(codes < 0, len(uniques), codes)]


def _scatter(n: int, positions: np.ndarray, values: Any) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    out[positions] = values
    return out


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out


@dataclass
class _Units:
    """Activity units per distinct (unit, currency) pair."""

    code: np.ndarray  # per row
    name: np.ndarray  # canonical unit per code, None when invalid
    cv: np.ndarray  # CV basis per code
    error: np.ndarray  # error dict per code


def _row_units(activities: pd.DataFrame, n: int) -> _Units:
    unit_values = (
        activities["unit"] if "unit" in activities.columns else pd.Series([None] * n, dtype=object)
    )
    u_codes, u_uniques = _factorize(unit_values)
    if "currency" in activities.columns:
        c_codes, c_uniques = _factorize(activities["currency"])
    else:
        c_codes, c_uniques = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
    # "gal" depends on the row's region when the frame gives regions (units.resolve_regional_unit).
    # Per row: -2 not a regional unit, -1 a regional unit without a region, else the region.
    r_codes = np.full(n, -2, dtype=np.int64)
    r_uniques = np.array([], dtype=object)
    if "region" in activities.columns and len(u_uniques):
        regional = np.array([units.is_regional_unit(u) for u in u_uniques], dtype=bool)
        if regional.any():
            codes, r_uniques = _factorize(activities["region"])
            r_codes = np.where((u_codes >= 0) & regional[np.maximum(u_codes, 0)], codes, -2)
    p_codes = _combine(u_codes + 1, c_codes + 1, r_codes + 2)
    first = _first_rows(p_codes)
    k = len(first)
    name = np.full(k, None, dtype=object)
    cv = np.full(k, None, dtype=object)
    error = np.full(k, None, dtype=object)
    for i, r in enumerate(first.tolist()):
        raw_unit = None if u_codes[r] < 0 else u_uniques[u_codes[r]]
        raw_currency = None if c_codes[r] < 0 else c_uniques[c_codes[r]]
        try:
            currency = None if _missing(raw_currency) else fx.parse_currency(raw_currency)
            if _missing(raw_unit) and currency:
                name[i] = currency
                continue
            if r_codes[r] != -2:
                region = None if r_codes[r] < 0 else r_uniques[r_codes[r]]
                name[i] = units.resolve_regional_unit(raw_unit, region)[0]
                continue
            canonical = units.canonical_unit(raw_unit)
            money = units.unit_currency(canonical)
            if currency and money and money[0] != currency:
                raise CurrencyError(
                    f"The unit says {money[0]} but the currency column says {currency}.",
                    value=raw_currency,
                    expected=money[0],
                    suggestion="Make the unit and currency columns agree.",
                    code="currency_mismatch",
                )
            name[i], cv[i] = canonical, units.parse_cv_basis(raw_unit)
        except EngineError as exc:
            error[i] = exc.to_dict()
    return _Units(np.asarray(p_codes, dtype=np.int64), name, cv, error)


@dataclass
class _Pass:
    """Results of converting rows against one factor index (location-based or market-based)."""

    qc: np.ndarray
    fx_rate: np.ndarray
    fx_date: np.ndarray
    deflator: np.ndarray
    deflator_year: np.ndarray
    money: np.ndarray
    errors: _Errors
    prov_key: np.ndarray  # dense code of the distinct way of calculating
    prov: list[tuple[ConversionPath | None, dict[str, Any] | None]]


def _convert(
    q: np.ndarray,
    ucode: np.ndarray,
    unit_table: _Units,
    fuel_code: np.ndarray,
    fuel_names: np.ndarray,
    fidx: np.ndarray,
    table: _FactorTable,
    dates: Callable[[np.ndarray], np.ndarray],
    max_stale_days: int,
    region_code: np.ndarray | None = None,
    region_names: np.ndarray | None = None,
) -> _Pass:
    n = len(q)
    errors = _Errors(n)
    valid_f = fidx >= 0
    fconv = np.where(valid_f, table.conv_code[np.where(valid_f, fidx, 0)], -1)
    if region_code is None or region_names is None:
        region_code, region_names = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)
    combo = _combine(ucode, fconv + 1, fuel_code + 1, region_code + 1)
    first = _first_rows(combo)
    m = len(first)
    mult = np.full(m, np.nan)
    is_money = np.zeros(m, dtype=bool)
    from_ccy = np.full(m, None, dtype=object)
    combo_err = np.full(m, None, dtype=object)
    paths: list[ConversionPath | None] = [None] * m
    for j in range(m):
        r = first[j]
        source, source_cv = unit_table.name[ucode[r]], unit_table.cv[ucode[r]]
        if source is None or fconv[r] < 0:
            continue
        target, target_cv, factor_fuel = table.conv[fconv[r]]
        if target is None:
            continue
        fuel = fuel_names[fuel_code[r]] if fuel_code[r] >= 0 else factor_fuel
        region = region_names[region_code[r]] if region_code[r] >= 0 else None
        region = None if region is None else str(region)
        try:
            path = _path_cached(source, target, fuel, source_cv, target_cv, region)
        except EngineError as exc:
            combo_err[j] = exc.to_dict()
            continue
        paths[j] = path
        mult[j] = path.multiplier
        is_money[j] = path.kind == "money"
        from_ccy[j] = path.from_currency
    errors.set_codes(combo, combo_err)
    row_mult = mult[combo]
    fx_rate = np.full(n, np.nan)
    fx_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    deflator = np.full(n, np.nan)
    deflator_year = np.full(n, -1, dtype=np.int16)
    money = is_money[combo] & ~errors.mask
    money_code = np.zeros(n, dtype=np.int64)
    money_info: list[dict[str, Any] | None] = [None]
    if money.any():
        rows = np.flatnonzero(money)
        k = len(rows)
        names = list(fx.ecb_currencies())
        code_of = {c: i for i, c in enumerate(names)}
        combo_ccy = np.array([code_of.get(c, -1) if c else -1 for c in from_ccy], dtype=np.int64)
        src = combo_ccy[combo[rows]]
        dst = table.currency_code[fidx[rows]]
        src_ccy = np.asarray(names, dtype=object)[src]
        dst_ccy = np.asarray(names, dtype=object)[dst]
        p_year = table.price_year[fidx[rows]]
        need_fx = src != dst
        need_defl = np.isfinite(p_year)
        day = dates(rows)
        sub = _Errors(k)
        rate = np.ones(k)
        rate_day = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        if need_fx.any():
            sel = np.flatnonzero(need_fx)
            src_rates = fx.ecb_rates(src_ccy[sel], day[sel], max_stale_days=max_stale_days)
            dst_rates = fx.ecb_rates(dst_ccy[sel], day[sel], max_stale_days=max_stale_days)
            rate[sel] = dst_rates["rate"].to_numpy() / src_rates["rate"].to_numpy()
            rate_day[sel] = np.minimum(
                src_rates["rate_date"].to_numpy(), dst_rates["rate_date"].to_numpy()
            )
            for frame in (src_rates, dst_rates):
                e = frame["error"].to_numpy()
                sub.set(_mask(k, sel[pd.notna(e)]), _scatter(k, sel, e))
        defl = np.ones(k)
        index_year = np.full(k, -1, dtype=np.int64)
        if need_defl.any():
            sel = np.flatnonzero(need_defl)
            years = (day[sel].astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.float64)
            years[np.isnat(day[sel])] = np.nan
            g_codes = _combine(dst[sel], _dense(np.nan_to_num(p_year[sel], nan=0).astype(np.int64)))
            for g in range(int(g_codes.max(initial=-1)) + 1):
                inner = np.flatnonzero(g_codes == g)
                pos = sel[inner]
                ccy, year = dst_ccy[pos[0]], int(p_year[pos[0]])
                index_name = fx.PRICE_INDEX_FOR_CURRENCY.get(str(ccy))
                if index_name is None:
                    sub.set(
                        _mask(k, pos),
                        CurrencyError(
                            f"No price index is shipped for {ccy}, so spend cannot be deflated to the "
                            f"factor's {year} prices.",
                            value=ccy,
                            expected="a USD or EUR spend factor",
                            code="price_index_unknown",
                        ).to_dict(),
                    )
                    continue
                out = fx.deflators(years[inner], year, index_name)
                defl[pos] = out["deflator"].to_numpy()
                index_year[pos] = out["index_year"].to_numpy()
                e = out["error"].to_numpy()
                sub.set(_mask(k, pos[pd.notna(e)]), _scatter(k, pos, e))
        errors.merge(sub, rows)
        fx_rate[rows] = rate
        fx_date[rows] = rate_day
        deflator[rows] = np.where(need_defl, defl, np.nan)
        row_mult[rows] = row_mult[rows] * rate * defl
        deflator_year[rows] = np.where(need_defl, index_year, -1)
        # The method (not the rate of the day, which is in the row's columns) for provenance.
        mkey = _combine(
            dst, _dense(np.nan_to_num(p_year, nan=0).astype(np.int64)), need_fx.astype(np.int64)
        )
        money_code[rows] = mkey + 1
        money_info.extend(
            {
                "to": dst_ccy[r],
                "fx": "ECB euro reference rate of the transaction date, or of the last business "
                "day before it (row columns fx_rate, fx_rate_date)"
                if need_fx[r]
                else None,
                "deflator": {
                    "index": fx.PRICE_INDEX_FOR_CURRENCY.get(str(dst_ccy[r])),
                    "to_year": int(p_year[r]),
                    "method": "index[price year] / index[transaction year] (row columns "
                    "deflator, deflator_year)",
                }
                if need_defl[r]
                else None,
            }
            for r in _first_rows(mkey)
        )
    prov_key = _combine(combo, money_code)
    prov = [(paths[combo[r]], money_info[money_code[r]]) for r in _first_rows(prov_key)]
    return _Pass(
        q * row_mult, fx_rate, fx_date, deflator, deflator_year, money, errors, prov_key, prov
    )


def _quantities(activities: pd.DataFrame, errors: _Errors) -> np.ndarray:
    col = activities["quantity"]
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        q = col.to_numpy(dtype=np.float64, na_value=np.nan)
        raw_missing = np.isnan(q)
    else:
        q = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        raw_missing = col.isna().to_numpy() | col.astype(str).str.strip().eq("").to_numpy()
    nan_q = np.isnan(q)
    errors.set(
        nan_q & raw_missing,
        QuantityError(
            "Missing quantity.",
            value=None,
            expected="a number",
            suggestion="Fill in the quantity.",
            code="quantity_missing",
        ).to_dict(),
    )
    bad = nan_q & ~raw_missing
    if bad.any():
        codes, uniques = _factorize(col[bad].astype(str))
        payloads = np.array(
            [
                QuantityError(
                    f"Quantity {u!r} is not a number.",
                    value=u,
                    expected="a number such as 1234.5",
                    suggestion="Remove text and units from the quantity column.",
                    code="quantity_not_number",
                ).to_dict()
                for u in uniques
            ],
            dtype=object,
        )
        errors.set(bad, _scatter(len(q), np.flatnonzero(bad), payloads[codes]))
    errors.set(
        np.isinf(q),
        QuantityError(
            "Quantity is infinite.",
            value="inf",
            expected="a finite number",
            code="quantity_not_finite",
        ).to_dict(),
    )
    return np.where(np.isfinite(q), q, np.nan)


def _override_codes(
    activities: pd.DataFrame, column: str, fn: Callable[[Any], Any], n: int, errors: _Errors
) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes per row, normalised value per code) of an optional override column."""
    if column not in activities.columns:
        return None
    codes, results, errs = _distinct(activities[column].to_numpy(dtype=object), fn)
    errors.set_codes(codes, errs)
    return codes, results


def calculate(
    activities: pd.DataFrame,
    factors: pd.DataFrame,
    *,
    gwp_set: str = "AR5",
    max_stale_days: int = fx.DEFAULT_MAX_STALE_DAYS,
) -> pd.DataFrame:
    """kg CO2e per activity row, total and per gas, with Scope 2 market-based next to
    location-based, data-quality tier and provenance. See the module docstring for columns.

    Row problems come back in the ``error`` column; a frame that breaks the contract (missing
    required columns, duplicate factor keys, unknown GWP set) raises EngineError.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _calculate(activities, factors, gwp_set=gwp_set, max_stale_days=max_stale_days)


def _calculate(
    activities: pd.DataFrame, factors: pd.DataFrame, *, gwp_set: str, max_stale_days: int
) -> pd.DataFrame:
    gwp_set = normalise_gwp_set(gwp_set)
    for required in ("quantity", "factor_key"):
        if required not in activities.columns:
            raise InputError(
                f"The activities frame has no {required!r} column.",
                value=list(map(str, activities.columns)),
                expected="columns quantity, unit (or currency) and factor_key",
                code="activities_frame",
            )
    if "unit" not in activities.columns and "currency" not in activities.columns:
        raise InputError(
            "The activities frame has neither a 'unit' nor a 'currency' column.",
            value=list(map(str, activities.columns)),
            expected="columns quantity, unit (or currency) and factor_key",
            code="activities_frame",
        )
    table = _prepare_factors(factors, gwp_set)
    n = len(activities)
    errors = _Errors(n)

    # 1. The factor: known, and usable.
    fidx = _map_keys(activities["factor_key"], table.keys)
    unknown = fidx < 0
    if unknown.any():
        codes, uniques = _factorize(activities["factor_key"][unknown])
        payloads = np.array(
            [
                FactorError(
                    f"Unknown factor {u!r}.",
                    value=str(u),
                    expected="a factor_key of the factor library",
                    suggestion="Map the row to a factor.",
                    code="factor_unknown",
                ).to_dict()
                for u in uniques
            ]
            + [
                FactorError(
                    "Missing factor.",
                    value=None,
                    expected="a factor_key",
                    suggestion="Map the row to a factor.",
                    code="factor_missing",
                ).to_dict()
            ],
            dtype=object,
        )
        errors.set(
            unknown,
            _scatter(
                n, np.flatnonzero(unknown), payloads[np.where(codes < 0, len(uniques), codes)]
            ),
        )
    safe_f = np.where(unknown, 0, fidx)
    f_bad = table.has_error[safe_f] & ~unknown
    if f_bad.any():
        errors.set(f_bad, _scatter(n, np.flatnonzero(f_bad), table.error[fidx[f_bad]]))

    # 2. The unit (or currency), the quantity and its sign, the optional overrides.
    unit_table = _row_units(activities, n)
    errors.set_codes(unit_table.code, unit_table.error)
    q = _quantities(activities, errors)
    correction = np.zeros(n, dtype=bool)
    if "is_correction" in activities.columns:
        col = activities["is_correction"]
        if pd.api.types.is_bool_dtype(col) and not col.isna().any():
            correction = col.to_numpy(dtype=bool)
        else:
            codes, flags, _ = _distinct(col.to_numpy(dtype=object), _truthy)
            correction = flags.astype(bool)[codes]
    negative = (q < 0) & ~correction
    if negative.any():
        codes, uniques = _factorize(q[negative])
        payloads = np.array(
            [
                QuantityError(
                    f"Negative quantity {u:g} on a row that is not marked as a correction.",
                    value=float(u),
                    expected="a quantity of 0 or more, or is_correction = true",
                    suggestion="Mark credit notes and reversals as corrections, or fix the sign.",
                    code="quantity_negative",
                ).to_dict()
                for u in uniques
            ],
            dtype=object,
        )
        errors.set(negative, _scatter(n, np.flatnonzero(negative), payloads[codes]))
    fuel_code = np.full(n, -1, dtype=np.int64)
    fuel_names = np.array([], dtype=object)
    if "fuel" in activities.columns:
        fuel_code, fuel_names = _factorize(activities["fuel"])
        fuel_names = np.array([str(f).strip() for f in fuel_names], dtype=object)
    region_code = np.full(n, -1, dtype=np.int64)
    region_names = np.array([], dtype=object)
    if "region" in activities.columns:
        region_code, region_names = _factorize(activities["region"])
        region_names = np.array([_region_code(r) for r in region_names], dtype=object)
        # A row without a region in a frame that gives regions: "" (DEFRA used, and said).
        region_names = np.append(region_names, "")
        region_code = np.where(region_code < 0, len(region_names) - 1, region_code)
    scope_o = _override_codes(activities, "scope", normalise_scope, n, errors)
    cat_o = _override_codes(activities, "scope3_category", normalise_scope3_category, n, errors)
    tier_o = _override_codes(activities, "tier", normalise_tier, n, errors)

    def dates(rows: np.ndarray) -> np.ndarray:
        if "date" not in activities.columns:
            return np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[D]")
        subset = activities["date"].iloc[rows]
        if pd.api.types.is_datetime64_any_dtype(subset):
            return subset.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        given = subset.notna().to_numpy()
        parsed = pd.to_datetime(subset, errors="coerce", format="ISO8601").to_numpy(
            dtype="datetime64[ns]"
        )
        retry = np.isnat(parsed) & given
        if retry.any():
            parsed[retry] = pd.to_datetime(
                subset[retry], errors="coerce", format="mixed", dayfirst=True
            ).to_numpy(dtype="datetime64[ns]")
        invalid = np.isnat(parsed) & given
        if invalid.any():
            errors.set(
                _mask(n, rows[invalid]),
                InputError(
                    "The date could not be read.",
                    value=str(subset[invalid].iloc[0]),
                    expected="a date such as 2024-03-15",
                    code="date_invalid",
                ).to_dict(),
            )
        return parsed.astype("datetime64[D]")

    # 3. Location-based (or the only) result.
    loc = _convert(
        q,
        unit_table.code,
        unit_table,
        fuel_code,
        fuel_names,
        fidx,
        table,
        dates,
        max_stale_days,
        region_code,
        region_names,
    )
    errors.merge(loc.errors)

    scope_code = np.where(unknown, -1, table.scope_code[safe_f])
    if scope_o is not None:
        codes, values = scope_o
        override = np.array([SCOPES.index(v) if v else -1 for v in values], dtype=np.int64)[codes]
        scope_code = np.where(override >= 0, override, scope_code)
    category = np.where(unknown, np.nan, table.category[safe_f])
    if cat_o is not None:
        codes, values = cat_o
        override_f = np.array([np.nan if v is None else float(v) for v in values])[codes]
        category = np.where(np.isfinite(override_f), override_f, category)
    category = np.where(scope_code == SCOPES.index("scope_3"), category, np.nan)

    # 4. Scope 2 market-based: contractual factor, else residual mix, else location-based.
    is_s2 = scope_code == SCOPES.index("scope_2")
    basis_code = np.where(is_s2, MARKET_BASES.index("location"), -1)
    market_idx = np.where(is_s2, fidx, -1)
    if is_s2.any():
        residual = np.where(unknown, -1, table.residual_idx[safe_f])
        sources: list[tuple[np.ndarray, np.ndarray, str, str | None]] = [
            (residual, residual >= 0, "residual_mix", None)
        ]
        for column, basis_name in (
            ("residual_factor_key", "residual_mix"),
            ("market_factor_key", "contractual"),
        ):
            if column in activities.columns:
                keys = activities[column]
                sources.append(
                    (_map_keys(keys, table.keys), keys.notna().to_numpy(), basis_name, column)
                )
        for idx, given, basis_name, key_column in sources:
            given = given & is_s2
            missing_key = given & (idx < 0)
            # A factor's residual_mix_key missing from the frame falls back to location-based;
            # a key the row names explicitly must exist.
            if key_column is not None and missing_key.any():
                errors.set(
                    missing_key,
                    FactorError(
                        f"Unknown {key_column} for the Scope 2 market-based result.",
                        value=None,
                        expected="a factor_key of the factor library",
                        code="factor_unknown",
                    ).to_dict(),
                )
            use = given & (idx >= 0)
            market_idx = np.where(use, idx, market_idx)
            basis_code = np.where(use, MARKET_BASES.index(basis_name), basis_code)
    differs = is_s2 & (market_idx >= 0) & (market_idx != fidx)
    mkt: _Pass | None = None
    m_rows = np.flatnonzero(differs)
    if len(m_rows):
        m_f = market_idx[m_rows]
        mkt = _convert(
            q[m_rows],
            unit_table.code[m_rows],
            unit_table,
            fuel_code[m_rows],
            fuel_names,
            m_f,
            table,
            lambda r: dates(m_rows[r]),
            max_stale_days,
            region_code[m_rows],
            region_names,
        )
        f_bad = table.has_error[m_f]
        errors.set(_mask(n, m_rows[f_bad]), _scatter(n, m_rows, table.error[m_f]))
        errors.merge(mkt.errors, m_rows)

    # 5. Emissions; anything not finite becomes an error, never a number in a total.
    total_f = np.where(unknown, np.nan, table.total[safe_f])
    kg = loc.qc * total_f
    kg_market = kg.copy()
    if mkt is not None:
        kg_market[m_rows] = mkt.qc * table.total[market_idx[m_rows]]
    errors.set(
        ~errors.mask & ~(np.isfinite(kg) & np.isfinite(kg_market)),
        QuantityError(
            "The result is not a finite number (the quantity is too large).",
            value="overflow",
            expected="a quantity within a realistic range",
            code="result_not_finite",
        ).to_dict(),
    )
    ok = ~errors.mask
    bad = np.flatnonzero(errors.mask)

    def clean(values: np.ndarray, fill: Any = np.nan) -> np.ndarray:
        """The column with error rows blanked (in place: error rows are few)."""
        values[bad] = fill
        return values

    def codes_of(values: np.ndarray) -> np.ndarray:
        return clean(np.asarray(values, dtype=np.int16), -1)

    qc = loc.qc
    out: dict[str, Any] = {
        "ok": ok,
        "quantity": clean(q.copy()),
        "kg_co2e": clean(kg),
        "kg_co2e_market": clean(kg_market),
        "market_basis": pd.Categorical.from_codes(codes_of(basis_code), categories=MARKET_BASES),
    }
    for name, per_unit in [(f"{g}_kg_co2e", table.group_co2e[g]) for g in GAS_GROUPS] + [
        (f"{g}_kg", table.group_mass[g]) for g in ("co2", "ch4", "n2o")
    ]:
        if np.isnan(per_unit).all():
            out[name] = np.full(n, np.nan)
            continue
        gas_values = per_unit.take(safe_f)
        gas_values *= qc
        out[name] = clean(gas_values)
    out["quantity_converted"] = clean(qc)  # last use of qc: no copy
    out["converted_unit"] = pd.Categorical.from_codes(
        codes_of(table.unit_code[safe_f]), categories=table.unit_categories
    )
    out["factor_kg_co2e_per_unit"] = clean(total_f)
    out["factor_row"] = np.where(unknown, -1, fidx).astype(np.int64)
    out["scope"] = pd.Categorical.from_codes(codes_of(scope_code), categories=SCOPES)
    has_category = ok & np.isfinite(category)
    out["scope3_category"] = pd.arrays.IntegerArray(
        np.where(has_category, category, 0).astype(np.int8), ~has_category
    )
    primary = np.isin(table.basis, ["supplier_specific", "contractual"])[safe_f] & ~unknown
    tier_code = np.where(loc.money, TIERS.index("spend"), np.where(primary, 0, 1))
    if tier_o is not None:
        codes, values = tier_o
        override = np.array([TIERS.index(v) if v else -1 for v in values], dtype=np.int64)[codes]
        tier_code = np.where(override >= 0, override, tier_code)
    out["tier"] = pd.Categorical.from_codes(codes_of(tier_code), categories=TIERS)
    out["fx_rate"] = clean(loc.fx_rate)
    out["fx_rate_date"] = clean(loc.fx_date, np.datetime64("NaT"))
    out["deflator"] = clean(loc.deflator)
    has_year = ok & (loc.deflator_year > 0)
    out["deflator_year"] = pd.arrays.IntegerArray(
        np.where(has_year, loc.deflator_year, 0).astype(np.int16), ~has_year
    )
    out["provenance"] = _provenance(
        loc, mkt, m_rows, market_idx, basis_code, fidx, table, gwp_set, ok
    )
    out["error"] = errors.payload
    result = pd.DataFrame(out, index=activities.index, copy=False)
    result.attrs["gwp_set"] = gwp_set
    return result


def _provenance(
    loc: _Pass,
    mkt: _Pass | None,
    m_rows: np.ndarray,
    market_idx: np.ndarray,
    basis_code: np.ndarray,
    fidx: np.ndarray,
    table: _FactorTable,
    gwp_set: str,
    ok: np.ndarray,
) -> pd.Categorical:
    """JSON text per distinct way of calculating, as a categorical column (NaN on error rows).

    The day-specific FX rate and deflator are the row's ``fx_rate``, ``fx_rate_date``,
    ``deflator`` and ``deflator_year`` columns; the text names the method and the sources.
    Fragments are serialised once per factor and per conversion, then joined.
    """
    n = len(fidx)
    mkt_key = np.zeros(n, dtype=np.int64)
    if mkt is not None:
        mkt_key[m_rows] = mkt.prov_key + 1
    key = _combine(loc.prov_key, fidx + 1, market_idx + 1, basis_code + 1, mkt_key)
    first = _first_rows(key)
    factor_json: dict[int, str] = {}

    def factor_text(i: int) -> str:
        if i not in factor_json:
            factor_json[i] = json.dumps(table.provenance[i], sort_keys=True, default=str)
        return factor_json[i]

    def method_text(p: _Pass, k: int) -> str:
        path, money = p.prov[k]
        parts = []
        if path is not None:
            parts.append('"conversion": ' + json.dumps(path.as_dict(), sort_keys=True))
        if money is not None:
            parts.append('"money": ' + json.dumps(money, sort_keys=True, default=str))
        return ", ".join(parts)

    loc_text = [", " + t if t else "" for t in (method_text(loc, k) for k in range(len(loc.prov)))]
    mkt_text = (
        [", " + t if t else "" for t in (method_text(mkt, k) for k in range(len(mkt.prov)))]
        if mkt
        else []
    )
    head = '{"gwp_set": "' + gwp_set + '"'
    texts: list[str] = []
    for f, lp, b, mk, mi in zip(
        fidx[first].tolist(),
        loc.prov_key[first].tolist(),
        basis_code[first].tolist(),
        mkt_key[first].tolist(),
        market_idx[first].tolist(),
        strict=True,
    ):
        text = head + (', "factor": ' + factor_text(f) if f >= 0 else "") + loc_text[lp]
        if b >= 0:
            text += ', "scope2_market": {"basis": "' + MARKET_BASES[b] + '"'
            if mk > 0:
                text += ', "factor": ' + factor_text(mi) + mkt_text[mk - 1]
            text += "}"
        texts.append(text + "}")
    text_codes, categories = pd.factorize(np.asarray(texts, dtype=object))
    codes = (
        np.asarray(text_codes, dtype=np.int64)[key] if len(first) else np.zeros(0, dtype=np.int64)
    )
    dtype = pd.CategoricalDtype(pd.Index(np.asarray(categories, dtype=object), dtype=object))
    return pd.Categorical.from_codes(np.where(ok, codes, -1), dtype=dtype)


def single_factor(
    value: float,
    unit: str,
    *,
    key: str = "factor",
    fuel: str | None = None,
    **columns: Any,
) -> pd.DataFrame:
    """A one-row factors frame from a value and its unit as people write them.

    ``single_factor(2.51279, "kg CO2e / L")``; ``single_factor(436.655, "lb CO2 / MWh")`` (the
    numerator mass is converted to kg and a named gas goes to its per-gas column);
    ``single_factor(0.532, "kg CO2e/2022 USD")`` (price year kept). Extra keyword arguments become
    columns (scope, category, dataset, factor_id, ...). Raises UnitError or DimensionError.
    """
    parsed = units.parse_factor_unit(unit)
    per_unit = parsed.per_unit + (f" ({parsed.cv_basis} CV)" if parsed.cv_basis else "")
    row: dict[str, Any] = {"factor_key": key, "unit": per_unit, "fuel": fuel}
    amount = float(value) * parsed.scale_to_kg
    if parsed.gas in (None, "CO2e"):
        row["kg_co2e"] = amount
    elif parsed.gas in ("HFC", "HFCS", "PFC", "PFCS"):
        row["other_kg_co2e"] = amount
    else:
        row[f"{gas_id(str(parsed.gas)).lower()}_kg"] = amount
    if parsed.price_year is not None:
        row["price_year"] = parsed.price_year
    row.update(columns)
    return pd.DataFrame([row])


# --- Reading results ------------------------------------------------------------------------


def assumptions_of(result: pd.DataFrame) -> list[dict[str, Any]]:
    """What the calculation took for granted or chose, one short text each with its row count:
    the conversion notes ("Natural Gas properties from DEFRA (UK): none shipped for region DE",
    "quantity taken on the factor's gross CV basis") and the AR6 methane value used. Read from
    the distinct provenance texts, so it costs nothing per row."""
    if result.empty or "provenance" not in result.columns:
        return []
    counts = result["provenance"].astype("category").value_counts(sort=False)
    found: dict[tuple[str, str], int] = {}
    for text, count in counts.items():
        if not count:
            continue
        prov = json.loads(str(text))
        said: list[tuple[str, str]] = []
        for part in (prov, prov.get("scope2_market") or {}):
            said += [("conversion", n) for n in (part.get("conversion") or {}).get("notes", [])]
            value = str((part.get("factor") or {}).get("value") or "")
            said += [("gwp", p.strip()) for p in value.split(";")[1:] if "CH4" in p]
        for key in dict.fromkeys(said):
            found[key] = found.get(key, 0) + int(count)
    return [{"code": code, "count": n, "text": text} for (code, text), n in found.items()]


def money_of(result: pd.DataFrame) -> pd.Series:
    """Per row, what money conversion used, as JSON text to store with the result (None on rows
    without one): ``{"fx": {"rate", "date", "from", "to", "source"}, "deflator": {"value",
    "index", "from_year", "to_year", "index_from", "index_to", "source"}}`` (either may be None).
    With the shared provenance it is all ``replay`` needs: no FX or price-index table is read
    again. Built once per distinct (method, rate, date, deflator, year)."""
    out = pd.Series(np.full(len(result), None, dtype=object), index=result.index, dtype=object)
    if result.empty or "provenance" not in result.columns:
        return out
    ok = result["ok"].to_numpy(dtype=bool) & result["provenance"].notna().to_numpy()
    has_money = ok & (
        np.isfinite(result["fx_rate"].to_numpy(dtype=np.float64))
        | np.isfinite(result["deflator"].to_numpy(dtype=np.float64))
    )
    if not has_money.any():
        return out
    rows = result.loc[has_money]
    keys = pd.DataFrame(
        {
            "p": rows["provenance"].astype("category").cat.codes.to_numpy(),
            "r": rows["fx_rate"].to_numpy(dtype=np.float64),
            "d": rows["fx_rate_date"].astype("datetime64[s]").astype("int64").to_numpy(),
            "f": rows["deflator"].to_numpy(dtype=np.float64),
            "y": rows["deflator_year"].to_numpy(dtype=np.int64),
        }
    )
    codes, _ = pd.factorize(pd.MultiIndex.from_frame(keys.fillna(-1.0)))
    first = _first_rows(np.asarray(codes, dtype=np.int64))
    texts = []
    # Only the five columns of the distinct rows (a row of the wide frame costs far more), and
    # each distinct provenance text parsed once.
    columns = ["provenance", "fx_rate", "fx_rate_date", "deflator", "deflator_year"]
    picked = rows[columns].iloc[np.asarray(first, dtype=np.int64)]
    parsed: dict[str, dict[str, Any]] = {}
    index_values: dict[tuple[str, int], float] = {}

    def index_value(index: str, year: int) -> float:
        # Asked once per distinct row; the table is read once per (index, year).
        if (index, year) not in index_values:
            index_values[(index, year)] = fx.price_index_value(index, year)
        return index_values[(index, year)]

    for text, rate, day, deflator_value, deflator_year in zip(
        *(picked[c].tolist() for c in columns), strict=True
    ):
        provenance = parsed.get(str(text))
        if provenance is None:
            provenance = parsed[str(text)] = json.loads(str(text))
        method = provenance.get("money") or {}
        fx_part = None
        if method.get("fx") and np.isfinite(float(rate)):
            fx_part = {
                "rate": float(rate),
                "date": str(pd.Timestamp(day).date()),
                "from": provenance.get("conversion", {}).get("from"),
                "to": method.get("to"),
                "source": fx.ECB_SOURCE,
            }
        defl_part = None
        deflator = method.get("deflator")
        if deflator and np.isfinite(float(deflator_value)):
            index, to_year, from_year = (
                str(deflator["index"]),
                int(deflator["to_year"]),
                int(deflator_year),
            )
            defl_part = {
                "value": float(deflator_value),
                "index": index,
                "from_year": from_year,
                "to_year": to_year,
                "index_from": index_value(index, from_year),
                "index_to": index_value(index, to_year),
                "source": fx.PRICE_INDEX_SOURCES.get(index),
            }
        texts.append(json.dumps({"fx": fx_part, "deflator": defl_part}, sort_keys=True))
    out.loc[rows.index] = np.asarray(texts, dtype=object)[codes]
    return out


def replay(
    calculation: dict[str, Any], quantity: float, money: dict[str, Any] | None = None
) -> dict[str, float | None]:
    """Recompute one result from its stored provenance only: the quantity as given, the
    conversion multiplier, the stored FX rate and the deflator from its stored index values,
    and the factor's kg CO2e per unit (and the Scope 2 market-based factor where there is one).
    Returns ``{"kg_co2e", "kg_co2e_market"}``; reads no table, so it holds after the FX or
    price-index tables change."""
    conversion = calculation.get("conversion") or {}
    multiplier = float(conversion.get("multiplier", 1.0))
    if money:
        if money.get("fx"):
            multiplier *= float(money["fx"]["rate"])
        deflator = money.get("deflator")
        if deflator:
            multiplier *= float(deflator["index_to"]) / float(deflator["index_from"])
    factor = calculation.get("factor") or {}
    per_unit = factor.get("kg_co2e_per_unit")
    kg = None if per_unit is None else float(quantity) * multiplier * float(per_unit)
    market = calculation.get("scope2_market") or {}
    kg_market = kg
    if market.get("factor"):
        m_conv = float((market.get("conversion") or {}).get("multiplier", 1.0))
        m_per_unit = market["factor"].get("kg_co2e_per_unit")
        kg_market = None if m_per_unit is None else float(quantity) * m_conv * float(m_per_unit)
    return {"kg_co2e": kg, "kg_co2e_market": kg_market}


def errors_of(result: pd.DataFrame) -> list[dict[str, Any]]:
    """Structured errors, one per failed row: ``{"row": index label, **error}``."""
    failed = result.loc[~result["ok"].to_numpy(dtype=bool), "error"]
    return [{"row": label, **payload} for label, payload in failed.items()]


def _record(result: pd.DataFrame, row: Hashable) -> pd.Series:
    rec = result.loc[row]
    if isinstance(rec, pd.DataFrame):
        raise InputError(
            f"Row label {row!r} is not unique in the result.",
            value=str(row),
            expected="a unique index label",
            suggestion="Give the activities frame a unique index (e.g. reset_index()).",
            code="row_label",
        )
    return rec


def provenance_of(result: pd.DataFrame, row: Hashable) -> dict[str, Any]:
    """The provenance of one result row as a dict: the shared JSON of its method plus the row's
    own numbers (quantity, converted quantity, FX rate and its date, deflator and its year)."""
    rec = _record(result, row)
    if not bool(rec["ok"]):
        return {"error": rec["error"]}
    record: dict[str, Any] = json.loads(str(rec["provenance"]))
    record["quantity"] = float(rec["quantity"])
    record["quantity_converted"] = float(rec["quantity_converted"])
    record["converted_unit"] = str(rec["converted_unit"])
    record["kg_co2e"] = float(rec["kg_co2e"])
    record["factor_kg_co2e_per_unit"] = float(rec["factor_kg_co2e_per_unit"])
    money = record.get("money")
    if money is not None:
        if money.get("fx"):
            money["rate"] = float(rec["fx_rate"])
            money["rate_date"] = str(pd.Timestamp(rec["fx_rate_date"]).date())
        if money.get("deflator"):
            money["deflator"]["value"] = float(rec["deflator"])
            money["deflator"]["index_year"] = int(rec["deflator_year"])
    return record


def explain(result: pd.DataFrame, row: Hashable) -> str:
    """The calculation of one result row in words, e.g. "1,000 L -> 833.519 kg via density
    833.519 kg/m3 -> 10,511.4 kWh via gross CV 45.399 GJ/t [source]; x 0.2394 kg CO2e/kWh
    (factor ..., GWP AR5) = 2,516.5 kg CO2e"."""
    prov = provenance_of(result, row)
    if "error" in prov:
        err = prov["error"]
        return f"Not calculated: {err['message']} {err.get('suggestion') or ''}".strip()
    conv = prov.get("conversion", {})
    money = prov.get("money") or {}
    value = prov["quantity"]
    text = f"{value:,.6g} {_show(conv.get('from', prov['converted_unit']))}"
    for step in conv.get("steps", []):
        value *= step["multiplier"]
        text += f" -> {value:,.6g} {_show(step['to'])} via {step['via']}"
    if money.get("rate") is not None:
        value *= money["rate"]
        text += (
            f" -> {value:,.6g} {money['to']} at {money['rate']:.6g} {money['to']}/"
            f"{_show(conv.get('from', ''))} (ECB reference rate of {money['rate_date']})"
        )
    deflator = money.get("deflator")
    if deflator:
        value *= deflator["value"]
        text += (
            f" -> {value:,.6g} {money['to']} in {deflator['to_year']} prices (x "
            f"{deflator['value']:.6g}, {deflator['index']} {deflator['to_year']}/"
            f"{deflator['index_year']})"
        )
    sources = conv.get("sources") or []
    if sources:
        text += f" [{'; '.join(sources)}]"
    factor = prov.get("factor", {})
    label = ", ".join(
        str(x)
        for x in (
            factor.get("id") or factor.get("key"),
            factor.get("dataset"),
            factor.get("version") and f"v{factor['version']}",
        )
        if x
    )
    text += (
        f"; x {prov['factor_kg_co2e_per_unit']:.6g} kg CO2e/{_show(prov['converted_unit'])} (factor {label}; {factor.get('value')}; "
        f"GWP {prov['gwp_set']}) = {prov['kg_co2e']:,.6g} kg CO2e"
    )
    market = prov.get("scope2_market")
    if market:
        rec = _record(result, row)
        text += f"; market-based {float(rec['kg_co2e_market']):,.6g} kg CO2e ({market['basis']})"
    return text


def _sum(values: pd.Series) -> float:
    return float(np.nansum(values.to_numpy(dtype=np.float64)))


def data_quality_shares(result: pd.DataFrame) -> dict[str, Any]:
    """Shares of emissions (location-based kg CO2e of valid rows) by data-quality tier.

    ``scope3_primary_share`` is the ESRS E1 datapoint "Scope 3 share computed from primary data"
    (emissions calculated from supplier or value-chain primary data / total Scope 3). Shares are
    None when the denominator is 0.
    """
    valid = result[result["ok"].to_numpy(dtype=bool)]
    kg = valid["kg_co2e"]
    total = _sum(kg)
    by_tier = {t: _sum(kg[valid["tier"] == t]) for t in TIERS}
    s3 = valid["scope"] == "scope_3"
    s3_total = _sum(kg[s3])
    s3_tier = {t: _sum(kg[s3 & (valid["tier"] == t)]) for t in TIERS}

    def share(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    return {
        "kg_by_tier": by_tier,
        "share_by_tier": {t: share(v, total) for t, v in by_tier.items()},
        "scope3_kg_by_tier": s3_tier,
        "scope3_share_by_tier": {t: share(v, s3_total) for t, v in s3_tier.items()},
        "scope3_primary_share": share(s3_tier["primary"], s3_total),
        "scope3_primary_share_label": "Scope 3 share computed from primary data",
    }


def summarise(result: pd.DataFrame) -> dict[str, Any]:
    """Inventory totals in kg CO2e from a ``calculate`` result (valid rows only).

    Totals count every valid row except outside-of-scopes ones (reported separately), so rows
    without a scope still count and show up in ``unscoped_kg``.
    """
    valid = result[result["ok"].to_numpy(dtype=bool)]
    scope = valid["scope"]
    kg, kg_m = valid["kg_co2e"], valid["kg_co2e_market"]
    s2 = scope == "scope_2"
    # Outside-of-scopes emissions (biogenic CO2) are reported beside the total, not in it.
    counted = (scope != "outside_scopes").to_numpy()
    by_category = (
        valid[scope == "scope_3"]
        .groupby("scope3_category", dropna=False, observed=True)["kg_co2e"]
        .sum()
    )
    categories = {
        (int(k) if not pd.isna(k) else "uncategorised"): float(v) for k, v in by_category.items()
    }
    return {
        "gwp_set": result.attrs.get("gwp_set"),
        "rows": len(result),
        "rows_with_errors": int((~result["ok"].to_numpy(dtype=bool)).sum()),
        "total_location_kg": _sum(kg[counted]),
        "total_market_kg": _sum(kg_m[counted]),
        "scope_1_kg": _sum(kg[scope == "scope_1"]),
        "scope_2_location_kg": _sum(kg[s2]),
        "scope_2_market_kg": _sum(kg_m[s2]),
        "scope_2_market_basis_kg": {
            b: _sum(kg_m[s2 & (valid["market_basis"] == b)]) for b in MARKET_BASES
        },
        "scope_3_kg": _sum(kg[scope == "scope_3"]),
        "scope_3_by_category_kg": categories,
        "outside_scopes_kg": _sum(kg[scope == "outside_scopes"]),
        "unscoped_kg": _sum(kg[scope.isna()]),
        "by_gas_kg_co2e": {g: _sum(valid[f"{g}_kg_co2e"]) for g in GAS_GROUPS},
        "data_quality": data_quality_shares(result),
    }
