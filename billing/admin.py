"""The operator's dashboard of credits: tenants with balance, 30-day usage and payments (and a
grant action that asks for a reason), payments, vouchers, the ledger and Stripe's events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from billing.forms import GrantForm
from billing.ledger import credits_operator_adjust
from billing.models import (
    CreditBalance,
    CreditTransaction,
    Kind,
    Payment,
    StripeEvent,
    TenantAccount,
    Voucher,
    VoucherRedemption,
)
from billing.vouchers import normalise_code, voucher_code_new


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _int_subquery(queryset: QuerySet[Any], field: str) -> Coalesce:
    return Coalesce(Subquery(queryset.values(field)[:1], output_field=IntegerField()), Value(0))


@admin.register(TenantAccount)
class TenantAccountAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "balance", "used_30_days", "paid_payments", "created_at")
    search_fields = ("name", "slug")
    actions = ("grant_credits",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        since = timezone.now() - dt.timedelta(days=30)
        used = (
            CreditTransaction.objects.filter(
                tenant_id=OuterRef("id"), kind=Kind.CONSUME, created_at__gte=since
            )
            .order_by()
            .values("tenant_id")
            .annotate(n=Sum("credits"))
        )
        paid = (
            Payment.objects.filter(tenant_id=OuterRef("id"), granted_at__isnull=False)
            .order_by()
            .values("tenant_id")
            .annotate(n=Count("id"))
        )
        return (
            super()
            .get_queryset(request)
            .exclude(schema_name="public")
            .annotate(
                balance_=_int_subquery(
                    CreditBalance.objects.filter(tenant_id=OuterRef("id")), "credits"
                ),
                used_=_int_subquery(used, "n"),
                paid_=_int_subquery(paid, "n"),
            )
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)  # the grant action needs it

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Balance", ordering="balance_")
    def balance(self, obj: Any) -> int:
        return int(obj.balance_)

    @admin.display(description="Reports, last 30 days", ordering="used_")
    def used_30_days(self, obj: Any) -> int:
        return -int(obj.used_)

    @admin.display(description="Paid payments", ordering="paid_")
    def paid_payments(self, obj: Any) -> int:
        return int(obj.paid_)

    @admin.action(description="Grant credits (asks for a reason)")
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        form = GrantForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for tenant in queryset:
                credits_operator_adjust(
                    tenant_id=tenant.id,
                    credits=form.cleaned_data["credits"],
                    reason=form.cleaned_data["reason"],
                    operator=request.user.get_username(),
                )
            self.message_user(
                request,
                f"Granted {form.cleaned_data['credits']} credit(s) to {queryset.count()} "
                "tenant(s).",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/billing/grant_credits.html",
            {
                **self.admin_site.each_context(request),
                "title": "Grant credits",
                "tenants": queryset,
                "form": form,
                "action": "grant_credits",
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "opts": self.model._meta,
            },
        )


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "tenant_id",
        "pack",
        "amount_display",
        "status",
        "credits",
        "credits_taken_back",
        "credits_not_recovered",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("checkout_session_id", "payment_intent_id", "created_by")


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "tenant_id",
        "kind",
        "credits",
        "balance_after",
        "reason",
        "actor",
    )
    list_filter = ("kind",)
    search_fields = ("reason", "actor", "reference")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_id", "type", "tenant_id", "outcome", "waiting_for")
    list_filter = ("type",)
    search_fields = ("event_id",)


class RedemptionInline(admin.TabularInline):
    model = VoucherRedemption
    extra = 0
    can_delete = False
    readonly_fields = ("tenant", "redeemed_by", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "credits",
        "redemptions",
        "max_redemptions",
        "expires_at",
        "active",
        "note",
    )
    list_filter = ("active",)
    search_fields = ("code", "note")
    readonly_fields = ("redemptions", "created_by", "created_at")
    inlines = (RedemptionInline,)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"code": voucher_code_new(), "credits": 1, "max_redemptions": 1}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A redeemed code keeps its value: redemptions already in the ledger carry it.
        if obj is not None and obj.redemptions:
            return (*self.readonly_fields, "code", "credits")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Voucher, form: Any, change: bool) -> None:
        obj.code = normalise_code(obj.code)  # as customers' codes are read when redeemed
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or not obj.redemptions
