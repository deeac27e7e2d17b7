"""API tokens: made and revoked by owners in Settings, checked on every API request.

A token reads ``ft_<prefix>_<secret>``: the prefix finds the row, the SHA-256 of the schema name and
the whole token must equal the stored hash (compared in constant time). A token is refused when it
is revoked, expired, or its maker is no longer an active owner of the tenant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from api.models import ApiToken, TokenScope
from factortrace.tenancy import current_schema

TOKEN_PREFIX = "ft_"  # noqa: S105 (a prefix, not a secret)
PREFIX_LENGTH = len(TOKEN_PREFIX) + 10  # ft_ + 5 random bytes in hex
# last_used_at is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
EXPIRY_CHOICES_DAYS = (30, 90, 365)


class TokenRefusedError(Exception):
    """The presented token cannot be used; ``message`` is what the client is told."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # for the audit log only


# One answer for a token that is malformed, unknown here, or of another tenant.
UNKNOWN_TOKEN = "The API token is not valid for this workspace."  # noqa: S105


def _hash(token: str) -> str:
    return hashlib.sha256(f"{current_schema()}\n{token}".encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token, shown once


@transaction.atomic
def api_token_create(
    *, name: str, scope: str, user: User, expires_in_days: int | None = None
) -> NewToken:
    """Make a token for the current tenant; the returned secret is never stored."""
    if scope not in TokenScope.values:
        raise ValueError(f"unknown token scope {scope!r}")
    prefix = TOKEN_PREFIX + secrets.token_hex(5)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        name=name.strip()[:120],
        scope=scope,
        prefix=prefix,
        token_hash=_hash(secret),
        created_by=user,
        expires_at=expires_at,
    )
    return NewToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token at once (a second revoke changes nothing)."""
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_check(secret: str) -> ApiToken:
    """The usable token of this tenant that ``secret`` is, or TokenRefused. Records its use."""
    secret = secret.strip()
    prefix = secret[:PREFIX_LENGTH]
    if not prefix.startswith(TOKEN_PREFIX) or secret[PREFIX_LENGTH : PREFIX_LENGTH + 1] != "_":
        raise TokenRefusedError(UNKNOWN_TOKEN, "malformed token")
    token = ApiToken.objects.select_related("created_by").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash(secret)):
        raise TokenRefusedError(UNKNOWN_TOKEN, "unknown token")
    if token.revoked_at is not None:
        raise TokenRefusedError(
            "This API token was revoked. Ask an owner for a new one.", "revoked"
        )
    if token.is_expired:
        raise TokenRefusedError(
            "This API token has expired. Ask an owner for a new one.", "expired"
        )
    maker = token.created_by
    if maker is None or not maker.is_active or maker.role != Role.OWNER:
        raise TokenRefusedError(
            "The owner who made this API token no longer manages this workspace. Ask an owner "
            "for a new one.",
            "maker not an owner",
        )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
    return token
