"""The ingestion report: what was read, ingested, skipped and flagged, by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

EXAMPLES_PER_REASON = 5


@dataclass
class TableReport:
    """Counts for one table of a dataset."""

    table: str
    file: str
    sheet: str | None
    rows_read: int = 0
    rows_filtered_out: int = 0
    rows_folded: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "table": self.table,
            "file": self.file,
            "sheet": self.sheet,
            "rows_read": self.rows_read,
            "rows_filtered_out": self.rows_filtered_out,
            "rows_folded": self.rows_folded,
        }


@dataclass
class IngestionReport:
    """Ingested / skipped / flagged counts by reason, with a few source rows for each reason."""

    dataset: str
    tables: list[TableReport] = field(default_factory=list)
    ingested: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    status: str = "read"
    dataset_version: int | None = None

    @property
    def rows_read(self) -> int:
        """Data rows read over all tables."""
        return sum(t.rows_read for t in self.tables)

    @property
    def skipped_total(self) -> int:
        """Rows skipped for any reason."""
        return sum(self.skipped.values())

    @property
    def flagged_total(self) -> int:
        """Factor flags raised (a factor may carry more than one)."""
        return sum(self.flagged.values())

    def add_examples(self, reason: str, where: list[str]) -> None:
        """Keep the first few source locations for a reason."""
        bucket = self.examples.setdefault(reason, [])
        bucket.extend(where[: max(0, EXAMPLES_PER_REASON - len(bucket))])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report, as stored on the dataset."""
        return {
            "dataset": self.dataset,
            "status": self.status,
            "dataset_version": self.dataset_version,
            "rows_read": self.rows_read,
            "ingested": self.ingested,
            "skipped_total": self.skipped_total,
            "flagged_total": self.flagged_total,
            "skipped": dict(sorted(self.skipped.items(), key=lambda kv: -kv[1])),
            "flagged": dict(sorted(self.flagged.items(), key=lambda kv: -kv[1])),
            "examples": self.examples,
            "tables": [t.as_dict() for t in self.tables],
        }

    def format_text(self) -> str:
        """The report as an operator reads it in a terminal."""
        head = f"{self.dataset}: {self.status}" + (
            f" (version {self.dataset_version})" if self.dataset_version else ""
        )
        if self.status == "unchanged":
            return head + ": same files and mapping as that version, nothing written"
        lines = [
            head,
            f"  rows read {self.rows_read}, factors ingested {self.ingested}, "
            f"skipped {self.skipped_total}, flags {self.flagged_total}",
        ]
        for table in self.tables:
            extra = []
            if table.rows_filtered_out:
                extra.append(f"{table.rows_filtered_out} not selected")
            if table.rows_folded:
                extra.append(f"{table.rows_folded} per-gas rows folded")
            lines.append(
                f"  - {table.table}: {table.rows_read} rows"
                + (f" ({', '.join(extra)})" if extra else "")
            )
        for title, counter in (("skipped", self.skipped), ("flagged", self.flagged)):
            for reason, count in sorted(counter.items(), key=lambda kv: -kv[1]):
                where = ", ".join(self.examples.get(reason, []))
                lines.append(f"  {title} {count:>6}  {reason}" + (f"  [{where}]" if where else ""))
        return "\n".join(lines)
