"""Energy consumption of own operations (ESRS E1-5, VSME B3) from the activity records.

What counts: Scope 1 records whose factor is a fuel (the factor's kind, or a DEFRA fuel its name
stands for) and Scope 2 records of purchased electricity, heat, steam or cooling. Their stored
quantity and unit are converted to MWh once per distinct (unit, fuel, basis) group:

- fuels through DEFRA/DESNZ 2024 "Fuel properties" (density, calorific values: the engine's
  ``conversion_path``), on the **net calorific value** (lower heating value) basis, the basis of
  Eurostat's and the IEA's energy balances and of the IPCC 2006 Guidelines; a quantity stated in
  kWh (Gross CV) is brought to net with the fuel's net/gross ratio;
- purchased energy by unit conversion (kWh, MWh, GJ...).

Renewable or not: fuels by their origin (DEFRA's biofuels, biogas and wood are renewable; blended
road fuels count as petroleum products in full). Purchased electricity is renewable only for the
share a contractual instrument covers (a certificate such as a GO, a PPA or a green tariff) whose
emission rate is zero; everything else is non-renewable. Its split between fossil and nuclear
sources needs the supplier's or the grid's generation mix, which the records do not hold: those
figures are reported as unknown (None), never guessed.

A record whose quantity cannot be converted (spend-based, a fuel without properties) leaves its
bucket incomplete: the bucket and the totals are None and the notes say why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, FloatField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from emissions.engine.calculate import conversion_path
from emissions.engine.errors import EngineError
from emissions.engine.fuels import FUEL_PROPERTIES_SOURCE, fuel_origin
from emissions.engine.units import parse_cv_basis
from emissions.inventory import _fuel_of as fuel_of
from emissions.models import ActivityRecord, ContractualInstrument, ReportingPeriod

KWH_PER_MWH = 1000.0
BASIS = "net calorific value (lower heating value)"
# DEFRA 2024 fuel names by ESRS E1 paragraph 38 fuel class (coal and coal products, crude oil
# and petroleum products, natural gas, other fossil sources).
COAL = frozenset(
    {
        "Coal (domestic)",
        "Coal (electricity generation)",
        "Coal (electricity generation - home produced coal only)",
        "Coal (industrial)",
        "Coking Coal",
    }
)
NATURAL_GAS = frozenset({"Natural Gas", "Natural Gas (100% mineral blend)", "CNG", "LNG"})
OTHER_FOSSIL = frozenset({"Waste oils"})
# Contract kinds that can carry a renewable claim (Scope 2 Guidance Table 6.2).
RENEWABLE_CONTRACTS = ("certificate", "ppa", "green_tariff")
FUEL_CLASSES = ("coal", "oil", "gas", "other_fossil", "renewable")


@dataclass
class EnergyMix:
    """MWh of the period's own energy consumption (None: not known from the records)."""

    fuels: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FUEL_CLASSES, 0.0))
    electricity_renewable: float = 0.0
    electricity_non_renewable: float = 0.0
    heat_renewable: float = 0.0
    heat_non_renewable: float = 0.0
    fuels_complete: bool = True
    purchased_complete: bool = True
    records: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def fuels_total(self) -> float | None:
        return sum(self.fuels.values()) if self.fuels_complete else None

    @property
    def fuels_non_renewable(self) -> float | None:
        if not self.fuels_complete:
            return None
        return sum(v for k, v in self.fuels.items() if k != "renewable")

    @property
    def purchased_renewable(self) -> float | None:
        if not self.purchased_complete:
            return None
        return self.electricity_renewable + self.heat_renewable

    @property
    def purchased_non_renewable(self) -> float | None:
        if not self.purchased_complete:
            return None
        return self.electricity_non_renewable + self.heat_non_renewable

    @property
    def electricity_total(self) -> float | None:
        if not self.purchased_complete:
            return None
        return self.electricity_renewable + self.electricity_non_renewable

    @property
    def complete(self) -> bool:
        return self.fuels_complete and self.purchased_complete

    @property
    def total(self) -> float | None:
        if not self.complete:
            return None
        return self.fuels_total + self.purchased_renewable + self.purchased_non_renewable  # type: ignore[operator]

    @property
    def renewable(self) -> float | None:
        if not self.complete:
            return None
        return self.fuels["renewable"] + self.purchased_renewable  # type: ignore[operator]

    @property
    def non_renewable(self) -> float | None:
        if not self.complete:
            return None
        return self.total - self.renewable  # type: ignore[operator]

    @property
    def purchased_fossil(self) -> float | None:
        """Purchased non-renewable energy is fossil or nuclear: known only when it is zero."""
        if not self.purchased_complete or self.purchased_non_renewable:
            return None
        return 0.0

    @property
    def nuclear(self) -> float | None:
        """Fuels are never nuclear: known (zero) only when no non-renewable energy was bought."""
        return self.purchased_fossil

    @property
    def fossil(self) -> float | None:
        if self.purchased_fossil is None or not self.fuels_complete:
            return None
        return self.fuels_non_renewable  # purchased fossil is 0 here

    def share(self, part: float | None) -> float | None:
        """``part`` as a fraction of the total (None when either is unknown or the total is 0)."""
        total = self.total
        if part is None or not total:
            return None
        return part / total


def fuel_class(fuel: str) -> str:
    if fuel_origin(fuel) == "biogenic":
        return "renewable"
    if fuel in COAL:
        return "coal"
    if fuel in NATURAL_GAS:
        return "gas"
    if fuel in OTHER_FOSSIL:
        return "other_fossil"
    return "oil"


def _renewable_instruments() -> set[str]:
    """Ids (as text, as the provenance stores them) of contracts with a zero emission rate."""
    return {
        str(i)
        for i in ContractualInstrument.objects.filter(
            kind__in=RENEWABLE_CONTRACTS, kg_co2e_per_kwh=0
        ).values_list("id", flat=True)
    }


def _kwh(unit: str, fuel: str | None, cv: str | None) -> float:
    """kWh (net CV for a fuel) per one ``unit``; raises EngineError when it cannot be known."""
    if fuel is None:
        return conversion_path(unit, "kWh").multiplier
    from_cv = parse_cv_basis(unit) or cv
    return conversion_path(unit, "kWh", fuel=fuel, from_cv=from_cv, to_cv="net").multiplier


def energy_mix(period: ReportingPeriod) -> EnergyMix:
    """The period's energy consumption of own operations, in MWh, with notes on what is left
    out and why (one aggregate query grouped by unit, factor and contract; no per-record loop)."""
    share = Cast(KT("provenance__scope2_market__covered_share"), FloatField())
    groups = (
        ActivityRecord.objects.filter(
            date__gte=period.start, date__lte=period.end, scope__in=(1, 2)
        )
        .order_by()
        .values(
            "scope",
            "unit",
            "factor__kind",
            "factor__name",
            "factor__cv_basis",
            "supplier_factor__name",
            instrument=KT("provenance__scope2_market__instrument_id"),
        )
        .annotate(
            amount=Sum("quantity"),
            covered=Sum(F("quantity") * share),
            kg=Sum("kg_co2e"),
            n=Count("id"),
        )
    )
    mix = EnergyMix()
    renewable_ids = _renewable_instruments()
    # bucket -> [records, kg CO2e] that have no energy quantity
    unconverted: dict[str, list[float]] = {"fuels": [0, 0.0], "purchased": [0, 0.0]}
    unknown_scope1: list[float] = [0, 0.0]
    for g in groups:
        name = g["factor__name"] or g["supplier_factor__name"] or ""
        kind = g["factor__kind"] or ""
        fuel = fuel_of(name) if name else None
        if g["scope"] == 1:
            if fuel is None and kind != "fuel":
                unknown_scope1[0] += g["n"]
                unknown_scope1[1] += g["kg"] or 0.0
                continue
            bucket = "fuels"
        else:
            bucket = "purchased"
            fuel = None
        try:
            per_unit = _kwh(g["unit"], fuel, g["factor__cv_basis"] or None)
        except (EngineError, ValueError, TypeError):
            unconverted[bucket][0] += g["n"]
            unconverted[bucket][1] += g["kg"] or 0.0
            continue
        mwh = (g["amount"] or 0.0) * per_unit / KWH_PER_MWH
        mix.records += g["n"]
        if bucket == "fuels":
            if fuel is None:
                # A fuel factor naming no DEFRA fuel, quantity already in energy units: taken as
                # stated (its calorific-value basis cannot be changed without the fuel).
                unconverted_basis = "an energy quantity of an unnamed fuel, taken as stated"
                if unconverted_basis not in mix.notes:
                    mix.notes.append(f"Fuel records with {unconverted_basis}.")
                mix.fuels["other_fossil"] += mwh
            else:
                mix.fuels[fuel_class(fuel)] += mwh
            continue
        heat = kind == "heat_steam"
        green = 0.0
        if g["instrument"] in renewable_ids:
            green = min(mwh, (g["covered"] or 0.0) * per_unit / KWH_PER_MWH)
        if heat:
            mix.heat_renewable += green
            mix.heat_non_renewable += mwh - green
        else:
            mix.electricity_renewable += green
            mix.electricity_non_renewable += mwh - green
    for bucket, (n, kg) in unconverted.items():
        if n:
            what = "fuel" if bucket == "fuels" else "purchased energy"
            mix.notes.append(
                f"{int(n)} {what} record(s) ({kg / 1000:,.3f} t CO2e) have no quantity that converts to "
                f"energy (spend-based, or no fuel properties): the {what} total cannot be stated "
                "and is omitted."
            )
            if bucket == "fuels":
                mix.fuels_complete = False
            else:
                mix.purchased_complete = False
    if unknown_scope1[0]:
        mix.notes.append(
            f"{int(unknown_scope1[0])} Scope 1 record(s) ({unknown_scope1[1] / 1000:,.3f} t CO2e) use "
            "factors that name no fuel (refrigerants, process emissions or an unnamed supplier "
            "factor): they are not counted as energy."
        )
    return mix


def methodology(mix: EnergyMix) -> list[str]:
    """What the energy figures are and where their conversions come from."""
    notes = [
        "Energy consumption is derived from the Scope 1 fuel and Scope 2 purchased-energy "
        f"records: fuels converted to MWh on the {BASIS} basis with the calorific values and "
        f"densities of {FUEL_PROPERTIES_SOURCE} (Open Government Licence v3.0); purchased "
        "electricity, heat, steam and cooling as metered.",
        "Renewable purchased electricity is the share covered by contractual instruments "
        "(guarantees of origin or other certificates, PPAs, green tariffs) with a zero emission "
        "rate; all other purchased energy is counted as non-renewable. Its split between fossil "
        "and nuclear sources needs the supplier's or the grid's generation mix, which the data "
        "does not hold: energy from fossil and from nuclear sources and their shares are not "
        "stated unless no non-renewable energy was purchased.",
        "Blended road fuels (average biofuel blend) are counted as petroleum products in full. "
        "Self-generated non-fuel renewable energy (on-site solar, wind) is not recorded in "
        "FactorTrace and is not stated.",
    ]
    return notes + mix.notes
