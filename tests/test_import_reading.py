"""The upload answers at once: the file is stored, its parse job queued after commit, and the
"reading your file" page polls until the parse is done, then opens the columns (or says why not).

Personas: alice owns acme and uploads; bob only reads acme. The parse job runs as the in-process
queue runs it (after commit), or is held back to see the page before it finishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django_tenants.utils import schema_context

from imports.jobs import import_run_parse_failed, import_run_parse_job
from imports.models import ImportRun, ImportStatus
from tests.import_helpers import FUEL_CSV, upload


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


def _url(name: str, run: ImportRun) -> str:
    return reverse(name, kwargs={"run_id": run.id})


def _run() -> ImportRun:
    with schema_context("acme"):
        return ImportRun.objects.get()


def _upload_held(client: Client, content: bytes = FUEL_CSV, name: str = "fuel.csv") -> Any:
    """Upload with the parse job held back: returns the response and the queued callbacks."""
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        response = client.post(reverse("import_upload"), {"file": upload(content, name)})
    return response, callbacks


def test_it_answers_before_the_parse_and_the_poll_reaches_the_columns(
    alice: Client, bob: Client
) -> None:
    response, callbacks = _upload_held(alice)
    run = _run()
    # The request answered with the run stored, not yet read: no columns, no mapping.
    assert response.status_code == 302
    assert response["Location"] == _url("import_reading", run)
    assert run.status == ImportStatus.READING
    assert run.detected == {}
    assert run.mapping == {}
    assert len(callbacks) == 1  # one parse job, queued for after the commit

    page = alice.get(_url("import_reading", run)).content.decode()
    assert "Reading your file “fuel.csv”" in page
    assert 'hx-trigger="every 1s"' in page
    assert "<script>" not in page  # CSP: the poll is HTMX attributes only
    poll = alice.get(_url("import_reading", run), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    assert "HX-Redirect" not in poll
    assert poll.content.decode().lstrip().startswith('<div id="reading"')
    # The wizard's steps wait for the parse.
    assert alice.get(_url("import_mapping", run))["Location"] == _url("import_reading", run)
    # A viewer may watch the page too.
    assert bob.get(_url("import_reading", run)).status_code == 200

    with override_settings(JOBS_IN_PROCESS=True):
        callbacks[0]()
    run = _run()
    assert run.status == ImportStatus.UPLOADED
    assert run.detected["headers"] == ["Date", "Description", "Quantity", "Unit", "Site"]
    assert run.mapping["columns"]["activity"] == "Description"

    poll = alice.get(_url("import_reading", run), HTTP_HX_REQUEST="true")
    assert poll["HX-Redirect"] == _url("import_mapping", run)
    assert alice.get(_url("import_mapping", run)).status_code == 200


def test_the_parse_job_takes_ids_and_runs_once(alice: Client) -> None:
    _upload_held(alice)
    run = _run()
    with schema_context("acme"):
        assert import_run_parse_job(run_id=run.id) == "read"
        first = ImportRun.objects.get(id=run.id)
        # A second delivery of the same job changes nothing.
        assert import_run_parse_job(run_id=run.id) == "not reading"
        again = ImportRun.objects.get(id=run.id)
    assert (again.status, again.detected, again.mapping) == (
        first.status,
        first.detected,
        first.mapping,
    )


def test_a_refused_file_shows_its_reason_and_keeps_nothing(alice: Client) -> None:
    _, callbacks = _upload_held(alice, b"Datum;Menge\n" + b";\n" * 10, "leer.csv")
    with override_settings(JOBS_IN_PROCESS=True):
        callbacks[0]()
    run = _run()
    assert run.status == ImportStatus.UNREADABLE
    assert run.error
    assert (run.detected, run.mapping, run.file.name) == ({}, {}, "")
    page = alice.get(_url("import_reading", run)).content.decode()
    assert "Could not read “leer.csv”" in page
    assert 'role="alert"' in page
    assert "hx-trigger" not in page
    assert alice.get(_url("import_validate", run)).status_code in {302, 405}
    listing = alice.get(reverse("imports")).content.decode()
    assert "Could not be read" in listing


def test_a_parse_job_that_dies_marks_the_run_unreadable(alice: Client, settings: Any) -> None:
    _upload_held(alice)
    run = _run()
    with schema_context("acme"):
        stored = Path(ImportRun.objects.get(id=run.id).file.path)
        assert stored.exists()
        import_run_parse_failed(run_id=run.id, reason="WorkHorseKilled()")
    run = _run()
    assert run.status == ImportStatus.UNREADABLE
    assert "failed unexpectedly" in run.error
    assert not stored.exists()
    page = alice.get(_url("import_reading", run)).content.decode()
    assert "failed unexpectedly" in page


def test_an_empty_file_is_refused_in_the_request(alice: Client) -> None:
    response, callbacks = _upload_held(alice, b"", "empty.csv")
    assert response.status_code == 422
    assert "empty" in response.content.decode()
    assert callbacks == []
    with schema_context("acme"):
        assert not ImportRun.objects.exists()


def test_a_parse_job_that_never_reports_back_is_given_up(alice: Client) -> None:
    """A run reading far longer than the parse may take has lost its job: the page says so."""
    from datetime import timedelta

    from django.utils import timezone

    _upload_held(alice)
    run = _run()
    page = alice.get(_url("import_reading", run)).content.decode()
    assert "Reading your file" in page  # a fresh run is waited for
    with schema_context("acme"):
        ImportRun.objects.filter(id=run.id).update(created_at=timezone.now() - timedelta(hours=2))
    page = alice.get(_url("import_reading", run)).content.decode()
    assert "did not finish" in page
    assert _run().status == ImportStatus.UNREADABLE
