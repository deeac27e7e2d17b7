"""Changing the factor of every record of one activity after commit: the request (checked at once),
the job (one transaction, provenance old and new, remembered choice) and the page (confirm first,
owners and editors only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from emissions.models import ActivityRecord, FactorChange, FactorChangeStatus
from emissions.selectors_refactor import activity_group
from emissions.services_refactor import (
    FactorChangeError,
    activity_factor_change_job,
    activity_factor_change_request,
)
from factors.models import EmissionFactor
from imports.models import FactorChoice
from tests.conftest import ALICE, EDDIE
from tests.factor_helpers import make_library_factor

# Test factors (not a standard's figures): an old and a new kg CO2e per kg of widgets.
OLD_KG, NEW_KG = 1.5, 2.25


@pytest.fixture
def factors(
    tenants: dict[str, object], db: None
) -> Iterator[tuple[EmissionFactor, EmissionFactor]]:
    old = make_library_factor(publisher_id="old", name="Widgets, generic", kg_co2e=OLD_KG)
    new = make_library_factor(
        publisher_id="new", name="Widgets, recycled", kg_co2e=NEW_KG, scope="3",
        scope3_category=1,
    )  # fmt: skip
    yield old, new
    connection.set_schema_to_public()


def _record(factor: EmissionFactor, **fields: Any) -> ActivityRecord:
    values: dict[str, Any] = {
        "date": dt.date(2024, 3, 1),
        "activity": "Widgets",
        "quantity": 10.0,
        "unit": "kg",
        "scope": 1,
        "tier": "secondary",
        "factor": factor,
        "factor_version": "test_2024 v1",
        "gwp_set": "AR5",
        "kg_co2e": 10.0 * factor.kg_co2e,
        "provenance": {},  # put in by hand, not by a write path: no replay check
        **fields,
    }
    return ActivityRecord.objects.create(**values)


@pytest.fixture
def records(factors: tuple[EmissionFactor, EmissionFactor]) -> Iterator[dict[str, ActivityRecord]]:
    old, _ = factors
    with schema_context("acme"):
        yield {
            "a": _record(old),
            "b": _record(
                old, activity="\n widgets\t", quantity=4.0, unit="t", kg_co2e=4000 * OLD_KG
            ),
            "litres": _record(old, quantity=3.0, unit="L", kg_co2e=0.0),
            "other": _record(old, activity="Gadgets"),
        }


def _alice() -> User:
    return User.objects.get(email=ALICE.email)


def _run_jobs(settings: Any, capture: Callable[..., Any]) -> Any:
    settings.JOBS_IN_PROCESS = True
    return capture(execute=True)


def test_it_groups_records_by_activity_key_and_unit_dimension(
    records: dict[str, ActivityRecord],
) -> None:
    group = activity_group(activity="WIDGETS", dimension="mass")
    assert set(group.values_list("id", flat=True)) == {records["a"].id, records["b"].id}
    volume = activity_group(activity="widgets", dimension="volume")
    assert list(volume.values_list("id", flat=True)) == [records["litres"].id]


def test_it_recalculates_every_record_of_the_activity_in_one_job(
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    old, new = factors
    with _run_jobs(settings, django_capture_on_commit_callbacks) as callbacks:
        change = activity_factor_change_request(
            record=records["a"],
            factor_id=new.id,
            reason="Supplier uses recycled input",
            user=_alice(),
        )
    assert len(callbacks) == 1
    change.refresh_from_db()
    assert change.status == FactorChangeStatus.DONE
    assert change.records_changed == 2
    assert change.kg_co2e_before == pytest.approx(10 * OLD_KG + 4000 * OLD_KG)
    assert change.kg_co2e_after == pytest.approx(10 * NEW_KG + 4000 * NEW_KG)
    a = ActivityRecord.objects.get(id=records["a"].id)
    b = ActivityRecord.objects.get(id=records["b"].id)
    assert a.factor_id == new.id
    assert a.kg_co2e == pytest.approx(10 * NEW_KG)
    assert b.kg_co2e == pytest.approx(4000 * NEW_KG)  # 4 t converted to kg
    assert (a.scope, a.category) == (3, 1)
    assert a.factor_version == "test_2024 v1"
    step = a.provenance["factor_changes"][-1]
    assert step["old"] == {"factor_id": old.id, "name": old.name, "version": "test_2024 v1"}
    assert step["new"]["factor_id"] == new.id
    assert step["kg_co2e_before"] == pytest.approx(10 * OLD_KG)
    assert (step["by"], step["reason"], step["change"]) == (
        ALICE.email, "Supplier uses recycled input", change.id,
    )  # fmt: skip
    assert a.provenance["calculation"]["factor"]["kg_co2e_per_unit"] == NEW_KG
    # Records of another unit dimension or activity are left alone.
    assert ActivityRecord.objects.get(id=records["litres"].id).factor_id == old.id
    assert ActivityRecord.objects.get(id=records["other"].id).kg_co2e == pytest.approx(10 * OLD_KG)
    # The next import of "widgets" in kg uses the new factor.
    choice = FactorChoice.objects.get(activity_key="widgets", unit_dimension="mass")
    assert (choice.factor_id, choice.chosen_by_id) == (new.id, _alice().id)
    # The job claims its change once.
    assert activity_factor_change_job(change_id=change.id) == {"status": "skipped"}


def test_it_refuses_bad_requests_and_stores_nothing(
    records: dict[str, ActivityRecord], factors: tuple[EmissionFactor, EmissionFactor]
) -> None:
    _, new = factors
    per_litre = make_library_factor(
        publisher_id="litre", name="Widget paint", unit="L", unit_dimension="volume"
    )
    with schema_context("acme"):
        with pytest.raises(FactorChangeError, match="does not exist"):
            activity_factor_change_request(
                record=records["a"], factor_id=999_999_999, reason="x", user=None
            )
        with pytest.raises(FactorChangeError, match="Say why") as reason:
            activity_factor_change_request(
                record=records["a"], factor_id=new.id, reason=" ", user=None
            )
        assert reason.value.field == "reason"
        with pytest.raises(FactorChangeError, match="2 of 2 records cannot be calculated"):
            activity_factor_change_request(
                record=records["a"], factor_id=per_litre.id, reason="paint", user=None
            )
        assert not FactorChange.objects.exists()
        assert ActivityRecord.objects.get(id=records["a"].id).kg_co2e == pytest.approx(10 * OLD_KG)


def test_it_changes_nothing_when_a_record_no_longer_computes(
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _, new = factors
    change = activity_factor_change_request(
        record=records["a"], factor_id=new.id, reason="recycled", user=None
    )
    # Between the request and the job, one record gets a quantity the factor cannot take.
    ActivityRecord.objects.filter(id=records["b"].id).update(unit="kWh")
    ActivityRecord.objects.filter(id=records["a"].id).update(unit="m")
    ActivityRecord.objects.create(
        **{
            **{f: getattr(records["a"], f) for f in ("date", "scope", "tier", "gwp_set")},
            "activity": "Widgets", "quantity": 1.0, "unit": "kg", "factor_id": records["a"].factor_id,
            "factor_version": "test_2024 v1", "kg_co2e": 1.5,
        }
    )  # fmt: skip
    EmissionFactor.objects.filter(id=new.id).update(unit="L", unit_dimension="volume")
    result = activity_factor_change_job(change_id=change.id)
    assert result["status"] == "failed"
    change.refresh_from_db()
    assert change.status == FactorChangeStatus.FAILED
    assert "cannot be calculated" in change.error
    assert not ActivityRecord.objects.filter(factor_id=new.id).exists()
    assert not FactorChoice.objects.filter(activity_key="widgets").exists()


def test_it_finishes_a_change_whose_records_are_gone(
    records: dict[str, ActivityRecord], factors: tuple[EmissionFactor, EmissionFactor]
) -> None:
    _, new = factors
    change = activity_factor_change_request(
        record=records["a"], factor_id=new.id, reason="recycled", user=None
    )
    ActivityRecord.objects.filter(activity__icontains="widgets").delete()
    assert activity_factor_change_job(change_id=change.id) == {"status": "done", "records": 0}
    change.refresh_from_db()
    assert (change.status, change.records_changed) == (FactorChangeStatus.DONE, 0)


# -- the page -------------------------------------------------------------------------------


def _url(record: ActivityRecord) -> str:
    return f"/activities/{record.id}/factor/"


def test_it_shows_the_activity_and_the_search(
    alice: Client, records: dict[str, ActivityRecord]
) -> None:
    response = alice.get(_url(records["a"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 records of this activity (mass)" in html
    assert 'name="q"' in html
    assert 'value="lib:' in html
    assert '<option value="mass" selected>' in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "cheaper"}, "Choose a factor in the list."),
        ({"reason": "cheaper", "factor": "lib:abc"}, "Choose a factor in the list."),
        ({"reason": "cheaper", "factor": "lib:999999999"}, "does not exist"),
        ({"reason": "", "factor": "NEW"}, "Say why the factor changes"),
        ({"reason": "paint", "factor": "PAINT"}, "cannot be calculated with this factor"),
    ],
)
def test_it_answers_bad_input_with_a_form_error_and_changes_nothing(
    alice: Client,
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    data: dict[str, str],
    message: str,
) -> None:
    paint = make_library_factor(
        publisher_id="paint", name="Paint", unit="L", unit_dimension="volume"
    )
    data = {
        **data,
        "factor": data.get("factor", "")
        .replace("NEW", f"lib:{factors[1].id}")
        .replace("PAINT", f"lib:{paint.id}"),
        "confirm": "on",
    }
    response = alice.post(_url(records["a"]), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    with schema_context("acme"):
        assert not FactorChange.objects.exists()
        assert ActivityRecord.objects.get(id=records["a"].id).factor_id == factors[0].id


def test_it_confirms_before_recalculating(
    alice: Client,
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = {"factor": f"lib:{factors[1].id}", "reason": "Recycled widgets from 2024"}
    response = alice.post(_url(records["a"]), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Recalculate 2 records?" in html
    assert "Widgets, recycled" in html
    with schema_context("acme"):
        assert not FactorChange.objects.exists()
    with _run_jobs(settings, django_capture_on_commit_callbacks):
        response = alice.post(_url(records["a"]), {**data, "confirm": "on"})
    assert response.status_code == 302
    with schema_context("acme"):
        change = FactorChange.objects.get()
        assert (change.status, change.records_changed) == (FactorChangeStatus.DONE, 2)
        assert change.requested_by.email == ALICE.email
    page = alice.get(_url(records["a"])).content.decode()
    assert "Recycled widgets from 2024" in page  # the change is listed with its reason


def test_it_keeps_viewers_out(bob: Client, records: dict[str, ActivityRecord]) -> None:
    assert bob.get(_url(records["a"])).status_code == 403
    assert (
        bob.post(
            _url(records["a"]), {"factor": "lib:1", "reason": "x", "confirm": "on"}
        ).status_code
        == 403
    )
    with schema_context("acme"):
        assert not FactorChange.objects.exists()


def test_it_404s_an_unknown_record(alice: Client, records: dict[str, ActivityRecord]) -> None:
    assert alice.get("/activities/999999999/factor/").status_code == 404


def test_it_changes_only_one_record_when_asked_and_remembers_nothing(
    alice: Client,
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = {
        "factor": f"lib:{factors[1].id}",
        "reason": "One delivery was recycled",
        "only_this": "on",
    }
    review = alice.post(_url(records["a"]), data).content.decode()
    assert "Recalculate 1 record?" in review
    assert 'name="only_this" value="on"' in review
    with _run_jobs(settings, django_capture_on_commit_callbacks):
        response = alice.post(_url(records["a"]), {**data, "confirm": "on"})
    assert response.status_code == 302
    with schema_context("acme"):
        change = FactorChange.objects.get()
        assert (change.only_record_id, change.records_changed) == (records["a"].id, 1)
        assert ActivityRecord.objects.get(id=records["a"].id).factor_id == factors[1].id
        assert ActivityRecord.objects.get(id=records["b"].id).factor_id == factors[0].id
        assert not FactorChoice.objects.filter(activity_key="widgets").exists()


def test_it_marks_re_factored_records_on_the_activities_page(
    alice: Client,
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with _run_jobs(settings, django_capture_on_commit_callbacks):
        activity_factor_change_request(
            record=records["a"], factor_id=factors[1].id, reason="Recycled", user=_alice()
        )
    html = alice.get("/activities/").content.decode()
    assert html.count(">factor changed</span>") == 2
    assert "Recycled (was Widgets, generic)" in html


def test_it_lets_an_editor_change_the_factor(
    eddie: Client,
    records: dict[str, ActivityRecord],
    factors: tuple[EmissionFactor, EmissionFactor],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = {"factor": f"lib:{factors[1].id}", "reason": "Recycled", "confirm": "on"}
    with _run_jobs(settings, django_capture_on_commit_callbacks):
        assert eddie.post(_url(records["a"]), data).status_code == 302
    with schema_context("acme"):
        change = FactorChange.objects.get()
        assert (change.requested_by.email, change.status) == (EDDIE.email, FactorChangeStatus.DONE)
