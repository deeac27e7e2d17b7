"""Jobs used by tests/test_jobs.py (jobs must be importable module-level functions)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.db import connection

from accounts.models import Role, User
from factortrace.worker import Worker

MARKER_DOMAIN = "job-marker.example"


def mark_and_list(*, label: str) -> dict[str, object]:
    """Write one marker user, then return the schema and every marker this schema holds."""
    User.objects.create_user(f"{label}@{MARKER_DOMAIN}", None, full_name=label, role=Role.VIEWER)
    seen = sorted(
        User.objects.filter(email__endswith=MARKER_DOMAIN).values_list("full_name", flat=True)
    )
    return {"schema": connection.schema_name, "seen": seen}


def explode(*, label: str) -> None:
    raise RuntimeError(f"job {label} failed on purpose")


class PausingWorker(Worker):
    """The project's worker with the import's COPY slowed for kill tests (tests/test_import_commit.py).

    Records go out two per batch; before the second batch is formatted the process writes its pid
    to the file named by $FT_TEST_COPY_MARKER and waits (at most 20 s) with the COPY open: a kill
    lands mid-COPY. When the worker that forked it dies, it stops waiting and the job goes on, as
    it would (its lease notices before the next batch).
    """

    def execute_job(self, job: Any, queue: Any) -> Any:
        _pause_copy()
        return super().execute_job(job, queue)


def _pause_copy() -> None:
    import pyarrow.csv as pacsv

    import imports.writer

    if getattr(pacsv.write_csv, "paused", False):
        return
    imports.writer.COPY_BATCH_ROWS = 2
    original = pacsv.write_csv
    calls = {"n": 0}

    def write_csv(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            parent = os.getppid()
            Path(os.environ["FT_TEST_COPY_MARKER"]).write_text(str(os.getpid()))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and os.getppid() == parent:
                time.sleep(0.05)
        return original(*args, **kwargs)

    write_csv.paused = True  # type: ignore[attr-defined]
    pacsv.write_csv = write_csv


def note_failure(*, label: str, reason: str) -> None:
    """An on_failure handler: one marker user named after the failed job and its reason."""
    User.objects.create_user(
        f"failed-{label}@{MARKER_DOMAIN}", None, full_name=reason[:100], role=Role.VIEWER
    )
