"""Committing an import: claimed once, jobs that die are noticed, nothing counted twice, invalid
rows fixed and imported later into the same run."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord, SupplierFactor
from imports.errors import ImportInputError
from imports.jobs import import_runs_sweep
from imports.models import ImportRun, ImportStatus
from imports.services import (
    import_run_create,
    import_run_fix_cell,
    import_run_start_commit,
    import_run_validate,
)
from imports.writer import DUPLICATES_IMPORT, DUPLICATES_SKIP
from tests.conftest import ALICE, client_for
from tests.import_helpers import upload

pytestmark = pytest.mark.commits

ROOT = Path(__file__).resolve().parents[1]
# Six rows of diesel: several COPY batches for the pausing worker.
SIX_ROWS = (
    "Date;Description;Quantity;Unit;Site\n"
    + "".join(f"{d:02d}.03.2024;Diesel;{100 + d};L;Köln\n" for d in range(1, 7))
).encode()
# Two rows, one of them with a quantity to fix.
ONE_BAD = (
    "Date;Description;Quantity;Unit;Site\n15.01.2024;Diesel;120;L;Köln\n16.01.2024;Diesel;abc;L;Köln\n"
).encode()
needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs Redis for a real RQ worker"
)


def _acme(fn: Callable[[], Any]) -> Any:
    with schema_context("acme"):
        return fn()


def _run(run_id: int) -> ImportRun:
    return _acme(lambda: ImportRun.objects.get(id=run_id))


def _records(run_id: int) -> int:
    return int(_acme(lambda: ActivityRecord.objects.filter(import_run_id=run_id).count()))


def _validated(content: bytes, name: str = "diesel.csv") -> ImportRun:
    with schema_context("acme"):
        run = import_run_create(upload=upload(content, name), user=None)
        import_run_validate(run=run)
        run.refresh_from_db()
        return run


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT
    return tmp_path / "media"


@pytest.fixture
def diesel(tenants: dict[str, object], db: None, media: Path) -> Any:
    """acme's own diesel factor: matching prefers it, so no library is needed."""
    from tests.factor_helpers import make_supplier_factor

    return make_supplier_factor(name="Diesel", region="DE", unit="L", kg_co2e=2.5)


@pytest.fixture
def committed(
    tenants: dict[str, object], django_db_blocker: Any, media: Path, settings: Any
) -> Iterator[Any]:
    """Real commits, seen by other connections and processes; removed afterwards."""
    import django_rq

    from tests.factor_helpers import make_supplier_factor

    settings.JOBS_IN_PROCESS = False
    with django_db_blocker.unblock():
        django_rq.get_queue("imports").empty()
        factor = make_supplier_factor(name="Diesel", region="DE", unit="L", kg_co2e=2.5)
        try:
            yield factor
        finally:
            django_rq.get_queue("imports").empty()
            with schema_context("acme"):
                ActivityRecord.objects.filter(supplier_factor=factor).delete()
                ImportRun.objects.all().delete()
                SupplierFactor.objects.filter(id=factor.id).delete()
            connection.set_schema_to_public()


def _work_off() -> None:
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("imports")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    connection.set_schema_to_public()


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _database_url() -> str:
    """DATABASE_URL pointing at this test session's database."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


# --------------------------------------------------------------------------------------------
# jobs that die are noticed


@needs_redis
@pytest.mark.parametrize("victim", ["work-horse", "worker"])
def test_it_fails_a_commit_killed_during_the_copy_then_retries(
    committed: Any, media: Path, tmp_path: Path, victim: str
) -> None:
    run = _validated(SIX_ROWS)
    assert (run.rows_valid, run.rows_invalid) == (6, 0)
    with schema_context("acme"):
        assert import_run_start_commit(run=run, user=None)
    marker = tmp_path / "copying"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(media),
        "FT_TEST_COPY_MARKER": str(marker),
        "DJANGO_SETTINGS_MODULE": "factortrace.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "imports",
            "--burst",
            "--worker-class",
            "tests.jobs_for_tests.PausingWorker",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    horse = 0
    try:
        assert _wait_for(marker.exists, 30), "the worker never reached the COPY"
        time.sleep(0.1)
        horse = int(marker.read_text())
        assert horse != worker.pid  # the COPY runs in rq's forked work-horse
        assert _run(run.id).status == ImportStatus.COMMITTING
        os.kill(horse if victim == "work-horse" else worker.pid, signal.SIGKILL)
        # The horse's death runs the job's failure callback in the worker; a worker's death is
        # noticed by the horse (its lease), which stops and rolls back.
        assert _wait_for(lambda: _run(run.id).status == ImportStatus.FAILED, 20)
    finally:
        for pid in (horse, worker.pid):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    failed = _run(run.id)
    # Who noticed: the worker's failure callback for its horse, the horse's lease for its worker.
    noticed = "its worker was interrupted" if victim == "work-horse" else "Its worker stopped"
    assert noticed in failed.error
    assert "nothing was written" in failed.error
    assert (failed.progress, failed.lease_until) == (0, None)
    assert _records(run.id) == 0  # nothing partial

    # Retry: checked again, claimed again, committed once.
    with schema_context("acme"):
        import_run_validate(run=failed)
        failed.refresh_from_db()
        assert import_run_start_commit(run=failed, user=None)
    _work_off()
    done = _run(run.id)
    assert (done.status, done.records_created, done.error) == (ImportStatus.COMMITTED, 6, "")
    assert _records(run.id) == 6


def test_it_sweeps_a_commit_whose_lease_ran_out(diesel: Any) -> None:
    run = _validated(SIX_ROWS)
    with schema_context("acme"):
        ImportRun.objects.filter(id=run.id).update(
            status=ImportStatus.COMMITTING,
            progress=75,
            lease_until=timezone.now() + dt.timedelta(seconds=30),
        )
        assert import_runs_sweep() == 0  # the lease still runs
        assert import_runs_sweep(now=timezone.now() + dt.timedelta(seconds=31)) == 1
    swept = _run(run.id)
    assert (swept.status, swept.progress) == (ImportStatus.FAILED, 0)
    assert "Retry" in swept.error


def test_it_writes_nothing_when_the_run_was_swept_during_the_copy(
    diesel: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    import imports.writer

    settings.JOBS_IN_PROCESS = True
    run = _validated(SIX_ROWS)
    remember = imports.writer.factor_choices_remember

    def swept_meanwhile(*args: Any) -> None:
        remember(*args)  # the records are copied by now
        assert import_runs_sweep(now=timezone.now() + dt.timedelta(hours=1)) == 1

    monkeypatch.setattr(imports.writer, "factor_choices_remember", swept_meanwhile)
    with schema_context("acme"), django_capture_on_commit_callbacks(execute=True):
        assert import_run_start_commit(run=run, user=None)
    failed = _run(run.id)
    assert (failed.status, _records(run.id)) == (ImportStatus.FAILED, 0)
    assert "Retry" in failed.error


def test_it_sweeps_every_tenant_from_the_command(diesel: Any, capsys: Any) -> None:
    run = _validated(SIX_ROWS)
    _acme(
        lambda: ImportRun.objects.filter(id=run.id).update(
            status=ImportStatus.COMMITTING, lease_until=timezone.now() - dt.timedelta(seconds=1)
        )
    )
    call_command("sweep_imports")
    assert "acme: 1 import(s) marked failed" in capsys.readouterr().out
    assert _run(run.id).status == ImportStatus.FAILED


@needs_redis
def test_it_sweeps_with_the_workers_maintenance(diesel: Any) -> None:
    import django_rq

    from factortrace.worker import MAINTENANCE_INTERVAL, Worker

    run = _validated(SIX_ROWS)
    _acme(
        lambda: ImportRun.objects.filter(id=run.id).update(
            status=ImportStatus.COMMITTING, lease_until=timezone.now() - dt.timedelta(seconds=1)
        )
    )
    queue = django_rq.get_queue("imports")
    worker = Worker([queue], connection=queue.connection)
    assert worker.maintenance_interval == MAINTENANCE_INTERVAL
    worker.run_maintenance_tasks()
    assert _run(run.id).status == ImportStatus.FAILED


def test_it_stops_polling_and_offers_retry_when_the_job_died(
    alice: Client, diesel: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _validated(SIX_ROWS)
    _acme(
        lambda: ImportRun.objects.filter(id=run.id).update(
            status=ImportStatus.COMMITTING,
            progress=75,
            progress_message="Writing 6 records",
            lease_until=timezone.now() - dt.timedelta(seconds=1),
        )
    )
    progress = reverse("import_progress", kwargs={"run_id": run.id})
    bar = alice.get(progress, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in bar  # the poll swept the dead job: no more polling
    assert "The import failed; nothing was written." in bar
    assert "Retry the import" in bar
    commit = reverse("import_commit", kwargs={"run_id": run.id})
    assert f'action="{commit}"' in bar
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(commit)
    assert response["Location"] == progress
    assert (_run(run.id).status, _records(run.id)) == (ImportStatus.COMMITTED, 6)


# --------------------------------------------------------------------------------------------
# one claim


@needs_redis
def test_it_queues_one_job_for_five_concurrent_commit_posts(committed: Any) -> None:
    import django_rq

    run = _validated(SIX_ROWS)
    url = reverse("import_commit", kwargs={"run_id": run.id})
    clients = [client_for(ALICE, "acme") for _ in range(5)]
    barrier = threading.Barrier(5, timeout=20)
    answers: list[tuple[int, str]] = []

    def post(client: Client) -> None:
        try:
            barrier.wait()
            response = client.post(url)
            answers.append((response.status_code, response.get("Location", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    progress = reverse("import_progress", kwargs={"run_id": run.id})
    assert answers == [(302, progress)] * 5
    assert len(django_rq.get_queue("imports")) == 1
    assert _run(run.id).status == ImportStatus.COMMITTING
    _work_off()
    assert (_run(run.id).status, _records(run.id)) == (ImportStatus.COMMITTED, 6)


# --------------------------------------------------------------------------------------------
# nothing counted twice


def _commit_in_process(run: ImportRun, capture: Any, **options: Any) -> ImportRun:
    with schema_context("acme"), capture(execute=True):
        assert import_run_start_commit(run=run, user=None, **options)
    return _run(run.id)


def test_it_warns_about_rows_already_imported_and_skips_or_imports_them(
    diesel: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    first = _commit_in_process(_validated(SIX_ROWS), django_capture_on_commit_callbacks)
    assert (first.status, first.records_created, first.rows_duplicate) == (
        ImportStatus.COMMITTED,
        6,
        0,
    )
    # The same rows again, in another file: one more row, and the same numbers written another way.
    again = SIX_ROWS.replace(b"101;", b"101,0;") + b"07.03.2024;Diesel;107;L;K\xc3\xb6ln\n"
    second = _validated(again, "diesel-april.csv")
    assert (second.rows_valid, second.rows_duplicate) == (7, 6)
    with schema_context("acme"), pytest.raises(ImportInputError, match="6 rows are already"):
        import_run_start_commit(run=second, user=None)
    skipped = _commit_in_process(
        second, django_capture_on_commit_callbacks, duplicates=DUPLICATES_SKIP
    )
    assert (skipped.status, skipped.records_created) == (ImportStatus.COMMITTED, 1)
    assert skipped.detected["duplicates_skipped"] == 6
    assert _acme(lambda: ActivityRecord.objects.count()) == 7

    third = _validated(SIX_ROWS, "diesel-copy.csv")
    assert third.rows_duplicate == 6
    anyway = _commit_in_process(
        third, django_capture_on_commit_callbacks, duplicates=DUPLICATES_IMPORT
    )
    assert anyway.records_created == 6
    assert _acme(lambda: ActivityRecord.objects.count()) == 13


def test_it_asks_on_the_commit_page_before_counting_rows_twice(
    alice: Client, diesel: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    _commit_in_process(_validated(SIX_ROWS), django_capture_on_commit_callbacks)
    second = _validated(SIX_ROWS, "again.csv")
    commit = reverse("import_commit", kwargs={"run_id": second.id})
    page = alice.get(commit).content.decode()
    assert "6 rows are already in your inventory" in page
    assert 'name="duplicates" value="skip"' in page
    assert 'name="duplicates" value="import"' in page
    response = alice.post(commit)
    assert response.status_code == 422
    assert "Choose to skip them or to import them anyway" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(commit, {"duplicates": "skip"})
    assert response.status_code == 302
    assert (_run(second.id).status, _records(second.id)) == (ImportStatus.COMMITTED, 0)
    bar = alice.get(response["Location"]).content.decode()
    assert "6 rows were already in the inventory and skipped" in bar


def test_it_refuses_duplicates_from_the_command_line_unless_told(
    diesel: Any, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "diesel.csv"
    path.write_bytes(SIX_ROWS)
    call_command("import_activities", "--tenant", "acme", str(path))
    with pytest.raises(SystemExit):
        call_command("import_activities", "--tenant", "acme", str(path))
    assert "6 rows are already in the inventory" in capsys.readouterr().out
    call_command("import_activities", "--tenant", "acme", str(path), "--duplicates", "skip")
    assert _acme(lambda: ActivityRecord.objects.count()) == 6
    call_command("import_activities", "--tenant", "acme", str(path), "--duplicates", "import")
    assert _acme(lambda: ActivityRecord.objects.count()) == 12


# --------------------------------------------------------------------------------------------
# fix the rest later


def test_it_imports_the_valid_rows_now_and_the_fixed_ones_later(
    diesel: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _validated(ONE_BAD)
    assert (run.rows_valid, run.rows_invalid) == (1, 1)
    run = _commit_in_process(run, django_capture_on_commit_callbacks, allow_partial=True)
    assert (run.status, run.records_created, run.rows_invalid) == (ImportStatus.PARTIAL, 1, 1)
    with schema_context("acme"):
        # Nothing new to import until a row is fixed.
        assert not import_run_start_commit(run=run, user=None, allow_partial=True)
        import_run_fix_cell(run=run, row=3, column="Quantity", value="130")
        import_run_validate(run=run)
        run.refresh_from_db()
    assert (run.status, run.rows_valid, run.rows_invalid) == (ImportStatus.PARTIAL, 2, 0)
    assert (run.detected["rows_to_import"], run.rows_duplicate) == (1, 0)
    run = _commit_in_process(run, django_capture_on_commit_callbacks)
    assert (run.status, run.records_created) == (ImportStatus.COMMITTED, 2)
    rows = _acme(
        lambda: list(
            ActivityRecord.objects.filter(import_run_id=run.id)
            .order_by("source_row")
            .values_list("source_row", "quantity")
        )
    )
    assert rows == [(2, 120.0), (3, 130.0)]
    assert run.kg_co2e == pytest.approx((120 + 130) * 2.5)


def test_it_checks_a_file_without_a_valid_row(diesel: Any) -> None:
    run = _validated(SIX_ROWS.replace(b";L;", b";Fass;"))
    assert (run.rows_valid, run.rows_invalid, run.rows_duplicate) == (0, 6, 0)


def test_it_lets_the_rest_be_fixed_in_the_wizard_and_committed(
    alice: Client, diesel: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _validated(ONE_BAD)

    def url(name: str) -> str:
        return reverse(name, kwargs={"run_id": run.id})

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(url("import_commit"), {"allow_partial": "1"})
    assert response["Location"] == url("import_progress")
    bar = alice.get(url("import_progress")).content.decode()
    assert "Imported 1 record" in bar
    assert "Fix the remaining rows" in bar
    # Its columns stay; its remaining rows can be fixed.
    assert alice.get(url("import_mapping"))["Location"] == url("import_results")
    assert "abc" in alice.get(url("import_results")).content.decode()
    alice.post(url("import_fix"), {"row": 3, "column": "Quantity", "value": "130"})
    page = alice.get(url("import_commit")).content.decode()
    assert "Import 1 row" in page
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(url("import_commit"))
    assert (_run(run.id).status, _records(run.id)) == (ImportStatus.COMMITTED, 2)
