"""Settings: the organisation profile, reporting periods, sites and Scope 2 contracts. Owners
edit, others read; bad input is a field error and saves nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from emissions.forms_org import parse_month_day
from emissions.models import ContractualInstrument, OrganisationProfile, ReportingPeriod, Site
from tests.org_helpers import make_instrument, make_period, make_site

PROFILE = {
    "legal_name": "Acme Metallbau GmbH",
    "identifier_scheme": "lei",
    # Bloomberg Finance L.P.'s LEI, a published code with valid ISO 17442 check digits.
    "identifier": "5493001KJTIIGC8Y1R12",
    "country": "Germany",
    "nace_code": "c25.11",
    "consolidation_approach": "operational",
    "fiscal_year_start": "1 April",
    "base_year": "2022",
    "employees": "240",
}


PREFIXES = {"periods": "period", "sites": "site", "contracts": "contract"}


def _add(client: Client, url: str, data: dict[str, str]) -> Any:
    """Post one of the Settings page's add forms (each has its own field prefix)."""
    prefix = PREFIXES[url.split("/")[2]]
    return client.post(url, {f"{prefix}-{k}": v for k, v in data.items()})


def _field_error(response: Any, field: str) -> str:
    names = ("profile_form", "period_form", "site_form", "instrument_form", "form")
    forms = [response.context.get(name) for name in names]
    form = next(f for f in forms if f is not None and f.errors.get(field))
    return " ".join(form.errors[field])


def test_it_saves_the_owners_profile(alice: Client) -> None:
    response = alice.post("/settings/", PROFILE)
    assert response.status_code == 302
    with schema_context("acme"):
        profile = OrganisationProfile.objects.get()
        assert (profile.country, profile.nace_code, profile.identifier) == (
            "DE",
            "C25.11",
            "5493001KJTIIGC8Y1R12",
        )
        assert (profile.fiscal_year_start_month, profile.fiscal_year_start_day) == (4, 1)
        assert (profile.base_year, profile.employees) == (2022, 240)
    page = alice.get("/settings/")
    assert page.context["profile_form"].initial["fiscal_year_start"] == "1 April"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "Atlantis", "not a country"),
        ("fiscal_year_start", "31 February", "first day of the fiscal year"),
        ("fiscal_year_start", "sometime", "first day of the fiscal year"),
        ("identifier", "5493001KJTIIGC8Y1R13", "check digits"),
        ("nace_code", "metal", "NACE"),
    ],
)
def test_it_refuses_a_bad_profile_and_saves_nothing(
    alice: Client, field: str, value: str, message: str
) -> None:
    response = alice.post("/settings/", {**PROFILE, field: value})
    assert response.status_code == 422
    assert message in _field_error(response, field)
    with schema_context("acme"):
        assert not OrganisationProfile.objects.exists()


def test_it_reads_month_day_spellings() -> None:
    assert parse_month_day("04-01") == (4, 1)
    assert parse_month_day("April 6") == (4, 6)
    assert parse_month_day("1st July") == (7, 1)
    assert parse_month_day("October") == (10, 1)
    with pytest.raises(ValueError, match="day is out of range"):
        parse_month_day("02-30")


def test_it_shows_the_profile_to_a_viewer_without_a_form(alice: Client, bob: Client) -> None:
    alice.post("/settings/", PROFILE)
    page = bob.get("/settings/")
    assert page.status_code == 200
    assert b"Acme Metallbau GmbH" in page.content
    assert b'data-testid="profile-form"' not in page.content
    assert bob.post("/settings/", {**PROFILE, "legal_name": "Bob AG"}).status_code == 403


def test_it_refuses_a_period_without_revenue_or_overlapping_another(alice: Client) -> None:
    period = {
        "name": "FY2024",
        "start": "2024-04-01",
        "end": "2025-03-31",
        "net_revenue": "12500000",
        "currency": "eur",
    }
    assert _add(alice, "/settings/periods/add/", period).status_code == 302
    no_revenue = _add(alice, "/settings/periods/add/", {**period, "name": "x", "net_revenue": ""})
    assert no_revenue.status_code == 422
    assert "required" in _field_error(no_revenue, "net_revenue")
    overlap = _add(
        alice,
        "/settings/periods/add/",
        {**period, "name": "FY2025", "start": "2025-01-01", "end": "2025-12-31"},
    )
    assert overlap.status_code == 422
    assert "overlaps “FY2024”" in _field_error(overlap, "start")
    with schema_context("acme"):
        assert list(ReportingPeriod.objects.values_list("name", "currency")) == [("FY2024", "EUR")]


def test_it_adds_a_site_with_aliases_and_refuses_unknown_countries(alice: Client) -> None:
    site = {
        "name": "Werk Ulm",
        "country": "de",
        "subregion": "",
        "aliases_text": "Ulm\nWERK ULM plant\n ulm ",
        "active_from": "2020-01-01",
        "active_to": "",
    }
    assert _add(alice, "/settings/sites/add/", site).status_code == 302
    bad = _add(
        alice,
        "/settings/sites/add/",
        {**site, "name": "Depot", "country": "XX", "aliases_text": ""},
    )
    assert bad.status_code == 422
    assert "not a country" in _field_error(bad, "country")
    taken = _add(alice, "/settings/sites/add/", {**site, "name": "Other", "aliases_text": "ulm"})
    assert "already names the site “Werk Ulm”" in _field_error(taken, "aliases_text")
    subregion = _add(
        alice,
        "/settings/sites/add/",
        {**site, "name": "Depot", "aliases_text": "", "subregion": "CAMX"},
    )
    assert "US sites only" in _field_error(subregion, "subregion")
    with schema_context("acme"):
        saved = Site.objects.get()
        assert (saved.country, saved.aliases) == ("DE", ["Ulm", "WERK ULM plant"])


def test_it_edits_a_site(alice: Client) -> None:
    site = make_site()
    response = alice.post(
        f"/settings/sites/{site.id}/",
        {"name": "Plant Austin", "country": "US", "subregion": "erct", "aliases_text": "Austin"},
    )
    assert response.status_code == 302
    with schema_context("acme"):
        site.refresh_from_db()
        assert (site.name, site.country, site.subregion, site.aliases) == (
            "Plant Austin",
            "US",
            "ERCT",
            ["Austin"],
        )


def test_it_refuses_overlapping_contracts_for_the_same_kwh(alice: Client) -> None:
    site = make_site()
    contract = {
        "kind": "certificate",
        "carrier": "electricity",
        "site": str(site.id),
        "supplier": "Statkraft",
        "start": "2024-01-01",
        "end": "2024-12-31",
        "mwh_covered": "300",
        "kg_co2e_per_kwh": "0",
        "certificate_ids": "NO-GO-2024-000123",
    }
    assert _add(alice, "/settings/contracts/add/", contract).status_code == 302
    overlap = _add(
        alice,
        "/settings/contracts/add/",
        {**contract, "kind": "green_tariff", "start": "2024-06-01"},
    )
    assert overlap.status_code == 422
    assert "cannot be claimed twice" in _field_error(overlap, "start")
    # A supplier's emission rate for the rest of the kWh is no double claim.
    rate = _add(
        alice,
        "/settings/contracts/add/",
        {**contract, "kind": "supplier_rate", "mwh_covered": "", "kg_co2e_per_kwh": "0.31"},
    )
    assert rate.status_code == 302
    bad_rate = _add(
        alice,
        "/settings/contracts/add/",
        {**contract, "start": "2025-01-01", "end": "2025-12-31", "kg_co2e_per_kwh": "310"},
    )
    assert "between 0 and 2" in _field_error(bad_rate, "kg_co2e_per_kwh")
    with schema_context("acme"):
        assert ContractualInstrument.objects.count() == 2


def test_it_deletes_periods_and_contracts_for_owners_only(alice: Client, eddie: Client) -> None:
    period = make_period()
    contract = make_instrument()
    assert eddie.post(f"/settings/periods/{period.id}/delete/").status_code == 403
    assert alice.post(f"/settings/periods/{period.id}/delete/").status_code == 302
    assert alice.post(f"/settings/contracts/{contract.id}/delete/").status_code == 302
    with schema_context("acme"):
        assert not ReportingPeriod.objects.exists()
        assert not ContractualInstrument.objects.exists()


def test_a_sites_new_country_says_its_imported_records_keep_their_factors(alice: Client) -> None:
    from tests.import_helpers import make_activity_record

    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    make_activity_record(site="Ulm")
    make_activity_record(site="WERK ULM")
    make_activity_record(site="Bonn")
    # Aliases only: no region changes, nothing to say.
    quiet = alice.post(
        f"/settings/sites/{site.id}/",
        {"name": "Werk Ulm", "country": "DE", "aliases_text": "Ulm\nUlm Nord"},
        follow=True,
    ).content.decode()
    assert "keep the factors" not in quiet
    page = alice.post(
        f"/settings/sites/{site.id}/",
        {"name": "Werk Ulm", "country": "AT", "aliases_text": "Ulm"},
        follow=True,
    ).content.decode()
    assert "2 records already imported at “Werk Ulm” keep the factors of DE" in page
