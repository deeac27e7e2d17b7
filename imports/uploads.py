"""Upload size limit enforced while the body streams in, before any parsing.

The view checks Content-Length first; this handler stops a body that grows past the limit anyway
(chunked uploads, a lying header), so an oversized file is never fully received nor read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts the bytes of every uploaded file; past IMPORT_MAX_BYTES the upload stops."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.IMPORT_MAX_BYTES:
            self.exceeded = True
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None


def limit_uploads(request: HttpRequest) -> None:
    """Put the size limit in front of Django's own upload handlers for this request."""
    request.upload_handlers = [SizeLimitUploadHandler(request), *request.upload_handlers]


def limit_message() -> str:
    return f"The file is larger than the {settings.IMPORT_MAX_BYTES / 1_048_576:.0f} MB limit. Split it, or remove unused columns and sheets."
