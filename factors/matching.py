"""Activity description -> ranked candidate factors, with the reason for each.

`match_factors` pre-selects library factors of the current dataset versions whose search text shares a word
with the description or its synonym rewrites, keeps those whose unit dimension can serve the given
unit, adds the caller's extra candidates (a tenant's supplier-specific factors) and ranks them all
with `factors.ranking.rank_candidates`.
"""

from __future__ import annotations

from collections.abc import Iterable

from emissions.engine.units import unit_dimension as engine_unit_dimension
from factors.library_index import library_index, preselect
from factors.ranking import (
    FUEL_DIMENSIONS,
    Candidate,
    FactorCandidate,
    all_query_texts,
    rank_candidates,
)

PRESELECT_PER_QUERY = 300
MIN_WORD = 3


def _compatible_dimensions(dimension: str | None) -> list[str] | None:
    if dimension is None:
        return None
    if dimension in FUEL_DIMENSIONS:
        return sorted(FUEL_DIMENSIONS)
    return [dimension]


def _library_candidates(
    queries: list[str], dimensions: list[str] | None, description: str, region: str | None
) -> list[FactorCandidate]:
    """Current library factors sharing a naming word with the description or its synonym
    rewrites, from the in-memory word index (generic words such as "average" or "blend" are not
    indexed: they would fill the pre-selection with unrelated factors)."""
    return preselect(
        library_index(),
        description=description,
        queries=queries,
        dimensions=dimensions,
        region=region,
        per_query=PRESELECT_PER_QUERY,
        min_word=MIN_WORD,
    )


def match_factors(
    *,
    description: str,
    unit: str | None = None,
    region: str | None = None,
    year: int | None = None,
    limit: int = 10,
    extra_candidates: Iterable[FactorCandidate] = (),
) -> list[Candidate]:
    """Ranked candidate factors for an activity, each with the reasons for its rank.

    `unit` (any spelling the engine parses) restricts candidates to factors whose unit dimension
    can serve it; an unparsable unit raises the engine's UnitError. `extra_candidates` are the
    tenant's supplier-specific factors: when they match, they rank first.
    """
    dimension = engine_unit_dimension(unit) if unit else None
    queries = list(all_query_texts(description))
    library = _library_candidates(
        queries, _compatible_dimensions(dimension), description.strip(), region
    )
    return rank_candidates(
        description=description,
        candidates=[*extra_candidates, *library],
        unit_dimension=dimension,
        region=region,
        year=year,
        limit=limit,
    )
