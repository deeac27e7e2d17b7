"""Ranking candidate factors for an activity (pure)."""

from __future__ import annotations

from factors.ranking import FactorCandidate, content_words, expansions, rank_candidates


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
    assert "names diesel" in found[0].reasons
    names = [c.factor.name for c in found]
    assert "Liquid fuels: Gas oil" in names  # diesel's related fuel, ranked lower
    gas_oil = found[names.index("Liquid fuels: Gas oil")]
    assert "related to diesel" in gas_oil.reasons
    assert "Biofuel: Development diesel" not in names  # another fuel, not diesel
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
    assert "names electricity" in found[0].reasons
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


FUELS = [
    _factor(
        "Liquid fuels: Diesel (average biofuel blend)",
        "L",
        "volume",
        scope="1",
        category="Fuels > Liquid fuels > Diesel (average biofuel blend)",
        publisher_id="1_101_1011_8_1",
    ),
    _factor(
        "WTT- fuels: Liquid fuels: Diesel (average biofuel blend)",
        "L",
        "volume",
        scope="3",
        category="WTT- fuels > Liquid fuels > Diesel (average biofuel blend)",
        publisher_id="11_101_1011_8_1",
    ),
    _factor(
        "Liquid fuels: Petrol (average biofuel blend)",
        "L",
        "volume",
        scope="1",
        category="Fuels > Liquid fuels > Petrol (average biofuel blend)",
        publisher_id="1_101_1017_8_1",
    ),
    _factor(
        "Liquid fuels: Gas oil",
        "L",
        "volume",
        scope="1",
        category="Fuels > Liquid fuels > Gas oil",
        publisher_id="1_101_1014_8_1",
    ),
]


def _ids(description: str) -> list[str]:
    found = rank_candidates(
        description=description, candidates=FUELS, unit_dimension="volume", region="GB"
    )
    return [c.factor.publisher_id for c in found]


def test_it_prefers_the_direct_factor_to_the_well_to_tank_one() -> None:
    found = rank_candidates(
        description="Diesel", candidates=FUELS, unit_dimension="volume", region="GB"
    )
    ids = [c.factor.publisher_id for c in found]
    assert ids == ["1_101_1011_8_1", "1_101_1014_8_1"]
    # A well-to-tank factor is never the main line of an activity that does not ask for it
    # (it is reported as its own Scope 3 category 3 line): it is not offered at all.
    # Asked for, the well-to-tank factor comes first, and the direct one says why it is lower.
    found = rank_candidates(
        description="WTT diesel", candidates=FUELS, unit_dimension="volume", region="GB"
    )
    assert found[0].factor.publisher_id == "11_101_1011_8_1"
    assert "well-to-tank, as described" in found[0].reasons
    direct = next(c for c in found if c.factor.publisher_id == "1_101_1011_8_1")
    assert "direct factor: the description asks for well-to-tank" in direct.reasons
    assert _ids("upstream diesel")[0] == "11_101_1011_8_1"


def test_it_never_offers_petrol_for_diesel() -> None:
    # The synonym 'diesel (average biofuel blend)' shares three words with petrol's name.
    assert "1_101_1017_8_1" not in _ids("Diesel")
    assert "1_101_1017_8_1" not in _ids("diesel average biofuel blend")
    assert "1_101_1011_8_1" not in _ids("Petrol")
    assert _ids("Petrol")[0] == "1_101_1017_8_1"


def test_it_never_reads_another_fuel_as_the_named_one() -> None:
    development = _factor("Biofuel: Development diesel", "L", "volume")
    found = rank_candidates(
        description="diesel", candidates=[development, FUELS[0]], unit_dimension="volume"
    )
    assert [c.factor for c in found] == [FUELS[0]]
    assert found[0].reasons[0] == "names diesel"
    # A description that names nothing the vocabulary knows still matches on text.
    found = rank_candidates(
        description="development", candidates=[development, FUELS[0]], unit_dimension="volume"
    )
    assert found[0].factor is development
    assert found[0].reasons[0].startswith("fuzzy text")


def test_it_ignores_generic_words_when_matching_words() -> None:
    assert content_words("Diesel (average biofuel blend)") == ["diesel"]
    assert content_words("Average") == ["average"]  # nothing else to go by
    assert content_words("WTT- fuels: Gas oil") == ["wtt", "fuels", "gas", "oil"]


def test_it_prefers_gross_cv_kwh_for_bills_unless_the_description_says_net() -> None:
    gross = FactorCandidate(
        name="Gaseous fuels: Natural gas (gross CV)", unit="kWh", region="GB", kg_co2e=0.1829,
        unit_dimension="energy", cv_basis="gross",
    )  # fmt: skip
    net = FactorCandidate(
        name="Gaseous fuels: Natural gas (net CV)", unit="kWh", region="GB", kg_co2e=0.20264,
        unit_dimension="energy", cv_basis="net",
    )  # fmt: skip
    bill = rank_candidates(description="Erdgas", candidates=[net, gross], unit_dimension="energy")
    assert bill[0].factor is gross
    assert any("net CV" in r for r in bill[1].reasons)
    net_first = rank_candidates(
        description="Erdgas Heizwert", candidates=[gross, net], unit_dimension="energy"
    )
    assert net_first[0].factor is net


# EXIOBASE spend products of one region (names as published; the German file has no "Basic iron
# and steel" row, see data/raw/exiobase): what a steel or aluminium purchase may be read as.
SPEND = [
    _factor("Other non-ferrous metal products (EXIOBASE DE)", "EUR", "money", region="DE"),
    _factor("Aluminium ores and concentrates (EXIOBASE DE)", "EUR", "money", region="DE"),
    _factor("Precious metals (EXIOBASE DE)", "EUR", "money", region="DE"),
    _factor(
        "Fabricated metal products, except machinery and equipment (28) (EXIOBASE DE)",
        "EUR",
        "money",
        region="DE",
    ),
    _factor("Nickel ores and concentrates (EXIOBASE DE)", "EUR", "money", region="DE"),
]


def test_steel_is_never_read_as_a_non_ferrous_or_precious_metal_nor_a_metal_as_its_ore() -> None:
    def ranked(description: str) -> list[str]:
        found = rank_candidates(
            description=description, candidates=SPEND, unit_dimension="money", region="DE"
        )
        return [c.factor.name.split(" (")[0] for c in found]

    # Steel sheet: only the fabricated metal products are related (a metal), never the
    # non-ferrous or precious metals, nor any ore.
    assert ranked("Stahlblech") == ["Fabricated metal products, except machinery and equipment"]
    # Aluminium is a non-ferrous metal: that product first; its ore is a mining product.
    assert ranked("Aluminiumblech")[0] == "Other non-ferrous metal products"
    assert "Aluminium ores and concentrates" not in ranked("Aluminiumblech")
    # A description that names ores may take an ore.
    assert "Nickel ores and concentrates" in ranked("ores and concentrates")
