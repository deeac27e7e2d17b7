"""Vouchers: codes the operator creates, worth N credits, redeemed by a tenant's owner."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.ledger import credits_change
from billing.models import CreditTransaction, Kind, Voucher, VoucherRedemption

# No 0/O or 1/I/L: codes are read aloud and typed from e-mails.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class VoucherError(Exception):
    """The code cannot be redeemed; the message says why, in words for the customer."""


def voucher_code_new() -> str:
    parts = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3)]
    return "FT-" + "-".join(parts)


def normalise_code(code: str) -> str:
    return "".join(code.split()).upper()


def voucher_redeem(*, tenant_id: int, code: str, user_email: str) -> CreditTransaction:
    """Redeem `code` for the tenant: one VoucherRedemption, the voucher's count up by one (only
    while below its maximum) and one ledger row, or nothing and a VoucherError."""
    code = normalise_code(code)
    if not code:
        raise VoucherError("Enter a voucher code.")
    try:
        with transaction.atomic():
            voucher = Voucher.objects.filter(code=code).first()
            if voucher is None or not voucher.active:
                raise VoucherError(f"The code {code} is not a valid voucher.")
            if voucher.expires_at is not None and voucher.expires_at <= timezone.now():
                raise VoucherError(f"The voucher {code} expired on {voucher.expires_at:%d %b %Y}.")
            if VoucherRedemption.objects.filter(voucher=voucher, tenant_id=tenant_id).exists():
                raise VoucherError(f"Your organisation has already redeemed {code}.")
            counted = Voucher.objects.filter(
                id=voucher.id, redemptions__lt=F("max_redemptions")
            ).update(redemptions=F("redemptions") + 1)
            if counted != 1:
                raise VoucherError(f"The voucher {code} has been used up.")
            VoucherRedemption.objects.create(
                voucher=voucher, tenant_id=tenant_id, redeemed_by=user_email
            )
            return credits_change(
                tenant_id=tenant_id,
                kind=Kind.VOUCHER,
                credits=voucher.credits,
                reason=f"Voucher {code}",
                actor=user_email,
                reference=f"voucher:{voucher.id}",
                voucher=voucher,
            )
    except IntegrityError as exc:  # the same tenant redeeming twice at the same moment
        raise VoucherError(f"Your organisation has already redeemed {code}.") from exc
