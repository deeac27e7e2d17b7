"""The regime registry: one module per regime behind ``reporting.regimes.base.Regime``."""

from __future__ import annotations

from dataclasses import dataclass

from reporting.regimes.base import Regime, RegimeError
from reporting.regimes.esrs_e1 import EsrsE1
from reporting.regimes.vsme import Vsme

REGIMES: dict[str, Regime] = {r.key: r for r in (EsrsE1(), Vsme())}


@dataclass(frozen=True)
class Planned:
    key: str
    name: str
    available: bool = False


PLANNED = (
    Planned("cbam", "CBAM (EU Carbon Border Adjustment Mechanism)"),
    Planned("issb", "ISSB IFRS S2 Climate-related disclosures"),
    Planned("eudr", "EUDR (EU Deforestation Regulation)"),
)


def regime(key: str) -> Regime:
    try:
        return REGIMES[key]
    except KeyError as exc:
        known = ", ".join(REGIMES)
        raise RegimeError(f"Unknown regime {key!r}; one of {known}.") from exc
