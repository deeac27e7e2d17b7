from __future__ import annotations

from django.contrib import admin

from accounts.models import User


@admin.register(User)
class OperatorAdmin(admin.ModelAdmin):
    """Operators of the public site (tenant users live in their own schemas)."""

    list_display = ("email", "full_name", "is_staff", "is_superuser", "is_active", "last_login")
    search_fields = ("email", "full_name")
    exclude = ("password", "user_permissions", "groups")
    readonly_fields = ("last_login", "date_joined")
