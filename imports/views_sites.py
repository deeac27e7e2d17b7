"""The check page's unknown site names (issue 9): an owner adds them, as new sites or as aliases of
existing ones, in one go; the run is then checked again so its rows take the sites' countries."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from emissions.forms_org import UnknownSiteFormSet
from emissions.services_org import sites_add_names
from imports.errors import ImportInputError
from imports.models import ImportRun
from imports.services import import_run_validate
from imports.views import _get_import_run_for_user, _locked, _results_context

PREFIX = "sites"
# The form offers this many names at most (the rest after the next check).
MAX_NAMES = 100


def unknown_site_names(run: ImportRun) -> list[str]:
    """The site names of the run's last check that no site or alias knows."""
    notes = (run.detected or {}).get("notes") or []
    return next((list(n.get("sites") or []) for n in notes if n["code"] == "unknown_sites"), [])


def unknown_sites_formset(run: ImportRun, data: Any = None) -> Any:
    names = unknown_site_names(run)[:MAX_NAMES]
    return UnknownSiteFormSet(
        data, prefix=PREFIX, names=names, initial=[{"name": n} for n in names]
    )


@role_required(Role.OWNER)
@require_POST
def import_add_sites(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _get_import_run_for_user(request, run_id)
    if (locked := _locked(request, run)) is not None:
        return locked
    if not run.is_checked:
        return redirect("import_results", run_id=run.id)
    formset = unknown_sites_formset(run, request.POST)
    if not formset.is_valid():
        context = _results_context(request, run)
        context["sites_formset"] = formset
        return render(request, "imports/import_results.html", context, status=422)
    chosen = [f for f in formset.forms if f.new_site or f.alias_of]
    sites_add_names(
        new_sites=[f.new_site for f in chosen if f.new_site],
        aliases=[(f.alias_of, f.cleaned_data["name"]) for f in chosen if f.alias_of],
    )
    added = ", ".join(f"“{f.cleaned_data['name']}”" for f in chosen)
    try:
        import_run_validate(run=run)
    except ImportInputError as exc:
        messages.error(request, f"Added {added}; checking the rows again failed: {exc.message}")
        return redirect("import_results", run_id=run.id)
    messages.success(request, f"Added {added}. The rows were checked again with their sites.")
    return redirect("import_results", run_id=run.id)
