"""Companion lines: an import's fuel, electricity, travel and freight rows bring their WTT and T&D
lines (Scope 3), written with the main rows, removed by the undo, off by a tenant setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from emissions.companions import companion_factors, rules
from emissions.models import ActivityRecord, InventorySettings
from factors.models import EmissionFactor
from imports.models import ImportRun, ImportStatus
from imports.services import (
    factor_choice_set,
    import_run_create,
    import_run_start_commit,
    import_run_undo,
    import_run_validate,
)

CSV = (
    b"Date,Description,Quantity,Unit\n"
    b"2024-01-15,Diesel fleet,1000,L\n"
    b"2024-01-31,Electricity HQ,5000,kWh\n"
    b"2024-02-10,Rail travel,400,passenger.km\n"
    b"2024-02-20,HGV freight,2000,tonne.km\n"
)

# The main factors chosen (DEFRA 2024 flat file IDs).
MAIN = {
    ("Diesel fleet", "volume"): "1_101_1011_8_1",  # Fuels > Liquid fuels > Diesel (avg blend), L
    ("Electricity HQ", "energy"): "7_400_4000_5_1",  # UK electricity > Electricity generated, kWh
    ("Rail travel", "passenger distance"): "25_315_3147_11_1",  # Business travel- land > Rail
    ("HGV freight", "freight (mass x distance)"): "27_304_3140_14_1",  # HGV all, average laden
}

# DEFRA 2024 (UK Government GHG Conversion Factors for Company Reporting 2024, flat file v1.1),
# kg CO2e per unit, as published: (source row, line kind) -> (Scope 3 category, factor).
EXPECTED = {
    # WTT- fuels > Liquid fuels > Diesel (average biofuel blend), per litre
    (2, "wtt"): (3, 0.61101),
    # WTT- UK electricity (generation), per kWh
    (3, "wtt"): (3, 0.0459),
    # Transmission and distribution > T&D- UK electricity, per kWh
    (3, "td"): (3, 0.0183),
    # WTT- UK electricity (T&D), per kWh
    (3, "td_wtt"): (3, 0.00397),
    # WTT- pass vehs & travel- land > WTT- rail > National rail, per passenger.km
    (4, "wtt"): (6, 0.00897),
    # WTT- delivery vehs & freight > WTT- HGV (all diesel) > All HGVs, Average laden, per tonne.km
    (5, "wtt"): (4, 0.02359),
}
QUANTITY = {2: 1000, 3: 5000, 4: 400, 5: 2000}


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def _commit(
    capture: Callable[..., Any], content: bytes = CSV, main: dict[tuple[str, str], str] = MAIN
) -> ImportRun:
    run = import_run_create(upload=SimpleUploadedFile("energy.csv", content), user=None)
    for (activity, dimension), publisher_id in main.items():
        factor_choice_set(
            run=run,
            activity=activity,
            unit_dimension=dimension,
            factor_id=EmissionFactor.objects.get(
                dataset__key="defra_2024", publisher_id=publisher_id
            ).id,
            supplier_factor_id=None,
            user=None,
        )
    import_run_validate(run=run)
    with capture(execute=True):
        assert import_run_start_commit(run=run, user=None)
    run.refresh_from_db()
    assert run.status == ImportStatus.COMMITTED, run.error
    return run


def test_it_adds_the_wtt_and_td_lines_and_the_undo_removes_them(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    run = _commit(django_capture_on_commit_callbacks)
    records = ActivityRecord.objects.filter(import_run=run)
    main = records.filter(line_kind="main")
    # The run counts and totals its main lines; the companions are records of their own.
    assert run.records_created == main.count() == 4
    assert run.kg_co2e == pytest.approx(sum(r.kg_co2e for r in main))
    lines = {
        (r.source_row, r.line_kind): r
        for r in records.exclude(line_kind="main").select_related("factor")
    }
    assert set(lines) == set(EXPECTED)
    for (row, kind), (category, factor) in EXPECTED.items():
        line = lines[(row, kind)]
        assert (line.scope, line.category) == (3, category)
        assert line.factor.kg_co2e == factor
        assert line.kg_co2e == pytest.approx(QUANTITY[row] * factor)
        assert line.factor_version == "defra_2024 v1"
        calculation = run.detected["calculations"][line.provenance["calculation"]]
        assert calculation["factor"]["kg_co2e_per_unit"] == factor
    assert run.detected["companion_lines"] == 6

    assert import_run_undo(run=run, user=None) == 10
    assert not ActivityRecord.objects.filter(import_run=run).exists()


def test_it_adds_no_companion_line_when_the_tenant_turned_them_off(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.JOBS_IN_PROCESS = True
    InventorySettings.objects.create(companion_lines=False)
    run = _commit(django_capture_on_commit_callbacks)
    records = ActivityRecord.objects.filter(import_run=run)
    assert records.count() == 4
    assert set(records.values_list("line_kind", flat=True)) == {"main"}


def test_it_finds_companions_for_every_rule_of_defra_2024(acme: None) -> None:
    """Each rule of data/companions/defra.yml finds its companion for some main factor of the
    edition, so a renamed heading in a next edition fails here rather than silently."""
    by_level1 = {}
    for level1 in rules("defra"):
        by_level1[level1] = list(
            EmissionFactor.objects.filter(
                dataset__key="defra_2024", category__startswith=level1 + " > "
            ).values_list("id", flat=True)
        )
    found = companion_factors([i for ids in by_level1.values() for i in ids])
    for level1, ids in by_level1.items():
        kinds = {rule.line_kind for i in ids for rule, _ in found.get(i, [])}
        assert kinds == {rule.line_kind for rule in rules("defra")[level1]}, level1
        # A companion is never another main factor, and never a Scope 1 or 2 factor.
        companions = {cid for i in ids for _, cid in found.get(i, [])}
        assert not EmissionFactor.objects.filter(id__in=companions).exclude(scope="3").exists()


def _lines(run: ImportRun, row: int) -> dict[str, float]:
    return {
        r.line_kind: r.kg_co2e
        for r in ActivityRecord.objects.filter(import_run=run, source_row=row).exclude(
            line_kind="main"
        )
    }


def test_it_recomputes_the_lines_of_an_edited_or_refactored_record(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from emissions.services_activities import activity_record_update
    from emissions.services_refactor import activity_factor_change_request

    settings.JOBS_IN_PROCESS = True
    run = _commit(django_capture_on_commit_callbacks)
    diesel = ActivityRecord.objects.get(import_run=run, source_row=2, line_kind="main")

    activity_record_update(record=diesel, user=None, quantity=2000.0)
    assert _lines(run, 2) == {"wtt": pytest.approx(2000 * 0.61101)}

    # DEFRA 2024, WTT- fuels > Liquid fuels > Diesel (100% mineral diesel): 0.62409 kg CO2e / L.
    mineral = EmissionFactor.objects.get(
        dataset__key="defra_2024",
        category="Fuels > Liquid fuels > Diesel (100% mineral diesel)",
        unit="L",
    )
    with django_capture_on_commit_callbacks(execute=True):
        activity_factor_change_request(
            record=diesel, factor_id=mineral.id, reason="Supplier confirms no biofuel", user=None
        )
    diesel.refresh_from_db()
    assert diesel.factor_id == mineral.id
    line = ActivityRecord.objects.get(import_run=run, source_row=2, line_kind="wtt")
    assert line.kg_co2e == pytest.approx(2000 * 0.62409)
    assert line.category == 3
    # The other rows' lines are untouched; the main line count is unchanged.
    assert _lines(run, 3) == {
        "wtt": pytest.approx(5000 * 0.0459),
        "td": pytest.approx(5000 * 0.0183),
        "td_wtt": pytest.approx(5000 * 0.00397),
    }
    assert ActivityRecord.objects.filter(import_run=run, line_kind="main").count() == 4


def test_it_shows_the_lines_and_their_totals_and_an_owner_turns_them_off(
    tenants: dict[str, object],
    library: None,
    alice: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.JOBS_IN_PROCESS = True
    with schema_context("acme"):
        _commit(django_capture_on_commit_callbacks)
    page = alice.get("/activities/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Transmission and distribution losses" in html
    assert 'data-testid="line-kind"' in html
    totals = page.context["lines"]
    by_kind = {t["line_kind"]: t for t in totals}
    assert [t["line_kind"] for t in totals] == ["main", "wtt", "td", "td_wtt"]
    assert by_kind["wtt"]["records"] == 4
    assert by_kind["td"]["kg"] == pytest.approx(5000 * 0.0183)
    assert by_kind["td_wtt"]["kg"] == pytest.approx(5000 * 0.00397)
    assert by_kind["wtt"]["kg"] == pytest.approx(
        1000 * 0.61101 + 5000 * 0.0459 + 400 * 0.00897 + 2000 * 0.02359
    )
    # The Scope 3 total counts the lines (all four WTT/T&D kinds are Scope 3).
    assert page.context["totals"].scope_3 >= sum(t["kg"] for t in totals[1:])

    response = alice.post("/activities/companion-lines/", {})
    assert response.status_code == 302
    with schema_context("acme"):
        assert not InventorySettings.current().companion_lines
    assert b"checked" not in alice.get("/activities/").content.split(b"companion-setting")[1]


def test_it_files_the_wtt_of_an_owned_car_under_category_3(
    acme: None, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Fuel burnt in the company's own vehicles: its upstream is "fuel- and energy-related
    activities" (category 3), though DEFRA files the vehicle WTT factors with business travel."""
    settings.JOBS_IN_PROCESS = True
    run = _commit(
        django_capture_on_commit_callbacks,
        b"Date,Description,Quantity,Unit\n2024-03-01,Pool car,1200,km\n",
        # DEFRA 2024 Passenger vehicles > Cars (by size) > Medium car, Diesel, per km (Scope 1)
        {("Pool car", "distance"): "4_301_3053_4_1"},
    )
    main = ActivityRecord.objects.select_related("factor").get(import_run=run, line_kind="main")
    assert main.factor.publisher_id == "4_301_3053_4_1"
    line = ActivityRecord.objects.get(import_run=run, line_kind="wtt")
    # DEFRA 2024 WTT- cars (by size) > Medium car, Diesel: 0.04103 kg CO2e per km.
    assert (line.scope, line.category) == (3, 3)
    assert line.kg_co2e == pytest.approx(1200 * 0.04103)
