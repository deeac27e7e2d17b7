"""Start-up checks that must fail loudly: a process with an unsafe configuration never serves."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TENANT_KEY_FUNCTION = "django_tenants.cache.make_key"
TENANT_STORAGE = "django_tenants.files.storage.TenantFileSystemStorage"


def verify_startup() -> None:
    """Raise ImproperlyConfigured when spreadsheets, cache or files could leak or harm."""
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise ImproperlyConfigured(
            "openpyxl is not using defusedxml: install defusedxml so uploaded workbooks cannot "
            "carry XML entity attacks."
        )
    for alias, cache in settings.CACHES.items():
        if cache.get("KEY_FUNCTION") != TENANT_KEY_FUNCTION:
            raise ImproperlyConfigured(
                f"CACHES[{alias!r}]['KEY_FUNCTION'] must be {TENANT_KEY_FUNCTION!r} so cache keys "
                "carry the tenant schema."
            )
    storage = settings.STORAGES.get("default", {}).get("BACKEND")
    if storage != TENANT_STORAGE:
        raise ImproperlyConfigured(
            f"STORAGES['default'] is {storage!r}; it must be {TENANT_STORAGE!r} so each tenant's "
            "files live under its own folder."
        )
