"""The dashboard (the tenant's home once it has data) and the reports page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import login_required_tenant
from emissions.selectors_org import reporting_periods
from factortrace.views import UPCOMING
from reporting.selectors import dashboard, has_records, selected_period


@login_required_tenant
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard once records exist; before that, the way to the import wizard."""
    if not has_records():
        return render(request, "app/home.html", {"sections": UPCOMING, "empty": True})
    period = selected_period(request.GET.get("period"))
    return render(
        request,
        "reporting/dashboard.html",
        {"board": dashboard(period), "periods": reporting_periods(), "period": period},
    )
