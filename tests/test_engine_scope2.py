"""Scope 2 market-based by the Guidance's hierarchy, computed by hand (no database).

Scope 2 Guidance (2015), chapter 6 and Table 6.3: contractual instruments for the kWh they cover,
then the supplier's rate, then the residual mix, then the location-based grid average (disclosed).
"""

from __future__ import annotations

import numpy as np
import pytest

from emissions.engine.scope2 import Instrument, market_based

D = np.datetime64


def _instrument(site: int, kind: str, kwh: float | None, rate: float, id_: int = 1) -> Instrument:
    return Instrument(id_, kind, site, D("2024-01-01"), D("2024-12-31"), kwh, rate)


def test_partial_coverage_goes_to_the_first_kwh_and_leaves_location_alone() -> None:
    # A site uses 400 MWh in March and 600 MWh in September; 300 MWh of guarantees of origin at
    # 0 kg cover the first 300 MWh consumed: 300 of March's 400. The rest takes the residual
    # mix, 0.5 kg/kWh. Location-based is 0.4 kg/kWh. Rows come in any order.
    kwh = np.array([600_000.0, 400_000.0])
    location = kwh * 0.4
    result = market_based(
        kwh=kwh,
        location_kg=location,
        site=np.array([7, 7]),
        day=np.array([D("2024-09-30"), D("2024-03-31")]),
        residual_rate=np.array([0.5, 0.5]),
        instruments=[_instrument(7, "certificate", 300_000.0, 0.0)],
    )
    # September: 600,000 x 0.5 = 300,000 kg; March: 100,000 x 0.5 = 50,000 kg.
    assert result.kg_co2e == pytest.approx([300_000.0, 50_000.0])
    assert result.covered_kwh == pytest.approx([0.0, 300_000.0])
    assert result.covered_share == pytest.approx([0.0, 0.75])
    assert list(result.instrument) == [-1, 1]
    assert list(result.basis) == ["residual_mix", "contractual+residual_mix"]
    assert location == pytest.approx([240_000.0, 160_000.0])  # never changed


def test_rows_of_one_day_take_coverage_in_their_order_and_corrections_none() -> None:
    # Three rows of 1 May (ids 30, 10, 20) and a correction of -50 kWh; 150 kWh at 0 kg.
    # By id: 10 gets 100, 20 gets 50 of its 100, 30 none; the correction takes none.
    result = market_based(
        kwh=np.array([100.0, 100.0, 100.0, -50.0]),
        location_kg=np.array([30.0, 30.0, 30.0, -15.0]),
        site=np.array([1, 1, 1, 1]),
        day=np.array([D("2024-05-01")] * 4),
        residual_rate=np.array([0.5] * 4),
        instruments=[_instrument(1, "ppa", 150.0, 0.0)],
        order=np.array([30, 10, 20, 5]),
    )
    assert result.covered_kwh == pytest.approx([0.0, 100.0, 50.0, 0.0])
    # 100 x 0.5; 0; 50 x 0.5; -50 x 0.5.
    assert result.kg_co2e == pytest.approx([50.0, 0.0, 25.0, -25.0])
    assert list(result.basis) == [
        "residual_mix",
        "contractual",
        "contractual+residual_mix",
        "residual_mix",
    ]


def test_it_follows_the_hierarchy_to_the_location_fallback() -> None:
    kwh = np.array([1000.0, 1000.0, 1000.0, 1000.0, 1000.0, np.nan])
    result = market_based(
        kwh=kwh,
        location_kg=kwh * 0.3,
        site=np.array([1, 2, 3, 4, 1, 1]),
        day=np.array([D("2024-05-01")] * 4 + [D("2025-02-01"), D("2024-05-01")]),
        residual_rate=np.array([0.6, 0.6, 0.6, np.nan, 0.6, 0.6]),
        instruments=[
            _instrument(1, "green_tariff", None, 0.0, 1),  # all of site 1 in 2024
            _instrument(2, "supplier_rate", None, 0.25, 2),
            _instrument(3, "ppa", 400.0, 0.1, 3),
        ],
    )
    # site 1: 1000 x 0; site 2: 1000 x 0.25; site 3: 400 x 0.1 + 600 x 0.6 = 400;
    # site 4: no instrument, no residual mix: 1000 x 0.3 location-based, disclosed;
    # site 1 in 2025: outside the tariff's period, residual mix 1000 x 0.6; not electricity: NaN.
    assert result.kg_co2e[:5] == pytest.approx([0.0, 250.0, 400.0, 300.0, 600.0])
    assert np.isnan(result.kg_co2e[5])
    assert list(result.basis) == [
        "contractual",
        "supplier",
        "contractual+residual_mix",
        "location",
        "residual_mix",
        "",
    ]


def test_it_uses_a_stated_supplier_rate_below_a_contract() -> None:
    result = market_based(
        kwh=np.array([2000.0]),
        location_kg=np.array([400.0]),
        site=np.array([-1]),
        day=np.array([D("2024-05-01")]),
        residual_rate=np.array([0.5]),
        instruments=[],
        supplier_rate=np.array([0.05]),
    )
    assert result.kg_co2e == pytest.approx([100.0])
    assert list(result.basis) == ["supplier"]
