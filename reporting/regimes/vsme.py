"""VSME basic module B3 (EFRAG VSME, December 2024): Scope 1, Scope 2 both ways, Scope 3 where
reported, totals and intensities, in t CO2e. Concept names from EFRAG's VSME taxonomy dump."""

from __future__ import annotations

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
from reporting.taxonomy import vsme_taxonomy


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
        notes.append("Energy consumption (MWh) is not yet derived from the energy activities.")
        return facts, notes
