"""Structured errors raised by factor ingestion: each names the file, sheet, row and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class IngestError(Exception):
    """A data file cannot be ingested as its mapping describes; nothing is written.

    `row` is the 1-based row number in the file or sheet as a spreadsheet program shows it.
    """

    message: str
    file: str = ""
    sheet: str = ""
    row: int | None = None
    column: str = ""
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [f"file {self.file}"] if self.file else []
        if self.sheet:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data for a job result or a CLI --json output."""
        return {
            "error": self.message,
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else str(self.value),
            **self.extra,
        }


class MappingError(IngestError):
    """A YAML mapping is malformed (unknown key, missing field, bad transform)."""
