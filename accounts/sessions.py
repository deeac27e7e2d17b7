from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.middleware import SESSION_SCHEMA_KEY
from factortrace.tenancy import current_schema


def bind_session_to_schema(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Every login path (ours, the admin's, the test client's) binds the session to its schema."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_SCHEMA_KEY] = current_schema()
