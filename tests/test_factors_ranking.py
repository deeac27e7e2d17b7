"""Ranking candidate factors for an activity (pure)."""

from __future__ import annotations

from factors.ranking import FactorCandidate, expansions, rank_candidates


def _factor(
    name: str, unit: str, dimension: str, region: str = "GB", **extra: object
) -> FactorCandidate:
    return FactorCandidate(
        name=name,
        unit=unit,
        region=region,
        kg_co2e=1.0,
        unit_dimension=dimension,
        **extra,  # type: ignore[arg-type]
    )


LIBRARY = [
    _factor(
        "Liquid fuels: Diesel (average biofuel blend)", "L", "volume", publisher_id="1_101_1011_8_1"
    ),
    _factor("Liquid fuels: Diesel (average biofuel blend)", "kWh", "energy"),
    _factor("Liquid fuels: Gas oil", "L", "volume"),
    _factor("Biofuel: Development diesel", "L", "volume"),
    _factor("Electricity, grid average, Germany 2023", "kWh", "energy", region="DE", year=2023),
    _factor("Electricity, grid average, World 2023", "kWh", "energy", region="GLOBAL", year=2023),
    _factor("Electricity, grid average, France 2023", "kWh", "energy", region="FR", year=2023),
    _factor("Natural gas", "m ** 3", "volume"),
]


def test_it_ranks_by_text_dimension_and_region() -> None:
    found = rank_candidates(
        description="Diesel", candidates=LIBRARY, unit_dimension="volume", region="GB"
    )
    assert found[0].factor.name == "Liquid fuels: Diesel (average biofuel blend)"
    assert found[0].factor.unit == "L"
    assert "dimension compatible (volume)" in found[0].reasons
    assert "region GB" in found[0].reasons
    assert any(r.startswith("synonym 'diesel'") for r in found[0].reasons)
    names = [c.factor.name for c in found]
    assert "Liquid fuels: Gas oil" in names  # 'Diesel' ~ 'Gas oil'
    # The per-kWh diesel factor is energy: still usable via fuel properties, ranked lower.
    energy = [c for c in found if c.factor.unit == "kWh"]
    assert energy
    assert "convertible via fuel properties (volume -> energy)" in energy[0].reasons
    assert names.index("Liquid fuels: Diesel (average biofuel blend)") < found.index(energy[0])


def test_it_excludes_incompatible_dimensions_and_falls_back_to_global() -> None:
    found = rank_candidates(
        description="Strom", candidates=LIBRARY, unit_dimension="energy", region="PL", year=2023
    )
    assert found[0].factor.region == "GLOBAL"
    assert "region fallback to GLOBAL" in found[0].reasons
    assert "synonym 'strom' ~ 'electricity'" in found[0].reasons
    assert all(
        c.factor.unit_dimension == "energy" or c.factor.unit_dimension in {"volume", "mass"}
        for c in found
    )
    spend = rank_candidates(description="Strom", candidates=LIBRARY, unit_dimension="money")
    assert spend == []


def test_it_puts_a_matching_supplier_factor_first() -> None:
    supplier = _factor("Diesel from Acme Fuels", "L", "volume", source="supplier")
    found = rank_candidates(
        description="diesel", candidates=[*LIBRARY, supplier], unit_dimension="volume", region="GB"
    )
    assert found[0].factor is supplier
    assert found[0].reasons[0] == "supplier-specific factor (preferred)"
    unrelated = _factor("Steel coil from Acme", "kg", "mass", source="supplier")
    found = rank_candidates(
        description="diesel", candidates=[*LIBRARY, unrelated], unit_dimension="volume"
    )
    assert unrelated not in [c.factor for c in found]


def test_it_gives_an_exact_key_the_top_rank_and_penalises_flags() -> None:
    flagged = _factor(
        "Liquid fuels: Diesel (average biofuel blend)",
        "L",
        "volume",
        flags=("outlier",),
        flag_reason="outlier",
    )
    found = rank_candidates(description="1_101_1011_8_1", candidates=[*LIBRARY, flagged])
    assert found[0].factor.publisher_id == "1_101_1011_8_1"
    assert found[0].reasons[0] == "exact key"
    found = rank_candidates(
        description="Diesel (average biofuel blend)", candidates=[flagged, LIBRARY[0]]
    )
    assert found[0].factor is LIBRARY[0]
    assert "flagged: outlier" in found[1].reasons


def test_it_expands_synonyms_in_several_languages() -> None:
    texts = [text for text, _ in expansions("Erdgas Heizung")]
    assert "natural gas heizung" in texts
    assert [t for t, _ in expansions("Strom")] == ["strom", "electricity"]
