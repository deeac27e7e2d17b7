"""Writes on a tenant's users. Owners manage users; an organisation always keeps one owner."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Role, User


class LastOwnerError(Exception):
    """The change would leave the organisation without an active owner."""


def user_create(*, full_name: str, email: str, role: str, password: str) -> User:
    return User.objects.create_user(email, password, full_name=full_name, role=role)


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
