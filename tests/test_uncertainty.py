"""Uncertainty in the product: documented defaults for every library factor, supplier factors'
own, records' data-quality tiers, and the inventory's Monte Carlo as a coalesced background job
whose 95 % intervals the activities page shows."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from emissions.models import UncertaintyRun, UncertaintyStatus
from emissions.selectors_inventory import inventory_totals, inventory_uncertainty
from emissions.services_activities import activity_record_delete, activity_record_update
from emissions.services_uncertainty import (
    factor_uncertainties,
    uncertainty_run_job,
    uncertainty_run_request,
)
from emissions.uncertainty_defaults import (
    DEFAULTS_PATH,
    gsd_from_ci95,
    library_factor_default,
    record_data_quality,
    record_tier_gsd,
    uncertainty_defaults,
)
from imports.pipeline.normalise import parse_data_quality
from tests.factor_helpers import make_library_factor, make_supplier_factor
from tests.import_helpers import make_activity_record

MAPPINGS = Path(__file__).resolve().parents[1] / "data" / "mappings"
Z = 1.959963984540054


@pytest.fixture(autouse=True)
def _no_runs_yet(tenants: dict[str, object], db: None) -> None:
    """Each test starts without Monte Carlo runs (rolled back with the test's transaction)."""
    with schema_context("acme"):
        UncertaintyRun.objects.all().delete()


@pytest.fixture
def acme(tenants: dict[str, object], db: None) -> Iterator[None]:
    with schema_context("acme"):
        yield


def _mapping_values(name: str) -> set[str]:
    """Every value of a key called ``name`` in the shipped dataset mappings."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == name and isinstance(value, str):
                    found.add(value)
                elif key == "kinds" and name == "kind" and isinstance(value, dict):
                    found.update(str(v) for v in value.values())
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in MAPPINGS.rglob("*.yml"):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def test_it_documents_a_sourced_default_for_every_shipped_dataset_and_kind() -> None:
    defaults = uncertainty_defaults()
    families = _mapping_values("family")
    kinds = _mapping_values("kind") - {"activity"}
    assert families >= {"defra", "epa_hub", "exiobase", "useeio"}
    assert kinds >= {"fuel", "grid_electricity", "spend"}
    for kind in kinds:
        assert kind in defaults["factor_kinds"], kind
    entries = [
        *defaults["factor_kinds"].values(),
        *defaults["factor_families"].values(),
        *defaults["factor_bases"].values(),
        defaults["factor_fallback"],
        defaults["supplier_factor"],
        *defaults["record_tiers"].values(),
    ]
    for entry in entries:
        assert entry["ci95_pct"] > 0
        assert entry["basis"] in ("published", "assessed")
        assert len(entry["source"]) > 20
    assert DEFAULTS_PATH.name == "defaults.yml"
    # Spend-based EEIO is far less certain than a combustion factor.
    fuel = library_factor_default(family="defra", kind="fuel", basis="activity")
    eeio = library_factor_default(family="useeio", kind="spend", basis="spend")
    assert "IPCC 2006" in fuel["source"]
    assert eeio["gsd"] > fuel["gsd"]
    assert eeio["applies"] == "factor_families.useeio"
    assert library_factor_default(family="?", kind="?", basis="?")["applies"] == "factor_fallback"


def test_it_reads_a_95_percent_range_as_a_lognormal() -> None:
    for pct in (2, 10, 100):
        gsd = gsd_from_ci95(pct)
        assert math.exp(Z * math.log(gsd)) == pytest.approx(1 + pct / 100)
    tiers = record_tier_gsd()
    assert tiers["metered"] < tiers["invoiced"] < tiers["estimated"]


def test_it_derives_the_data_quality_tier() -> None:
    tiers = np.array(["spend", "secondary", "secondary", "primary"], dtype=object)
    given = np.array(["metered", "Invoiced", "guessed", None], dtype=object)
    assert list(record_data_quality(tiers, given)) == [
        "spend_based",  # a money factor decides
        "invoiced",
        "estimated",  # unknown: the documented default
        "estimated",
    ]
    assert list(record_data_quality(tiers, "metered")) == [
        "spend_based",
        "metered",
        "metered",
        "metered",
    ]
    assert list(record_data_quality(tiers)) == ["spend_based", *["estimated"] * 3]


def test_it_gives_every_factor_an_uncertainty(acme: None) -> None:
    published = make_library_factor(
        name="Published", uncertainty_distribution="normal", uncertainty_sd=0.3
    )
    with schema_context("public"):
        from factors.models import FactorDataset

        FactorDataset.objects.filter(key="test_2024").update(family="exiobase")
    eeio = make_library_factor(publisher_id="w2", name="Spend", kind="spend", basis="spend")
    stated = make_supplier_factor(uncertainty_gsd=1.2)
    silent = make_supplier_factor(name="Silent")
    frame = factor_uncertainties(
        [f"lib:{published.id}", f"lib:{eeio.id}", f"sup:{stated.id}", f"sup:{silent.id}"]
    )
    rows = frame.to_dict("index")
    assert rows[f"lib:{published.id}"]["uncertainty_distribution"] == "normal"
    assert rows[f"lib:{published.id}"]["uncertainty_sd"] == 0.3
    assert rows[f"lib:{eeio.id}"]["uncertainty_gsd"] == pytest.approx(gsd_from_ci95(100))
    assert rows[f"sup:{stated.id}"]["uncertainty_gsd"] == 1.2
    supplier_default = uncertainty_defaults()["supplier_factor"]["ci95_pct"]
    assert rows[f"sup:{silent.id}"]["uncertainty_gsd"] == pytest.approx(
        gsd_from_ci95(supplier_default)
    )


def test_it_keeps_one_waiting_run_per_tenant(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = uncertainty_run_request()
        assert uncertainty_run_request() is None
        assert uncertainty_run_request() is None
    assert first is not None
    assert len(callbacks) == 1
    assert UncertaintyRun.objects.filter(status=UncertaintyStatus.PENDING).count() == 1
    # Once it runs, the next change queues the next run.
    assert uncertainty_run_job(run_id=first.id, iterations=100)["status"] == "done"
    assert uncertainty_run_job(run_id=first.id, iterations=100)["status"] == "skipped"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert uncertainty_run_request() is not None
    assert len(callbacks) == 1
    # A run left waiting for half an hour lost its job: the next change queues it again.
    waiting = UncertaintyRun.objects.get(status=UncertaintyStatus.PENDING)
    UncertaintyRun.objects.filter(id=waiting.id).update(
        requested_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert uncertainty_run_request() is None
    assert len(callbacks) == 1
    assert UncertaintyRun.objects.filter(status=UncertaintyStatus.PENDING).count() == 1


def test_it_queues_a_run_after_an_edit_and_a_deletion(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    record = make_activity_record()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        activity_record_update(record=record, user=None, quantity=120.0)
    assert len(callbacks) == 1
    assert UncertaintyRun.objects.get().status == UncertaintyStatus.PENDING
    UncertaintyRun.objects.update(status=UncertaintyStatus.DONE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        activity_record_delete(record=record)
    assert len(callbacks) == 1


def test_the_monte_carlo_moves_records_of_one_factor_together(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """40 records of 25 kg on one supplier factor stated at GSD 1.5 (metered, 2 %): the total
    varies as the factor does (x/÷ 1.5^1.96), not as 40 independent draws would (about 1/sqrt(40)
    of that width); Scope 3 on an EEIO-like default adds its own interval."""
    settings.JOBS_IN_PROCESS = True
    from emissions.models import ActivityRecord

    shared = make_supplier_factor(uncertainty_gsd=1.5)
    ActivityRecord.objects.bulk_create(
        ActivityRecord(
            date=dt.date(2024 + i % 2, 1 + i % 12, 1),
            activity="Diesel",
            quantity=10.0,
            unit="L",
            scope=1,
            tier="primary",
            data_quality="metered",
            supplier_factor=shared,
            factor_version="supplier",
            gwp_set="AR5",
            kg_co2e=25.0,
        )
        for i in range(40)
    )
    make_activity_record(
        scope=3, category=1, kg_co2e=500.0, tier="spend", data_quality="spend_based"
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = uncertainty_run_request()
    assert run is not None
    run.refresh_from_db()
    assert run.status == UncertaintyStatus.DONE
    assert (run.progress, run.iterations, run.records) == (100, 10_000, 41)
    result = inventory_uncertainty()
    assert result.active is None
    scope_1 = result.groups["scope_1"]
    assert scope_1.deterministic == pytest.approx(1000.0)
    assert scope_1.mean == pytest.approx(1000.0, rel=0.02)
    # Lognormal with the mean kept: median = 1000 / sqrt(GSD-variance term).
    sigma = math.sqrt(math.log(1.5) ** 2 + math.log(gsd_from_ci95(2)) ** 2 / 40)
    median = 1000.0 * math.exp(-(math.log(1.5) ** 2) / 2)
    assert scope_1.p2_5 == pytest.approx(median * math.exp(-Z * sigma), rel=0.04)
    assert scope_1.p97_5 == pytest.approx(median * math.exp(Z * sigma), rel=0.04)
    total = result.groups["total"]
    assert total.deterministic == pytest.approx(inventory_totals().location)
    assert total.p2_5 < total.deterministic < total.p97_5
    # Per calendar year too.
    years = {r.period for r in run.results.all()}
    assert years == {"", "2024", "2025"}
    assert run.results.get(period="2024", group="scope_1").deterministic == pytest.approx(500.0)


def test_the_activities_page_shows_each_scopes_interval_or_being_computed(
    alice: Client, tenants: dict[str, object], db: None, settings: Any
) -> None:
    make_activity_record(kg_co2e=250.0)
    with schema_context("acme"):
        assert "Not computed yet" in alice.get(reverse("activities")).content.decode()
        run = UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING)
    html = alice.get(reverse("activities")).content.decode()
    assert "Being computed" in html
    assert 'hx-trigger="every 5s"' in html  # the page asks again until it is done
    assert 'data-testid="interval-scope_1"' not in html
    with schema_context("acme"):
        uncertainty_run_job(run_id=run.id, iterations=500)
        run.refresh_from_db()
    html = alice.get(reverse("activities")).content.decode()
    assert 'data-testid="interval-scope_1"' in html
    assert 'data-testid="interval-total"' in html
    assert f"computed {timezone.localtime(run.finished_at):%-d %b %Y, %H:%M}" in html
    assert "Being computed" not in html
    assert 'hx-trigger="every 5s"' not in html
    with schema_context("acme"):
        UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING)
    html = alice.get(reverse("activities")).content.decode()
    assert 'data-testid="interval-scope_1"' in html
    assert "A newer one is being computed" in html


def test_a_large_inventory_is_shared_between_workers_with_the_same_numbers(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The chunks of a shared run are separate jobs (any worker, any order); their samples give
    exactly what one job computing them in turn gives with the same seed."""
    settings.JOBS_IN_PROCESS = True
    make_activity_record(kg_co2e=250.0, data_quality="metered")
    make_activity_record(date=dt.date(2023, 5, 1), scope=2, kg_co2e=80.0)
    make_activity_record(scope=3, category=4, kg_co2e=40.0, data_quality="estimated")
    alone = UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING, seed=42)
    assert uncertainty_run_job(run_id=alone.id, iterations=2500, share=False)["status"] == "done"
    shared = UncertaintyRun.objects.create(status=UncertaintyStatus.PENDING, seed=42)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = uncertainty_run_job(run_id=shared.id, iterations=2500, share=True)
    # Whole inventory, 2023 and 2024, each in chunks of 1,000, 1,000 and 500 iterations.
    assert outcome == {"status": "shared", "chunks": 9}
    assert len(callbacks) == 9
    shared.refresh_from_db()
    assert shared.status == UncertaintyStatus.RUNNING
    for callback in reversed(callbacks):  # in any order
        callback()
        assert shared.chunks.count() in (0, *range(1, 9))  # stored until the last one summarises
    shared.refresh_from_db()
    assert (shared.status, shared.progress, shared.inputs) == (UncertaintyStatus.DONE, 100, None)

    def results(run: UncertaintyRun) -> dict[tuple[str, str], tuple[float, ...]]:
        return {
            (r.period, r.group): (r.deterministic, r.mean, r.p2_5, r.p97_5)
            for r in run.results.all()
        }

    assert results(shared) == results(alone)
    assert {p for p, _ in results(shared)} == {"", "2023", "2024"}


def test_an_editor_sets_a_records_data_quality_and_the_page_totals_by_tier(
    alice: Client, tenants: dict[str, object], db: None
) -> None:
    record = make_activity_record(kg_co2e=250.0)
    make_activity_record(scope=3, category=1, tier="spend", data_quality="spend_based", kg_co2e=9.0)
    url = reverse("activities_edit", kwargs={"record_id": record.id})
    form = {
        "date": "2024-01-15",
        "activity": "Diesel",
        "quantity": "100",
        "unit": "L",
        "site": "Köln",
        "notes": "",
    }
    assert alice.post(url, {**form, "data_quality": "metered"}).status_code == 302
    with schema_context("acme"):
        record.refresh_from_db()
        assert record.data_quality == "metered"
        assert UncertaintyRun.objects.filter(status=UncertaintyStatus.PENDING).exists()
    assert alice.post(url, {**form, "data_quality": "spend_based"}).status_code == 422
    assert alice.post(url, form).status_code == 302  # left out: the tier stays
    with schema_context("acme"):
        record.refresh_from_db()
        assert record.data_quality == "metered"
    html = alice.get(reverse("activities")).content.decode()
    table = html[html.index('data-testid="by-data-quality"') :]
    assert '<td>Metered</td><td class="num">1</td><td class="num">250.000</td>' in table
    assert '<td>Spend-based</td><td class="num">1</td><td class="num">9.000</td>' in table


def test_the_import_reads_a_tier_in_the_words_files_use() -> None:
    parsed = parse_data_quality(
        pd.Series(["Metered", "Gemessen", "invoice", "Rechnung", "Geschätzt", "spend-based", "?"])
    )
    assert list(parsed.values[:6]) == [
        "metered",
        "metered",
        "invoiced",
        "invoiced",
        "estimated",
        "spend_based",
    ]
    assert list(parsed.errors["code"]) == ["invalid_data_quality"]
    assert "metered, invoiced, estimated or spend-based" in parsed.errors["suggestion"].iloc[0]
