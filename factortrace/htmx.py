"""The one typed HTMX request and the one test of whether a request wants a fragment."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that passed django-htmx's middleware (``request.htmx`` is always set)."""

    htmx: HtmxDetails


def is_htmx(request: HttpRequest) -> bool:
    """An HTMX request that wants a fragment: a history restore (the back button after the
    cache was emptied) wants the whole page."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.history_restore_request
