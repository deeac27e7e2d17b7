"""Global warming potentials (100-year) from the IPCC's Fourth, Fifth and Sixth Assessment Reports.

Sources, one per set (values transcribed from the tables named; tests check AR5 against US EPA's
GHG Emission Factors Hub 2025, Table 11, and AR4 against 40 CFR Part 98 Table A-1, both of which
reproduce the IPCC values):

- ``AR4``: IPCC (2007) Climate Change 2007, The Physical Science Basis, WG I, Chapter 2,
  Table 2.14 (100-year GWP), as adopted by UNFCCC decision 24/CP.19, Annex III.
- ``AR5``: IPCC (2013) Climate Change 2013, The Physical Science Basis, WG I, Chapter 8,
  Appendix 8.A, Table 8.A.1 (GWP100 without climate-carbon feedbacks). Fossil methane (30)
  from the same table's note on fossil CH4.
- ``AR6``: IPCC (2021) Climate Change 2021, The Physical Science Basis, WG I, Chapter 7,
  Table 7.15 (CH4 fossil 29.8, CH4 non-fossil 27.0, N2O 273) and Supplementary Material
  Table 7.SM.7 (halogenated gases); CH4 split as in the GHG Protocol's "IPCC Global Warming
  Potential Values" v2.0 (August 2024).

``CH4`` means non-fossil (biogenic) methane; ``CH4_fossil`` is methane from fossil sources
(IPCC AR6 WG1 Table 7.15: 29.8 fossil, 27.0 non-fossil). The engine (``calculate``) applies the
AR6 split by the factor's source: fossil fuels 29.8, biogenic fuels 27.0 (and 27.0, said in the
provenance, where the origin is not known); AR5 results keep the single value publishers use (28)
and AR4 gives one methane value.

Public API
----------
- ``GWP_SETS``: ``{"AR4" | "AR5" | "AR6": {gas_id: gwp100}}``.
- ``GWP_SOURCES``: ``{set: citation}``.
- ``DEFAULT_GWP_SET = "AR5"``.
- ``normalise_gwp_set(name) -> str``: "ar5", "IPCC AR5", "AR5GWP100" -> "AR5"; InputError otherwise.
- ``gas_id(name) -> str``: a gas name, formula, refrigerant code or column key -> canonical id
  ("Methane", "ch4" -> "CH4"; "R-134a", "CH2FCF3", "hfc_134a" -> "HFC-134a"); InputError otherwise.
- ``gas_column_key(gas) -> str``: canonical id -> column-safe key ("HFC-134a" -> "hfc_134a").
- ``gwp(gas, gwp_set="AR5") -> float``.
- ``gwp_vector(gases, gwp_set) -> numpy.ndarray``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np

from .errors import InputError

DEFAULT_GWP_SET = "AR5"

# gas id: (AR4, AR5, AR6) GWP100. See the module docstring for the tables.
_GWP100: dict[str, tuple[float, float, float]] = {
    "CO2": (1, 1, 1),
    "CH4": (25, 28, 27.0),
    "CH4_fossil": (25, 30, 29.8),
    "N2O": (298, 265, 273),
    "HFC-23": (14800, 12400, 14600),
    "HFC-32": (675, 677, 771),
    "HFC-41": (92, 116, 135),
    "HFC-125": (3500, 3170, 3740),
    "HFC-134": (1100, 1120, 1260),
    "HFC-134a": (1430, 1300, 1530),
    "HFC-143": (353, 328, 364),
    "HFC-143a": (4470, 4800, 5810),
    "HFC-152": (53, 16, 21.5),
    "HFC-152a": (124, 138, 164),
    "HFC-161": (12, 4, 4.84),
    "HFC-227ea": (3220, 3350, 3600),
    "HFC-236cb": (1340, 1210, 1350),
    "HFC-236ea": (1370, 1330, 1500),
    "HFC-236fa": (9810, 8060, 8690),
    "HFC-245ca": (693, 716, 787),
    "HFC-245fa": (1030, 858, 962),
    "HFC-365mfc": (794, 804, 914),
    "HFC-43-10mee": (1640, 1650, 1600),
    "SF6": (22800, 23500, 24300),
    "NF3": (17200, 16100, 17400),
    "PFC-14": (7390, 6630, 7380),
    "PFC-116": (12200, 11100, 12400),
    "PFC-218": (8830, 8900, 9290),
    "PFC-318": (10300, 9540, 10200),
    "PFC-31-10": (8860, 9200, 10000),
    "PFC-41-12": (9160, 8550, 9220),
    "PFC-51-14": (9300, 7910, 8620),
    "PFC-91-18": (7500, 7190, 7480),
}

GWP_SETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        name: MappingProxyType({gas: float(values[i]) for gas, values in _GWP100.items()})
        for i, name in enumerate(("AR4", "AR5", "AR6"))
    }
)

GWP_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "AR4": "IPCC AR4 WG I (2007), Ch. 2, Table 2.14, GWP100",
        "AR5": "IPCC AR5 WG I (2013), Ch. 8, Table 8.A.1, GWP100 without climate-carbon feedbacks",
        "AR6": "IPCC AR6 WG I (2021), Ch. 7, Table 7.15 and Table 7.SM.7, GWP100",
    }
)

# Chemical formulas and other names (as in EPA Hub Table 11) for each gas id.
_FORMULAS = {
    "CO2": "CO2",
    "CH4": "CH4",
    "N2O": "N2O",
    "HFC-23": "CHF3",
    "HFC-32": "CH2F2",
    "HFC-41": "CH3F",
    "HFC-125": "CHF2CF3",
    "HFC-134": "CHF2CHF2",
    "HFC-134a": "CH2FCF3",
    "HFC-143": "CH2FCHF2",
    "HFC-143a": "CH3CF3",
    "HFC-152": "CH2FCH2F",
    "HFC-152a": "CH3CHF2",
    "HFC-161": "CH3CH2F",
    "HFC-227ea": "CF3CHFCF3",
    "HFC-236cb": "CH2FCF2CF3",
    "HFC-236ea": "CHF2CHFCF3",
    "HFC-236fa": "CF3CH2CF3",
    "HFC-245ca": "CH2FCF2CHF2",
    "HFC-245fa": "CHF2CH2CF3",
    "HFC-365mfc": "CH3CF2CH2CF3",
    "HFC-43-10mee": "CF3CHFCHFCF2CF3",
    "SF6": "SF6",
    "NF3": "NF3",
    "PFC-14": "CF4",
    "PFC-116": "C2F6",
    "PFC-218": "C3F8",
    "PFC-318": "c-C4F8",
    "PFC-31-10": "C4F10",
    "PFC-41-12": "C5F12",
    "PFC-51-14": "C6F14",
    "PFC-91-18": "C10F18",
}

_NAMES = {
    "CO2": ("carbon dioxide",),
    "CH4": ("methane", "methane non-fossil", "biogenic methane", "ch4 non-fossil"),
    "CH4_fossil": ("fossil methane", "methane fossil", "ch4 fossil"),
    "N2O": ("nitrous oxide", "dinitrogen monoxide"),
    "SF6": ("sulfur hexafluoride", "sulphur hexafluoride"),
    "NF3": ("nitrogen trifluoride",),
    "PFC-14": ("perfluoromethane", "tetrafluoromethane", "carbon tetrafluoride", "r-14"),
    "PFC-116": ("perfluoroethane", "hexafluoroethane", "r-116"),
    "PFC-218": ("perfluoropropane", "octafluoropropane", "r-218"),
    "PFC-318": ("perfluorocyclobutane", "octafluorocyclobutane", "r-318", "c-c4f8"),
    "PFC-31-10": ("perfluorobutane",),
    "PFC-41-12": ("perfluoropentane",),
    "PFC-51-14": ("perfluorohexane",),
    "PFC-91-18": ("perfluorodecalin",),
}


def _squash(text: str) -> str:
    """Lower-case and drop everything but letters and digits: "HFC-134a" -> "hfc134a"."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for gid in _GWP100:
        lookup[_squash(gid)] = gid
        if gid.startswith("HFC-"):
            # Refrigerant designations: R-134a is HFC-134a.
            lookup[_squash("R" + gid[3:])] = gid
    for gid, formula in _FORMULAS.items():
        lookup[_squash(formula)] = gid
    for gid, names in _NAMES.items():
        for name in names:
            lookup[_squash(name)] = gid
    return lookup


_LOOKUP = _build_lookup()
_SET_PATTERN = re.compile(r"^(?:ipcc)?(ar[456])(?:gwp100|gwp|100)?$")


def normalise_gwp_set(name: str) -> str:
    """Return "AR4", "AR5" or "AR6" for a GWP set name, or raise InputError."""
    key = _squash(str(name)) if name is not None else ""
    match = _SET_PATTERN.match(key)
    if match:
        return match.group(1).upper()
    raise InputError(
        f"Unknown GWP set {name!r}.",
        value=name,
        expected="one of AR4, AR5, AR6 (IPCC assessment report, 100-year GWP)",
        suggestion="Use AR5 (the EPA Hub and DEFRA 2024 basis) or AR6 (latest IPCC values).",
        code="gwp_set",
    )


def gas_id(name: str) -> str:
    """Canonical id of a greenhouse gas given its name, formula, refrigerant code or column key."""
    text = str(name).strip() if name is not None else ""
    key = _squash(text)
    # Column keys such as "ch4_fossil" squash to "ch4fossil"; try both spellings.
    found = _LOOKUP.get(key) or _LOOKUP.get(_squash(text.replace("_", " ")))
    if found:
        return found
    choices = difflib.get_close_matches(key, list(_LOOKUP), n=3, cutoff=0.6)
    suggestion = (
        "Did you mean " + " or ".join(sorted({_LOOKUP[c] for c in choices})) + "?"
        if choices
        else "Use a gas name, formula or code such as CO2, CH4, N2O, HFC-134a, SF6, NF3, PFC-14."
    )
    raise InputError(
        f"Unknown greenhouse gas {name!r}.",
        value=name,
        expected="a Kyoto gas (CO2, CH4, N2O, an HFC, a PFC, SF6 or NF3)",
        suggestion=suggestion,
        code="gas",
    )


def gas_column_key(gas: str) -> str:
    """Column-safe key of a gas: "HFC-134a" -> "hfc_134a", "CH4_fossil" -> "ch4_fossil"."""
    return re.sub(r"[^0-9a-z]+", "_", gas_id(gas).lower()).strip("_")


def gwp(gas: str, gwp_set: str = DEFAULT_GWP_SET) -> float:
    """GWP100 of ``gas`` in ``gwp_set``."""
    return GWP_SETS[normalise_gwp_set(gwp_set)][gas_id(gas)]


def gwp_vector(gases: Iterable[str], gwp_set: str = DEFAULT_GWP_SET) -> np.ndarray:
    """GWP100 of each gas, as a float array in the order given."""
    table = GWP_SETS[normalise_gwp_set(gwp_set)]
    return np.array([table[gas_id(g)] for g in gases], dtype=np.float64)
