"""Writes on a tenant's inventory data: supplier-specific factors.

Callers pass values a form has validated and normalised (the unit already in the engine's
canonical spelling); these services only write, each in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from accounts.models import User
from emissions.models import SupplierFactor

SUPPLIER_FACTOR_FIELDS = (
    "name",
    "supplier",
    "scope",
    "category",
    "region",
    "unit",
    "kg_co2e",
    "kg_co2",
    "kg_ch4_co2e",
    "kg_n2o_co2e",
    "kg_other_co2e",
    "gwp_set",
    "basis",
    "currency",
    "price_year",
    "year",
    "uncertainty_gsd",
    "source_note",
)


class SupplierFactorInUseError(Exception):
    """The factor was used to compute activity records, which must keep it."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} activity record{' was' if count == 1 else 's were'} calculated with this "
            "factor; it stays so their results can be traced. Edit it instead, or recalculate "
            "those records with another factor first."
        )
        self.count = count


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SUPPLIER_FACTOR_FIELDS)
    if unknown:
        raise TypeError(f"not supplier factor fields: {', '.join(sorted(unknown))}")
    return values


@transaction.atomic
def supplier_factor_create(*, user: User | None, **values: Any) -> SupplierFactor:
    """Store a new supplier-specific factor for the current tenant."""
    factor = SupplierFactor(created_by=user, **_fields(values))
    factor.save()
    return factor


@transaction.atomic
def supplier_factor_update(*, supplier_factor: SupplierFactor, **values: Any) -> SupplierFactor:
    """Change a supplier factor; only the fields given are written."""
    changed = list(_fields(values))
    for name in changed:
        setattr(supplier_factor, name, values[name])
    supplier_factor.save(update_fields=[*changed, "updated_at"])
    return supplier_factor


@transaction.atomic
def supplier_factor_delete(*, supplier_factor: SupplierFactor) -> None:
    """Delete a supplier factor; refused while activity records were computed with it."""
    used = supplier_factor.records.count()
    if used:
        raise SupplierFactorInUseError(used)
    try:
        supplier_factor.delete()
    except ProtectedError as exc:  # a record was added since the count
        raise SupplierFactorInUseError(len(exc.protected_objects)) from exc
