"""A manager imports a German XLSX export in the browser: title row above the header, German
decimals, one red cell fixed in place, factors confirmed, import committed; the activities total
equals the hand-computed one.

Factors: DEFRA/DESNZ 2024 (flat file v1.1) and the OWID grid intensities, committed for this
module. Published value used by hand below: "Liquid fuels: Diesel (average biofuel blend)"
is 2.51279 kg CO2e per litre; the electricity factor is the Scope 2 one the test confirms.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.browser import (
    acme_restored,
    app_server,
    chromium_page,
    library_committed,
    require_chromium,
)
from tests.conftest import ALICE, PASSWORD
from tests.import_helpers import german_workbook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEFRA_DIESEL_KG_PER_L = (
    2.51279  # DESNZ 2024, Fuels > Liquid fuels > Diesel (average biofuel blend), litres
)
# Its well-to-tank line, which the import adds (tests/test_companion_lines.py); the OWID grid factor
# has no companion.
WTT_DIESEL_KG_PER_L = (
    0.61101  # DESNZ 2024, WTT- fuels > Liquid fuels > Diesel (average biofuel blend)
)
DIESEL = "Liquid fuels: Diesel (average biofuel blend)"

ROWS = [
    ["15.01.2024", "Diesel", "1.234,5", "Liter", "Köln"],
    ["31.01.2024", "Strom", "10.500", "kWh", "Köln"],
    ["15.02.2024", "Diesel", "abc", "Liter", "Köln"],  # the red cell, fixed to 250,75
    ["29.02.2024", "Strom", "9.800,25", "kWh", "Köln"],
]


@pytest.fixture(scope="module")
def committed_library(tenants: dict[str, object], django_db_blocker: Any) -> Iterator[None]:
    """DEFRA 2024 and the OWID grid intensities committed (the server process reads them, so the
    test's own transaction will not do); removed after this module unless they were there."""
    with library_committed(["defra_2024", "owid_grid_2025"], django_db_blocker):
        yield


@pytest.fixture
def server(
    committed_library: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The app on the test database, running jobs in-process (no Redis for the server); every
    import, record, choice and template the test makes in acme is removed afterwards."""
    require_chromium()
    monkeypatch.delenv("REDIS_URL", raising=False)
    with (
        acme_restored(django_db_blocker, also=("emissions.UncertaintyRun",)),
        django_db_blocker.unblock(),
        app_server() as base,
    ):
        yield base


def _selected_factor(page: Any, activity: str) -> tuple[str, int]:
    """The option chosen for an activity's line: its label and the library factor id."""
    select = page.get_by_label(f"Factor for {activity}")
    value = select.input_value()
    label = select.locator(f'option[value="{value}"]').inner_text()
    assert value.startswith("lib:"), value
    return label, int(value[4:])


def _choose(page: Any, activity: str, wanted: str) -> tuple[str, int]:
    """Keep the preselected factor when its label has `wanted`, else pick the first option that
    has it (the user's correction); returns the confirmed option's label and factor id."""
    label, _ = _selected_factor(page, activity)
    if wanted not in label:
        select = page.get_by_label(f"Factor for {activity}")
        option = select.locator("option", has_text=wanted).first
        select.select_option(option.get_attribute("value"))
        page.locator(f'tr:has-text("{activity}") .saved').wait_for()
    return _selected_factor(page, activity)


def test_it_imports_a_german_workbook_and_totals_it(server: str, tmp_path: Path) -> None:
    from factors.models import EmissionFactor

    port = server.rsplit(":", 1)[1]
    base = f"http://acme.localhost:{port}"
    workbook = tmp_path / "Energieverbrauch Köln 2024.xlsx"
    workbook.write_bytes(german_workbook(ROWS, title="Energieverbrauch Werk Köln 2024"))
    shots = os.environ.get("FT_SCREENSHOTS")

    def shot(page: Any, name: str) -> None:
        if shots:
            page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)

    with chromium_page() as page:
        p: Any = page
        p.set_viewport_size({"width": 1280, "height": 900})
        p.goto(f"{base}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{base}/")

        p.goto(f"{base}/imports/")
        # A file that is no spreadsheet: the reading page says why, and nothing is kept.
        garbage = tmp_path / "ledger.csv"
        garbage.write_bytes(bytes(range(256)) * 40)
        p.locator("#import-file").set_input_files(str(garbage))
        p.wait_for_url(re.compile(r"/imports/\d+/reading/$"))
        p.locator("#reading [role=alert]").wait_for()
        assert "Could not read “ledger.csv”" in p.content()
        shot(p, "1-imports")
        p.goto(f"{base}/imports/")
        p.locator("#import-file").set_input_files(str(workbook))
        p.wait_for_url(re.compile(r"/imports/\d+/mapping/$"))
        assert "header in row 3" in p.content()  # the title row and the blank row were skipped
        for field, column in (
            ("Date", "Datum"),
            ("Activity description", "Beschreibung"),
            ("Quantity", "Menge"),
            ("Unit", "Einheit"),
            ("Site", "Standort"),
        ):
            assert p.get_by_label(f"{field}: column", exact=True).input_value() == column
        # The file has no country column: the site is in Germany, for every row.
        p.get_by_label("Country: one value for every row").fill("DE")
        shot(p, "2-mapping")
        p.get_by_role("button", name="Save and preview").click()

        p.wait_for_url(re.compile(r"/preview/$"))
        shot(p, "3-preview")
        p.get_by_role("button", name="Check all 4 rows").click()

        p.wait_for_url(re.compile(r"/check/$"))
        assert p.get_by_test_id("rows-invalid").inner_text() == "1"
        shot(p, "4-check")
        cell = p.get_by_label("Row 6, Menge")
        assert cell.input_value() == "abc"
        cell.fill("250,75")
        cell.press("Enter")
        p.locator("#row-6").get_by_text("passes the checks now").wait_for()
        p.get_by_test_id("rows-invalid").filter(has_text="0").wait_for()
        assert p.get_by_test_id("rows-valid").inner_text() == "4"
        shot(p, "5-fixed")
        p.get_by_role("link", name="Next: confirm the factors").click()

        p.wait_for_url(re.compile(r"/factors/$"))
        shot(p, "6-factors")
        diesel_label, diesel_id = _choose(p, "Diesel", DIESEL)
        # Purchased electricity is Scope 2, location-based: Germany's grid average.
        power_label, power_id = _choose(p, "Strom", "Germany")
        assert "2.51279 kg CO2e/L" in diesel_label
        p.get_by_role("button", name="Confirm factors and continue").click()

        p.wait_for_url(re.compile(r"/commit/$"))
        shot(p, "7-commit")
        p.get_by_role("button", name="Import now").click()
        p.wait_for_url(re.compile(r"/progress/$"))
        link = p.get_by_role("link", name="See the records in Activities")
        link.wait_for(timeout=30_000)
        shot(p, "8-progress")
        link.click()

        p.wait_for_url(re.compile(r"/activities/\?run=\d+$"))
        shot(p, "9-activities")
        total_kg = float(p.get_by_test_id("total-kg").get_attribute("data-kg"))
        shown = p.get_by_test_id("total-kg").inner_text()

    with schema_context("public"):
        diesel = EmissionFactor.objects.get(id=diesel_id)
        power = EmissionFactor.objects.get(id=power_id)
    assert diesel.kg_co2e == DEFRA_DIESEL_KG_PER_L
    assert diesel.unit == "L"
    assert power.unit == "kWh"
    expected = (1234.5 + 250.75) * (DEFRA_DIESEL_KG_PER_L + WTT_DIESEL_KG_PER_L) + (
        10500 + 9800.25
    ) * power.kg_co2e
    assert total_kg == pytest.approx(expected, rel=1e-9)
    assert "kg CO2e" in shown
    assert "Scope 2" in power_label
    assert (power.scope, power.region) == ("2", "DE")


def test_it_reads_the_workbook_as_the_wizard_will(db: None) -> None:
    """The file the browser uploads: header under a title and a blank row, German numbers.

    (Requesting `db` also makes pytest-django set up the test database when this file runs
    alone: the browser test itself only reaches it through committed fixtures.)
    """
    from imports.pipeline import read_upload

    read = read_upload(german_workbook(ROWS), filename="Energieverbrauch.xlsx")
    assert read.header_row == 3
    assert read.headers == ["Datum", "Beschreibung", "Menge", "Einheit", "Standort"]
    assert read.frame["Menge"].tolist() == ["1.234,5", "10.500", "abc", "9.800,25"]
    assert list(read.frame.index) == [4, 5, 6, 7]
