from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def test_it_reports_the_detail_on_the_operators_host(tenants: dict[str, object], db: None) -> None:
    response = Client(HTTP_HOST="localhost:8000").get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"].startswith("ok")
    assert body["version"] == settings.VERSION
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("host", ["acme.localhost", "unknown.localhost", "evil.example"])
def test_it_says_only_ok_on_other_hosts(tenants: dict[str, object], db: None, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_gives_the_detail_anywhere_with_the_token(
    tenants: dict[str, object], db: None, settings: pytest.FixtureRequest
) -> None:
    settings.HEALTH_TOKEN = "health-token-for-the-monitor"  # type: ignore[attr-defined]
    client = Client(HTTP_HOST="acme.localhost")
    good = client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer health-token-for-the-monitor")
    assert good.json()["version"] == settings.VERSION  # type: ignore[attr-defined]
    bad = client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer guessed")
    assert bad.json() == {"status": "ok"}
    # A wrong token does not fall back to the host rule either.
    public = Client(HTTP_HOST="localhost").get("/api/v1/health", HTTP_AUTHORIZATION="Bearer x")
    assert public.json() == {"status": "ok"}


def test_it_says_only_down_on_a_tenant_host(
    tenants: dict[str, object], db: None, settings: pytest.FixtureRequest
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    response = Client(HTTP_HOST="acme.localhost").get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "down"}


def test_it_names_a_redis_outage(
    tenants: dict[str, object], db: None, settings: pytest.FixtureRequest
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    response = Client(HTTP_HOST="localhost").get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"].startswith("down")
    assert body["database"] == "ok"
    assert "redis" in body["status"]


def test_it_names_a_database_outage() -> None:
    # A real outage: a process whose DATABASE_URL points at a port where nothing listens.
    code = (
        "import django, json; django.setup(); from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/api/v1/health');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/factortrace",
        "DJANGO_SETTINGS_MODULE": "factortrace.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, cwd=ROOT
    )
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503"
    parsed = json.loads(body)
    assert parsed["status"] == "down: database"
    assert parsed["database"].startswith("down")


def test_it_refuses_writes(tenants: dict[str, object], db: None) -> None:
    assert Client(HTTP_HOST="localhost").post("/api/v1/health").status_code == 405
