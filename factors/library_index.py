"""An in-memory word index of the current factor library, for matching many activities quickly.

Matching an import's distinct activities one database query each costs a few hundred
milliseconds apiece; the library (about 26,000 current factors) fits in memory as plain arrays,
so each process builds the index once and reuses it until a dataset version changes (checked with
one cheap query per use).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, Max

from factors.models import EmissionFactor, FactorDataset
from factors.ranking import FactorCandidate, content_words, factor_reading


@dataclass(frozen=True)
class LibraryIndex:
    state: tuple[int, int]
    factors: list[FactorCandidate]
    dimensions: np.ndarray
    regions: np.ndarray
    postings: dict[str, np.ndarray]
    by_publisher_id: dict[str, list[int]]
    by_name: dict[str, list[int]]
    # Library factors by the concepts they name (vocabulary heads), for the concept matcher.
    concept_postings: dict[str, np.ndarray] = field(default_factory=dict)
    # Ranked library candidates by (reading, dimension, region, year...): activities that read the
    # same ("Diesel KSt 4100", "Diesel KSt 4200") are ranked once per index.
    ranked: dict[Any, Any] = field(default_factory=dict)


_LOCK = threading.Lock()
_CACHE: dict[str, LibraryIndex] = {}
_CHECKED: dict[str, float] = {}


def _state() -> tuple[int, int]:
    agg = FactorDataset.objects.filter(is_current=True).aggregate(n=Count("id"), last=Max("id"))
    return int(agg["n"] or 0), int(agg["last"] or 0)


def _build(state: tuple[int, int]) -> LibraryIndex:
    rows = (
        EmissionFactor.objects.filter(dataset__is_current=True)
        .values_list(
            "id",
            "name",
            "unit",
            "region",
            "kg_co2e",
            "unit_dimension",
            "dataset__key",
            "dataset__version",
            "publisher_id",
            "category",
            "scope",
            "scope3_category",
            "year",
            "flags",
            "flag_reason",
            "search_text",
            "cv_basis",
        )
        .order_by("id")
    )
    factors: list[FactorCandidate] = []
    texts: list[str] = []
    for row in rows:
        (
            fid,
            name,
            unit,
            region,
            kg,
            dim,
            key,
            version,
            pid,
            category,
            scope,
            scope3_category,
            year,
            flags,
            reason,
            text,
            cv,
        ) = row
        # "Natural gas" per kWh exists on both bases: the shown name says which one this is.
        shown = f"{name} ({cv} CV)" if cv and unit == "kWh" else name
        factors.append(
            FactorCandidate(
                name=shown,
                unit=unit,
                region=region,
                kg_co2e=kg,
                unit_dimension=dim,
                source="library",
                factor_id=fid,
                dataset_key=key,
                dataset_version=version,
                publisher_id=pid,
                category=category,
                scope=scope,
                scope3_category=scope3_category,
                year=year,
                flags=tuple(flags or ()),
                flag_reason=reason,
                cv_basis=cv or "",
            )
        )
        texts.append(text)
    return build_index(factors, texts, state)


def build_index(
    factors: list[FactorCandidate], texts: list[str], state: tuple[int, int] = (0, 0)
) -> LibraryIndex:
    """The index of these factors (pure: the labelled-set test and the benchmark build one from
    the datasets as read, without a database). `texts` are the factors' search texts."""
    postings: defaultdict[str, list[int]] = defaultdict(list)
    concepts: defaultdict[str, list[int]] = defaultdict(list)
    by_publisher_id: defaultdict[str, list[int]] = defaultdict(list)
    by_name: defaultdict[str, list[int]] = defaultdict(list)
    for position, (factor, text) in enumerate(zip(factors, texts, strict=True)):
        for word in set(content_words(text)):
            postings[word].append(position)
        for head in factor_reading(factor.name, factor.category).heads:
            concepts[head].append(position)
        by_publisher_id[factor.publisher_id.casefold()].append(position)
        name = (
            factor.name.removesuffix(f" ({factor.cv_basis} CV)") if factor.cv_basis else factor.name
        )
        by_name[name.casefold()].append(position)
    return LibraryIndex(
        state=state,
        factors=factors,
        dimensions=np.array([f.unit_dimension for f in factors], dtype=object),
        regions=np.array([f.region for f in factors], dtype=object),
        postings={w: np.array(p, dtype=np.int64) for w, p in postings.items()},
        by_publisher_id=dict(by_publisher_id),
        by_name=dict(by_name),
        concept_postings={c: np.array(p, dtype=np.int64) for c, p in concepts.items()},
    )


# How long a process trusts its index before asking the database whether the library changed.
STATE_CHECK_SECONDS = 2.0


def library_index_clear() -> None:
    """Forget the index (after this process changed the library, and between tests)."""
    with _LOCK:
        _CACHE.clear()
        _CHECKED.clear()


def library_index() -> LibraryIndex:
    """The index of the current library, rebuilt when a dataset version was added or replaced."""
    now = time.monotonic()
    with _LOCK:
        cached = _CACHE.get("index")
        if cached is not None and now - _CHECKED.get("at", -1e9) < STATE_CHECK_SECONDS:
            return cached
    state = _state()
    with _LOCK:
        _CHECKED["at"] = now
        if cached is not None and cached.state == state:
            return cached
    index = _build(state)
    with _LOCK:
        _CACHE["index"] = index
    return index


def preselect(
    index: LibraryIndex,
    *,
    description: str,
    queries: list[str],
    dimensions: list[str] | None,
    region: str | None,
    per_query: int,
    min_word: int = 3,
) -> list[FactorCandidate]:
    """Factors that share a naming word with a query (or match the description exactly), of the
    compatible dimensions; the asked region and GLOBAL first, so other regions cannot crowd it out."""
    exact = description.strip().casefold()
    chosen: dict[int, None] = dict.fromkeys(
        index.by_publisher_id.get(exact, []) + index.by_name.get(exact, [])
    )
    allowed = np.isin(index.dimensions, dimensions) if dimensions is not None else None
    for query in queries:
        lists = [
            index.postings[w]
            for w in content_words(query)
            if len(w) >= min_word and w in index.postings
        ]
        if not lists:
            continue
        # Factors sharing more of the query's words come first.
        hits, counts = np.unique(np.concatenate(lists), return_counts=True)
        hits = hits[np.argsort(-counts, kind="stable")]
        if allowed is not None:
            hits = hits[allowed[hits]]
        if region:
            local = hits[np.isin(index.regions[hits], [region, "GLOBAL"])]
            for position in local[:per_query].tolist():
                chosen.setdefault(position, None)
        for position in hits[:per_query].tolist():
            chosen.setdefault(position, None)
    return [index.factors[p] for p in chosen]


def preselect_concepts(
    index: LibraryIndex,
    *,
    heads: frozenset[str],
    dimensions: list[str] | None,
    region: str | None,
) -> list[FactorCandidate]:
    """Factors naming one of these concepts, of the compatible dimensions. With a region, only
    that region's, GLOBAL and the UK fallback (DEFRA) ones, and the US average for an eGRID
    subregion, unless none of those exists."""
    lists = [index.concept_postings[h] for h in heads if h in index.concept_postings]
    if not lists:
        return []
    hits = np.unique(np.concatenate(lists))
    if dimensions is not None:
        hits = hits[np.isin(index.dimensions[hits], dimensions)]
    if region:
        near = [region.upper(), "GLOBAL", "GB", "US"]
        local = hits[np.isin(index.regions[hits], near)]
        if len(local):
            hits = local
    return [index.factors[p] for p in hits.tolist()]
