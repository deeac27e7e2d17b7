"""The worker builds what every import job needs (the factor library's index, the concept
vocabulary) before it forks a work-horse, so the work-horse inherits them."""

from __future__ import annotations

from typing import Any

import pytest
from rq import Worker as RQWorker

from factors import concepts
from factors.library_index import library_index, library_index_clear, library_warm
from factortrace import worker as worker_module

CALLS: list[str] = []


def record_warm_up() -> None:
    CALLS.append("warm-up")


def fail_warm_up() -> None:
    raise RuntimeError("the database is not there yet")


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    CALLS.clear()
    monkeypatch.setattr(RQWorker, "fork_work_horse", lambda self, job, queue: CALLS.append("fork"))
    return CALLS


def _worker() -> worker_module.Worker:
    # Not started: only its fork step is exercised (rq's fork is replaced by the fixture).
    return worker_module.Worker.__new__(worker_module.Worker)


def test_it_warms_up_before_each_fork(forks: list[str], settings: Any) -> None:
    settings.WORKER_WARMUP_TASKS = ["tests.test_worker_warmup.record_warm_up"]
    worker = _worker()
    worker.fork_work_horse(job=None, queue=None)
    worker.fork_work_horse(job=None, queue=None)
    assert forks == ["warm-up", "fork", "warm-up", "fork"]


def test_a_failed_warm_up_still_forks(forks: list[str], settings: Any) -> None:
    settings.WORKER_WARMUP_TASKS = ["tests.test_worker_warmup.fail_warm_up"]
    _worker().fork_work_horse(job=None, queue=None)
    assert forks == ["fork"]


def test_the_warm_up_builds_the_index_and_the_vocabulary(db: Any, settings: Any) -> None:
    assert "factors.library_index.library_warm" in settings.WORKER_WARMUP_TASKS
    library_index_clear()
    concepts.vocabulary.cache_clear()
    library_warm()
    assert concepts.vocabulary.cache_info().currsize == 1
    built = library_index()
    library_warm()  # nothing changed: the same index, not a rebuild
    assert library_index() is built
