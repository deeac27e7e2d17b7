"""The concept reader and the vocabulary files it reads (pure: no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from factors.concepts import (
    VOCABULARY_DIR,
    VocabularyError,
    fold,
    read,
    split_compound,
    vocabulary,
)


def test_it_folds_case_and_accents() -> None:
    assert fold("Électricité") == "electricite"
    assert fold("Olej napędowy") == "olej napedowy"
    assert fold("Straße") == "strasse"


@pytest.mark.parametrize(
    ("text", "heads"),
    [
        ("Stahlblech", {"mat.steel"}),
        ("Dienstwagenbenzin", {"fuel.petrol", "travel.car"}),
        ("Gewerbeabfall", {"waste.general"}),
        ("Elektriciteitsverbruik magazijn", {"elec.electricity"}),
        ("Heizöl EL", {"fuel.gas_oil"}),
        ("Heizoel EL", {"fuel.gas_oil"}),
        ("Gazole flotte véhicules", {"fuel.diesel"}),
        ("Gasóleo C calefacción", {"fuel.gas_oil"}),
        ("Gasolio riscaldamento", {"fuel.gas_oil"}),
        ("Gasolio autotrazione", {"fuel.diesel"}),
        ("Olej napędowy", {"fuel.diesel"}),
        ("Nat gas", {"fuel.natgas"}),
        ("Elec", {"elec.electricity"}),
        ("LKW", {"travel.hgv"}),
    ],
)
def test_it_reads_what_a_description_names(text: str, heads: set[str]) -> None:
    assert read(text).heads == heads


def test_it_ignores_cost_centres_references_dates_and_sites() -> None:
    plain = read("Diesel")
    assert read("Diesel KSt 4100 PO-4711 03/2024 Werk Nord").key == plain.key
    assert read("Elec - HQ meter 0012").key == read("Elec").key
    assert read("Erdgas Zähler 1234567 Rechnung 2024-01").key == read("Erdgas").key


def test_it_joins_refrigerant_designations_and_keeps_case_sensitive_terms() -> None:
    for text in ("R-410A", "R 410A", "r410a"):
        assert read(text).heads == {"ref.r410a"}
    assert read("HFC-134a").heads == {"ref.r134a"}
    assert read("ON samochody ciężarowe").heads == {"fuel.diesel", "travel.hgv"}
    assert "fuel.diesel" not in read("Taxi on client visits").heads


def test_it_reads_context_that_decides_the_use() -> None:
    assert "use.mobile" in read("Benzin Dienstwagen").contexts
    assert "use.stationary" in read("Nat gas boiler plant 2").contexts
    assert "ctx.waste" in read("Altpapier").contexts
    assert "ctx.business_travel" in read("Mileage claims employee own car").contexts
    assert "travel.car" in read("Mileage claims employee own car").heads


def test_it_counts_a_weak_word_only_when_nothing_else_is_named() -> None:
    assert read("Gas").heads == {"fuel.natgas"}
    assert read("Gas refrigerante R404A").heads == {"ref.r404a"}
    assert read("Residuos plásticos").heads == {"mat.plastic"}
    assert read("Residuos").heads == {"waste.general"}
    # In a publisher's name a weak word is only a heading.
    assert read("Waste disposal: Other: Books", as_factor=True).heads == frozenset()


def test_it_splits_only_compounds_it_can_trust() -> None:
    assert split_compound("dienstwagenbenzin") == ("dienstwagen", "benzin")
    assert split_compound("kundenzufriedenheit") == ()
    # Noise parts are consumed and name nothing.
    assert read("Verwaltungsgebäude").heads == frozenset()
    # A generator is no electricity purchase, though "Notstrom" contains "Strom".
    generator = read("Notstromaggregat")
    assert generator.heads == frozenset()
    assert "use.stationary" in generator.contexts


def test_every_vocabulary_entry_names_its_source() -> None:
    vocab = vocabulary()
    assert len(vocab.concepts) > 100
    for path in sorted(VOCABULARY_DIR.glob("*.yml")):
        assert path.read_text(encoding="utf-8").strip()
    languages = {"en", "de", "fr", "es", "it", "nl", "pl"}
    for cid in ("fuel.diesel", "elec.electricity", "travel.flight", "mat.steel"):
        for concept in [vocab.concepts[cid]]:
            assert concept.label
    import yaml

    for path in sorted(VOCABULARY_DIR.glob("*.yml")):
        for cid, entry in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            for lang, group in entry["words"].items():
                assert lang in languages, (cid, lang)
                assert group["source"], (cid, lang)


def test_it_rejects_an_entry_without_a_source(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        "fuel.x:\n  role: head\n  words:\n    en: {terms: [x]}\n", encoding="utf-8"
    )
    with pytest.raises(VocabularyError, match="needs a source"):
        vocabulary(tmp_path)
    (tmp_path / "bad.yml").write_text(
        "fuel.x:\n  role: head\n  also: [fuel.y]\n  words:\n    en: {source: s, terms: [x]}\n",
        encoding="utf-8",
    )
    with pytest.raises(VocabularyError, match="unknown concept"):
        vocabulary(tmp_path)
