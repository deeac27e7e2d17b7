"""The fast ranking path (per-factor arrays built once with the index, concept fit once per factor
reading, reasons only for the factors shown) ranks exactly as the plain per-factor ranking: the
same factors, scores, order and reasons, for the labelled set's descriptions in several regions,
units and years."""

from __future__ import annotations

from typing import Any

import pytest

from emissions.engine.units import unit_dimension
from factors.concepts import read, related
from factors.labelled import index_from_frames, labelled_rows
from factors.library_index import LibraryIndex, preselect_concepts
from factors.matching import RANKED_KEEP, _compatible_dimensions, match_factors
from factors.ranking import (
    Candidate,
    FactorCandidate,
    _common,
    _is_fuel,
    _says_net,
    _wanted,
    concept_fit,
    dimension_fit,
    factor_reading,
    normalise_text,
    rank_candidates,
)

DATASETS = ["defra_2024", "epa_hub_2025", "owid_grid_2025", "aib_residual_mix_2021"]


@pytest.fixture(scope="module")
def index() -> LibraryIndex:
    from factors.ingest.reader import read_dataset
    from factors.services import select_mappings

    return index_from_frames(
        (mapping.key, read_dataset(mapping).frame) for mapping in select_mappings(DATASETS)
    )


def _plain(
    description: str,
    candidates: list[FactorCandidate],
    dimension: str | None,
    region: str | None,
    year: int | None,
) -> list[Candidate]:
    """The per-factor ranking as it was written first: every candidate scored with its reasons."""
    wanted = _wanted(read(description))
    exact, says_net = normalise_text(description), _says_net(description)
    ranked = []
    for factor in candidates:
        fit = dimension_fit(dimension, factor.unit_dimension)
        if fit is None:
            continue
        offered = factor_reading(factor.name, factor.category)
        if dimension != factor.unit_dimension and not _is_fuel(offered):
            continue
        found = concept_fit(wanted, offered, spend=factor.unit_dimension == "money")
        if found is None:
            continue
        score, reasons = found
        if exact in (normalise_text(factor.publisher_id), normalise_text(factor.name)):
            score += 200.0
            reasons.insert(0, "exact key")
        reasons.extend(_common(factor, fit, region, year, description, dimension, says_net, score))
        score = float(reasons.pop())
        ranked.append(Candidate(factor=factor, score=score, reasons=tuple(reasons)))
    ranked.sort(key=lambda c: (-c.score, len(c.factor.name), c.factor.name))
    return ranked[:RANKED_KEEP]


def _cases() -> list[tuple[str, str, str | None, int | None]]:
    rows = labelled_rows()
    regions: list[str | None] = ["GB", "US", "DE", "FR", "CAMX", "JP", None]
    cases = [(r.description, r.unit, r.country, None) for r in rows]
    cases += [
        (r.description, r.unit, regions[k % len(regions)], [None, 2021, 2024][k % 3])
        for k, r in enumerate(rows)
    ]
    cases += [(r.description, "EUR", r.country, None) for r in rows[::7]]
    return cases


def test_it_ranks_as_the_plain_per_factor_ranking(index: LibraryIndex) -> None:
    compared = 0
    for description, unit, region, year in _cases():
        reading = read(description)
        if not reading.heads:
            continue
        dimension = unit_dimension(unit)
        candidates = preselect_concepts(
            index,
            heads=reading.heads | related(reading.heads),
            dimensions=_compatible_dimensions(dimension),
            region=region,
        )
        plain = _plain(description, candidates, dimension, region, year)
        index.ranked.clear()
        fast = match_factors(
            description=description,
            unit=unit,
            region=region,
            year=year,
            index=index,
            limit=RANKED_KEEP,
        )
        assert [(c.factor.factor_id, c.score, c.reasons) for c in fast] == [
            (c.factor.factor_id, c.score, c.reasons) for c in plain
        ], (description, unit, region, year)
        generic = rank_candidates(
            description=description,
            candidates=candidates,
            unit_dimension=dimension,
            region=region,
            year=year,
            limit=RANKED_KEEP,
        )
        assert generic == plain, (description, unit, region, year)
        compared += 1
    assert compared > 900


def test_it_gives_reasons_to_the_first_few_and_keeps_the_rest_for_later(
    index: LibraryIndex,
) -> None:
    index.ranked.clear()
    first = match_factors(description="Diesel Firmenwagen", unit="L", region="DE", index=index)
    more = match_factors(
        description="Diesel Firmenwagen KSt 4100", unit="L", region="DE", index=index, limit=20
    )
    assert len(first) == 10
    assert more[:10] == first
    assert len(more) > 10
    assert all(c.reasons for c in more)


def test_it_keeps_the_factor_readings_on_disk_for_the_next_process(
    index: LibraryIndex, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factors import library_index, ranking
    from factors.library_index import build_index

    monkeypatch.setattr(library_index, "READINGS_CACHE_DIR", tmp_path)
    monkeypatch.setattr(library_index, "LARGE_LIBRARY", 1)
    monkeypatch.setattr(library_index, "_LOADED", {})
    factors = index.factors[:500]
    first = build_index(factors, [f.name for f in factors])
    assert len(list(tmp_path.glob("factor-readings-*.json"))) == 1
    # A new process: nothing read yet, everything known from the file.
    monkeypatch.setattr(ranking, "_KNOWN_READINGS", {})
    monkeypatch.setattr(library_index, "_LOADED", {})
    ranking.factor_reading.cache_clear()
    read.cache_clear()
    second = build_index(factors, [f.name for f in factors])
    assert read.cache_info().currsize == 0
    assert second.readings == first.readings
    assert [ranking.factor_reading(f.name, f.category) for f in factors] == [
        read(f"{f.name} | {f.category}", as_factor=True) for f in factors
    ]


def test_it_reads_the_factors_again_when_the_cache_file_is_damaged(
    index: LibraryIndex, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factors import library_index, ranking
    from factors.library_index import build_index

    monkeypatch.setattr(library_index, "READINGS_CACHE_DIR", tmp_path)
    monkeypatch.setattr(library_index, "LARGE_LIBRARY", 1)
    monkeypatch.setattr(library_index, "_LOADED", {})
    factors = index.factors[:50]
    build_index(factors, [f.name for f in factors])
    (path,) = tmp_path.glob("factor-readings-*.json")
    path.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(ranking, "_KNOWN_READINGS", {})
    monkeypatch.setattr(library_index, "_LOADED", {})
    ranking.factor_reading.cache_clear()
    rebuilt = build_index(factors, [f.name for f in factors])
    assert rebuilt.readings
    assert path.read_text(encoding="utf-8").startswith("{")
