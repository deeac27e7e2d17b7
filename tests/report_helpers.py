"""A seeded tenant for report tests, the shared taxonomy folders, and the text a PDF carries
(decoded through its fonts' ToUnicode maps, enough for WeasyPrint's output)."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from pathlib import Path
from typing import Any

from django_tenants.utils import schema_context

from tests.import_helpers import make_activity_record
from tests.org_helpers import make_period

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ESRS_DIR = SHARED_DATA / "esrs_taxonomy"
VSME_JSON = SHARED_DATA / "vsme" / "vsme-2026-05-01-taxonomy.json"


def seed_tenant(schema: str = "acme", *, identifier: str = "5299000J2N45DDNE4Y28") -> Any:
    """FY2024 with Scope 1 at two sites, Scope 2 both ways, two Scope 3 categories, biogenic CO2
    outside the scopes and one 2023 record outside the period, and 10 report credits; returns the
    period."""
    make_activity_record(schema, kg_co2e=1250.0, activity="Diesel")
    make_activity_record(schema, date=dt.date(2024, 3, 10), site="Bonn", kg_co2e=500.5)
    make_activity_record(
        schema, date=dt.date(2024, 2, 1), scope=2, kg_co2e=4000.0, kg_co2e_market=1000.0
    )
    make_activity_record(schema, date=dt.date(2024, 3, 1), scope=3, category=6, kg_co2e=2100.0)
    make_activity_record(schema, date=dt.date(2024, 4, 1), scope=3, category=1, kg_co2e=900.25)
    make_activity_record(schema, date=dt.date(2024, 4, 2), scope=0, kg_co2e=70.0)
    make_activity_record(schema, date=dt.date(2023, 5, 1), kg_co2e=6000.0)
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
    from billing.ledger import credits_operator_adjust, tenant_id_for_schema

    # Credits for the reports a test generates (each consumes one).
    credits_operator_adjust(
        tenant_id=tenant_id_for_schema(schema), credits=10, reason="report tests", operator="tests"
    )
    return make_period(schema, net_revenue=2_000_000)


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
