"""The benchmarks' own tenant and factor library: made once in the database the benchmark runs
on, and the tenant's imports and records removed between runs (Django set up by the caller)."""

from __future__ import annotations

from collections.abc import Iterable

BENCH_SLUG = "bench"


def bench_tenant(
    slug: str = BENCH_SLUG, *, company: str = "Benchmark GmbH", email: str = "bench@bench.example"
) -> str:
    """The tenant `slug` (created if missing); returns its schema name."""
    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        print(f"creating the benchmark tenant {slug} (once)...", flush=True)
        tenant_create(
            company_name=company,
            slug=slug,
            owner_name="Bench",
            owner_email=email,
            owner_password="bench-password-not-used",  # noqa: S106 (a benchmark tenant nobody signs in to)
        )
        tenant = Tenant.objects.get(slug=slug)
    return str(tenant.schema_name)


def bench_library(keys: Iterable[str] | None = None) -> None:
    """The factor library, ingested once when it is empty: the datasets `keys`, or all shipped."""
    from factors.models import FactorDataset
    from factors.services import available_mappings, factors_ingest, select_mappings

    if FactorDataset.objects.exists():
        return
    mappings = available_mappings() if keys is None else select_mappings(list(keys))
    print("ingesting the factor library (once)...", flush=True)
    for mapping in mappings:
        factors_ingest(mapping=mapping)


def bench_clean() -> None:
    """The current tenant's imports (with their stored files), records and remembered choices
    removed."""
    from django.db import connection

    from emissions.models import ActivityRecord
    from imports.models import FactorChoice, ImportRun

    for run in ImportRun.objects.exclude(file=""):
        run.file.delete(save=False)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {ActivityRecord._meta.db_table}")
    ImportRun.objects.all().delete()
    FactorChoice.objects.all().delete()
