"""Write a read dataset to the public schema: one transaction, COPY, keyed by (dataset, publisher id).

Identical files and mapping (same hashes) are a no-op; anything else becomes a new version of the
dataset key while older versions stay, so reports keep the version they used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from factors.ingest.mapping import Mapping
from factors.ingest.reader import ReadResult
from factors.ingest.report import IngestionReport
from factors.models import EmissionFactor, FactorDataset

TEXT_COLUMNS = (
    "publisher_id",
    "scope",
    "category",
    "name",
    "region",
    "unit",
    "unit_label",
    "unit_dimension",
    "gwp_set",
    "basis",
    "kind",
    "currency",
    "cv_basis",
    "uncertainty_distribution",
    "source_table",
    "flag_reason",
    "search_text",
)
NUMBER_COLUMNS = (
    "kg_co2e",
    "co2",
    "ch4",
    "n2o",
    "other_ghg",
    "uncertainty_sd",
    "uncertainty_low",
    "uncertainty_high",
    "scope3_category",
    "price_year",
    "year",
    "source_row",
)
ARRAY_COLUMNS = ("classifications", "flags")


@dataclass(frozen=True)
class DatasetIdentity:
    """What makes a dataset version: its key and the hashes of its files and mapping."""

    key: str
    file_sha256: str
    mapping_sha256: str


def _lock(key: str) -> None:
    # Two ingestions of the same key (CLI and admin job) must not both create version N+1.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"factors:{key}"])


def find_version(identity: DatasetIdentity) -> FactorDataset | None:
    """The dataset version already ingested from these exact files and mapping, if any."""
    return FactorDataset.objects.filter(
        key=identity.key,
        file_sha256=identity.file_sha256,
        mapping_sha256=identity.mapping_sha256,
    ).first()


def _array_literal(values: list[str]) -> str:
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _csv_payload(frame: pd.DataFrame, dataset_id: int) -> str:
    out = pd.DataFrame({"dataset_id": dataset_id}, index=frame.index)
    for column in TEXT_COLUMNS:
        out[column] = frame[column].astype("string").fillna("")
    for column in NUMBER_COLUMNS:
        out[column] = frame[column]
    for column in ARRAY_COLUMNS:
        out[column] = frame[column].map(_array_literal)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_MINIMAL, na_rep="")
    return buffer.getvalue()


def copy_factors(frame: pd.DataFrame, dataset_id: int) -> int:
    """COPY the factor rows into EmissionFactor for one dataset version; returns the row count."""
    table = EmissionFactor._meta.db_table
    columns = ("dataset_id", *TEXT_COLUMNS, *NUMBER_COLUMNS, *ARRAY_COLUMNS)
    # CSV COPY: an unquoted empty field is NULL (numbers); text columns are never NULL.
    sql = (
        f"COPY {table} ({', '.join(columns)}) FROM STDIN "
        f"WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(TEXT_COLUMNS)}))"
    )
    payload = _csv_payload(frame, dataset_id)
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(payload)
    return len(frame)


def write_dataset(
    mapping: Mapping, result: ReadResult, identity: DatasetIdentity
) -> IngestionReport:
    """Store a read dataset as a new version (or find the identical one); one transaction."""
    report = result.report
    with transaction.atomic():
        _lock(identity.key)
        existing = find_version(identity)
        if existing is not None:
            report.status = "unchanged"
            report.dataset_version = existing.version
            report.ingested = 0
            return report
        versions = FactorDataset.objects.filter(key=identity.key)
        last = versions.order_by("-version").values_list("version", flat=True).first() or 0
        versions.filter(is_current=True).update(is_current=False)
        report.status = "ingested"
        report.dataset_version = last + 1
        dataset = FactorDataset.objects.create(
            key=identity.key,
            family=mapping.family,
            version=last + 1,
            is_current=True,
            title=mapping.title,
            publisher=mapping.publisher,
            edition=mapping.edition,
            publisher_version=mapping.version,
            source_url=mapping.source_url,
            licence=mapping.licence,
            attribution=mapping.attribution,
            file_sha256=identity.file_sha256,
            mapping_sha256=identity.mapping_sha256,
            ingested_at=timezone.now(),
            rows_read=report.rows_read,
            factor_count=len(result.frame),
            skipped_count=report.skipped_total,
            flagged_count=int((result.frame["flags"].map(len) > 0).sum()),
            report={},
        )
        copy_factors(result.frame, dataset.id)
        dataset.report = report.as_dict()
        dataset.save(update_fields=["report"])
    return report
