"""Who may do what in a tenant, and the audit trail of every denied access.

Views declare their need with one decorator: `@login_required_tenant` for reading, `@role_required(Role.EDITOR)`
for writes, `@role_required(Role.OWNER)` for managing users. Denials are logged on `factortrace.audit` as
structured events (tenant, user, path, reason).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.template.loader import render_to_string

from accounts.models import Role
from factortrace.tenancy import current_schema

audit = logging.getLogger("factortrace.audit")

View = Callable[..., HttpResponseBase]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def audit_denied(request: HttpRequest, reason: str, **extra: Any) -> None:
    user = getattr(request, "user", None)
    audit.warning(
        "access denied",
        extra={
            "event": "access_denied",
            "tenant": current_schema(),
            "user": user.get_username() if user is not None and user.is_authenticated else None,
            "path": request.path,
            "method": request.method,
            "reason": reason,
            **extra,
        },
    )


def forbidden(request: HttpRequest, reason: str, message: str) -> HttpResponse:
    audit_denied(request, reason)
    body = render_to_string("403.html", {"message": message}, request=request)
    return HttpResponseForbidden(body)


def login_required_tenant(view: View) -> View:
    """Anonymous visitors go to the login page; the attempt is audited."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            audit_denied(request, "anonymous")
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def role_required(role: Role, *, writes_only: bool = False) -> Callable[[View], View]:
    """Require at least `role`; with writes_only, reading stays open to every signed-in user."""

    def decorator(view: View) -> View:
        @login_required_tenant
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if writes_only and request.method in SAFE_METHODS:
                return view(request, *args, **kwargs)
            if not request.user.has_role(role):  # type: ignore[union-attr]
                return forbidden(
                    request,
                    f"role below {role}",
                    f"This needs the {Role(role).label.lower()} role. Ask an owner of your "
                    "organisation to change your role.",
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
