"""Helpers for browser tests: the app served by a real server process on the test database, and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(
            "Debian's chromium is not installed (apt-get install chromium); browser test skipped"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@contextmanager
def app_server() -> Iterator[str]:
    """Serve the app on a free port against the test database; yield its public base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "PUBLIC_PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "factortrace.settings",
    }
    log = (ROOT / ".local" / f"browser-server-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"app server did not start; see {log.name}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@contextmanager
def chromium_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@contextmanager
def library_committed(keys: list[str], django_db_blocker: Any) -> Iterator[None]:
    """The library datasets `keys` ingested and committed (a server process reads them, so the
    test's own transaction will not do); removed afterwards unless they were there before."""
    from django_tenants.utils import schema_context

    from factors.models import FactorDataset
    from factors.services import factors_ingest, select_mappings

    with django_db_blocker.unblock(), schema_context("public"):
        existed = set(
            FactorDataset.objects.filter(key__in=keys).values_list("key", flat=True).distinct()
        )
        for mapping in select_mappings(keys):
            factors_ingest(mapping=mapping)
    try:
        yield
    finally:
        added = [k for k in keys if k not in existed]
        # Plain SQL: the ORM's delete would look for protecting rows in tenant tables, which the
        # public schema does not have (the tests removed their records already).
        with (
            django_db_blocker.unblock(),
            schema_context("public"),
            connection.cursor() as cursor,
        ):
            ids = list(FactorDataset.objects.filter(key__in=added).values_list("id", flat=True))
            cursor.execute("DELETE FROM factors_emissionfactor WHERE dataset_id = ANY(%s)", [ids])
            cursor.execute("DELETE FROM factors_factordataset WHERE id = ANY(%s)", [ids])
        connection.set_schema_to_public()


@contextmanager
def acme_restored(django_db_blocker: Any, *, also: tuple[str, ...] = ()) -> Iterator[None]:
    """Whatever an app server makes in acme during the block is removed afterwards: the imports
    (their stored files, records and row errors go with them), factor choices, mapping templates,
    and the new rows of the models named in `also` ("app.Model", deleted in that order, so a
    contract goes before its site)."""
    from django.apps import apps
    from django_tenants.utils import schema_context

    from imports.models import ImportRun

    models = [
        apps.get_model(name) for name in ("imports.FactorChoice", "imports.MappingTemplate", *also)
    ]
    with django_db_blocker.unblock():
        with schema_context("acme"):
            last_run = ImportRun.objects.order_by("-id").values_list("id", flat=True).first() or 0
            known = {m: set(m.objects.values_list("id", flat=True)) for m in models}
        try:
            yield
        finally:
            with schema_context("acme"):
                for run in ImportRun.objects.filter(id__gt=last_run):
                    run.file.delete(save=False)
                    run.delete()
                for model in [*models[2:], *models[:2]]:
                    model.objects.exclude(id__in=known[model]).delete()
            connection.set_schema_to_public()


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    """Sign in on the tenant's login page and land on its home."""
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def queues_emptied(queues: tuple[str, ...] = ("default", "imports")) -> None:
    """Skip without Redis; else drop the jobs an earlier run left in `queues` (REDIS_URL is this
    checkout's own Redis database), so a worker started later runs only this test's jobs."""
    import django_rq

    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: the RQ worker needs Redis")
    for name in queues:
        django_rq.get_queue(name).empty()


@contextmanager
def rq_worker(queues: tuple[str, ...] = ("default", "imports")) -> Iterator[None]:
    """A real RQ worker process (the production one) on the test database and REDIS_URL, taking
    jobs from `queues` until the block ends (a job under way is finished first)."""
    import django_rq

    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DJANGO_SETTINGS_MODULE": "factortrace.settings",
    }
    log = (ROOT / ".local" / f"browser-worker-{os.getpid()}.log").open("a")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *queues],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Ready once it has registered with Redis (Django's start-up can take seconds).
        from rq import Worker

        queue = django_rq.get_queue(queues[0])
        deadline = time.monotonic() + 60
        while not any(w.pid == process.pid for w in Worker.all(queue=queue)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the RQ worker did not start; see {log.name}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()  # a warm shutdown: a job under way is finished first
        process.wait(timeout=120)
        log.close()
