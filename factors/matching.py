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

from emissions.engine.units import unit_dimension as engine_unit_dimension
from factors.concepts import read, related
from factors.library_index import LibraryIndex, library_index, preselect, preselect_concepts
from factors.ranking import (
    FUEL_DIMENSIONS,
    Candidate,
    FactorCandidate,
    all_query_texts,
    rank_candidates,
)

# Cost-centre numbers and codes ("Diesel KSt 4100") never name a factor: the import wizard
# matches the activity text without them (imports.services.assign_factors uses the same rule).
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
        )
    key = (reading.key, dimension, (region or "").upper(), year, "net" in description.casefold())
    cached = index.ranked.get(key)
    if cached is None:
        library = preselect_concepts(
            index, heads=reading.heads | related(reading.heads), dimensions=dimensions,
            region=region,
        )  # fmt: skip
        cached = rank_candidates(
            description=description,
            candidates=library,
            unit_dimension=dimension,
            region=region,
            year=year,
            limit=RANKED_KEEP,
        )
        index.ranked[key] = cached
    return cached


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
    library = _ranked_library(
        index or library_index(),
        description=description,
        dimension=dimension,
        region=region,
        year=year,
    )
    extra = list(extra_candidates)
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
