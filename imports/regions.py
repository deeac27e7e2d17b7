"""Which region each row of an import is in, and why, and which year its factor should be from.

Region per row (issue 9): the row's own country > the country of the site the row names (by name
or alias) > the mapping's constant country > the organisation's country > GLOBAL. A file's
majority never decides another row's region. A US site with an eGRID subregion gives that
subregion, so its electricity takes the subregion's factor (EPA GHG Emission Factors Hub).

Vintage per row: a factor's edition for the activity's year, else the nearest earlier one; more
than two years apart is flagged.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from imports.pipeline import Mapping

# A factor more than this many years from the activity's year is flagged (issue 9).
VINTAGE_GAP_YEARS = 2

_EGRID_TABLE = "epa_hub/epa_hub2025_table6_egrid2023_subregions.csv"


@functools.cache
def egrid_subregion_names() -> dict[str, str]:
    """The eGRID subregions of the EPA GHG Emission Factors Hub 2025, Table 6 (eGRID2023), by
    acronym (CAMX: WECC California); the "US Average" row is not a subregion."""
    path = Path(getattr(settings, "BASE_DIR", ".")) / "data" / "raw" / _EGRID_TABLE
    try:
        with path.open(encoding="utf-8") as handle:
            return {
                row["egrid_subregion"]: row["name"]
                for row in csv.DictReader(handle)
                if row["egrid_subregion"] != "US Average"
            }
    except OSError:
        return {}


def egrid_subregions() -> frozenset[str]:
    """The eGRID subregion acronyms of the EPA GHG Emission Factors Hub (Table 6)."""
    return frozenset(egrid_subregion_names())


@functools.cache
def us_states() -> frozenset[str]:
    """US states, DC and outlying areas (ISO 3166-2:US, without the "US-")."""
    import pycountry

    return frozenset(s.code[3:] for s in pycountry.subdivisions.get(country_code="US"))


# EPA publishes eGRID emission rates by subregion, not a table of the subregions that serve each
# state (the Hub has none; EPA's Power Profiler finds a subregion by ZIP code, and many states are
# served by several): a state alone is never mapped to a subregion here.
US_STATE_ONLY = "US state {state} without an eGRID subregion: US average"


@dataclass
class RowRegions:
    """Each row's region code and the reason it has it (aligned with the data's index)."""

    region: pd.Series
    why: pd.Series
    # The Site id a row's site column names (None where it names none or no known site).
    site_id: pd.Series
    unknown_sites: list[str] = field(default_factory=list)


def site_region(site: Any) -> str:
    """The region a site's electricity comes from: its eGRID subregion (US), else its country
    (a US site with only a state: the US average, ``site_reason`` says so)."""
    subregion = (site.subregion or "").upper()
    if site.country == "US" and subregion in egrid_subregions():
        return subregion
    return str(site.country)


def site_reason(site: Any) -> str:
    """Why a row has its site's region, as the record stores it."""
    subregion = (site.subregion or "").upper()
    if site.country == "US" and subregion not in egrid_subregions():
        detail = (
            US_STATE_ONLY.format(state=subregion)
            if subregion
            else ("no eGRID subregion: US average")
        )
        return f"site “{site.name}” ({detail})"
    return f"site “{site.name}”"


def row_regions(data: pd.DataFrame, mapping: Mapping | None) -> RowRegions:
    """Region and reason of every row, worked out once per distinct country and site name."""
    from emissions.selectors_org import organisation_country, site_key, site_names

    index = data.index
    region = pd.Series(np.full(len(index), None, dtype=object), index=index)
    why = pd.Series(np.full(len(index), None, dtype=object), index=index)
    country_is_constant = mapping is not None and "country" in mapping.constants
    countries = data.get("country")

    if countries is not None and not country_is_constant:
        given = countries.notna()
        region[given] = countries[given].astype(str)
        why[given] = "the row's country"

    unknown: list[str] = []
    site_id = pd.Series(np.full(len(index), None, dtype=object), index=index)
    if "site" in data and data["site"].notna().any():
        known = site_names()
        codes, uniques = pd.factorize(data["site"])
        found = [known.get(site_key(u)) for u in uniques]
        unknown = sorted({str(u) for u, s in zip(uniques, found, strict=True) if s is None})
        ids = np.array([s.id if s else None for s in found] + [None], dtype=object)
        values = np.array([site_region(s) if s else None for s in found] + [None], dtype=object)
        reasons = np.array([site_reason(s) if s else None for s in found] + [None], dtype=object)
        site_id[:] = ids[codes]
        todo = (region.isna() & pd.Series(values[codes], index=index).notna()).to_numpy()
        region[todo] = values[codes][todo]
        why[todo] = reasons[codes][todo]

    if countries is not None and country_is_constant:
        todo = region.isna() & countries.notna()
        region[todo] = countries[todo].astype(str)
        why[todo] = "the mapping's constant country"

    todo = region.isna()
    if todo.any():
        org = organisation_country()
        if org:
            region[todo] = org
            why[todo] = "the organisation's country"
        else:
            region[todo] = "GLOBAL"
            why[todo] = "no country known: world average"
    return RowRegions(region=region, why=why, site_id=site_id, unknown_sites=unknown)


def row_years(data: pd.DataFrame) -> pd.Series:
    """Each row's activity year (0 where the row has no date)."""
    dates = data["date"] if "date" in data else data.get("period_start")
    if dates is None:
        return pd.Series(0, index=data.index, dtype="int64")
    years = pd.to_datetime(dates, errors="coerce").dt.year
    return years.fillna(0).astype("int64")


_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def _family_name(name: str) -> str:
    return _YEAR.sub("", name).strip()


@dataclass(frozen=True)
class Vintage:
    factor_id: int
    factor_year: int | None
    note: str = ""


def vintage_for(factor_id: int, year: int | None, cache: dict[Any, Any]) -> Vintage:
    """The edition of a library factor for the activity's year: the same factor (dataset family,
    region, kind, basis, unit and name but its year) of that year, else the nearest earlier one,
    else the earliest; flagged when more than VINTAGE_GAP_YEARS from the activity's year.

    A life-cycle grid intensity (``generation_editions``) is replaced by the region's direct
    generation factor of the same rule's year wherever the library has one."""
    from factors.models import EmissionFactor

    if factor_id not in cache:
        f = EmissionFactor.objects.select_related("dataset").filter(id=factor_id).first()
        # A life-cycle grid intensity gives way to the region's generation factor.
        generation = generation_editions(f) if f is not None else []
        editions: list[tuple[int, int]] = generation
        if f is not None and f.year and not generation:
            # The same factor in other editions: the same name but for a year in it.
            year_in_name = _YEAR.search(f.name)
            same_name = (
                {"name__startswith": f.name[: year_in_name.start()]}
                if year_in_name
                else {"name": f.name}
            )
            siblings = EmissionFactor.objects.filter(
                **same_name,
                dataset__family=f.dataset.family,
                dataset__is_current=True,
                region=f.region,
                kind=f.kind,
                basis=f.basis,
                unit=f.unit,
                year__isnull=False,
            ).values_list("id", "year", "name")
            name = _family_name(f.name)
            editions = sorted(
                {(int(y or 0), i) for i, y, n in siblings if _family_name(n) == name}
                | {(int(f.year), f.id)}
            )
        cache[factor_id] = (f.year if f else None, editions, bool(generation))
    own_year, editions, replaced = cache[factor_id]
    if not editions:
        return Vintage(factor_id, own_year)
    if not year:
        # No activity year: a generation factor still replaces a life-cycle one (its latest).
        return (
            Vintage(editions[-1][1], editions[-1][0]) if replaced else Vintage(factor_id, own_year)
        )
    earlier = [(y, i) for y, i in editions if y <= year]
    chosen_year, chosen_id = earlier[-1] if earlier else editions[0]
    note = ""
    if abs(year - chosen_year) > VINTAGE_GAP_YEARS:
        note = (
            f"The factor is from {chosen_year}, {abs(year - chosen_year)} years from the "
            f"activity's {year}: no closer edition is in the library."
        )
    return Vintage(chosen_id, chosen_year, note)


def generation_editions(factor: Any) -> list[tuple[int, int]]:
    """(year, id) of the direct-emission grid generation factors of a life-cycle grid
    intensity's region, when ``factor`` is one (else empty).

    The Scope 2 Guidance (2015, section 6.2 and Table 6.2) asks location-based figures for the
    grid-average *generation* emission factor where the electricity is consumed; Our World in
    Data's intensities are life-cycle (IPCC AR5 WG III Annex III), so for a region a dataset
    covers with a location-based grid factor (the AIB production mix of
    ``data/mappings/aib_residual_mix_2021.yml``: direct CO2 of the country's generation,
    2019-2021) that dataset's editions are used; OWID stays the labelled fallback. Of several
    such datasets, the one with the most recent year."""
    from emissions.scope2 import LIFE_CYCLE_FAMILIES
    from factors.models import EmissionFactor

    if (
        factor.dataset.family not in LIFE_CYCLE_FAMILIES
        or factor.kind != "grid_electricity"
        or factor.region in ("", "GLOBAL")
    ):
        return []
    found = (
        EmissionFactor.objects.filter(
            dataset__is_current=True,
            kind="grid_electricity",
            basis="location",
            region=factor.region,
            unit=factor.unit,
            year__isnull=False,
        )
        .exclude(dataset__family__in=LIFE_CYCLE_FAMILIES)
        .values_list("dataset__family", "year", "id")
    )
    by_family: dict[str, list[tuple[int, int]]] = {}
    for family, year, fid in found:
        by_family.setdefault(family, []).append((int(year or 0), int(fid)))
    if not by_family:
        return []
    newest = max(by_family.values(), key=lambda editions: (max(editions), len(editions)))
    return sorted(newest)
