"""Reads on a tenant's inventory data: supplier-specific factors for the browser and for matching."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from emissions.engine.errors import UnitError
from emissions.engine.units import unit_dimension
from emissions.models import Scope, Scope3Category, SupplierFactor
from factors.ranking import FactorCandidate

# SupplierFactor.scope (an integer, 0 = outside of scopes) <-> the library's scope codes.
LIBRARY_SCOPES = {"1": Scope.SCOPE_1, "2": Scope.SCOPE_2, "3": Scope.SCOPE_3, "outside": 0}
CANDIDATE_SCOPES = {int(number): code for code, number in LIBRARY_SCOPES.items()}


def supplier_factor_dimension(factor: SupplierFactor) -> str:
    """The engine's dimension name of the factor's unit ('' if the stored unit no longer parses)."""
    try:
        return unit_dimension(factor.unit)
    except UnitError:
        return ""


def supplier_factor_list(
    *,
    words: list[str] | None = None,
    scope: str | None = None,
    region: str | None = None,
) -> QuerySet[SupplierFactor]:
    """The tenant's supplier factors whose name, supplier or source note contain every word."""
    factors = SupplierFactor.objects.order_by("name", "id")
    for word in words or []:
        factors = factors.filter(
            Q(name__icontains=word) | Q(supplier__icontains=word) | Q(source_note__icontains=word)
        )
    if scope:
        # The browser speaks the library's scopes ("1", "2", "3", "outside").
        number = LIBRARY_SCOPES.get(scope)
        if number is None:
            return factors.none()
        factors = factors.filter(scope=number)
    if region:
        factors = factors.filter(region__iexact=region)
    return factors


def supplier_factor_candidates() -> list[FactorCandidate]:
    """Every supplier factor of the tenant, as matching candidates that rank before the library.

    `factor_id` is the SupplierFactor's id (with source='supplier'). A factor whose stored unit
    no longer parses in the engine cannot be matched to a quantity and is left out.
    """
    candidates = []
    for factor in SupplierFactor.objects.order_by("id"):
        dimension = supplier_factor_dimension(factor)
        if not dimension:
            continue
        category = Scope3Category(factor.category).label if factor.category else ""
        candidates.append(
            FactorCandidate(
                name=factor.name,
                unit=factor.unit,
                region=factor.region,
                kg_co2e=factor.kg_co2e,
                unit_dimension=dimension,
                source="supplier",
                factor_id=factor.id,
                dataset_key="supplier",
                category=" > ".join(p for p in (factor.supplier, category) if p),
                scope=CANDIDATE_SCOPES[factor.scope],
                year=factor.year,
            )
        )
    return candidates
