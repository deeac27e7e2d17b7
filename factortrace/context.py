from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from factortrace.tenancy import current_schema


def site(request: HttpRequest) -> dict[str, object]:
    tenant = getattr(request, "tenant", None)
    is_public = tenant is None or current_schema() == settings.PUBLIC_SCHEMA_NAME
    return {
        "tenant": None if is_public else tenant,
        "is_public_site": is_public,
        "version": settings.VERSION,
        "settings_jobs_in_process": settings.JOBS_IN_PROCESS,
        "public_url": public_url(""),
    }


def public_url(path: str) -> str:
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{settings.BASE_DOMAIN}{port}/{path.lstrip('/')}"


def tenant_url(slug: str, path: str = "") -> str:
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{slug}.{settings.BASE_DOMAIN}{port}/{path.lstrip('/')}"
