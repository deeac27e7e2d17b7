"""Errors of the API as ``application/problem+json`` (RFC 9457).

Every problem has ``type`` (a link to its entry on the API's docs page), ``title``, ``status``,
``detail`` and a stable ``code``; row errors carry the wizard's objects ``{row, column, value,
message, suggestion}`` in ``errors``.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

PROBLEM_TYPE = "application/problem+json"
DOCS_PATH = "/api/v1/docs"

# code -> (status, title): every problem the API answers, listed on the docs page.
PROBLEMS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Authentication required"),
    "invalid_token": (401, "Invalid API token"),
    "no_credits": (402, "No report credits left"),
    "insufficient_scope": (403, "The token cannot do this"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "duplicates": (409, "Rows already imported"),
    "not_downloadable": (409, "The report cannot be downloaded"),
    "too_large": (413, "Request too large"),
    "unsupported_media_type": (415, "Unsupported content type"),
    "malformed_json": (400, "Malformed JSON"),
    "invalid_request": (422, "Invalid request"),
    "invalid_parameters": (422, "Invalid parameters"),
    "invalid_mapping": (422, "Invalid mapping"),
    "invalid_file": (422, "The file cannot be imported"),
    "invalid_rows": (422, "Rows have errors"),
    "nothing_to_import": (422, "Nothing to import"),
    "cannot_generate": (422, "The report cannot be generated"),
    "voucher_refused": (422, "The voucher cannot be redeemed"),
    "idempotency_key_reused": (422, "Idempotency-Key reused"),
    "rate_limited": (429, "Too many requests"),
    "server_error": (500, "Internal error"),
}


class ApiProblem(Exception):  # noqa: N818 (it is the answer, not an error of ours)
    """Raised anywhere in the API to answer with a problem; nothing the request did is kept."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        default_status, self.title = PROBLEMS[code]
        self.code = code
        self.status = status or default_status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": f"{DOCS_PATH}#problem-{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }

    def response(self) -> HttpResponse:
        response = HttpResponse(
            json.dumps(self.body(), default=str), status=self.status, content_type=PROBLEM_TYPE
        )
        for name, value in self.headers.items():
            response[name] = value
        response["Cache-Control"] = "no-store"
        return response


def problem(code: str, detail: str, **extra: Any) -> HttpResponse:
    return ApiProblem(code, detail, **extra).response()
