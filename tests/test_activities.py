"""The activities page: records filtered by period, scope, category, site and import; totals in
kg and t CO2e with Scope 2 location- and market-based side by side; corrections recomputed through
the engine; deletion after a confirmation; viewers only read."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from emissions.selectors_inventory import inventory_totals
from tests.import_helpers import make_activity_record, make_import_run


def _text(response: Any) -> str:
    return response.content.decode()


def _total(html: str, testid: str = "total-kg") -> float:
    match = re.search(rf'data-testid="{testid}" data-kg="([^"]+)"', html)
    assert match, testid
    return float(match.group(1))


def _record(record_id: int) -> ActivityRecord:
    with schema_context("acme"):
        return ActivityRecord.objects.get(id=record_id)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    """Uploaded files go to a temporary folder (django-tenants caches the root per setting)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


@pytest.fixture
def inventory(tenants: dict[str, object], db: None) -> dict[str, Any]:
    """Scope 1 diesel at two sites, Scope 2 power (location 400, market 100), a Scope 3 trip."""
    run = make_import_run()
    diesel = make_activity_record(quantity=100.0, kg_co2e=250.0, import_run_id=run.id)
    diesel_bonn = make_activity_record(
        date=dt.date(2024, 3, 10), site="Bonn", quantity=40.0, kg_co2e=100.0
    )
    power = make_activity_record(
        date=dt.date(2024, 2, 1),
        activity="Strom",
        quantity=1000.0,
        unit="kWh",
        scope=2,
        kg_co2e=400.0,
        kg_co2e_market=100.0,
        import_run_id=run.id,
    )
    trip = make_activity_record(
        date=dt.date(2024, 5, 1),
        activity="Train Köln-Berlin",
        quantity=600.0,
        unit="passenger.km",
        scope=3,
        category=6,
        kg_co2e=21.0,
    )
    return {"run": run, "diesel": diesel, "bonn": diesel_bonn, "power": power, "trip": trip}


def test_it_totals_in_kg_and_t_with_scope_2_both_ways(
    alice: Client, inventory: dict[str, Any]
) -> None:
    html = _text(alice.get(reverse("activities")))
    assert _total(html) == pytest.approx(250 + 100 + 400 + 21)
    assert _total(html, "total-kg-market") == pytest.approx(250 + 100 + 100 + 21)
    assert "0.771 t CO2e" in html
    assert "4 records." in html
    assert "6 Business travel" in html


def test_it_counts_a_scope_2_record_without_a_market_figure_at_its_location_value(
    tenants: dict[str, object], db: None
) -> None:
    make_activity_record(scope=2, unit="kWh", kg_co2e=80.0)
    make_activity_record(scope=2, unit="kWh", kg_co2e=20.0, kg_co2e_market=5.0)
    make_activity_record(scope=0, kg_co2e=7.0)  # biogenic CO2: outside the scopes
    with schema_context("acme"):
        totals = inventory_totals()
    assert totals.scope_2_location == pytest.approx(100.0)
    assert totals.scope_2_market == pytest.approx(85.0)
    assert totals.location == pytest.approx(100.0)
    assert totals.market == pytest.approx(85.0)
    assert totals.outside == pytest.approx(7.0)
    assert totals.records == 3


def test_it_filters_and_the_totals_follow(alice: Client, inventory: dict[str, Any]) -> None:
    run = inventory["run"]
    by_run = _text(alice.get(reverse("activities"), {"run": run.id}))
    assert _total(by_run) == pytest.approx(650.0)
    assert "2 records." in by_run
    assert "Train Köln-Berlin" not in by_run

    by_period = _text(
        alice.get(reverse("activities"), {"date_from": "2024-02-01", "date_to": "2024-03-31"})
    )
    assert _total(by_period) == pytest.approx(500.0)

    by_scope = _text(alice.get(reverse("activities"), {"scope": "3", "category": "6"}))
    assert _total(by_scope) == pytest.approx(21.0)

    by_site = _text(alice.get(reverse("activities"), {"site": "Bonn"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in by_site  # only the results part is swapped
    assert _total(by_site) == pytest.approx(100.0)


def test_it_reports_a_bad_filter_and_ignores_it(alice: Client, inventory: dict[str, Any]) -> None:
    html = _text(
        alice.get(reverse("activities"), {"date_from": "2024-06-01", "date_to": "2024-01-01"})
    )
    assert "The end of the period is before its start." in html
    html = _text(alice.get(reverse("activities"), {"scope": "9"}))
    assert "Select a valid choice" in html
    assert _total(html) == pytest.approx(771.0)


def test_it_pages_the_records(alice: Client, tenants: dict[str, object], db: None) -> None:
    with schema_context("acme"):
        first = make_activity_record()
        ActivityRecord.objects.bulk_create(
            [
                ActivityRecord(
                    date=dt.date(2024, 1, 1) + dt.timedelta(days=i),
                    activity=f"Diesel {i}",
                    quantity=1.0,
                    unit="L",
                    scope=1,
                    tier="primary",
                    supplier_factor_id=first.supplier_factor_id,
                    factor_version="supplier-specific",
                    gwp_set="AR5",
                    kg_co2e=2.5,
                )
                for i in range(60)
            ]
        )
    html = _text(alice.get(reverse("activities")))
    assert "Page 1 of 2" in html
    assert _total(html) == pytest.approx(250.0 + 60 * 2.5)
    assert "Diesel 59" in _text(alice.get(reverse("activities"), {"page": 2}))


def test_it_recomputes_a_corrected_record_through_the_engine(
    alice: Client, inventory: dict[str, Any]
) -> None:
    record = inventory["diesel"]
    url = reverse("activities_edit", kwargs={"record_id": record.id})
    assert "Save and recalculate" in _text(alice.get(url))
    response = alice.post(
        url,
        {
            "date": "2024-01-16",
            "activity": "Diesel  Lieferung",
            "quantity": "2",
            "unit": "m3",
            "site": "Köln",
            "notes": "Lieferschein 4711",
            "next": f"{reverse('activities')}?site=K%C3%B6ln",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('activities')}?site=K%C3%B6ln"
    record = _record(record.id)
    # 2 m3 = 2000 L at the supplier's 2.5 kg CO2e/L
    assert record.kg_co2e == pytest.approx(5000.0)
    assert (record.quantity, record.unit, record.activity) == (2.0, "m ** 3", "Diesel Lieferung")
    assert record.date == dt.date(2024, 1, 16)
    assert record.provenance["corrected"]["by"] == "alice@acme.example"
    assert "quantity" in record.provenance["corrected"]["fields"]


def test_it_refuses_a_unit_the_factor_cannot_take(alice: Client, inventory: dict[str, Any]) -> None:
    record = inventory["diesel"]
    url = reverse("activities_edit", kwargs={"record_id": record.id})
    response = alice.post(
        url,
        {"date": "2024-01-15", "activity": "Diesel", "quantity": "5", "unit": "kWh", "site": ""},
    )
    assert response.status_code == 422
    html = _text(response)
    assert re.search(r'<div class="field has-error">\s*<label for="id_unit">', html)
    assert "given but the factor is per L (volume)" in html
    unchanged = _record(record.id)
    assert (unchanged.quantity, unchanged.unit, unchanged.kg_co2e) == (100.0, "L", 250.0)

    response = alice.post(
        url, {"date": "2024-01-15", "activity": "Diesel", "quantity": "5", "unit": "Fass"}
    )
    assert response.status_code == 422
    assert "Unknown unit" in _text(response)


def test_it_deletes_a_record_after_a_confirmation(eddie: Client, inventory: dict[str, Any]) -> None:
    record = inventory["trip"]
    url = reverse("activities_delete", kwargs={"record_id": record.id})
    confirm = _text(eddie.get(url))
    assert "Delete “Train Köln-Berlin” of 01 May 2024?" in confirm
    assert _record(record.id)
    response = eddie.post(url, follow=True)
    assert "Deleted “Train Köln-Berlin”" in _text(response)
    with schema_context("acme"):
        assert not ActivityRecord.objects.filter(id=record.id).exists()
    assert _total(_text(response)) == pytest.approx(750.0)


def test_it_lets_a_viewer_read_only(bob: Client, inventory: dict[str, Any]) -> None:
    record = inventory["diesel"]
    html = _text(bob.get(reverse("activities")))
    assert _total(html) == pytest.approx(771.0)
    assert "/edit/" not in html
    edit = reverse("activities_edit", kwargs={"record_id": record.id})
    delete = reverse("activities_delete", kwargs={"record_id": record.id})
    assert bob.get(edit).status_code == 403
    assert bob.post(edit, {"quantity": "1"}).status_code == 403
    assert bob.post(delete).status_code == 403
    assert _record(record.id).kg_co2e == 250.0


def test_it_404s_another_tenants_record(
    alice: Client, tenants: dict[str, object], db: None
) -> None:
    foreign = make_activity_record("globex")
    for name in ("activities_edit", "activities_delete"):
        url = reverse(name, kwargs={"record_id": foreign.id})
        assert alice.get(url).status_code == 404, name
        assert alice.post(url).status_code == 404, name
    with schema_context("globex"):
        assert ActivityRecord.objects.filter(id=foreign.id).exists()


def test_it_ignores_a_foreign_return_address(alice: Client, inventory: dict[str, Any]) -> None:
    record = inventory["trip"]
    url = reverse("activities_delete", kwargs={"record_id": record.id})
    response = alice.post(url, {"next": "https://evil.example/activities/"})
    assert response["Location"] == reverse("activities")
