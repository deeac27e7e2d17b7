"""Scope 2 market-based electricity by the GHG Protocol Scope 2 Guidance (2015), section 6.11.

The market-based figure of each electricity row follows the Guidance's hierarchy (Table 6.3):
contractual instruments for the site and time (energy attribute certificates, PPAs, green
tariffs) -> the supplier's emission rate -> the residual mix of the country -> the location-based
grid average, used and disclosed when nothing else exists. An instrument that covers fewer MWh
than the rows it applies to covers them in date order (the first kWh consumed in its period are
the first covered; rows of one day in ``order``): the rows before the MWh run out are covered
whole, the row where they run out in part, the later ones not; the rest of each row's kWh falls
to the next step of the hierarchy. The caller passes every row of the site in the instrument's
period (whatever import it came from), so the allocation does not depend on how the rows were
imported. The location-based figure is never changed here.

``market_based(...)`` works over whole columns; the only loop is over the (few) instruments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTRACT_KINDS = ("certificate", "ppa", "green_tariff")
SUPPLIER_RATE = "supplier_rate"


@dataclass(frozen=True)
class Instrument:
    """A contract as the calculation needs it: ``kwh_covered`` None covers all of the site's
    consumption in [start, end]."""

    id: int
    kind: str
    site: int
    start: np.datetime64
    end: np.datetime64
    kwh_covered: float | None
    kg_co2e_per_kwh: float
    carrier: str = "electricity"


@dataclass
class MarketResult:
    kg_co2e: np.ndarray  # market-based kg CO2e per row (NaN where kwh is NaN)
    basis: np.ndarray  # "contractual", "contractual+residual_mix", "supplier", "location"...
    covered_kwh: np.ndarray  # kWh claimed by a contractual instrument
    instrument: np.ndarray  # id of the contractual instrument (-1 none)
    fallback_rate: np.ndarray  # kg CO2e/kWh applied to the kWh no instrument covers
    fallback_instrument: np.ndarray  # id of the supplier-rate instrument (-1 none)
    remaining_kwh: np.ndarray  # kWh left to the fallback
    covered_share: np.ndarray  # share of each row's kWh its instrument covers (0 none)


def market_based(
    *,
    kwh: np.ndarray,
    location_kg: np.ndarray,
    site: np.ndarray,
    day: np.ndarray,
    residual_rate: np.ndarray,
    instruments: list[Instrument],
    supplier_rate: np.ndarray | None = None,
    carrier: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> MarketResult:
    """Market-based kg CO2e of electricity rows.

    ``kwh``: each row's consumption in kWh (NaN: not an electricity row, left as NaN);
    ``location_kg``: its location-based kg CO2e; ``site``: Site id (-1 none); ``day``:
    datetime64[D]; ``residual_rate``: kg CO2e/kWh of the residual mix for the row's country and
    year (NaN where none is published); ``supplier_rate``: kg CO2e/kWh the row's supplier states
    (a Scope 2 supplier factor; NaN none), below a supplier-rate instrument for the site;
    ``carrier``: "electricity" or "heat" per row (all electricity when None): an instrument
    covers rows of its own carrier; the residual mix is given for electricity rows only;
    ``order``: the order of rows of one day (a record's id; the row's position when None).
    A row of zero or negative kWh (a correction) takes no part of a capped instrument's MWh.
    """
    n = len(kwh)
    use = np.isfinite(kwh)
    covered = np.zeros(n)
    shares = np.zeros(n)
    contract_kg = np.zeros(n)
    contract_id = np.full(n, -1, dtype=np.int64)
    fallback = np.full(n, np.nan)
    fallback_id = np.full(n, -1, dtype=np.int64)
    fallback_basis = np.full(n, "", dtype=object)
    rank = np.arange(n) if order is None else np.asarray(order)
    for inst in instruments:
        rows = use & (site == inst.site) & (day >= inst.start) & (day <= inst.end)
        if carrier is not None:
            rows &= carrier == inst.carrier
        if not rows.any():
            continue
        if inst.kind == SUPPLIER_RATE:
            fallback[rows] = inst.kg_co2e_per_kwh
            fallback_id[rows] = inst.id
            fallback_basis[rows] = "supplier"
            continue
        if inst.kwh_covered is None:
            claimed = rows
            covered[rows] = kwh[rows]
        else:
            claimed = _claim_in_date_order(
                rows & (kwh > 0), kwh, day, rank, inst.kwh_covered, covered
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            shares[claimed] = np.where(kwh[claimed] > 0, covered[claimed] / kwh[claimed], 1.0)
        contract_kg[claimed] = covered[claimed] * inst.kg_co2e_per_kwh
        contract_id[claimed] = inst.id
    if supplier_rate is not None:
        stated = (fallback_basis == "") & np.isfinite(supplier_rate)
        fallback = np.where(stated, supplier_rate, fallback)
        fallback_basis[stated] = "supplier"
    with np.errstate(invalid="ignore", divide="ignore"):
        location_rate = np.where(kwh > 0, location_kg / np.where(kwh > 0, kwh, 1.0), 0.0)
    residual = (fallback_basis == "") & np.isfinite(residual_rate) & (residual_rate > 0)
    fallback = np.where(residual, residual_rate, fallback)
    fallback_basis[residual] = "residual_mix"
    location = fallback_basis == ""
    fallback = np.where(location, location_rate, fallback)
    fallback_basis[location] = "location"

    remaining = np.where(use, kwh - covered, 0.0)
    kg = np.where(use, contract_kg + remaining * fallback, np.nan)
    contractual = covered > 0
    partial = remaining > 1e-9 * np.maximum(np.abs(kwh), 1.0)
    basis = np.where(
        contractual & partial,
        "contractual+" + fallback_basis.astype(str),
        np.where(contractual, "contractual", fallback_basis.astype(str)),
    ).astype(object)
    basis[~use] = ""
    return MarketResult(kg, basis, covered, contract_id, fallback, fallback_id, remaining, shares)


def _claim_in_date_order(
    rows: np.ndarray,
    kwh: np.ndarray,
    day: np.ndarray,
    rank: np.ndarray,
    kwh_covered: float,
    covered: np.ndarray,
) -> np.ndarray:
    """Cover ``kwh_covered`` of the ``rows`` first-consumed-first (by day, then ``rank``):
    writes each row's covered kWh into ``covered``; returns the rows that got any."""
    where = np.flatnonzero(rows)
    where = where[np.lexsort((rank[where], day[where]))]
    used_before = np.cumsum(kwh[where]) - kwh[where]
    claim = np.clip(kwh_covered - used_before, 0.0, kwh[where])
    covered[where] = claim
    out = np.zeros(len(kwh), dtype=bool)
    out[where[claim > 0]] = True
    return out
