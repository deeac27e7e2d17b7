"""Login and password-reset throttling, per tenant schema and per client address.

Failed sign-ins are counted from Django's `user_login_failed` signal (our login page and the operator
admin alike); password-reset requests are counted as they are posted. At the limit the address is
locked out of that tenant for LOGIN_LOCKOUT_MINUTES: the sign-in (even with the right password) or
reset page answers 429 with a page that says so. Counts live in the tenant's own schema, so a lock on
acme never touches globex. Owners lift a lock on the Team page, operators from the admin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import audit_denied
from accounts.models import LoginThrottle, ThrottleKind

# Which posts are throttled: (URL name as resolved, kind).
LOGIN_VIEWS = frozenset({"login", "admin:login"})
RESET_VIEWS = frozenset({"password_reset"})


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the trusted proxies saw (X-Forwarded-For counted from the right)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:45]
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:45]


def _limit(kind: str) -> int:
    return (
        settings.LOGIN_FAILURE_LIMIT
        if kind == ThrottleKind.LOGIN
        else settings.PASSWORD_RESET_LIMIT
    )


def active_lock(kind: str, address: str) -> LoginThrottle | None:
    row = LoginThrottle.objects.filter(kind=kind, address=address).first()
    return row if row is not None and row.is_locked else None


@transaction.atomic
def throttle_record(*, kind: str, address: str) -> LoginThrottle:
    """Count one failure (or reset request); lock the address when it reaches the limit."""
    now = timezone.now()
    window = dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    row, _ = LoginThrottle.objects.select_for_update().get_or_create(
        kind=kind, address=address, defaults={"last_failure_at": now}
    )
    if row.last_failure_at < now - window and not row.is_locked:
        row.failures = 0  # old failures expire
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= _limit(kind):
        row.locked_until = now + window
    row.save()
    return row


def throttle_clear(*, lock_id: int | None = None) -> int:
    """Lift one lock (by id) or every lock of the current schema; returns how many were lifted."""
    rows = LoginThrottle.objects.all()
    if lock_id is not None:
        rows = rows.filter(id=lock_id)
    deleted, _ = rows.delete()
    return deleted


def record_login_failure(
    sender: Any, credentials: Any, request: HttpRequest | None, **_: Any
) -> None:
    if request is not None:
        throttle_record(kind=ThrottleKind.LOGIN, address=client_address(request))


def locked_out(request: HttpRequest, lock: LoginThrottle) -> HttpResponse:
    audit_denied(request, f"{lock.kind} locked out", address=lock.address)
    tenant = getattr(request, "tenant", None)
    is_public = tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME
    response = render(
        request,
        "accounts/locked.html",
        {"lock": lock, "is_reset": lock.kind == ThrottleKind.RESET, "is_public": is_public},
        status=429,
    )
    assert lock.locked_until is not None
    seconds = max(1, int((lock.locked_until - timezone.now()).total_seconds()))
    response["Retry-After"] = str(seconds)
    return response


class LoginThrottleMiddleware:
    """Refuse the sign-in and reset pages to a locked address; count reset requests."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None:
            return None
        if match.view_name in LOGIN_VIEWS:
            kind = ThrottleKind.LOGIN
        elif match.view_name in RESET_VIEWS:
            kind = ThrottleKind.RESET
        else:
            return None
        address = client_address(request)
        lock = active_lock(kind, address)
        if lock is not None:
            return locked_out(request, lock)
        if kind == ThrottleKind.RESET and request.method == "POST":
            throttle_record(kind=kind, address=address)
        return None
