"""Region and vintage per row: each row's country (or its site's, the mapping's, the
organisation's) picks its own grid factor, of the activity's year; never the file's majority."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from emissions.models import OrganisationProfile
from factors.models import EmissionFactor
from imports.pipeline import Mapping, read_upload
from imports.preparation import prepare
from tests.org_helpers import make_site

MAPPING = Mapping(
    columns={
        "date": "Date",
        "activity": "Activity",
        "quantity": "kWh",
        "site": "Site",
        "country": "Country",
    },
    constants={"unit": "kWh"},
)


def prepare_csv(csv: str, mapping: Mapping = MAPPING) -> Any:
    read = read_upload(csv.encode(), filename="meters.csv")
    return prepare(read, mapping)


def chosen_factor(prepared: Any, row: int) -> EmissionFactor:
    key = str(prepared.calculated.loc[row, "factor_key"])
    return EmissionFactor.objects.get(id=int(key.removeprefix("lib:")))


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def test_it_gives_each_row_its_own_region_and_grid_factor(acme: None) -> None:
    make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    OrganisationProfile.objects.create(
        legal_name="Acme SA", country="FR", consolidation_approach="operational"
    )
    # Four of six rows are German: the majority never decides another row's grid.
    csv = (
        "Date,Activity,kWh,Site,Country\n"
        "2024-01-31,Electricity,1000,,GB\n"
        "2024-01-31,Electricity,1000,,US\n"
        "2024-01-31,Electricity,1000,,DE\n"
        "2024-02-29,Electricity,1000,,DE\n"
        "2024-03-31,Electricity,1000,ULM ,\n"
        "2024-03-31,Electricity,1000,Lager Nord,\n"
    )
    prepared = prepare_csv(csv)
    calc = prepared.calculated
    assert list(calc["region"]) == ["GB", "US", "DE", "DE", "DE", "FR"]
    assert list(calc["region_why"]) == [
        "the row's country",
        "the row's country",
        "the row's country",
        "the row's country",
        "site “Werk Ulm”",
        "the organisation's country",
    ]
    factors = {row: chosen_factor(prepared, row) for row in calc.index}
    assert [factors[r].region for r in calc.index] == ["GB", "US", "DE", "DE", "DE", "FR"]
    assert len({factors[r].id for r in calc.index}) == 4  # GB, US, DE, FR grids
    for row in calc.index:
        assert calc.loc[row, "kg_co2e"] == pytest.approx(1000 * factors[row].kg_co2e)
    unknown = [n for n in prepared.result.notes if n["code"] == "unknown_sites"]
    assert unknown[0]["sites"] == ["Lager Nord"]


def test_it_takes_the_mapping_constant_before_the_organisation_country(acme: None) -> None:
    make_site(name="UK depot", country="GB", aliases=[])
    OrganisationProfile.objects.create(
        legal_name="Acme SA", country="FR", consolidation_approach="operational"
    )
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "kWh", "site": "Site"},
        constants={"unit": "kWh", "country": "DE"},
    )
    prepared = prepare_csv(
        "Date,Activity,kWh,Site\n2024-01-31,Electricity,10,UK depot\n2024-01-31,Electricity,10,\n",
        mapping,
    )
    calc = prepared.calculated
    assert list(calc["region"]) == ["GB", "DE"]
    assert list(calc["region_why"]) == ["site “UK depot”", "the mapping's constant country"]


def test_it_uses_the_world_average_only_without_any_country(acme: None) -> None:
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "kWh"},
        constants={"unit": "kWh"},
    )
    prepared = prepare_csv("Date,Activity,kWh\n2024-01-31,Electricity,10\n", mapping)
    assert prepared.calculated.loc[2, "region"] == "GLOBAL"
    assert prepared.calculated.loc[2, "region_why"] == "no country known: world average"


def test_it_takes_the_factor_edition_of_each_rows_year(acme: None) -> None:
    csv = (
        "Date,Activity,kWh,Site,Country\n"
        "2022-06-30,Electricity,1000,,DE\n"
        "2023-06-30,Electricity,1000,,DE\n"
        "2024-06-30,Electricity,1000,,DE\n"
        "2031-06-30,Electricity,1000,,DE\n"
    )
    prepared = prepare_csv(csv)
    years = [chosen_factor(prepared, row).year for row in prepared.calculated.index]
    latest = max(
        EmissionFactor.objects.filter(
            dataset__key="owid_grid_2025", region="DE", year__lte=2031
        ).values_list("year", flat=True)
    )
    assert years == [2022, 2023, 2024, latest]
    notes = list(prepared.calculated["vintage_note"])
    assert notes[:3] == ["", "", ""]
    assert f"from {latest}, {2031 - latest} years from the activity's 2031" in notes[3]
    assert any(n["code"] == "factor_vintage" for n in prepared.result.notes)


def test_confirming_the_factor_page_keeps_one_factor_per_region_and_year(
    acme: None, alice: Client
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports.services import import_run_create, import_run_set_mapping, import_run_validate

    csv = (
        "Date,Activity,kWh,Site,Country\n"
        "2024-01-31,Electricity,1000,,GB\n"
        "2024-01-31,Electricity,1000,,DE\n"
        "2023-01-31,Electricity,1000,,DE\n"
    )
    run = import_run_create(upload=SimpleUploadedFile("m.csv", csv.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    page = alice.get(f"/imports/{run.id}/factors/")
    lines = page.context["lines"]
    assert sorted((ln["region"], ln["year"]) for ln in lines) == [
        ("DE", 2023),
        ("DE", 2024),
        ("GB", 2024),
    ]
    form: dict[str, Any] = {"lines": str(len(lines))}
    for ln in lines:
        i = ln["index"]
        form |= {
            f"activity_{i}": ln["activity"],
            f"dimension_{i}": ln["dimension"],
            f"region_{i}": ln["region"],
            f"year_{i}": str(ln["year"]),
            f"choice_{i}": ln["selected"],
        }
    assert alice.post(f"/imports/{run.id}/factors/", form).status_code == 302
    run.refresh_from_db()
    prepared = import_run_validate(run=run)
    factors = [chosen_factor(prepared, row) for row in prepared.calculated.index]
    assert [(f.region, f.year) for f in factors] == [("GB", 2024), ("DE", 2024), ("DE", 2023)]


def test_the_check_page_names_unknown_sites(acme: None, alice: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports.services import import_run_create, import_run_set_mapping, import_run_validate

    csv = "Date,Activity,kWh,Site,Country\n2024-01-31,Electricity,1000,Lager Nord,\n"
    run = import_run_create(upload=SimpleUploadedFile("m.csv", csv.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    page = alice.get(f"/imports/{run.id}/check/")
    note = page.content.decode()
    assert 'data-testid="note-unknown_sites"' in note
    assert "Sites not in Settings: “Lager Nord”" in note
    assert "Add them in Settings" in note
