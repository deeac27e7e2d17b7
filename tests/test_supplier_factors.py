"""Supplier-specific factors: editors write, viewers read, the form validates, matching prefers them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from emissions.models import ActivityRecord, SupplierFactor
from emissions.selectors import supplier_factor_candidates
from factors.ingest.mapping import load_mapping, mapping_path
from factors.matching import match_factors
from factors.services import factors_ingest
from tests.conftest import EDDIE
from tests.factor_helpers import make_supplier_factor

VALID = {
    "name": "Diesel from Acme Fuels",
    "supplier": "Acme Fuels Ltd",
    "scope": "1",
    "category": "",
    "region": "gb",
    "unit": "litres",
    "kg_co2e": "2.41",
    "kg_co2": "2.38",
    "kg_ch4_co2e": "0.0003",
    "kg_n2o_co2e": "0.03",
    "kg_other_co2e": "",
    "gwp_set": "AR5",
    "basis": "supplier",
    "currency": "",
    "price_year": "",
    "year": "2024",
    "uncertainty_gsd": "",
    "source_note": "Acme Fuels product carbon footprint, 12 March 2024",
}


def _post(client: Client, url: str, **changes: str) -> Any:
    return client.post(url, {**VALID, **changes})


def _errors(response: Any) -> str:
    return str(response.content.decode())


def test_it_lets_an_editor_add_a_factor(eddie: Client) -> None:
    response = _post(eddie, "/factors/yours/add/")
    assert response.status_code == 302
    with schema_context("acme"):
        factor = SupplierFactor.objects.get(name="Diesel from Acme Fuels")
        assert response["Location"] == f"/factors/yours/{factor.id}/"
        # The form stores the engine's spelling of the unit and upper-case region.
        assert (factor.unit, factor.region, factor.scope, factor.category) == ("L", "GB", 1, None)
        assert factor.kg_co2e == pytest.approx(2.41)
        assert factor.created_by == User.objects.get(email=EDDIE.email)
    page = eddie.get(response["Location"]).content.decode()
    assert "Acme Fuels product carbon footprint, 12 March 2024" in page
    assert "Your factor" in page


def test_it_lets_a_viewer_read_but_not_write(bob: Client) -> None:
    factor = make_supplier_factor()
    listing = bob.get("/factors/yours/")
    assert listing.status_code == 200
    assert "Diesel from Acme Fuels" in listing.content.decode()
    assert "Add a factor" not in listing.content.decode()
    detail = bob.get(f"/factors/yours/{factor.id}/")
    assert detail.status_code == 200
    assert f"/factors/yours/{factor.id}/edit/" not in detail.content.decode()
    assert bob.get("/factors/yours/add/").status_code == 403
    assert _post(bob, "/factors/yours/add/").status_code == 403
    assert _post(bob, f"/factors/yours/{factor.id}/edit/", name="Changed").status_code == 403
    assert bob.post(f"/factors/yours/{factor.id}/delete/").status_code == 403
    with schema_context("acme"):
        assert SupplierFactor.objects.get(id=factor.id).name == "Diesel from Acme Fuels"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"unit": "litrez"}, "unit", "Unknown unit &#x27;litrez&#x27;."),
        ({"unit": ""}, "unit", "This field is required."),
        ({"kg_co2e": "-0.5"}, "kg_co2e", "Enter a value of 0 or more"),
        ({"kg_co2": "-1"}, "kg_co2", "Enter a value of 0 or more"),
        ({"source_note": "   "}, "source_note", "This field is required."),
        ({"scope": "3", "category": ""}, "category", "A scope 3 factor needs its category"),
        ({"scope": "1", "category": "4"}, "category", "Only scope 3 factors have a category"),
        ({"scope": "0", "category": "3"}, "category", "Only scope 3 factors have a category"),
        ({"scope": "3", "category": "16"}, "category", "Select a valid choice."),
        ({"kg_co2e": "1.0"}, "kg_co2e", "The gases add up to 2.4103 kg CO2e"),
        ({"unit": "EUR", "currency": "USD"}, "currency", "The unit is an amount of EUR, not USD."),
        ({"region": "Great Britain"}, "region", "Use an ISO 3166 country code"),
        ({"uncertainty_gsd": "0.5"}, "uncertainty_gsd", "A geometric standard deviation is 1"),
    ],
)
def test_it_explains_what_is_wrong_and_stores_nothing(
    eddie: Client, changes: dict[str, str], field: str, message: str
) -> None:
    response = _post(eddie, "/factors/yours/add/", **changes)
    assert response.status_code == 422
    html = _errors(response)
    assert message in html
    assert f'name="{field}"' in html
    with schema_context("acme"):
        assert not SupplierFactor.objects.exists()


def test_it_suggests_a_unit_the_engine_knows(eddie: Client) -> None:
    html = _errors(_post(eddie, "/factors/yours/add/", unit="kwhh"))
    assert "Did you mean" in html


def test_it_takes_the_currency_from_a_money_unit(eddie: Client) -> None:
    response = _post(
        eddie, "/factors/yours/add/", unit="kEUR", kg_co2e="310", kg_co2="", kg_ch4_co2e="",
        kg_n2o_co2e="", basis="spend", scope="3", category="1", price_year="2022",
    )  # fmt: skip
    assert response.status_code == 302
    with schema_context("acme"):
        factor = SupplierFactor.objects.get()
        assert (factor.unit, factor.currency, factor.category) == ("kEUR", "EUR", 1)


def test_it_edits_a_factor(alice: Client) -> None:
    factor = make_supplier_factor()
    form = alice.get(f"/factors/yours/{factor.id}/edit/")
    assert form.status_code == 200
    assert 'value="Diesel from Acme Fuels"' in form.content.decode()
    response = _post(alice, f"/factors/yours/{factor.id}/edit/", kg_co2e="2.5", unit="m3")
    assert response.status_code == 302
    with schema_context("acme"):
        factor.refresh_from_db()
        assert (factor.kg_co2e, factor.unit) == (2.5, "m ** 3")
    invalid = _post(alice, f"/factors/yours/{factor.id}/edit/", unit="bananas")
    assert invalid.status_code == 422
    with schema_context("acme"):
        factor.refresh_from_db()
        assert factor.unit == "m ** 3"


def test_it_deletes_after_a_confirmation_page(eddie: Client) -> None:
    factor = make_supplier_factor()
    confirm = eddie.get(f"/factors/yours/{factor.id}/delete/")
    assert confirm.status_code == 200
    assert "Delete Diesel from Acme Fuels?" in confirm.content.decode()
    with schema_context("acme"):
        assert SupplierFactor.objects.filter(id=factor.id).exists()
    response = eddie.post(f"/factors/yours/{factor.id}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/factors/yours/"
    with schema_context("acme"):
        assert not SupplierFactor.objects.filter(id=factor.id).exists()


def test_it_keeps_a_factor_that_activity_records_used(eddie: Client) -> None:
    factor = make_supplier_factor()
    with schema_context("acme"):
        ActivityRecord.objects.create(
            date=dt.date(2024, 3, 1), activity="Diesel", scope=1, tier="primary",
            supplier_factor=factor, factor_version="supplier", gwp_set="AR5", kg_co2e=24.1,
            quantity=10, unit="L",
        )  # fmt: skip
    response = eddie.post(f"/factors/yours/{factor.id}/delete/", follow=True)
    assert "1 activity record was calculated with this factor" in response.content.decode()
    with schema_context("acme"):
        assert SupplierFactor.objects.filter(id=factor.id).exists()


def test_it_checks_ownership(alice: Client) -> None:
    theirs = make_supplier_factor("globex", name="Globex secret factor")
    with schema_context("acme"):
        assert not SupplierFactor.objects.filter(id=theirs.id).exists()
    for url in (
        f"/factors/yours/{theirs.id}/",
        f"/factors/yours/{theirs.id}/edit/",
        f"/factors/yours/{theirs.id}/delete/",
    ):
        assert alice.get(url).status_code == 404, url
    assert alice.post(f"/factors/yours/{theirs.id}/delete/").status_code == 404
    assert "Globex secret factor" not in alice.get("/factors/yours/").content.decode()
    with schema_context("globex"):
        assert SupplierFactor.objects.filter(id=theirs.id).exists()


def test_it_ranks_a_supplier_factor_before_the_library(
    tenants: dict[str, object], db: None
) -> None:
    with schema_context("public"):
        factors_ingest(mapping=load_mapping(mapping_path("epa_hub_2025")))
    ours = make_supplier_factor(
        name="Natural gas from Acme Energy", unit="m ** 3", region="US", kg_co2e=1.9
    )
    make_supplier_factor(name="Steel coil from Acme Steel", unit="kg", region="US")
    make_supplier_factor("globex", name="Natural gas from Globex", unit="m ** 3", region="US")
    with schema_context("acme"):
        candidates = supplier_factor_candidates()
        found = match_factors(
            description="Natural gas", unit="scf", region="US", extra_candidates=candidates
        )
    assert {c.name for c in candidates} == {
        "Natural gas from Acme Energy",
        "Steel coil from Acme Steel",
    }
    assert found[0].factor.source == "supplier"
    assert found[0].factor.factor_id == ours.id
    assert found[0].reasons[0] == "supplier-specific factor (preferred)"
    assert found[1].factor.source == "library"
    assert found[1].factor.publisher_id == "T1:Natural Gas:Natural Gas"
    assert all(c.factor.name != "Steel coil from Acme Steel" for c in found)
    assert [c.scope for c in candidates] == ["1", "1"]


def test_it_leaves_out_a_supplier_factor_whose_unit_no_longer_parses(
    tenants: dict[str, object], db: None
) -> None:
    make_supplier_factor(name="Legacy factor", unit="per widget-ish")
    kept = make_supplier_factor(name="Good factor", unit="kWh")
    with schema_context("acme"):
        candidates = supplier_factor_candidates()
    assert [(c.factor_id, c.unit_dimension) for c in candidates] == [(kept.id, "energy")]


def test_it_gives_outside_of_scopes_factors_the_library_scope_code(
    tenants: dict[str, object], db: None
) -> None:
    make_supplier_factor(name="Biogenic CO2 of our wood pellets", scope=0, unit="kg")
    with schema_context("acme"):
        (candidate,) = supplier_factor_candidates()
    # Ranking reports 'outside' factors separately (and ranks them below scope 1-3).
    assert candidate.scope == "outside"
