"""The tenant home page and the sections later milestones fill in."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from accounts.access import login_required_tenant

# Sections not built yet: each page says so plainly (no sample data).
UPCOMING = {
    "imports": (
        "Imports",
        "Upload fuel cards, utility bills and ledgers, map their columns once, fix the red cells.",
    ),
    "activities": (
        "Activities",
        "Your calculated activity records, filterable by period, scope, site and import.",
    ),
    "factors": (
        "Factors",
        "The emission-factor library (DEFRA, EPA, USEEIO, EXIOBASE) and your supplier factors.",
    ),
    "reports": (
        "Reports",
        "ESRS E1 and VSME reports as PDF and iXBRL (and EFRAG's VSME template), with the "
        "factor versions each result used.",
    ),
    "billing": ("Billing", "Report credits bought through Stripe and what each report consumed."),
    "settings": (
        "Settings",
        "Organisation profile, reporting periods, sites and electricity contracts.",
    ),
}


def _upcoming(section: str) -> Callable[..., HttpResponseBase]:
    title, description = UPCOMING[section]

    @login_required_tenant
    def view(request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "app/upcoming.html",
            {"title": title, "description": description, "section": section},
        )

    view.__name__ = f"{section}_upcoming"
    return view
