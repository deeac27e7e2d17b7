"""The check step's duplicate check builds only the fingerprint columns of the records: they are
the same values the commit writes (records_frame), so what it counts is what the commit refuses."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from imports.pipeline import Mapping, read_upload
from imports.preparation import prepare
from imports.writer import FINGERPRINT_COLUMNS, fingerprint_table, records_frame

MAPPING = Mapping(
    columns={
        "date": "Datum",
        "activity": "Bezeichnung",
        "quantity": "Menge",
        "unit": "Einheit",
        "amount": "Betrag",
        "currency": "Währung",
        "site": "Standort",
    },
)

CSV = (
    "Datum;Bezeichnung;Menge;Einheit;Betrag;Währung;Standort\n"
    "31.01.2024;Diesel;1.234,5;l;;;Werk Nord\n"
    "29.02.2024;Erdgas;800;kWh;;;\n"
    "31.03.2024;Diesel;-12,5;l;;;Werk Süd\n"
    "31.03.2024;Strom;;;1.500,00;EUR;Zentrale\n"
    "31.03.2024;Diesel;7;Fass;;;Werk Nord\n"
)


@pytest.fixture
def acme(tenants: dict[str, object], library: None, db: None) -> Any:
    with schema_context("acme"):
        yield


def test_it_builds_the_fingerprint_columns_as_the_commit_writes_them(acme: None) -> None:
    prepared = prepare(read_upload(CSV.encode(), filename="verbrauch.csv"), MAPPING)
    assert 0 < prepared.n_valid < prepared.n_rows  # the "Fass" row is not a record
    _, records = records_frame(prepared, run_id=None, user_id=None)
    fingerprint = fingerprint_table(prepared)
    names = ["source_row", *FINGERPRINT_COLUMNS]
    assert fingerprint.column_names == names
    assert fingerprint.equals(records.select(names))
