from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from factortrace.health import health

HEALTH_PATH = "/api/v1/health"


def _host_name(request: HttpRequest) -> str:
    # The raw header: get_host() would raise on a host outside ALLOWED_HOSTS, and health answers all.
    return request.META.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()


def health_detail_allowed(request: HttpRequest) -> bool:
    """Full detail on the operator's (public) host or with the health token; ok / 503 elsewhere."""
    token = settings.HEALTH_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    return _host_name(request) == settings.BASE_DOMAIN


class HealthCheckMiddleware:
    """Answer the health check before tenant resolution, which itself needs the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.rstrip("/") == HEALTH_PATH:
            if request.method not in {"GET", "HEAD"}:
                return JsonResponse({"error": "method not allowed"}, status=405)
            body, status = health()
            if not health_detail_allowed(request):
                body = {"status": "ok" if status == 200 else "down"}
            response = JsonResponse(body, status=status)
            add_never_cache_headers(response)
            return response
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Pages seen by a signed-in user carry tenant data: no browser or proxy may keep a copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
