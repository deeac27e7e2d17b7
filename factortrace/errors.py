"""Error pages that Django would otherwise answer with its bare built-in text."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from accounts.access import audit_denied


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused form post (missing token, or posted from another host) gets a page that says why."""
    audit_denied(request, f"csrf: {reason}")
    message = (
        "This form was sent from another site or an expired page, so it was not accepted. "
        "Reload the page and try again."
    )
    return render(request, "403.html", {"message": message}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django could not parse gets our page, saying what to change where we know it."""
    message = "This request could not be understood."
    if isinstance(exception, MultiPartParserError):
        message = (
            "The upload could not be read: the file's name (or another part of the form) is longer "
            "than the 1,000 characters a form part may carry. Rename the file to a shorter name and "
            "upload it again."
        )
    return render(request, "400.html", {"message": message}, status=400)
