"""Units as people write them: the registry's stored spelling ('US_gallon', 'm ** 3',
'tonne * km') shown as 'US gal', 'm³', 'tonne·km'. Display only: what is stored and compared
stays the canonical text of :func:`emissions.engine.units.canonical_unit`."""

from __future__ import annotations

import functools
import re

# Registry names with an underscore or a spelling nobody writes on an invoice. Each shown form
# reads back as the same unit (typed into a form, it is understood).
_WRITTEN: dict[str, str] = {
    "US_gallon": "US gal",
    "UK_gallon": "imp gal",
    "EC_therm": "therm (UK)",
    "US_therm": "therm (US)",
    "short_ton": "short ton",
    "long_ton": "long ton",
    "oil_barrel": "oil barrel",
    "room_night": "room-night",
    "FTE_hour": "FTE hour",
}
_SUPERSCRIPTS = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
_POWER = re.compile(r"\s*\*\*\s*(-?\d+(?:\.\d+)?)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=4096)
def display_unit(text: object) -> str:
    """A stored unit as people write it: 'US_gallon' -> 'US gal', 'kg CO2e/m ** 3' ->
    'kg CO2e/m³', 'tonne * km' -> 'tonne·km', 'passenger * km' -> 'passenger·km'. Empty or
    None gives ''; text that is no unit comes back unchanged but for those spellings."""
    if text is None:
        return ""
    out = str(text).strip()
    if not out:
        return ""
    out = _POWER.sub(lambda m: m.group(1).translate(_SUPERSCRIPTS), out)
    out = re.sub(r"\s*\*\s*", "·", out)
    out = re.sub(r"\s*/\s*", "/", out)
    return _WORD.sub(lambda m: _WRITTEN.get(m.group(0), m.group(0)), out)
