"""Mapping suggestions in six languages, header signatures, and the mapping's data and YAML forms
(imports.pipeline.mapping)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from imports.pipeline import (
    FIELDS,
    Mapping,
    MappingOptions,
    PipelineError,
    dump_mapping_yaml,
    header_signature,
    load_mapping_file,
    suggest_mapping,
)

HEADERS_BY_LANGUAGE = {
    "en": [
        "Date",
        "Description",
        "Quantity",
        "Unit",
        "Amount",
        "Currency",
        "Site",
        "Supplier",
        "Country",
        "Scope",
        "Category",
        "Notes",
    ],
    "de": [
        "Datum",
        "Bezeichnung",
        "Menge",
        "Einheit",
        "Betrag",
        "Währung",
        "Standort",
        "Lieferant",
        "Land",
        "Bereich",
        "Kategorie",
        "Bemerkung",
    ],
    "fr": [
        "Date",
        "Libellé",
        "Quantité",
        "Unité",
        "Montant",
        "Devise",
        "Site",
        "Fournisseur",
        "Pays",
        "Périmètre",
        "Catégorie",
        "Commentaire",
    ],
    "es": [
        "Fecha",
        "Descripción",
        "Cantidad",
        "Unidad",
        "Importe",
        "Moneda",
        "Sede",
        "Proveedor",
        "País",
        "Alcance",
        "Categoría",
        "Observaciones",
    ],
    "it": [
        "Data",
        "Descrizione",
        "Quantità",
        "Unità di misura",
        "Importo",
        "Valuta",
        "Stabilimento",
        "Fornitore",
        "Paese",
        "Ambito",
        "Categoria",
        "Note",
    ],
    "nl": [
        "Datum",
        "Omschrijving",
        "Hoeveelheid",
        "Eenheid",
        "Bedrag",
        "Valuta",
        "Vestiging",
        "Leverancier",
        "Land",
        "Reikwijdte",
        "Categorie",
        "Opmerking",
    ],
}
EXPECTED = [
    "date",
    "activity",
    "quantity",
    "unit",
    "amount",
    "currency",
    "site",
    "supplier",
    "country",
    "scope",
    "category",
    "notes",
]


@pytest.mark.parametrize("language", sorted(HEADERS_BY_LANGUAGE))
def test_it_suggests_every_field_from_headers_in_six_languages(language: str) -> None:
    headers = HEADERS_BY_LANGUAGE[language]
    suggestion = suggest_mapping(headers)
    assert suggestion.mapping.columns == dict(zip(EXPECTED, headers, strict=True))
    assert suggestion.unmapped_columns == []
    for s in suggestion.suggestions:
        assert s.confidence == 1.0
        assert s.column is not None
        assert s.column in s.reason


def test_it_matches_misspelt_and_compound_headers_with_less_confidence() -> None:
    suggestion = suggest_mapping(["Buchungsdatum", "Quantitiy", "Stromverbrauch", "Artikel", "ME"])
    by_field = {s.field: s for s in suggestion.suggestions}
    assert by_field["date"].column == "Buchungsdatum"
    assert by_field["date"].confidence == 1.0
    assert by_field["quantity"].column == "Quantitiy"
    assert 0.6 <= by_field["quantity"].confidence < 1.0
    assert "similar" in by_field["quantity"].reason
    assert by_field["activity"].column == "Artikel"
    assert by_field["unit"].column == "ME"
    assert "Stromverbrauch" in suggestion.unmapped_columns  # quantity was taken by a better match


def test_it_does_not_take_a_unit_price_for_a_unit_or_an_amount() -> None:
    suggestion = suggest_mapping(["Date", "Item", "Unit price", "Qty", "UoM"])
    assert suggestion.mapping.columns.get("unit") == "UoM"
    assert "Unit price" in suggestion.unmapped_columns


def test_it_turns_units_and_currencies_in_headers_into_constants() -> None:
    suggestion = suggest_mapping(["Datum", "Zähler", "Verbrauch (kWh)", "Kosten in €"])
    assert suggestion.mapping.columns["quantity"] == "Verbrauch (kWh)"
    assert suggestion.mapping.columns["amount"] == "Kosten in €"
    assert suggestion.mapping.constants == {"unit": "kWh", "currency": "EUR"}
    reasons = {s.field: s.reason for s in suggestion.suggestions}
    assert "Verbrauch (kWh)" in reasons["unit"]


def test_it_uses_values_to_demote_a_header_that_does_not_fit() -> None:
    sample = pd.DataFrame(
        {
            "Date": ["see notes", "n/a", "tbd"],
            "Booked": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "Activity": ["Diesel", "Gas", "Power"],
        },
        dtype="str",
    )
    suggestion = suggest_mapping(list(sample.columns), sample)
    assert suggestion.mapping.columns["date"] == "Booked"


def test_it_fingerprints_a_header_set_regardless_of_order_case_and_spacing() -> None:
    a = header_signature(["Datum", "Menge", "Einheit"])
    assert a == header_signature(["einheit", " Menge ", "DATUM"])
    assert a == header_signature(["Datum", "Menge", "Einheit", ""])
    assert a != header_signature(["Datum", "Menge", "Einheit", "Betrag"])
    assert a != header_signature(["Datum", "Menge"])
    assert len(a) == 64
    assert suggest_mapping(["Datum", "Menge", "Einheit"]).signature == a


def _mapping() -> Mapping:
    return Mapping(
        columns={"date": "Datum", "activity": "Bezeichnung", "quantity": "Menge"},
        constants={"unit": "kWh", "currency": "EUR"},
        options=MappingOptions(
            decimal=",", date_order="DMY", sheet="Daten", header_row=3, correction_words=["Storno"]
        ),
        name="Zählerexport",
    )


def test_it_round_trips_a_mapping_through_json() -> None:
    m = _mapping()
    data = json.loads(json.dumps(m.to_dict()))
    assert Mapping.from_dict(data) == m
    assert data["columns"]["quantity"] == "Menge"
    assert data["options"] == {
        "decimal": ",",
        "date_order": "DMY",
        "sheet": "Daten",
        "header_row": 3,
        "correction_words": ["Storno"],
    }


def test_it_reads_and_writes_yaml_mapping_files(tmp_path: Path) -> None:
    path = tmp_path / "zaehler.yml"
    path.write_text(dump_mapping_yaml(_mapping()), encoding="utf-8")
    assert load_mapping_file(path) == _mapping()
    handwritten = tmp_path / "feed.yml"
    handwritten.write_text(
        "version: 1\n"
        "columns:\n  date: Datum\n  activity: Bezeichnung\n  quantity: Menge\n  unit: Einheit\n"
        "constants:\n  currency: EUR\n  scope: 3\n"
        "options:\n  decimal: ','\n  date_order: dmy\n",
        encoding="utf-8",
    )
    m = load_mapping_file(handwritten)
    assert m.columns["unit"] == "Einheit"
    assert m.constants == {"currency": "EUR", "scope": "3"}
    assert m.options.decimal == ","
    assert m.options.date_order == "DMY"


def test_it_accepts_per_field_options() -> None:
    m = Mapping.from_dict(
        {
            "columns": {"quantity": "Menge", "amount": "Amount"},
            "options": {"decimal": {"quantity": ",", "amount": "."}},
        }
    )
    assert m.options.decimal_for("quantity") == ","
    assert m.options.decimal_for("amount") == "."
    assert m.options.date_order_for("date") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("columns: [Datum, Menge]\n", "columns must be a mapping"),
        ("columns:\n  datum: Datum\n", "unknown field 'datum'"),
        ("columns:\n  unit: Einheit\nconstants:\n  unit: kWh\n", "both a column and a constant"),
        ("options:\n  decimal: ';'\n", "options.decimal"),
        ("options:\n  date_order: DDMM\n", "options.date_order"),
        ("options:\n  header_row: 0\n", "header_row"),
        ("options:\n  delimiter: ';'\n", "unknown key"),
        ("colums:\n  date: Datum\n", "unknown key(s) colums"),
        ("version: 2\n", "version 2"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_it_rejects_an_invalid_mapping_file_with_a_precise_message(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PipelineError) as info:
        load_mapping_file(path)
    assert info.value.code == "mapping_invalid"
    assert fragment in info.value.message
    assert info.value.message.startswith("bad.yml:")


def test_it_rejects_broken_yaml_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("columns:\n  date: Datum\n  unit: [kWh\n", encoding="utf-8")
    with pytest.raises(PipelineError) as info:
        load_mapping_file(path)
    assert info.value.code == "mapping_file_invalid"
    assert "line" in info.value.message


def test_it_rejects_a_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as info:
        load_mapping_file(tmp_path / "nope.yml")
    assert info.value.code == "mapping_file_invalid"


def test_it_names_what_an_incomplete_mapping_lacks() -> None:
    m = Mapping(columns={"date": "Datum", "quantity": "Menge"})
    missing = m.missing_requirements()
    assert any("activity" in x for x in missing)
    assert any("unit" in x for x in missing)
    with pytest.raises(PipelineError) as info:
        m.check(["Datum", "Menge"])
    assert info.value.code == "mapping_incomplete"
    complete = Mapping(
        columns={
            "period_start": "Von",
            "period_end": "Bis",
            "activity": "Text",
            "amount": "Betrag",
        },
        constants={"currency": "EUR"},
    )
    assert complete.missing_requirements() == []


def test_it_names_mapped_columns_the_file_lacks() -> None:
    m = Mapping(columns={"date": "Datum", "activity": "Text", "quantity": "Menge", "unit": "ME"})
    with pytest.raises(PipelineError) as info:
        m.check(["Datum", "Text", "Menge", "Einheit"])
    assert info.value.code == "mapping_column_missing"
    assert "'ME'" in info.value.message
    assert "Einheit" in info.value.message


def test_it_lists_every_target_field_the_issue_names() -> None:
    for fld in (
        "date",
        "period_start",
        "period_end",
        "activity",
        "quantity",
        "unit",
        "amount",
        "currency",
        "site",
        "supplier",
        "country",
        "scope",
        "category",
        "notes",
    ):
        assert fld in FIELDS


def test_it_suggests_no_unit_constant_the_engine_does_not_know() -> None:
    suggestion = suggest_mapping(["Datum", "Artikel", "Menge (Fass)"])
    assert suggestion.mapping.columns["quantity"] == "Menge (Fass)"
    assert "unit" not in suggestion.mapping.constants
