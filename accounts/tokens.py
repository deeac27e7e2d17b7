"""One-time links: the invitation that lets a teammate set their password, and the sign-in token
that carries a new owner from the public sign-up to their workspace's host.

Both are single-use without a table: their hash covers the user's password hash and last sign-in,
so setting the password (invite) or signing in (login token) makes the link worthless. Both expire:
invitations after PASSWORD_RESET_TIMEOUT, login tokens after LOGIN_TOKEN_MAX_AGE seconds. A login
token is signed with the tenant's schema in it, so it opens only that workspace.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.db import transaction

from accounts.models import User
from factortrace.tenancy import current_schema

LOGIN_TOKEN_SALT = "factortrace.accounts.login-token"  # noqa: S105 (a signing salt, not a secret)
LOGIN_TOKEN_MAX_AGE = 120


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "factortrace.accounts.invite"


class LoginTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "factortrace.accounts.login"


invite_tokens = InviteTokenGenerator()
login_tokens = LoginTokenGenerator()


def login_token_make(*, user: User, schema_name: str) -> str:
    """A signed, expiring, single-use token that signs `user` in on `schema_name`'s host."""
    return signing.dumps(
        {"s": schema_name, "u": user.pk, "t": login_tokens.make_token(user)}, salt=LOGIN_TOKEN_SALT
    )


def login_token_consume(token: str, *, sign_in: Callable[[User], None]) -> User | None:
    """The user a login token names in the current schema, signed in by `sign_in(user)` while
    their row is locked (so a token works once even when used twice at the same time); None for
    a tampered, expired, used or foreign token."""
    try:
        data = signing.loads(token, salt=LOGIN_TOKEN_SALT, max_age=LOGIN_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != current_schema():
        return None
    user_id = data.get("u")
    if not isinstance(user_id, int):
        return None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not login_tokens.check_token(user, str(data.get("t", ""))):
            return None
        sign_in(user)
    return user
