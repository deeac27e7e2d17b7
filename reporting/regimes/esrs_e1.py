"""ESRS E1 (Delegated Regulation (EU) 2023/2772, Annex I): E1-6 gross Scopes 1, 2 and 3 and total
GHG emissions, Scope 3 by GHG Protocol category, intensity per net revenue. Concept names are read
from the EFRAG ESRS Set 1 taxonomy (esrs_cor.xsd)."""

from __future__ import annotations

from emissions.models import Scope3Category
from reporting.regimes.base import (
    TCO2E,
    Fact,
    Rendering,
    ReportInput,
    intensity,
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

        def fact(concept: str, label: str, kg: float, **kw: object) -> Fact:
            return Fact(tax.qname(concept), label, t(kg), TCO2E, 3, section=e16, **kw)  # type: ignore[arg-type]

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
        notes.append(
            "E1-5 energy consumption and mix is not yet derived from the energy activities."
        )
        return facts, notes
