from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import LoginThrottle, User


@admin.register(User)
class OperatorAdmin(admin.ModelAdmin):
    """Operators of the public site (tenant users live in their own schemas)."""

    list_display = ("email", "full_name", "is_staff", "is_superuser", "is_active", "last_login")
    search_fields = ("email", "full_name")
    exclude = ("password", "user_permissions", "groups")
    readonly_fields = ("last_login", "date_joined")


@admin.register(LoginThrottle)
class OperatorLoginThrottleAdmin(admin.ModelAdmin):
    """Lock-outs of the operator sign-in (tenants' own are lifted from the tenant list's actions)."""

    list_display = ("address", "kind", "failures", "last_failure_at", "locked_until")
    readonly_fields = ("kind", "address", "failures", "last_failure_at", "locked_until")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
