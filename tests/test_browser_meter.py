"""A manager imports a smart-meter export in the browser: import and export reads in one file,
no activity or unit column. The export reads are filtered out on the columns page, activity,
unit and country are typed once, and the import total equals the hand-summed import reads times
the confirmed grid factor. The same export imported again shows its rows as already in the
inventory; skipping them leaves the activities total as it was.

Factors: the OWID grid intensities (and DEFRA 2024), committed for the module by the fixtures
of tests/test_browser_import.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.conftest import ALICE, PASSWORD
from tests.test_browser_import import committed_library, server  # noqa: F401
from tests.test_import_row_filter import EXPORT_READ, IMPORT_READ, METER, hand_sum, meter_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _number(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def _upload_map_and_confirm(p: Any, base: str, n_import: int, n_export: int) -> int:
    """Upload the meter export, map and filter it, check it and confirm Ireland's grid factor:
    the steps up to the import page; returns the confirmed factor's id."""
    p.goto(f"{base}/imports/")
    p.locator("#import-file").set_input_files(str(METER))
    p.wait_for_url(re.compile(r"/imports/\d+/mapping/$"))
    # The file's "Read Type" is no activity: electricity, in kWh, in Ireland, for every row.
    p.get_by_label("Activity description: column", exact=True).select_option("")
    p.get_by_label("Activity description: one value for every row").fill("Electricity")
    p.get_by_label("Unit: column", exact=True).select_option("")
    p.get_by_label("Unit: one value for every row").fill("kWh")
    p.get_by_label("Country: one value for every row").fill("IE")
    p.get_by_label("Date: column", exact=True).select_option("Read Date and End Time")
    p.get_by_label("Quantity: column", exact=True).select_option("Read Value")
    p.get_by_label("Decimal separator").select_option(".")
    p.get_by_label("Date order").select_option("DMY")
    row_filter = p.get_by_test_id("row-filter")
    assert row_filter.get_by_label(f"{IMPORT_READ} ({n_import} rows)").is_checked()
    row_filter.get_by_label(f"{EXPORT_READ} ({n_export} rows)").uncheck()
    p.get_by_role("button", name="Save and preview").click()

    p.wait_for_url(re.compile(r"/preview/$"))
    assert (
        f"{n_export} rows excluded by the row filter"
        in p.get_by_test_id("rows-excluded").inner_text()
    )
    p.get_by_role("button", name=f"Check the {n_import} rows to import").click()

    p.wait_for_url(re.compile(r"/check/$"))
    assert p.get_by_test_id("rows-excluded").inner_text() == str(n_export)
    assert p.get_by_test_id("rows-invalid").inner_text() == "0"
    assert p.get_by_test_id("rows-valid").inner_text() == str(n_import)
    p.get_by_role("link", name="Next: confirm the factors").click()

    p.wait_for_url(re.compile(r"/factors/$"))
    select = p.get_by_label("Factor for Electricity")
    if "Ireland" not in select.locator(f'option[value="{select.input_value()}"]').inner_text():
        option = select.locator("option", has_text="Ireland").first
        select.select_option(option.get_attribute("value"))
        p.locator('tr:has-text("Electricity") .saved').wait_for()
    value = select.input_value()
    assert value.startswith("lib:"), value
    factor_id = int(value[4:])
    p.get_by_role("button", name="Confirm factors and continue").click()
    return factor_id


def test_it_imports_the_import_reads_of_a_meter_export(server: str) -> None:  # noqa: F811
    from factors.models import EmissionFactor
    from tests.browser import chromium_page

    port = server.rsplit(":", 1)[1]
    base = f"http://acme.localhost:{port}"
    n_import = sum(r["Read Type"] == IMPORT_READ for r in meter_rows())
    n_export = len(meter_rows()) - n_import

    with chromium_page() as page:
        p: Any = page
        p.set_viewport_size({"width": 1280, "height": 900})
        p.goto(f"{base}/login/")
        p.get_by_label("Email").fill(ALICE.email)
        p.get_by_label("Password").fill(PASSWORD)
        p.get_by_role("button", name="Sign in").click()
        p.wait_for_url(f"{base}/")

        factor_id = _upload_map_and_confirm(p, base, n_import, n_export)
        p.wait_for_url(re.compile(r"/commit/$"))
        assert p.get_by_test_id("commit-excluded").inner_text() == str(n_export)
        commit_kg = _number(p.get_by_test_id("commit-kg").inner_text())
        p.get_by_role("button", name="Import now").click()
        p.wait_for_url(re.compile(r"/progress/$"))
        link = p.get_by_role("link", name="See the records in Activities")
        link.wait_for(timeout=30_000)
        assert f"({n_export} rows excluded by the row filter)" in p.content()
        link.click()

        p.wait_for_url(re.compile(r"/activities/\?run=\d+$"))
        total_kg = float(p.get_by_test_id("total-kg").get_attribute("data-kg"))

        # The same export again, mapped and filtered the same way: the import page says its rows
        # are already in the inventory; skipping them counts nothing twice.
        p.goto(f"{base}/activities/")
        inventory_kg = float(p.get_by_test_id("total-kg").get_attribute("data-kg"))
        assert _upload_map_and_confirm(p, base, n_import, n_export) == factor_id
        p.wait_for_url(re.compile(r"/commit/$"))
        duplicates = p.locator("fieldset#duplicates")
        assert (
            f"{n_import} rows are already in your inventory"
            in duplicates.locator("legend").inner_text()
        )
        duplicates.get_by_label("Skip them", exact=False).check()
        p.get_by_role("button", name="Import now").click()
        p.wait_for_url(re.compile(r"/progress/$"))
        p.get_by_role("link", name="See the records in Activities").wait_for(timeout=30_000)
        assert f"{n_import} rows were already in the inventory and skipped." in p.content()
        p.goto(f"{base}/activities/")
        assert float(p.get_by_test_id("total-kg").get_attribute("data-kg")) == inventory_kg

    with schema_context("public"):
        grid = EmissionFactor.objects.get(id=factor_id)
    assert grid.unit == "kWh"
    assert grid.region == "IE"
    expected = hand_sum() * grid.kg_co2e
    assert total_kg == pytest.approx(expected, rel=1e-6)  # the page states 6 decimals
    assert commit_kg == pytest.approx(expected, rel=1e-3)


def test_the_fixture_holds_both_read_types(db: None) -> None:
    """(Requesting `db` makes pytest-django set up the test database when this file runs alone:
    the browser test reaches it only through committed fixtures.)"""
    rows = meter_rows()
    assert {r["Read Type"] for r in rows} == {IMPORT_READ, EXPORT_READ}
    assert Path(METER).stat().st_size < 10_000
