"""Whole numbers typed by users (form fields, query strings, path parts of an API request)."""

from __future__ import annotations

# PostgreSQL's bigint has 19 digits: a longer "id" is no id.
MAX_DIGITS = 18


def whole_number(text: object) -> int | None:
    """`text` as a non-negative whole number written in ASCII digits ("2024", "17"), else None.

    ``str.isdigit`` alone also accepts "²" or other scripts' digits, which ``int`` refuses or
    reads as another number: such text, and numbers too long for an id, are no number here."""
    if not isinstance(text, str) or not text or len(text) > MAX_DIGITS:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)
