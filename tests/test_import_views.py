"""The import wizard's pages: upload, sheet, columns, preview, check and fix, factors, import, undo.

Personas: alice owns acme, eddie edits it, bob only reads it, charlie owns globex. The files are
small CSV and XLSX files made here; the factors are acme's own supplier factors, so no factor
library is needed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from imports.models import ImportRun, ImportStatus, MappingTemplate, RowError
from tests.conftest import ALICE, host
from tests.import_helpers import FUEL_CSV, german_workbook, make_import_run, post_upload

RUN_VIEWS = (
    "import_detail",
    "import_sheet",
    "import_mapping",
    "import_preview",
    "import_results",
    "import_factors",
    "import_commit",
    "import_progress",
    "import_undo",
)


def _text(response: Any) -> str:
    return response.content.decode()


def _url(name: str, run: ImportRun, **kwargs: Any) -> str:
    return reverse(name, kwargs={"run_id": run.id, **kwargs})


def _acme(fn: Callable[[], Any]) -> Any:
    with schema_context("acme"):
        return fn()


def _run(run_id: int) -> ImportRun:
    return _acme(lambda: ImportRun.objects.get(id=run_id))


def _runs() -> int:
    return int(_acme(lambda: ImportRun.objects.count()))


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    """Uploaded files go to a temporary folder (django-tenants caches the root per setting)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


@pytest.fixture(autouse=True)
def diesel_factor(tenants: dict[str, object], db: None) -> Any:
    """acme's own diesel factor: matching prefers it, so the wizard computes without a library."""
    from tests.factor_helpers import make_supplier_factor

    return make_supplier_factor(name="Diesel", region="DE", unit="L", kg_co2e=2.5)


def _upload(client: Client, content: bytes = FUEL_CSV, name: str = "fuel.csv", **extra: Any) -> Any:
    return post_upload(client, content, name, **extra)


def _mapped_run(client: Client, content: bytes = FUEL_CSV, name: str = "fuel.csv") -> ImportRun:
    """Upload, then accept the suggested columns."""
    response = _upload(client, content, name)
    assert response.status_code == 302, _text(response)
    run = _acme(lambda: ImportRun.objects.order_by("-id").first())
    mapping = client.get(_url("import_mapping", run))
    form = _form_values(_text(mapping))
    response = client.post(_url("import_mapping", run), form)
    assert response.status_code == 302, _text(response)
    return _run(run.id)


def _form_values(html: str) -> dict[str, str]:
    """The values a browser would submit from the mapping page's selects and inputs."""
    values: dict[str, str] = {}
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = chosen.group(1) if chosen else ""
    constants = re.findall(r'<input type="text" name="(const_[^"]+)"[^>]*value="([^"]*)"', html)
    return {**values, **dict(constants)}


def _validated_run(client: Client) -> ImportRun:
    run = _mapped_run(client)
    response = client.post(_url("import_validate", run))
    assert response.status_code == 302
    assert response["Location"] == _url("import_results", run)
    return _run(run.id)


# --------------------------------------------------------------------------------------------
# list and upload


def test_it_lists_runs_with_counts_who_and_the_file_hash(alice: Client) -> None:
    run = _validated_run(alice)
    html = _text(alice.get(reverse("imports")))
    assert "fuel.csv" in html
    assert run.sha256[:12] in html
    assert "Alice Owner" in html
    assert "1 valid" in html
    assert "3 invalid" in html
    # An unfinished run links back to the step it stopped at.
    assert f'href="{_url("import_results", run)}"' in html


def test_it_warns_when_the_same_file_comes_back(alice: Client) -> None:
    _upload(alice)
    response = _upload(alice, follow=True)
    assert "You uploaded this same file before" in _text(response)
    html = _text(alice.get(reverse("imports")))
    assert "same file: 1 other upload" in html


def test_it_uploads_through_htmx_and_sends_the_browser_to_the_columns(alice: Client) -> None:
    """The upload answers with the reading page; once the parse is done, its poll opens the columns."""
    response = _upload(alice, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run = _acme(lambda: ImportRun.objects.get())
    assert response["HX-Redirect"] == _url("import_reading", run)
    poll = alice.get(_url("import_reading", run), HTTP_HX_REQUEST="true")
    assert poll["HX-Redirect"] == _url("import_mapping", run)
    assert run.created_by.email == ALICE.email


def test_it_shows_an_unreadable_file_on_the_reading_page_and_keeps_nothing(alice: Client) -> None:
    """The parse job refuses the file: the reading page shows why; no mapping, no file is kept."""
    garbage = bytes(range(256)) * 40
    response = _upload(alice, garbage, "ledger.csv", HTTP_HX_REQUEST="true")
    run = _acme(lambda: ImportRun.objects.get())
    assert response["HX-Redirect"] == _url("import_reading", run)
    assert run.status == ImportStatus.UNREADABLE
    assert run.error
    assert run.mapping == {}
    assert not run.file
    html = _text(alice.get(_url("import_reading", run), HTTP_HX_REQUEST="true"))
    assert html.lstrip().startswith('<div id="reading"')
    assert 'role="alert"' in html
    assert "hx-trigger" not in html  # polling stops
    assert run.error in html.replace("&#x27;", "'").replace("&quot;", '"')
    # The wizard's steps are closed to it: they send the user back to the reason.
    assert alice.get(_url("import_mapping", run))["Location"] == _url("import_reading", run)


def test_it_refuses_an_empty_file(alice: Client) -> None:
    response = _upload(alice, b"", "empty.csv")
    assert response.status_code == 422
    assert "empty" in _text(response).lower()
    assert _runs() == 0


def test_it_refuses_an_oversized_upload_from_content_length(alice: Client, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    response = _upload(alice, b"a;b\n" + b"1;2\n" * 300_000, HTTP_HX_REQUEST="true")
    assert response.status_code == 413
    assert "1 MB limit" in _text(response)
    assert _runs() == 0


def test_it_refuses_before_reading_the_body(
    tenants: dict[str, object], db: None, settings: Any
) -> None:
    """The Content-Length alone decides: a body that may not be read is never touched."""
    from accounts.models import User
    from imports.views import import_upload

    class Unreadable(io.RawIOBase):
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

        readinto = read

    settings.IMPORT_MAX_BYTES = 1024 * 1024
    request: Any = RequestFactory().post(
        "/imports/upload/",
        data=b"",
        content_type="multipart/form-data; boundary=xyz",
        HTTP_HOST=host("acme"),
    )
    request.META["CONTENT_LENGTH"] = str(60 * 1024 * 1024)
    request.META["wsgi.input"] = Unreadable()
    request._stream = Unreadable()
    with schema_context("acme"):
        request.user = User.objects.get(email=ALICE.email)
        response: Any = import_upload(request)
    assert response.status_code == 413
    assert "1 MB limit" in response.content.decode()


def test_it_stops_a_file_that_passes_the_limit_while_streaming(
    alice: Client, settings: Any
) -> None:
    # Within the multipart allowance of Content-Length, but the file itself is over the limit.
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    content = b"a;b\n" + b"1;2\n" * (1024 * 1024 // 4 + 1000)
    response = _upload(alice, content)
    assert response.status_code == 413
    assert "1 MB limit" in _text(response)
    assert _runs() == 0


# --------------------------------------------------------------------------------------------
# sheet, columns, preview


def test_it_asks_which_sheet_of_a_workbook(alice: Client) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Power"
    book.active.append(["Month", "Meter", "kWh"])
    book.active.append(["2024-01", "Hall 1", 1200])
    data = book.create_sheet("Fuel")
    data.append(["Date", "Description", "Quantity", "Unit"])
    data.append(["2024-01-15", "Diesel", 100, "L"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(alice, buffer.getvalue(), "fuel.xlsx")
    run = _acme(lambda: ImportRun.objects.get())
    assert response["Location"] == _url("import_reading", run)
    assert alice.get(_url("import_reading", run))["Location"] == _url("import_sheet", run)
    html = _text(alice.get(_url("import_sheet", run)))
    assert "Power" in html
    assert "Fuel" in html
    response = alice.post(_url("import_sheet", run), {"sheet": "Fuel"})
    assert response["Location"] == _url("import_mapping", run)
    run = _run(run.id)
    assert run.sheet == "Fuel"
    assert run.detected["headers"] == ["Date", "Description", "Quantity", "Unit"]


def test_it_preselects_the_suggested_columns_with_their_confidence(alice: Client) -> None:
    content = german_workbook([["15.01.2024", "Diesel", "1.234,5", "Liter", "Köln"]])
    _upload(alice, content, "Verbrauch.xlsx")
    run = _acme(lambda: ImportRun.objects.get())
    html = _text(alice.get(_url("import_mapping", run)))
    values = _form_values(html)
    assert values["col_date"] == "Datum"
    assert values["col_activity"] == "Beschreibung"
    assert values["col_quantity"] == "Menge"
    assert values["col_unit"] == "Einheit"
    assert values["col_site"] == "Standort"
    assert values["col_currency"] == ""
    assert "100% sure" in html
    assert "header in row 3" in html  # the title rows above it were recognised


def test_it_saves_a_constant_and_a_template_that_the_next_file_reuses(
    alice: Client,
) -> None:
    content = b"Datum;Zaehler;Verbrauch\n01.01.2024;Strom Halle 1;1200\n"
    _upload(alice, content, "meter.csv")
    run = _acme(lambda: ImportRun.objects.get())
    form = {
        "col_date": "Datum",
        "col_activity": "Zaehler",
        "col_quantity": "Verbrauch",
        "const_unit": "kWh",
        "decimal": ",",
        "date_order": "DMY",
        "save_as": "Meter export",
    }
    response = alice.post(_url("import_mapping", run), form)
    assert response.status_code == 302, _text(response)
    run = _run(run.id)
    assert run.mapping["constants"] == {"unit": "kWh"}
    assert run.mapping["options"] == {"decimal": ",", "date_order": "DMY"}
    assert _acme(lambda: MappingTemplate.objects.get().name) == "Meter export"

    response = _upload(alice, content.replace(b"1200", b"1300"), "meter-feb.csv", follow=True)
    assert "Your template “Meter export” fits this file" in _text(response)
    second = _acme(lambda: ImportRun.objects.order_by("-id").first())
    assert second.status == ImportStatus.MAPPED
    assert second.mapping["constants"] == {"unit": "kWh"}


def test_it_explains_what_an_incomplete_mapping_lacks(alice: Client) -> None:
    _upload(alice)
    run = _acme(lambda: ImportRun.objects.get())
    response = alice.post(
        _url("import_mapping", run),
        {"col_date": "Date", "col_quantity": "Quantity", "col_unit": "Unit"},
    )
    assert response.status_code == 422
    assert "an activity description column" in _text(response)
    assert _run(run.id).status == ImportStatus.UPLOADED


def test_it_refuses_a_column_and_a_constant_for_one_field(alice: Client) -> None:
    _upload(alice)
    run = _acme(lambda: ImportRun.objects.get())
    response = alice.post(
        _url("import_mapping", run),
        {
            "col_date": "Date",
            "col_activity": "Description",
            "col_quantity": "Quantity",
            "col_unit": "Unit",
            "const_unit": "L",
        },
    )
    assert response.status_code == 422
    assert "takes its values from “Unit”" in _text(response)


def test_it_previews_the_raw_value_beside_the_normalised_one(alice: Client) -> None:
    run = _mapped_run(alice)
    html = _text(alice.get(_url("import_preview", run)))
    assert '<span class="raw">1.234,5</span>' in html
    assert 'data-testid="preview-quantity">1,234.5<' in html  # read, and shown in English
    assert '<span class="raw">15.01.2024</span>' in html
    assert 'data-testid="preview-date">15 Jan 2024<' in html  # the month named: no DMY doubt
    assert "is not a number" in html  # row 3: "abc"
    assert "Check all 4 rows" in html


# --------------------------------------------------------------------------------------------
# check and fix


def test_it_shows_totals_and_a_filterable_errors_table(alice: Client) -> None:
    run = _validated_run(alice)
    assert (run.rows_valid, run.rows_invalid) == (1, 3)
    html = _text(alice.get(_url("import_results", run)))
    assert re.search(r'data-testid="rows-valid">1<', html)
    assert re.search(r'data-testid="rows-invalid">3<', html)
    for row in (3, 4, 5):
        assert f'id="row-{row}"' in html
    only_units = _text(
        alice.get(
            _url("import_results", run),
            {"column": "Unit"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET="errors",
        )
    )
    assert only_units.lstrip().startswith('<section id="errors">')
    assert 'id="row-4"' in only_units
    assert 'id="row-5"' in only_units
    assert 'id="row-3"' not in only_units
    by_words = _text(alice.get(_url("import_results", run), {"q": "not a number"}))
    assert 'id="row-3"' in by_words
    assert 'id="row-4"' not in by_words


def test_it_fixes_a_cell_in_place_and_the_row_replaces_itself(alice: Client) -> None:
    run = _validated_run(alice)
    response = alice.post(
        _url("import_fix", run),
        {"row": 3, "column": "Quantity", "value": "150,5"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = _text(response)
    assert html.lstrip().startswith('<tbody id="row-3">')
    assert "passes the checks now" in html
    assert response["HX-Trigger"] == "importTotalsChanged"
    run = _run(run.id)
    assert (run.rows_valid, run.rows_invalid) == (2, 2)
    assert not _acme(lambda: RowError.objects.filter(run_id=run.id, row=3).exists())
    # The totals part re-renders on its own request.
    totals = _text(
        alice.get(_url("import_results", run), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="totals")
    )
    assert totals.lstrip().startswith('<section id="totals"')
    assert re.search(r'data-testid="rows-valid">2<', totals)


def test_it_keeps_a_wrong_fix_red(alice: Client) -> None:
    run = _validated_run(alice)
    response = alice.post(
        _url("import_fix", run), {"row": 3, "column": "Quantity", "value": "zwölf"}
    )
    html = _text(response)
    assert "passes the checks" not in html
    assert "zwölf" in html
    assert "is not a number" in html
    assert _run(run.id).rows_invalid == 3


def test_it_reads_a_fixed_number_like_the_rest_of_its_column(alice: Client) -> None:
    # The file writes 1.234,5: in this column "1.234" is one thousand two hundred and thirty-four.
    run = _validated_run(alice)
    response = alice.post(
        _url("import_fix", run), {"row": 3, "column": "Quantity", "value": "1.234"}
    )
    assert "passes the checks now" in _text(response)


def test_it_applies_a_suggestion_to_all_rows(alice: Client) -> None:
    run = _validated_run(alice)
    html = _text(alice.get(_url("import_results", run)))
    assert "“Fass”</strong> in Unit · 2 cells" in html
    response = alice.post(
        _url("import_apply_all", run),
        {"column": "Unit", "value": "Fass", "replacement": "L"},
        follow=True,
    )
    assert "Replaced “Fass” with “L” in 2 rows" in _text(response)
    run = _run(run.id)
    assert (run.rows_valid, run.rows_invalid) == (3, 1)


def test_it_downloads_the_invalid_rows(alice: Client) -> None:
    run = _validated_run(alice)
    csv = alice.get(_url("import_export", run, fmt="csv"))
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    assert csv["Content-Disposition"] == 'attachment; filename="fuel - invalid rows.csv"'
    body = csv.content.decode("utf-8-sig")
    assert "abc" in body
    assert "Fass" in body
    xlsx = alice.get(_url("import_export", run, fmt="xlsx"))
    assert xlsx.content[:2] == b"PK"
    assert alice.get(_url("import_export", run, fmt="exe")).status_code == 404


# --------------------------------------------------------------------------------------------
# factors, import, undo


def _fixed_run(client: Client) -> ImportRun:
    run = _validated_run(client)
    client.post(_url("import_fix", run), {"row": 3, "column": "Quantity", "value": "100"})
    client.post(
        _url("import_apply_all", run), {"column": "Unit", "value": "Fass", "replacement": "L"}
    )
    return _run(run.id)


def test_it_preselects_the_best_factor_once_per_activity(alice: Client, diesel_factor: Any) -> None:
    run = _fixed_run(alice)
    html = _text(alice.get(_url("import_factors", run)))
    assert html.count('<tr id="line-') == 1  # four rows, one distinct activity
    assert f'<option value="sup:{diesel_factor.id}" selected>' in html
    assert "supplier-specific factor (preferred)" in html


def test_it_saves_one_line_as_soon_as_it_is_picked(alice: Client, diesel_factor: Any) -> None:
    run = _fixed_run(alice)
    response = alice.post(
        _url("import_factor_choose", run),
        {
            "index": "0",
            "activity_0": "Diesel",
            "dimension_0": "volume",
            "choice_0": f"sup:{diesel_factor.id}",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = _text(response)
    assert html.lstrip().startswith('<tr id="line-0">')
    assert "Saved" in html
    choices = _run(run.id).detected["factor_choices"]
    assert choices["diesel|volume"]["supplier_factor_id"] == diesel_factor.id


def test_it_imports_shows_progress_and_undoes(
    alice: Client, diesel_factor: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _fixed_run(alice)
    assert run.rows_invalid == 0
    response = alice.post(
        _url("import_factors", run),
        {
            "lines": "1",
            "activity_0": "Diesel",
            "dimension_0": "volume",
            "choice_0": f"sup:{diesel_factor.id}",
        },
    )
    assert response["Location"] == _url("import_commit", run)
    assert "Import now" in _text(alice.get(_url("import_commit", run)))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(_url("import_commit", run))
    assert response["Location"] == _url("import_progress", run)
    run = _run(run.id)
    assert run.status == ImportStatus.COMMITTED
    assert run.records_created == 4

    bar = _text(alice.get(_url("import_progress", run), HTTP_HX_REQUEST="true"))
    assert bar.lstrip().startswith('<div id="progress"')
    assert "hx-trigger" not in bar  # finished: the polling stops
    assert "Imported 4 records" in bar
    assert f'href="/activities/?run={run.id}"' in bar
    # (1234.5 + 100 + 200 + 300) L x 2.5 kg CO2e/L
    assert _acme(
        lambda: sum(r.kg_co2e for r in ActivityRecord.objects.filter(import_run_id=run.id))
    ) == pytest.approx(1834.5 * 2.5)

    # Once imported, the wizard's steps are closed.
    assert alice.get(_url("import_mapping", run))["Location"] == _url("import_detail", run)
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(_url("import_commit", run))
    assert _acme(lambda: ActivityRecord.objects.filter(import_run_id=run.id).count()) == 4

    confirm = _text(alice.get(_url("import_undo", run)))
    assert "removes its 4 activity records" in confirm
    response = alice.post(_url("import_undo", run), follow=True)
    assert "removed 4 activity records" in _text(response)
    assert _run(run.id).status == ImportStatus.UNDONE
    assert not _acme(lambda: ActivityRecord.objects.filter(import_run_id=run.id).exists())


def test_it_shows_a_running_import_polling_every_second(alice: Client) -> None:
    run = make_import_run()
    _acme(
        lambda: ImportRun.objects.filter(id=run.id).update(
            status=ImportStatus.COMMITTING,
            progress=40,
            progress_message="Calculating emissions",
            lease_until=timezone.now() + dt.timedelta(seconds=60),
        )
    )
    html = _text(alice.get(_url("import_progress", run)))
    assert 'hx-trigger="every 1s"' in html
    assert 'aria-valuenow="40"' in html
    assert '<progress class="progress" value="40" max="100"' in html  # no inline style (CSP)
    assert "Calculating emissions" in html


def test_it_keeps_invalid_rows_out_unless_asked(
    alice: Client, diesel_factor: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _validated_run(alice)
    response = alice.post(_url("import_commit", run))
    assert response.status_code == 422
    assert "3 rows still have errors" in _text(response)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(_url("import_commit", run), {"allow_partial": "1"})
    assert response.status_code == 302
    run = _run(run.id)
    assert run.status == ImportStatus.PARTIAL  # the invalid rows wait in the run
    assert run.records_created == 1


def test_it_leaves_the_check_of_a_large_file_to_the_job(
    alice: Client,
    diesel_factor: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    import imports.views

    settings.JOBS_IN_PROCESS = True
    run = _validated_run(alice)
    monkeypatch.setattr(imports.views, "INLINE_RECHECK_ROWS", 0)
    monkeypatch.setattr(
        imports.views, "import_run_validate", lambda **_: pytest.fail("checked in the request")
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(_url("import_commit", run), {"allow_partial": "1"})
    assert response.status_code == 302
    run = _run(run.id)
    assert (run.status, run.records_created) == (ImportStatus.PARTIAL, 1)


# --------------------------------------------------------------------------------------------
# who may do what


def test_it_404s_another_tenants_run(alice: Client) -> None:
    foreign = make_import_run("globex")
    for name in RUN_VIEWS:
        assert alice.get(_url(name, foreign)).status_code == 404, name
    for name in ("import_fix", "import_apply_all", "import_validate", "import_factor_choose"):
        assert (
            alice.post(_url(name, foreign), {"row": 2, "column": "Date", "value": "x"}).status_code
            == 404
        ), name
    assert alice.get(_url("import_export", foreign, fmt="csv")).status_code == 404


def test_it_lets_a_viewer_read_but_not_write(bob: Client, alice: Client) -> None:
    run = _validated_run(alice)
    assert bob.get(reverse("imports")).status_code == 200
    assert "Drop your spreadsheet" not in _text(bob.get(reverse("imports")))
    html = _text(bob.get(_url("import_results", run)))
    assert "abc" in html
    assert '<form class="fix"' not in html
    assert bob.get(_url("import_export", run, fmt="csv")).status_code == 200
    factors = _text(bob.get(_url("import_factors", run)))
    assert 'aria-label="Factor for Diesel" disabled' in factors
    assert "Confirm factors and continue" not in factors
    assert bob.get(_url("import_mapping", run)).status_code == 403
    assert bob.get(reverse("import_upload")).status_code == 403
    for name in (
        "import_fix",
        "import_apply_all",
        "import_validate",
        "import_commit",
        "import_mapping",
    ):
        assert (
            bob.post(_url(name, run), {"row": 3, "column": "Quantity", "value": "1"}).status_code
            == 403
        ), name
    assert _run(run.id).rows_invalid == 3


def test_it_lets_an_editor_import(eddie: Client) -> None:
    response = _upload(eddie)
    assert response.status_code == 302
    run = _acme(lambda: ImportRun.objects.get())
    assert run.created_by.email == "eddie@acme.example"


def test_it_sends_anonymous_uploads_to_login(anon_acme: Client) -> None:
    response = _upload(anon_acme)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert _runs() == 0


def test_it_refuses_an_upload_without_a_csrf_token(tenants: dict[str, object], db: None) -> None:
    from accounts.models import User

    client = Client(HTTP_HOST=host("acme"), enforce_csrf_checks=True)
    with schema_context("acme"):
        client.force_login(User.objects.get(email=ALICE.email))
    response = client.post(
        reverse("import_upload"), {"file": SimpleUploadedFile("a.csv", FUEL_CSV)}
    )
    assert response.status_code == 403
    assert _runs() == 0


def test_it_offers_an_alias_suggestion_for_all_rows(alice: Client) -> None:
    content = (
        b"Date;Description;Quantity;Unit\n"
        b"15.01.2024;Diesel;100;Litr\n"
        b"16.01.2024;Diesel;200;Litr\n"
        b"17.01.2024;Diesel;300;L\n"
    )
    run = _mapped_run(alice, content, "litr.csv")
    alice.post(_url("import_validate", run))
    html = _text(alice.get(_url("import_results", run)))
    assert "Did you mean litre (L)" in html
    assert "Use “L” in all 2 cells" in html
    alice.post(
        _url("import_apply_all", run), {"column": "Unit", "value": "Litr", "replacement": "L"}
    )
    run = _run(run.id)
    assert (run.rows_valid, run.rows_invalid) == (3, 0)


@pytest.mark.parametrize(
    ("suggestion", "values"),
    [
        ("Did you mean litre (L) or liter (L) or ltr (L)?", ["L"]),
        ("Did you mean kWh or kw.h (kWh)?", ["kWh"]),
        ("Did you mean tonne or tonnes (tonne)?", ["tonne"]),
        ("Use a unit such as kg, tonnes, L, m3, kWh.", []),
        ("", []),
    ],
)
def test_it_reads_the_values_a_suggestion_proposes(suggestion: str, values: list[str]) -> None:
    from imports.selectors import suggested_replacements

    assert suggested_replacements(suggestion) == values
