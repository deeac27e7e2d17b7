"""No silent assumptions (issue 9, item 5): gallons by the row's region, calorific-value bases
kept, regional fuel properties, date columns decided by the cells only one order can read, AR6
methane by origin, and every assumption shown and stored.

Pure tests (engine and pipeline, no database) first; the import-level test through
imports.services against PostgreSQL is at the end."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from django_tenants.utils import schema_context

from emissions.engine import units
from emissions.engine.calculate import calculate, conversion_path, provenance_of
from emissions.engine.errors import UnitError
from emissions.engine.fuels import fuel_origin, fuel_property, regional_heat_content
from emissions.engine.gwp import GWP_SETS
from imports.pipeline import Mapping, MappingOptions, preview, validate
from imports.pipeline.normalise import parse_dates

US_GALLON_L = 3.785411784  # 231 cubic inches, exact
IMPERIAL_GALLON_L = 4.54609  # exact by definition


def _frame(**columns: list[str]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=range(2, 2 + n)).astype("string")


def _mapping(**extra: str) -> Mapping:
    columns = {"date": "Date", "activity": "Activity", "quantity": "Qty", "unit": "Unit"}
    columns.update(extra)
    return Mapping.from_dict({"columns": columns})


# --- 1. gallons by the row's region -----------------------------------------------------------


def test_it_reads_gal_by_the_rows_country_and_refuses_it_without_one() -> None:
    frame = _frame(
        Date=["2024-01-05"] * 5,
        Activity=["Diesel"] * 5,
        Qty=["10"] * 5,
        Unit=["gal", "gallons", "gal", "Gallon", "gal"],
        Country=["US", "GB", "IE", "DE", None],
    )
    result = validate(frame, _mapping(country="Country"))
    assert result.data["unit"].tolist()[:3] == ["US_gallon", "UK_gallon", "UK_gallon"]
    assert result.valid.tolist() == [True, True, True, False, False]
    errors = result.errors.set_index("row")
    for row in (5, 6):
        assert errors.loc[row, "code"] == "unit_ambiguous"
        assert "US gal" in errors.loc[row, "suggestion"]
        assert "imp gal" in errors.loc[row, "suggestion"]
    assert "region is DE" in errors.loc[5, "message"]
    assert "no country" in errors.loc[6, "message"]
    assert units.conversion_factor("UK_gallon", "L") == pytest.approx(IMPERIAL_GALLON_L)


def test_it_always_honours_explicit_gallons() -> None:
    frame = _frame(
        Date=["2024-01-05"] * 4,
        Activity=["Diesel"] * 4,
        Qty=["10"] * 4,
        Unit=["US gal", "imp gal", "UK gallon", "imperial gallons"],
        Country=["GB", "US", "US", None],
    )
    result = validate(frame, _mapping(country="Country"))
    assert result.valid.all()
    assert result.data["unit"].tolist() == ["US_gallon", "UK_gallon", "UK_gallon", "UK_gallon"]
    assert result.assumptions == []


def test_it_takes_the_region_per_row_from_the_caller_or_a_constant_country() -> None:
    frame = _frame(
        Date=["2024-01-05"] * 3, Activity=["Diesel"] * 3, Qty=["10"] * 3, Unit=["gal"] * 3
    )
    # A region per row (sites, organisation) from the caller; rows it leaves empty are refused.
    region = pd.Series(["GB", "US", None], index=frame.index)
    result = validate(frame, _mapping(), region=region)
    assert result.data["unit"].tolist()[:2] == ["UK_gallon", "US_gallon"]
    assert result.valid.tolist() == [True, True, False]
    assert [a["text"] for a in result.assumptions] == [
        "gal read as imperial gallon (row region GB)",
        "gal read as US gallon (row region US)",
    ]
    # A mapping constant country decides every row.
    constant = Mapping.from_dict(
        {
            "columns": {"date": "Date", "activity": "Activity", "quantity": "Qty", "unit": "Unit"},
            "constants": {"country": "GB"},
        }
    )
    assert validate(frame, constant).data["unit"].tolist() == ["UK_gallon"] * 3


def test_it_resolves_regional_units_in_the_engine_api() -> None:
    assert units.is_regional_unit("gal")
    assert units.is_regional_unit("Gallons")
    assert not units.is_regional_unit("US gal")
    assert not units.is_regional_unit("imp gal")
    assert units.resolve_regional_unit("gal", "US") == (
        "US_gallon",
        "gal read as US gallon (row country US)",
    )
    assert units.resolve_regional_unit("gal", "gb")[0] == "UK_gallon"
    with pytest.raises(UnitError) as exc:
        units.resolve_regional_unit("gal", None)
    assert exc.value.code == "unit_ambiguous"
    assert "US gal" in exc.value.expected
    assert "imp gal" in exc.value.expected


def test_it_reads_gal_by_the_region_column_in_the_engine() -> None:
    factors = pd.DataFrame([{"factor_key": "d", "unit": "kg CO2e / L", "kg_co2e": 1.0}])
    activities = pd.DataFrame(
        {
            "quantity": 1.0,
            "unit": ["gal", "gallons", "gal", "US gal"],
            "factor_key": "d",
            "region": ["US", "GB", None, "GB"],
        }
    )
    result = calculate(activities, factors)
    assert result["ok"].tolist() == [True, True, False, True]
    assert result.loc[0, "kg_co2e"] == pytest.approx(US_GALLON_L)
    assert result.loc[1, "kg_co2e"] == pytest.approx(IMPERIAL_GALLON_L)
    assert result.loc[2, "error"]["code"] == "unit_ambiguous"
    assert result.loc[3, "kg_co2e"] == pytest.approx(US_GALLON_L)


# --- 2. calorific-value bases kept --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "basis"),
    [
        ("kWh (Net CV)", "kWh", "net"),
        ("MJ NCV", "MJ", "net"),
        ("kWh gross", "kWh", "gross"),
        ("GJ (GCV)", "GJ", "gross"),
    ],
)
def test_it_keeps_the_calorific_value_basis_of_an_energy_unit(
    text: str, canonical: str, basis: str
) -> None:
    assert units.canonical_unit(text) == canonical
    assert units.parse_cv_basis(text) == basis
    frame = _frame(Date=["2024-01-05"], Activity=["Natural gas"], Qty=["100"], Unit=[text])
    result = validate(frame, _mapping())
    assert result.valid.all()
    assert result.data["unit"].tolist() == [f"{canonical} ({basis} CV)"]


def test_it_converts_a_net_cv_quantity_to_a_gross_cv_factor_with_the_fuels_ratio() -> None:
    frame = _frame(
        Date=["2024-01-05"] * 2,
        Activity=["Natural gas"] * 2,
        Qty=["1000"] * 2,
        Unit=["kWh (Net CV)", "kWh (Gross CV)"],
    )
    data = validate(frame, _mapping()).data
    factor = 0.18290  # DEFRA 2024 natural gas, kg CO2e per kWh (Gross CV)
    factors = pd.DataFrame(
        [
            {
                "factor_key": "ng",
                "unit": "kg CO2e / kWh (Gross CV)",
                "kg_co2e": factor,
                "fuel": "Natural Gas",
            }
        ]
    )
    activities = pd.DataFrame(
        {"quantity": data["quantity"], "unit": data["unit"], "factor_key": "ng"}
    )
    result = calculate(activities, factors)
    gas = fuel_property("Natural Gas")
    ratio = gas.gross_cv_gj_per_t / gas.net_cv_gj_per_t  # DEFRA 2024 Fuel properties
    assert result["kg_co2e"].tolist() == pytest.approx([1000 * ratio * factor, 1000 * factor])
    conversion = provenance_of(result, 2)["conversion"]
    assert "gross/net CV ratio" in conversion["path"]
    assert any("DEFRA" in s for s in conversion["sources"])
    assert "net CV quantity converted to the factor's gross CV basis" in conversion["notes"]


# --- 3. fuel properties by region -------------------------------------------------------------


def test_it_uses_epa_heat_content_for_us_natural_gas_and_defra_for_the_uk() -> None:
    heat = regional_heat_content("Natural Gas", "US")
    assert heat is not None
    assert heat.btu_per_scf == 1026
    assert "EPA" in heat.source
    us = conversion_path("scf", "MMBtu", fuel="Natural Gas", to_cv="gross", region="US")
    assert us.multiplier == pytest.approx(heat.btu_per_scf / 1e6)
    assert heat.source in us.as_dict()["sources"]
    gb = conversion_path("scf", "MMBtu", fuel="Natural Gas", to_cv="gross", region="GB")
    gas = fuel_property("Natural Gas")
    defra = (
        units.conversion_factor("scf", "m ** 3")
        * gas.density_kg_per_m3
        * gas.gross_cv_kwh_per_kg
        * units.conversion_factor("kWh", "MMBtu")
    )
    assert gb.multiplier == pytest.approx(defra)
    assert gb.multiplier / us.multiplier == pytest.approx(1.053, abs=0.001)
    # A region with no shipped properties uses DEFRA's and says so.
    de = conversion_path("scf", "MMBtu", fuel="Natural Gas", to_cv="gross", region="DE")
    assert de.multiplier == pytest.approx(defra)
    assert any("DEFRA (UK)" in n and "DE" in n for n in de.notes)


def test_it_calculates_each_row_with_its_regions_gas_properties() -> None:
    factors = pd.DataFrame(
        [
            {
                "factor_key": "ng",
                "unit": "kg CO2 / MMBtu",
                "kg_co2e": 53.06,  # EPA Hub 2025, Table 1, natural gas
                "fuel": "Natural Gas",
                "cv_basis": "gross",
            }
        ]
    )
    activities = pd.DataFrame(
        {"quantity": [1000.0, 1000.0], "unit": ["scf", "scf"], "factor_key": "ng"}
    )
    activities["region"] = ["US", "GB"]
    result = calculate(activities, factors)
    assert result.loc[0, "kg_co2e"] == pytest.approx(1000 * 0.001026 * 53.06)
    assert result.loc[1, "kg_co2e"] / result.loc[0, "kg_co2e"] == pytest.approx(1.053, abs=0.001)
    assert "US heat content 1,026 Btu/scf" in provenance_of(result, 0)["conversion"]["path"]


# --- 4. dates -------------------------------------------------------------------------------


def _dates(values: list[str], order: str | None = None) -> tuple[list, pd.DataFrame, dict]:
    parsed = parse_dates(pd.Series(values, dtype="string"), order=order)
    return parsed.values.tolist(), parsed.errors.reset_index(), parsed.detected


def test_it_reads_a_date_column_by_the_cells_only_one_order_can_read() -> None:
    values, errors, detected = _dates(["04/02/2024", "13/07/2024"])
    assert [v.date().isoformat() for v in values] == ["2024-02-04", "2024-07-13"]
    assert errors.empty
    assert detected["order"] == "DMY"
    assert "13/07/2024" in detected["assumption"]


def test_it_rejects_a_cell_impossible_under_the_decided_order_naming_the_order() -> None:
    values, errors, detected = _dates(["03/14/2024", "03/15/2024", "13/07/2024", "04/02/2024"])
    assert detected["order"] == "MDY"
    assert values[0].date().isoformat() == "2024-03-14"
    assert values[3].date().isoformat() == "2024-04-02"
    assert pd.isna(values[2])
    (bad,) = errors.to_dict("records")
    assert bad["value"] == "13/07/2024"
    assert bad["code"] == "invalid_date"
    assert "month-first" in bad["message"]
    assert "13 July 2024" in bad["suggestion"]


def test_it_reports_a_tie_or_no_deciding_cell_as_ambiguous_with_a_choice() -> None:
    values, errors, detected = _dates(["04/02/2024", "13/07/2024", "03/14/2024"])
    assert detected["order"] is None
    assert all(pd.isna(v) for v in values)
    assert set(errors["code"]) == {"ambiguous_date"}
    assert "date order" in errors["suggestion"].iloc[0]
    _, errors, detected = _dates(["04/02/2024", "05/06/2024"])
    assert detected["order"] is None
    assert detected["ambiguous"] == 2
    # The choice: the mapping option date_order settles it.
    values, errors, _ = _dates(["04/02/2024", "13/07/2024", "03/14/2024"], order="MDY")
    assert values[0].date().isoformat() == "2024-04-02"
    assert errors["value"].tolist() == ["13/07/2024"]
    assert "as set in the mapping options" in errors["suggestion"].iloc[0]


def test_it_offers_the_date_order_choice_in_the_validation_notes() -> None:
    frame = _frame(
        Date=["04/02/2024", "13/07/2024", "03/14/2024"],
        Activity=["Diesel"] * 3,
        Qty=["1"] * 3,
        Unit=["L"] * 3,
    )
    result = validate(frame, _mapping())
    assert [n["code"] for n in result.notes] == ["date_order_undecided"]
    chosen = validate(frame, _mapping(), MappingOptions(date_order="DMY"))
    assert chosen.valid.tolist() == [True, True, False]


# --- 5. every assumption shown ----------------------------------------------------------------


def test_it_lists_every_assumption_in_the_validation_and_the_preview() -> None:
    frame = _frame(
        Date=["03/14/2024", "03/15/2024", "04/02/2024"],
        Activity=["Diesel"] * 3,
        Qty=["10"] * 3,
        Unit=["gal", "gal", "L"],
        Country=["US", "GB", "GB"],
    )
    mapping = _mapping(country="Country")
    result = validate(frame, mapping)
    texts = [a["text"] for a in result.assumptions]
    assert "gal read as US gallon (row country US)" in texts
    assert "gal read as imperial gallon (row country GB)" in texts
    assert any(t.startswith("dates read month-first") for t in texts)
    assert {a["count"] for a in result.assumptions if a["code"] == "regional_unit"} == {1}
    shown = preview(frame, mapping)
    assert [a["text"] for a in shown["assumptions"]] == texts
    json.dumps(shown)
    assert result.summary()["assumptions"] == result.assumptions


# --- 6. AR6 methane by origin -----------------------------------------------------------------


def test_it_reweights_ar6_methane_with_the_fossil_or_biogenic_value() -> None:
    ar5, ar6 = GWP_SETS["AR5"], GWP_SETS["AR6"]
    assert (ar6["CH4_fossil"], ar6["CH4"]) == (29.8, 27.0)  # IPCC AR6 WG1 Table 7.15
    split = {"co2_kg_co2e": 0.18, "ch4_kg_co2e": 0.028, "n2o_kg_co2e": 0.001, "gwp_basis": "AR5"}
    factors = pd.DataFrame(
        [
            {"factor_key": "gas", "unit": "kg CO2e / kWh", "fuel": "Natural Gas", **split},
            {"factor_key": "wood", "unit": "kg CO2e / kWh", "fuel": "Wood Pellets", **split},
            {"factor_key": "grid", "unit": "kg CO2e / kWh", **split},
            {"factor_key": "bio", "unit": "kg CO2e / kWh", "ch4_origin": "biogenic", **split},
        ]
    )
    activities = pd.DataFrame({"quantity": 1.0, "unit": "kWh", "factor_key": factors["factor_key"]})
    result = calculate(activities, factors, gwp_set="AR6")
    ch4 = result["ch4_kg_co2e"].tolist()
    assert ch4[0] == pytest.approx(0.028 / ar5["CH4"] * ar6["CH4_fossil"])
    assert ch4[1] == pytest.approx(0.028 / ar5["CH4"] * ar6["CH4"])
    assert ch4[3] == pytest.approx(0.028 / ar5["CH4"] * ar6["CH4"])
    notes = [provenance_of(result, i)["factor"] for i in range(4)]
    text = [json.dumps(n) for n in notes]
    assert "CH4 fossil GWP 29.8" in text[0]
    assert "CH4 biogenic" in text[1]
    assert "origin not known" in text[2]
    # AR5 results are as published.
    same = calculate(activities, factors, gwp_set="AR5")
    assert same["ch4_kg_co2e"].tolist() == pytest.approx([0.028] * 4)
    assert fuel_origin("Natural Gas") == "fossil"
    assert fuel_origin("Biogas") == "biogenic"


def test_it_weights_fossil_methane_masses_with_the_ar6_fossil_value() -> None:
    factors = pd.DataFrame(
        [{"factor_key": "ng", "unit": "kg / kWh", "ch4_kg": 0.001, "fuel": "Natural Gas"}]
    )
    activities = pd.DataFrame({"quantity": [1.0], "unit": ["kWh"], "factor_key": ["ng"]})
    result = calculate(activities, factors, gwp_set="AR6")
    assert result.loc[0, "kg_co2e"] == pytest.approx(0.001 * GWP_SETS["AR6"]["CH4_fossil"])


# --- through the import services, against PostgreSQL -------------------------------------------

MIXED_CSV = (
    b"Date,Activity,Quantity,Unit,Country\n"
    b"03/14/2024,Natural gas,1000,kWh (Net CV),GB\n"  # row 2
    b"03/15/2024,Natural gas,1000,scf,US\n"  # row 3
    b"03/16/2024,Diesel,10,gal,GB\n"  # row 4
    b"03/17/2024,Diesel,10,gal,US\n"  # row 5
    b"03/18/2024,Diesel,10,gal,\n"  # row 6: no country, so no gallon
    b"13/07/2024,Diesel,10,L,GB\n"  # row 7: no month 13 in a month-first column
)


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def _defra(publisher_id: str) -> Any:
    from factors.models import EmissionFactor

    return EmissionFactor.objects.get(dataset__key="defra_2024", publisher_id=publisher_id)


def test_it_imports_without_silent_assumptions_and_stores_them(acme: None) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports.models import RowError
    from imports.selectors import import_run_preview
    from imports.services import factor_choice_set, import_run_create, import_run_validate

    run = import_run_create(upload=SimpleUploadedFile("mixed.csv", MIXED_CSV), user=None)
    assert run.mapping["columns"]["country"] == "Country"
    gas = _defra("1_100_1004_6_1")  # Natural gas, kWh (Gross CV)
    diesel = _defra("1_101_1011_8_1")  # Diesel (average biofuel blend), litres
    assert gas.cv_basis == "gross"
    for activity, dimension, factor in (
        ("Natural gas", "energy", gas),
        ("Natural gas", "volume", gas),
        ("Diesel", "volume", diesel),
    ):
        factor_choice_set(
            run=run,
            activity=activity,
            unit_dimension=dimension,
            factor_id=factor.id,
            supplier_factor_id=None,
            user=None,
        )
    shown = import_run_preview(run)
    assert "gal read as US gallon (row country US)" in [a["text"] for a in shown["assumptions"]]

    prepared = import_run_validate(run=run)
    run.refresh_from_db()
    errors = {(e.row, e.column): e for e in RowError.objects.filter(run=run)}
    assert set(errors) == {(6, "Unit"), (7, "Date")}
    assert "US gal" in errors[(6, "Unit")].suggestion
    assert "month-first" in errors[(7, "Date")].message

    props = fuel_property("Natural Gas")
    heat = regional_heat_content("Natural Gas", "US")
    assert heat is not None
    kwh_per_scf = heat.btu_per_scf * units.conversion_factor("Btu_it", "kWh")
    expected = {
        2: 1000 * props.gross_cv_gj_per_t / props.net_cv_gj_per_t * gas.kg_co2e,
        3: 1000 * kwh_per_scf * gas.kg_co2e,
        4: 10 * IMPERIAL_GALLON_L * diesel.kg_co2e,
        5: 10 * US_GALLON_L * diesel.kg_co2e,
    }
    calculated = prepared.calculated
    for row, kg in expected.items():
        assert calculated.loc[row, "kg_co2e"] == pytest.approx(kg), row
    assert run.kg_co2e == pytest.approx(sum(expected.values()))

    stored = [a["text"] for a in run.detected["assumptions"]]
    assert "gal read as US gallon (row country US)" in stored
    assert "gal read as imperial gallon (row country GB)" in stored
    assert any(t.startswith("dates read month-first") for t in stored)
    assert any(t.startswith("Natural Gas properties for region US: US EPA") for t in stored)
    assert "net CV quantity converted to the factor's gross CV basis" in stored
    path = provenance_of(calculated, 2)["conversion"]["path"]
    assert "gross/net CV ratio 50.552/45.627 GJ/t" in path


def test_it_keeps_the_basis_and_reads_gal_by_the_records_country_when_a_record_is_edited(
    db: None,
) -> None:
    from emissions.forms_activities import ActivityRecordForm
    from emissions.models import ActivityRecord

    def edited(country: str, unit: str) -> ActivityRecordForm:
        record = ActivityRecord(
            date=pd.Timestamp("2024-01-05").date(),
            activity="Diesel",
            quantity=10.0,
            unit="L",
            country=country,
        )
        data = {"date": "2024-01-05", "activity": "Diesel", "quantity": "10", "unit": unit}
        form = ActivityRecordForm(data, record=record)
        form.is_valid()
        return form

    assert edited("GB", "gal").cleaned_data["unit"] == "UK_gallon"
    assert edited("US", "gallons").cleaned_data["unit"] == "US_gallon"
    refused = edited("", "gal")
    assert "unit" in refused.errors
    assert "imp gal" in refused.errors["unit"][0]
    assert edited("", "US gal").cleaned_data["unit"] == "US_gallon"
    assert edited("GB", "kWh (Net CV)").cleaned_data["unit"] == "kWh (net CV)"


def test_it_reports_the_assumptions_of_a_command_line_import(
    tmp_path: Any, tenants: dict[str, object], library: None, db: None
) -> None:
    from io import StringIO

    from django.core.management import call_command

    path = tmp_path / "fleet.csv"
    path.write_bytes(
        b"Date,Activity,Quantity,Unit,Country\n2024-01-05,Diesel,10,gal,US\n"
        b"2024-01-06,Diesel,10,gal,GB\n"
    )
    out = StringIO()
    call_command("import_activities", "--tenant", "acme", str(path), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "assumed: gal read as US gallon (row country US) (1 rows)" in text
    assert "assumed: gal read as imperial gallon (row country GB) (1 rows)" in text


def test_it_shows_the_assumptions_in_the_wizards_preview_and_results(
    alice: Any, tenants: dict[str, object], db: None, settings: Any, tmp_path: Any
) -> None:
    from django.urls import reverse

    from imports.models import ImportRun
    from tests.factor_helpers import make_supplier_factor
    from tests.test_import_views import _mapped_run

    settings.MEDIA_ROOT = str(tmp_path / "media")
    # django-tenants caches the media root per setting: touch it so it is re-read.
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT
    make_supplier_factor(name="Diesel", region="GB", unit="L", kg_co2e=2.5)
    run = _mapped_run(
        alice,
        b"Date,Activity,Quantity,Unit,Country\n2024-01-05,Diesel,10,gal,US\n"
        b"2024-01-06,Diesel,10,gal,GB\n",
        "fleet.csv",
    )
    preview = alice.get(reverse("import_preview", kwargs={"run_id": run.id})).content.decode()
    assert "gal read as US gallon (row country US)" in preview
    response = alice.post(reverse("import_validate", kwargs={"run_id": run.id}))
    assert response.status_code == 302
    results = alice.get(reverse("import_results", kwargs={"run_id": run.id})).content.decode()
    assert "gal read as imperial gallon (row country GB)" in results
    with schema_context("acme"):
        stored = ImportRun.objects.get(id=run.id).detected["assumptions"]
    assert {a["text"] for a in stored} >= {
        "gal read as US gallon (row country US)",
        "gal read as imperial gallon (row country GB)",
    }
