"""Factor matching measured on the labelled set (tests/data/matching): 429 ledger and fuel-card
descriptions in seven languages, each with unit, country and the expected factor family.

Matches against the shipped DEFRA 2024, EPA Hub 2025, OWID grid and AIB datasets as their mappings
read them (no database). A top-1 of the wrong scope, Scope 3 category or dimension is a failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from factors.labelled import (
    LANGUAGES,
    families,
    index_from_frames,
    labelled_rows,
    score,
    verdict,
)
from factors.library_index import LibraryIndex
from factors.matching import match_factors
from factors.ranking import FactorCandidate

DATASETS = ["defra_2024", "epa_hub_2025", "owid_grid_2025", "aib_residual_mix_2021"]


@pytest.fixture(scope="module")
def index() -> LibraryIndex:
    from factors.ingest.reader import read_dataset
    from factors.services import select_mappings

    return index_from_frames(
        (mapping.key, read_dataset(mapping).frame) for mapping in select_mappings(DATASETS)
    )


def _top(index: LibraryIndex, description: str, unit: str, region: str | None) -> Any:
    found = match_factors(description=description, unit=unit, region=region, index=index, limit=5)
    return found[0] if found else None


def test_it_matches_the_labelled_set_top_1(index: LibraryIndex) -> None:
    rows = labelled_rows()
    assert len(rows) >= 400
    for lang in LANGUAGES:
        assert sum(r.lang == lang for r in rows) >= 40, lang

    def top_of(row: Any) -> FactorCandidate | None:
        found = _top(index, row.description, row.unit, row.country)
        return found.factor if found else None

    overall, by_lang, misses = score(rows, top_of)
    detail = "\n".join(
        f"{r.lang} {r.description!r} ({r.unit}, {r.country}) want {r.family.key}: {why} <- {name}"
        for r, why, name in misses
    )
    assert overall.accuracy >= 0.95, detail
    for lang, s in by_lang.items():
        assert s.accuracy >= 0.90, f"{lang}: {s.right}/{s.total}\n{detail}"


def test_it_keeps_a_held_out_fifth_and_every_family_checkable() -> None:
    rows = labelled_rows()
    held_out = [r for r in rows if r.split == "holdout"]
    assert 0.15 <= len(held_out) / len(rows) <= 0.25
    used = {r.family.key for r in rows}
    assert used <= set(families())


def test_it_counts_a_wrong_scope_or_dimension_as_a_failure() -> None:
    row = next(r for r in labelled_rows() if r.family.key == "diesel")
    right = FactorCandidate(
        name="Liquid fuels: Diesel (average biofuel blend)", unit="L", region="GB",
        kg_co2e=2.5, unit_dimension="volume", dataset_key="defra_2024", scope="1",
    )  # fmt: skip
    assert verdict(row, right) == "ok"
    wtt = FactorCandidate(
        name="Liquid fuels: Diesel (average biofuel blend)", unit="L", region="GB",
        kg_co2e=0.6, unit_dimension="volume", dataset_key="defra_2024", scope="3",
        scope3_category=3,
    )  # fmt: skip
    assert verdict(row, wtt) == "scope"
    per_km = FactorCandidate(
        name="Liquid fuels: Diesel (average biofuel blend)", unit="km", region="GB",
        kg_co2e=0.2, unit_dimension="distance", dataset_key="defra_2024", scope="1",
    )  # fmt: skip
    assert verdict(row, per_km) == "dimension"
    assert verdict(row, None) == "none"


@pytest.mark.parametrize(
    ("description", "unit", "region", "dataset", "name_start"),
    [
        # Vehicle words: mobile combustion, never stationary.
        ("Diesel fuel - trucks", "gal", "US", "epa_hub_2025", "Diesel Fuel (mobile"),
        ("Gasoline fleet vehicles", "gal", "US", "epa_hub_2025", "Motor Gasoline (mobile"),
        # Boiler / generator words: stationary.
        ("Nat gas boiler plant 2", "mmBtu", "US", "epa_hub_2025", "Natural Gas (stationary"),
        ("Diesel generator backup", "gal", "US", "epa_hub_2025", "Distillate Fuel Oil No. 2"),
        # The examples.
        ("Benzin Dienstwagen", "L", "DE", "defra_2024", "Liquid fuels: Petrol"),
        ("Flug Kurzstrecke", "passenger.km", "DE", "defra_2024", "Flights: Short-haul"),
        ("Dienstreise Bahn", "passenger.km", "DE", "defra_2024", "Business travel- land: Rail"),
        ("Aluminiumprofile", "kg", "DE", "defra_2024", "Material use: "),
        ("Gewerbeabfall", "t", "DE", "defra_2024", "Waste disposal: Refuse: Commercial"),
        ("Gazole flotte véhicules", "L", "FR", "defra_2024", "Liquid fuels: Diesel"),
        ("Elec - HQ meter 0012", "kWh", "GB", "defra_2024", "Electricity generated"),
        ("Steel sheet purchased", "t", "GB", "defra_2024", "Material use: "),
        ("Purchased electricity - plant", "kWh", "US", "epa_hub_2025", "Electricity, eGRID"),
        ("Train TGV", "passenger.km", "FR", "defra_2024", "Business travel- land: Rail"),
    ],
)
def test_it_lets_context_decide_the_use(
    index: LibraryIndex, description: str, unit: str, region: str, dataset: str, name_start: str
) -> None:
    top = _top(index, description, unit, region)
    assert top is not None
    assert top.factor.dataset_key == dataset
    assert top.factor.name.startswith(name_start), top.factor.name
    assert "stationary" not in top.factor.name or "Diesel Fuel" not in name_start


def test_it_picks_the_publisher_of_the_region_and_states_a_fallback(index: LibraryIndex) -> None:
    grid = _top(index, "Strom", "kWh", "DE")
    assert (grid.factor.dataset_key, grid.factor.region) == ("owid_grid_2025", "DE")
    assert "region DE" in grid.reasons
    fallback = _top(index, "Benzin Dienstwagen", "L", "DE")
    assert fallback.factor.region == "GB"
    assert "UK factor used for a DE activity" in fallback.reasons
    subregion = _top(index, "Electricity", "kWh", "CAMX")
    assert (subregion.factor.dataset_key, subregion.factor.region) == ("epa_hub_2025", "CAMX")
    us = _top(index, "Electricity", "kWh", "US")
    assert us.factor.region == "US"
    uk = _top(index, "Electricity", "kWh", "GB")
    assert uk.factor.dataset_key == "defra_2024"
    hotel = _top(index, "Hotelübernachtungen", "room_night", "FR")
    assert hotel.factor.region == "FR"


def test_it_never_picks_another_dimension_or_an_upstream_line(index: LibraryIndex) -> None:
    # Diesel given in km: a vehicle factor per km, never a per-litre fuel factor.
    per_km = match_factors(description="Diesel Pkw", unit="km", region="DE", index=index)
    assert per_km
    assert all(c.factor.unit_dimension == "distance" for c in per_km)
    # Nothing the library has per kg names a hotel night: no silent pick.
    assert match_factors(description="Hotel", unit="kg", region="GB", index=index) == []
    # Steel in litres: no density path to a per-tonne material factor.
    assert match_factors(description="Stahlblech", unit="L", region="DE", index=index) == []
    # A fuel in kg: its per-litre and per-kWh factors convert through DEFRA's fuel properties.
    by_mass = match_factors(description="Heizöl EL", unit="kg", region="DE", index=index)
    assert by_mass[0].factor.unit_dimension == "mass"
    converted = [c for c in by_mass if c.factor.unit_dimension != "mass"]
    assert converted
    assert "convertible via fuel properties (mass -> volume)" in [
        r for c in converted for r in c.reasons
    ] or "convertible via fuel properties (mass -> energy)" in [
        r for c in converted for r in c.reasons
    ]
    for description in ("Diesel", "Erdgas", "Strom", "Flug Langstrecke", "LKW Fracht"):
        for candidate in match_factors(description=description, region="GB", index=index):
            assert "WTT" not in candidate.factor.name
            assert "T&D" not in candidate.factor.name
    asked = _top(index, "WTT diesel", "L", "GB")
    assert asked.factor.name.startswith("WTT- fuels")


def test_it_reads_waste_only_with_a_waste_word(index: LibraryIndex) -> None:
    bought = _top(index, "Kartonagen", "kg", "DE")
    assert bought.factor.name.startswith("Material use: Paper")
    assert bought.factor.scope3_category == 1
    thrown = _top(index, "Kartonagen Entsorgung", "kg", "DE")
    assert thrown.factor.name.startswith("Waste disposal: Paper")
    assert thrown.factor.scope3_category == 5


def test_it_gives_every_scope_3_factor_of_the_shipped_datasets_a_category() -> None:
    from factors.ingest.reader import read_dataset
    from factors.services import select_mappings

    missing: dict[str, list[str]] = {}
    for mapping in select_mappings(None):
        if not all(mapping.table_path(t).exists() for t in mapping.tables):
            continue  # computed from a release the user supplies (EXIOBASE MRIO)
        frame = read_dataset(mapping).frame
        scope3 = frame[frame["scope"] == "3"]
        lacking = scope3[scope3["scope3_category"].isna()]
        if len(lacking):
            missing[mapping.key] = sorted(set(lacking["category"].str.split(" > ").str[0]))
    assert missing == {}


def test_it_includes_the_second_fresh_set_as_written() -> None:
    import csv

    from factors.labelled import LABELLED_DIR

    with (LABELLED_DIR / "fresh_2.csv").open(encoding="utf-8", newline="") as handle:
        fresh = [tuple(r.values()) for r in csv.DictReader(handle)]
    with (LABELLED_DIR / "labelled.csv").open(encoding="utf-8", newline="") as handle:
        labelled = {tuple(r.values()) for r in csv.DictReader(handle)}
    assert len(fresh) == 60
    assert set(fresh) <= labelled
    assert {row[0] for row in fresh} == set(LANGUAGES)
