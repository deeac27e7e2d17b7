"""Import runs and activity records for view tests (and the isolation matrix)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

FUEL_CSV = (
    "Date;Description;Quantity;Unit;Site\n"
    "15.01.2024;Diesel;1.234,5;L;Köln\n"
    "31.01.2024;Diesel;abc;L;Köln\n"
    "15.02.2024;Diesel;200;Fass;Köln\n"
    "29.02.2024;Diesel;300;Fass;Köln\n"
).encode()


def upload(content: bytes = FUEL_CSV, name: str = "fuel.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def post_upload(
    client: Any,
    content: bytes = FUEL_CSV,
    name: str = "fuel.csv",
    *,
    follow: bool = False,
    **extra: Any,
) -> Any:
    """Upload through the wizard's view, then run the parse job it queued, as the in-process queue
    does after the request commits. `follow` then opens the page the upload answered with."""
    from django.test import TestCase, override_settings
    from django.urls import reverse

    with override_settings(JOBS_IN_PROCESS=True), TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("import_upload"), {"file": upload(content, name)}, **extra)
    if follow and response.status_code == 302:
        return client.get(response["Location"], follow=True)
    return response


def german_workbook(rows: list[list[Any]], *, title: str = "Energieverbrauch 2024") -> bytes:
    """An XLSX with a title row and a blank row above the header, as accounting exports look."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Verbrauch"
    sheet.append([title])
    sheet.append([])
    sheet.append(["Datum", "Beschreibung", "Menge", "Einheit", "Standort"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_import_run(schema: str = "acme", content: bytes = FUEL_CSV, name: str = "fuel.csv") -> Any:
    """An uploaded run, created by the service as an upload would be."""
    from imports.services import import_run_create

    with schema_context(schema):
        return import_run_create(upload=upload(content, name), user=None)


def make_activity_record(schema: str = "acme", **fields: Any) -> Any:
    """One record with a supplier factor of the same tenant (no library needed)."""
    from emissions.models import ActivityRecord, SupplierFactor

    with schema_context(schema):
        factor = SupplierFactor.objects.create(
            name="Diesel from Acme Fuels",
            scope=1,
            region="DE",
            unit="L",
            kg_co2e=2.5,
            source_note="Acme Fuels declaration 2024",
        )
        values: dict[str, Any] = {
            "date": dt.date(2024, 1, 15),
            "activity": "Diesel",
            "site": "Köln",
            "quantity": 100.0,
            "unit": "L",
            "scope": 1,
            "tier": "primary",
            "supplier_factor": factor,
            "factor_version": "supplier-specific",
            "gwp_set": "AR5",
            "kg_co2e": 250.0,
            **fields,
        }
        return ActivityRecord.objects.create(**values)


def import_run_kwargs() -> dict[str, int]:
    return {"run_id": make_import_run().id}


def import_export_kwargs() -> dict[str, Any]:
    return {"run_id": make_import_run().id, "fmt": "csv"}


def activity_record_kwargs() -> dict[str, int]:
    return {"record_id": make_activity_record().id}
