"""A manager reaches the right factor through the library search in the wizard's factor step,
imports, then changes the factor of every committed record of that activity; the activities total
follows each step.

Factors: DEFRA/DESNZ 2024 (flat file v1.1), committed for this module. Published values used by
hand below: "Liquid fuels: Petrol (average biofuel blend)" 2.0844 and "Liquid fuels: Diesel
(average biofuel blend)" 2.51279 kg CO2e per litre.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.browser import (
    acme_restored,
    app_server,
    chromium_page,
    library_committed,
    require_chromium,
)
from tests.conftest import ALICE, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEFRA_PETROL_KG_PER_L = 2.0844  # DESNZ 2024, Fuels > Liquid fuels > Petrol (average biofuel blend)
DEFRA_DIESEL_KG_PER_L = 2.51279  # DESNZ 2024, Fuels > Liquid fuels > Diesel (average biofuel blend)
# Their well-to-tank lines, which the import adds (tests/test_companion_lines.py) and the total counts:
WTT_PETROL_KG_PER_L = (
    0.58094  # DESNZ 2024, WTT- fuels > Liquid fuels > Petrol (average biofuel blend)
)
WTT_DIESEL_KG_PER_L = (
    0.61101  # DESNZ 2024, WTT- fuels > Liquid fuels > Diesel (average biofuel blend)
)
PETROL = "Liquid fuels: Petrol (average biofuel blend)"
DIESEL = "Liquid fuels: Diesel (average biofuel blend)"
FLEET_CSV = (
    "Date,Description,Quantity,Unit,Country\n"
    "2024-01-15,Benzin Dienstwagen,100,L,GB\n"
    "2024-02-15,Benzin Dienstwagen,50.5,L,GB\n"
)
LITRES = 100 + 50.5


@pytest.fixture(scope="module")
def committed_library(tenants: dict[str, object], django_db_blocker: Any) -> Iterator[None]:
    """DEFRA 2024 committed (the server process reads it); removed after this module unless it
    was there."""
    with library_committed(["defra_2024"], django_db_blocker):
        yield


@pytest.fixture
def server(
    committed_library: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The app on the test database, jobs in-process; what the test makes in acme is removed."""
    require_chromium()
    monkeypatch.delenv("REDIS_URL", raising=False)
    with (
        acme_restored(django_db_blocker, also=("emissions.FactorChange",)),
        django_db_blocker.unblock(),
        app_server() as base,
    ):
        yield base


def _search_and_pick(page: Any, words: str, name: str) -> None:
    """Type in the picker's search box, press Enter (it searches, never submits the page's
    form), and choose the factor called `name`."""
    url = page.url
    box = page.get_by_label("Search factors")
    box.fill(words)
    box.press("Enter")
    choice = page.get_by_label(name, exact=True)
    choice.wait_for()
    choice.check()
    assert page.url == url


def _shot(page: Any, name: str) -> None:
    """A full-page screenshot when FT_SCREENSHOTS names a folder (for reviewing the pages)."""
    if folder := os.environ.get("FT_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / f"factor-search-{name}.png"), full_page=True)


def _total(page: Any) -> float:
    return float(page.get_by_test_id("total-kg").get_attribute("data-kg"))


def test_it_finds_a_factor_in_the_wizard_and_refactors_the_records(
    server: str, tmp_path: Path
) -> None:
    from factors.models import EmissionFactor

    assert connection.settings_dict["NAME"].startswith("test_")  # the server's database too
    port = server.rsplit(":", 1)[1]
    base = f"http://acme.localhost:{port}"
    fleet = tmp_path / "fleet 2024.csv"
    fleet.write_text(FLEET_CSV)
    with chromium_page() as page:
        p: Any = page
        p.set_viewport_size({"width": 1280, "height": 900})
        p.goto(f"{base}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{base}/")

        p.goto(f"{base}/imports/")
        p.locator("#import-file").set_input_files(str(fleet))
        p.wait_for_url(re.compile(r"/imports/\d+/mapping/$"))
        p.get_by_role("button", name="Save and preview").click()
        p.wait_for_url(re.compile(r"/preview/$"))
        p.get_by_role("button", name="Check all 2 rows").click()
        p.wait_for_url(re.compile(r"/check/$"))
        p.get_by_role("link", name="Next: confirm the factors").click()

        # The factor step: search the whole library for the company-car petrol.
        p.wait_for_url(re.compile(r"/factors/$"))
        p.get_by_role("link", name="Search the library for Benzin Dienstwagen").click()
        p.wait_for_url(re.compile(r"/factors/search/\?"))
        assert (
            p.locator("#picker select[name=dimension]").input_value() == "volume"
        )  # opens on the rows' unit
        _search_and_pick(p, "petrol average", PETROL)
        _shot(p, "1-wizard-search")
        p.get_by_role("button", name="Use this factor").click()
        p.wait_for_url(re.compile(r"/factors/$"))
        select = p.get_by_label("Factor for Benzin Dienstwagen")
        petrol_id = int(select.input_value().removeprefix("lib:"))
        assert PETROL in select.locator("option:checked").inner_text()
        p.get_by_role("button", name="Confirm factors and continue").click()

        p.wait_for_url(re.compile(r"/commit/$"))
        p.get_by_role("button", name="Import now").click()
        p.wait_for_url(re.compile(r"/progress/$"))
        link = p.get_by_role("link", name="See the records in Activities")
        link.wait_for(timeout=30_000)
        link.click()
        p.wait_for_url(re.compile(r"/activities/\?run=\d+$"))
        activities_url = p.url
        petrol_total = _total(p)

        # After commit: the records were diesel after all; change the factor of all of them.
        p.get_by_role("link", name="Change factor").first.click()
        p.wait_for_url(re.compile(r"/activities/\d+/factor/"))
        assert (
            "2 records of this activity (volume)" in p.get_by_test_id("change-summary").inner_text()
        )
        p.get_by_label("Why the factor changes").fill("Fleet cards show diesel, not petrol")
        _search_and_pick(p, "diesel average", DIESEL)
        # Enter searches again and keeps the choice; the form is not sent.
        with p.expect_response(re.compile(r"/factors/picker/\?")):
            p.get_by_label("Search factors").press("Enter")
        assert p.get_by_label(DIESEL, exact=True).is_checked()
        assert p.get_by_test_id("new-factor").count() == 0
        _shot(p, "2-change-factor")
        p.get_by_role("button", name="Review the change").click()
        _shot(p, "3-confirm")
        assert p.get_by_test_id("new-factor").inner_text() == DIESEL
        p.get_by_role("button", name="Yes, recalculate 2 records").click()
        p.wait_for_url(activities_url)
        diesel_total = _total(p)
        _shot(p, "4-activities")
        assert p.get_by_text("Recalculating every record of “Benzin Dienstwagen”").is_visible()

    with schema_context("public"):
        petrol = EmissionFactor.objects.get(id=petrol_id)
        diesel = EmissionFactor.objects.get(dataset__key="defra_2024", name=DIESEL, unit="L")
    assert (petrol.name, petrol.kg_co2e) == (PETROL, DEFRA_PETROL_KG_PER_L)
    assert diesel.kg_co2e == DEFRA_DIESEL_KG_PER_L
    assert petrol_total == pytest.approx(
        LITRES * (DEFRA_PETROL_KG_PER_L + WTT_PETROL_KG_PER_L), rel=1e-9
    )
    assert diesel_total == pytest.approx(
        LITRES * (DEFRA_DIESEL_KG_PER_L + WTT_DIESEL_KG_PER_L), rel=1e-9
    )
    from emissions.models import ActivityRecord, FactorChange

    with schema_context("acme"):
        change = FactorChange.objects.order_by("-id").first()
        assert change is not None
        assert (change.status, change.records_changed) == ("done", 2)
        records = ActivityRecord.objects.filter(
            import_run__original_name="fleet 2024.csv", line_kind="main"
        )
        for record in records:
            step = record.provenance["factor_changes"][-1]
            assert (step["old"]["factor_id"], step["new"]["factor_id"]) == (petrol.id, diesel.id)
            assert step["reason"] == "Fleet cards show diesel, not petrol"


def test_it_searches_the_library_the_browser_test_commits(db: None) -> None:
    """The factors the browser test picks, found by the search it uses.

    (Requesting `db` also makes pytest-django set up the test database when this file runs
    alone: the browser test itself only reaches it through committed fixtures.)
    """
    from factors.selectors import FactorFilters, search_words

    assert FactorFilters(words=search_words("Petrol  average")).words == ("petrol", "average")
