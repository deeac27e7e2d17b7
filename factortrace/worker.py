"""The rq worker the project runs (settings.RQ["WORKER_CLASS"]).

rq runs a job's failure callback when the job raises or times out, but not when its work-horse is
killed (kill -9, the kernel's out-of-memory killer): the job is only moved to the failed registry.
This worker runs the callback in that case too, so the job's records learn that it died.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections
from rq import Worker as RQWorker
from rq.callbacks import execute_failure_callback

logger = logging.getLogger(__name__)


class WorkHorseKilledError(RuntimeError):
    """The process running the job died without raising (a signal, the out-of-memory killer)."""


class Worker(RQWorker):
    def handle_work_horse_killed(self, job: Any, retpid: Any, ret_val: Any, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        exc = WorkHorseKilledError(f"work-horse {retpid} ended with status {ret_val}")
        try:
            execute_failure_callback(job, self.death_penalty_class, type(exc), exc, None)
        except Exception:
            logger.exception("failure callback of a killed job raised", extra={"job": job.id})
        finally:
            # The next work-horse is forked from this process: it must not inherit a connection.
            connections.close_all()
