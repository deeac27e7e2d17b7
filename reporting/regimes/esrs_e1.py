"""ESRS E1 (Delegated Regulation (EU) 2023/2772, Annex I): E1-5 energy consumption and mix
(paragraphs 37-38, AR 34), E1-6 gross Scopes 1, 2 and 3 and total GHG emissions, Scope 3 by GHG
Protocol category, intensity per net revenue. Concept names are read from the EFRAG ESRS Set 1
taxonomy (esrs_cor.xsd)."""

from __future__ import annotations

from collections.abc import Callable

from emissions.models import Scope3Category
from reporting.energy import EnergyMix, methodology
from reporting.regimes.base import (
    MWH,
    PURE,
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
from reporting.taxonomy import esrs_taxonomy

CATEGORY_AXIS = "Scope3GHGEmissionsCategoryGHGProtocolAxis"


class EsrsE1:
    key = "esrs_e1"
    name = "ESRS E1 Climate change"
    available = True

    def rendering(self) -> Rendering:
        tax = esrs_taxonomy()
        return Rendering(prefix=tax.prefix, namespace=tax.namespace, schema_ref=tax.entry_point)

    def datapoints(self, data: ReportInput) -> tuple[list[Fact], list[str]]:
        tax = esrs_taxonomy()
        tot = data.totals
        e16 = "E1-6 Gross Scopes 1, 2, 3 and total GHG emissions"

        def fact(concept: str, label: str, kg: float, section: str = e16, **kw: object) -> Fact:
            return Fact(tax.qname(concept), label, t(kg), TCO2E, 3, section=section, **kw)  # type: ignore[arg-type]

        facts = [
            fact("GrossScope1GreenhouseGasEmissions", "Gross Scope 1 GHG emissions", tot.scope_1),
            fact(
                "GrossLocationBasedScope2GreenhouseGasEmissions",
                "Gross location-based Scope 2 GHG emissions",
                tot.scope_2_location,
            ),
            fact(
                "GrossMarketBasedScope2GreenhouseGasEmissions",
                "Gross market-based Scope 2 GHG emissions",
                tot.scope_2_market,
            ),
            fact("GrossScope3GreenhouseGasEmissions", "Gross Scope 3 GHG emissions", tot.scope_3),
            fact(
                "LocationBasedGreenhouseGasEmissions",
                "Total GHG emissions (location-based)",
                tot.location,
            ),
            fact(
                "MarketBasedGreenhouseGasEmissions",
                "Total GHG emissions (market-based)",
                tot.market,
            ),
        ]
        axis = tax.qname(CATEGORY_AXIS)
        for row in data.categories:
            if row.key is None:
                continue
            label = str(Scope3Category(row.key).label)
            member = tax.member(rf"Category{row.key}[A-Z][A-Za-z]+Member", words=label)
            facts.append(
                fact(
                    "GrossScope3GreenhouseGasEmissions",
                    f"Scope 3: {label}",
                    row.location,
                    dimension=(axis, member),
                    section="E1-6 Scope 3 by GHG Protocol category",
                )
            )
        notes = []
        cur = data.period.currency
        loc, mkt = intensity(tot.location, data), intensity(tot.market, data)
        if loc is None or mkt is None:
            notes.append("No net revenue for the period: the intensity per net revenue is omitted.")
        else:
            unit = per_revenue(cur)
            facts += [
                Fact(
                    tax.qname("GHGEmissionsIntensityLocationbasedTotalGHGEmissionsPerNetRevenue"),
                    f"GHG intensity per net revenue, location-based (t CO2e per {cur})",
                    loc,
                    unit,
                    significant_decimals(loc),
                    section=e16,
                ),
                Fact(
                    tax.qname("GHGEmissionsIntensityMarketbasedTotalGHGEmissionsPerNetRevenue"),
                    f"GHG intensity per net revenue, market-based (t CO2e per {cur})",
                    mkt,
                    unit,
                    significant_decimals(mkt),
                    section=e16,
                ),
            ]
        if data.energy is not None:
            facts += energy_facts(data.energy)
            notes += methodology(data.energy)
        return facts, notes


# ESRS E1 paragraphs 37-38 (E1-5): concept, label, the EnergyMix figure (MWh; None: unknown).
ENERGY_DATAPOINTS: tuple[tuple[str, str, Callable[[EnergyMix], float | None]], ...] = (
    (
        "FuelConsumptionFromCoalAndCoalProducts",
        "Fuel consumption from coal and coal products",
        lambda m: m.fuels["coal"] if m.fuels_complete else None,
    ),
    (
        "FuelConsumptionFromCrudeOilAndPetroleumProducts",
        "Fuel consumption from crude oil and petroleum products",
        lambda m: m.fuels["oil"] if m.fuels_complete else None,
    ),
    (
        "FuelConsumptionFromNaturalGas",
        "Fuel consumption from natural gas",
        lambda m: m.fuels["gas"] if m.fuels_complete else None,
    ),
    (
        "FuelConsumptionFromOtherFossilSources",
        "Fuel consumption from other fossil sources",
        lambda m: m.fuels["other_fossil"] if m.fuels_complete else None,
    ),
    (
        "ConsumptionOfPurchasedOrAcquiredElectricityHeatSteamOrCoolingFromFossilSources",
        "Purchased or acquired electricity, heat, steam and cooling from fossil sources",
        lambda m: m.purchased_fossil,
    ),
    (
        "EnergyConsumptionFromFossilSources",
        "Total energy consumption from fossil sources",
        lambda m: m.fossil,
    ),
    (
        "EnergyConsumptionFromNuclearSources",
        "Total energy consumption from nuclear sources",
        lambda m: m.nuclear,
    ),
    (
        "FuelConsumptionFromRenewableSources",
        "Fuel consumption from renewable sources",
        lambda m: m.fuels["renewable"] if m.fuels_complete else None,
    ),
    (
        "ConsumptionOfPurchasedOrAcquiredElectricityHeatSteamAndCoolingFromRenewableSources",
        "Purchased or acquired electricity, heat, steam and cooling from renewable sources",
        lambda m: m.purchased_renewable,
    ),
    (
        "EnergyConsumptionFromRenewableSources",
        "Total energy consumption from renewable sources",
        lambda m: m.renewable,
    ),
    (
        "EnergyConsumptionRelatedToOwnOperations",
        "Total energy consumption related to own operations",
        lambda m: m.total,
    ),
)
# ESRS E1 AR 34: shares of the total energy consumption.
ENERGY_SHARES: tuple[tuple[str, str, Callable[[EnergyMix], float | None]], ...] = (
    (
        "PercentageOfFossilSourcesInTotalEnergyConsumption",
        "Share of fossil sources in total energy consumption",
        lambda m: m.share(m.fossil),
    ),
    (
        "PercentageOfEnergyConsumptionFromNuclearSourcesInTotalEnergyConsumption",
        "Share of nuclear sources in total energy consumption",
        lambda m: m.share(m.nuclear),
    ),
    (
        "PercentageOfRenewableSourcesInTotalEnergyConsumption",
        "Share of renewable sources in total energy consumption",
        lambda m: m.share(m.renewable),
    ),
)


def energy_facts(mix: EnergyMix) -> list[Fact]:
    """E1-5 facts for every figure the records tell; unknown ones are left out."""
    tax = esrs_taxonomy()
    e15 = "E1-5 Energy consumption and mix"
    facts = [
        Fact(tax.qname(concept), label, mwh(value), MWH, 3, section=e15)
        for concept, label, figure in ENERGY_DATAPOINTS
        if (value := figure(mix)) is not None
    ]
    facts += [
        Fact(tax.qname(concept), label, round(value, 4), PURE, 4, section=e15, scale=-2)
        for concept, label, figure in ENERGY_SHARES
        if (value := figure(mix)) is not None
    ]
    return facts
