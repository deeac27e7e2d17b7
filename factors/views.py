"""The factor browser (the shared library, read-only) and the tenant's supplier-specific factors.

Every signed-in user reads; editors and owners add, edit and delete supplier factors. HTMX
requests get the named partial of the page template (`#results`), chosen here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.access import login_required_tenant, role_required
from accounts.models import Role
from emissions.forms import SupplierFactorForm
from emissions.models import SupplierFactor
from emissions.selectors import supplier_factor_dimension, supplier_factor_list
from emissions.services import (
    SupplierFactorInUseError,
    supplier_factor_create,
    supplier_factor_delete,
    supplier_factor_update,
)
from factors.models import EmissionFactor
from factors.picker import factor_filters, picker_context
from factors.selectors import FactorFilters, country_name, factor_browse, library_is_empty
from factortrace.htmx import HtmxHttpRequest, is_htmx

PAGE_SIZE = 25


def _get_factor_for_user(request: HttpRequest, factor_id: int) -> EmissionFactor:
    """The library is shared: every signed-in user of a tenant reads any factor; 404 otherwise."""
    try:
        return EmissionFactor.objects.select_related("dataset").get(id=factor_id)
    except EmissionFactor.DoesNotExist as exc:
        raise Http404("No such factor in the library.") from exc


def _get_supplier_factor_for_user(request: HttpRequest, supplier_factor_id: int) -> SupplierFactor:
    """A supplier factor of this tenant (its own schema), 404 otherwise."""
    try:
        return SupplierFactor.objects.get(id=supplier_factor_id)
    except SupplierFactor.DoesNotExist as exc:
        raise Http404("No such factor in your organisation.") from exc


def _filters(request: HttpRequest) -> FactorFilters:
    return factor_filters(request.GET)


def _your_factors(filters: FactorFilters) -> list[SupplierFactor]:
    """The tenant's factors matching the browser's filters (a dataset filter means the library)."""
    if filters.dataset:
        return []
    found = supplier_factor_list(
        words=list(filters.words), scope=filters.scope, region=filters.region
    )
    if not filters.dimension:
        return list(found)
    return [f for f in found if supplier_factor_dimension(f) == filters.dimension]


@login_required_tenant
def factor_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = _filters(request)
    page, facets = factor_browse(filters, page=request.GET.get("page"), per_page=PAGE_SIZE)
    query = QueryDict(mutable=True)
    for name in ("q", "dataset", "scope", "region", "dimension", "year", "versions"):
        if request.GET.get(name, "").strip():
            query[name] = request.GET[name].strip()
    context: dict[str, Any] = {
        "filters": filters,
        "q": request.GET.get("q", ""),
        "page": page,
        "rows": [(factor, _subtitle(factor)) for factor in page.object_list],
        "facets": facets,
        "your_factors": _your_factors(filters) if page.number == 1 else [],
        "library_empty": library_is_empty(),
        "query_string": query.urlencode(),
        "can_edit": request.user.can_edit,  # type: ignore[union-attr]
    }
    if is_htmx(request):
        response = render(request, "factors/factor_list.html#results", context)
        # The address bar shows the search without the empty filters the form sends.
        page_part = f"page={page.number}" if page.number > 1 else ""
        address = "&".join(p for p in (query.urlencode(), page_part) if p)
        response["HX-Push-Url"] = reverse("factors") + (f"?{address}" if address else "")
        return response
    return render(request, "factors/factor_list.html", context)


@login_required_tenant
@require_GET
def factor_picker(request: HtmxHttpRequest) -> HttpResponse:
    """The picker's results (HTMX partial of `factors/_picker.html`), for the pages that choose a
    factor; the full fragment otherwise."""
    template = "factors/_picker.html"
    if is_htmx(request):
        template += "#results"
    return render(request, template, {"picker": picker_context(request.GET)})


def _subtitle(factor: EmissionFactor) -> str:
    """The category path, unless the name already says it (DEFRA names repeat their levels)."""
    last = factor.category.rsplit(" > ", 1)[-1].strip()
    return "" if not last or last.lower() in factor.name.lower() else factor.category


@login_required_tenant
def factor_detail(request: HttpRequest, factor_id: int) -> HttpResponse:
    factor = _get_factor_for_user(request, factor_id)
    dataset = factor.dataset
    current = None
    if not dataset.is_current:
        current = (
            EmissionFactor.objects.filter(
                dataset__key=dataset.key, dataset__is_current=True, publisher_id=factor.publisher_id
            )
            .select_related("dataset")
            .first()
        )
    gases = [
        (label, value)
        for label, value in (
            ("CO2", factor.co2),
            ("CH4", factor.ch4),
            ("N2O", factor.n2o),
            ("Other GHGs", factor.other_ghg),
        )
        if value is not None
    ]
    return render(
        request,
        "factors/factor_detail.html",
        {
            "factor": factor,
            "dataset": dataset,
            "current": current,
            "gases": gases,
            "gas_total": sum(v for _, v in gases),
            "region_name": country_name(factor.region),
        },
    )


@login_required_tenant
def supplier_factor_list_view(request: HttpRequest) -> HttpResponse:
    factors = list(supplier_factor_list())
    return render(
        request,
        "factors/supplier_factor_list.html",
        {"factors": factors, "can_edit": request.user.can_edit},  # type: ignore[union-attr]
    )


@login_required_tenant
def supplier_factor_detail(request: HttpRequest, supplier_factor_id: int) -> HttpResponse:
    factor = _get_supplier_factor_for_user(request, supplier_factor_id)
    return render(
        request,
        "factors/supplier_factor_detail.html",
        {
            "factor": factor,
            "dimension": supplier_factor_dimension(factor),
            "region_name": country_name(factor.region),
            "can_edit": request.user.can_edit,  # type: ignore[union-attr]
        },
    )


@role_required(Role.EDITOR)
def supplier_factor_add(request: HttpRequest) -> HttpResponse:
    form = SupplierFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        factor = supplier_factor_create(user=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        messages.success(request, f"Added “{factor.name}”; matching now prefers it.")
        return redirect("supplier_factor_detail", supplier_factor_id=factor.id)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "factors/supplier_factor_form.html", {"form": form, "factor": None}, status=status
    )


@role_required(Role.EDITOR)
def supplier_factor_edit(request: HttpRequest, supplier_factor_id: int) -> HttpResponse:
    factor = _get_supplier_factor_for_user(request, supplier_factor_id)
    title = factor.name  # validation writes the submitted values onto the instance
    form = SupplierFactorForm(request.POST or None, instance=factor)
    if request.method == "POST" and form.is_valid():
        supplier_factor_update(supplier_factor=factor, **form.cleaned_data)
        messages.success(request, f"Saved “{factor.name}”.")
        return redirect("supplier_factor_detail", supplier_factor_id=factor.id)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "factor": factor, "title": title}
    return render(request, "factors/supplier_factor_form.html", context, status=status)


@role_required(Role.EDITOR)
def supplier_factor_delete_view(request: HttpRequest, supplier_factor_id: int) -> HttpResponse:
    factor = _get_supplier_factor_for_user(request, supplier_factor_id)
    if request.method != "POST":
        return render(request, "factors/supplier_factor_delete.html", {"factor": factor})
    try:
        supplier_factor_delete(supplier_factor=factor)
    except SupplierFactorInUseError as exc:
        messages.error(request, str(exc))
        return redirect("supplier_factor_detail", supplier_factor_id=factor.id)
    messages.success(request, f"Deleted “{factor.name}”.")
    return redirect(reverse("supplier_factors"))
