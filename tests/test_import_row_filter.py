"""The row filter: a smart-meter export with import and export reads in one file is imported with
only its import reads; the others are counted as excluded, never as errors. Activity, unit and
country come from constants (the file has no such columns)."""

from __future__ import annotations

import csv
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from imports.pipeline import (
    Mapping,
    PipelineError,
    RowFilter,
    filter_rows,
    load_mapping_file,
    read_upload,
)
from imports.selectors import import_run_preview
from imports.services import (
    import_run_apply_to_all,
    import_run_create,
    import_run_set_mapping,
    import_run_validate,
)
from tests.import_helpers import post_upload

METER = Path(__file__).parent / "fixtures" / "imports" / "meter_export_2024-11-04.csv"
IMPORT_READ = "Active Import Interval (kWh)"
EXPORT_READ = "Active Export Interval (kWh)"

METER_MAPPING = {
    "columns": {"date": "Read Date and End Time", "quantity": "Read Value", "site": "MPRN"},
    "constants": {"activity": "Electricity", "unit": "kWh", "country": "IE"},
    "options": {"decimal": ".", "date_order": "DMY"},
    "filter": {"include": {"Read Type": [IMPORT_READ]}},
}


def meter_rows() -> list[dict[str, str]]:
    with METER.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def hand_sum(read_type: str = IMPORT_READ) -> float:
    """The kWh of one read type, summed from the file with the csv module."""
    return sum(float(r["Read Value"]) for r in meter_rows() if r["Read Type"] == read_type)


# ---------------------------------------------------------------------------------- pipeline


def test_it_keeps_the_included_rows_and_counts_the_others() -> None:
    read = read_upload(METER, filename=METER.name)
    mapping = Mapping.from_dict(METER_MAPPING)
    kept = filter_rows(read.frame, mapping.row_filter, read.native_numbers)
    n_import = sum(r["Read Type"] == IMPORT_READ for r in meter_rows())
    assert len(kept.frame) == n_import
    assert kept.excluded == len(meter_rows()) - n_import
    assert set(kept.frame["Read Type"]) == {IMPORT_READ}
    # Spreadsheet row numbers stay those of the file (header is row 1).
    assert kept.frame.index[0] == 2


def test_it_excludes_case_insensitively_and_filters_the_number_marks() -> None:
    frame = pd.DataFrame(
        {"Type": [" import ", "EXPORT", "import", None], "Value": ["1", "2", "3", "4"]},
        index=[2, 3, 4, 5],
    )
    natives = {"Value": np.array([True, False, True, False])}
    kept = filter_rows(frame, RowFilter(exclude={"Type": ["Export"]}), natives)
    assert list(kept.frame.index) == [2, 4, 5]
    assert kept.native_numbers["Value"].tolist() == [True, True, False]
    assert kept.excluded == 1
    both = RowFilter(include={"Type": ["import"]}, exclude={"Value": ["3"]})
    assert list(filter_rows(frame, both).frame.index) == [2]


def test_it_reads_and_writes_the_filter_in_the_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "meter.yml"
    path.write_text(
        "columns:\n  date: Read Date and End Time\n  quantity: Read Value\n"
        "constants:\n  activity: Electricity\n  unit: kWh\n  country: IE\n"
        "filter:\n  include:\n    Read Type: [Active Import Interval (kWh)]\n"
        "  exclude:\n    MPRN: '0000'\n"
    )
    mapping = load_mapping_file(path)
    assert mapping.row_filter.include == {"Read Type": [IMPORT_READ]}
    assert mapping.row_filter.exclude == {"MPRN": ["0000"]}
    assert Mapping.from_dict(mapping.to_dict()) == mapping
    assert "filter" not in Mapping.from_dict({"columns": {"date": "D"}}).to_dict()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"filter": ["Read Type"]}, "filter must be a mapping"),
        ({"filter": {"only": {"A": ["x"]}}}, "filter: unknown key(s) only"),
        ({"filter": {"include": ["x"]}}, "filter.include must be a mapping"),
        ({"filter": {"include": {"A": []}}}, "filter.include.A must be a value"),
        ({"filter": {"exclude": {"A": [{"x": 1}]}}}, "filter.exclude.A must be a value"),
    ],
)
def test_it_names_what_is_wrong_in_a_filter(data: dict[str, Any], words: str) -> None:
    with pytest.raises(PipelineError) as caught:
        Mapping.from_dict(data, source="meter.yml")
    assert caught.value.code == "mapping_invalid"
    assert words in caught.value.message


def test_it_refuses_a_filter_on_a_column_the_file_lacks() -> None:
    mapping = Mapping.from_dict({**METER_MAPPING, "filter": {"include": {"Richtung": ["Bezug"]}}})
    with pytest.raises(PipelineError) as caught:
        mapping.check(["MPRN", "Read Value", "Read Type", "Read Date and End Time"])
    assert caught.value.code == "mapping_column_missing"
    assert "'Richtung' (Row filter)" in caught.value.message


# ---------------------------------------------------------------------------------- services


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def _meter_run() -> Any:
    run = import_run_create(upload=SimpleUploadedFile(METER.name, METER.read_bytes()), user=None)
    return import_run_set_mapping(
        run=run, mapping=Mapping.from_dict(METER_MAPPING), template_name=None, user=None
    )


def test_it_checks_only_the_included_rows_and_counts_the_excluded(acme: None) -> None:
    run = _meter_run()
    shown = import_run_preview(run)
    assert shown["rows_excluded"] == 48
    prepared = import_run_validate(run=run)
    run.refresh_from_db()
    assert (run.rows_total, run.rows_valid, run.rows_invalid) == (48, 48, 0)
    assert run.detected["rows_excluded"] == 48
    assert not run.row_errors.exists()
    assert prepared.kg_co2e > 0
    assert prepared.n_excluded == 48


def test_it_applies_a_value_to_the_included_rows_only(acme: None) -> None:
    run = _meter_run()
    # "MPRN" holds the same value in all 96 rows; only the 48 import reads are replaced.
    changed = import_run_apply_to_all(
        run=run, column="MPRN", value="10013456789", replacement="Dublin 4"
    )
    assert changed == 48
    import_run_validate(run=run)
    run.refresh_from_db()
    assert run.rows_valid == 48


def test_the_command_honours_the_filter_of_a_mapping_file(acme: None, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "meter.yml"
    path.write_text(yaml.safe_dump(METER_MAPPING))
    out = StringIO()
    call_command("import_activities", "--tenant", "acme", str(METER), "--mapping", str(path),
                 "--json", stdout=out)  # fmt: skip
    summary = json.loads(out.getvalue())
    assert (summary["rows"], summary["valid"], summary["invalid"]) == (48, 48, 0)
    assert summary["excluded"] == 48
    assert summary["committed"]
    records = ActivityRecord.objects.filter(import_run_id=summary["import_run"])
    assert records.count() == 48
    assert sum(r.quantity for r in records) == pytest.approx(hand_sum())


# ---------------------------------------------------------------------------------- wizard


@pytest.fixture
def media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


@pytest.fixture
def meter_run(alice: Any, media_root: None) -> Any:
    """The meter export uploaded by alice, with a grid factor for its electricity (a Scope 2
    supplier factor would be the market-based rate only: the location-based figure needs the
    grid's)."""
    from imports.models import ImportRun
    from tests.factor_helpers import make_library_factor

    make_library_factor(
        key="grid_ie_test_2024",
        publisher_id="grid-ie",
        name="Electricity: grid average, Ireland",
        scope="2",
        region="IE",
        unit="kWh",
        unit_dimension="energy",
        kg_co2e=0.3,
        kind="grid_electricity",
        year=2024,
    )
    response = post_upload(alice, METER.read_bytes(), METER.name)
    assert response.status_code == 302
    with schema_context("acme"):
        return ImportRun.objects.order_by("-id").first()


def _url(name: str, run: Any) -> str:
    from django.urls import reverse

    return reverse(name, kwargs={"run_id": run.id})


def _meter_form(**extra: str) -> dict[str, Any]:
    return {
        "col_date": "Read Date and End Time",
        "col_quantity": "Read Value",
        "col_site": "MPRN",
        "const_activity": "Electricity",
        "const_unit": "kWh",
        "const_country": "IE",
        "decimal": ".",
        "date_order": "DMY",
        **extra,
    }


def test_the_wizard_offers_the_values_of_a_column_as_a_row_filter(
    alice: Any, meter_run: Any
) -> None:
    from imports.models import ImportRun

    html = alice.get(_url("import_mapping", meter_run)).content.decode()
    assert "Rows to import" in html
    assert f"{IMPORT_READ} (48 rows)" in html
    assert f"{EXPORT_READ} (48 rows)" in html
    name = re.search(rf'name="(keep_\d+)" value="{re.escape(IMPORT_READ)}"', html)
    assert name is not None

    # Unticking every value of the column is refused with the reason.
    response = alice.post(_url("import_mapping", meter_run), _meter_form(filter_shown="1"))
    assert response.status_code == 422
    assert "Tick at least one value of “Read Type”" in response.content.decode()

    form = _meter_form(filter_shown="1", **{name.group(1): IMPORT_READ})
    response = alice.post(_url("import_mapping", meter_run), form)
    assert response.status_code == 302, response.content.decode()
    with schema_context("acme"):
        run = ImportRun.objects.get(id=meter_run.id)
    assert run.mapping["filter"] == {"include": {"Read Type": [IMPORT_READ]}}

    preview = alice.get(_url("import_preview", run)).content.decode()
    assert "48 rows excluded by the row filter; 48 to import" in preview
    assert "Check the 48 rows to import" in preview

    alice.post(_url("import_validate", run))
    results = alice.get(_url("import_results", run)).content.decode()
    assert re.search(r'data-testid="rows-excluded">48<', results)
    assert re.search(r'data-testid="rows-invalid">0<', results)

    # Back on the columns page, the filter shows as it was saved.
    html = alice.get(_url("import_mapping", run)).content.decode()
    assert re.search(rf'value="{re.escape(IMPORT_READ)}"[^>]*checked', html)
    assert not re.search(rf'value="{re.escape(EXPORT_READ)}"[^>]*checked', html)


def test_next_stays_with_its_reason_when_every_row_is_invalid(alice: Any, meter_run: Any) -> None:
    # Without a date order every "04-11-2024" is ambiguous: no row is valid.
    form = {k: v for k, v in _meter_form().items() if k not in {"decimal", "date_order"}}
    assert alice.post(_url("import_mapping", meter_run), form).status_code == 302
    alice.post(_url("import_validate", meter_run))
    html = alice.get(_url("import_results", meter_run)).content.decode()
    assert re.search(r'data-testid="rows-valid">0<', html)
    assert "Next: confirm the factors" in html
    assert "No row is valid yet" in html


@pytest.mark.usefixtures("media_root")
def test_apply_to_all_states_every_cell_it_replaces(
    alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only 2 errors are stored, but 5 cells hold "Fass": the button says 5 and replaces 5."""

    from imports import services
    from imports.models import ImportRun
    from tests.factor_helpers import make_supplier_factor

    monkeypatch.setattr(services, "MAX_STORED_ERRORS", 2)
    make_supplier_factor(name="Diesel", region="DE", unit="L", kg_co2e=2.5)
    rows = "".join(f"{d:02d}.01.2024;Diesel;{d}0;Fass\n" for d in range(1, 6))
    content = ("Datum;Beschreibung;Menge;Einheit\n15.01.2024;Diesel;100;L\n" + rows).encode()
    post_upload(alice, content, "fuel.csv")
    with schema_context("acme"):
        run = ImportRun.objects.order_by("-id").first()
    form = {
        "col_date": "Datum",
        "col_activity": "Beschreibung",
        "col_quantity": "Menge",
        "col_unit": "Einheit",
        "decimal": ",",
        "date_order": "DMY",
    }
    assert alice.post(_url("import_mapping", run), form).status_code == 302
    alice.post(_url("import_validate", run))
    html = alice.get(_url("import_results", run)).content.decode()
    assert "Apply to all 5<" in html
    response = alice.post(
        _url("import_apply_all", run),
        {"column": "Einheit", "value": "Fass", "replacement": "L"},
        follow=True,
    )
    assert "in 5 rows" in response.content.decode()
    with schema_context("acme"):
        run = ImportRun.objects.get(id=run.id)
    assert (run.rows_valid, run.rows_invalid) == (6, 0)


# ---------------------------------------------------------------------------------- figures


def test_the_commit_page_totals_the_rows_as_they_are_now(alice: Any, meter_run: Any) -> None:
    """The factor changes after the check: the commit page shows the new total, not the old."""
    from factors.models import EmissionFactor

    form = _meter_form(filter_shown="1")
    html = alice.get(_url("import_mapping", meter_run)).content.decode()
    name = re.search(rf'name="(keep_\d+)" value="{re.escape(IMPORT_READ)}"', html)
    assert name is not None
    form[name.group(1)] = IMPORT_READ
    assert alice.post(_url("import_mapping", meter_run), form).status_code == 302
    alice.post(_url("import_validate", meter_run))
    with schema_context("public"):
        EmissionFactor.objects.filter(publisher_id="grid-ie").update(kg_co2e=0.5)
    html = alice.get(_url("import_commit", meter_run)).content.decode()
    shown = re.search(r'data-testid="commit-kg">([^<]+) kg CO2e<', html)
    assert shown is not None
    assert float(shown.group(1).replace(",", "")) == pytest.approx(hand_sum() * 0.5, rel=1e-3)
    assert re.search(r'data-testid="commit-excluded">48<', html)
    assert re.search(r'data-testid="commit-valid">48 of 48<', html)


@pytest.mark.replay_unchecked  # it changes a record's figure by hand, as no write path does
def test_an_imports_total_follows_its_edited_records(
    alice: Any, acme: None, tmp_path: Path, media_root: None
) -> None:
    import yaml
    from django.urls import reverse

    path = tmp_path / "meter.yml"
    path.write_text(yaml.safe_dump(METER_MAPPING))
    out = StringIO()
    call_command("import_activities", "--tenant", "acme", str(METER), "--mapping", str(path),
                 "--json", stdout=out)  # fmt: skip
    run_id = json.loads(out.getvalue())["import_run"]
    records = ActivityRecord.objects.filter(import_run_id=run_id)
    first = records.order_by("source_row").first()
    assert first is not None
    ActivityRecord.objects.filter(id=first.id).update(kg_co2e=first.kg_co2e + 1000)
    records.order_by("-source_row")[:1].get().delete()
    expected = sum(r.kg_co2e for r in records)
    html = alice.get(reverse("import_detail", kwargs={"run_id": run_id})).content.decode()
    shown = re.search(r'data-testid="run-kg">([^<]+)<', html)
    assert shown is not None
    assert float(shown.group(1).replace(",", "")) == pytest.approx(expected, rel=1e-3)
    assert 'data-testid="run-records">47<' in html
    listing = alice.get(reverse("imports")).content.decode()
    assert f"{expected:,.1f}" in listing
    assert '<td class="num">47</td>' in listing


def test_titles_tell_the_true_state(alice: Any, meter_run: Any) -> None:
    """A filter that leaves no row: the check says so (not "every row is valid"); a finished
    import's progress page says imported, not importing."""
    from imports.models import ImportRun, ImportStatus

    html = alice.get(_url("import_mapping", meter_run)).content.decode()
    name = re.search(rf'name="(keep_\d+)" value="{re.escape(IMPORT_READ)}"', html)
    assert name is not None
    form = _meter_form(**{name.group(1): IMPORT_READ})
    form["filter_shown"] = "1"
    assert alice.post(_url("import_mapping", meter_run), form).status_code == 302
    with schema_context("acme"):
        run = ImportRun.objects.get(id=meter_run.id)
        run.mapping = {**run.mapping, "filter": {"include": {"Read Type": ["(none)"]}}}
        run.save(update_fields=["mapping"])
    alice.post(_url("import_validate", run))
    html = alice.get(_url("import_results", run)).content.decode()
    assert "Check: no row to import" in html
    assert "every row is valid" not in html

    with schema_context("acme"):
        ImportRun.objects.filter(id=run.id).update(status=ImportStatus.COMMITTED)
    html = alice.get(_url("import_progress", run)).content.decode()
    assert re.search(r"<title>Imported · ", html)
    assert re.search(r'data-testid="progress-title">Imported “', html)
    assert "Importing" not in html


def _step_classes(html: str) -> dict[str, str]:
    """Each stepper step's label and its class ("done", "current" or "")."""
    steps = re.findall(r'<li class="([a-z]*)"[^>]*>.*?</span>([A-Za-z]+)', html, re.S)
    return {label: cls for cls, label in steps}


def test_the_stepper_marks_the_factors_done_once_confirmed(alice: Any, meter_run: Any) -> None:
    html = alice.get(_url("import_mapping", meter_run)).content.decode()
    name = re.search(rf'name="(keep_\d+)" value="{re.escape(IMPORT_READ)}"', html)
    assert name is not None
    form = _meter_form(filter_shown="1", **{name.group(1): IMPORT_READ})
    assert alice.post(_url("import_mapping", meter_run), form).status_code == 302
    alice.post(_url("import_validate", meter_run))
    steps = _step_classes(alice.get(_url("import_commit", meter_run)).content.decode())
    assert (steps["Check"], steps["Factors"], steps["Import"]) == ("done", "", "current")

    response = alice.post(_url("import_factors", meter_run), {"lines": "0"})
    assert response.status_code == 302
    steps = _step_classes(alice.get(_url("import_commit", meter_run)).content.decode())
    assert (steps["Check"], steps["Factors"], steps["Import"]) == ("done", "done", "current")

    # Checking the rows again (new activities may need a factor) opens the step again.
    alice.post(_url("import_validate", meter_run))
    steps = _step_classes(alice.get(_url("import_commit", meter_run)).content.decode())
    assert steps["Factors"] == ""


def test_the_filter_offers_kinds_of_rows_not_columns_whose_every_value_differs() -> None:
    import pandas as pd

    from imports.pipeline.mapping import filter_candidates

    frame = pd.DataFrame(
        {
            "Date": ["15.01.2024", "31.01.2024", "15.02.2024", "29.02.2024"],
            "Read Type": [IMPORT_READ, EXPORT_READ, IMPORT_READ, EXPORT_READ],
            "Value": ["1,5", "2", "3", "4"],
            "Site": ["Ulm", "Ulm", "Ulm", "Ulm"],
        }
    )
    assert filter_candidates(frame) == [("Read Type", [(IMPORT_READ, 2), (EXPORT_READ, 2)])]
