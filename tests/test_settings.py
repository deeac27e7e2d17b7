"""Settings read from the environment fail loudly, naming the variable; start-up checks refuse unsafe setups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from factortrace.checks import verify_startup

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "production-secret-" + "0123456789abcdef" * 4


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ENVIRONMENT"}}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import factortrace.settings"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ENVIRONMENT": "production"}, "SECRET_KEY"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"BASE_DOMAIN": "http://example.com"}, "BASE_DOMAIN"),
        ({"IMPORT_MAX_BYTES": "fifty megabytes"}, "IMPORT_MAX_BYTES"),
        ({"CSRF_TRUSTED_ORIGINS": "example.com"}, "CSRF_TRUSTED_ORIGINS"),
        ({"XBRL_TAXONOMY_DIR": "/nonexistent/taxonomy"}, "XBRL_TAXONOMY_DIR"),
        ({"SENTRY_DSN": "not-a-url"}, "SENTRY_DSN"),
        ({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_API_BASE": "localhost:12111"}, "STRIPE_API_BASE"),
        ({"BILLING_PACKS": "five:5"}, "BILLING_PACKS"),
        ({"BILLING_PACKS": "five:0:150000"}, "BILLING_PACKS"),
        ({"BILLING_CURRENCY": "euro"}, "BILLING_CURRENCY"),
        ({"ENVIRONMENT": "production", "SECRET_KEY": STRONG_KEY, "DEBUG": "true"}, "DEBUG"),
    ],
)
def test_it_names_the_bad_variable(env: dict[str, str], named: str) -> None:
    result = _import_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{named}:" in result.stderr.splitlines()[-1]


def test_it_accepts_a_production_configuration() -> None:
    result = _import_settings(
        ENVIRONMENT="production",
        SECRET_KEY=STRONG_KEY,
        DEBUG="false",
        IMPORT_MAX_BYTES="10_000_000",
    )
    assert result.returncode == 0, result.stderr


def test_it_refuses_a_cache_without_tenant_keys() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with (
        override_settings(CACHES=caches),
        pytest.raises(ImproperlyConfigured, match="KEY_FUNCTION"),
    ):
        verify_startup()


def test_it_refuses_storage_that_is_not_tenant_aware() -> None:
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    with (
        override_settings(STORAGES=storages),
        pytest.raises(ImproperlyConfigured, match="TenantFileSystemStorage"),
    ):
        verify_startup()


def test_it_refuses_openpyxl_without_defusedxml(monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl.xml

    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(ImproperlyConfigured, match="defusedxml"):
        verify_startup()


def test_it_passes_with_the_shipped_settings() -> None:
    verify_startup()
