"""Unknown site names on the check page (issue 9): an owner adds them as new sites or as aliases
of existing ones in one transaction; the run is checked again, so its rows take the site's
country and that country's grid factor. Bad input saves nothing; viewers and editors cannot."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from emissions.models import Site
from imports.models import ImportRun
from imports.services import import_run_create, import_run_set_mapping, import_run_validate
from tests.org_helpers import make_site
from tests.test_org_regions import MAPPING, chosen_factor, prepare_csv

HEAD = "Date,Activity,kWh,Site,Country\n"


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def checked_run(site: str) -> ImportRun:
    csv = f"{HEAD}2024-01-31,Electricity,1000,{site},\n"
    run = import_run_create(upload=SimpleUploadedFile("m.csv", csv.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    run.refresh_from_db()
    return run


def unknown(run: ImportRun) -> list[str]:
    notes = run.detected.get("notes") or []
    return next((n["sites"] for n in notes if n["code"] == "unknown_sites"), [])


def form(name: str, **fields: str) -> dict[str, str]:
    data = {
        "sites-TOTAL_FORMS": "1",
        "sites-INITIAL_FORMS": "1",
        "sites-0-name": name,
        "sites-0-action": "",
        "sites-0-country": "",
        "sites-0-subregion": "",
        "sites-0-site": "",
    }
    return data | {f"sites-0-{k}": v for k, v in fields.items()}


def test_it_creates_a_site_from_an_unknown_name_and_rechecks_the_run(
    acme: None, alice: Client
) -> None:
    run = checked_run("Lager Nord")
    assert unknown(run) == ["Lager Nord"]
    page = alice.get(f"/imports/{run.id}/check/").content.decode()
    assert 'data-testid="unknown-sites-form"' in page
    assert 'aria-label="Country of “Lager Nord”"' in page
    before = run.kg_co2e

    response = alice.post(
        f"/imports/{run.id}/check/sites/", form("Lager Nord", action="new", country="gb")
    )

    assert response.status_code == 302
    assert response["Location"] == f"/imports/{run.id}/check/"
    site = Site.objects.get(name="Lager Nord")
    assert (site.country, site.subregion, site.aliases) == ("GB", "", [])
    run.refresh_from_db()
    assert unknown(run) == []
    # The stored check is the one of a row in GB: its grid factor, not the fallback's.
    in_gb = prepare_csv(f"{HEAD}2024-01-31,Electricity,1000,,GB\n")
    gb_grid = chosen_factor(in_gb, in_gb.calculated.index[0])
    assert gb_grid.region == "GB"
    assert run.kg_co2e == pytest.approx(in_gb.kg_co2e)
    assert run.kg_co2e != pytest.approx(before)
    rechecked = import_run_validate(run=run)
    assert rechecked.calculated["region_why"].iloc[0] == "site “Lager Nord”"
    assert chosen_factor(rechecked, rechecked.calculated.index[0]).id == gb_grid.id


def test_it_adds_an_unknown_name_as_an_alias_of_a_site(acme: None, alice: Client) -> None:
    ulm = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    run = checked_run("Ulm Nord")
    assert unknown(run) == ["Ulm Nord"]

    data = form("Ulm Nord", action="alias", site=str(ulm.id))
    assert alice.post(f"/imports/{run.id}/check/sites/", data).status_code == 302

    ulm.refresh_from_db()
    assert ulm.aliases == ["Ulm", "Ulm Nord"]
    assert Site.objects.count() == 1
    run.refresh_from_db()
    assert unknown(run) == []
    in_de = prepare_csv(f"{HEAD}2024-01-31,Electricity,1000,,DE\n")
    assert run.kg_co2e == pytest.approx(in_de.kg_co2e)
    rechecked = import_run_validate(run=run)
    assert chosen_factor(rechecked, rechecked.calculated.index[0]).region == "DE"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "new", "country": "Narnia"}, "“Narnia” is not a country"),
        ({"action": "new", "country": "DE", "subregion": "CAMX"}, "for US sites only"),
        ({"action": "alias"}, "Choose the site this name stands for."),
        ({"action": ""}, "Choose what at least one name is."),
    ],
)
def test_it_refuses_bad_input_and_saves_nothing(
    acme: None, alice: Client, fields: dict[str, str], message: str
) -> None:
    run = checked_run("Lager Nord")
    before = (run.kg_co2e, run.detected)

    response = alice.post(f"/imports/{run.id}/check/sites/", form("Lager Nord", **fields))

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Site.objects.exists()
    run.refresh_from_db()
    assert (run.kg_co2e, run.detected) == before


def test_it_adds_only_names_of_the_file(acme: None, alice: Client) -> None:
    run = checked_run("Lager Nord")
    data = form("Somewhere Else", action="new", country="DE")
    response = alice.post(f"/imports/{run.id}/check/sites/", data)
    assert response.status_code == 422
    assert "is not a site name of this file" in response.content.decode()
    assert not Site.objects.exists()


@pytest.mark.parametrize("persona", ["bob", "eddie"])
def test_a_viewer_or_editor_cannot_add_sites(
    acme: None, persona: str, request: pytest.FixtureRequest
) -> None:
    client: Client = request.getfixturevalue(persona)
    run = checked_run("Lager Nord")
    page = client.get(f"/imports/{run.id}/check/").content.decode()
    assert "“Lager Nord”" in page
    assert "Ask an owner of your organisation to add them as sites." in page
    assert "unknown-sites-form" not in page

    data = form("Lager Nord", action="new", country="GB")
    assert client.post(f"/imports/{run.id}/check/sites/", data).status_code == 403
    assert not Site.objects.exists()
