"""The credit ledger: every change of a tenant's balance is one conditional UPDATE of its balance
row and one CreditTransaction row, in one transaction. The UPDATE only matches while the result
stays >= 0, so concurrent consumers queue on the row and the balance never goes negative (the
CHECK constraint is the second fence). A `reference` makes a change idempotent: the ledger's
unique (tenant, kind, reference) index lets it happen once."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import CreditBalance, CreditTransaction, Kind

logger = logging.getLogger(__name__)


class NoCreditsError(Exception):
    """The tenant's balance does not cover the change."""


class AlreadyRecordedError(Exception):
    """A change with this reference is already in the ledger."""


def tenant_id_for_schema(schema_name: str) -> int:
    from tenants.models import Tenant

    return int(Tenant.objects.values_list("id", flat=True).get(schema_name=schema_name))


def credit_balance(*, tenant_id: int) -> int:
    row = CreditBalance.objects.filter(tenant_id=tenant_id).values_list("credits", flat=True)
    return int(row.first() or 0)


def credit_history(*, tenant_id: int, limit: int = 100) -> list[CreditTransaction]:
    return list(CreditTransaction.objects.filter(tenant_id=tenant_id)[:limit])


def credits_change(
    *,
    tenant_id: int,
    kind: str,
    credits: int,
    reason: str,
    actor: str,
    reference: str = "",
    report_id: int | None = None,
    payment: Any = None,
    voucher: Any = None,
) -> CreditTransaction:
    """Add (credits > 0) or take (credits < 0) credits with one ledger row, atomically.
    Raises NoCreditsError when the balance would go below zero and AlreadyRecordedError when the
    reference is already in the ledger; nothing changes then."""
    if credits == 0:
        raise ValueError("A ledger row changes the balance.")
    try:
        with transaction.atomic():
            CreditBalance.objects.get_or_create(tenant_id=tenant_id)
            changed = CreditBalance.objects.filter(
                tenant_id=tenant_id, credits__gte=-credits
            ).update(credits=F("credits") + credits)
            if changed != 1:
                raise NoCreditsError("No report credits left: buy credits or redeem a voucher.")
            after = CreditBalance.objects.values_list("credits", flat=True).get(tenant_id=tenant_id)
            return CreditTransaction.objects.create(
                tenant_id=tenant_id,
                kind=kind,
                credits=credits,
                balance_after=after,
                reason=reason[:300],
                actor=actor[:254],
                reference=reference,
                report_id=report_id,
                payment=payment,
                voucher=voucher,
            )
    except IntegrityError as exc:
        if (
            reference
            and CreditTransaction.objects.filter(
                tenant_id=tenant_id, kind=kind, reference=reference
            ).exists()
        ):
            raise AlreadyRecordedError(reference) from exc
        raise


def credits_take_back(
    *, tenant_id: int, up_to: int, kind: str, reason: str, actor: str, **links: Any
) -> tuple[CreditTransaction | None, int]:
    """Take back as many of `up_to` credits as the balance holds (never below zero); returns the
    ledger row (None when nothing could be taken) and how many were already spent."""
    with transaction.atomic():
        CreditBalance.objects.get_or_create(tenant_id=tenant_id)
        balance = CreditBalance.objects.select_for_update().get(tenant_id=tenant_id)
        taken = min(up_to, balance.credits)
        row = None
        if taken > 0:
            row = credits_change(
                tenant_id=tenant_id,
                kind=kind,
                credits=-taken,
                reason=reason,
                actor=actor,
                **links,
            )
    return row, up_to - taken


def credit_consume_for_report(*, schema_name: str, report_id: int, actor: str) -> CreditTransaction:
    """One credit for the tenant's report `report_id`; NoCreditsError when none is left. Call it
    inside the transaction that creates the report, so both happen or neither."""
    return credits_change(
        tenant_id=tenant_id_for_schema(schema_name),
        kind=Kind.CONSUME,
        credits=-1,
        reason=f"Report {report_id}",
        actor=actor,
        reference=f"report:{report_id}",
        report_id=report_id,
    )


def credit_return_for_report(*, schema_name: str, report_id: int, reason: str) -> bool:
    """Give back the credit report `report_id` consumed, once; False if it consumed none or it was
    already given back."""
    tenant_id = tenant_id_for_schema(schema_name)
    if not CreditTransaction.objects.filter(
        tenant_id=tenant_id, kind=Kind.CONSUME, reference=f"report:{report_id}"
    ).exists():
        return False
    try:
        credits_change(
            tenant_id=tenant_id,
            kind=Kind.REFUND,
            credits=1,
            reason=f"Report {report_id} failed: {reason}"[:300],
            actor="system",
            reference=f"report:{report_id}",
            report_id=report_id,
        )
    except AlreadyRecordedError:
        return False
    return True


def credits_trial_grant(*, tenant_id: int) -> bool:
    """The trial credit of a new workspace, once per tenant."""
    if settings.BILLING_TRIAL_CREDITS < 1:
        return False
    try:
        credits_change(
            tenant_id=tenant_id,
            kind=Kind.GRANT,
            credits=settings.BILLING_TRIAL_CREDITS,
            reason="Trial credit of a new workspace",
            actor="system",
            reference="trial",
        )
    except AlreadyRecordedError:
        return False
    return True


def credits_operator_adjust(
    *, tenant_id: int, credits: int, reason: str, operator: str
) -> CreditTransaction:
    """An operator's grant (or correction) with the reason they gave."""
    if not reason.strip():
        raise ValueError("Say why the credits are granted.")
    return credits_change(
        tenant_id=tenant_id,
        kind=Kind.ADJUSTMENT,
        credits=credits,
        reason=reason.strip(),
        actor=operator,
    )
