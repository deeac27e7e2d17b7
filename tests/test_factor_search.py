"""Reach any factor: the picker over the whole library (the browser's search, with a year facet)
and its use in the import wizard's factor step."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from factors.models import EmissionFactor
from factors.selectors import FactorFilters, factor_facets, factor_search
from imports.models import ImportRun
from imports.services import import_run_validate
from tests.factor_helpers import make_library_factor, make_supplier_factor
from tests.import_helpers import make_import_run


@pytest.fixture
def widgets(tenants: dict[str, object], db: None) -> dict[str, EmissionFactor]:
    return {
        "2024": make_library_factor(publisher_id="w24", name="Widgets", year=2024),
        "2023": make_library_factor(publisher_id="w23", name="Widgets", year=2023),
        "undated": make_library_factor(publisher_id="w0", name="Widgets, generic"),
        "petrol": make_library_factor(
            publisher_id="p1", name="Petrol (average biofuel blend)", unit="L",
            unit_dimension="volume", year=2024, search_text="petrol (average biofuel blend) gb",
        ),
    }  # fmt: skip


def _picker(client: Client, **params: str) -> str:
    response = client.get(reverse("factor_picker"), params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def _picked(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="factor" id="[^"]+" value="([^"]+)"', html)


def test_it_filters_and_counts_by_year(widgets: dict[str, EmissionFactor]) -> None:
    with schema_context("public"):
        filters = FactorFilters(words=("widgets",))
        years = {v.value: v.count for v in factor_facets(filters)["year"].values}
        assert years == {"2024": 1, "2023": 1, "none": 1}
        assert [v.label for v in factor_facets(filters)["year"].values][-1] == "No year given"
        found = factor_search(FactorFilters(words=("widgets",), year="2023"))
        assert [f.id for f in found] == [widgets["2023"].id]
        undated = factor_search(FactorFilters(words=("widgets",), year="none"))
        assert [f.id for f in undated] == [widgets["undated"].id]
        assert not factor_search(FactorFilters(year="nineteen")).exists()


def test_it_returns_the_picker_results_as_a_partial(
    alice: Client, widgets: dict[str, EmissionFactor]
) -> None:
    html = _picker(alice, q="widgets", year="2024")
    assert not html.lstrip().startswith("<fieldset")  # the results only, for #picker-results
    assert _picked(html) == [f"lib:{widgets['2024'].id}"]
    assert "1 factor matching “widgets”" in html
    assert '<option value="2024" selected>' in html


def test_it_lists_your_supplier_factors_first_and_keeps_the_choice(
    alice: Client, widgets: dict[str, EmissionFactor]
) -> None:
    yours = make_supplier_factor(name="Petrol from Acme Fuels", unit="L")
    html = _picker(alice, q="petrol", factor=f"lib:{widgets['petrol'].id}")
    assert _picked(html) == [f"sup:{yours.id}", f"lib:{widgets['petrol'].id}"]
    assert re.search(rf'value="lib:{widgets["petrol"].id}" required checked', html)
    # A dataset or year filter means the library only.
    assert _picked(_picker(alice, q="petrol", year="2024")) == [f"lib:{widgets['petrol'].id}"]


def test_it_shows_the_year_facet_in_the_browser(
    alice: Client, widgets: dict[str, EmissionFactor]
) -> None:
    html = alice.get("/factors/", {"q": "widgets", "year": "2023"}).content.decode()
    assert '<select name="year">' in html
    assert "1 factor matching “widgets”" in html


# -- the wizard's factor step -----------------------------------------------------------------

DIESEL_CSV = b"Date,Description,Quantity,Unit\n2024-01-15,Benzin Dienstwagen,100,L\n"


@pytest.fixture
def run(widgets: dict[str, EmissionFactor], settings: Any, tmp_path: Any) -> ImportRun:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    run = make_import_run(content=DIESEL_CSV, name="fleet.csv")
    with schema_context("acme"):
        import_run_validate(run=run)
        run.refresh_from_db()
    return run


def _search_url(run: ImportRun) -> str:
    return reverse("import_factor_search", kwargs={"run_id": run.id})


def _choices(run: ImportRun) -> dict[str, Any]:
    with schema_context("acme"):
        return dict(ImportRun.objects.get(id=run.id).detected.get("factor_choices", {}))


def test_it_links_each_line_to_the_search(alice: Client, run: ImportRun) -> None:
    html = alice.get(reverse("import_factors", kwargs={"run_id": run.id})).content.decode()
    assert f"{_search_url(run)}?activity=Benzin%20Dienstwagen&amp;dimension=volume" in html


def test_it_opens_the_search_on_the_activity_unit(alice: Client, run: ImportRun) -> None:
    response = alice.get(
        _search_url(run), {"activity": "Benzin Dienstwagen", "dimension": "volume"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Find the factor for “Benzin Dienstwagen”" in html
    assert '<option value="volume" selected>' in html
    assert alice.get(_search_url(run)).status_code == 400


def test_it_saves_the_factor_found_and_the_step_shows_it(
    alice: Client, run: ImportRun, widgets: dict[str, EmissionFactor]
) -> None:
    petrol = widgets["petrol"]
    data = {"activity": "Benzin Dienstwagen", "dimension": "volume", "factor": f"lib:{petrol.id}"}
    response = alice.post(_search_url(run), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("import_factors", kwargs={"run_id": run.id})
    assert _choices(run)["benzin dienstwagen|volume"]["factor_id"] == petrol.id
    html = alice.get(response["Location"]).content.decode()
    assert f'<option value="lib:{petrol.id}" selected>' in html


@pytest.mark.parametrize(
    ("factor", "message"),
    [
        ("", "Choose a factor in the list."),
        ("petrol", "Choose one of the listed factors."),
        ("lib:999999999", "That factor does not exist."),
        ("sup:999999999", "That supplier factor does not exist."),
    ],
)
def test_it_refuses_a_bad_choice_and_keeps_the_old_one(
    alice: Client, run: ImportRun, factor: str, message: str
) -> None:
    before = _choices(run)
    data = {"activity": "Benzin Dienstwagen", "dimension": "volume", "factor": factor}
    response = alice.post(_search_url(run), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert _choices(run) == before


def test_it_lets_a_viewer_look_but_not_choose(
    bob: Client, run: ImportRun, widgets: dict[str, EmissionFactor]
) -> None:
    params = {"activity": "Benzin Dienstwagen", "dimension": "volume"}
    page = bob.get(_search_url(run), params)
    assert page.status_code == 200
    assert "Use this factor" not in page.content.decode()
    response = bob.post(_search_url(run), {**params, "factor": f"lib:{widgets['petrol'].id}"})
    assert response.status_code == 403
    assert _choices(run) == {}


def test_it_leads_to_the_factor_step_when_no_factor_matches_any_row(
    alice: Client, widgets: dict[str, EmissionFactor], settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    content = b"Date,Description,Quantity,Unit\n2024-01-15,Quux frobnication,100,L\n"
    unmatched = make_import_run(content=content, name="quux.csv")
    with schema_context("acme"):
        import_run_validate(run=unmatched)
        unmatched.refresh_from_db()
    assert (unmatched.rows_valid, unmatched.rows_invalid) == (0, 1)
    html = alice.get(reverse("import_results", kwargs={"run_id": unmatched.id})).content.decode()
    assert "Next: confirm the factors" in html
    step = alice.get(reverse("import_factors", kwargs={"run_id": unmatched.id})).content.decode()
    assert "Search the library for Quux frobnication" in step
