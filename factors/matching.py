"""Activity description -> ranked candidate factors, with the reason for each.

`match_factors` pre-selects library factors of the current dataset versions whose search text shares a word
with the description or its synonym rewrites, keeps those whose unit dimension can serve the given
unit, adds the caller's extra candidates (a tenant's supplier-specific factors) and ranks them all
with `factors.ranking.rank_candidates`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from emissions.engine.units import unit_dimension as engine_unit_dimension
from factors.models import EmissionFactor
from factors.ranking import (
    FUEL_DIMENSIONS,
    Candidate,
    FactorCandidate,
    all_query_texts,
    rank_candidates,
)

PRESELECT_PER_QUERY = 300
MIN_WORD = 3


def _words_filter(query: str) -> Q | None:
    """Factors whose search text contains any of the query's words (case-insensitive).

    The library holds some 26,000 factors, so a scan with ILIKE takes milliseconds; the fuzzy
    ranking that matters happens in `rank_candidates`. (pg_trgm would index this, but the
    embedded PostgreSQL that `make run` starts ships without contrib extensions.)
    """
    words = [
        w for w in query.lower().replace("(", " ").replace(")", " ").split() if len(w) >= MIN_WORD
    ]
    if not words:
        return None
    condition = Q()
    for word in words:
        condition |= Q(search_text__icontains=word)
    return condition


def _compatible_dimensions(dimension: str | None) -> list[str] | None:
    if dimension is None:
        return None
    if dimension in FUEL_DIMENSIONS:
        return sorted(FUEL_DIMENSIONS)
    return [dimension]


def _library_candidates(
    queries: list[str], dimensions: list[str] | None, description: str, region: str | None
) -> list[FactorCandidate]:
    base = EmissionFactor.objects.filter(dataset__is_current=True).select_related("dataset")
    if dimensions is not None:
        base = base.filter(unit_dimension__in=dimensions)
    # First the region asked for and GLOBAL, then any region, so a large dataset of other
    # regions cannot crowd out the right one.
    scopes = [base.filter(region__in=[region, "GLOBAL"]), base] if region else [base]
    found: dict[int, EmissionFactor] = {}
    exact = base.filter(Q(publisher_id__iexact=description) | Q(name__iexact=description))
    for factor in exact[:PRESELECT_PER_QUERY]:
        found[factor.id] = factor
    for subset in scopes:
        for query in queries:
            condition = _words_filter(query)
            if condition is None:
                continue
            for factor in subset.filter(condition).order_by("id")[:PRESELECT_PER_QUERY]:
                found.setdefault(factor.id, factor)
    return [
        FactorCandidate(
            name=f.name,
            unit=f.unit,
            region=f.region,
            kg_co2e=f.kg_co2e,
            unit_dimension=f.unit_dimension,
            source="library",
            factor_id=f.id,
            dataset_key=f.dataset.key,
            dataset_version=f.dataset.version,
            publisher_id=f.publisher_id,
            category=f.category,
            scope=f.scope,
            year=f.year,
            flags=tuple(f.flags),
            flag_reason=f.flag_reason,
        )
        for f in found.values()
    ]


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
