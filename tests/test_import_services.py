"""The import services: upload -> mapping -> validation with factors -> fixes -> commit job -> undo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from factors.models import EmissionFactor
from imports.errors import ImportInputError
from imports.models import FactorChoice, ImportRun, ImportStatus, MappingTemplate, RowError
from imports.pipeline import Mapping
from imports.selectors import activity_suggestions
from imports.services import (
    factor_choice_set,
    import_run_apply_to_all,
    import_run_create,
    import_run_fix_cell,
    import_run_set_mapping,
    import_run_start_commit,
    import_run_undo,
    import_run_validate,
)

# A German fuel-card export: title row, semicolons, decimal commas, DD.MM.YYYY; two bad cells.
GERMAN_CSV = (
    "Tankkarte Export 2024;;;;\n"
    "Datum;Beschreibung;Menge;Einheit;Standort\n"
    "15.01.2024;Diesel;1.234,5;Liter;Werk Nord\n"
    "20.01.2024;Diesel;abc;Liter;Werk Nord\n"
    "03.02.2024;Diesel;100;Fass;Werk Süd\n"
    "04.02.2024;Diesel;200;Fass;Werk Süd\n"
).encode()
DIESEL = 2.51279  # DEFRA 2024, Diesel (average biofuel blend), kg CO2e per litre


def _upload(content: bytes = GERMAN_CSV, name: str = "tankkarte.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def _diesel_id() -> int:
    return EmissionFactor.objects.get(dataset__key="defra_2024", publisher_id="1_101_1011_8_1").id


def _chose_diesel(run: ImportRun) -> None:
    factor_choice_set(
        run=run,
        activity="Diesel",
        unit_dimension="volume",
        factor_id=_diesel_id(),
        supplier_factor_id=None,
        user=None,
    )


def test_it_reads_the_upload_and_suggests_a_mapping(acme: None) -> None:
    run = import_run_create(upload=_upload(), user=None)
    assert run.status == ImportStatus.UPLOADED
    assert run.detected["header_row"] == 2
    assert run.detected["delimiter"] == ";"
    assert run.mapping["columns"] == {
        "date": "Datum",
        "activity": "Beschreibung",
        "quantity": "Menge",
        "unit": "Einheit",
        "site": "Standort",
    }
    assert len(run.sha256) == 64
    assert run.file.name.startswith("imports/")


def test_it_validates_with_spreadsheet_rows_and_factors(acme: None) -> None:
    run = import_run_create(upload=_upload(), user=None)
    _chose_diesel(run)
    prepared = import_run_validate(run=run)
    run.refresh_from_db()
    assert (run.rows_total, run.rows_valid, run.rows_invalid) == (4, 1, 3)
    assert run.status == ImportStatus.VALIDATED
    errors = {(e.row, e.column): e for e in RowError.objects.filter(run=run)}
    assert set(errors) == {(4, "Menge"), (5, "Einheit"), (6, "Einheit")}
    assert "Fass" in errors[(5, "Einheit")].message
    assert run.kg_co2e == pytest.approx(1234.5 * DIESEL)
    assert prepared.kg_co2e == pytest.approx(1234.5 * DIESEL)


def test_it_fixes_a_cell_and_applies_a_value_to_all_rows(acme: None) -> None:
    run = import_run_create(upload=_upload(), user=None)
    _chose_diesel(run)
    import_run_validate(run=run)
    check = import_run_fix_cell(run=run, row=4, column="Menge", value="50,5")
    assert check.valid
    assert import_run_apply_to_all(run=run, column="Einheit", value="Fass", replacement="L") == 2
    import_run_validate(run=run)
    run.refresh_from_db()
    assert (run.rows_valid, run.rows_invalid) == (4, 0)
    assert run.kg_co2e == pytest.approx((1234.5 + 50.5 + 100 + 200) * DIESEL)


def test_it_commits_once_with_provenance_and_undoes(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = import_run_create(upload=_upload(), user=None)
    _chose_diesel(run)
    import_run_validate(run=run)
    with pytest.raises(ImportInputError, match="3 rows still have errors"):
        import_run_start_commit(run=run, user=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None, allow_partial=True)
    assert connection.schema_name == "acme"
    run.refresh_from_db()
    # The invalid rows stay in the run, to be fixed and imported later.
    assert run.status == ImportStatus.PARTIAL
    assert run.records_created == 1
    # The diesel row and its well-to-tank line (tests/test_companion_lines.py): the main line here.
    record = ActivityRecord.objects.get(import_run=run, line_kind="main")
    assert (record.source_row, record.quantity, record.unit, record.scope) == (3, 1234.5, "L", 1)
    assert record.factor_id == _diesel_id()
    assert record.factor_version == "defra_2024 v1"
    assert record.kg_co2e == pytest.approx(1234.5 * DIESEL)
    calculation = run.detected["calculations"][record.provenance["calculation"]]
    assert calculation["factor"]["kg_co2e_per_unit"] == DIESEL
    # The choice is remembered for the next file.
    assert (
        FactorChoice.objects.get(activity_key="diesel", unit_dimension="volume").factor_id
        == _diesel_id()
    )
    # A second commit does nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert not import_run_start_commit(run=run, user=None, allow_partial=True)
    assert ActivityRecord.objects.filter(import_run=run, line_kind="main").count() == 1
    # The undo removes the main line and its WTT line.
    assert import_run_undo(run=run, user=None) == 2
    run.refresh_from_db()
    assert run.status == ImportStatus.UNDONE
    assert not ActivityRecord.objects.filter(import_run=run).exists()


def test_it_applies_a_saved_template_to_the_same_headers(acme: None) -> None:
    run = import_run_create(upload=_upload(), user=None)
    mapping = Mapping.from_dict({**run.mapping, "constants": {}, "options": {"decimal": ","}})
    import_run_set_mapping(run=run, mapping=mapping, template_name="Tankkarte", user=None)
    assert MappingTemplate.objects.get(name="Tankkarte").mapping["options"] == {"decimal": ","}
    again = import_run_create(upload=_upload(GERMAN_CSV.replace(b"1.234,5", b"99")), user=None)
    assert again.status == ImportStatus.MAPPED
    assert again.template is not None
    assert again.template.name == "Tankkarte"


def test_it_suggests_one_factor_per_distinct_activity(acme: None) -> None:
    run = import_run_create(upload=_upload(), user=None)
    rows = activity_suggestions(run)
    assert [(r.activity, r.unit_dimension, r.rows) for r in rows] == [("Diesel", "volume", 1)]
    best = rows[0].candidates[0].factor
    assert "Diesel" in best.name
    assert best.unit == "L"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "empty"),
        (b"Datum;Beschreibung;Menge;Einheit\n", "header.csv", "no data"),
        (bytes(range(256)) * 8, "garbage.csv", "binary"),
        (b"PK\x03\x04truncated", "broken.xlsx", "damaged"),
    ],
)
def test_it_refuses_unreadable_uploads_and_saves_nothing(
    acme: None, content: bytes, name: str, message: str
) -> None:
    with pytest.raises(ImportInputError) as caught:
        import_run_create(upload=_upload(content, name), user=None)
    assert message in caught.value.message.lower()
    assert not ImportRun.objects.exists()


def test_it_refuses_an_oversized_upload(acme: None, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 2048
    with pytest.raises(ImportInputError, match="limit") as caught:
        import_run_create(upload=_upload(GERMAN_CSV * 40), user=None)
    assert caught.value.code == "too_large"
    assert not ImportRun.objects.exists()


def test_it_takes_the_next_sheet_when_the_first_holds_only_a_header(acme: None) -> None:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Vorlage"
    book.active.append(["Datum", "Beschreibung", "Menge", "Einheit"])
    data = book.create_sheet("Januar")
    data.append(["Datum", "Beschreibung", "Menge", "Einheit"])
    data.append(["15.01.2024", "Diesel", 100, "L"])
    buffer = io.BytesIO()
    book.save(buffer)
    run = import_run_create(upload=_upload(buffer.getvalue(), "verbrauch.xlsx"), user=None)
    assert run.sheet == "Januar"
    assert run.detected["sheets"] == ["Vorlage", "Januar"]


def test_it_moves_a_remembered_choice_to_the_current_dataset_version(acme: None) -> None:
    from factors.models import FactorDataset

    current = EmissionFactor.objects.get(dataset__key="defra_2024", publisher_id="1_101_1011_8_1")
    old_dataset = FactorDataset.objects.get(id=current.dataset_id)
    old_dataset.id, old_dataset.version, old_dataset.is_current = None, 99, False
    old_dataset.file_sha256 = "f" * 64
    old_dataset.save()
    old = EmissionFactor.objects.get(id=current.id)
    old.id, old.dataset = None, old_dataset
    old.kg_co2e = 2.6
    old.save()
    FactorChoice.objects.create(activity_key="diesel", unit_dimension="volume", factor_id=old.id)
    run = import_run_create(upload=_upload(), user=None)
    prepared = import_run_validate(run=run)
    assert prepared.choices[0].factor_id == current.id
    assert prepared.kg_co2e == pytest.approx(1234.5 * DIESEL)


def test_it_rebuilds_the_indexes_after_a_large_first_load(
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    import imports.writer as writer

    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'acme' "
                "AND tablename = 'emissions_activityrecord'"
            )
            return {row[0] for row in cursor.fetchall()}

    before = indexes()
    assert len(before) >= 3  # primary key, date, import run, supplier factor
    monkeypatch.setattr(writer, "BULK_REBUILD_ROWS", 1)
    settings.JOBS_IN_PROCESS = True
    run = import_run_create(
        upload=_upload(GERMAN_CSV.replace(b"abc", b"1").replace(b"Fass", b"L")), user=None
    )
    _chose_diesel(run)
    import_run_validate(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    assert ActivityRecord.objects.filter(import_run=run, line_kind="main").count() == 4
    assert indexes() == before


def test_it_prefers_a_supplier_factor_over_a_remembered_library_choice(acme: None) -> None:
    from tests.factor_helpers import make_supplier_factor

    FactorChoice.objects.create(
        activity_key="diesel", unit_dimension="volume", factor_id=_diesel_id()
    )
    supplier = make_supplier_factor()  # "Diesel from Acme Fuels", 2.4 kg CO2e per litre
    run = import_run_create(upload=_upload(), user=None)
    prepared = import_run_validate(run=run)
    diesel = prepared.choices[0]
    assert (diesel.factor_id, diesel.supplier_factor_id) == (None, supplier.id)
    assert prepared.kg_co2e == pytest.approx(1234.5 * 2.4)
    # This run's own explicit choice still wins over the supplier's.
    _chose_diesel(run)
    prepared = import_run_validate(run=run)
    assert prepared.choices[0].factor_id == _diesel_id()


def test_it_ranks_in_factor_search_exactly_as_the_wizard(acme: None) -> None:
    import json
    from io import StringIO

    import pandas as pd
    from django.core.management import call_command

    from imports.preparation import assign_factors
    from tests.factor_helpers import make_supplier_factor

    make_supplier_factor()
    # Each distinct activity carries its rows' region and year (imports.regions).
    distinct = pd.DataFrame(
        [
            {
                "activity": "Diesel KSt 4100",
                "key": "diesel kst",
                "dimension": "volume",
                "region": "DE",
                "year": 0,
                "rows": 3,
            }
        ]
    )
    (choice,) = assign_factors(distinct, with_candidates=True)
    out = StringIO()
    call_command(
        "factor_search", "Diesel KSt 4100", "--unit", "L", "--region", "DE", "--tenant", "acme",
        "--limit", "8", "--json", stdout=out,
    )  # fmt: skip
    ranked = json.loads(out.getvalue())["candidates"]
    assert [(c["source"], c["factor_id"], c["reasons"]) for c in ranked] == [
        (c.factor.source, c.factor.factor_id, list(c.reasons)) for c in choice.candidates
    ]
    assert ranked[0]["source"] == "supplier"
    assert "UK factor used for a DE activity" in ranked[1]["reasons"]


def test_it_names_the_unit_the_nearest_factors_need_when_none_of_the_quantitys_matches(
    acme: None,
) -> None:
    # A flight in plain km: DEFRA's flight factors are per passenger.km, so nothing of the
    # quantity's dimension (a distance) matches and none of them is picked silently.
    csv = (
        b"Datum;Beschreibung;Menge;Einheit;Land\n"
        b"10.02.2024;Flug Kurzstrecke FRA-LHR;1200;km;DE\n"
        b"15.01.2024;Diesel;100;Liter;DE\n"
    )
    run = import_run_create(upload=_upload(csv, "reisen.csv"), user=None)
    prepared = import_run_validate(run=run)
    assert (prepared.n_valid, prepared.n_invalid) == (1, 1)
    (error,) = RowError.objects.filter(run=run)
    assert error.row == 2
    assert "the nearest factor, “Flights:" in error.message
    assert "is per passenger·km" in error.message
    assert error.suggestion.startswith("Nearest factors: Flights:")
    assert error.suggestion.count("(per ") == 3


def test_the_factor_step_names_the_nearest_factors_of_another_unit(acme: None, alice: Any) -> None:
    from django.urls import reverse

    csv = "Datum;Beschreibung;Menge;Einheit;Land\n10.02.2024;Flug Kurzstrecke;1200;km;DE\n"
    run = import_run_create(upload=_upload(csv.encode(), "reisen.csv"), user=None)
    import_run_validate(run=run)
    page = alice.get(reverse("import_factors", kwargs={"run_id": run.id})).content.decode()
    assert 'data-testid="nearest-factors"' in page
    assert "Flights: Short-haul" in page
    assert "(per passenger·km)" in page
