"""Request ids, log context, Prometheus metrics and Sentry scrubbing.

Every request gets an id (a sane incoming `X-Request-ID` is kept, else a new one), returned in the
`X-Request-ID` header, attached to every log line of the request (with tenant and user) and carried
into the jobs it enqueues, whose log lines also carry the job id. `/metrics` serves the Prometheus
counters to configured addresses or to a bearer of METRICS_TOKEN, and is a 404 to everyone else.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

access = logging.getLogger("factortrace.request")

METRICS_PATH = "/metrics"
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)
_request_var: ContextVar[HttpRequest | None] = ContextVar("request", default=None)

REQUESTS = Counter(
    "factortrace_http_requests_total",
    "HTTP requests by view, method and status",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "factortrace_http_request_duration_seconds", "HTTP request latency by view", ["view"]
)
ERRORS = Counter("factortrace_http_errors_total", "HTTP 5xx responses by view", ["view"])
JOBS = Counter(
    "factortrace_jobs_total", "Background jobs by queue and outcome", ["queue", "outcome"]
)
IMPORT_ROWS = Counter(
    "factortrace_import_rows_total", "Activity records written by import commits", ["outcome"]
)


def new_request_id() -> str:
    return uuid.uuid4().hex


# ---- logging -------------------------------------------------------------------------------------


def _current_user(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", None)
    # Only a user the request already loaded: logging never triggers a session query.
    if wrapped is None or type(wrapped).__name__ == "object":
        return None
    return wrapped.get_username() if getattr(wrapped, "is_authenticated", False) else None


class ContextFilter(logging.Filter):
    """Adds request_id, tenant, user and job_id to every record (explicit `extra` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from factortrace.tenancy import current_schema

        request = _request_var.get()
        # django.request logs a 4xx/5xx after the middleware chain returned: it names its request.
        logged = getattr(record, "request", None)
        if request is None and isinstance(logged, HttpRequest):
            request = logged
        defaults = {
            "request_id": getattr(request, "request_id", None) or request_id_var.get(),
            "job_id": job_id_var.get(),
            "user": _current_user(request),
        }
        try:
            defaults["tenant"] = current_schema()
        except Exception:
            defaults["tenant"] = None
        for key, value in defaults.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s tenant=%(tenant)s] %(message)s"
        )


@contextmanager
def job_context(*, request_id: str | None, job_id: str | None) -> Iterator[None]:
    tokens = (request_id_var.set(request_id), job_id_var.set(job_id))
    try:
        yield
    finally:
        request_id_var.reset(tokens[0])
        job_id_var.reset(tokens[1])


# ---- middleware ----------------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    from accounts.throttle import client_address

    return client_address(request)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    try:
        address = ipaddress.ip_address(_client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_response() -> HttpResponse:
    import os

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class RequestContextMiddleware:
    """First in the chain: the request id, the log context, the metrics and the /metrics endpoint."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        tokens = (request_id_var.set(request_id), _request_var.set(request))
        started = time.perf_counter()
        try:
            if request.path.rstrip("/") == METRICS_PATH:
                response = (
                    metrics_response()
                    if metrics_allowed(request) and request.method in {"GET", "HEAD"}
                    else HttpResponse("Not found", status=404, content_type="text/plain")
                )
            else:
                self._tag_sentry(request)
                response = self.get_response(request)
            view = _view_name(request)
            REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
            LATENCY.labels(view).observe(time.perf_counter() - started)
            if response.status_code >= 500:
                ERRORS.labels(view).inc()
            response[REQUEST_ID_HEADER] = request_id
            if settings.LOG_REQUESTS:
                access.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "view": view,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            return response
        finally:
            request_id_var.reset(tokens[0])
            _request_var.reset(tokens[1])

    @staticmethod
    def _tag_sentry(request: HttpRequest) -> None:
        if not settings.SENTRY_DSN:
            return
        import sentry_sdk

        sentry_sdk.set_tag("request_id", request.request_id)  # type: ignore[attr-defined]
        host = request.META.get("HTTP_HOST", "").split(":")[0]
        sentry_sdk.set_tag("tenant", host.removesuffix(f".{settings.BASE_DOMAIN}") or "public")


def _view_name(request: HttpRequest) -> str:
    if request.path.rstrip("/") == METRICS_PATH:
        return "metrics"
    if request.path.rstrip("/") == "/api/v1/health":
        return "health"
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return str(match.view_name or "unnamed")


# ---- jobs ----------------------------------------------------------------------------------------


def record_job(queue: str, outcome: str, path: str, result: Any) -> None:
    JOBS.labels(queue, outcome).inc()
    if path.endswith("import_run_commit_job") and isinstance(result, dict):
        records = result.get("records")
        if isinstance(records, int) and records > 0:
            IMPORT_ROWS.labels(str(result.get("status", "unknown"))).inc(records)


# ---- Sentry --------------------------------------------------------------------------------------

_SECRET_HEADERS = {"authorization", "cookie", "x-csrftoken", "x-forwarded-for", "x-real-ip"}
_FILTERED = "[Filtered]"


def sentry_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """No personal data leaves: no cookies, bodies, query strings, addresses, e-mails or user names."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        if "data" in request:
            request["data"] = _FILTERED
        if request.get("query_string"):
            request["query_string"] = _FILTERED
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in _SECRET_HEADERS:
                    headers[name] = _FILTERED
        request.pop("env", None)
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for crumb in (event.get("breadcrumbs") or {}).get("values", []) or []:
        if isinstance(crumb, dict) and isinstance(crumb.get("message"), str):
            crumb["message"] = _EMAIL.sub(_FILTERED, crumb["message"])
    for entry in (event.get("exception") or {}).get("values", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("value"), str):
            entry["value"] = _EMAIL.sub(_FILTERED, entry["value"])
        for frame in ((entry or {}).get("stacktrace") or {}).get("frames", []) or []:
            frame.pop("vars", None)
    if isinstance(event.get("logentry"), dict):
        for key in ("message", "formatted"):
            value = event["logentry"].get(key)
            if isinstance(value, str):
                event["logentry"][key] = _EMAIL.sub(_FILTERED, value)
    return event


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
