"""End to end under production settings: gunicorn and an RQ worker from this checkout, against the
local PostgreSQL (the test database) and Redis: a healthy health check, JSON log lines carrying the
request id into the worker's job, and /metrics for the token holder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from factortrace.jobs import enqueue_for_tenant
from factortrace.observability import request_id_var
from tests.jobs_for_tests import MARKER_DOMAIN, mark_and_list

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
METRICS_TOKEN = "metrics-token-for-the-stack-test"
HEALTH_TOKEN = "health-token-for-the-stack-test"

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis for a real RQ worker"),
    pytest.mark.commits,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host = db["HOST"] or "127.0.0.1"
    port = db.get("PORT") or "5432"
    if host.startswith("/"):
        from urllib.parse import quote

        return f"postgres://{auth}@{quote(host, safe='')}/{db['NAME']}"
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def _production_env() -> dict[str, str]:
    return {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": "stack-test-secret-" + "0123456789abcdef" * 4,
        "DEBUG": "false",
        "BASE_DOMAIN": "localhost",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "METRICS_TOKEN": METRICS_TOKEN,
        "HEALTH_TOKEN": HEALTH_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def committed(
    tenants: dict[str, object], django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield
        with schema_context("acme"):
            User.objects.filter(email__endswith=MARKER_DOMAIN).delete()
        connection.set_schema_to_public()


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (a local http URL)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _wait_for(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    return None


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_it_serves_health_logs_and_metrics_under_production_settings(
    committed: None, tmp_path: Path
) -> None:
    import django_rq

    env = _production_env()
    port = _free_port()
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    queue = django_rq.get_queue("default")
    queue.empty()
    with web_log.open("w") as web_out, worker_log.open("w") as worker_out:
        web = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "factortrace.wsgi:application",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "--timeout",
                "30",
            ],
            cwd=ROOT,
            env=env,
            stdout=web_out,
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--with-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=worker_out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            up = _wait_for(lambda: _probe(f"{base}/api/v1/health"), 30)
            assert up, web_log.read_text()[-3000:]

            status, headers, body = _get(f"{base}/api/v1/health", Host="localhost")
            assert status == 200, body
            detail = json.loads(body)
            assert (detail["status"], detail["database"], detail["redis"]) == ("ok", "ok", "ok")
            request_id = headers["X-Request-ID"]
            status, _, body = _get(f"{base}/api/v1/health", Host="acme.localhost")
            assert json.loads(body) == {"status": "ok"}

            token = request_id_var.set(request_id)
            try:
                enqueue_for_tenant(mark_and_list, schema_name="acme", label="stack")
            finally:
                request_id_var.reset(token)

            def job_line() -> dict[str, Any] | None:
                lines = [r for r in _json_lines(worker_log) if r.get("message") == "job start"]
                return lines[0] if lines else None

            line = _wait_for(job_line, 30)
            assert line is not None, worker_log.read_text()[-3000:]
            assert line["request_id"] == request_id
            assert line["job_id"]
            assert line["tenant"] == "acme"

            status, _, body = _get(f"{base}/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
            assert status == 200
            assert 'view="health"' in body.decode()
            assert _get(f"{base}/metrics")[0] == 404
        finally:
            for process in (web, worker):
                process.terminate()
            for process in (web, worker):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    web_lines = [r for r in _json_lines(web_log) if r.get("request_id") == request_id]
    assert web_lines, web_log.read_text()[-3000:]
    assert {"time", "level", "logger", "message"} <= web_lines[0].keys()
    assert web_lines[0]["path"] == "/api/v1/health"


def _probe(url: str) -> bool:
    try:
        return _get(url, Host="localhost")[0] in {200, 503}
    except OSError:
        return False
