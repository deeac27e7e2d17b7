"""The factor browser: search as you type, facet counts, pages, versions, flags and the detail page."""

from __future__ import annotations

import copy
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from factors.ingest.mapping import Mapping, load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset
from factors.ingest.writer import DatasetIdentity, write_dataset
from factors.models import EmissionFactor, FactorDataset
from factors.templatetags.factor_format import sig
from tests.conftest import CHARLIE, client_for
from tests.factor_helpers import make_library_factor, make_supplier_factor

EPA_GAS = "T1:Natural Gas:Natural Gas"


@pytest.fixture(scope="module")
def epa() -> tuple[Mapping, ReadResult]:
    """The EPA Emission Factors Hub (362 factors), read once: reading is most of ingesting."""
    mapping = load_mapping(mapping_path("epa_hub_2025"))
    return mapping, read_dataset(mapping)


@pytest.fixture
def library(tenants: dict[str, object], db: None, epa: tuple[Mapping, ReadResult]) -> FactorDataset:
    """The EPA dataset ingested (as `factors_ingest` writes it) in this test's transaction."""
    mapping, result = epa
    identity = DatasetIdentity(mapping.key, result.file_sha256, mapping.sha256)
    with schema_context("public"):
        write_dataset(mapping, copy.deepcopy(result), identity)
        return FactorDataset.objects.get(key="epa_hub_2025")


def _text(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _option_count(html: str, name: str, value: str) -> int:
    """The count shown in the facet <select name=...> for one value."""
    select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S)
    assert select, name
    option = re.search(
        rf'<option value="{re.escape(value)}"[^>]*>[^<]*\((\d+)\)</option>', select[1]
    )
    assert option, (name, value)
    return int(option[1])


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/factors/\d+/"[^>]*>([^<]+)</a>', html)


def test_it_shows_the_empty_state_when_no_dataset_is_ingested(alice: Client) -> None:
    response = alice.get("/factors/")
    assert response.status_code == 200
    html = _text(response)
    assert "The factor library is empty:" in html
    assert "manage.py ingest_factors --all" in html
    assert "<table" not in html


def test_it_lists_the_library_with_facet_counts(alice: Client, library: FactorDataset) -> None:
    html = _text(alice.get("/factors/"))
    assert "362 factors" in html
    assert "epa_hub_2025 v1" in html
    assert _option_count(html, "dataset", "epa_hub_2025") == 362
    for scope in ("1", "2", "3"):
        expected = EmissionFactor.objects.filter(dataset=library, scope=scope).count()
        assert expected > 0
        assert _option_count(html, "scope", scope) == expected
    assert _option_count(html, "region", "SRMW") == 1
    volume = EmissionFactor.objects.filter(dataset=library, unit_dimension="volume").count()
    assert _option_count(html, "dimension", "volume") == volume


def test_it_requires_every_word_and_counts_facets_within_the_search(
    alice: Client, library: FactorDataset
) -> None:
    html = _text(alice.get("/factors/", {"q": "natural gas"}))
    expected = EmissionFactor.objects.filter(
        dataset=library, search_text__contains="natural"
    ).filter(search_text__contains="gas")
    assert f"{expected.count()} factors matching “natural gas”" in html
    names = _names(html)
    assert len(names) == min(expected.count(), 25)
    # The phrase as whole words in the name comes first ("natural gas", not "natural" ... "gas").
    assert "natural gas" in names[0].lower()
    assert _option_count(html, "scope", "1") == expected.filter(scope="1").count()
    assert not any("Coal" in n for n in names)


def test_it_filters_by_dataset_scope_region_and_unit(alice: Client, library: FactorDataset) -> None:
    html = _text(alice.get("/factors/", {"scope": "2", "region": "srmw"}))
    assert _names(html) == ["Electricity, eGRID2023 subregion SRMW (SERC Midwest)"]
    assert "1 factor," in html
    # Each facet counts with the other facets' filters, not its own: SRMW has scope 2 only,
    # while every scope-2 region stays on offer.
    assert re.findall(r'<select name="scope">.*?</select>', html, re.S)[0].count("<option") == 2
    assert _option_count(html, "scope", "2") == 1
    assert 'value="SRMW" selected' in html
    assert _option_count(html, "region", "RFCW") == 1
    scope2 = EmissionFactor.objects.filter(dataset=library, scope="2").count()
    assert _option_count(html, "dataset", "epa_hub_2025") == 1
    assert f"All regions ({scope2})" in html
    html = _text(alice.get("/factors/", {"dimension": "vehicle distance", "scope": "3"}))
    expected = EmissionFactor.objects.filter(
        dataset=library, unit_dimension="vehicle distance", scope="3"
    ).count()
    assert expected > 0
    assert f"{expected} factors," in html


def test_it_answers_htmx_with_the_results_fragment_only(
    alice: Client, library: FactorDataset
) -> None:
    response = alice.get("/factors/", {"q": "steam"}, HTTP_HX_REQUEST="true")
    html = _text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="factor-q"' not in html  # the search box stays where the user is typing
    assert "<table" in html
    assert "matching “steam”" in html
    # The address bar gets the search without the empty filters the form also sends.
    assert response["HX-Push-Url"] == "/factors/?q=steam"
    paged = alice.get(
        "/factors/", {"q": "", "scope": "3", "region": "", "page": "2"}, HTTP_HX_REQUEST="true"
    )
    assert paged["HX-Push-Url"] == "/factors/?scope=3&page=2"
    full = _text(alice.get("/factors/", {"q": "steam"}))
    assert 'id="factor-q"' in full
    assert "<html" in full


def test_it_pages_the_results(alice: Client, library: FactorDataset) -> None:
    first = _text(alice.get("/factors/"))
    assert "Page 1 of 15" in first  # 362 factors, 25 a page
    second = _text(alice.get("/factors/", {"page": "2"}))
    assert "Page 2 of 15" in second
    ids = [re.findall(r'href="/factors/(\d+)/"', html) for html in (first, second)]
    assert len(ids[0]) == len(ids[1]) == 25
    assert set(ids[0]).isdisjoint(ids[1])
    assert "Page 15 of 15" in _text(alice.get("/factors/", {"page": "999"}))


def test_it_shows_only_current_versions_unless_asked(alice: Client, library: FactorDataset) -> None:
    make_library_factor(key="epa_hub_2025", version=0, is_current=False, name="Obsolete widget")
    assert "Obsolete widget" not in _text(alice.get("/factors/", {"q": "obsolete"}))
    html = _text(alice.get("/factors/", {"q": "obsolete", "versions": "all"}))
    assert "Obsolete widget" in html
    assert "superseded" in html


def test_it_shows_flags_with_their_reason(alice: Client, library: FactorDataset) -> None:
    reason = "outlier above 10 kg CO2e/EUR: a thin region-product pair"
    factor = make_library_factor(name="Odd spend factor", flags=["outlier"], flag_reason=reason)
    html = _text(alice.get("/factors/", {"q": "odd spend"}))
    assert f'title="{reason}"' in html
    assert ">outlier</a>" in html
    detail = _text(alice.get(f"/factors/{factor.id}/"))
    assert reason in detail


def test_it_shows_provenance_and_the_gas_split(alice: Client, library: FactorDataset) -> None:
    factor = EmissionFactor.objects.get(dataset=library, publisher_id=EPA_GAS)
    response = alice.get(f"/factors/{factor.id}/")
    assert response.status_code == 200
    html = _text(response)
    assert factor.name in html
    for text in (
        library.publisher,
        library.edition,
        library.licence,
        library.file_sha256,
        library.source_url,
        "epa_hub_2025 v1",
        factor.source_table,
        f"row {factor.source_row}",
        "AR5",
    ):
        assert text in html, text
    for value in (factor.co2, factor.ch4, factor.n2o):
        assert value is not None
        assert f'<td class="num">{sig(value)}</td>' in html


def test_it_shows_classification_codes(alice: Client, library: FactorDataset) -> None:
    factor = make_library_factor(
        name="Basic iron and steel", unit="EUR", unit_dimension="money",
        classifications=["NACE:24.10", "EXIOBASE:p27.a"],
    )  # fmt: skip
    html = _text(alice.get(f"/factors/{factor.id}/"))
    assert "<code>NACE:24.10</code>" in html
    assert "<code>EXIOBASE:p27.a</code>" in html


def test_it_404s_an_unknown_factor(alice: Client, library: FactorDataset) -> None:
    assert alice.get("/factors/99999999/").status_code == 404


def test_it_lists_your_factors_first_and_only_to_your_tenant(
    alice: Client, library: FactorDataset
) -> None:
    make_supplier_factor(name="Natural gas from Acme Energy", unit="m ** 3", supplier="Acme Energy")
    html = _text(alice.get("/factors/", {"q": "natural gas"}))
    assert "Your factors" in html
    assert "Natural gas from Acme Energy" in html
    assert html.index("Natural gas from Acme Energy") < html.index("factors matching")
    assert "Your factor</span>" in html
    # A dataset filter means the library; a unit filter applies to your factors as well.
    assert "Acme Energy" not in _text(
        alice.get("/factors/", {"q": "natural gas", "dataset": "epa_hub_2025"})
    )
    assert "Acme Energy" not in _text(
        alice.get("/factors/", {"q": "natural gas", "dimension": "energy"})
    )
    charlie = client_for(CHARLIE, "globex")
    assert "Acme Energy" not in _text(charlie.get("/factors/", {"q": "natural gas"}))


def test_it_scans_the_library_twice_per_search(alice: Client, library: FactorDataset) -> None:
    # One grouped scan gives every facet count and the total; one more fetches the page.
    with CaptureQueriesContext(connection) as queries:
        response = alice.get("/factors/", {"q": "electricity", "scope": "2"})
    assert response.status_code == 200
    scans = [q["sql"] for q in queries.captured_queries if "factors_emissionfactor" in q["sql"]]
    assert len(scans) == 2


def test_it_formats_factors_to_six_significant_digits_without_exponents() -> None:
    assert [sig(v) for v in (2.51279, 1e-05, 0.000123456789, 1234567.0, 0.0, None)] == [
        "2.51279",
        "0.00001",
        "0.000123457",
        "1234570",
        "0",
        "—",
    ]
