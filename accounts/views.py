from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.access import login_required_tenant, role_required
from accounts.forms import EmailAuthenticationForm, RoleForm, UserAddForm
from accounts.models import LoginThrottle, Role, User
from accounts.services import LastOwnerError, user_invite, user_remove, user_set_role
from accounts.throttle import throttle_clear
from accounts.tokens import invite_tokens, login_token_consume

login_view = auth_views.LoginView.as_view(
    template_name="accounts/login.html",
    redirect_authenticated_user=True,
    authentication_form=EmailAuthenticationForm,
)
logout_view = auth_views.LogoutView.as_view()
password_change = login_required_tenant(
    auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change.html",
        success_url=reverse_lazy("password_change_done"),
    )
)
password_change_done = login_required_tenant(
    auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html")
)


def tenant_link_domain(request: HttpRequest) -> str:
    """The host (and PUBLIC_PORT) links in e-mails point at: the tenant's configured primary domain,
    never the Host header of the request that asked for the e-mail."""
    from tenants.services import tenant_domain

    tenant = request.tenant  # type: ignore[attr-defined]
    primary = tenant.get_primary_domain()
    domain = primary.domain if primary is not None else tenant_domain(tenant.slug)
    return f"{domain}:{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else domain


class TenantPasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        form.save(
            domain_override=tenant_link_domain(self.request),
            use_https=settings.PUBLIC_SCHEME == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())


password_reset = TenantPasswordResetView.as_view(
    template_name="accounts/password_reset.html",
    email_template_name="accounts/password_reset_email.txt",
    subject_template_name="accounts/password_reset_subject.txt",
    success_url=reverse_lazy("password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
# The invitation link: the teammate chooses a password (the link then stops working) and is
# signed in.
invite_accept = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/invite_accept.html",
    token_generator=invite_tokens,
    post_reset_login=True,
    post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
    success_url=reverse_lazy("home"),
    reset_url_token="choose-password",  # noqa: S106 (the URL placeholder, not a secret)
)


@require_GET
def welcome(request: HttpRequest, token: str) -> HttpResponse:
    """Sign-up hands the new owner across hosts with a one-time signed token: valid once, for a
    short time, on this workspace only. Anything else goes to the sign-in page."""

    def sign_in(user: User) -> None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")

    user = login_token_consume(token, sign_in=sign_in)
    if user is None:
        return render(request, "accounts/welcome_expired.html")
    messages.success(request, f"Welcome, {user.full_name}: your workspace is ready.")
    return redirect("home")


def _get_user_for_owner(request: HttpRequest, user_id: int) -> User:
    """The only way a team view loads a user: from this tenant's schema, 404 otherwise."""
    try:
        return User.objects.get(id=user_id)
    except User.DoesNotExist as exc:
        raise Http404("No such user in your organisation.") from exc


def _team_context(request: HttpRequest, form: UserAddForm) -> dict[str, object]:
    users = User.objects.order_by("full_name", "email")
    locks = [row for row in LoginThrottle.objects.all() if row.is_locked]
    return {"users": users, "form": form, "roles": Role.choices, "locks": locks}


@login_required_tenant
def team(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/team.html", _team_context(request, UserAddForm()))


@role_required(Role.OWNER)
def team_add(request: HttpRequest) -> HttpResponse:
    form = UserAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_invite(
            **form.cleaned_data,
            invited_by=request.user,  # type: ignore[arg-type]
            link_domain=tenant_link_domain(request),
            company=request.tenant.name,  # type: ignore[attr-defined]
        )
        messages.success(
            request,
            f"Invitation sent to {user.email}: {user.full_name} chooses a password from the "
            f"link in it and then signs in as {user.get_role_display().lower()}.",
        )
        return redirect("team")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/team.html", _team_context(request, form), status=status)


@role_required(Role.OWNER)
@require_POST
def team_role(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _get_user_for_owner(request, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, editor or viewer.")
        return redirect("team")
    try:
        user_set_role(user=user, role=form.cleaned_data["role"])
    except LastOwnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.full_name} is now {user.get_role_display().lower()}.")
    return redirect("team")


@role_required(Role.OWNER)
def team_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _get_user_for_owner(request, user_id)
    if request.method != "POST":
        return render(request, "accounts/team_remove.html", {"member": user})
    if user.id == request.user.id:
        messages.error(request, "You cannot remove yourself; ask another owner.")
        return redirect("team")
    try:
        user_remove(user=user)
    except LastOwnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.full_name} no longer has access.")
    return redirect("team")


@role_required(Role.OWNER)
@require_POST
def team_unlock(request: HttpRequest, lock_id: int) -> HttpResponse:
    """An owner lifts a sign-in or password-reset lock-out of this organisation."""
    if not LoginThrottle.objects.filter(id=lock_id).exists():
        raise Http404("No such lock-out in your organisation.")
    throttle_clear(lock_id=lock_id)
    messages.success(request, "The lock-out is lifted: that address can sign in again.")
    return redirect("team")
