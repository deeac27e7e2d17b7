from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from factortrace.health import health

HEALTH_PATH = "/api/v1/health"


class HealthCheckMiddleware:
    """Answer the health check before tenant resolution, which itself needs the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.rstrip("/") == HEALTH_PATH:
            if request.method not in {"GET", "HEAD"}:
                return JsonResponse({"error": "method not allowed"}, status=405)
            body, status = health()
            return JsonResponse(body, status=status)
        return self.get_response(request)
