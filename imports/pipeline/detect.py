"""Layout detection: where the header row is, and which rows are blank, totals or footers.

Suppliers' sheets often carry a title, a company name or a date range above the table, blank
separator rows inside it and a totals row at the bottom. The header is found among the first
rows (:func:`detect_header_row`); blank and trailing total rows are found on the whole body with
column operations (:func:`find_skipped_rows`) and reported, never imported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .mapping import header_field_score

#: How many rows from the top are searched for the header.
HEADER_SCAN_ROWS = 30

SkipReason = Literal["blank", "total", "footer"]

# First cell of a totals row, in the six languages the wizard speaks. A whole word at the start,
# so "Gesamtverbrauch Strom" (an activity) is not taken for "Gesamt".
TOTAL_RE = re.compile(
    r"^\s*(?:grand\s+|sub-?)?(?:"
    r"totals?|sum|sums|"  # English
    r"summe|gesamt|gesamtsumme|gesamtbetrag|insgesamt|zwischensumme|endsumme|"  # German
    r"total\s+g[ée]n[ée]ral|somme|sous-total|"  # French
    r"totales?|suma|importe\s+total|"  # Spanish
    r"totale|totale\s+generale|somma|"  # Italian
    r"totaal|eindtotaal|som|subtotaal"  # Dutch
    r")\b\s*:?",
    re.IGNORECASE,
)

_NUMBER_LIKE_RE = re.compile(r"^[-+\u2212(]?\s*[\d.,'\u2019\s]*\d[\d.,'\u2019\s]*\)?\s*%?-?$")
_DATE_LIKE_RE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?:[ T].*)?$")


@dataclass(frozen=True)
class SkippedRow:
    """Rows left out of the import: ``row`` .. ``last_row`` (spreadsheet numbers), and why."""

    row: int
    last_row: int
    reason: SkipReason
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _is_value_like(text: str) -> bool:
    return bool(_NUMBER_LIKE_RE.match(text) or _DATE_LIKE_RE.match(text))


def detect_header_row(
    rows: Sequence[Sequence[str | None]], *, max_scan: int = HEADER_SCAN_ROWS
) -> int:
    """Index (0-based, into ``rows``) of the header row among the first ``max_scan`` rows.

    A header is a row of text cells (no numbers or dates) about as wide as the table. When rows
    carry words the mapping recognises (``Datum``, ``Quantity``, ``Montant``...) the row with the
    most of them wins; otherwise the first wide all-text row followed by a row of values. Returns
    the first non-empty row when nothing looks like a header (a file without a header row is
    then mapped by its first row's values, which the user sees in the preview).
    """
    scanned = [[(c or "").strip() for c in row] for row in rows[:max_scan]]
    filled = [[c for c in row if c] for row in scanned]
    counts = [len(cells) for cells in filled]
    if not counts or max(counts) == 0:
        return 0
    width = max(counts)
    min_cells = 1 if width == 1 else max(2, int(np.ceil(width * 0.5)))

    # Only rows without numbers or dates can be headers; scoring their words is the costly part.
    all_text = [not any(_is_value_like(c) for c in cells) for cells in filled]
    known = [
        sum(1 for c in cells if header_field_score(c) >= 0.8) if text_only else 0
        for cells, text_only in zip(filled, all_text, strict=True)
    ]
    best_known = max(known)
    if best_known >= 2:
        return known.index(best_known)

    for i in range(len(filled)):
        if counts[i] < min_cells or not all_text[i]:
            continue
        following = next((f for f in filled[i + 1 :] if f), None)
        if following is None or any(_is_value_like(c) for c in following):
            return i
    return next(i for i, n in enumerate(counts) if n)


def find_skipped_rows(frame: pd.DataFrame) -> tuple[np.ndarray, list[SkippedRow]]:
    """Blank rows anywhere and a trailing totals row (plus any short footer under it).

    ``frame`` is the body under the header, indexed by spreadsheet row numbers, empty cells
    missing (NaN). Returns a boolean keep-mask over the frame's rows and the skipped rows,
    consecutive blank rows merged into one entry.
    """
    n = len(frame)
    if n == 0:
        return np.ones(0, dtype=bool), []
    blank = np.ones(n, dtype=bool)
    for col in frame.columns:
        blank &= frame[col].isna().to_numpy()
        if not blank.any():
            break
    keep = ~blank
    rows = frame.index.to_numpy()
    skipped: list[SkippedRow] = []

    # Trailing totals: look at the last few non-blank rows only; a totals row in the middle of a
    # table is data the user must see (and fix), not something to drop silently.
    tail = np.flatnonzero(~blank[-1000:])[-3:] + max(n - 1000, 0)
    filled_counts = {int(p): int(frame.iloc[p].notna().sum()) for p in tail}
    for pos_i, pos in enumerate(tail):
        values = frame.iloc[pos]
        first = next((str(v) for v in values if isinstance(v, str) and v.strip()), "")
        if not TOTAL_RE.match(first):
            continue
        after = tail[pos_i + 1 :]
        if any(filled_counts[p] > 2 for p in after):
            continue
        keep[pos] = False
        skipped.append(SkippedRow(int(rows[pos]), int(rows[pos]), "total", _row_text(values)))
        for p in after:
            keep[p] = False
            skipped.append(
                SkippedRow(int(rows[p]), int(rows[p]), "footer", _row_text(frame.iloc[p]))
            )
        break

    if blank.any():
        positions = np.flatnonzero(blank)
        # Merge runs of consecutive positions into one entry each.
        breaks = np.flatnonzero(np.diff(positions) != 1)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(positions) - 1]))
        skipped.extend(
            SkippedRow(int(rows[positions[s]]), int(rows[positions[e]]), "blank")
            for s, e in zip(starts, ends, strict=True)
        )
    skipped.sort(key=lambda s: s.row)
    return keep, skipped


def _row_text(values: pd.Series) -> str:
    return " | ".join(str(v) for v in values if isinstance(v, str) and v)[:200]
