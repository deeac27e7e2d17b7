"""A purchase ledger's spend rows (an amount, no quantity) take a spend factor through the import,
as the factor search ranks them for an amount in EUR: "Kopierpapier" for 420.50 EUR in Germany is
EXIOBASE's "Paper and paper products" for DE (0.390986 kg CO2e per EUR, exiobase_2022 DE:p21.2,
as tests/test_factors_spend.py reads it), not "no factor" because the mass factors that share
its words (DEFRA paper per tonne) filled the list of candidates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from imports.pipeline import suggest_mapping
from imports.preparation import prepare
from imports.selectors import read_source
from tests.conftest import library_add

LEDGER = (
    "Buchungsdatum;Beschreibung;Menge;Einheit;Land;Betrag;Währung\n"
    "03.03.2024;Kopierpapier;;;DE;420,50;EUR\n"
    "04.03.2024;Kopierpapier A4;10;kg;DE;;\n"
)


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Iterator[None]:
    library_add("exiobase_2022")
    with schema_context("acme"):
        yield


def test_a_spend_row_takes_the_spend_factor_its_words_name(acme: None, tmp_path: Any) -> None:
    from factors.models import EmissionFactor

    path = tmp_path / "buchungen.csv"
    path.write_text(LEDGER, encoding="utf-8")
    read = read_source(path, filename=path.name, sheet=None, header_row=None)
    prepared = prepare(read, suggest_mapping(read.headers, read.frame.head(200)).mapping)
    assert prepared.n_invalid == 0, prepared.error_records()
    chosen = {c.activity: (c.unit_dimension, c.factor_id) for c in prepared.choices}
    spend = EmissionFactor.objects.select_related("dataset").get(id=chosen["Kopierpapier"][1])
    assert chosen["Kopierpapier"][0] == "money"
    assert (spend.dataset.key, spend.publisher_id, spend.unit) == (
        "exiobase_2022",
        "DE:p21.2",
        "EUR",
    )
    assert spend.kg_co2e == pytest.approx(0.390986, abs=5e-7)
    # The same words with a mass keep the mass factor (DEFRA paper).
    by_mass = EmissionFactor.objects.select_related("dataset").get(id=chosen["Kopierpapier A4"][1])
    assert (by_mass.dataset.key, by_mass.unit_dimension) == ("defra_2024", "mass")


def test_a_factor_that_only_relates_to_the_activity_is_said_on_the_check_page(
    acme: None, tmp_path: Any
) -> None:
    # EXIOBASE's German file has no "Basic iron and steel" row: a steel purchase in Germany takes
    # the related "Fabricated metal products", and the check says so.
    path = tmp_path / "stahl.csv"
    path.write_text(
        "Buchungsdatum;Beschreibung;Land;Betrag;Währung\n05.03.2024;Stahlblech;DE;1.000,00;EUR\n",
        encoding="utf-8",
    )
    read = read_source(path, filename=path.name, sheet=None, header_row=None)
    prepared = prepare(read, suggest_mapping(read.headers, read.frame.head(200)).mapping)
    notes = [n["message"] for n in prepared.result.notes if n["code"] == "factor_related"]
    assert notes == [
        "Stahlblech (DE): no factor names it; “Fabricated metal products, except machinery and "
        "equipment (28) (EXIOBASE DE)” is related to steel: check it in the factor step, or "
        "choose another."
    ]


def test_a_ledgers_goods_and_services_take_their_exiobase_products(
    acme: None, tmp_path: Any
) -> None:
    from factors.models import EmissionFactor

    path = tmp_path / "kreditoren.csv"
    path.write_text(
        "Buchungsdatum;Beschreibung;Land;Betrag;Währung\n"
        "05.03.2024;Büromöbel;DE;2.400,00;EUR\n"
        "06.03.2024;Beratungsleistungen;DE;9.000,00;EUR\n"
        "07.03.2024;Gebäudereinigung;DE;1.150,00;EUR\n"
        "08.03.2024;Mobilfunk;DE;310,00;EUR\n"
        "09.03.2024;Frais de nettoyage;DE;500,00;EUR\n"
        "10.03.2024;Laptop Dell;DE;1.299,00;EUR\n"
        "11.03.2024;Software-Lizenzen;DE;4.800,00;EUR\n",
        encoding="utf-8",
    )
    read = read_source(path, filename=path.name, sheet=None, header_row=None)
    prepared = prepare(read, suggest_mapping(read.headers, read.frame.head(200)).mapping)
    assert prepared.n_invalid == 0, prepared.error_records()
    ids = {c.activity: c.factor_id for c in prepared.choices}
    taken = dict(
        EmissionFactor.objects.filter(id__in=ids.values()).values_list("id", "publisher_id")
    )
    # EXIOBASE 3 IOT 2022 pxp, Germany: furniture (36), other business services (74: legal,
    # accounting, consultancy, industrial cleaning), post and telecommunications (64); a laptop
    # is office machinery and computers (30), software computer and related services (72).
    assert {a: taken[i] for a, i in ids.items()} == {
        "Büromöbel": "DE:p36",
        "Beratungsleistungen": "DE:p74",
        "Gebäudereinigung": "DE:p74",
        "Mobilfunk": "DE:p64",
        "Frais de nettoyage": "DE:p74",
        "Laptop Dell": "DE:p30",
        "Software-Lizenzen": "DE:p72",
    }


def test_the_factor_step_calls_an_amount_spend(alice: Any) -> None:
    from django.urls import reverse

    from tests.import_helpers import post_upload

    post_upload(alice, b"Date,Description,Amount,Currency\n2024-03-05,Toner,120.00,EUR\n", "l.csv")
    with schema_context("acme"):
        from imports.models import ImportRun
        from imports.services import import_run_validate

        run = ImportRun.objects.latest("id")
        import_run_validate(run=run)
    response = alice.get(reverse("import_factors", args=[run.id]))
    assert response.status_code == 200, response
    page = response.content.decode()
    assert "spend · " in page
    assert "No factor in the library matches “Toner” (spend)." in page
    # A tampered line count is no count (not a 500).
    url = reverse("import_factors", args=[run.id])
    assert alice.post(url, {"lines": "²"}).status_code in (200, 302, 422)
