"""Small factor-library and supplier-factor rows for view tests (and the isolation matrix)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context

DATASET_DEFAULTS: dict[str, Any] = {
    "family": "test",
    "title": "Test factors",
    "publisher": "Test publisher",
    "edition": "2024",
    "source_url": "https://example.org/factors",
    "licence": "CC0",
    "file_sha256": "0" * 64,
    "mapping_sha256": "1" * 64,
    "factor_count": 1,
}


def make_library_factor(
    *, key: str = "test_2024", version: int = 1, is_current: bool = True, **fields: Any
) -> Any:
    """One factor in its own dataset version (public schema), created through the ORM."""
    from factors.models import EmissionFactor, FactorDataset

    with schema_context("public"):
        dataset, _ = FactorDataset.objects.get_or_create(
            key=key,
            version=version,
            defaults={
                **DATASET_DEFAULTS,
                "is_current": is_current,
                "ingested_at": timezone.now(),
                "file_sha256": f"{version:064d}",
            },
        )
        values: dict[str, Any] = {
            "publisher_id": "w1",
            "scope": "1",
            "name": "Widget factor",
            "region": "GB",
            "unit": "kg",
            "unit_dimension": "mass",
            "kg_co2e": 1.5,
            "gwp_set": "AR5",
            "basis": "activity",
            "kind": "material",
            "source_row": 2,
            **fields,
        }
        values.setdefault("search_text", f"{values['name']} {values['region']}".lower())
        return EmissionFactor.objects.create(dataset=dataset, **values)


def make_supplier_factor(schema: str = "acme", **fields: Any) -> Any:
    """One supplier-specific factor in a tenant's schema."""
    from emissions.models import SupplierFactor

    values: dict[str, Any] = {
        "name": "Diesel from Acme Fuels",
        "supplier": "Acme Fuels Ltd",
        "scope": 1,
        "region": "GB",
        "unit": "L",
        "kg_co2e": 2.4,
        "source_note": "Acme Fuels product declaration, March 2024",
        **fields,
    }
    with schema_context(schema):
        return SupplierFactor.objects.create(**values)


def library_factor_kwargs() -> dict[str, int]:
    from factors.models import EmissionFactor

    with schema_context("public"):
        existing = EmissionFactor.objects.filter(
            dataset__key="test_2024", publisher_id="w1"
        ).first()
    return {"factor_id": (existing or make_library_factor()).id}


def supplier_factor_kwargs() -> dict[str, int]:
    return {"supplier_factor_id": make_supplier_factor().id}
