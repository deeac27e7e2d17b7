"""Request ids in headers, logs and jobs; JSON log lines; /metrics for the configured audience only;
Sentry events without personal data (issue 13, point 6)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from prometheus_client import REGISTRY

from accounts.models import User
from factortrace.jobs import enqueue_for_tenant
from factortrace.logging import JsonFormatter
from factortrace.observability import ContextFilter, request_id_var, sentry_before_send
from tests.conftest import ALICE
from tests.jobs_for_tests import MARKER_DOMAIN, mark_and_list

pytestmark = pytest.mark.commits

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the production handler writes: the context filter and the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_it_returns_a_request_id_and_keeps_a_sane_incoming_one(alice: Client) -> None:
    first = alice.get("/")["X-Request-ID"]
    assert len(first) == 32
    assert alice.get("/")["X-Request-ID"] != first
    assert alice.get("/", HTTP_X_REQUEST_ID="edge-proxy-1234abcd")["X-Request-ID"] == (
        "edge-proxy-1234abcd"
    )
    forged = alice.get("/", HTTP_X_REQUEST_ID='x"\n{"level": "CRITICAL"}')["X-Request-ID"]
    assert len(forged) == 32
    assert "\n" not in forged


def test_it_puts_request_tenant_and_user_on_every_log_line(
    alice: Client, json_lines: io.StringIO
) -> None:
    response = alice.get("/imports/999999/")
    assert response.status_code == 404
    lines = [r for r in _records(json_lines) if r["logger"] == "django.request"]
    assert lines, json_lines.getvalue()
    line = lines[-1]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["tenant"] == "acme"
    assert line["user"] == ALICE.email
    assert {"time", "level", "logger", "message", "job_id"} <= line.keys()


@pytest.fixture
def committed(
    tenants: dict[str, object], django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield
        for schema in ("acme", "globex"):
            with schema_context(schema):
                User.objects.filter(email__endswith=MARKER_DOMAIN).delete()


def _job_start(stream: io.StringIO) -> dict[str, object]:
    return next(r for r in _records(stream) if r["message"] == "job start")


def test_it_carries_the_request_id_into_jobs(
    committed: None, json_lines: io.StringIO, settings: pytest.FixtureRequest
) -> None:
    settings.JOBS_IN_PROCESS = True  # type: ignore[attr-defined]
    before = REGISTRY.get_sample_value(
        "factortrace_jobs_total", {"queue": "default", "outcome": "success"}
    )
    token = request_id_var.set("req-0123456789")
    try:
        enqueue_for_tenant(mark_and_list, schema_name="acme", label="traced")
    finally:
        request_id_var.reset(token)
    line = _job_start(json_lines)
    assert line["request_id"] == "req-0123456789"
    assert line["job_id"]
    assert line["tenant"] == "acme"
    after = REGISTRY.get_sample_value(
        "factortrace_jobs_total", {"queue": "default", "outcome": "success"}
    )
    assert after == (before or 0) + 1


def test_it_carries_the_request_id_into_an_rq_worker(
    committed: None, json_lines: io.StringIO, settings: pytest.FixtureRequest
) -> None:
    if not settings.REDIS_URL:  # type: ignore[attr-defined]
        pytest.skip("needs Redis for a real RQ worker")
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("default")
    queue.empty()
    token = request_id_var.set("req-worker-42abc")
    try:
        enqueue_for_tenant(mark_and_list, schema_name="globex", label="rq-traced")
    finally:
        request_id_var.reset(token)
    job = queue.jobs[0]
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    line = _job_start(json_lines)
    assert line["request_id"] == "req-worker-42abc"
    assert line["job_id"] == job.id


def test_it_serves_metrics_to_configured_addresses_only(
    alice: Client, tenants: dict[str, object], db: None, settings: pytest.FixtureRequest
) -> None:
    alice.get("/team/")
    local = Client(HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert local.status_code == 200
    text = local.content.decode()
    assert 'factortrace_http_requests_total{method="GET",status="200",view="team"}' in text
    assert 'factortrace_http_request_duration_seconds_bucket{le="0.005",view="team"}' in text
    assert "factortrace_jobs_total" in text
    assert "factortrace_import_rows_total" in text

    outside = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="203.0.113.5")
    assert outside.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "scrape-token-for-prometheus"  # type: ignore[attr-defined]
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    scraped = outside.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-for-prometheus")
    assert scraped.status_code == 200


def test_it_counts_server_errors_by_view(
    tenants: dict[str, object], db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.isolation_matrix import pattern_for

    def broken(request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pattern_for("billing"), "callback", broken)
    before = REGISTRY.get_sample_value("factortrace_http_errors_total", {"view": "billing"}) or 0
    client = Client(HTTP_HOST="acme.localhost", raise_request_exception=False)
    assert client.get("/billing/").status_code == 500
    assert REGISTRY.get_sample_value("factortrace_http_errors_total", {"view": "billing"}) == (
        before + 1
    )


def test_it_scrubs_personal_data_from_sentry_events() -> None:
    event = {
        "request": {
            "url": "https://acme.factortrace.eu/team/add/",
            "method": "POST",
            "query_string": "email=alice@acme.example",
            "cookies": {"sessionid": "s3cr3t"},
            "data": {"email": "x@acme.example", "password": "hunter2-hunter2"},
            "headers": {"Cookie": "sessionid=s3cr3t", "Authorization": "Bearer t", "Host": "acme"},
            "env": {"REMOTE_ADDR": "198.51.100.4"},
        },
        "user": {"id": 7, "email": "alice@acme.example", "ip_address": "198.51.100.4"},
        "exception": {
            "values": [
                {
                    "value": "No user alice@acme.example",
                    "stacktrace": {"frames": [{"function": "f", "vars": {"password": "p"}}]},
                }
            ]
        },
        "logentry": {"message": "sent reset to bob@acme.example"},
    }
    scrubbed = json.dumps(sentry_before_send(event, {}))
    for secret in ("s3cr3t", "hunter2", "alice@acme.example", "bob@acme.example", "198.51.100.4"):
        assert secret not in scrubbed
    assert event["user"] == {"id": 7}
    assert event["request"]["headers"]["Host"] == "acme"  # type: ignore[index]


def _settings_value(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "factortrace.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_logs_json_in_production_and_text_in_development() -> None:
    code = "from django.conf import settings as s; print(s.LOG_FORMAT, s.LOG_REQUESTS)"
    production = _settings_value(
        code, ENVIRONMENT="production", SECRET_KEY="production-secret-" + "0123456789abcdef" * 4
    )
    assert production.stdout.split() == ["json", "True"], production.stderr
    development = _settings_value(code, ENVIRONMENT="development")
    assert development.stdout.split() == ["text", "False"], development.stderr
    bad = _settings_value(code, LOG_FORMAT="xml")
    assert "LOG_FORMAT:" in bad.stderr
