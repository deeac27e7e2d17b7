"""Activity description -> ranked candidate factors, with the reason for each.

`match_factors` reads the description as library concepts (`factors.concepts`), pre-selects the
current library factors that name one of them (of a dimension that can serve the unit, and of the
region's publishers), adds the caller's extra candidates (a tenant's supplier-specific factors)
and ranks them all with `factors.ranking.rank_candidates`. A description that names no known
concept, or a spend (money) quantity, is matched on the words of the factors' names instead.
Activities that read the same are ranked once per library index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from emissions.engine.units import unit_dimension as engine_unit_dimension
from factors.concepts import Reading, read, related
from factors.library_index import LibraryIndex, concept_positions, library_index, preselect
from factors.ranking import (
    FUEL_DIMENSIONS,
    NET_CV_PENALTY,
    UPSTREAM_PENALTY,
    Candidate,
    FactorCandidate,
    _concept_score,
    _is_fuel,
    _region_score,
    _says_net,
    _scored,
    _wanted_of,
    all_query_texts,
    dimension_fit,
    mentions_upstream,
    normalise_text,
    rank_candidates,
)

# Cost-centre numbers and codes ("Diesel KSt 4100") never name a factor: the import wizard
# matches the activity text without them (imports.preparation.assign_factors uses the same rule).
_NUMBERS = re.compile(r"(?<!\w)\d[\d.,/-]*(?!\w)")
PRESELECT_PER_QUERY = 300
MIN_WORD = 3
# Library candidates kept per ranking (the caller's limit is at most this).
RANKED_KEEP = 25


def _compatible_dimensions(dimension: str | None) -> list[str] | None:
    if dimension is None:
        return None
    if dimension in FUEL_DIMENSIONS:
        return sorted(FUEL_DIMENSIONS)
    return [dimension]


def _library_candidates(
    index: LibraryIndex,
    queries: list[str],
    dimensions: list[str] | None,
    description: str,
    region: str | None,
) -> list[FactorCandidate]:
    """Current library factors sharing a naming word with the description or its rewrites, from
    the in-memory word index (generic words such as "average" or "blend" are not indexed: they
    would fill the pre-selection with unrelated factors)."""
    return preselect(
        index,
        description=description,
        queries=queries,
        dimensions=dimensions,
        region=region,
        per_query=PRESELECT_PER_QUERY,
        min_word=MIN_WORD,
    )


def _ranked_library(
    index: LibraryIndex,
    *,
    description: str,
    dimension: str | None,
    region: str | None,
    year: int | None,
    limit: int,
) -> list[Candidate]:
    reading = read(description)
    dimensions = _compatible_dimensions(dimension)
    exact = description.strip().casefold()
    is_key = exact in index.by_publisher_id or exact in index.by_name
    if not reading.heads or is_key:
        library = _library_candidates(
            index, list(all_query_texts(description)), dimensions, description.strip(), region
        )
        return rank_candidates(
            description=description,
            candidates=library,
            unit_dimension=dimension,
            region=region,
            year=year,
            limit=RANKED_KEEP,
        )[:limit]
    key = (reading.key, dimension, (region or "").upper(), year, "net" in description.casefold())
    cached = index.ranked.get(key)
    if cached is None:
        heads = reading.heads | related(reading.heads)
        pool_key = ("pool", heads, dimension, region)
        pool = index.ranked.get(pool_key)
        if pool is None:
            positions = concept_positions(index, heads=heads, dimensions=dimensions, region=region)
            pool = index.ranked[pool_key] = Pool(index, positions, region)
        cached = rank_pool(
            pool,
            reading=reading,
            description=description,
            dimension=dimension,
            region=region,
            year=year,
            limit=RANKED_KEEP,
        )
        index.ranked[key] = cached
    return cached.take(limit)


class Pool:
    """The factors pre-selected for one set of concepts, dimension and region, with what the
    ranking needs of each that does not depend on the description: descriptions that name the
    same things in the same region (with other qualifiers or contexts) share it."""

    def __init__(self, index: LibraryIndex, positions: np.ndarray, region: str | None):
        self.index = index
        self.positions = positions
        width = len(index.dimension_code)
        pairs, self.pair_of = np.unique(
            index.reading_ids[positions] * width + index.dimension_codes[positions],
            return_inverse=True,
        )
        names = list(index.dimension_code)
        self.pairs = [(index.readings[p // width], names[p % width]) for p in pairs.tolist()]
        self.region_add: np.ndarray | None = None
        if region is not None and len(positions):
            regions, ndata = list(index.region_code), len(index.datasets)
            codes, of = np.unique(
                index.region_codes[positions] * ndata + index.dataset_codes[positions],
                return_inverse=True,
            )
            table = np.array(
                [
                    _region_score(region, regions[v // ndata], index.datasets[v % ndata])
                    for v in codes.tolist()
                ]
            )
            self.region_add = table[of]
        self.years = index.years[positions]
        self.upstream = index.upstream[positions]
        self.cv_basis = index.cv_basis[positions]
        self.flags = [
            (mask, delta)
            for mask, delta in (
                (index.outside[positions], -15.0),
                (index.flagged[positions], -25.0),
                (index.supplier[positions], 1000.0),
            )
            if mask.any()
        ]
        self.name_ranks = index.name_ranks[positions]


def rank_pool(
    pool: Pool,
    *,
    reading: Reading,
    description: str,
    dimension: str | None,
    region: str | None,
    year: int | None,
    limit: int,
) -> Ranked:
    """`rank_candidates` over a pool, for a description that names concepts: the same
    candidates, scores, order and reasons, with the per-factor terms taken from the index's
    arrays and the concept fit computed once per (factor reading, dimension) instead of once per
    factor; the best `limit` are kept, and given their reasons when asked for."""
    if not len(pool.positions):
        return Ranked([])
    base = np.zeros(len(pool.pairs))
    fit_add = np.zeros(len(pool.pairs))
    valid = np.zeros(len(pool.pairs), dtype=bool)
    for k, (offered, offered_dim) in enumerate(pool.pairs):
        fit = dimension_fit(dimension, offered_dim)
        if fit is None:
            continue
        if dimension != offered_dim and not _is_fuel(offered):
            continue
        concept = _concept_score(reading, offered, offered_dim == "money")
        if concept is None:
            continue
        base[k], valid[k] = concept, True
        fit_add[k] = fit[0] if fit[1] else 0.0
    keep = valid[pool.pair_of]
    if not keep.any():
        return Ranked([])
    positions, inverse = pool.positions[keep], pool.pair_of[keep]
    # The additions of ranking._quick_score, in its order (the same floats; a term that is zero
    # for every factor is skipped, as adding 0.0 changes nothing).
    score = base[inverse]
    exact = pool.index.exact.get(normalise_text(description))
    if exact:
        score[np.isin(positions, exact)] += 200.0
    score += fit_add[inverse]
    if pool.region_add is not None:
        score += pool.region_add[keep]
    years = pool.years[keep]
    has_year = ~np.isnan(years)
    if year is not None:
        score[has_year] -= np.minimum(np.abs(year - years[has_year]), 5)
    score[has_year] += years[has_year] * 1e-4
    off = pool.upstream[keep] != mentions_upstream(description)
    if off.any():
        score[off] -= UPSTREAM_PENALTY
    if dimension == "energy":
        cv = pool.cv_basis[keep]
        wanted_cv = "net" if _says_net(description) else "gross"
        score[(cv != "") & (cv != wanted_cv)] -= NET_CV_PENALTY
    for mask, delta in pool.flags:
        score[mask[keep]] += delta
    # Best first: higher score, then shorter name, then name, then library order (as
    # rank_candidates sorts its candidates, which come in library order).
    order = np.lexsort((positions, pool.name_ranks[keep], -score))[:limit]
    factors = pool.index.factors
    return Ranked(
        [factors[p] for p in positions[order].tolist()],
        _scored_args=(
            _wanted_of(reading),
            dimension,
            normalise_text(description),
            region,
            year,
            description,
            _says_net(description),
        ),
    )


class Ranked:
    """Ranked library factors of one ranking; each gets its reasons when first asked for (most
    callers want the first few of the kept `RANKED_KEEP`)."""

    def __init__(self, factors: list[FactorCandidate], _scored_args: tuple[Any, ...] = ()):
        self._factors = factors
        self._args = _scored_args
        self._done: list[Candidate] = []

    def __len__(self) -> int:
        return len(self._factors)

    def take(self, limit: int) -> list[Candidate]:
        while len(self._done) < min(limit, len(self._factors)):
            found = _scored(self._factors[len(self._done)], *self._args)
            if found is None:  # never: the pre-scoring kept only factors that fit
                self._factors.pop(len(self._done))
                continue
            self._done.append(found)
        return self._done[:limit]


def activity_text(description: str) -> str:
    """The text the wizard matches for an activity: the description without free-standing
    numbers (cost centres, order and meter numbers, dates)."""
    return _NUMBERS.sub(" ", description).strip() or description


def match_factors(
    *,
    description: str,
    unit: str | None = None,
    region: str | None = None,
    year: int | None = None,
    limit: int = 10,
    extra_candidates: Iterable[FactorCandidate] = (),
    index: LibraryIndex | None = None,
) -> list[Candidate]:
    """Ranked candidate factors for an activity, each with the reasons for its rank.

    `unit` (any spelling the engine parses) restricts candidates to factors whose unit dimension
    can serve it; an unparsable unit raises the engine's UnitError. `region` (ISO alpha-2, an
    eGRID subregion, or GLOBAL) picks the publisher that covers it. `extra_candidates` are the
    tenant's supplier-specific factors: when they name the activity, they rank first. `index`
    is the library to match against (default: the current library of the database).
    """
    dimension = engine_unit_dimension(unit) if unit else None
    extra = list(extra_candidates)
    library = _ranked_library(
        index or library_index(),
        description=description,
        dimension=dimension,
        region=region,
        year=year,
        limit=RANKED_KEEP if extra else limit,
    )
    if not extra:
        return library[:limit]
    suppliers = rank_candidates(
        description=description,
        candidates=extra,
        unit_dimension=dimension,
        region=region,
        year=year,
        limit=limit,
    )
    merged = sorted([*suppliers, *library], key=lambda c: (-c.score, c.factor.name))
    return merged[:limit]
