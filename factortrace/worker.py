"""The rq worker the project runs (settings.RQ["WORKER_CLASS"]).

rq runs a job's failure callback when the job raises or times out, but not when its work-horse is
killed (kill -9, the kernel's out-of-memory killer): the job is only moved to the failed registry.
This worker runs the callback in that case too, so the job's records learn that it died.

Before it forks a work-horse, it runs the warm-up tasks (settings.WORKER_WARMUP_TASKS): what
every job would otherwise build for itself in its fresh process (the factor library's index and the
concept vocabulary, seconds of CPU each) is built once here and inherited by each work-horse; it is
rebuilt only when the library changed. A warm-up that fails is logged; the job then builds its own.

It also runs the project's periodic housekeeping (settings.WORKER_MAINTENANCE_TASKS, dotted paths
of functions without arguments) with rq's own maintenance, every MAINTENANCE_INTERVAL seconds:
the import sweeper fails commits whose job died without anyone watching their progress page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils.module_loading import import_string
from rq import Worker as RQWorker
from rq.callbacks import execute_failure_callback

logger = logging.getLogger(__name__)

MAINTENANCE_INTERVAL = 60


class WorkHorseKilledError(RuntimeError):
    """The process running the job died without raising (a signal, the out-of-memory killer)."""


def _close_connections() -> None:
    # The next work-horse is forked from this process: it must not inherit a connection. (Inside
    # an atomic block, a test's, closing would abort the caller's work.)
    if not connection.in_atomic_block:
        connections.close_all()


class Worker(RQWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)

    def handle_work_horse_killed(self, job: Any, retpid: Any, ret_val: Any, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        exc = WorkHorseKilledError(f"work-horse {retpid} ended with status {ret_val}")
        try:
            execute_failure_callback(job, self.death_penalty_class, type(exc), exc, None)
        except Exception:
            logger.exception("failure callback of a killed job raised", extra={"job": job.id})
        finally:
            _close_connections()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        self.warm_up()

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        self.warm_up()
        super().fork_work_horse(job, queue)

    def warm_up(self) -> None:
        for path in getattr(settings, "WORKER_WARMUP_TASKS", ()):
            try:
                import_string(path)()
            except Exception:
                logger.exception("worker warm-up task failed", extra={"task": path})
        # The work-horse must not inherit this process's database connection.
        _close_connections()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        for path in getattr(settings, "WORKER_MAINTENANCE_TASKS", ()):
            try:
                import_string(path)()
            except Exception:
                logger.exception("worker maintenance task failed", extra={"task": path})
            finally:
                _close_connections()
