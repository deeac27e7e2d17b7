"""A seeded tenant for report tests, the shared taxonomy folders, and the text a PDF carries
(decoded through its fonts' ToUnicode maps, enough for WeasyPrint's output)."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from tests.import_helpers import make_activity_record
from tests.org_helpers import make_instrument, make_period, make_site

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ESRS_DIR = SHARED_DATA / "esrs_taxonomy"
VSME_JSON = SHARED_DATA / "vsme" / "vsme-2026-05-01-taxonomy.json"


def seed_plain_tenant(schema: str = "acme", *, identifier: str = "5299000J2N45DDNE4Y28") -> Any:
    """FY2024 in round figures for hand-checked differences: Scope 1 at two sites, one Scope 2
    record (4000 kg location, 1000 kg market), two Scope 3 categories, biogenic CO2 outside the
    scopes and one 2023 record outside the period; returns the period."""
    make_activity_record(schema, kg_co2e=1250.0, activity="Diesel")
    make_activity_record(schema, date=dt.date(2024, 3, 10), site="Bonn", kg_co2e=500.5)
    make_activity_record(
        schema, date=dt.date(2024, 2, 1), scope=2, kg_co2e=4000.0, kg_co2e_market=1000.0
    )
    make_activity_record(schema, date=dt.date(2024, 3, 1), scope=3, category=6, kg_co2e=2100.0)
    make_activity_record(schema, date=dt.date(2024, 4, 1), scope=3, category=1, kg_co2e=900.25)
    make_activity_record(schema, date=dt.date(2024, 4, 2), scope=0, kg_co2e=70.0)
    make_activity_record(schema, date=dt.date(2023, 5, 1), kg_co2e=6000.0)
    _profile(schema, identifier)
    return make_period(schema, net_revenue=2_000_000)


def seed_tenant(schema: str = "acme", *, identifier: str = "5299000J2N45DDNE4Y28") -> Any:
    """FY2024 with Scope 1 at two sites (diesel in litres, natural gas in kWh gross CV, wood
    pellets in tonnes, one supplier factor naming no fuel), Scope 2 electricity both ways (three
    quarters of it under a zero-rate green tariff), two Scope 3 categories, biogenic CO2 outside
    the scopes, one 2023 record outside the period, and 10 report credits; returns the period."""
    diesel = _fuel_factor(schema, "Diesel (average biofuel blend)", "L", 1)
    gas = _fuel_factor(schema, "Natural Gas", "kWh (Gross CV)", 1)
    pellets = _fuel_factor(schema, "Wood Pellets", "tonne", 1)
    site = make_site(schema, name="Werk Ulm", country="DE", aliases=[])
    # A green tariff covering 7.5 of the 10 MWh: the market-based path allocates it pro rata.
    make_instrument(schema, site=site, mwh_covered=7.5)
    make_activity_record(
        schema, kg_co2e=1250.0, activity="Diesel", quantity=500.0, supplier_factor=diesel
    )
    make_activity_record(schema, date=dt.date(2024, 3, 10), site="Bonn", kg_co2e=500.5)
    make_activity_record(
        schema,
        date=dt.date(2024, 1, 20),
        activity="Gas boiler",
        quantity=20_000.0,
        unit="kWh (Gross CV)",
        supplier_factor=gas,
        kg_co2e=3658.0,
    )
    make_activity_record(
        schema,
        date=dt.date(2024, 2, 5),
        activity="Pellet stove",
        quantity=2.0,
        unit="tonne",
        supplier_factor=pellets,
        kg_co2e=100.0,
    )
    _electricity_record(schema, site="Werk Ulm", kwh=10_000.0)
    make_activity_record(schema, date=dt.date(2024, 3, 1), scope=3, category=6, kg_co2e=2100.0)
    make_activity_record(schema, date=dt.date(2024, 4, 1), scope=3, category=1, kg_co2e=900.25)
    make_activity_record(schema, date=dt.date(2024, 4, 2), scope=0, kg_co2e=70.0)
    make_activity_record(schema, date=dt.date(2023, 5, 1), kg_co2e=6000.0)
    _profile(schema, identifier)
    from billing.ledger import credits_operator_adjust, tenant_id_for_schema

    # Credits for the reports a test generates (each consumes one).
    credits_operator_adjust(
        tenant_id=tenant_id_for_schema(schema), credits=10, reason="report tests", operator="tests"
    )
    return make_period(schema, net_revenue=2_000_000)


@contextmanager
def seed_committed(django_db_blocker: Any, schema: str = "acme") -> Iterator[Any]:
    """`seed_tenant` committed (read by an app server or by other connections); yields the
    period. Whatever the seed made is removed afterwards, also when seeding fails halfway: the
    tenant's rows and the seed's library dataset (its credits stay: the ledger is append-only)."""
    with django_db_blocker.unblock():
        try:
            yield seed_tenant(schema)
        finally:
            seed_remove(schema)


def seed_remove(schema: str) -> None:
    """Delete what `seed_tenant` (and reports built on it) committed in `schema`, and the seed's
    library dataset ``test_2024`` (as SQL: the ORM's collector would look for tenant records
    from the public schema)."""
    from emissions.models import (
        ActivityRecord,
        ContractualInstrument,
        OrganisationProfile,
        ReportingPeriod,
        Site,
        SupplierFactor,
    )
    from factors.models import FactorDataset
    from reporting.models import Report

    with schema_context(schema):
        for model in (
            Report,
            ActivityRecord,
            ContractualInstrument,
            Site,
            SupplierFactor,
            ReportingPeriod,
            OrganisationProfile,
        ):
            model.objects.all().delete()
    with schema_context("public"), connection.cursor() as cursor:
        ids = list(FactorDataset.objects.filter(key="test_2024").values_list("id", flat=True))
        cursor.execute("DELETE FROM factors_emissionfactor WHERE dataset_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM factors_factordataset WHERE id = ANY(%s)", [ids])
    connection.set_schema_to_public()


def _electricity_record(schema: str, *, site: str, kwh: float) -> Any:
    """A Scope 2 electricity record computed by the engine's own path (location-based 0.4 kg
    CO2e/kWh; market-based from the site's contracts), so its provenance replays."""
    from emissions.inventory import activity_record_recalculate
    from tests.factor_helpers import make_library_factor

    factor = make_library_factor(
        publisher_id="grid-de",
        scope="2",
        name="Electricity: grid DE",
        region="DE",
        unit="kWh",
        unit_dimension="energy",
        kg_co2e=0.4,
        basis="location",
        kind="grid_electricity",
    )
    record = make_activity_record(
        schema,
        date=dt.date(2024, 2, 1),
        scope=2,
        activity="Electricity",
        site=site,
        quantity=kwh,
        unit="kWh",
        supplier_factor=None,
        factor=factor,
        factor_version="",
        kg_co2e=0.0,
    )
    with schema_context(schema):
        activity_record_recalculate(record=record)
        record.save()
    return record


def _fuel_factor(schema: str, name: str, unit: str, scope: int) -> Any:
    from emissions.models import SupplierFactor

    with schema_context(schema):
        return SupplierFactor.objects.create(
            name=name, scope=scope, unit=unit, kg_co2e=1.0, source_note="test"
        )


def expected_energy_mwh() -> dict[str, float]:
    """The seeded energy in MWh, from DEFRA 2024's published net calorific values (the CSV's
    kWh/litre and GJ/tonne columns), independent of the engine's conversion path."""
    import csv

    from emissions.engine.fuels import FUEL_PROPERTIES_FILE

    with FUEL_PROPERTIES_FILE.open(encoding="utf-8") as handle:
        rows = {r["fuel"]: r for r in csv.DictReader(line for line in handle if line[0] != "#")}
    diesel = 500 * float(rows["Diesel (average biofuel blend)"]["net_cv_kwh_per_l"]) / 1000
    gas_ratio = float(rows["Natural Gas"]["net_cv_gj_per_t"]) / float(
        rows["Natural Gas"]["gross_cv_gj_per_t"]
    )
    gas = 20_000 * gas_ratio / 1000
    pellets = 2 * float(rows["Wood Pellets"]["net_cv_gj_per_t"]) / 3.6
    electricity_green = 7.5
    electricity_grey = 2.5
    total = diesel + gas + pellets + electricity_green + electricity_grey
    return {
        "oil": diesel,
        "gas": gas,
        "renewable_fuels": pellets,
        "electricity_renewable": electricity_green,
        "electricity_non_renewable": electricity_grey,
        "renewable": pellets + electricity_green,
        "total": total,
    }


def _cmap(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[src.decode().upper()] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(rb"<(\w+)>\s*<(\w+)>\s*<(\w+)>", block):
            width = len(lo)
            start, end, first = int(lo, 16), int(hi, 16), int(dst, 16)
            for code in range(start, end + 1):
                out[f"{code:0{width}X}"] = chr(first + code - start)
    return out


def pdf_text(pdf: bytes) -> str:
    """The text drawn in a PDF: every stream inflated, glyph codes mapped through the ToUnicode
    maps (all fonts' maps merged: WeasyPrint subsets fonts with distinct codes per font)."""
    streams = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    maps: dict[str, str] = {}
    words = []
    for stream in streams:
        if b"beginbfchar" in stream or b"beginbfrange" in stream:
            maps.update(_cmap(stream))
        else:
            words += re.findall(rb"\[(.*?)\]\s*TJ", stream, re.S)
    return "\n".join(_decode(w, maps) for w in words)


def _decode(array: bytes, maps: dict[str, str]) -> str:
    text = []
    for hexed in re.findall(rb"<([0-9A-Fa-f]+)>", array):
        code = hexed.decode().upper()
        width = 4 if len(code) % 4 == 0 else 2
        text += [maps.get(code[i : i + width], "?") for i in range(0, len(code), width)]
    return "".join(text)


def _profile(schema: str, identifier: str) -> None:
    with schema_context(schema):
        from emissions.models import OrganisationProfile

        OrganisationProfile.objects.create(
            legal_name="Acme GmbH",
            country="DE",
            consolidation_approach="operational",
            base_year=2023,
            identifier=identifier,
            identifier_scheme="lei",
        )
