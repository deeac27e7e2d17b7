"""Units: one pint registry for the whole application, and the parsing of units found in sheets.

The registry is built once at import. It adds what pint lacks for emissions accounting:
``passenger`` (``pax``) and ``vehicle`` so ``passenger * km`` and ``vehicle * mi`` are quantities of
their own, ``room_night`` (hotel stays), ``FTE_hour`` (home-working hours), ``CO2e``, ``scf``
(standard cubic foot), ``Mcf``/``MMcf``, ``MMBtu`` (million international-table Btu), explicit
``EC_therm`` (= UK therm, 100,000 Btu) and ``US_therm``, ``US_gallon`` next to ``UK_gallon``, and
one base dimension per currency: money in different currencies converts only through exchange
rates (see ``fx``), never through pint.

Parsing accepts what real sheets say (an alias table: Liter, Ltr, m³, cbm, KWh, tonnes, short ton,
US gallon, miles, tkm, pax-km, "kWh (Gross CV)", "Room per night", ...), refuses words that are
ambiguous or dangerous (``ton``, ``barrel``, ``therm``, ``kt``, ``MT``, ``nm``, ``MBtu``, ``Nm3``)
with a message naming the choices, and suggests close matches for unknown units. The
calorific-value basis in "kWh (Net CV)" is metadata (``parse_cv_basis``), the unit is kWh.

Canonical strings (what to store) are pint-parsable and round-trip through ``parse_unit``:
'L', 'kWh', 'kg', 'tonne', 'km', 'mi', 'm ** 3', 'US_gallon', 'tonne * km', 'passenger * km',
'room_night', 'FTE_hour', 'EUR', 'kEUR'.

Public API
----------
- ``ureg``: the ``pint.UnitRegistry``.
- ``parse_unit(text) -> pint.Unit`` (raises UnitError; cached per distinct text).
- ``canonical_unit(text) -> str``.
- ``parse_cv_basis(text) -> "net" | "gross" | None``: "kWh (Net CV)", "kWh HHV", "GJ (NCV)",
  "kWh gross".
- ``is_regional_unit(text) -> bool`` and ``resolve_regional_unit(text, region) -> (canonical,
  assumption)``: "gal"/"gallon(s)" is a US gallon for a US row, an imperial gallon for GB/IE,
  refused (UnitError ``unit_ambiguous`` naming "US gal" or "imp gal") elsewhere. ``parse_unit``
  itself keeps "gal" a US gallon (US publishers' factor units); activity quantities go through
  ``resolve_regional_unit`` (the import pipeline does).
- ``unit_dimension(text_or_unit) -> str``: 'volume', 'mass', 'energy', 'distance',
  'freight (mass x distance)', 'passenger distance', 'vehicle distance', 'money', 'count',
  'count (room-nights)', 'time', 'emissions (CO2e mass)', ...
- ``unit_currency(text_or_unit) -> tuple[str, float] | None``: ('EUR', 1000.0) for 'kEUR'.
- ``is_money(text_or_unit) -> bool``.
- ``conversion_factor(from_unit, to_unit) -> float``: multiplicative factor (DimensionError).
- ``parse_unit_column(values) -> (Series[str | NaN], dict[str, UnitError])``.
- ``parse_factor_unit(text) -> FactorUnit``: "kg CO2e / L", "lb/MWh", "g CH4 / scf",
  "kg CO2e/2022 USD, purchaser price" -> numerator scale to kg, gas, per-unit, CV basis, price year.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pint

from .errors import CurrencyError, DimensionError, UnitError
from .fx import ecb_currencies, parse_money_unit


def _build_registry() -> pint.UnitRegistry:
    registry: pint.UnitRegistry = pint.UnitRegistry(on_redefinition="raise")
    for definition in (
        "passenger = [passenger] = _ = pax",
        "vehicle = [vehicle]",
        "room_night = [room_night] = _ = roomnight",
        # One hour worked by one full-time equivalent: DEFRA's home-working factor unit.
        "FTE_hour = hour = _ = fte_hour",
        "CO2e = [co2e] = _ = CO2eq",
        # Gas volume at standard conditions; converted as a plain volume.
        "standard_cubic_foot = foot ** 3 = scf",
        "thousand_cubic_feet = 1e3 * foot ** 3 = Mcf",
        "million_cubic_feet = 1e6 * foot ** 3 = MMcf",
        "million_standard_cubic_feet = 1e6 * foot ** 3 = MMscf",
        "million_Btu = 1e6 * Btu_it = MMBtu = mmBtu",
        "@alias gallon = US_gallon",
        "@alias therm = UK_therm",
    ):
        registry.define(definition)
    for code in ecb_currencies():
        registry.define(f"{code} = [currency_{code}]")
    return registry


ureg: pint.UnitRegistry = _build_registry()

# Canonical spelling of registry units where pint's own symbol is ambiguous or unclear.
_CANONICAL_NAMES: dict[str, str] = {
    "liter": "L",
    "milliliter": "mL",
    "megaliter": "ML",
    "metric_ton": "tonne",
    "kilometric_ton": "kilotonne",
    "megametric_ton": "Mt",
    "ton": "short_ton",
    "long_ton": "long_ton",
    "gallon": "US_gallon",
    "imperial_gallon": "UK_gallon",
    "therm": "EC_therm",
    "US_therm": "US_therm",
    "mile": "mi",
    "nautical_mile": "nmi",
    "passenger": "passenger",
    "vehicle": "vehicle",
    "room_night": "room_night",
    "FTE_hour": "FTE_hour",
    "CO2e": "CO2e",
    "standard_cubic_foot": "scf",
    "thousand_cubic_feet": "Mcf",
    "million_cubic_feet": "MMcf",
    "million_standard_cubic_feet": "MMscf",
    "million_Btu": "MMBtu",
    "oil_barrel": "oil_barrel",
    "count": "count",
    "hour": "h",
    "day": "day",
    "year": "year",
    "pound": "lb",
}

# Spellings from real sheets -> canonical registry string. Keys are matched after lower-casing,
# so only spellings whose case carries no meaning belong here (SI symbols such as "mW"/"MW" or
# "ml"/"ML" go through pint, which is case-sensitive).
_ALIASES: dict[str, str] = {}


def _alias(canonical: str, *spellings: str) -> None:
    for spelling in spellings:
        _ALIASES[spelling.lower()] = canonical


# fmt: off
_alias("L", "l", "L", "liter", "liters", "litre", "litres", "ltr", "ltrs", "lt", "lts", "ltr.")
_alias("ML", "million litres", "million liters", "megalitre", "megalitres", "megaliter",
       "megaliters")
_alias("m ** 3", "m3", "m³", "m^3", "m**3", "cbm", "cu m", "cu. m", "cu.m", "cubic metre",
       "cubic metres", "cubic meter", "cubic meters", "cubic metres (m3)", "cubic meters (m3)")
_alias("m ** 2", "m2", "m^2", "m**2", "sq m", "square metre", "square metres", "square meter",
       "square meters")
_alias("ft ** 3", "ft3", "ft³", "cu ft", "cu. ft", "cubic foot", "cubic feet", "cf")
_alias("scf", "scf", "standard cubic foot", "standard cubic feet", "std cubic feet")
_alias("Mcf", "mcf", "thousand cubic feet")
_alias("MMcf", "mmcf", "million cubic feet")
_alias("MMscf", "mmscf", "million standard cubic feet")
_alias("kWh", "kwh", "kw h", "kw-h", "kw.h", "kilowatt hour", "kilowatt hours", "kilowatt-hour",
       "kilowatt-hours", "kilowatthour", "kilowatthours")
_alias("MWh", "mwh", "megawatt hour", "megawatt hours", "megawatt-hour", "megawatt-hours")
_alias("GWh", "gwh", "gigawatt hour", "gigawatt hours", "gigawatt-hour", "gigawatt-hours")
_alias("TWh", "twh")
_alias("Wh", "wh", "watt hour", "watt hours", "watt-hour", "watt-hours")
_alias("MJ", "mj", "megajoule", "megajoules")
_alias("GJ", "gj", "gigajoule", "gigajoules")
_alias("TJ", "tj", "terajoule", "terajoules")
_alias("kJ", "kj", "kilojoule", "kilojoules")
_alias("MMBtu", "mmbtu", "mm btu", "million btu", "million btus", "mmbtus")
_alias("Btu", "btu", "btus", "british thermal unit", "british thermal units")
_alias("EC_therm", "ec therm", "ec therms", "uk therm", "uk therms", "therm (ec)", "therm (uk)",
       "therms (uk)", "therms (ec)", "ec_therm", "uk_therm")
_alias("US_therm", "us therm", "us therms", "therm (us)", "therms (us)", "us_therm")
_alias("tonne", "t", "tonne", "tonnes", "metric ton", "metric tons", "metric tonne",
       "metric tonnes", "tonnes (metric)", "tonne (metric)", "metric_ton")
_alias("kilotonne", "kilotonne", "kilotonnes", "kilo tonne", "kilo tonnes")
_alias("kg", "kg", "kgs", "kg.", "kilogram", "kilograms", "kilogramme", "kilogrammes", "kilo",
       "kilos")
_alias("g", "g", "gram", "grams", "gramme", "grammes", "gr")
_alias("lb", "lb", "lbs", "lb.", "lbs.", "pound (mass)", "pounds (mass)")
_alias("short_ton", "short ton", "short tons", "us ton", "us tons", "ton (us)", "tons (us)",
       "ton (us, short ton)", "short_ton", "net ton", "net tons")
_alias("long_ton", "long ton", "long tons", "uk ton", "uk tons", "imperial ton", "imperial tons",
       "ton (uk)", "tons (uk)", "ton (uk, long ton)", "long_ton", "gross ton")
# Bare "gal"/"gallon" (a US gallon to pint and in US publishers' factor units) is a US gallon
# here too, but an activity quantity in it is read by its row's region: ``resolve_regional_unit``.
_alias("US_gallon", "gal", "gals", "gallon", "gallons", "us gallon", "us gallons", "us gal", "usg",
       "gallon (us)", "gallons (us)", "us_gallon", "us liquid gallon", "us gals", "gal (us)")
_alias("UK_gallon", "imperial gallon", "imperial gallons", "imp gal", "imp. gal", "imp. gallon",
       "uk gallon", "uk gallons", "gallon (uk)", "gallons (uk)", "gallon (imperial)",
       "gallons (imperial)", "uk_gallon", "imperial_gallon", "imp gals", "imp. gals",
       "imperial gal", "gal (uk)", "gal (imperial)", "uk gal")
_alias("oil_barrel", "oil barrel", "oil barrels", "barrel of oil", "barrels of oil", "bbl oil",
       "oil bbl", "barrel (us, petroleum)", "bbl (us,p)", "oil_barrel")
_alias("km", "km", "kms", "km.", "kilometre", "kilometres", "kilometer", "kilometers")
_alias("mi", "mi", "mile", "miles", "statute mile", "statute miles", "mi.")
_alias("nmi", "nmi", "nautical mile", "nautical miles")
_alias("m", "metre", "metres", "meter", "meters")
_alias("tonne * km", "tkm", "t.km", "t-km", "t km", "t*km", "tonne.km", "tonne-km", "tonne km",
       "tonnes km", "tonne-kilometre", "tonne-kilometres", "tonne-kilometer", "tonne-kilometers",
       "tonne kilometre", "tonne kilometres", "tonne kilometer", "tonne kilometers", "tonne_km")
_alias("tonne * mi", "tonne-mile", "tonne-miles", "tonne mile", "tonne miles", "tonne.mile")
# "ton-mile" is the US freight unit (short ton times mile, as in EPA's Hub), unlike "ton" alone.
_alias("short_ton * mi", "ton-mile", "ton-miles", "ton mile", "ton miles", "short ton-mile",
       "short ton-miles", "short ton mile", "short ton miles", "short_ton-mile")
_alias("passenger * km", "pkm", "p.km", "p-km", "pax-km", "pax.km", "pax km", "passenger.km",
       "passenger-km", "passenger km", "passengers km", "passenger-kilometre",
       "passenger-kilometres", "passenger-kilometer", "passenger-kilometers",
       "passenger kilometres", "passenger kilometers", "passenger_km")
_alias("passenger * mi", "passenger-mile", "passenger-miles", "passenger mile", "passenger miles",
       "pax-mile", "pax-miles", "passenger.mile", "pmi")
_alias("vehicle * km", "vkm", "vehicle-km", "vehicle.km", "vehicle km", "vehicle-kilometre",
       "vehicle-kilometres", "vehicle kilometres")
_alias("vehicle * mi", "vehicle-mile", "vehicle-miles", "vehicle mile", "vehicle miles",
       "vehicle.mile")
_alias("passenger", "passenger", "passengers", "pax")
_alias("room_night", "room per night", "rooms per night", "room night", "room nights",
       "room-night", "room-nights", "roomnight", "roomnights", "per room per night", "room_night")
_alias("FTE_hour", "fte working hour", "fte working hours", "fte hour", "fte hours", "fte-hour",
       "fte-hours", "per fte working hour", "fte_hour")
_alias("h", "h", "hr", "hrs", "hour", "hours")
_alias("day", "day", "days", "d")
_alias("count", "unit", "units", "item", "items", "piece", "pieces", "pc", "pcs", "each", "ea",
       "no.", "number", "count", "qty", "nos")
_alias("kg * CO2e", "kgco2e", "kg co2e", "kg co2-e", "kg co2eq", "kg co2-eq", "kgco2eq",
       "kg co2 eq", "kg co2 equivalent")
_alias("tonne * CO2e", "tco2e", "t co2e", "t co2-e", "t co2eq", "tco2eq", "tonnes co2e",
       "tonne co2e", "metric tons co2e", "mtco2e (metric tons)")
_alias("g * CO2e", "gco2e", "g co2e", "g co2eq")
_alias("CO2e", "co2e", "co2eq", "co2-e", "co2-eq")
# fmt: on

# Refused spellings: lower-cased key -> the choices to offer.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "ton": ("tonne (metric, 1,000 kg)", "short ton (US, 907.18 kg)", "long ton (UK, 1,016.05 kg)"),
    "tons": ("tonne (metric, 1,000 kg)", "short ton (US, 907.18 kg)", "long ton (UK, 1,016.05 kg)"),
    "kt": ("kilotonne (1,000 tonnes)", "knot (speed)"),
    "barrel": (
        "oil barrel (42 US gal, 158.99 L)",
        "US liquid barrel (31.5 US gal)",
        "UK barrel (36 imperial gal)",
    ),
    "barrels": (
        "oil barrel (42 US gal, 158.99 L)",
        "US liquid barrel (31.5 US gal)",
        "UK barrel (36 imperial gal)",
    ),
    "bbl": (
        "oil barrel (42 US gal, 158.99 L)",
        "US liquid barrel (31.5 US gal)",
        "UK barrel (36 imperial gal)",
    ),
    "therm": ("EC therm (105.506 MJ, UK and EU gas bills)", "US therm (105.480 MJ)"),
    "therms": ("EC therm (105.506 MJ, UK and EU gas bills)", "US therm (105.480 MJ)"),
    "thm": ("EC therm (105.506 MJ, UK and EU gas bills)", "US therm (105.480 MJ)"),
    "nm": ("nmi (nautical mile)", "nanometre", "N*m (newton metre)"),
    "mbtu": ("MMBtu (million Btu)", "thousand Btu (US 'M' = 1,000)"),
    "mscf": ("MMscf (million scf)", "thousand scf (US 'M' = 1,000)"),
    "nm3": (
        "m3 at the factor's reference conditions (normal m3 at 0 °C is 5.5% less gas "
        "than standard m3 at 15 °C)",
    ),
    "nm³": (
        "m3 at the factor's reference conditions (normal m3 at 0 °C is 5.5% less gas "
        "than standard m3 at 15 °C)",
    ),
    "cwt": ("short hundredweight (100 lb)", "long hundredweight (112 lb)"),
    "pound": ("lb (pound of mass)", "GBP (pound sterling)"),
    "pounds": ("lb (pound of mass)", "GBP (pound sterling)"),
    "tonnage": ("tonne", "short ton", "long ton"),
}
# Case-sensitive refusals: "T" is tesla to pint, "mWh" a milliwatt-hour.
_AMBIGUOUS_EXACT: dict[str, tuple[str, ...]] = {
    "T": ("t (tonne)", "T (tesla)"),
    "mWh": ("MWh (megawatt-hour)", "mWh (milliwatt-hour)"),
    "MT": ("tonne (metric ton)", "Mt (megatonne)"),
    "mt": ("tonne (metric ton)", "Mt (megatonne)"),
    "M/T": ("tonne (metric ton)", "Mt (megatonne)"),
    "m/t": ("tonne (metric ton)", "Mt (megatonne)"),
}

# "(Net CV)", "(gross)", "net CV", "NCV", "HHV": never the bare words, so "net ton" stays a unit.
_CV_PATTERN = re.compile(
    r"\(\s*(net|gross|ncv|gcv|lhv|hhv)(?:\s*(?:cv|calorific value|basis))?\s*\)"
    r"|\b(ncv|gcv|lhv|hhv)\b"
    r"|\b(net|gross)\s+(?:cv|calorific value)\b"
    # "kWh gross", "MJ net": the basis written after an energy unit.
    r"|(?<=[A-Za-z])\s+(net|gross)\s*$",
    re.IGNORECASE,
)
_CV_BASIS = {
    "net": "net",
    "ncv": "net",
    "lhv": "net",
    "gross": "gross",
    "gcv": "gross",
    "hhv": "gross",
}


# Spellings whose meaning depends on where the quantity was measured: the US gallon is 3.785 L,
# the imperial (UK, Irish) gallon 4.546 L (20% more).
_REGIONAL_SPELLINGS = frozenset({"gal", "gals", "gallon", "gallons"})
_GALLON_OF_REGION = {"US": "US_gallon", "GB": "UK_gallon", "UK": "UK_gallon", "IE": "UK_gallon"}
_GALLON_LABEL = {"US_gallon": "US gallon", "UK_gallon": "imperial gallon"}
GALLON_CHOICES = ("US gal (3.785 L)", "imp gal (imperial, 4.546 L)")


def is_regional_unit(text: Any) -> bool:
    """True for a unit whose meaning depends on the region ("gal", "gallons"), so an activity
    quantity in it needs ``resolve_regional_unit``."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return False
    return _strip_cv(_clean(str(text))).lower() in _REGIONAL_SPELLINGS


def resolve_regional_unit(
    text: Any, region: Any, *, said_by: str = "row country"
) -> tuple[str, str]:
    """The canonical unit of a region-dependent spelling and the assumption to show.

    ``region`` is an ISO 3166 alpha-2 code (or None): "US" -> US gallon; "GB"/"IE" -> imperial
    gallon; anything else raises UnitError (``unit_ambiguous``) naming the choice ("US gal" or
    "imp gal"). Explicit spellings ("US gal", "imp gal", "UK gallon") never come here.
    ``said_by`` names where the region came from in the assumption text.
    """
    raw = str(text)
    code = None if region is None or pd.isna(region) else (str(region).strip().upper() or None)
    canonical = _GALLON_OF_REGION.get(code or "")
    if canonical is None:
        where = f"the row's region is {code}" if code else "the row has no country"
        raise UnitError(
            f"{raw!r} is ambiguous: {where}, and a gallon is a US gallon (3.785 L) in the US "
            "but an imperial gallon (4.546 L) in the UK and Ireland.",
            value=raw,
            expected="one of: " + "; ".join(GALLON_CHOICES),
            suggestion="Write 'US gal' or 'imp gal', or give the row's country.",
            code="unit_ambiguous",
        )
    return canonical, f"{raw} read as {_GALLON_LABEL[canonical]} ({said_by} {code})"


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("³", "3").replace("²", "2").replace("\u00b7", "*").replace("\u00d7", "*")
    return re.sub(r"\s+", " ", text).strip().strip("\"'").strip()


def _strip_cv(text: str) -> str:
    return re.sub(r"\s+", " ", _CV_PATTERN.sub(" ", text)).strip()


def parse_cv_basis(text: Any) -> str | None:
    """ "net", "gross" or None: the calorific-value basis written with an energy unit."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    match = _CV_PATTERN.search(str(text))
    if not match:
        return None
    word = next(g for g in match.groups() if g)
    return _CV_BASIS[word.lower()]


def _ambiguous_error(raw: str, choices: tuple[str, ...]) -> UnitError:
    return UnitError(
        f"{raw!r} is ambiguous: it could mean {'; or '.join(choices)}.",
        value=raw,
        expected="one of: " + "; ".join(choices),
        suggestion=f"Write the unit explicitly, e.g. {choices[0].split(' (')[0]}.",
        code="unit_ambiguous",
    )


_SUGGESTION_WORDS: list[str] = []


def _suggestions(cleaned: str) -> list[str]:
    if not _SUGGESTION_WORDS:
        _SUGGESTION_WORDS.extend(sorted(set(_ALIASES) | {c.lower() for c in ecb_currencies()}))
    close = difflib.get_close_matches(cleaned.lower(), _SUGGESTION_WORDS, n=3, cutoff=0.72)
    shown = []
    for word in close:
        canonical = _ALIASES.get(word, word.upper())
        label = f"{word} ({canonical})" if canonical.lower() != word else canonical
        shown.append(label)
    return shown


def _unknown_error(raw: str, cleaned: str) -> UnitError:
    close = _suggestions(cleaned)
    return UnitError(
        f"Unknown unit {raw!r}.",
        value=raw,
        expected="a unit of mass, volume, energy, distance, freight, passenger distance, money "
        "or a count (e.g. kg, L, kWh, km, tonne.km, passenger.km, EUR)",
        suggestion=("Did you mean " + " or ".join(close) + "?")
        if close
        else "Use a unit such as kg, tonnes, L, m3, kWh, GJ, km, miles, tkm, pkm or a currency code.",
        code="unit_unknown",
    )


def _money_unit(text: str) -> pint.Unit | None:
    try:
        code, scale = parse_money_unit(text)
    except CurrencyError as exc:
        if exc.code == "currency_ambiguous" and text.lower() not in _ALIASES:
            raise UnitError(
                exc.message,
                value=text,
                expected=exc.expected,
                suggestion=exc.suggestion,
                code="unit_ambiguous",
            ) from None
        return None
    prefix = {1.0: "", 1e3: "k", 1e6: "M", 1e9: "G"}[scale]
    return ureg.Unit(prefix + code)


_HAS_NUMBER = re.compile(r"(?<![A-Za-z_])[0-9]*\.?[0-9]+(?![A-Za-z_0-9])")
_EXPONENT = re.compile(r"(\*\*|\^)\s*-?[0-9]+")


def _pint_atom(text: str) -> pint.Unit | None:
    """pint's own reading of a single unit expression, or None."""
    if not text or "(" in text or _HAS_NUMBER.search(_EXPONENT.sub("", text)):
        return None
    try:
        return ureg.parse_units(text.replace("^", "**"))
    except Exception:  # pint raises assorted tokenizer and lookup errors on odd input
        return None


def _atom(text: str) -> pint.Unit | None:
    """One unit without '/' : alias, refusal, currency, or pint."""
    if not text:
        return None
    if text in _AMBIGUOUS_EXACT:
        raise _ambiguous_error(text, _AMBIGUOUS_EXACT[text])
    lowered = text.lower()
    if lowered in _ALIASES:
        return ureg.parse_units(_ALIASES[lowered])
    if lowered in _AMBIGUOUS:
        raise _ambiguous_error(text, _AMBIGUOUS[lowered])
    money = _money_unit(text)
    if money is not None:
        return money
    return _pint_atom(text)


def _multiply(parts: list[pint.Unit | None]) -> pint.Unit | None:
    """The product of parsed units, or None if any part did not parse."""
    if not parts or any(u is None for u in parts):
        return None
    result = parts[0]
    for unit in parts[1:]:
        result = result * unit  # type: ignore[operator]
    return result


def _product(text: str) -> pint.Unit | None:
    """A product of atoms written with '*', '.', '-' or spaces: "tonne.km", "short ton-mile"."""
    unit = _atom(text)
    if unit is not None:
        return unit
    parts = [p.strip() for p in re.split(r"\s*[*.\-]\s*", text) if p.strip()]
    if len(parts) > 1:
        units = [_product(p) for p in parts]
        return _multiply(units)
    words = text.split(" ")
    if len(words) > 1:
        return _multiply([_atom(w) for w in words])
    return None


def _parse(cleaned: str) -> pint.Unit | None:
    unit = _atom(cleaned)
    if unit is not None:
        return unit
    # A trailing note in brackets: accepted only if it says the same thing ("cubic metres (m3)").
    match = re.match(r"^(.*?)\s*\(([^()]*)\)$", cleaned)
    if match and match.group(1):
        outer, inner = _parse(match.group(1)), _parse(match.group(2))
        return outer if outer is not None and outer == inner else None
    pieces = re.split(r"\s*/\s*|\s+per\s+", cleaned, flags=re.IGNORECASE)
    if len(pieces) > 1:
        numerator = _product(pieces[0])
        denominator = _multiply([_product(p) for p in pieces[1:]])
        if numerator is None or denominator is None:
            return None
        return numerator / denominator
    return _product(cleaned)


@functools.lru_cache(maxsize=8192)
def _parse_unit_cached(raw: str) -> pint.Unit:
    cleaned = _clean(raw)
    if not cleaned:
        raise UnitError(
            "Missing unit.",
            value=raw,
            expected="a unit such as kg, L, kWh, km or a currency code",
            suggestion="Fill in the unit column.",
            code="unit_missing",
        )
    if cleaned.lower().startswith("per ") and cleaned.lower() not in _ALIASES:
        cleaned = cleaned[4:].strip()
    without_cv = _strip_cv(cleaned) or cleaned
    unit = _parse(without_cv)
    if unit is None:
        raise _unknown_error(raw, without_cv)
    return unit


def parse_unit(text: Any) -> pint.Unit:
    """The registry unit for a unit string from a sheet; raises UnitError.

    Aliases and refusals are described in the module docstring. Each distinct string is parsed
    once (cached).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        text = ""
    if isinstance(text, pint.Unit):
        return text
    try:
        return _parse_unit_cached(str(text))
    except UnitError as exc:
        # The cached exception object is shared; hand out a fresh copy.
        raise UnitError(
            exc.message,
            value=text,
            expected=exc.expected,
            suggestion=exc.suggestion,
            code=exc.code,
        ) from None


def _name(name: str) -> str:
    if name in _CANONICAL_NAMES:
        return _CANONICAL_NAMES[name]
    return f"{ureg.Unit(name):~}"


def _format(unit: pint.Unit) -> str:
    items = list(unit._units.items())
    if not items:
        return "count"

    def term(name: str, exponent: Any) -> str:
        power = abs(float(exponent))
        power_text = (
            "" if power == 1 else f" ** {int(power) if float(power).is_integer() else power}"
        )
        return _name(name) + power_text

    numerator = [term(n, e) for n, e in items if e > 0]  # type: ignore[operator]
    denominator = [term(n, e) for n, e in items if e < 0]  # type: ignore[operator]
    text = " * ".join(numerator) if numerator else "1"
    if denominator:
        text += " / " + (
            denominator[0] if len(denominator) == 1 else "(" + " * ".join(denominator) + ")"
        )
    return text


@functools.lru_cache(maxsize=8192)
def _canonical_cached(unit: pint.Unit) -> str:
    return _format(unit)


def canonical_unit(text: Any) -> str:
    """The registry string to store for a unit: 'litres' -> 'L', 'tkm' -> 'tonne * km'."""
    return _canonical_cached(parse_unit(text))


_DIMENSION_NAMES: dict[str, str] = {
    "[length] ** 3": "volume",
    "[mass]": "mass",
    "[length] ** 2 * [mass] / [time] ** 2": "energy",
    "[length]": "distance",
    "[length] * [mass]": "freight (mass x distance)",
    "[length] * [passenger]": "passenger distance",
    "[length] * [vehicle]": "vehicle distance",
    "[passenger]": "passengers",
    "[vehicle]": "vehicles",
    "[room_night]": "count (room-nights)",
    "dimensionless": "count",
    "[time]": "time",
    "[co2e] * [mass]": "emissions (CO2e mass)",
    "[length] ** 2": "area",
    "[length] ** 2 * [mass] / [time] ** 3": "power",
    "[mass] / [length] ** 3": "density",
}


def _dimension_key(unit: pint.Unit) -> str:
    dims = unit.dimensionality
    if not dims:
        return "dimensionless"
    powers = sorted((str(d), float(e)) for d, e in dims.items())  # type: ignore[arg-type]
    return " * ".join(f"{d} ** {int(e)}" if e != 1 else d for d, e in powers if e > 0) + "".join(
        f" / {d}" + (f" ** {int(-e)}" if e != -1 else "") for d, e in powers if e < 0
    )


def unit_dimension(text_or_unit: Any) -> str:
    """A short human name for the dimension of a unit ('volume', 'mass', 'money', ...)."""
    return _unit_dimension_cached(parse_unit(text_or_unit))


@functools.lru_cache(maxsize=8192)
def _unit_dimension_cached(unit: pint.Unit) -> str:
    currency = unit_currency(unit)
    if currency is not None:
        return "money"
    key = _dimension_key(unit)
    return _DIMENSION_NAMES.get(key, str(unit.dimensionality))


def unit_currency(text_or_unit: Any) -> tuple[str, float] | None:
    """(ISO code, scale) if the unit is an amount of one currency ('kEUR' -> ('EUR', 1000.0))."""
    return _unit_currency_cached(parse_unit(text_or_unit))


@functools.lru_cache(maxsize=8192)
def _unit_currency_cached(unit: pint.Unit) -> tuple[str, float] | None:
    dims = unit.dimensionality
    if len(dims) != 1:
        return None
    ((dim, exponent),) = dims.items()
    if exponent != 1 or not dim.startswith("[currency_"):
        return None
    code = dim[len("[currency_") : -1]
    return code, float(ureg.Quantity(1.0, unit).to(code).magnitude)


def is_money(text_or_unit: Any) -> bool:
    """True if the unit is an amount of money in one currency."""
    return unit_currency(text_or_unit) is not None


@functools.lru_cache(maxsize=16384)
def _conversion_cached(source: pint.Unit, target: pint.Unit) -> float:
    try:
        return float(ureg.Quantity(1.0, source).to(target).magnitude)
    except pint.errors.DimensionalityError:
        pass
    src_dim, dst_dim = unit_dimension(source), unit_dimension(target)
    src_money, dst_money = unit_currency(source), unit_currency(target)
    if src_money and dst_money:
        raise DimensionError(
            f"{src_money[0]} and {dst_money[0]} convert only through exchange rates.",
            value=_format(source),
            expected=_format(target),
            suggestion="Give the transaction date so the engine can apply the ECB rate.",
            code="dimension_currency",
        )
    raise DimensionError(
        f"Cannot convert {_format(source)} ({src_dim}) to {_format(target)} ({dst_dim}).",
        value=_format(source),
        expected=f"a unit of {dst_dim}",
        suggestion=f"Choose a factor per unit of {src_dim}, or report the quantity in {dst_dim}.",
        code="dimension_mismatch",
    )


def conversion_factor(from_unit: Any, to_unit: Any) -> float:
    """Multiply a quantity in ``from_unit`` by this to express it in ``to_unit``.

    Raises DimensionError when the dimensions differ (including two different currencies).
    """
    return _conversion_cached(parse_unit(from_unit), parse_unit(to_unit))


def parse_unit_column(values: pd.Series) -> tuple[pd.Series, dict[str, UnitError]]:
    """Canonical unit string per row (NaN where invalid) and the error per distinct invalid value.

    Parses each distinct value once. Missing values are reported under the key "".
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.empty(len(uniques) + 1, dtype=object)
    parsed[-1] = np.nan
    errors: dict[str, UnitError] = {}
    for i, raw in enumerate(uniques):
        try:
            parsed[i] = canonical_unit(raw)
        except UnitError as exc:
            parsed[i] = np.nan
            errors[str(raw)] = exc
    if (codes < 0).any():
        try:
            parse_unit("")
        except UnitError as exc:
            errors[""] = exc
    out = pd.Series(
        parsed[np.where(codes < 0, len(uniques), codes)], index=values.index, dtype=object
    )
    return out, errors


# --- Factor units -------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorUnit:
    """A factor's unit split into what is emitted and what it is per.

    ``scale_to_kg``: multiply the published value by this to get kg of the emitted quantity.
    ``gas``: the gas named in the numerator ("CO2e", "CH4", ...), or None.
    ``per_unit``: canonical activity unit the factor is per ("L", "kWh", "USD").
    ``cv_basis``: "net" / "gross" / None, from "kWh (Gross CV)".
    ``price_year``: from "kg CO2e/2022 USD".
    """

    scale_to_kg: float
    gas: str | None
    per_unit: str
    cv_basis: str | None
    price_year: int | None


_GAS_TOKEN = re.compile(
    r"\b(CO2e|CO2eq|CO2-e|CO2-eq|CO2|CH4|N2O|SF6|NF3|HFCs?|PFCs?)\b(?:\s+equivalents?)?",
    re.IGNORECASE,
)


def _emits_mass(numerator: str) -> bool:
    """True if the text before a '/' is an emitted mass ("kg", "kg CO2e", "lb", "g CH4")."""
    text = _GAS_TOKEN.sub(" ", numerator).strip() or "kg"
    try:
        unit = parse_unit(text)
    except UnitError:
        return False
    dims = unit.dimensionality
    return dims in (ureg.kg.dimensionality, (ureg.kg * ureg.CO2e).dimensionality)


def parse_factor_unit(text: Any) -> FactorUnit:
    """Split a factor unit such as "kg CO2e / L", "lb/MWh", "g CH4 per scf",
    "kg CO2e/2022 USD, purchaser price" or "kWh (Gross CV)" (numerator kg implied).

    The numerator must be a mass (optionally naming a gas); raises UnitError or DimensionError.
    """
    raw = "" if text is None else str(text)
    cleaned = _clean(raw)
    cleaned = re.sub(r",\s*(purchaser|producer|basic)\s+price.*$", "", cleaned, flags=re.IGNORECASE)
    cv_basis = parse_cv_basis(cleaned)
    cleaned = _strip_cv(cleaned)
    parts = re.split(r"\s*/\s*|\s+per\s+", cleaned, maxsplit=1, flags=re.IGNORECASE)
    if len(parts) == 1 or not _emits_mass(parts[0]):
        # "Room per night", "per FTE Working Hour": the whole text is what the factor is per.
        return FactorUnit(1.0, None, canonical_unit(cleaned), cv_basis, None)
    numerator, denominator = parts
    gas_match = _GAS_TOKEN.search(numerator)
    gas = None
    if gas_match:
        token = gas_match.group(1).upper().replace("-", "")
        gas = "CO2e" if token.startswith("CO2E") else token
        numerator = _GAS_TOKEN.sub(" ", numerator).strip()
    mass = parse_unit(numerator or "kg")
    co2e_mass = ureg.parse_units("kg * CO2e")
    if mass.dimensionality == co2e_mass.dimensionality:
        gas, mass = "CO2e", mass / ureg.CO2e
    if mass.dimensionality != ureg.kg.dimensionality:
        raise DimensionError(
            f"The factor unit {raw!r} does not emit a mass.",
            value=raw,
            expected="a factor unit such as 'kg CO2e / L' or 'lb / MWh'",
            suggestion="Write the emitted mass (kg, g, lb, t) before the '/'.",
            code="factor_unit",
        )
    year_match = re.match(r"^((?:19|20)\d{2})\s+(.+)$", denominator.strip())
    price_year = None
    if year_match:
        price_year = int(year_match.group(1))
        denominator = year_match.group(2)
    return FactorUnit(
        scale_to_kg=float(ureg.Quantity(1.0, mass).to("kg").magnitude),
        gas=gas,
        per_unit=canonical_unit(denominator),
        cv_basis=cv_basis,
        price_year=price_year,
    )
