"""The Settings page: organisation profile, reporting periods, sites and Scope 2 contractual
instruments. Owners edit; every other member reads."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from emissions.forms_org import (
    ContractualInstrumentForm,
    OrganisationProfileForm,
    ReportingPeriodForm,
    SiteForm,
)
from emissions.models import ContractualInstrument, ReportingPeriod, Site
from emissions.selectors_org import (
    contractual_instruments,
    organisation_profile,
    reporting_periods,
    site_record_count,
    sites,
)
from emissions.services_org import (
    contractual_instrument_create,
    contractual_instrument_delete,
    contractual_instrument_update,
    organisation_profile_save,
    reporting_period_create,
    reporting_period_delete,
    site_create,
    site_update,
)

owner_writes = role_required(Role.OWNER, writes_only=True)
owner_only = role_required(Role.OWNER)


def _get_site_for_user(request: HttpRequest, site_id: int) -> Site:
    try:
        return Site.objects.get(id=site_id)
    except Site.DoesNotExist as exc:
        raise Http404("No such site in your organisation.") from exc


def _get_period_for_user(request: HttpRequest, period_id: int) -> ReportingPeriod:
    try:
        return ReportingPeriod.objects.get(id=period_id)
    except ReportingPeriod.DoesNotExist as exc:
        raise Http404("No such reporting period in your organisation.") from exc


def _get_instrument_for_user(request: HttpRequest, instrument_id: int) -> ContractualInstrument:
    try:
        return ContractualInstrument.objects.get(id=instrument_id)
    except ContractualInstrument.DoesNotExist as exc:
        raise Http404("No such contract in your organisation.") from exc


def _page(request: HttpRequest, status: int = 200, **forms: BaseForm) -> HttpResponse:
    can_edit = request.user.has_role(Role.OWNER)  # type: ignore[union-attr]
    context: dict[str, Any] = {
        "profile": organisation_profile(),
        "periods": reporting_periods(),
        "sites": sites(),
        "instruments": contractual_instruments(),
        "can_edit": can_edit,
        "profile_form": forms.get("profile_form")
        or OrganisationProfileForm(instance=organisation_profile()),
        "period_form": forms.get("period_form") or ReportingPeriodForm(prefix="period"),
        "site_form": forms.get("site_form") or SiteForm(prefix="site"),
        "instrument_form": forms.get("instrument_form")
        or ContractualInstrumentForm(prefix="contract"),
    }
    return render(request, "emissions/settings.html", context, status=status)


@owner_writes
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = OrganisationProfileForm(request.POST, instance=organisation_profile())
    if not form.is_valid():
        return _page(request, 422, profile_form=form)
    organisation_profile_save(**form.values())
    messages.success(request, "Saved the organisation profile.")
    return redirect("settings")


@owner_only
@require_POST
def settings_period_add(request: HttpRequest) -> HttpResponse:
    form = ReportingPeriodForm(request.POST, prefix="period")
    if not form.is_valid():
        return _page(request, 422, period_form=form)
    period = reporting_period_create(**form.cleaned_data)
    messages.success(request, f"Added the reporting period “{period.name}”.")
    return redirect("settings")


@owner_only
@require_POST
def settings_period_delete(request: HttpRequest, period_id: int) -> HttpResponse:
    period = _get_period_for_user(request, period_id)
    reporting_period_delete(period=period)
    messages.success(request, f"Deleted the reporting period “{period.name}”.")
    return redirect("settings")


@owner_only
@require_POST
def settings_site_add(request: HttpRequest) -> HttpResponse:
    form = SiteForm(request.POST, prefix="site")
    if not form.is_valid():
        return _page(request, 422, site_form=form)
    site = site_create(**form.values())
    messages.success(request, f"Added the site “{site.name}”.")
    return redirect("settings")


@owner_writes
def settings_site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    site = _get_site_for_user(request, site_id)
    title = site.name
    # Before the form sets the new values on the instance.
    where_before = (site.country, site.subregion)
    form = SiteForm(request.POST or None, instance=site)
    if request.method == "POST" and form.is_valid():
        site_update(site=site, **form.values())
        messages.success(request, f"Saved the site “{site.name}”.")
        if where_before != (site.country, site.subregion) and (n := site_record_count(site)):
            # Records keep the region (and factor) decided at import: said, never changed silently.
            messages.info(
                request,
                f"{n:,} records already imported at “{site.name}” keep the factors of "
                f"{where_before[1] or where_before[0]} they were calculated with; the new "
                "country applies to the next imports. To move them, change their factor on "
                "Activities (“change the factor for all records of this activity”).",
            )
        return redirect("settings")
    status = 422 if request.method == "POST" else 200
    can_edit = request.user.has_role(Role.OWNER)  # type: ignore[union-attr]
    context = {"form": form, "site": site, "title": title, "can_edit": can_edit}
    return render(request, "emissions/settings_site.html", context, status=status)


@owner_only
@require_POST
def settings_contract_add(request: HttpRequest) -> HttpResponse:
    form = ContractualInstrumentForm(request.POST, prefix="contract")
    if not form.is_valid():
        return _page(request, 422, instrument_form=form)
    instrument = contractual_instrument_create(**form.cleaned_data)
    messages.success(request, f"Added {instrument}.")
    return redirect("settings")


@owner_only
def settings_contract_edit(request: HttpRequest, instrument_id: int) -> HttpResponse:
    instrument = _get_instrument_for_user(request, instrument_id)
    form = ContractualInstrumentForm(request.POST or None, instance=instrument)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        instrument = contractual_instrument_update(instrument=instrument, **changed)
        messages.success(request, f"Saved {instrument}.")
        return redirect("settings")
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "title": str(instrument)}
    return render(request, "emissions/settings_contract.html", context, status=status)


@owner_only
@require_POST
def settings_contract_delete(request: HttpRequest, instrument_id: int) -> HttpResponse:
    instrument = _get_instrument_for_user(request, instrument_id)
    contractual_instrument_delete(instrument=instrument)
    messages.success(request, f"Deleted {instrument}.")
    return redirect("settings")
