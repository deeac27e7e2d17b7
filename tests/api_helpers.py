"""API tokens and clients for the API's tests (tests/test_api*.py and the isolation matrix)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.conftest import host

OWNERS = {"acme": "alice@acme.example", "globex": "charlie@globex.example"}


def make_token(
    schema: str = "acme", scope: str = "write", *, revoked: bool = False, expired: bool = False
) -> str:
    """A token of `schema`'s owner; revoked or expired if asked. Returns the secret."""
    from accounts.models import User
    from api.models import ApiToken
    from api.tokens import api_token_create

    with schema_context(schema):
        owner = User.objects.get(email=OWNERS[schema])
        new = api_token_create(name=f"{scope} token", scope=scope, user=owner)
        fields: dict[str, Any] = {}
        if revoked:
            fields["revoked_at"] = timezone.now()
        if expired:
            fields["expires_at"] = timezone.now() - dt.timedelta(minutes=1)
        if fields:
            ApiToken.objects.filter(id=new.token.id).update(**fields)
    return new.secret


def api_client(slug: str = "acme", secret: str | None = None) -> Client:
    """A client on `slug`'s host sending `secret` as its bearer token (none if None); CSRF is
    enforced, as for a browser, so the API must not rely on a session."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return Client(enforce_csrf_checks=True, HTTP_HOST=host(slug), **headers)
