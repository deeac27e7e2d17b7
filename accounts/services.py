"""Writes on a tenant's users. Owners manage users; an organisation always keeps one owner."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Role, User
from accounts.tokens import invite_tokens


class LastOwnerError(Exception):
    """The change would leave the organisation without an active owner."""


def user_create(*, full_name: str, email: str, role: str, password: str) -> User:
    return User.objects.create_user(email, password, full_name=full_name, role=role)


def user_invite(
    *, full_name: str, email: str, role: str, invited_by: User, link_domain: str, company: str
) -> User:
    """Add a teammate without a password and e-mail them a link that sets it (single-use,
    expiring after PASSWORD_RESET_TIMEOUT); the e-mail leaves once the user row is committed.
    `link_domain` is the tenant's configured host (and PUBLIC_PORT), never a request's Host."""
    with transaction.atomic():
        user = User.objects.create_user(email, None, full_name=full_name, role=role)
        link = f"{settings.PUBLIC_SCHEME}://{link_domain}" + reverse(
            "invite_accept",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": invite_tokens.make_token(user),
            },
        )
        context = {
            "user": user,
            "invited_by": invited_by,
            "company": company,
            "link": link,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        body = render_to_string("accounts/invite_email.txt", context)
        subject = f"{invited_by.full_name} invites you to {company} on FactorTrace"
        transaction.on_commit(
            lambda: send_mail(subject, body, None, [user.email], fail_silently=False)
        )
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str) -> User:
    if user.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(user)
    user.role = role
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_remove(*, user: User) -> None:
    if user.role == Role.OWNER:
        _ensure_another_owner(user)
    user.delete()


def _ensure_another_owner(user: User) -> None:
    owners = (
        User.objects.select_for_update().filter(role=Role.OWNER, is_active=True).exclude(id=user.id)
    )
    if not owners.exists():
        raise LastOwnerError("An organisation needs at least one owner.")
