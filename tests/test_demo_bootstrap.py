"""The demo workspace's first run: the organisation, its two sites and a year of a supplier's
activity data, imported through the wizard's own services; a second start changes nothing. The
upload page offers the same supplier's sample file.

Personas: alice owns acme (standing in for the demo owner), bob only reads acme. The factor
library is the shipped datasets (the `library` fixture).
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord, OrganisationProfile, ReportingPeriod, Site
from imports.models import ImportRun, ImportStatus
from tenants.demo import LINES, sample_file, supplier_file, supplier_rows
from tests.conftest import ALICE


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


def _seed() -> Any:
    from tenants.demo import demo_workspace_seed

    with (
        override_settings(JOBS_IN_PROCESS=True),
        TestCase.captureOnCommitCallbacks(execute=True),
        schema_context("acme"),
    ):
        return demo_workspace_seed(owner_email=ALICE.email)


def _state() -> tuple[Any, ...]:
    with schema_context("acme"):
        records = ActivityRecord.objects.order_by("id")
        return (
            ImportRun.objects.count(),
            # One activity line per row of the file (fuels, electricity, travel and freight also
            # bring their WTT / T&D companion lines, counted in the total below).
            records.filter(line_kind="main").count(),
            round(sum(r.kg_co2e or 0 for r in records), 3),
            Site.objects.count(),
            OrganisationProfile.objects.count(),
        )


def test_the_supplier_file_is_a_year_of_realistic_activity() -> None:
    frame = pd.read_csv(io.BytesIO(supplier_file()), sep=";", dtype=str)
    assert len(frame) == 12 * len(LINES)
    assert frame["Datum"].str.endswith(".2024").all()
    assert set(frame["Land"]) == {"DE", "CZ"}
    assert frame["Beschreibung"].str.contains("Strom").any()
    # German number format, as the ERP writes it.
    assert frame["Menge"].str.contains(r"\.\d{3}", regex=True).any()
    assert supplier_file() == supplier_file()  # deterministic: the same file at every start
    assert len(supplier_rows(months=3)) == 3 * len(LINES)


def test_the_demo_inventory_is_imported_once_through_the_pipeline(library: None) -> None:
    seeded = _seed()
    assert seeded.message == ""
    assert seeded.created
    # The commit job is queued (here it runs in-process once the seed's writes commit).
    assert seeded.status in {ImportStatus.COMMITTING, ImportStatus.COMMITTED}
    count, records, kg, sites, profiles = _state()
    assert (count, records, sites, profiles) == (1, 12 * len(LINES), 2, 1)
    assert kg > 0
    with schema_context("acme"):
        run = ImportRun.objects.get()
        assert run.status == ImportStatus.COMMITTED
        assert run.template is not None  # the mapping is saved: the sample file is mapped for you
        assert run.rows_invalid == 0
        scopes = set(ActivityRecord.objects.values_list("scope", flat=True))
        sites_used = set(ActivityRecord.objects.values_list("site", flat=True))
    assert scopes == {1, 2, 3}
    assert sites_used == {"Werk Ulm", "Werk Brno"}
    with schema_context("acme"):
        # A report can be generated at once: the entity has an identifier and a period.
        assert OrganisationProfile.objects.get().identifier
        assert ReportingPeriod.objects.filter(name="FY2024").count() == 1

    again = _seed()
    assert not again.created
    assert again.run_id == seeded.run_id
    assert _state() == (count, records, kg, sites, profiles)


def test_the_upload_page_offers_a_sample_file(alice: Client, bob: Client) -> None:
    page = alice.get(reverse("import_upload")).content.decode()
    assert f'href="{reverse("import_sample")}"' in page
    response = alice.get(reverse("import_sample"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content == sample_file()
    # Viewers may download it; starting an import with it is for editors.
    assert bob.get(reverse("import_sample")).status_code == 200
    assert bob.post(reverse("import_sample")).status_code == 403


def test_the_sample_file_starts_an_import(alice: Client) -> None:
    with override_settings(JOBS_IN_PROCESS=True), TestCase.captureOnCommitCallbacks(execute=True):
        response = alice.post(reverse("import_sample"))
    with schema_context("acme"):
        run = ImportRun.objects.get()
    assert response["Location"] == reverse("import_reading", kwargs={"run_id": run.id})
    assert run.status == ImportStatus.UPLOADED
    assert run.rows_total == 0
    assert run.detected["rows"] == 3 * len(LINES)
