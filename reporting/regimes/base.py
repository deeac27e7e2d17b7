"""One interface for every regime: inventory -> datapoints -> renderings.

A regime turns a ``ReportInput`` (the period's totals from the inventory selector, the
organisation profile and the period's net revenue) into ``Fact``s whose concept names come from
its taxonomy; the renderings (reporting.render) tag the same facts in iXBRL and print them in the
PDF."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from emissions.models import OrganisationProfile, ReportingPeriod
from emissions.selectors_inventory import InventoryRow, InventoryTotals
from reporting.energy import EnergyMix

TONNE = 1000.0  # kg per t


@dataclass(frozen=True)
class Unit:
    """An XBRL unit: its id, numerator and optional denominator measures (QNames)."""

    id: str
    numerator: str
    denominator: str = ""
    label: str = ""


TCO2E = Unit("tCO2e", "utr:tCO2e", label="t CO2e")
MWH = Unit("MWh", "utr:MWh", label="MWh")
PURE = Unit("pure", "xbrli:pure", label="%")


def per_revenue(currency: str) -> Unit:
    return Unit(
        f"tCO2e_per_{currency}", "utr:tCO2e", f"iso4217:{currency}", f"t CO2e per {currency}"
    )


@dataclass(frozen=True)
class Fact:
    """One datapoint: a concept QName, its value in ``unit``, the decimals it is reported to, and
    an optional (axis, member) pair."""

    concept: str
    label: str
    value: float
    unit: Unit
    decimals: int
    dimension: tuple[str, str] | None = None
    section: str = ""
    # iXBRL scale: a percentage is shown as 25.00 with scale -2 for the value 0.25.
    scale: int = 0


@dataclass(frozen=True)
class ReportInput:
    period: ReportingPeriod
    profile: OrganisationProfile
    totals: InventoryTotals
    categories: list[InventoryRow]
    datasets: list[str] = field(default_factory=list)
    gwp_sets: list[str] = field(default_factory=list)
    energy: EnergyMix | None = None


@dataclass(frozen=True)
class Rendering:
    """What the XHTML needs besides the facts: the taxonomy's prefix, namespace and entry point."""

    prefix: str
    namespace: str
    schema_ref: str


class Regime(Protocol):
    key: str
    name: str
    available: bool

    def rendering(self) -> Rendering: ...

    def datapoints(self, data: ReportInput) -> tuple[list[Fact], list[str]]:
        """The facts, and notes about what was left out and why."""
        ...


class RegimeError(Exception):
    """A report cannot be made: say why (no data, no identifier, no taxonomy)."""


def mwh(value: float) -> float:
    return round(value, 3)


def tonnes(kg: float) -> float:
    return round(kg / TONNE, 3)


def significant_decimals(value: float, digits: int = 6) -> int:
    """The decimals that keep ``digits`` significant digits of ``value`` (intensities per unit of
    currency are small numbers)."""
    if value == 0:
        return digits
    return max(0, digits - 1 - math.floor(math.log10(abs(value))))


def intensity(kg: float, data: ReportInput) -> float | None:
    revenue = float(data.period.net_revenue or 0)
    if revenue <= 0:
        return None
    return kg / TONNE / revenue
