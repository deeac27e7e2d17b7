"""Background jobs that cannot cross tenants.

`enqueue_for_tenant(func, schema_name=..., **ids)` queues `func(**ids)` to run inside one tenant's
schema once the current transaction commits. Jobs take ids, never model instances. The worker side,
`run_in_schema`, closes stale connections, switches to the schema, asserts it, runs the job and always
returns to public. A job without a schema fails: nothing defaults to public. Jobs that work on the
shared library (factor ingestion) say so explicitly with `enqueue_public`.

A job may name an `on_failure` function of the same module rules: it runs in the same schema
with the job's ids and a `reason` when the job raises, times out, or its work-horse dies
(`factortrace.worker.Worker` runs the callback for a killed horse too, which rq does not).

Without Redis (JOBS_IN_PROCESS), the same runner is called in-process after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from factortrace.observability import job_context, new_request_id, record_job, request_id_var
from factortrace.tenancy import current_schema, tenant_connection

logger = logging.getLogger(__name__)

JobFunc = Callable[..., Any]


class JobSchemaError(RuntimeError):
    """A job was asked to run without a valid tenant schema."""


def _func_path(func: JobFunc) -> str:
    module, name = func.__module__, func.__qualname__
    if "<" in name or module == "__main__":
        raise ValueError(f"{name} cannot be queued: jobs must be module-level functions.")
    return f"{module}.{name}"


def _resolve(path: str) -> JobFunc:
    from django.utils.module_loading import import_string

    func: JobFunc = import_string(path)
    return func


def _check_ids(ids: dict[str, Any]) -> None:
    from django.db.models import Model

    for key, value in ids.items():
        if isinstance(value, Model):
            raise TypeError(f"{key}: pass the id, not a {type(value).__name__} instance.")


def enqueue_for_tenant(
    func: JobFunc,
    *,
    schema_name: str,
    queue: str = "default",
    on_failure: JobFunc | None = None,
    **ids: Any,
) -> None:
    """Queue func(**ids) to run in the tenant `schema_name` after the current transaction commits;
    `on_failure(**ids, reason=...)` runs in the same schema if the job fails or its worker dies."""
    if not schema_name or schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise JobSchemaError("enqueue_for_tenant needs a tenant schema_name, not public or empty.")
    _check_ids(ids)
    path = _func_path(func)
    failure = _func_path(on_failure) if on_failure is not None else None
    request_id = request_id_var.get()
    transaction.on_commit(lambda: _dispatch(path, schema_name, ids, queue, failure, request_id))


def enqueue_public(func: JobFunc, *, queue: str = "default", **ids: Any) -> None:
    """Queue a job that works on the shared (public) schema, such as factor ingestion."""
    _check_ids(ids)
    path = _func_path(func)
    request_id = request_id_var.get()
    transaction.on_commit(
        lambda: _dispatch(path, settings.PUBLIC_SCHEMA_NAME, ids, queue, request_id)
    )


def _dispatch(
    path: str,
    schema_name: str,
    ids: dict[str, Any],
    queue: str,
    failure: str | None = None,
    request_id: str | None = None,
) -> None:
    if settings.JOBS_IN_PROCESS:
        # The runner ends on public, as a worker must; the requesting code continues in its tenant.
        caller = tenant_connection().tenant
        try:
            run_in_schema(path, schema_name, ids, request_id=request_id, queue=queue)
        except Exception as exc:
            if failure is not None:
                run_in_schema(
                    failure,
                    schema_name,
                    {**ids, "reason": repr(exc)},
                    request_id=request_id,
                    queue=queue,
                )
            raise
        finally:
            tenant_connection().set_tenant(caller)
        return
    import django_rq
    from rq import Callback

    django_rq.get_queue(queue).enqueue(
        run_in_schema,
        path,
        schema_name,
        ids,
        request_id=request_id,
        queue=queue,
        job_timeout=3600,
        description=f"{path} [{schema_name}]",
        meta={"on_failure": failure} if failure else None,
        on_failure=Callback(job_failed) if failure else None,
    )


def job_failed(job: Any, connection: Any, *exc_info: Any) -> None:
    """rq failure callback: run the job's own `on_failure` in its schema with the job's ids."""
    failure = (job.meta or {}).get("on_failure")
    if not failure:
        return
    _path, schema_name, ids = job.args
    exc = exc_info[1] if len(exc_info) > 1 else None
    kwargs = job.kwargs or {}
    run_in_schema(
        failure,
        schema_name,
        {**ids, "reason": repr(exc)},
        request_id=kwargs.get("request_id"),
        queue=kwargs.get("queue", "default"),
    )


def run_in_schema(
    path: str,
    schema_name: str,
    ids: dict[str, Any],
    *,
    request_id: str | None = None,
    queue: str = "default",
) -> Any:
    """Worker-side runner: the only way a queued job touches the database. Its log lines carry the
    request id of the request that queued it and the job's own id; its outcome is counted."""
    job_id = None
    if not settings.JOBS_IN_PROCESS:
        from rq import get_current_job

        current = get_current_job()
        job_id = current.id if current is not None else None
    with job_context(request_id=request_id, job_id=job_id or new_request_id()):
        outcome = "failure"
        result = None
        try:
            result = _run_in_schema(path, schema_name, ids)
            outcome = "success"
            return result
        finally:
            record_job(queue, outcome, path, result)


def _run_in_schema(path: str, schema_name: str, ids: dict[str, Any]) -> Any:
    from django_tenants.utils import get_tenant_model

    if not schema_name:
        raise JobSchemaError(f"{path}: no schema_name given; refusing to run.")
    _close_stale_connections()
    try:
        if schema_name == settings.PUBLIC_SCHEMA_NAME:
            tenant_connection().set_schema_to_public()
        else:
            tenant = get_tenant_model().objects.filter(schema_name=schema_name).first()
            if tenant is None:
                raise JobSchemaError(f"{path}: tenant schema {schema_name!r} does not exist.")
            tenant_connection().set_tenant(tenant)
        if current_schema() != schema_name:
            raise JobSchemaError(
                f"{path}: connection is on {current_schema()!r}, expected {schema_name!r}."
            )
        logger.info("job start", extra={"job": path, "schema": schema_name})
        return _resolve(path)(**ids)
    finally:
        tenant_connection().set_schema_to_public()
        _close_stale_connections()


def _close_stale_connections() -> None:
    # A worker between jobs is never inside a transaction; an in-process job runs after commit.
    # Inside an atomic block (a test's transaction) closing would abort the caller's work.
    if not connection.in_atomic_block:
        close_old_connections()
