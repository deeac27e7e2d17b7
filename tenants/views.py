from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_tenants.utils import schema_context

from accounts.access import role_required
from accounts.models import Role, User
from accounts.tokens import login_token_make
from factortrace.context import tenant_url
from tenants.forms import LanguageForm, SigninForm, SignupForm
from tenants.models import Tenant
from tenants.services import SubdomainTakenError, tenant_create, tenant_set_language


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
            token = _owner_login_token(tenant, data["email"])
            return redirect(tenant_url(tenant.slug, f"welcome/{token}/"))
    status = 422 if request.method == "POST" else 200
    return render(request, "public/signup.html", {"form": form}, status=status)


def _owner_login_token(tenant: Tenant, email: str) -> str:
    """The new owner is signed in on their workspace's host by a one-time token (the session of
    the public site cannot cross hosts)."""
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=email.strip().lower())
        return login_token_make(user=owner, schema_name=tenant.schema_name)


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """Sign in from the public site: the workspace's subdomain leads to its own sign-in page."""
    form = SigninForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return redirect(tenant_url(form.cleaned_data["slug"], "login/"))
    status = 422 if request.method == "POST" else 200
    return render(request, "public/signin.html", {"form": form}, status=status)


@role_required(Role.OWNER)
@require_http_methods(["GET", "POST"])
def workspace_language(request: HttpRequest) -> HttpResponse:
    """The owner chooses the workspace's language: its number and date format."""
    tenant = request.tenant  # type: ignore[attr-defined]
    form = LanguageForm(request.POST or None, initial={"language": tenant.language})
    if request.method == "POST" and form.is_valid():
        tenant_set_language(tenant=tenant, language=form.cleaned_data["language"])
        messages.success(request, "Saved: numbers and dates now show in this format.")
        return redirect("settings_language")
    status = 422 if request.method == "POST" else 200
    return render(request, "tenants/language.html", {"form": form}, status=status)
