"""Scope 2 of an import's calculated rows: the market-based figure from the tenant's contracts and
the residual mix (emissions.engine.scope2 does the arithmetic), and the label of a location-based
factor that is only a fallback (life-cycle intensities are not generation factors)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from emissions.engine.scope2 import Instrument, market_based
from emissions.factor_keys import factor_key_id, is_library_key

# Our World in Data's grid intensities are life-cycle values (IPCC AR5 WG III Annex III), not the
# direct generation factors the Scope 2 Guidance asks for: used only when no dataset has one.
LIFE_CYCLE_FAMILIES = ("owid_grid",)
LIFE_CYCLE_WARNING = (
    "Location-based Scope 2 uses a life-cycle grid intensity (Our World in Data) because no "
    "generation factor for this region is in the library: it overstates direct emissions."
)


# Scope 2 energy carriers by the library factor's kind (as the import reads them).
CARRIER_OF_KIND = {"grid_electricity": "electricity", "heat_steam": "heat"}


# Direct-emission grid generation factors by dataset family: what the location-based figure
# took, and why, stored with each row (provenance "location_source") and said in the preview.
GENERATION_SOURCES = {
    "aib_residual_mix": (
        "Location-based Scope 2 uses the AIB production mix ({region} {year}, {value} kg CO2 "
        "per kWh): the direct CO2 emissions of the country's electricity generation per kWh "
        "produced (Association of Issuing Bodies, European Residual Mix, via the ignite factor "
        "database; CO2 only, no upstream, imports or grid losses), the grid-average generation "
        "factor the GHG Protocol Scope 2 Guidance asks for, used before Our World in Data's "
        "life-cycle intensity."
    ),
}


def location_sources(calculated: pd.DataFrame) -> np.ndarray:
    """Per row of an import's calculation, the text saying which dataset gave a Scope 2 row its
    direct generation factor and why ('' on other rows); one lookup per distinct factor."""
    from factors.models import EmissionFactor

    out = np.full(len(calculated), "", dtype=object)
    if calculated.empty or "factor_key" not in calculated:
        return out
    keys = calculated["factor_key"].astype(str)
    codes, uniques = pd.factorize(keys)
    ids = {factor_key_id(k): k for k in uniques if is_library_key(k)}
    texts = {
        ids[fid]: GENERATION_SOURCES[family].format(region=region, year=year, value=f"{value:g}")
        for fid, family, region, year, value in EmissionFactor.objects.filter(
            id__in=list(ids),
            kind="grid_electricity",
            basis="location",
            dataset__family__in=list(GENERATION_SOURCES),
        ).values_list("id", "dataset__family", "region", "year", "kg_co2e")
    }
    if not texts:
        return out
    values = np.array([texts.get(u, "") for u in uniques] + [""], dtype=object)
    scope_2 = (calculated["scope"].astype(str) == "scope_2").to_numpy()
    return np.where(scope_2, values[codes], "")


def location_notes(calculated: pd.DataFrame) -> list[dict[str, Any]]:
    """The preview's notes on location-based Scope 2: a life-cycle intensity used as the
    fallback (a warning), and each direct generation factor used instead (an assumption)."""
    notes: list[dict[str, Any]] = []
    if "location_note" in calculated and (calculated["location_note"] != "").any():
        notes.append({"code": "life_cycle_grid", "message": LIFE_CYCLE_WARNING})
    if "region_why" in calculated:
        why = calculated["region_why"].dropna().astype(str)
        states = why[why.str.contains("without an eGRID subregion", regex=False)].unique()
        if len(states):
            notes.append(
                {
                    "code": "us_state_average",
                    "message": "US sites with a state but no eGRID subregion take the US "
                    "average grid factor (EPA publishes no state-to-subregion table and many "
                    "states are served by several subregions): "
                    + "; ".join(sorted(states))
                    + ". Give each site its eGRID subregion in Settings (EPA's Power Profiler "
                    "finds it by ZIP code).",
                }
            )
    if "location_source" in calculated:
        used = calculated["location_source"]
        notes.extend(
            {"code": "location_source", "message": text}
            for text in used[used != ""].drop_duplicates()
        )
    return notes


def _instruments() -> list[Instrument]:
    from emissions.models import ContractualInstrument

    return [
        Instrument(
            id=c.id,
            kind=c.kind,
            site=c.site_id,
            start=np.datetime64(c.start, "D"),
            end=np.datetime64(c.end, "D"),
            kwh_covered=None if c.mwh_covered is None else c.mwh_covered * 1000.0,
            kg_co2e_per_kwh=c.kg_co2e_per_kwh,
            carrier=c.carrier,
        )
        for c in ContractualInstrument.objects.all()
    ]


def _per_distinct_unit(units: pd.Series) -> np.ndarray:
    """kWh per one unit of each row's converted unit (NaN where it is not energy)."""
    from emissions.engine.errors import EngineError
    from emissions.engine.units import conversion_factor

    def per_kwh(unit: str) -> float:
        try:
            return conversion_factor(unit, "kWh")
        except (EngineError, ValueError, TypeError):
            return np.nan

    codes, uniques = pd.factorize(units)
    values = np.array([per_kwh(u) for u in uniques] + [np.nan])
    return values[codes]


def residual_mix(regions: pd.Series, years: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """kg CO2e/kWh of the residual mix (and its factor id) for each row's country and year: that
    year's, else the nearest earlier, else the earliest published; NaN (-1) where none is
    published or the publisher reports zero (no residual mix computed)."""
    from factors.models import EmissionFactor

    rates = np.full(len(regions), np.nan)
    ids = np.full(len(regions), -1, dtype=np.int64)
    if regions.empty:
        return rates, ids
    published: dict[str, list[tuple[int, float, int]]] = {}
    for fid, region, year, value in EmissionFactor.objects.filter(
        dataset__is_current=True,
        basis="residual_mix",
        kind="grid_electricity",
        region__in=set(regions.dropna().astype(str)),
        kg_co2e__gt=0,
    ).values_list("id", "region", "year", "kg_co2e"):
        published.setdefault(region, []).append((year or 0, value, fid))
    region_codes, region_names = pd.factorize(regions.astype(str))
    year_codes, year_values = pd.factorize(years.astype("int64"))
    codes, pairs = pd.factorize(region_codes * (len(year_values) + 1) + year_codes)
    by_code_rate = np.full(len(pairs) + 1, np.nan)
    by_code_id = np.full(len(pairs) + 1, -1, dtype=np.int64)
    for i, pair in enumerate(pairs):
        region = str(region_names[pair // (len(year_values) + 1)])
        year = int(year_values[pair % (len(year_values) + 1)])
        options = sorted(published.get(region, []))
        if not options:
            continue
        earlier = [o for o in options if o[0] <= year]
        _, by_code_rate[i], by_code_id[i] = earlier[-1] if earlier else options[0]
    return by_code_rate[codes], by_code_id[codes]


def apply_market_based(
    calculated: pd.DataFrame,
    *,
    dates: pd.Series,
    site_ids: pd.Series,
    regions: pd.Series,
    years: pd.Series,
    supplier_rates: pd.Series | None = None,
    carriers: pd.Series | None = None,
) -> pd.DataFrame:
    """Replace the engine's market-based columns of Scope 2 electricity and heat rows (by their
    factor's kind, ``carriers``: "electricity", "heat" or "") by the Guidance's hierarchy; add
    ``scope2_market`` (JSON text per row, '' on other rows). The series are aligned with
    ``calculated``'s index. Without ``carriers``, Scope 2 rows in kWh count as electricity.

    A capped contract is allocated here over these rows only; once written, the records of its
    site are allocated together (``emissions.services_scope2.scope2_market_reallocate``)."""
    calculated["scope2_market"] = ""
    if calculated.empty:
        return calculated
    calculated["location_source"] = location_sources(calculated)
    carrier = (
        carriers.fillna("").astype(str)
        if carriers is not None
        else pd.Series("electricity", index=calculated.index)
    )
    per_kwh = pd.Series(
        _per_distinct_unit(calculated["converted_unit"].astype(str)), index=calculated.index
    )
    energy = (
        calculated["ok"].astype(bool)
        & (calculated["scope"].astype(str) == "scope_2")
        & (carrier != "")
        & per_kwh.notna()
    ).to_numpy()
    if not energy.any():
        return calculated
    index = calculated.index[energy]
    kwh_per_unit = per_kwh.loc[index].to_numpy(dtype="float64")
    result, details = market_of(
        kwh=calculated.loc[index, "quantity_converted"].to_numpy(dtype="float64") * kwh_per_unit,
        kwh_per_unit=kwh_per_unit,
        location_kg=calculated.loc[index, "kg_co2e"].to_numpy(dtype="float64"),
        site=site_ids.loc[index].fillna(-1).to_numpy(dtype="int64"),
        day=pd.to_datetime(dates.loc[index]).to_numpy(dtype="datetime64[D]"),
        regions=regions.loc[index],
        years=years.loc[index],
        carrier=carrier.loc[index].to_numpy(dtype=object),
        supplier_rate=(
            supplier_rates.loc[index].to_numpy(dtype="float64")
            if supplier_rates is not None
            else None
        ),
    )
    market = calculated["kg_co2e_market"].to_numpy(dtype="float64", copy=True)
    market[energy] = result.kg_co2e
    calculated["kg_co2e_market"] = market
    basis = calculated["market_basis"].astype(object).to_numpy(copy=True)
    basis[energy] = result.basis
    calculated["market_basis"] = basis
    texts = np.full(len(calculated), "", dtype=object)
    texts[energy] = details
    calculated["scope2_market"] = texts
    return calculated


def market_of(
    *,
    kwh: np.ndarray,
    kwh_per_unit: np.ndarray,
    location_kg: np.ndarray,
    site: np.ndarray,
    day: np.ndarray,
    regions: pd.Series,
    years: pd.Series,
    carrier: np.ndarray,
    supplier_rate: np.ndarray | None = None,
    order: np.ndarray | None = None,
    instruments: list[Instrument] | None = None,
) -> tuple[Any, np.ndarray]:
    """The market-based result of Scope 2 energy rows (``emissions.engine.scope2``) with the
    tenant's contracts and the library's residual mix, and each row's detail (JSON text)."""
    rates, residual_ids = residual_mix(regions, years)
    # The residual mix is of electricity; heat and steam fall back to location-based.
    rates = np.where(carrier == "electricity", rates, np.nan)
    instruments = _instruments() if instruments is None else instruments
    result = market_based(
        kwh=kwh,
        location_kg=location_kg,
        site=site,
        day=day,
        residual_rate=rates,
        supplier_rate=supplier_rate,
        instruments=instruments,
        carrier=carrier,
        order=order,
    )
    rate_of = {i.id: i.kg_co2e_per_kwh for i in instruments}
    instrument_rates = np.array([rate_of.get(int(i), np.nan) for i in result.instrument])
    stated = np.full(len(kwh), np.nan) if supplier_rate is None else supplier_rate
    return result, _details(result, residual_ids, kwh_per_unit, instrument_rates, stated)


def _details(
    result: Any,
    residual_ids: np.ndarray,
    kwh_per_unit: np.ndarray,
    instrument_rates: np.ndarray,
    stated_rates: np.ndarray,
) -> np.ndarray:
    """Each row's market-based detail as JSON text, made once per distinct detail (a row's
    covered kWh is its share x its kWh, so rows of one contract share one text). With the kWh
    per converted unit and the contract's rate it replays the figure (``emissions.replay``)."""
    location = result.basis.astype(str) == "location"
    parts = pd.DataFrame(
        {
            "basis": result.basis.astype(str),
            "rate": np.where(location, np.nan, result.fallback_rate),
            "instrument": result.instrument,
            "share": result.covered_share,
            "supplier": result.fallback_instrument,
            "residual": np.where(
                pd.Series(result.basis.astype(str)).str.endswith("residual_mix"), residual_ids, -1
            ),
            "kwh_per_unit": kwh_per_unit,
            "instrument_rate": np.where(result.instrument >= 0, instrument_rates, np.nan),
            "stated": stated_rates,
        }
    )
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(parts))
    texts = [json.dumps(_detail(*u), sort_keys=True) for u in uniques]
    return np.array(texts, dtype=object)[codes]


def _detail(
    basis: str,
    rate: float,
    instrument: int,
    share: float,
    supplier: int,
    residual: int,
    kwh_per_unit: float,
    instrument_rate: float,
    stated: float,
) -> dict[str, Any]:
    detail: dict[str, Any] = {"basis": basis, "kwh_per_unit": float(kwh_per_unit)}
    if np.isfinite(stated):
        # The supplier's own rate the row came with (kept for a later re-allocation).
        detail["stated_kg_co2e_per_kwh"] = float(stated)
    if np.isfinite(instrument_rate):
        detail["instrument_kg_co2e_per_kwh"] = float(instrument_rate)
    if np.isfinite(rate):
        detail["fallback_kg_co2e_per_kwh"] = float(rate)
    if instrument >= 0:
        detail["instrument_id"] = int(instrument)
        detail["covered_share"] = float(share)
    if supplier >= 0:
        detail["supplier_rate_instrument_id"] = int(supplier)
    if residual >= 0:
        detail["residual_mix_factor_id"] = int(residual)
    return detail


def life_cycle_factor_ids(factor_ids: set[int]) -> set[int]:
    """The library factors among these that are life-cycle grid intensities."""
    from factors.models import EmissionFactor

    if not factor_ids:
        return set()
    return set(
        EmissionFactor.objects.filter(
            id__in=factor_ids, dataset__family__in=LIFE_CYCLE_FAMILIES
        ).values_list("id", flat=True)
    )


def record_market_based(record: Any, result: pd.DataFrame) -> None:
    """The market-based figure of one edited record (``result``: its one-row engine result),
    by the same hierarchy as an import. Sets kg_co2e_market, market_basis and the provenance's
    scope2_market; a capped contract's share of the record is then set with the other records
    of its site (``emissions.services_scope2.scope2_market_reallocate``)."""
    from emissions.selectors_org import organisation_country, site_key, site_names
    from imports.regions import site_reason, site_region

    provenance = dict(record.provenance or {})
    previous = provenance.get("scope2_market") or {}
    site = site_names().get(site_key(record.site)) if record.site else None
    site_country = site_region(site) if site else None
    region, why = next(
        (value, reason)
        for value, reason in (
            (record.country, "the row's country"),
            (site_country, site_reason(site) if site else ""),
            (provenance.get("region"), provenance.get("region_why") or "as imported"),
            (organisation_country(), "the organisation's country"),
            ("GLOBAL", "no country known: world average"),
        )
        if value
    )
    index = result.index
    kind = record.factor.kind if record.factor_id and record.factor else ""
    carrier = CARRIER_OF_KIND.get(kind, "")
    apply_market_based(
        result,
        dates=pd.Series([pd.Timestamp(record.date)], index=index),
        site_ids=pd.Series([site.id if site else None], index=index, dtype=object),
        regions=pd.Series([region], index=index),
        years=pd.Series([record.date.year], index=index),
        supplier_rates=pd.Series([stated_rate(previous)], index=index, dtype="float64"),
        carriers=pd.Series([carrier], index=index),
    )
    row = result.iloc[0]
    if row["scope2_market"]:
        record.kg_co2e_market = float(row["kg_co2e_market"])
        record.market_basis = str(row["market_basis"])
        provenance["scope2_market"] = json.loads(row["scope2_market"])
        provenance["region"] = region
        provenance["region_why"] = why
    else:
        # No longer Scope 2 energy: the market-based figure is the engine's.
        provenance.pop("scope2_market", None)
    record.provenance = provenance


def stated_rate(detail: dict[str, Any]) -> float:
    """The supplier's own rate (kg CO2e/kWh) a record came with, from its market-based detail
    (NaN none). Details written before it was kept name it only where it was the fallback."""
    if "stated_kg_co2e_per_kwh" in detail:
        return float(detail["stated_kg_co2e_per_kwh"])
    basis = str(detail.get("basis", ""))
    if basis.endswith("supplier") and not detail.get("supplier_rate_instrument_id"):
        return float(detail.get("fallback_kg_co2e_per_kwh", np.nan))
    return float("nan")
