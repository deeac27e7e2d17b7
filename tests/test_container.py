"""The container image and compose stack (issue 13, point 5), checked without a Docker engine: the
files' structure, and the image's entry point run outside Docker against the local services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "scripts" / "entrypoint.sh"
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "entrypoint-test-secret-" + "0123456789abcdef" * 4,
    "DEBUG": "false",
    "BASE_DOMAIN": "factortrace.eu",
}


def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_it_builds_a_slim_non_root_image_in_two_stages() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = "\n".join(stages[-1])
    assert final.startswith("FROM python:3.1")
    assert "slim" in final.splitlines()[0]
    assert "build-essential" not in final
    assert "gcc" not in final
    assert "libpango-1.0-0" in final  # WeasyPrint's system libraries
    assert "\nUSER factortrace" in final
    assert "collectstatic" in final
    assert "HEALTHCHECK" in final
    assert "/api/v1/health" in final
    assert 'ENTRYPOINT ["/app/scripts/entrypoint.sh"]' in final


def test_it_composes_web_workers_and_a_one_shot_migration() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "migrate", "web", "worker"} <= services.keys()
    assert services["migrate"]["command"] == ["migrate"]
    for role in ("web", "worker"):
        assert services[role]["command"] == [role]
        assert services[role]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # Scalable workers: no fixed name, no published port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert {"pgdata", "redisdata", "media"} <= compose["volumes"].keys()
    example = (ROOT / ".env.example").read_text()
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "BASE_DOMAIN", "ENVIRONMENT"):
        assert f"\n{name}=" in example


def _entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **PRODUCTION, "PYTHON": sys.executable, **env}
    return subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_it_runs_the_deploy_check_role() -> None:
    result = _entrypoint("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def test_it_waits_for_another_starters_migration(tenants: dict[str, object], db: None) -> None:
    from factortrace.management.commands.migrate_locked import LOCK_KEY

    if str(connection.settings_dict["HOST"]).startswith("/"):
        pytest.skip("the embedded PostgreSQL listens on a socket this test does not pass on")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    try:
        result = _entrypoint("migrate", "--lock-timeout", "1", DATABASE_URL=_database_url())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    assert result.returncode != 0
    assert "another starter has held the migration lock" in result.stderr
    assert "migrations done" not in result.stdout
