"""The activities page: the tenant's calculated records, filtered, with their totals; editors
correct or delete a record, viewers read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.access import login_required_tenant, role_required
from accounts.models import Role
from emissions.companions import inventory_settings_update
from emissions.forms_activities import ActivityFilterForm, ActivityRecordForm, FactorChangeForm
from emissions.models import ActivityRecord, InventorySettings
from emissions.selectors_activities import (
    activity_import_runs,
    activity_records,
    activity_sites,
)
from emissions.selectors_companions import line_kind_totals
from emissions.selectors_inventory import (
    inventory_breakdown,
    inventory_totals,
    inventory_uncertainty,
)
from emissions.selectors_refactor import (
    activity_factor_changes,
    activity_group_summary,
    record_dimension,
)
from emissions.services_activities import (
    ActivityRecordError,
    activity_record_delete,
    activity_record_update,
)
from emissions.services_refactor import (
    FactorChangeError,
    activity_factor_change_check,
    activity_factor_change_request,
)
from factors.picker import picker_context
from factortrace.htmx import is_htmx

PAGE_SIZE = 50
INTERVAL_GROUPS = (
    ("total", "Total"),
    ("scope_1", "Scope 1"),
    ("scope_2", "Scope 2 (location-based)"),
    ("scope_3", "Scope 3"),
)


def _get_activity_record_for_user(request: HttpRequest, record_id: int) -> ActivityRecord:
    """A record of this tenant (its own schema), for any signed-in user of it; 404 otherwise."""
    try:
        return ActivityRecord.objects.select_related(
            "factor__dataset", "supplier_factor", "import_run"
        ).get(id=record_id)
    except ActivityRecord.DoesNotExist as exc:
        raise Http404("No such activity record in your organisation.") from exc


def _back_url(request: HttpRequest) -> str:
    """Where to return after an edit: the filtered list the user came from, if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith(reverse("activities")) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("activities")


@login_required_tenant
def activity_list(request: HttpRequest) -> HttpResponse:
    runs = [(r.id, f"{r.original_name} ({r.created_at:%d %b %Y})") for r in activity_import_runs()]
    form = ActivityFilterForm(request.GET or None, sites=activity_sites(), runs=runs)
    if form.is_bound:
        form.is_valid()
    filters = form.filters()
    records = activity_records(filters)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    uncertainty = inventory_uncertainty()
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "totals": inventory_totals(filters=filters),
        "life_cycle_scope_2": activity_records(filters)
        .filter(provenance__has_key="location_note")
        .exists(),
        "categories": inventory_breakdown(by="category", filters=filters),
        "tiers": inventory_breakdown(by="data_quality", filters=filters),
        "uncertainty": uncertainty,
        "intervals": [
            (name, label, uncertainty.groups[name])
            for name, label in INTERVAL_GROUPS
            if name in uncertainty.groups
        ],
        "lines": line_kind_totals(records),
        "companion_lines": InventorySettings.current().companion_lines,
        "query_string": query.urlencode(),
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
        "current_url": request.get_full_path(),
        "can_edit": request.user.can_edit,  # type: ignore[union-attr]
    }
    template = "emissions/activity_list.html"
    if is_htmx(request):
        template += "#results"
    return render(request, template, context)


@role_required(Role.OWNER)
@require_POST
def activity_companion_setting(request: HttpRequest) -> HttpResponse:
    """Turn the WTT / T&D companion lines of the next imports on or off (owners)."""
    on = request.POST.get("companion_lines") == "on"
    inventory_settings_update(companion_lines=on)
    messages.success(
        request,
        "The next imports add the WTT and T&D lines."
        if on
        else "The next imports add no WTT or T&D line; the lines already imported stay.",
    )
    return redirect("activities")


@role_required(Role.EDITOR)
def activity_edit(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _get_activity_record_for_user(request, record_id)
    before = {"kg_co2e": record.kg_co2e, "activity": record.activity}
    form = ActivityRecordForm(request.POST or None, record=record)
    if request.method == "POST" and form.is_valid():
        try:
            activity_record_update(record=record, user=request.user, **form.values())  # type: ignore[arg-type]
        except ActivityRecordError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                f"Saved “{record.activity}”: {before['kg_co2e']:,.3f} → "
                f"{record.kg_co2e:,.3f} kg CO2e.",
            )
            return redirect(_back_url(request))
    status = 422 if request.method == "POST" else 200
    context = {
        "form": form,
        "record": record,
        "title": before["activity"],
        "next": _back_url(request),
    }
    return render(request, "emissions/activity_edit.html", context, status=status)


@role_required(Role.EDITOR)
def activity_delete(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _get_activity_record_for_user(request, record_id)
    if request.method != "POST":
        return render(
            request,
            "emissions/activity_delete.html",
            {"record": record, "next": _back_url(request)},
        )
    activity_record_delete(record=record)
    messages.success(
        request,
        f"Deleted “{record.activity}” of {record.date:%d %b %Y} ({record.kg_co2e:,.3f} kg CO2e).",
    )
    return redirect(_back_url(request))


@role_required(Role.EDITOR)
def activity_factor_change(request: HttpRequest, record_id: int) -> HttpResponse:
    """Change the factor of every record of this record's activity (or of this record only):
    choose a factor in the picker and say why, confirm, then one job recalculates them."""
    record = _get_activity_record_for_user(request, record_id)
    dimension = record_dimension(record)
    form = FactorChangeForm(request.POST or None)
    new: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        factor_id, supplier_factor_id = form.cleaned_data["factor"]
        only_this = form.cleaned_data["only_this"]
        try:
            if form.cleaned_data["confirm"]:
                change = activity_factor_change_request(
                    record=record,
                    factor_id=factor_id,
                    supplier_factor_id=supplier_factor_id,
                    reason=form.cleaned_data["reason"],
                    user=request.user,  # type: ignore[arg-type]
                    only_this=only_this,
                )
                which = "this record" if only_this else "every record"
                messages.success(
                    request,
                    f"Recalculating {which} of “{change.activity}” with the new factor; "
                    "the totals update when it is done.",
                )
                return redirect(_back_url(request))
            new = activity_factor_change_check(
                record=record,
                factor_id=factor_id,
                supplier_factor_id=supplier_factor_id,
                only_this=only_this,
            )
        except FactorChangeError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    params = request.POST if request.method == "POST" else request.GET
    summary = activity_group_summary(activity=record.activity, dimension=dimension)
    only = form.is_bound and form.is_valid() and form.cleaned_data["only_this"]
    context = {
        "record": record,
        "dimension": dimension,
        "summary": summary,
        "count": 1 if only else summary.records,
        "changes": list(
            activity_factor_changes(activity=record.activity, dimension=dimension)[:10]
        ),
        "form": form,
        "new": new,
        "picker": picker_context(params, dimension=dimension),
        "next": _back_url(request),
    }
    status = 422 if form.errors else 200
    return render(request, "emissions/activity_factor_change.html", context, status=status)
