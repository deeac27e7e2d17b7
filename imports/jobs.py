"""The import's RQ jobs (they take ids and are queued on commit by ``imports.services``): parsing an
upload, committing a run; and what notices a job that died: the failure callbacks, the commit's lease
(heartbeat) and the sweepers that mark a run whose job was lost as failed or unreadable."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from factortrace.tenancy import current_schema
from imports.errors import ImportInputError
from imports.models import ImportRun, ImportStatus
from imports.selectors import (
    apply_template_or_suggestion,
    import_run_prepared,
    read_source,
    remember_first_read,
)
from imports.writer import DUPLICATES_REFUSE, STOPPED_MESSAGE, LeaseLostError, import_run_write

logger = logging.getLogger(__name__)

# A running commit renews its lease every HEARTBEAT_SECONDS for LEASE_SECONDS. A lease that runs
# out means the job died.
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 5
WORKER_GONE_MESSAGE = "Its worker stopped; nothing was written. Retry it."


def import_run_parse_job(*, run_id: int) -> str:
    """The parse job: read the stored file in a limited child process, then record what was found
    and the suggested (or template) mapping in one write. A refused file marks the run unreadable."""
    run = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).first()
    if run is None:
        return "not reading"
    try:
        with run.file.open("rb") as handle:
            read = read_source(handle, filename=run.original_name, sheet=None, header_row=None)
    except ImportInputError as exc:
        _mark_unreadable(run_id, exc.message)
        return "unreadable"
    with transaction.atomic():
        run = (
            ImportRun.objects.select_for_update()
            .filter(id=run_id, status=ImportStatus.READING)
            .first()
        )
        if run is None:
            return "not reading"
        run.size_bytes = read.size
        run.sha256 = read.sha256
        run.detected = read.metadata()
        run.sheet = read.sheet or ""
        apply_template_or_suggestion(run, read)
        run.save()
    remember_first_read(run, read)
    return "read"


def import_run_parse_failed(*, run_id: int, reason: str = "", **_: Any) -> None:
    """The parse job died (worker killed, unexpected error): the run is marked unreadable."""
    logger.warning("parse job failed", extra={"run_id": run_id, "reason": reason[:500]})
    _mark_unreadable(
        run_id,
        "Reading the file failed unexpectedly. Try again, or save it as CSV and upload that.",
    )


# A run still "reading" this long after its upload has lost its parse job (Redis lost it, or the
# worker died without its failure callback): the reading page stops waiting for it. The parse
# itself is bounded by IMPORT_READ_TIMEOUT_SECONDS; the rest allows for a busy queue.
READ_STALE_AFTER_SECONDS = 900


def import_runs_sweep_reading(*, now: datetime | None = None) -> int:
    """Mark the runs whose parse job never reported back as unreadable (with the reason)."""
    now = now or timezone.now()
    limit = timedelta(seconds=settings.IMPORT_READ_TIMEOUT_SECONDS + READ_STALE_AFTER_SECONDS)
    stale = ImportRun.objects.filter(status=ImportStatus.READING, created_at__lt=now - limit)
    ids = list(stale.values_list("id", flat=True))
    for run_id in ids:
        _mark_unreadable(
            run_id,
            "Reading the file did not finish: its job was lost. Upload the file again.",
        )
    return len(ids)


def _mark_unreadable(run_id: int, message: str) -> None:
    """Only a run still being read changes: it keeps the reason, not the file."""
    run = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).first()
    if run is None:
        return
    changed = ImportRun.objects.filter(id=run_id, status=ImportStatus.READING).update(
        status=ImportStatus.UNREADABLE, error=message, detected={}, mapping={}, file=""
    )
    if changed and run.file:
        run.file.storage.delete(run.file.name)


def _progress(run_id: int, percent: int, message: str) -> None:
    ImportRun.objects.filter(id=run_id, status=ImportStatus.COMMITTING).update(
        progress=percent,
        progress_message=message[:200],
        lease_until=timezone.now() + timedelta(seconds=LEASE_SECONDS),
    )


def _failed_status() -> Case:
    # A run with records from an earlier commit stays partly imported; the error says what failed.
    return Case(
        When(records_created__gt=0, then=Value(ImportStatus.PARTIAL)),
        default=Value(ImportStatus.FAILED),
    )


def import_run_fail(*, run_id: int, message: str) -> bool:
    """Mark a committing run failed (retryable), from the job, its failure callback or the sweeper.
    Only a COMMITTING run changes; True if this call changed it."""
    changed = ImportRun.objects.filter(id=run_id, status=ImportStatus.COMMITTING).update(
        status=_failed_status(), error=message, progress=0, progress_message="", lease_until=None
    )
    return changed == 1


def import_run_commit_failed(*, run_id: int, reason: str = "", **_: Any) -> None:
    """The commit job's failure callback: its process raised, timed out or was killed."""
    if import_run_fail(run_id=run_id, message=STOPPED_MESSAGE):
        logger.warning("import commit job died", extra={"run": run_id, "reason": reason})


def import_runs_sweep(*, now: datetime | None = None) -> int:
    """Fail the committing runs of this tenant whose lease ran out (their job is gone)."""
    now = now or timezone.now()
    stale = ImportRun.objects.filter(status=ImportStatus.COMMITTING).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    )
    swept = stale.update(
        status=_failed_status(),
        error=STOPPED_MESSAGE,
        progress=0,
        progress_message="",
        lease_until=None,
    )
    if swept:
        logger.warning("stale import commits failed", extra={"runs": swept})
    return swept


def import_runs_sweep_all() -> dict[str, int]:
    """import_runs_sweep in every tenant: {schema: runs failed} for the tenants that had any."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from tenants.models import Tenant

    swept = {}
    schemas = Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list(
        "schema_name", flat=True
    )
    for schema in list(schemas):
        with schema_context(schema):
            if n := import_runs_sweep():
                swept[schema] = n
    return swept


class _Lease:
    """Renews a committing run's lease from a thread with its own connection while the job works.

    It also notices that the job should stop: the worker that forked this work-horse died, or the
    run is no longer committing (swept). `check()` raises then, so the write rolls back. Inside an
    atomic block (in-process jobs, tests) no thread runs: another connection could not see the run.
    """

    def __init__(self, run_id: int, schema_name: str) -> None:
        self.run_id = run_id
        self.table = (
            f"{connection.ops.quote_name(schema_name)}."
            f"{connection.ops.quote_name(ImportRun._meta.db_table)}"
        )
        self.lost = ""
        self._parent = os.getppid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Lease:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._beat, name="import-lease", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_SECONDS + 5)

    def check(self) -> None:
        if not self.lost and os.getppid() != self._parent:
            self.lost = WORKER_GONE_MESSAGE
        if self.lost:
            raise LeaseLostError(self.lost)

    def _beat(self) -> None:
        from django.db import connection as own  # this thread's connection

        renewed = time.monotonic()
        try:
            while not self._stop.wait(0.5):
                if os.getppid() != self._parent:
                    self.lost = WORKER_GONE_MESSAGE
                    return
                if time.monotonic() - renewed < HEARTBEAT_SECONDS:
                    continue
                with own.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {self.table} SET lease_until = now() + make_interval(secs => %s) "  # noqa: S608 (quoted names)
                        "WHERE id = %s AND status = %s",
                        [LEASE_SECONDS, self.run_id, ImportStatus.COMMITTING.value],
                    )
                    if cursor.rowcount != 1:
                        self.lost = STOPPED_MESSAGE
                        return
                renewed = time.monotonic()
        except Exception:
            logger.exception("import lease heartbeat failed", extra={"run": self.run_id})
        finally:
            own.close()


def import_run_commit_job(
    *, run_id: int, allow_partial: bool = False, duplicates: str = DUPLICATES_REFUSE
) -> dict[str, Any]:
    """The commit job: redo the preparation from the stored file and write every record at once."""
    run = ImportRun.objects.get(id=run_id)
    if run.has_records:
        return {"status": run.status, "records": run.records_created}
    if not run.is_committing:
        return {"status": run.status, "records": 0}
    try:
        with _Lease(run_id, current_schema()) as lease:
            _progress(run_id, 10, "Reading the file")
            prepared = import_run_prepared(run)
            _progress(run_id, 60, "Calculating emissions")
            if prepared.n_invalid and not allow_partial:
                raise ImportInputError(
                    f"{prepared.n_invalid} rows have errors; nothing was imported."
                )
            lease.check()
            _progress(run_id, 75, f"Writing {prepared.n_valid:,} records")
            written = import_run_write(
                run_id=run.id, prepared=prepared, duplicates=duplicates, checkpoint=lease.check
            )
    except Exception as exc:
        message = (
            str(exc)
            if isinstance(exc, LeaseLostError)
            else exc.message
            if isinstance(exc, ImportInputError)
            else "The import failed; nothing was written."
        )
        logger.exception("import commit failed", extra={"run": run_id})
        import_run_fail(run_id=run_id, message=message)
        return {"status": "failed", "error": message}
    return {"status": "committed", "records": written}
