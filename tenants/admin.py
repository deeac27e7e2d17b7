from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tenants.admin import TenantAdminMixin
from django_tenants.utils import schema_context

from tenants.models import Domain, Tenant


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "created_at")
    search_fields = ("name", "slug", "schema_name")
    readonly_fields = ("schema_name", "created_at")
    inlines = (DomainInline,)
    actions = ("lift_login_locks",)

    @admin.action(description="Lift sign-in and password-reset lock-outs")
    def lift_login_locks(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        from accounts.throttle import throttle_clear

        lifted = 0
        for tenant in queryset:
            with schema_context(tenant.schema_name):
                lifted += throttle_clear()
        self.message_user(request, f"Lifted {lifted} lock-out(s) in {queryset.count()} tenant(s).")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).exclude(schema_name="public")


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__name")
    list_select_related = ("tenant",)
