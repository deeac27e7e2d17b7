"""Location-based Scope 2 outside GB and the US: the country's direct-emission generation
factor (the AIB production mix shipped with the residual-mix data), Our World in Data's
life-cycle intensity only as the labelled fallback.

Values read by hand from data/raw/ignite_activity_factors/activity_based_EF_database.csv,
column "Emission factor (location-based) [kg CO2e/unit]" (AIB production mix, kg CO2 per kWh):
  line 354  Scope2_Electricity_DE_kWh_2020  0.33866
  line 355  Scope2_Electricity_DE_kWh_2021  0.37764
  line 353  Scope2_Electricity_DE_kWh_2019  0.379
  line 370  Scope2_Electricity_FR_kWh_2021  0.04098
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from imports.models import ImportStatus
from imports.services import (
    import_run_create,
    import_run_set_mapping,
    import_run_start_commit,
    import_run_validate,
)
from tests.conftest import library_add
from tests.test_org_regions import MAPPING, chosen_factor, prepare_csv

DE_2019, DE_2020, DE_2021, FR_2021 = 0.379, 0.33866, 0.37764, 0.04098


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Iterator[None]:
    library_add("aib_residual_mix_2021")
    with schema_context("acme"):
        yield


def test_de_and_fr_rows_get_the_national_direct_generation_factor(acme: None) -> None:
    prepared = prepare_csv(
        "Date,Activity,kWh,Site,Country\n"
        "2021-03-31,Electricity,1000,,DE\n"
        "2021-03-31,Electricity,1000,,FR\n"
        "2020-06-30,Electricity,500,,DE\n"
    )
    calc = prepared.calculated
    factors = {row: chosen_factor(prepared, row) for row in calc.index}
    assert {r: (f.dataset.family, f.basis, f.region, f.year) for r, f in factors.items()} == {
        2: ("aib_residual_mix", "location", "DE", 2021),
        3: ("aib_residual_mix", "location", "FR", 2021),
        4: ("aib_residual_mix", "location", "DE", 2020),
    }
    assert list(calc["kg_co2e"]) == pytest.approx([1000 * DE_2021, 1000 * FR_2021, 500 * DE_2020])
    # No life-cycle warning; the assumption names the dataset and why.
    assert list(calc["location_note"]) == ["", "", ""]
    assert "AIB production mix (DE 2021, 0.37764 kg CO2 per kWh)" in calc.loc[2, "location_source"]
    assert (
        "direct CO2 emissions of the country's electricity generation"
        in (calc.loc[3, "location_source"])
    )
    codes = [n["code"] for n in prepared.result.notes]
    assert "life_cycle_grid" not in codes
    assert codes.count("location_source") == 3  # one per distinct factor


def test_a_later_year_takes_the_nearest_earlier_edition_flagged(acme: None) -> None:
    prepared = prepare_csv(
        "Date,Activity,kWh,Site,Country\n"
        "2022-06-30,Electricity,1000,,DE\n"
        "2024-06-30,Electricity,1000,,DE\n"
        "2015-06-30,Electricity,1000,,DE\n"
    )
    calc = prepared.calculated
    assert [chosen_factor(prepared, r).year for r in calc.index] == [2021, 2021, 2019]
    assert list(calc["kg_co2e"]) == pytest.approx([1000 * DE_2021, 1000 * DE_2021, 1000 * DE_2019])
    notes = list(calc["vintage_note"])
    assert notes[0] == ""  # one year apart
    assert "from 2021, 3 years from the activity's 2024" in notes[1]
    assert "from 2019, 4 years from the activity's 2015" in notes[2]


def test_a_country_without_a_generation_factor_keeps_the_labelled_life_cycle_one(
    acme: None,
) -> None:
    prepared = prepare_csv("Date,Activity,kWh,Site,Country\n2024-05-31,Electricity,1000,,JP\n")
    factor = chosen_factor(prepared, 2)
    assert (factor.dataset.family, factor.region) == ("owid_grid", "JP")
    assert "life-cycle" in prepared.calculated.loc[2, "location_note"]
    assert prepared.calculated.loc[2, "location_source"] == ""
    assert any(n["code"] == "life_cycle_grid" for n in prepared.result.notes)


def test_gb_and_us_rows_keep_their_home_publishers(acme: None) -> None:
    prepared = prepare_csv(
        "Date,Activity,kWh,Site,Country\n"
        "2021-01-31,Electricity,1000,,GB\n"
        "2021-01-31,Electricity,1000,,US\n"
    )
    families = [chosen_factor(prepared, r).dataset.family for r in prepared.calculated.index]
    assert families[0] == "defra"  # DEFRA for the UK, not AIB's GB production mix
    assert families[1] != "aib_residual_mix"


def test_the_record_stores_which_dataset_and_why(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    csv = "Date,Activity,kWh,Site,Country\n2021-03-31,Electricity,2000,,FR\n"
    run = import_run_create(upload=SimpleUploadedFile("m.csv", csv.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    record = ActivityRecord.objects.get(import_run=run, line_kind="main")
    assert record.kg_co2e == pytest.approx(2000 * FR_2021)
    assert "AIB production mix (FR 2021" in record.provenance["location_source"]
    assert "location_note" not in record.provenance
