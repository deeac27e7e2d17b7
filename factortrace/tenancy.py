"""Typed access to django-tenants' connection attributes (the stubs know only the base wrapper)."""

from __future__ import annotations

from typing import Any, cast

from django.db import connection


def tenant_connection() -> Any:
    return cast(Any, connection)


def current_schema() -> str:
    return str(tenant_connection().schema_name)
