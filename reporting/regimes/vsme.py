"""VSME basic module B3 (EFRAG VSME, December 2024): energy consumption in MWh with its renewable /
non-renewable breakdown; Scope 1, Scope 2 both ways, Scope 3 where reported, totals and
intensities, in t CO2e. Concept names from EFRAG's VSME taxonomy dump."""

from __future__ import annotations

from reporting.energy import EnergyMix, methodology
from reporting.regimes.base import (
    MWH,
    TCO2E,
    Fact,
    Rendering,
    ReportInput,
    intensity,
    mwh,
    per_revenue,
    significant_decimals,
)
from reporting.regimes.base import tonnes as t
from reporting.taxonomy import vsme_taxonomy

BREAKDOWN_AXIS = "BreakdownOfEnergyConsumptionAxis"


class Vsme:
    key = "vsme"
    name = "VSME basic module (B3 energy and GHG emissions)"
    available = True

    def rendering(self) -> Rendering:
        tax = vsme_taxonomy()
        return Rendering(prefix=tax.prefix, namespace=tax.namespace, schema_ref=tax.entry_point)

    def datapoints(self, data: ReportInput) -> tuple[list[Fact], list[str]]:
        tax = vsme_taxonomy()
        tot = data.totals
        b3 = "B3 Energy and greenhouse gas emissions"
        rows = [
            ("GrossScope1GreenhouseGasEmissions", "Gross Scope 1 GHG emissions", tot.scope_1),
            (
                "GrossLocationBasedScope2GreenhouseGasEmissions",
                "Gross location-based Scope 2 GHG emissions",
                tot.scope_2_location,
            ),
            (
                "GrossMarketBasedScope2GreenhouseGasEmissions",
                "Gross market-based Scope 2 GHG emissions",
                tot.scope_2_market,
            ),
        ]
        rows += [
            (
                "TotalGrossLocationBasedScope1AndScope2GHGEmissions",
                "Total Scope 1 and 2 GHG emissions (location-based)",
                tot.scope_1 + tot.scope_2_location,
            ),
            (
                "TotalGrossMarketBasedScope1AndScope2GHGEmissions",
                "Total Scope 1 and 2 GHG emissions (market-based)",
                tot.scope_1 + tot.scope_2_market,
            ),
        ]
        notes = []
        if tot.scope_3:
            rows.append(
                ("GrossScope3GreenhouseGasEmissions", "Gross Scope 3 GHG emissions", tot.scope_3)
            )
        else:
            notes.append("No Scope 3 emissions are recorded: Scope 3 is not reported.")
        rows += [
            (
                "TotalGrossLocationBasedGHGEmissions",
                "Total GHG emissions (location-based)",
                tot.location,
            ),
            ("TotalGrossMarketBasedGHGEmissions", "Total GHG emissions (market-based)", tot.market),
        ]
        facts = [Fact(tax.qname(c), label, t(kg), TCO2E, 3, section=b3) for c, label, kg in rows]
        loc, mkt = intensity(tot.location, data), intensity(tot.market, data)
        if loc is None or mkt is None:
            notes.append("No net revenue for the period: the intensities are omitted.")
        else:
            unit = per_revenue(data.period.currency)
            facts += [
                Fact(
                    tax.qname("TotalLocationBasedGreenhouseGasEmissionsIntensityValue"),
                    "GHG intensity, location-based",
                    loc,
                    unit,
                    significant_decimals(loc),
                    section=b3,
                ),
                Fact(
                    tax.qname("TotalMarketBasedGreenhouseGasEmissionsIntensityValue"),
                    "GHG intensity, market-based",
                    mkt,
                    unit,
                    significant_decimals(mkt),
                    section=b3,
                ),
            ]
        if data.energy is not None:
            facts += energy_facts(data.energy)
            notes += methodology(data.energy)
        return facts, notes


def energy_facts(mix: EnergyMix) -> list[Fact]:
    """B3 paragraphs 29: total energy and its breakdown on ``BreakdownOfEnergyConsumptionAxis``
    (the total is its default member, so it carries no dimension). Purchased heat, steam and
    cooling count in the total only: B3's breakdown has electricity, self-generated electricity
    and fuels. Self-generated electricity is not recorded: left out."""
    tax = vsme_taxonomy()
    b3 = "B3 Energy consumption (MWh)"
    axis = tax.qname(BREAKDOWN_AXIS)
    renewable = (axis, tax.qname("RenewableEnergyMember"))
    non_renewable = (axis, tax.qname("NonRenewableEnergyMember"))
    rows: list[tuple[str, str, float | None, tuple[str, str] | None]] = [
        ("TotalEnergyConsumption", "Total energy consumption", mix.total, None),
        (
            "EnergyConsumptionFromElectricity",
            "Electricity, renewable",
            mix.electricity_renewable if mix.purchased_complete else None,
            renewable,
        ),
        (
            "EnergyConsumptionFromElectricity",
            "Electricity, non-renewable",
            mix.electricity_non_renewable if mix.purchased_complete else None,
            non_renewable,
        ),
        ("EnergyConsumptionFromElectricity", "Electricity, total", mix.electricity_total, None),
        (
            "EnergyConsumptionFromFuels",
            "Fuels, renewable",
            mix.fuels["renewable"] if mix.fuels_complete else None,
            renewable,
        ),
        (
            "EnergyConsumptionFromFuels",
            "Fuels, non-renewable",
            mix.fuels_non_renewable,
            non_renewable,
        ),
        ("EnergyConsumptionFromFuels", "Fuels, total", mix.fuels_total, None),
    ]
    return [
        Fact(tax.qname(concept), label, mwh(value), MWH, 3, dimension=dim, section=b3)
        for concept, label, value, dim in rows
        if value is not None
    ]
