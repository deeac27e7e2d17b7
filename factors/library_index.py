"""An in-memory word index of the current factor library, for matching many activities quickly.

Matching an import's distinct activities one database query each costs a few hundred
milliseconds apiece; the library (about 26,000 current factors) fits in memory as plain arrays,
so each process builds the index once and reuses it until a dataset version changes (checked with
one cheap query per use).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db.models import Count, Max

from factors import concepts
from factors.concepts import Reading
from factors.models import EmissionFactor, FactorDataset
from factors.ranking import (
    FactorCandidate,
    content_words,
    factor_reading,
    is_upstream,
    know_factor_readings,
    normalise_text,
)


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
    # The dimensions and regions as small integer codes (numpy compares these far faster than
    # strings), and each code's value.
    dimension_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    region_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    dimension_code: dict[str, int] = field(default_factory=dict)
    region_code: dict[str, int] = field(default_factory=dict)
    # Per factor, what the ranking needs, computed once at build (factors.matching ranks the
    # concept pre-selection with these arrays): its reading (an id into `readings`), dataset,
    # year (NaN if none), well-to-tank, calorific-value basis, outside-of-scopes, flags.
    readings: list[Reading] = field(default_factory=list)
    reading_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    dataset_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    datasets: list[str] = field(default_factory=list)
    years: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upstream: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cv_basis: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    outside: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    supplier: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # normalise_text(publisher id or name) -> positions (an activity written as a factor's key).
    exact: dict[str, list[int]] = field(default_factory=dict)
    # Each factor's place in the order of (length of name, name): the ranking's tie-break.
    name_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


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
    exact: defaultdict[str, list[int]] = defaultdict(list)
    reading_id: dict[Reading, int] = {}
    readings: list[Reading] = []
    reading_ids: list[int] = []
    dataset_code: dict[str, int] = {}
    large = len(factors) >= LARGE_LIBRARY
    if large:
        _load_factor_readings(factors)
    for position, (factor, text) in enumerate(zip(factors, texts, strict=True)):
        for word in set(content_words(text)):
            postings[word].append(position)
        reading = factor_reading(factor.name, factor.category)
        for head in reading.heads:
            concepts[head].append(position)
        if reading not in reading_id:
            reading_id[reading] = len(readings)
            readings.append(reading)
        reading_ids.append(reading_id[reading])
        dataset_code.setdefault(factor.dataset_key, len(dataset_code))
        for key in {normalise_text(factor.publisher_id), normalise_text(factor.name)}:
            exact[key].append(position)
        by_publisher_id[factor.publisher_id.casefold()].append(position)
        name = (
            factor.name.removesuffix(f" ({factor.cv_basis} CV)") if factor.cv_basis else factor.name
        )
        by_name[name.casefold()].append(position)
    dimension_code: dict[str, int] = {}
    region_code: dict[str, int] = {}
    index = LibraryIndex(
        state=state,
        factors=factors,
        dimensions=np.array([f.unit_dimension for f in factors], dtype=object),
        regions=np.array([f.region for f in factors], dtype=object),
        dimension_codes=np.array(
            [dimension_code.setdefault(f.unit_dimension, len(dimension_code)) for f in factors],
            dtype=np.int32,
        ),
        region_codes=np.array(
            [region_code.setdefault(f.region, len(region_code)) for f in factors], dtype=np.int32
        ),
        dimension_code=dimension_code,
        region_code=region_code,
        readings=readings,
        reading_ids=np.array(reading_ids, dtype=np.int32),
        dataset_codes=np.array([dataset_code[f.dataset_key] for f in factors], dtype=np.int32),
        datasets=list(dataset_code),
        years=np.array([np.nan if f.year is None else f.year for f in factors], dtype=np.float64),
        upstream=np.array([is_upstream(f) for f in factors], dtype=bool),
        cv_basis=np.array([f.cv_basis for f in factors], dtype=object),
        outside=np.array([f.scope == "outside" for f in factors], dtype=bool),
        flagged=np.array([bool(f.flags) for f in factors], dtype=bool),
        supplier=np.array([f.source == "supplier" for f in factors], dtype=bool),
        exact=dict(exact),
        name_ranks=_name_ranks(factors),
        postings={w: np.array(p, dtype=np.int64) for w, p in postings.items()},
        by_publisher_id=dict(by_publisher_id),
        by_name=dict(by_name),
        concept_postings={c: np.array(p, dtype=np.int64) for c, p in concepts.items()},
    )
    if large:
        _keep_out_of_collections()
    return index


# A library this large keeps its factors' readings on disk and its objects out of the garbage
# collector's walks (a test's few factors are read in milliseconds and need neither).
LARGE_LIBRARY = 2000
# Where the factors' readings are kept between processes (reading 26,000 factor names with the
# vocabulary takes seconds; loading them takes a tenth of one). One file per vocabulary and reader.
READINGS_CACHE_DIR = Path(
    os.environ.get(
        "FACTORTRACE_CACHE_DIR", Path(__file__).resolve().parents[1] / ".local" / "cache"
    )
)


def _readings_path() -> Path:
    digest = hashlib.sha256(Path(concepts.__file__).read_bytes())
    for path in sorted(concepts.VOCABULARY_DIR.glob("*.yml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return READINGS_CACHE_DIR / f"factor-readings-{digest.hexdigest()[:20]}.json"


def _load_factor_readings(factors: list[FactorCandidate]) -> None:
    """Make the factors' readings known from the disk cache; read the missing ones and add them
    to it. A cache that cannot be read or written is only slower, never wrong. (What a reading
    names is kept; the matched terms, which only descriptions' readings are asked for, are not.)"""
    path = _readings_path()
    if path in _LOADED:
        # This process loaded (or wrote) the file already: its readings are known.
        missing = {f"{f.name} | {f.category}" for f in factors} - _LOADED[path]
        if not missing:
            return
    known: dict[str, Reading] = {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        # Many factors read the same (a grid's countries and years): one Reading for each.
        same: dict[tuple[tuple[str, ...], ...], Reading] = {}
        for text, sets in stored.items():
            key = tuple(tuple(s) for s in sets)
            reading = same.get(key)
            if reading is None:
                heads, quals, ctxs = key
                reading = same[key] = Reading(
                    heads=frozenset(heads), qualifiers=frozenset(quals), contexts=frozenset(ctxs)
                )
            known[text] = reading
    except (OSError, ValueError, TypeError):
        known = {}
    know_factor_readings(known)
    _LOADED[path] = set(known)
    missing = {f"{f.name} | {f.category}": (f.name, f.category) for f in factors}.keys() - known
    if not missing:
        return
    for f in factors:
        text = f"{f.name} | {f.category}"
        if text in missing:
            known[text] = factor_reading(f.name, f.category)
    payload = {
        text: [sorted(r.heads), sorted(r.qualifiers), sorted(r.contexts)]
        for text, r in known.items()
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass
    _LOADED[path] = set(known)


_LOADED: dict[Path, set[str]] = {}


def _name_ranks(factors: list[FactorCandidate]) -> np.ndarray:
    """Per factor, its rank among the names ordered by (length, name); equal names, equal rank."""
    names = sorted({(len(f.name), f.name) for f in factors})
    rank = {name: k for k, (_, name) in enumerate(names)}
    return np.array([rank[f.name] for f in factors], dtype=np.int64)


def _keep_out_of_collections() -> None:
    """Move what is alive now (the index's hundred thousand objects, the vocabulary, the cached
    readings) out of the garbage collector's reach: full collections would otherwise walk them
    all again and again while an import's activities are matched (a fifth of the matching time).
    Whatever an earlier index froze is released first, so a rebuild does not keep it alive."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    gc.freeze()


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


def library_warm() -> None:
    """Build what matching needs once per process (the index, the concept vocabulary): called by
    the rq worker before it forks each work-horse, which then inherits them instead of building
    them for its job. Cheap when nothing changed (one query every STATE_CHECK_SECONDS)."""
    concepts.vocabulary()
    library_index()


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
    """Factors naming one of these concepts (see `concept_positions`)."""
    factors = index.factors
    positions = concept_positions(index, heads=heads, dimensions=dimensions, region=region)
    return [factors[p] for p in positions.tolist()]


def concept_positions(
    index: LibraryIndex,
    *,
    heads: frozenset[str],
    dimensions: list[str] | None,
    region: str | None,
) -> np.ndarray:
    """Factors naming one of these concepts, of the compatible dimensions. With a region, only
    that region's, GLOBAL and the UK fallback (DEFRA) ones, and the US average for an eGRID
    subregion, unless none of those exists."""
    lists = [index.concept_postings[h] for h in heads if h in index.concept_postings]
    if not lists:
        return np.zeros(0, dtype=np.int64)
    hits = lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists))
    if dimensions is not None:
        allowed = np.zeros(len(index.dimension_code) + 1, dtype=bool)
        allowed[[index.dimension_code[d] for d in dimensions if d in index.dimension_code]] = True
        hits = hits[allowed[index.dimension_codes[hits]]]
    if region:
        near = np.zeros(len(index.region_code) + 1, dtype=bool)
        near[
            [
                index.region_code[r]
                for r in (region.upper(), "GLOBAL", "GB", "US")
                if r in index.region_code
            ]
        ] = True
        local = hits[near[index.region_codes[hits]]]
        if len(local):
            hits = local
    return hits
