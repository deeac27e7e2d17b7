from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.access import SAFE_METHODS, audit_denied, forbidden
from factortrace.tenancy import current_schema

SESSION_SCHEMA_KEY = "tenant_schema"

# Posts every user may make, whatever the role: signing in and out, and their own password.
VIEWER_WRITABLE = frozenset(
    {
        "login",
        "logout",
        "password_change",
        "password_reset",
        "password_reset_confirm",
        "invite_accept",
    }
)


class TenantSessionGuardMiddleware:
    """Defence in depth behind host-only cookies and per-schema session tables.

    A session is bound at login to the schema it was made in; presented anywhere else it is
    flushed and the request continues as anonymous. A viewer's write is refused here even if a
    view forgot its decorator.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bound = request.session.get(SESSION_SCHEMA_KEY)
            if bound != current_schema():
                audit_denied(request, "session from another tenant", session_schema=bound)
                logout(request)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if (
            request.method not in SAFE_METHODS
            and user is not None
            and user.is_authenticated
            and not user.can_edit
            and request.resolver_match is not None
            and request.resolver_match.url_name not in VIEWER_WRITABLE
        ):
            return forbidden(
                request, "viewer write", "Viewers can read everything but change nothing."
            )
        return None
