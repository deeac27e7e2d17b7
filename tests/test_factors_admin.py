"""The operator's factor-library admin: datasets and reports, read-only factors, ingestion jobs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from factors.admin import INGEST_JOB, INGEST_QUEUE
from factors.ingest.mapping import Mapping, load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset
from factors.ingest.writer import DatasetIdentity, write_dataset
from factors.models import EmissionFactor, FactorDataset
from factors.services import INGEST_RESULT_KEY

CaptureOnCommit = Callable[..., Any]


@pytest.fixture
def operator(tenants: dict[str, object], db: None) -> Client:
    with schema_context("public"):
        # No password (force_login): hashing one is most of a test's setup time.
        user = User.objects.create_superuser("ops@factortrace.example", None, full_name="Ops")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _no_remembered_results() -> Iterator[None]:
    database = connection.settings_dict["NAME"]
    keys = [
        INGEST_RESULT_KEY.format(database=database, key=k)
        for k in ("epa_hub_2025", "aib_residual_mix_2021")
    ]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture(scope="module")
def epa_read() -> tuple[Mapping, ReadResult]:
    mapping = load_mapping(mapping_path("epa_hub_2025"))
    return mapping, read_dataset(mapping)


@pytest.fixture
def epa(
    tenants: dict[str, object], db: None, epa_read: tuple[Mapping, ReadResult]
) -> FactorDataset:
    """The EPA dataset as `factors_ingest` stores it (read once per module)."""
    mapping, result = epa_read
    with schema_context("public"):
        write_dataset(
            mapping,
            copy.deepcopy(result),
            DatasetIdentity(mapping.key, result.file_sha256, mapping.sha256),
        )
        return FactorDataset.objects.get(key="epa_hub_2025")


def test_it_lists_datasets_and_shows_the_stored_report(
    operator: Client, epa: FactorDataset
) -> None:
    listing = operator.get("/admin/factors/factordataset/").content.decode()
    assert "epa_hub_2025" in listing
    assert "Ingest the shipped datasets" in listing
    page = operator.get(f"/admin/factors/factordataset/{epa.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ingestion report" in html
    assert "182 rows read, 362 factors ingested, 188 skipped" in html
    assert "blank factor (not applicable)" in html
    assert "Table 1 Stationary combustion row 60" in html  # an example row of that reason
    assert 'name="_save"' not in html  # the library is not edited by hand


def test_it_lists_factors_read_only_with_search_and_filters(
    operator: Client, epa: FactorDataset
) -> None:
    html = operator.get("/admin/factors/emissionfactor/", {"q": "SRMW"}).content.decode()
    assert "SRMW (SERC Midwest)" in html
    assert "Add emission factor" not in html
    filtered = operator.get("/admin/factors/emissionfactor/", {"scope__exact": "2"})
    assert filtered.status_code == 200
    factor = EmissionFactor.objects.get(dataset=epa, publisher_id="T6:SRMW")
    detail = operator.get(f"/admin/factors/emissionfactor/{factor.id}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert operator.post(f"/admin/factors/emissionfactor/{factor.id}/delete/").status_code == 403


def test_it_ingests_the_chosen_datasets_in_process(
    operator: Client, settings: Any, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    settings.JOBS_IN_PROCESS = True
    form = operator.get("/admin/factors/factordataset/ingest/").content.decode()
    assert 'value="defra_2024"' in form
    assert "not ingested" in form
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = operator.post(
            "/admin/factors/factordataset/ingest/", {"dataset": ["epa_hub_2025", "nope"]}
        )
    assert response.status_code == 302
    assert response["Location"] == "/admin/factors/factordataset/ingest/jobs/"
    assert len(callbacks) == 1  # one job per (known) dataset key
    dataset = FactorDataset.objects.get(key="epa_hub_2025")
    assert dataset.factor_count == 362
    jobs = operator.get(response["Location"]).content.decode()
    assert "ingested as version 1: 362 factors, 188 skipped, 0 flags" in jobs
    assert 'http-equiv="refresh"' not in jobs


def test_it_asks_for_at_least_one_dataset(operator: Client) -> None:
    response = operator.post("/admin/factors/factordataset/ingest/", {})
    assert response.status_code == 200
    assert "Choose at least one dataset." in response.content.decode()


def test_it_runs_the_action_on_the_selected_datasets(
    operator: Client,
    epa: FactorDataset,
    settings: Any,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    settings.JOBS_IN_PROCESS = True
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            "/admin/factors/factordataset/",
            {"action": "ingest_again", "_selected_action": [str(epa.id)]},
        )
    assert response.status_code == 302
    jobs = operator.get(response["Location"]).content.decode()
    assert "unchanged as version 1" in jobs
    assert FactorDataset.objects.filter(key="epa_hub_2025").count() == 1


def test_it_keeps_the_ingestion_to_superusers(tenants: dict[str, object], db: None) -> None:
    with schema_context("public"):
        staff = User.objects.create_user(
            "staff@factortrace.example", None, full_name="Staff", is_staff=True
        )
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    assert client.post("/admin/factors/factordataset/ingest/", {"dataset": "x"}).status_code == 403
    assert client.get("/admin/factors/factordataset/ingest/jobs/").status_code == 403


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis for the RQ queue")
def test_it_queues_one_job_per_dataset_and_shows_their_progress(
    operator: Client, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue(INGEST_QUEUE)

    def clear() -> None:
        queue.empty()
        for registry in (queue.finished_job_registry, queue.failed_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)

    clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            operator.post(
                "/admin/factors/factordataset/ingest/",
                {"dataset": ["epa_hub_2025", "aib_residual_mix_2021"]},
            )
        jobs = list(queue.jobs)
        assert sorted(j.args[2]["dataset_key"] for j in jobs) == [
            "aib_residual_mix_2021",
            "epa_hub_2025",
        ]
        assert all(j.args[:2] == (INGEST_JOB, "public") for j in jobs)
        waiting = operator.get("/admin/factors/factordataset/ingest/jobs/").content.decode()
        assert waiting.count('<strong class="job-status">queued</strong>') == 2
        assert 'http-equiv="refresh"' in waiting
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        done = operator.get("/admin/factors/factordataset/ingest/jobs/").content.decode()
        assert done.count('<strong class="job-status">finished</strong>') == 2
        assert 'value="100"' in done
        assert "ingested as version 1: 362 factors" in done
        assert FactorDataset.objects.filter(key="aib_residual_mix_2021").exists()
    finally:
        clear()
