"""Structured errors of the import pipeline.

Two kinds:

- :class:`PipelineError` is raised when a whole file, sheet or mapping cannot be used (too large,
  empty, not a spreadsheet, damaged, unsafe, a mapped column missing). Nothing is imported.
- Cell errors are not raised: validation returns them as rows of a frame with the columns
  :data:`ERROR_COLUMNS` (``row, column, field, value, code, message, suggestion``), so a million
  bad cells cost one vectorised frame, not a million objects.
"""

from __future__ import annotations

from typing import Any

#: Columns of every cell-error frame; ``row`` is the row number the user sees in their
#: spreadsheet, ``column`` the user's header name, ``field`` the target field it was mapped to.
ERROR_COLUMNS: tuple[str, ...] = (
    "row",
    "column",
    "field",
    "value",
    "code",
    "message",
    "suggestion",
)


class PipelineError(Exception):
    """A file, sheet or mapping that the pipeline cannot use; ``message`` is meant for the user.

    ``code`` is stable and machine-readable (``too_large``, ``empty``, ``header_only``,
    ``not_text``, ``damaged``, ``zip_bomb``, ``xml_entities``, ``unsupported_format``,
    ``sheet_not_found``, ``no_header``, ``bad_row``, ``too_many_rows``, ``too_many_columns``,
    ``too_many_cells``, ``blank_run``, ``sheet_name_too_long``, ``read_limit`` (the reader's
    child process ran out of memory or time), ``mapping_invalid``,
    ``mapping_incomplete``, ``mapping_column_missing``, ``mapping_file_invalid``); ``details``
    carries JSON-serialisable context (the limit, the sheet names, the line number...).
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description: ``{"code", "message", **details}``."""
        return {"code": self.code, "message": self.message, **self.details}

    def __repr__(self) -> str:
        return f"PipelineError({self.code!r}, {self.message!r})"
