"""The error every import service and selector raises for input it cannot use."""

from __future__ import annotations

from typing import Any

from imports.pipeline import PipelineError


class ImportInputError(Exception):
    """The upload, mapping or state cannot be used; ``message`` is for the user, nothing changed."""

    def __init__(
        self, message: str, *, code: str = "invalid", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}

    @classmethod
    def from_pipeline(cls, exc: PipelineError) -> ImportInputError:
        return cls(exc.message, code=exc.code, details=dict(exc.details))
