"""Who may call the API: a bearer token of this tenant, of the scope the operation needs, within
its rate limit. Each operation declares ``auth=READ`` or ``auth=WRITE``; the isolation matrix
checks every operation, and fails when an operation's auth is removed or weakened."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.access import audit_denied
from api.models import ApiToken, TokenScope
from api.problems import ApiProblem
from api.tokens import TokenRefusedError, api_token_check

RATE_WINDOW_SECONDS = 60


def rate_limit(token: ApiToken) -> None:
    """A fixed one-minute window per token, counted in the cache (Redis; its keys carry the
    tenant's schema). Past the limit: 429 with Retry-After, the seconds until the window ends."""
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"api-rate:{token.id}:{window}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS + 5)
        count = 1
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if count > limit:
        retry = max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
        raise ApiProblem(
            "rate_limited",
            f"This token may make {limit} requests a minute. Retry in {retry} seconds.",
            headers={"Retry-After": str(retry)},
            retry_after=retry,
        )


class TokenAuth(HttpBearer):
    """A bearer token of this tenant with at least ``scope``."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            audit_denied(request, "api: no token")
            raise ApiProblem(
                "unauthorized",
                "Send an API token as `Authorization: Bearer <token>`; owners make tokens in "
                "Settings.",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        return self.authenticate(request, header[7:])

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        try:
            found = api_token_check(token)
        except TokenRefusedError as exc:
            audit_denied(request, f"api: {exc.reason}")
            raise ApiProblem(
                "invalid_token",
                exc.message,
                headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            ) from None
        if self.scope == TokenScope.WRITE and not found.can_write:
            audit_denied(request, "api: read token on a write", token=found.prefix)
            raise ApiProblem(
                "insufficient_scope",
                "This token can only read. An owner can make a read-and-write token in Settings.",
                headers={"WWW-Authenticate": 'Bearer realm="api", error="insufficient_scope"'},
            )
        rate_limit(found)
        return found


READ = TokenAuth(TokenScope.READ)
WRITE = TokenAuth(TokenScope.WRITE)
