"""A contract's MWh cover its site's records of every import in date order (first kWh first),
recomputed when imports are committed or undone and when contracts are added, changed or
deleted; the market-based figures and their provenance replay.

Hand calculation. Werk Ulm (DE) imports two files for 2024:
  import A: 31 Jan 3,000 kWh; 31 Mar 2,000 kWh
  import B: 29 Feb 4,000 kWh; 30 Apr 1,000 kWh
A certificate of 5 MWh at 0 kg covers the first 5,000 kWh consumed in 2024. The kWh it does not
cover take Germany's residual mix, AIB 2021 (the latest before 2024): 0.61784 kg/kWh (data/raw/
ignite_activity_factors/activity_based_EF_database.csv line 355, "Emission factor
(market-based)"). Location-based is the AIB production mix DE 2021, 0.37764 kg/kWh (same line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from emissions.replay import tenants_replay
from emissions.services_org import (
    contractual_instrument_create,
    contractual_instrument_delete,
    contractual_instrument_update,
)
from imports.models import ImportRun, ImportStatus
from imports.services import (
    import_run_create,
    import_run_set_mapping,
    import_run_start_commit,
    import_run_undo,
    import_run_validate,
)
from tests.conftest import library_add
from tests.org_helpers import make_site
from tests.test_org_regions import MAPPING

RESIDUAL_DE, LOCATION_DE = 0.61784, 0.37764
FILE_A = "Date,Activity,kWh,Site,Country\n2024-01-31,Electricity,3000,Ulm,\n2024-03-31,Electricity,2000,Ulm,\n"
FILE_B = "Date,Activity,kWh,Site,Country\n2024-02-29,Electricity,4000,Werk Ulm,\n2024-04-30,Electricity,1000,Werk Ulm,\n"


@pytest.fixture
def acme(
    tenants: dict[str, object],
    library: None,
    db: None,
    settings: Any,
) -> Iterator[None]:
    library_add("aib_residual_mix_2021")
    settings.JOBS_IN_PROCESS = True
    with schema_context("acme"):
        yield


def _commit(csv: str, name: str, capture: Callable[..., Any]) -> ImportRun:
    run = import_run_create(upload=SimpleUploadedFile(name, csv.encode()), user=None)
    import_run_set_mapping(run=run, mapping=MAPPING, template_name=None, user=None)
    import_run_validate(run=run)
    with capture(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED
    return run


def _market() -> dict[str, tuple[float, str, float]]:
    """By month: (market-based kg, basis, covered share)."""
    return {
        r.date.strftime("%b"): (
            r.kg_co2e_market,
            r.market_basis,
            r.provenance["scope2_market"].get("covered_share", 0.0),
        )
        for r in ActivityRecord.objects.filter(line_kind="main", scope=2)
    }


def _certificate(site: Any, mwh: float) -> Any:
    import datetime as dt

    return contractual_instrument_create(
        kind="certificate",
        site=site,
        supplier="Stadtwerke Ulm",
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 12, 31),
        mwh_covered=mwh,
        kg_co2e_per_kwh=0.0,
        certificate_ids="GO-2024-0001",
    )


def _assert_replays() -> None:
    assert tenants_replay() == {}


def test_two_imports_share_a_contract_in_date_order(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    _certificate(site, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    # Import A alone: its 5,000 kWh are all covered.
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Mar": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
    }
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)
    # Jan 3,000 covered; Feb 2,000 of 4,000 covered (the MWh run out); Mar and Apr not.
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Feb": (pytest.approx(2000 * RESIDUAL_DE), "contractual+residual_mix", pytest.approx(0.5)),
        "Mar": (pytest.approx(2000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    records = ActivityRecord.objects.filter(line_kind="main", scope=2)
    # The location-based figures never move: 10,000 kWh x 0.37764.
    assert sum(r.kg_co2e for r in records) == pytest.approx(10_000 * LOCATION_DE)
    assert sum(r.kg_co2e_market for r in records) == pytest.approx(5000 * RESIDUAL_DE)
    _assert_replays()


def test_undoing_the_first_import_moves_the_coverage_to_the_second(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    _certificate(site, 5.0)
    first = _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)
    import_run_undo(run=first, user=None)
    # Import B's 5,000 kWh now take the whole certificate.
    assert _market() == {
        "Feb": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Apr": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
    }
    _assert_replays()


def test_a_contract_added_changed_and_deleted_after_the_imports(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)
    residual_only = {
        "Jan": (pytest.approx(3000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Feb": (pytest.approx(4000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Mar": (pytest.approx(2000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    assert _market() == residual_only
    certificate = _certificate(site, 5.0)
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Feb": (pytest.approx(2000 * RESIDUAL_DE), "contractual+residual_mix", pytest.approx(0.5)),
        "Mar": (pytest.approx(2000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    _assert_replays()
    # 8 MWh: Jan 3,000 + Feb 4,000 + 1,000 of March's 2,000.
    contractual_instrument_update(instrument=certificate, mwh_covered=8.0)
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Feb": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Mar": (pytest.approx(1000 * RESIDUAL_DE), "contractual+residual_mix", pytest.approx(0.5)),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    _assert_replays()
    contractual_instrument_delete(instrument=certificate)
    assert _market() == residual_only
    _assert_replays()


def test_deleting_a_covered_record_passes_its_coverage_on(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.services_activities import activity_record_delete

    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    _certificate(site, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)
    january = ActivityRecord.objects.get(line_kind="main", date__month=1)
    activity_record_delete(record=january)
    # Feb 4,000 and 1,000 of March's 2,000.
    assert _market() == {
        "Feb": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Mar": (pytest.approx(1000 * RESIDUAL_DE), "contractual+residual_mix", pytest.approx(0.5)),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    _assert_replays()


def test_the_owner_edits_a_contract_and_the_records_follow(
    acme: None, alice: Any, bob: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    certificate = _certificate(site, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)
    url = f"/settings/contracts/{certificate.id}/"
    page = alice.get(url)
    assert page.status_code == 200
    assert b'data-testid="contract-edit-form"' in page.content
    form = {
        "kind": "certificate",
        "carrier": "electricity",
        "site": str(site.id),
        "supplier": "Stadtwerke Ulm",
        "start": "2024-01-01",
        "end": "2024-12-31",
        "mwh_covered": "8",
        "kg_co2e_per_kwh": "0",
        "certificate_ids": "GO-2024-0001",
    }
    assert bob.post(url, form).status_code == 403  # a viewer changes nothing
    assert _market()["Mar"][1] == "residual_mix"
    bad = alice.post(url, {**form, "end": "2023-12-31"})
    assert bad.status_code == 422  # ends before it starts: nothing saved
    assert _market()["Mar"][1] == "residual_mix"
    assert alice.post(url, form).status_code == 302
    assert _market()["Mar"] == (
        pytest.approx(1000 * RESIDUAL_DE),
        "contractual+residual_mix",
        pytest.approx(0.5),
    )
    _assert_replays()


def test_moving_a_contract_to_another_site_frees_the_first_sites_records(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.forms_org import ContractualInstrumentForm

    ulm = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    other = make_site(name="Werk Neu-Ulm", country="DE", aliases=[])
    certificate = _certificate(ulm, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)
    form = ContractualInstrumentForm(
        data={
            "kind": "certificate",
            "carrier": "electricity",
            "site": str(other.id),
            "supplier": "Stadtwerke Ulm",
            "start": "2024-01-01",
            "end": "2024-12-31",
            "mwh_covered": "5",
            "kg_co2e_per_kwh": "0",
        },
        instance=certificate,
    )
    assert form.is_valid(), form.errors
    contractual_instrument_update(instrument=certificate, site=form.cleaned_data["site"])
    assert _market() == {
        "Jan": (pytest.approx(3000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Mar": (pytest.approx(2000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    _assert_replays()


def test_renaming_a_site_or_removing_an_alias_moves_records_in_and_out_of_its_contracts(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.services_org import site_update

    site = make_site(name="Werk Ulm", country="DE", aliases=["Ulm"])
    _certificate(site, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)  # site "Ulm": Jan, Mar
    _commit(FILE_B, "b.csv", django_capture_on_commit_callbacks)  # site "Werk Ulm": Feb, Apr
    # Without the alias, January's and March's "Ulm" rows are no site's: the residual mix; the
    # certificate's 5 MWh go to February's 4,000 and April's 1,000 kWh.
    site_update(site=site, aliases=[])
    assert _market() == {
        "Jan": (pytest.approx(3000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Feb": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Mar": (pytest.approx(2000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Apr": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
    }
    _assert_replays()
    # Renamed, with "Ulm" back: the "Werk Ulm" rows leave, the "Ulm" rows take the certificate.
    site.refresh_from_db()
    site_update(site=site, name="Ulmer Werk", aliases=["Ulm"])
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Feb": (pytest.approx(4000 * RESIDUAL_DE), "residual_mix", 0.0),
        "Mar": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Apr": (pytest.approx(1000 * RESIDUAL_DE), "residual_mix", 0.0),
    }
    _assert_replays()


def test_an_alias_added_at_an_import_brings_earlier_records_under_the_sites_contracts(
    acme: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.services_org import sites_add_names

    site = make_site(name="Werk Ulm", country="DE", aliases=[])
    _certificate(site, 5.0)
    _commit(FILE_A, "a.csv", django_capture_on_commit_callbacks)  # "Ulm": no site's yet
    assert [share for _, _, share in _market().values()] == [0.0, 0.0]
    # A later import's sites step names "Ulm" an alias of Werk Ulm.
    sites_add_names(new_sites=[], aliases=[(site, "Ulm")])
    assert _market() == {
        "Jan": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
        "Mar": (pytest.approx(0.0), "contractual", pytest.approx(1.0)),
    }
    _assert_replays()
