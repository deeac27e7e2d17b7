"""US sites: an eGRID subregion gives the site its grid's factor; a state alone takes the US
average, said on the row (EPA publishes eGRID rates by subregion and no table of the subregions
that serve each state: data/raw/epa_hub/epa_hub2025_table6_egrid2023_subregions.csv is the
Hub's Table 6, eGRID2023, and the Hub workbook has no state table)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from emissions.forms_org import SiteForm
from tests.conftest import library_add
from tests.org_helpers import make_site
from tests.test_org_regions import chosen_factor, prepare_csv


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Iterator[None]:
    library_add("epa_hub_2025")
    with schema_context("acme"):
        yield


@pytest.mark.parametrize(
    ("given", "stored"), [("TX", "TX"), ("camx", "CAMX"), ("ERCT", "ERCT"), ("", "")]
)
def test_the_site_form_takes_a_state_or_an_egrid_subregion(
    tenants: dict[str, object], db: None, given: str, stored: str
) -> None:
    with schema_context("acme"):
        form = SiteForm(data={"name": "Dallas plant", "country": "US", "subregion": given})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["subregion"] == stored


@pytest.mark.parametrize("given", ["ZZ", "ABCD", "US AVERAGE"])
def test_the_site_form_refuses_what_is_neither(
    tenants: dict[str, object], db: None, given: str
) -> None:
    with schema_context("acme"):
        form = SiteForm(data={"name": "Dallas plant", "country": "US", "subregion": given})
        assert not form.is_valid()
        assert "eGRID subregion" in form.errors["subregion"][0]


def test_the_site_form_offers_the_subregions_and_says_why(
    tenants: dict[str, object], db: None
) -> None:
    with schema_context("acme"):
        html = str(SiteForm()["subregion"])
        help_text = SiteForm().fields["subregion"].help_text
    assert 'list="id_subregion-egrid"' in html
    assert '<option value="CAMX">WECC California</option>' in html
    assert html.count("<option") == 27  # Table 6: 27 subregions (and the US average row)
    assert "A state alone takes the US average" in help_text


def test_a_state_only_site_takes_the_us_average_and_says_so(acme: None) -> None:
    make_site(name="Dallas plant", country="US", subregion="TX", aliases=[])
    make_site(name="Fresno plant", country="US", subregion="CAMX", aliases=[])
    prepared = prepare_csv(
        "Date,Activity,kWh,Site,Country\n"
        "2024-01-31,Electricity,1000,Dallas plant,\n"
        "2024-01-31,Electricity,1000,Fresno plant,\n"
    )
    calc = prepared.calculated
    assert list(calc["region"]) == ["US", "CAMX"]
    assert list(calc["region_why"]) == [
        "site “Dallas plant” (US state TX without an eGRID subregion: US average)",
        "site “Fresno plant”",
    ]
    dallas, fresno = chosen_factor(prepared, 2), chosen_factor(prepared, 3)
    assert (dallas.dataset.key, dallas.region) == ("epa_hub_2025", "US")
    assert (fresno.dataset.key, fresno.region) == ("epa_hub_2025", "CAMX")
    # Table 6, CAMX: 436.655 lb CO2, 0.025 lb CH4, 0.003 lb N2O per MWh; AR5 GWPs 28 and 265
    # (Table 11); 1 lb = 0.45359237 kg; per kWh.
    camx = (436.655 + 0.025 * 28 + 0.003 * 265) * 0.45359237 / 1000
    assert calc.loc[3, "kg_co2e"] == pytest.approx(1000 * camx, rel=1e-6)
    notes = [n for n in prepared.result.notes if n["code"] == "us_state_average"]
    assert len(notes) == 1
    assert "US state TX without an eGRID subregion" in notes[0]["message"]
