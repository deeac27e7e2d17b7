"""Jobs run in exactly the tenant schema they were queued for, in a real RQ worker process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from factortrace.jobs import JobSchemaError, enqueue_for_tenant, run_in_schema
from tests.jobs_for_tests import MARKER_DOMAIN, explode, mark_and_list, note_failure

pytestmark = pytest.mark.commits


@pytest.fixture
def committed(
    tenants: dict[str, object], django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    """Real commits (jobs run after commit, in a worker); marker rows are removed afterwards."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield
        for schema in ("acme", "globex"):
            with schema_context(schema):
                User.objects.filter(email__endswith=MARKER_DOMAIN).delete()
        connection.set_schema_to_public()


def _work_off(queue_name: str = "default") -> list[dict[str, object]]:
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue(queue_name)
    jobs = list(queue.jobs)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return [job.return_value() for job in jobs]


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis for a real RQ worker")
def test_it_runs_each_job_in_its_own_schema(committed: None) -> None:
    import django_rq

    django_rq.get_queue("default").empty()
    enqueue_for_tenant(mark_and_list, schema_name="globex", label="b-job")
    enqueue_for_tenant(mark_and_list, schema_name="acme", label="a-job")
    results = _work_off()

    assert results == [
        {"schema": "globex", "seen": ["b-job"]},
        {"schema": "acme", "seen": ["a-job"]},
    ]
    with schema_context("acme"):
        assert list(
            User.objects.filter(email__endswith=MARKER_DOMAIN).values_list("full_name", flat=True)
        ) == ["a-job"]
    with schema_context("globex"):
        assert list(
            User.objects.filter(email__endswith=MARKER_DOMAIN).values_list("full_name", flat=True)
        ) == ["b-job"]
    assert connection.schema_name == "public"


def test_it_runs_in_process_without_redis(committed: None, settings: pytest.FixtureRequest) -> None:
    settings.JOBS_IN_PROCESS = True  # type: ignore[attr-defined]
    enqueue_for_tenant(mark_and_list, schema_name="acme", label="inline")
    with schema_context("acme"):
        assert User.objects.filter(email=f"inline@{MARKER_DOMAIN}").exists()
    with schema_context("globex"):
        assert not User.objects.filter(email=f"inline@{MARKER_DOMAIN}").exists()


def test_it_refuses_a_job_without_a_tenant_schema() -> None:
    with pytest.raises(JobSchemaError):
        enqueue_for_tenant(mark_and_list, schema_name="", label="x")
    with pytest.raises(JobSchemaError):
        enqueue_for_tenant(mark_and_list, schema_name="public", label="x")
    with pytest.raises(JobSchemaError):
        run_in_schema("tests.jobs_for_tests.mark_and_list", "", {"label": "x"})


def test_it_fails_a_job_for_a_missing_schema(tenants: dict[str, object], db: None) -> None:
    with pytest.raises(JobSchemaError, match="does not exist"):
        run_in_schema("tests.jobs_for_tests.mark_and_list", "initech", {"label": "x"})
    assert connection.schema_name == "public"


def test_it_returns_to_public_after_a_failing_job(tenants: dict[str, object], db: None) -> None:
    with pytest.raises(RuntimeError, match="on purpose"):
        run_in_schema("tests.jobs_for_tests.explode", "acme", {"label": "boom"})
    assert connection.schema_name == "public"


def test_it_refuses_model_instances_as_job_arguments(tenants: dict[str, object], db: None) -> None:
    with schema_context("acme"):
        user = User.objects.first()
    with pytest.raises(TypeError, match="pass the id"):
        enqueue_for_tenant(mark_and_list, schema_name="acme", label=user)
    with pytest.raises(ValueError, match="module-level"):
        enqueue_for_tenant(lambda: None, schema_name="acme")


def _failure_marker(schema: str, label: str) -> str | None:
    with schema_context(schema):
        user = User.objects.filter(email=f"failed-{label}@{MARKER_DOMAIN}").first()
    return user.full_name if user else None


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis for a real RQ worker")
def test_it_runs_the_failure_handler_of_a_failed_job_in_its_schema(committed: None) -> None:
    import django_rq

    django_rq.get_queue("default").empty()
    enqueue_for_tenant(explode, schema_name="globex", on_failure=note_failure, label="rq")
    _work_off()
    assert "failed on purpose" in (_failure_marker("globex", "rq") or "")
    assert _failure_marker("acme", "rq") is None
    assert connection.schema_name == "public"


def test_it_runs_the_failure_handler_in_process_too(
    committed: None, settings: pytest.FixtureRequest
) -> None:
    settings.JOBS_IN_PROCESS = True  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="on purpose"):
        enqueue_for_tenant(explode, schema_name="acme", on_failure=note_failure, label="inline")
    assert "failed on purpose" in (_failure_marker("acme", "inline") or "")
