"""Credits, in the public schema: one balance per tenant, changed only together with a row of the
append-only ledger (billing.ledger), the Stripe payments and events behind purchases, and the
operator's vouchers. Every row carries its tenant and every query filters by it.

The tenant links carry no database constraint: ledger rows and payments outlive a deleted tenant
(the ledger refuses deletes, and accounts must keep them)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from tenants.models import Tenant


class Kind(models.TextChoices):
    GRANT = "grant", "Grant"
    PURCHASE = "purchase", "Purchase"
    VOUCHER = "voucher", "Voucher"
    CONSUME = "consume", "Report"
    REFUND = "refund", "Returned"
    ADJUSTMENT = "adjustment", "Operator adjustment"


class CreditBalance(models.Model):
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    credits = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(credits__gte=0), name="billing_balance_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.credits}"


class CreditTransaction(models.Model):
    """One change of a tenant's balance (append-only: a trigger refuses UPDATE and DELETE)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    credits = models.IntegerField(help_text="Added (positive) or taken (negative).")
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=300)
    actor = models.CharField(max_length=254, help_text="Who: a user's e-mail, an operator, Stripe.")
    # What it is about: the idempotency key of the change (report:12, trial, event id, ...).
    reference = models.CharField(max_length=120, blank=True)
    report_id = models.BigIntegerField(null=True, blank=True, help_text="In the tenant's schema.")
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    voucher = models.ForeignKey(
        "billing.Voucher", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="billing_ledger_once_per_reference",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.credits:+d}"


class PaymentStatus(models.TextChoices):
    OPEN = "open", "Waiting for payment"
    PROCESSING = "processing", "Payment processing"
    PAID = "paid", "Paid"
    FAILED = "failed", "Payment failed"
    EXPIRED = "expired", "Cancelled"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"


class Payment(models.Model):
    """A Stripe Checkout Session for one pack, and what came of it."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    pack = models.CharField(max_length=40)
    credits = models.PositiveIntegerField()
    amount = models.PositiveIntegerField(help_text="In cents of the currency.")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.OPEN
    )
    created_by = models.CharField(max_length=254, blank=True)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True)
    receipt_url = models.URLField(max_length=500, blank=True)
    invoice_url = models.URLField(max_length=500, blank=True)
    granted_at = models.DateTimeField(null=True, blank=True)
    amount_refunded = models.PositiveIntegerField(default=0)
    credits_taken_back = models.PositiveIntegerField(default=0)
    credits_not_recovered = models.PositiveIntegerField(
        default=0, help_text="Refunded or disputed credits that were already spent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"{self.pack} for {self.tenant_id} ({self.status})"

    @property
    def amount_display(self) -> str:
        return f"{self.currency.upper()} {self.amount / 100:,.2f}"

    @property
    def is_settled(self) -> bool:
        """No longer waiting on Stripe: the page stops asking."""
        return self.status not in (PaymentStatus.OPEN, PaymentStatus.PROCESSING)


class StripeEvent(models.Model):
    """Each Stripe event handled once: recorded in the transaction that acts on it."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    # An event that arrived before what it refers to (a refund before its payment was recorded).
    waiting_for = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Voucher(models.Model):
    """A code worth N credits, redeemable once per tenant, up to max_redemptions tenants."""

    code = models.CharField(max_length=40, unique=True)
    credits = models.PositiveIntegerField()
    max_redemptions = models.PositiveIntegerField(
        default=1, help_text="1: single use. More: that many workspaces may redeem it."
    )
    redemptions = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=254, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(redemptions__lte=models.F("max_redemptions")),
                name="billing_voucher_within_max",
            )
        ]

    def __str__(self) -> str:
        return self.code


class VoucherRedemption(models.Model):
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redeemed")
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    redeemed_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["voucher", "tenant"], name="billing_voucher_once")
        ]

    def __str__(self) -> str:
        return f"{self.voucher_id} by {self.tenant_id}"


class TenantAccount(Tenant):
    """The operator's view of a tenant's credits (a proxy of Tenant for the admin)."""

    class Meta:
        proxy = True
        verbose_name = "tenant credits"
        verbose_name_plural = "tenant credits"
