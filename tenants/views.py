from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from factortrace.context import tenant_url
from tenants.forms import SignupForm
from tenants.services import SubdomainTakenError, tenant_create


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenant = tenant_create(
                company_name=data["company_name"],
                slug=data["slug"],
                owner_name=data["full_name"],
                owner_email=data["email"],
                owner_password=data["password"],
            )
        except SubdomainTakenError:
            form.add_error("slug", "This subdomain was just taken. Please choose another.")
        else:
            return redirect(tenant_url(tenant.slug, "login/") + "?welcome=1")
    status = 422 if request.method == "POST" else 200
    return render(request, "public/signup.html", {"form": form}, status=status)
