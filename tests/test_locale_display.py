"""Figures as people read them: units as they are written ("US gal", "m³") and numbers and
dates in the workspace's language (a German workspace sees 1.234,5 and 15.01.2024)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_tenants.utils import schema_context

from emissions.engine.unit_display import display_unit
from factortrace.templatetags.display import change_pct, day, kg_headline, num
from tenants.models import Tenant
from tests.import_helpers import make_activity_record, post_upload


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("US_gallon", "US gal"),
        ("UK_gallon", "imp gal"),
        ("m ** 3", "m³"),
        ("kg CO2e/m ** 3", "kg CO2e/m³"),
        ("tonne * km", "tonne·km"),
        ("passenger * km", "passenger·km"),
        ("kg / m ** 2", "kg/m²"),
        ("kWh", "kWh"),
        ("L", "L"),
        ("", ""),
        (None, ""),
    ],
)
def test_it_shows_units_as_people_write_them(stored: str | None, shown: str) -> None:
    assert display_unit(stored) == shown


@pytest.mark.parametrize(
    "stored",
    ["US_gallon", "UK_gallon", "EC_therm", "US_therm", "short_ton", "long_ton", "oil_barrel",
     "room_night", "FTE_hour", "m ** 3", "tonne * km", "passenger * km", "kg / m ** 3"],
)  # fmt: skip
def test_a_shown_unit_reads_back_as_the_same_unit(stored: str) -> None:
    from emissions.engine.units import canonical_unit

    assert canonical_unit(display_unit(stored)) == stored


@pytest.mark.parametrize(
    ("language", "quantity", "large", "date"),
    [
        ("en-gb", "1,234.5", "45,000", "31/12/2024"),
        ("de", "1.234,5", "45.000", "31.12.2024"),
        ("nl", "1.234,5", "45.000", "31-12-2024"),
    ],
)
def test_it_formats_numbers_and_dates_in_the_language(
    language: str, quantity: str, large: str, date: str
) -> None:
    with translation.override(language):
        assert num(1234.5) == quantity
        assert num(45000.0) == large
        assert day(dt.date(2024, 12, 31)) == date
        assert day("2024-12-31") == date
        assert "2024" in day("2024-12-31", "long")
        assert num(None) == ""
        assert num("abc") == "abc"


def _german(alice: Client) -> None:
    response = alice.post(reverse("settings_language"), {"language": "de"})
    assert response.status_code == 302, response.content.decode()
    assert Tenant.objects.get(slug="acme").language == "de"


def test_the_owner_sets_the_workspace_language(alice: Client, eddie: Client) -> None:
    html = alice.get(reverse("settings_language")).content.decode()
    assert "Deutsch: 1.234,5" in html
    assert eddie.post(reverse("settings_language"), {"language": "de"}).status_code == 403
    response = alice.post(reverse("settings_language"), {"language": "xx"})
    assert response.status_code == 422
    _german(alice)
    assert alice.get(reverse("home"))["Content-Language"] == "de"


def test_a_german_workspace_sees_german_numbers_and_dates(alice: Client) -> None:
    make_activity_record(quantity=1234.5, unit="US_gallon", kg_co2e=3086.25)
    html = alice.get(reverse("activities")).content.decode()
    assert "1,234.5 US gal" in html  # English by default
    _german(alice)
    html = alice.get(reverse("activities")).content.decode()
    assert re.search(r'data-testid="quantity">1\.234,5 US gal<', html)
    assert "15.01.2024" in html
    assert "3.086,250" in html  # the total
    assert "1234.5" not in html.replace('data-kg="3086.250000"', "")


@pytest.mark.usefixtures("media_root")
def test_the_wizard_preview_shows_german_numbers(alice: Client) -> None:
    from tests.factor_helpers import make_supplier_factor

    make_supplier_factor(name="Diesel", region="DE", unit="L", kg_co2e=2.5)
    _german(alice)
    content = b"Datum;Beschreibung;Menge;Einheit\n15.01.2024;Diesel;1.234,5;gal\n"

    from imports.models import ImportRun

    post_upload(alice, content, "f.csv")
    with schema_context("acme"):
        run = ImportRun.objects.order_by("-id").first()
    assert run is not None
    form = {
        "col_date": "Datum",
        "col_activity": "Beschreibung",
        "col_quantity": "Menge",
        "col_unit": "Einheit",
        "decimal": ",",
        "date_order": "DMY",
    }
    url = reverse("import_mapping", kwargs={"run_id": run.id})
    assert alice.post(url, form).status_code == 302
    html = alice.get(reverse("import_preview", kwargs={"run_id": run.id})).content.decode()
    assert re.search(r'data-testid="preview-quantity">1\.234,5<', html)
    assert 'data-testid="preview-date">15. Januar 2024<' in html
    assert "US gal" in html
    assert "US_gallon" not in html


@pytest.fixture
def media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


def test_factor_values_use_the_languages_decimal_separator() -> None:
    from factors.templatetags.factor_format import sig

    with translation.override("de"):
        assert sig(2.51279) == "2,51279"  # never "2.51279", which reads as 251,279 in German
        assert sig(1e-05) == "0,00001"
    with translation.override("en-gb"):
        assert sig(2.51279) == "2.51279"


def test_the_correction_form_shows_the_unit_as_written(alice: Client) -> None:
    record = make_activity_record(quantity=10.0, unit="US_gallon", kg_co2e=25.0)
    url = reverse("activities_edit", kwargs={"record_id": record.id})
    html = alice.get(url).content.decode()
    assert 'value="US gal"' in html
    assert "US_gallon" not in html


def test_a_headline_total_shows_whole_kilograms_from_a_tonne_up() -> None:
    with translation.override("en-gb"):
        assert kg_headline(5_677_806.655) == "5,677,807"
        assert kg_headline(999.9876) == "999.988"
        assert kg_headline(-1500.4) == "-1,500"
        assert kg_headline(None) == ""
    with translation.override("de"):
        assert kg_headline(5_677_806.655) == "5.677.807"
        assert kg_headline(12.5) == "12,5"


def test_a_small_change_never_reads_as_zero_per_cent() -> None:
    with translation.override("en-gb"):
        assert change_pct(0.0178) == "< 0.1"
        assert change_pct(-0.02) == "> -0.1"
        assert change_pct(0.0) == "0"
        assert change_pct(1.14) == "1.1"
    with translation.override("de"):
        assert change_pct(0.0178) == "< 0,1"
        assert change_pct(50.0) == "50"
