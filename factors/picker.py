"""The factor picker: the browser's search (one selector, `factor_browse`) as a radio list, for the
pages that choose a factor (the import wizard's factor step, an activity's change of factor).

A picker value is the wizard's choice value: ``lib:<id>`` for a library factor, ``sup:<id>`` for
the tenant's own supplier factor.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from emissions.factor_keys import parse_factor_key
from emissions.models import SupplierFactor
from emissions.selectors import supplier_factor_dimension, supplier_factor_list
from factors.selectors import FactorFilters, factor_browse, library_is_empty, search_words

PICKER_PAGE_SIZE = 10


def factor_filters(params: QueryDict, **defaults: str) -> FactorFilters:
    """The search of a query string (the browser's or a picker's); `defaults` fill facets the
    request leaves out (a picker opens on the activity's unit dimension)."""

    def value(name: str) -> str:
        if name in params:
            return params.get(name, "").strip()
        return defaults.get(name, "")

    return FactorFilters(
        words=search_words(params.get("q", defaults.get("q", ""))),
        dataset=value("dataset"),
        scope=value("scope"),
        region=value("region").upper(),
        dimension=value("dimension"),
        year=value("year"),
        all_versions=params.get("versions") == "all",
    )


def matching_supplier_factors(filters: FactorFilters) -> list[SupplierFactor]:
    """The tenant's factors matching the search (a dataset or year filter means the library)."""
    if filters.dataset or filters.year:
        return []
    found = supplier_factor_list(
        words=list(filters.words), scope=filters.scope, region=filters.region
    )
    if not filters.dimension:
        return list(found)
    return [f for f in found if supplier_factor_dimension(f) == filters.dimension]


def picker_context(params: QueryDict, **defaults: str) -> dict[str, Any]:
    """What `factors/_picker.html` shows: one page of library factors, the facets, the tenant's
    matching factors on the first page, and which value is chosen."""
    filters = factor_filters(params, **defaults)
    try:
        chosen = parse_factor_key(params.get("factor", ""))
    except ValueError:
        chosen = (None, None)
    page, facets = factor_browse(filters, page=params.get("page"), per_page=PICKER_PAGE_SIZE)
    return {
        "filters": filters,
        "q": params.get("q", defaults.get("q", "")),
        "page": page,
        "facets": facets,
        "your_factors": matching_supplier_factors(filters) if page.number == 1 else [],
        "library_empty": library_is_empty(),
        "chosen_lib": chosen[0],
        "chosen_sup": chosen[1],
    }
