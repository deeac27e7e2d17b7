"""The preparation of an import, shared by the wizard, the commit job and the ``import_activities``
command: validate the rows, give every distinct activity a factor, and calculate every valid row.
Nothing is written here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emissions.engine.calculate import assumptions_of
from emissions.engine.units import unit_dimension
from emissions.factor_keys import library_key, supplier_key
from emissions.inventory import (
    DEFAULT_GWP_SET,
    compute,
    factor_frame,
)
from emissions.scope2 import (
    CARRIER_OF_KIND,
    LIFE_CYCLE_WARNING,
    apply_market_based,
    life_cycle_factor_ids,
    location_notes,
)
from factors.matching import match_factors
from imports.errors import ImportInputError
from imports.models import FactorChoice
from imports.pipeline import (
    Mapping,
    PipelineError,
    ReadResult,
    ValidationResult,
    filter_rows,
    validate,
)
from imports.regions import RowRegions, row_regions, row_years, vintage_for

# Distinct activities matched automatically in one validation.
MAX_AUTO_MATCH = 500
# Library factor kinds whose value depends on where the activity happens.
REGIONAL_KINDS = ("grid_electricity", "heat_steam")


# --------------------------------------------------------------------------------------------
# factor assignment and calculation


def activity_key(text: str) -> str:
    return " ".join(str(text).casefold().split())[:300]


def activity_keys(texts: pd.Series) -> pd.Series:
    """activity_key of every row, computed once per distinct text."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    keys = np.array([activity_key(t) for t in uniques] + [""], dtype=object)
    return pd.Series(keys[codes], index=texts.index, dtype="object")


@dataclass
class ActivityChoiceRow:
    """One distinct activity of a file and the factor it will be computed with."""

    activity: str
    key: str
    unit_dimension: str
    rows: int
    factor_id: int | None = None
    supplier_factor_id: int | None = None
    remembered: bool = False
    candidates: list[Any] = field(default_factory=list)
    region: str = "GLOBAL"
    year: int | None = None
    # Set when the factor's edition is more than VINTAGE_GAP_YEARS from the activity's year.
    vintage_note: str = ""
    # Set when the factor taken only relates to what the activity names (no factor names it).
    match_note: str = ""
    # A Scope 2 supplier factor (a green tariff's rate) counts for market-based only, as the
    # supplier's emission rate; the location-based figure keeps the grid's factor.
    market_supplier_factor_id: int | None = None
    market_rate: float | None = None
    # When no factor of the quantity's dimension matches: the nearest factors of any dimension,
    # so the row error can say what unit they need (never picked silently).
    nearest: list[Any] = field(default_factory=list)

    @property
    def factor_key(self) -> str | None:
        if self.supplier_factor_id:
            return supplier_key(self.supplier_factor_id)
        if self.factor_id:
            return library_key(self.factor_id)
        return None


def distinct_activities(
    data: pd.DataFrame, valid: pd.Series, regions: RowRegions | None = None
) -> pd.DataFrame:
    """Distinct (activity key, unit dimension, region, year) of the valid rows, with a sample text
    and a count: each row's factor is chosen for its own region and year."""
    rows = data.loc[valid.to_numpy()]
    columns = ["key", "dimension", "region", "year", "activity", "rows"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    region = (
        regions.region.loc[rows.index]
        if regions is not None
        else pd.Series("GLOBAL", index=rows.index)
    )
    frame = pd.DataFrame(
        {
            "key": activity_keys(rows["activity"]),
            "dimension": _dimensions(rows),
            "region": region.astype(str),
            "year": row_years(rows),
            "activity": rows["activity"].astype(str),
        },
        index=rows.index,
    )
    grouped = frame.groupby(["key", "dimension", "region", "year"], sort=False)
    out = grouped.agg(activity=("activity", "first"), rows=("activity", "size")).reset_index()
    return out.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def _dimensions(rows: pd.DataFrame) -> np.ndarray:
    """Each row's unit dimension ('volume', 'energy'...; 'money' for spend rows), per distinct unit."""
    if "unit" not in rows:
        return np.full(len(rows), "money", dtype=object)
    codes, uniques = pd.factorize(rows["unit"])
    names = np.array([unit_dimension(u) for u in uniques] + ["money"], dtype=object)
    return names[codes]


def _current_equivalents(factor_ids: set[int]) -> dict[int, int]:
    """For factors of superseded dataset versions, the same publisher id in the current version."""
    from factors.models import EmissionFactor

    if not factor_ids:
        return {}
    stale = list(
        EmissionFactor.objects.filter(id__in=factor_ids, dataset__is_current=False).values_list(
            "id", "dataset__key", "publisher_id"
        )
    )
    if not stale:
        return {}
    current = EmissionFactor.objects.filter(
        dataset__is_current=True,
        dataset__key__in={key for _, key, _ in stale},
        publisher_id__in={pid for _, _, pid in stale},
    ).values_list("id", "dataset__key", "publisher_id")
    by_identity = {(key, pid): fid for fid, key, pid in current}
    return {fid: by_identity[(key, pid)] for fid, key, pid in stale if (key, pid) in by_identity}


def _supplier_candidates() -> list[Any]:
    try:
        from emissions.selectors import supplier_factor_candidates
    except ImportError:
        return []
    return list(supplier_factor_candidates())


def _regional_factors(factor_ids: set[int]) -> dict[int, str]:
    """The region of each library factor whose value depends on where it is used (grid
    electricity, heat and steam): such a factor is never carried to a row of another region."""
    from factors.models import EmissionFactor

    if not factor_ids:
        return {}
    return dict(
        EmissionFactor.objects.filter(id__in=factor_ids, kind__in=REGIONAL_KINDS).values_list(
            "id", "region"
        )
    )


# kg CO2e per kWh of one unit of a supplier factor stated per these units.
_PER_KWH = {"kWh": 1.0, "MWh": 1e-3}


def _supplier_electricity_rates() -> dict[int, float]:
    """Scope 2 supplier factors per kWh or MWh: their rate in kg CO2e per kWh."""
    from emissions.models import Scope, SupplierFactor

    return {
        fid: value * _PER_KWH[unit]
        for fid, unit, value in SupplierFactor.objects.filter(
            scope=Scope.SCOPE_2, unit__in=list(_PER_KWH)
        ).values_list("id", "unit", "kg_co2e")
    }


def _grid_behind_supplier(
    choice: ActivityChoiceRow,
    rates: dict[int, float],
    matched: dict[tuple[Any, ...], list[Any]],
    region: str,
    year: int | None,
) -> None:
    """Move a Scope 2 supplier factor to the market-based side and give the row the library's
    grid factor for its region as the location-based one (Scope 2 Guidance, chapter 6)."""
    supplier_id = choice.supplier_factor_id or 0
    choice.market_supplier_factor_id = supplier_id
    choice.market_rate = rates[supplier_id]
    choice.supplier_factor_id = None
    choice.factor_id = None
    text = _MATCH_NOISE.sub(" ", choice.activity).strip() or choice.activity
    cache_key = ("grid", text.casefold(), region, year)
    if cache_key not in matched:
        matched[cache_key] = match_factors(
            description=text, unit="kWh", region=region, year=year, limit=8
        )
    library = [c for c in matched[cache_key] if c.factor.source != "supplier"]
    if library:
        choice.factor_id = library[0].factor.factor_id


def assign_factors(
    distinct: pd.DataFrame,
    *,
    overrides: dict[tuple[str, ...], dict[str, Any]] | None = None,
    with_candidates: bool = False,
) -> list[ActivityChoiceRow]:
    """The factor for each distinct (activity, dimension, region, year): the run's own choice, the
    tenant's remembered choice, else the best match of the matching service for the row's region
    and year; a library factor then moves to its edition for the year (``vintage_for``)."""
    overrides = overrides or {}
    remembered = {
        (c.activity_key, c.unit_dimension): c
        for c in FactorChoice.objects.filter(activity_key__in=list(distinct["key"]))
    }
    newer = _current_equivalents(
        {c.factor_id for c in remembered.values() if c.factor_id}
        | {o["factor_id"] for o in overrides.values() if o.get("factor_id")}
    )
    regional = _regional_factors(
        {c.factor_id for c in remembered.values() if c.factor_id} | set(newer.values())
    )
    extra = _supplier_candidates()
    electricity_rates = _supplier_electricity_rates()
    matched: dict[tuple[Any, ...], list[Any]] = {}
    vintages: dict[Any, Any] = {}
    out: list[ActivityChoiceRow] = []
    for item in distinct.itertuples(index=False):
        region = str(item.region)
        year = int(item.year) or None
        choice = ActivityChoiceRow(
            activity=item.activity,
            key=item.key,
            unit_dimension=item.dimension,
            rows=int(item.rows),
            region=region,
            year=year,
        )
        pair = (item.key, item.dimension)
        explicit = overrides.get((*pair, region, str(year or 0))) or overrides.get(pair)
        # A remembered library choice yields to a supplier factor that names the activity (the
        # tenant's own, more specific data); this run's explicit choice never does.
        library_memory = (
            not explicit and pair in remembered and not remembered[pair].supplier_factor_id
        )
        if explicit:
            choice.factor_id = explicit.get("factor_id")
            choice.supplier_factor_id = explicit.get("supplier_factor_id")
            choice.remembered = True
        elif pair in remembered:
            factor_id = newer.get(remembered[pair].factor_id or 0, remembered[pair].factor_id)
            if regional.get(factor_id or 0, region) == region:
                choice.factor_id = remembered[pair].factor_id
                choice.supplier_factor_id = remembered[pair].supplier_factor_id
                choice.remembered = True
        if choice.factor_id in newer:
            # A remembered factor from a superseded dataset version: its current edition.
            choice.factor_id = newer[choice.factor_id]
        # Cost-centre numbers and codes ("Diesel KSt 4100") never name a factor: activities
        # that differ only in them share one match; so do a region's years (vintage_for then
        # takes each year's edition). The budget counts distinct matches, not lines.
        text = _MATCH_NOISE.sub(" ", item.activity).strip() or item.activity
        cache_key = (text.casefold(), item.dimension, region)
        budget = cache_key in matched or len(matched) < MAX_AUTO_MATCH
        if (
            with_candidates
            or (choice.factor_key is None and budget)
            or (library_memory and extra and budget)
        ):
            if cache_key not in matched:
                # Spend rows rank as the factor search does for an amount in EUR (the rows'
                # amounts are in EUR by then): per-currency factors first, not the mass factors
                # that share the words (copy paper per kg) and would crowd them out of the list.
                unit = "EUR" if item.dimension == "money" else _unit_for_dimension(item.dimension)
                found = match_factors(
                    description=text,
                    unit=unit,
                    region=region,
                    year=year,
                    limit=8,
                    extra_candidates=extra,
                )
                if item.dimension == "money":
                    found = [c for c in found if c.factor.unit_dimension == "money"]
                matched[cache_key] = found
            candidates = matched[cache_key]
            choice.candidates = candidates
            if library_memory and candidates and candidates[0].factor.source == "supplier":
                choice.factor_id = None
                choice.supplier_factor_id = candidates[0].factor.factor_id
            elif choice.factor_key is None and candidates:
                best = candidates[0].factor
                if best.source == "supplier":
                    choice.supplier_factor_id = best.factor_id
                else:
                    choice.factor_id = best.factor_id
                choice.match_note = _related_only(candidates[0])
            if choice.factor_key is None and not candidates and item.dimension != "money":
                near_key = ("nearest", text.casefold(), region)
                if near_key not in matched:
                    matched[near_key] = _nearest_of_other_units(text, item.dimension, region, year)
                choice.nearest = matched[near_key]
        if choice.supplier_factor_id in electricity_rates:
            _grid_behind_supplier(choice, electricity_rates, matched, region, year)
        if choice.factor_id and not choice.supplier_factor_id and not explicit:
            vintage = vintage_for(choice.factor_id, year, vintages)
            choice.factor_id = vintage.factor_id
            choice.vintage_note = vintage.note
        out.append(choice)
    return out


_MATCH_NOISE = re.compile(r"(?<!\w)\d[\d.,/-]*(?!\w)")

_DIMENSION_UNIT = {
    "volume": "L",
    "mass": "kg",
    "energy": "kWh",
    "distance": "km",
    "passenger distance": "passenger * km",
    "freight (mass x distance)": "tonne * km",
    "count (room-nights)": "room_night",
}


def _nearest_of_other_units(text: str, dimension: str, region: str, year: int | None) -> list[Any]:
    """The best three factors for ``text`` among the other unit dimensions (a flight given in km
    finds the per passenger.km ones): shown in the row error, never picked."""
    found: list[Any] = []
    for other, unit in _DIMENSION_UNIT.items():
        if other != dimension:
            found += match_factors(description=text, unit=unit, region=region, year=year, limit=3)
    return sorted(found, key=lambda c: c.score, reverse=True)[:3]


def _no_factor_text(choice: ActivityChoiceRow | None) -> tuple[str, str]:
    """The row error of an activity no factor of its unit's dimension matches: when the nearest
    factors are of another dimension, what unit they need and which they are."""
    search = "Search the library for one in the factor step, or add a supplier factor."
    if choice is None or not choice.nearest:
        return "No emission factor matches this activity.", search
    from emissions.engine.unit_display import display_unit

    best = choice.nearest[0].factor
    given = choice.unit_dimension
    message = (
        f"The quantity is a {given}, but the nearest factor, “{best.name}”, is per "
        f"{display_unit(best.unit)}: give the quantity in that unit (or add a conversion), or "
        "choose another factor."
    )
    names = "; ".join(
        f"{c.factor.name} (per {display_unit(c.factor.unit)})" for c in choice.nearest[:3]
    )
    return message, f"Nearest factors: {names}. {search}"


def _related_only(candidate: Any) -> str:
    """What the check page says when the factor taken names a related thing, not the activity's
    own (steel bought where the library's region has only "Fabricated metal products")."""
    reasons = candidate.reasons
    if any(r.startswith(("names ", "exact key")) for r in reasons):
        return ""
    related = next((r for r in reasons if r.startswith("related to ")), "")
    if not related:
        return ""
    return (
        f"no factor names it; “{candidate.factor.name}” is {related}: check it in the factor "
        "step, or choose another."
    )


def _unit_for_dimension(dimension: str) -> str | None:
    return _DIMENSION_UNIT.get(dimension)


@dataclass
class Prepared:
    """A file validated, assigned factors and calculated: everything but the write."""

    frame: pd.DataFrame
    result: ValidationResult
    valid: pd.Series
    errors: pd.DataFrame
    choices: list[ActivityChoiceRow]
    calculated: pd.DataFrame
    activity_keys: pd.Series
    # Rows the mapping's row filter left out (not errors, not imported).
    n_excluded: int = 0

    @property
    def n_rows(self) -> int:
        return len(self.valid)

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())

    @property
    def n_invalid(self) -> int:
        return self.n_rows - self.n_valid

    @property
    def assumptions(self) -> list[dict[str, Any]]:
        """Every assumption made, one short text each with its row count: how cells were read
        (pipeline) and how rows were calculated (engine conversion notes, AR6 methane)."""
        return [*self.result.assumptions, *assumptions_of(self.calculated)]

    @property
    def kg_co2e(self) -> float:
        ok = self.calculated.loc[self.valid[self.valid].index.intersection(self.calculated.index)]
        return float(ok["kg_co2e"].sum()) if not ok.empty else 0.0

    def as_validation(self) -> ValidationResult:
        return ValidationResult(
            data=self.result.data,
            valid=self.valid,
            errors=self.errors,
            detected=self.result.detected,
            mapping=self.result.mapping,
            notes=self.result.notes,
        )

    def error_records(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.as_validation().error_records(limit)


def prepare(
    read: ReadResult,
    mapping: Mapping,
    *,
    frame: pd.DataFrame | None = None,
    natives: dict[str, np.ndarray] | None = None,
    overrides: dict[tuple[str, ...], dict[str, Any]] | None = None,
    gwp_set: str = DEFAULT_GWP_SET,
    region: pd.Series | str | None = None,
) -> Prepared:
    """Validate, give every distinct activity a factor, and calculate every valid row.

    ``region``: each row's region where the caller knows one (Series indexed like ``frame``;
    sites, organisation), else the row's country; see ``imports.pipeline.validate``."""
    frame = read.frame if frame is None else frame
    natives = read.native_numbers if natives is None else natives
    try:
        mapping.check(list(frame.columns))
        kept = filter_rows(frame, mapping.row_filter, natives)
        frame, natives = kept.frame, kept.native_numbers
        result = validate(
            frame,
            mapping,
            native_numbers=natives,
            region=region,
            default_region=default_region(),
        )
    except PipelineError as exc:
        raise ImportInputError.from_pipeline(exc) from None
    data, valid = result.data, result.valid.copy()
    regions = row_regions(data, mapping)
    distinct = distinct_activities(data, valid, regions)
    choices = assign_factors(distinct, overrides=overrides)
    keys = pd.Series(index=data.index, dtype="object")
    if valid.any():
        act = data.loc[valid.to_numpy(), "activity"]
        keys.loc[act.index] = activity_keys(act)
    calculated, calc_errors = _calculate(data, valid, keys, choices, mapping, gwp_set, regions)
    result.notes.extend(_region_notes(regions, choices, calculated))
    errors = result.errors
    if not calc_errors.empty:
        errors = pd.concat([errors, calc_errors], ignore_index=True).sort_values(
            ["row"], kind="stable"
        )
        valid.loc[calc_errors["row"].to_numpy()] = False
    return Prepared(
        frame,
        result,
        valid,
        errors.reset_index(drop=True),
        choices,
        calculated,
        keys,
        n_excluded=len(read.frame) - len(frame),
    )


def default_region() -> str | None:
    """The country that decides region-dependent units ("gal") of rows that name none."""
    from emissions.selectors_org import organisation_country

    return organisation_country()


# Scope 2 energy carriers by the library factor's kind (contracts name their carrier).


def _carriers(factor_keys: pd.Series, library_ids: list[int]) -> pd.Series:
    """Each row's Scope 2 energy carrier ("electricity", "heat", '' for anything else)."""
    from factors.models import EmissionFactor

    kinds = dict(EmissionFactor.objects.filter(id__in=library_ids).values_list("id", "kind"))
    carrier_of = {library_key(i): CARRIER_OF_KIND.get(k, "") for i, k in kinds.items()}
    codes, uniques = pd.factorize(factor_keys.astype(str))
    values = np.array([carrier_of.get(u, "") for u in uniques] + [""], dtype=object)
    return pd.Series(values[codes], index=factor_keys.index)


def combined_codes(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of several factorized columns (0..n-1, in order of
    first appearance) and the row where each combination first appears."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        combined = combined * (int(column.max(initial=-1)) + 2) + (column + 1)
        combined, _ = pd.factorize(combined)
        combined = combined.astype(np.int64)
    _, first = np.unique(combined, return_index=True)
    return combined, first


def _region_notes(
    regions: RowRegions, choices: list[ActivityChoiceRow], calculated: pd.DataFrame
) -> list[dict[str, Any]]:
    """What the preview must say about regions and factors: unknown site names, factors far from
    the activity's year, life-cycle grid intensities used as a fallback."""
    notes: list[dict[str, Any]] = []
    if regions.unknown_sites:
        names = ", ".join(f"“{n}”" for n in regions.unknown_sites[:10])
        notes.append(
            {
                "code": "unknown_sites",
                "message": f"Sites not in Settings: {names}. Their rows take the next known "
                "country (the mapping's, else the organisation's); add them as sites or aliases.",
                "sites": regions.unknown_sites,
            }
        )
    notes.extend(
        {"code": "factor_vintage", "message": f"{c.activity} ({c.region}): {c.vintage_note}"}
        for c in choices
        if c.vintage_note
    )
    notes.extend(
        {"code": "factor_related", "message": f"{c.activity} ({c.region}): {c.match_note}"}
        for c in choices
        if c.match_note and c.factor_key
    )
    notes.extend(location_notes(calculated))
    return notes


def _calculate(
    data: pd.DataFrame,
    valid: pd.Series,
    keys: pd.Series,
    choices: list[ActivityChoiceRow],
    mapping: Mapping,
    gwp_set: str,
    regions: RowRegions | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = data.loc[valid.to_numpy()]
    empty_errors = pd.DataFrame(
        columns=["row", "column", "field", "value", "code", "message", "suggestion"]
    )
    if rows.empty:
        return pd.DataFrame(), empty_errors
    has_unit = rows["unit"].notna() if "unit" in rows else pd.Series(False, index=rows.index)
    dims = _dimensions(rows)
    if regions is None:
        regions = row_regions(data, mapping)
    region = regions.region.loc[rows.index].astype(str)
    years = row_years(rows)
    # Each row's factor through its distinct (activity key, dimension, region, year): integer
    # codes per column, combined, then one lookup per distinct group; no per-row Python.
    chosen = [c for c in choices if c.factor_key]
    columns = [keys.loc[rows.index].to_numpy(), dims, region.to_numpy(), years.to_numpy()]
    factorized = [pd.factorize(col) for col in columns]
    group_codes, first = combined_codes([codes for codes, _ in factorized])
    position_of = {
        (c.key, c.unit_dimension, c.region, c.year or 0): i for i, c in enumerate(chosen)
    }
    group_position = np.array(
        [position_of.get(tuple(col[f] for col in columns), -1) for f in first] + [-1],
        dtype=np.int64,
    )
    positions = group_position[group_codes]
    names = np.array([c.factor_key for c in chosen] + [""], dtype=object)
    factor_keys = pd.Categorical(names[positions])

    activities = pd.DataFrame(index=rows.index)
    quantity = rows["quantity"] if "quantity" in rows else pd.Series(np.nan, index=rows.index)
    amount = rows["amount"] if "amount" in rows else pd.Series(np.nan, index=rows.index)
    activities["quantity"] = quantity.where(has_unit, amount).astype("float64")
    activities["unit"] = (
        rows["unit"].astype("category").cat.add_categories([""]).fillna("")
        if "unit" in rows
        else ""
    )
    activities["currency"] = rows["currency"].astype("category") if "currency" in rows else None
    activities["factor_key"] = factor_keys
    date = rows["date"] if "date" in rows else rows.get("period_start")
    activities["date"] = date
    activities["is_correction"] = rows.get("is_correction", False)
    # The row's region picks regional fuel properties (US natural gas: EPA heat content).
    activities["region"] = rows["region"] if "region" in rows else rows.get("country")
    if "scope" in rows:
        activities["scope"] = rows["scope"]
    if "category" in rows:
        activities["scope3_category"] = rows["category"]

    lib_ids = [c.factor_id for c in choices if c.factor_id and not c.supplier_factor_id]
    sup_ids = [c.supplier_factor_id for c in choices if c.supplier_factor_id]
    factors = factor_frame(factor_ids=lib_ids, supplier_factor_ids=sup_ids)

    missing = (activities["factor_key"] == "").to_numpy()
    computable = activities.loc[~missing]
    calculated = (
        compute(computable, factors, gwp_set=gwp_set) if not computable.empty else pd.DataFrame()
    )

    error_frames = []
    if missing.any():
        activity_col = mapping.source_of("activity") or "activity"
        miss = rows.loc[missing]
        # Per distinct group, as the factor lookup above: the nearest factors of another unit.
        near = {
            (c.key, c.unit_dimension, c.region, c.year or 0): _no_factor_text(c)
            for c in choices
            if not c.factor_key
        }
        texts = [near.get(tuple(col[f] for col in columns), _no_factor_text(None)) for f in first]
        texts.append(_no_factor_text(None))
        picked = [texts[g] for g in group_codes[missing]]
        error_frames.append(
            pd.DataFrame(
                {
                    "row": miss.index.to_numpy(),
                    "column": activity_col,
                    "field": "activity",
                    "value": miss["activity"].astype(str).to_numpy(),
                    "code": "no_factor",
                    "message": [m for m, _ in picked],
                    "suggestion": [h for _, h in picked],
                }
            )
        )
    if not calculated.empty and not calculated["ok"].all():
        bad = calculated.loc[~calculated["ok"].astype(bool)]
        unit_col = mapping.source_of("unit") or mapping.source_of("currency") or "unit"
        details = bad["error"]
        error_frames.append(
            pd.DataFrame(
                {
                    "row": bad.index.to_numpy(),
                    "column": unit_col,
                    "field": "unit",
                    "value": [str((d or {}).get("value", "")) for d in details],
                    "code": "calculation",
                    "message": [
                        str((d or {}).get("message", "This row cannot be calculated."))
                        for d in details
                    ],
                    "suggestion": [str((d or {}).get("suggestion") or "") for d in details],
                }
            )
        )
    errors = pd.concat(error_frames, ignore_index=True) if error_frames else empty_errors
    if not calculated.empty:
        calculated["factor_key"] = computable["factor_key"]
        index = calculated.index
        rates = np.array(
            [np.nan if c.market_rate is None else c.market_rate for c in chosen] + [np.nan]
        )
        apply_market_based(
            calculated,
            dates=activities.loc[index, "date"],
            site_ids=regions.site_id.loc[index],
            regions=region.loc[index],
            years=years.loc[index],
            supplier_rates=pd.Series(rates[positions], index=rows.index).loc[index],
            carriers=_carriers(computable["factor_key"], lib_ids),
        )
        calculated["region"] = region.loc[index]
        calculated["region_why"] = regions.why.loc[index]
        vintage_notes = np.array([c.vintage_note for c in chosen] + [""], dtype=object)
        calculated["vintage_note"] = pd.Series(vintage_notes[positions], index=rows.index).loc[
            index
        ]
        life_cycle = life_cycle_factor_ids(set(lib_ids))
        warned = computable["factor_key"].astype(str).isin([library_key(i) for i in life_cycle])
        # One shared text object per warned row (np.where would make a fixed-width array of
        # the warning's length on every row: 600 MB for a million rows).
        location_note = np.full(len(calculated), "", dtype=object)
        location_note[
            warned.to_numpy() & (calculated["scope"].astype(str) == "scope_2").to_numpy()
        ] = LIFE_CYCLE_WARNING
        calculated["location_note"] = location_note
    return calculated, errors
