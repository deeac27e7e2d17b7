"""Column normalisers: text cells -> typed values plus structured cell errors, one column at a time.

Every function takes a column of text cells (a ``str`` Series indexed by spreadsheet row numbers,
missing = empty cell) and returns a :class:`Parsed`: the normalised values aligned with the input
and an error frame (index = row numbers; columns ``value, code, message, suggestion``).

Numbers are parsed with pyarrow compute kernels over the whole column; columns with few distinct
values (dates, units, currencies, countries, texts) are factorised and each distinct value is
parsed once. Formats are decided per column from the values themselves: a decimal separator or a
day/month order that one value proves is used for the whole column; a value that can be read two
ways when nothing in its column decides is reported with both readings, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# The GHG Protocol Scope 3 categories 1-15, as the engine names them.
from emissions.engine.calculate import SCOPE3_CATEGORIES

ERROR_FIELDS = ("value", "code", "message", "suggestion")

# Text limits (characters) beyond which a cell is reported instead of stored truncated.
TEXT_MAX_LENGTH = {"activity": 500, "site": 255, "supplier": 255, "notes": 2000}

# Excel's day 0 is 1899-12-30 (its 1900 leap-year bug makes serial 60 a non-existent
# 29 Feb 1900; all serials from 61 on are right with this epoch).
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
#: Serial numbers read as dates in a date column: 1950-01-01 .. 2100-12-31.
SERIAL_MIN, SERIAL_MAX = 18264, 73415
YEAR_MIN, YEAR_MAX = 1900, 2100


@dataclass
class Parsed:
    """Normalised values (aligned with the input column) and the cells that failed."""

    values: pd.Series
    errors: pd.DataFrame
    detected: dict[str, Any] = field(default_factory=dict)


_EMPTY_ERRORS = pd.DataFrame(
    {c: pd.Series([], dtype="str") for c in ERROR_FIELDS},
    index=pd.Index([], dtype="int64", name="row"),
)


def empty_errors() -> pd.DataFrame:
    """An error frame with no rows (shared: never modify it in place)."""
    return _EMPTY_ERRORS


def as_arrow(s: pd.Series) -> pa.ChunkedArray:
    """The column as a pyarrow (large) string array, zero-copy for pyarrow-backed ``str``."""
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        s = s.astype("str")
    arr = pa.array(s.array)
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    return arr


def _text_series(arr: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.array(arr, dtype="str"), index=index, copy=False)


def _any(arr: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(arr).as_py())


def _mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean arrow array as numpy, nulls as False."""
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


Text = str | Callable[[pd.Series, np.ndarray], pd.Series | np.ndarray]


def _errors(
    index: pd.Index, raw: pd.Series, mask: np.ndarray, code: str, message: Text, suggestion: Text
) -> pd.DataFrame:
    """Error rows for the cells under ``mask``. ``message`` and ``suggestion`` are fixed texts
    or functions of (the failing raw cells, their positions) built only for those cells."""
    if not mask.any():
        return empty_errors()
    pos = np.flatnonzero(mask)
    rows = index[pos]
    values = pd.Series(np.asarray(raw.to_numpy(), dtype=object)[pos], index=rows, dtype="str")

    def build(x: Text) -> pd.Series:
        if isinstance(x, str):
            return pd.Series(x, index=rows, dtype="str")
        out = x(values, pos)
        return pd.Series(np.asarray(out, dtype=object), index=rows, dtype="str")

    return pd.DataFrame(
        {
            "value": values,
            "code": pd.Series(code, index=rows, dtype="str"),
            "message": build(message),
            "suggestion": build(suggestion),
        },
        index=pd.Index(rows, name="row"),
    )


def concat_errors(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate error frames, dropping empty ones."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_errors()
    return pd.concat(frames)


def _quoted(raw: pd.Series) -> pd.Series:
    return "'" + raw.fillna("") + "'"


# --------------------------------------------------------------------------------------------
# numbers

_GROUP_SPACE = "[ \\x{00a0}\\x{202f}]"
_INT_PART_POINT = rf"(?:\d+|\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?:['\x{{2019}}]\d{{3}})+|\d{{1,3}}(?:{_GROUP_SPACE}\d{{3}})+)"
_INT_PART_COMMA = rf"(?:\d+|\d{{1,3}}(?:\.\d{{3}})+|\d{{1,3}}(?:['\x{{2019}}]\d{{3}})+|\d{{1,3}}(?:{_GROUP_SPACE}\d{{3}})+)"
POINT_DECIMAL_RE = rf"^{_INT_PART_POINT}?(?:\.\d+)?$|^\d+(?:\.\d+)?[eE][+-]?\d+$"
COMMA_DECIMAL_RE = rf"^{_INT_PART_COMMA}?(?:,\d+)?$"
# Thousands separators besides the other reading's decimal mark: apostrophes (Swiss, also the
# typographic U+2019) and spaces (also no-break U+00A0 and narrow no-break U+202F).
_POINT_GROUPING = (",", "'", "\u2019", " ", "\u00a0", "\u202f")
_COMMA_GROUPING = (".", "'", "\u2019", " ", "\u00a0", "\u202f")
_DECIMAL_NAMES = {".": "decimal point", ",": "decimal comma"}
_SIGNS = ("-", "+", "\u2212", "\u2013")  # hyphen, plus, minus sign, en dash
_MINUS_SIGNS = ("-", "\u2212", "\u2013")


def _stripped_count(before: pa.ChunkedArray, after: pa.ChunkedArray) -> np.ndarray:
    """Characters a trim removed, per cell."""
    diff = pc.subtract(pc.utf8_length(before), pc.utf8_length(after))
    return np.asarray(pc.fill_null(diff, 0).to_numpy(zero_copy_only=False))


def _reading(
    body: pa.ChunkedArray,
    valid: np.ndarray,
    grouping: Sequence[str],
    decimal: str,
    present_chars: set[str],
) -> np.ndarray:
    """Float values of ``body`` under one reading (NaN where that reading does not apply)."""
    if not valid.any():
        return np.full(len(body), np.nan)
    x = pc.if_else(pa.array(valid), body, pa.scalar(None, body.type))
    for ch in grouping:
        if ch in present_chars:
            x = pc.replace_substring(x, ch, "")
    if decimal == ",":
        x = pc.replace_substring(x, ",", ".")
    return np.asarray(pc.cast(x, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _format_numbers(values: np.ndarray) -> np.ndarray:
    """Numbers as short text for messages (1234, 1.234, 0.5)."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string()).to_numpy(zero_copy_only=False)
    return np.asarray(text, dtype=object)


def parse_numbers(
    s: pd.Series,
    *,
    decimal: str | None = None,
    native: np.ndarray | None = None,
) -> Parsed:
    """Parse a column of numbers written in US (1,234.56), EU (1.234,56), Swiss (1'234.56),
    space-grouped (1 234,56) or plain form; negatives as ``-5``, ``(5)`` or ``5-``.

    ``decimal`` ("." or ",") fixes the decimal separator; otherwise it is detected: a value that
    only one reading accepts (``12,5``, ``1,234.5``, ``1.234.567``) decides for the column. With
    no decision, a value such as ``1.234`` is an ``ambiguous_number`` error naming both
    readings. ``native`` marks workbook cells stored as numbers (always plain, never ambiguous).
    ``detected`` reports ``decimal`` (the separator used, or None), ``point_evidence``,
    ``comma_evidence`` and ``ambiguous`` counts.
    """
    index = s.index
    n = len(s)
    raw = s if isinstance(s.dtype, pd.StringDtype) else s.astype("str")
    # Trimming is cheaper than checking whether it is needed; missing cells become "" so that
    # every mask below is null-free.
    a = pc.fill_null(pc.utf8_trim_whitespace(as_arrow(raw)), "")
    present = _mask(pc.not_equal(a, ""))

    # Signs are stripped with trim kernels (cheap) rather than regex replacements; a cell with
    # more than one sign marker ("--5", "(-5)", "-5-") is left invalid.
    body = a
    signs = np.zeros(n, dtype=np.int8)
    negative = np.zeros(n, dtype=bool)
    if _any(pc.starts_with(body, "(")):
        paren = _mask(pc.and_(pc.starts_with(body, "("), pc.ends_with(body, ")")))
        stripped = pc.utf8_trim_whitespace(pc.utf8_trim(body, characters="()"))
        signs += paren.astype(np.int8) + (_stripped_count(body, stripped) > 2)
        negative |= paren
        body = stripped
    if any(_any(pc.starts_with(body, sign)) for sign in _SIGNS):
        stripped = pc.utf8_ltrim(body, characters="".join(_SIGNS))
        count = _stripped_count(body, stripped)
        lead_minus = np.logical_or.reduce([_mask(pc.starts_with(body, m)) for m in _MINUS_SIGNS])
        signs += (count >= 1).astype(np.int8) + (count > 1)
        negative |= lead_minus
        body = pc.utf8_ltrim_whitespace(stripped)
    if _any(pc.ends_with(body, "-")):
        stripped = pc.utf8_rtrim(body, characters="-")
        count = _stripped_count(body, stripped)
        signs += (count >= 1).astype(np.int8) + (count > 1)
        negative |= count >= 1
        body = pc.utf8_rtrim_whitespace(stripped)

    usable = present & (signs <= 1) & _mask(pc.not_equal(body, ""))
    point_ok = _mask(pc.match_substring_regex(body, POINT_DECIMAL_RE)) & usable
    comma_ok = _mask(pc.match_substring_regex(body, COMMA_DECIMAL_RE)) & usable
    nat = np.zeros(n, dtype=bool) if native is None else np.asarray(native, dtype=bool) & present
    point_ok |= nat
    comma_ok &= ~nat
    point_only = point_ok & ~comma_ok
    comma_only = comma_ok & ~point_ok
    both = point_ok & comma_ok
    evidence_point = int((point_only & ~nat).sum())
    evidence_comma = int(comma_only.sum())

    if decimal is not None:
        chosen: str | None = decimal
    elif evidence_point and not evidence_comma:
        chosen = "."
    elif evidence_comma and not evidence_point:
        chosen = ","
    else:
        chosen = None

    # Each reading costs a few passes over the column: skip the one nothing will use.
    nothing = np.full(n, np.nan)
    chars = {
        ch for ch in {*_POINT_GROUPING, *_COMMA_GROUPING} if _any(pc.match_substring(body, ch))
    }
    point_val = (
        _reading(body, point_ok, _POINT_GROUPING, ".", chars)
        if chosen != "," or nat.any() or point_only.any()
        else nothing
    )
    comma_val = (
        _reading(body, comma_ok, _COMMA_GROUPING, ",", chars)
        if chosen != "." or comma_only.any()
        else nothing
    )
    ambiguous = np.zeros(n, dtype=bool)
    mismatch = np.zeros(n, dtype=bool)
    if chosen == ".":
        ok, values, mismatch = point_ok, point_val, comma_only
    elif chosen == ",":
        ok = comma_ok | nat
        values = np.where(nat, point_val, comma_val)
        mismatch = point_only & ~nat
    else:
        same = both & (point_val == comma_val)
        ambiguous = both & ~same
        ok = point_only | comma_only | same
        values = np.where(point_only | same, point_val, comma_val)
    values = np.where(ok, values, np.nan)
    values = np.where(negative, -values, values)
    invalid = present & ~point_ok & ~comma_ok

    frames = []
    example = "1.234,56" if chosen == "," else "1234.56"
    if invalid.any():
        frames.append(
            _errors(
                index,
                raw,
                invalid,
                "invalid_number",
                lambda v, _p: _quoted(v) + " is not a number",
                f"Enter a number such as {example}; remove letters, units and currency signs.",
            )
        )
    if mismatch.any():
        other_val = point_val if chosen == "," else comma_val
        other = np.where(negative, -other_val, other_val)
        other_name = _DECIMAL_NAMES["." if chosen == "," else ","]
        frames.append(
            _errors(
                index,
                raw,
                mismatch,
                "number_format_mismatch",
                lambda v, _p: (
                    _quoted(v)
                    + " does not match the column's number format ("
                    + _DECIMAL_NAMES[chosen or "."]
                    + ")"
                ),
                lambda _v, p: (
                    "With a "
                    + other_name
                    + " it would be "
                    + _format_numbers(other[p])
                    + "; write it like the column's other values, or set the column's decimal separator."
                ),
            )
        )
    if ambiguous.any():
        pv = np.where(negative, -point_val, point_val)
        cv = np.where(negative, -comma_val, comma_val)
        frames.append(
            _errors(
                index,
                raw,
                ambiguous,
                "ambiguous_number",
                lambda v, _p: (
                    _quoted(v) + " can be read two ways and no other value in the column decides"
                ),
                lambda _v, p: (
                    "Either "
                    + _format_numbers(pv[p])
                    + " (point as decimal separator) or "
                    + _format_numbers(cv[p])
                    + " (comma as decimal separator, point as thousands "
                    "separator): set the column's decimal separator in the mapping options."
                ),
            )
        )
    detected = {
        "decimal": chosen,
        "point_evidence": evidence_point,
        "comma_evidence": evidence_comma,
        "ambiguous": int(ambiguous.sum()),
    }
    result = pd.Series(values, index=index, dtype="float64")
    return Parsed(result, concat_errors(frames), detected)


# --------------------------------------------------------------------------------------------
# dates

_TIME = (
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
ISO_DATE_RE = re.compile(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}$")
DMY_DATE_RE = re.compile(rf"^(\d{{1,2}})([./-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_TIME}$")
COMPACT_DATE_RE = re.compile(r"^((?:19|20|21)\d{2})(0[1-9]|1[0-2])(\d{2})$")
SERIAL_RE = re.compile(r"^\d{1,6}(?:\.\d+)?$")
_MONTH_DAY_RE = re.compile(r"^(\d{1,2})\.?[\s-]*([^\W\d_]{3,10})\.?[\s,-]*(\d{4}|\d{2})$")
_MONTH_FIRST_RE = re.compile(r"^([^\W\d_]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")

# Month names and abbreviations in the six languages (accents removed, lower case).
_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "january jan januar janv janvier enero ene gennaio gen januari jänner janner",
        "february feb februar fevr fevrier febrero gen febbraio febr februari feber",
        "march mar marz maerz mars marzo maart mrt",
        "april apr avril avr abril aprile",
        "may mai mayo maggio mag mei",
        "june jun juni juin junio giugno giu",
        "july jul juli juil juillet julio luglio lug",
        "august aug august aout agosto ago augustus",
        "september sep sept septembre septiembre settembre set",
        "october oct oktober okt octobre octubre ottobre ott",
        "november nov novembre noviembre",
        "december dec dezember dez decembre diciembre dic dicembre",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _num)
_MONTHS["gen"] = 1  # gennaio; "gen" for February appears in no language


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _month_name(month: int) -> str:
    return dt.date(2000, month, 1).strftime("%B")


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.date(year, month, 1)).days


@dataclass
class _DateParts:
    kind: str  # iso, dmy, serial, named, none
    a: int = 0
    b: int = 0
    year: int = 0
    sep: str = ""
    serial: float = 0.0


def _date_parts(text: str) -> _DateParts:
    m = ISO_DATE_RE.match(text)
    if m:
        return _DateParts("iso", int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = DMY_DATE_RE.match(text)
    if m:
        return _DateParts("dmy", int(m.group(1)), int(m.group(3)), _year(m.group(4)), m.group(2))
    m = COMPACT_DATE_RE.match(text)
    if m:
        return _DateParts("iso", int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if SERIAL_RE.match(text):
        return _DateParts("serial", serial=float(text))
    m = _MONTH_DAY_RE.match(text)
    if m and _fold(m.group(2)) in _MONTHS:
        return _DateParts("iso", int(m.group(1)), _MONTHS[_fold(m.group(2))], _year(m.group(3)))
    m = _MONTH_FIRST_RE.match(text)
    if m and _fold(m.group(1)) in _MONTHS:
        return _DateParts("iso", int(m.group(2)), _MONTHS[_fold(m.group(1))], _year(m.group(3)))
    return _DateParts("none")


def _make_date(year: int, month: int, day: int) -> dt.date | str:
    """The date, or why it is not one."""
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    if not YEAR_MIN <= year <= YEAR_MAX:
        return f"the year {year} is outside {YEAR_MIN}-{YEAR_MAX}"
    last = _days_in_month(year, month)
    if not 1 <= day <= last:
        return f"{_month_name(month)} {year} has {last} days"
    return dt.date(year, month, day)


def parse_dates(s: pd.Series, *, order: str | None = None) -> Parsed:
    """Parse a date column: ISO (2024-03-31, 2024/03/31), DD.MM.YYYY, DD/MM/YYYY, MM/DD/YYYY,
    YYYYMMDD, month names (31 Mar 2024, 31. März 2024, March 31, 2024) and Excel serial numbers
    (45382, also as stored by a workbook); a time of day is accepted and dropped.

    ``order`` ("DMY" or "MDY"; "YMD" reads two-digit-year-first values such as 24.03.31) decides
    slash and dash dates; otherwise a value with a day above 12 decides for the column (dotted
    dates are always day first). Undecidable values such as 03/04/2024 are ``ambiguous_date``
    errors naming both dates; 31.02.2024 is an ``invalid_date``. Values are parsed once per
    distinct text. ``detected`` reports the ``order`` used (or None) and the ``ambiguous`` count.
    """
    index = s.index
    raw = s if isinstance(s.dtype, pd.StringDtype) else s.astype("str")
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    texts = [str(u).strip() for u in uniques]
    parts = [_date_parts(t) for t in texts]

    # The cells only one order can read decide the column (counted per cell, not per distinct
    # text): 13/07/2024 says day first, 03/14/2024 month first; dotted dates are day first.
    cells = np.bincount(codes[codes >= 0], minlength=len(texts))
    dmy_only = np.array(
        [p.kind == "dmy" and (p.sep == "." or (p.a > 12 >= p.b)) for p in parts], dtype=bool
    )
    mdy_only = np.array(
        [p.kind == "dmy" and p.sep != "." and p.b > 12 >= p.a for p in parts], dtype=bool
    )
    dmy_votes = int(cells[dmy_only].sum()) if len(texts) else 0
    mdy_votes = int(cells[mdy_only].sum()) if len(texts) else 0
    tie = order is None and dmy_votes > 0 and dmy_votes == mdy_votes
    if order is not None:
        chosen: str | None = order
    elif dmy_votes > mdy_votes:
        chosen = "DMY"
    elif mdy_votes > dmy_votes:
        chosen = "MDY"
    else:
        chosen = None
    decided_by = None
    if order is None and chosen is not None:
        deciding = dmy_only if chosen == "DMY" else mdy_only
        example = texts[int(np.flatnonzero(deciding)[0])]
        decided_by = (
            f"{max(dmy_votes, mdy_votes)} date(s) such as '{example}' can only be read "
            f"{'day' if chosen == 'DMY' else 'month'} first"
        )
        if dmy_votes and mdy_votes:
            decided_by += f", against {min(dmy_votes, mdy_votes)} the other way"

    k = len(texts)
    result = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
    err_code = [""] * k
    err_msg = [""] * k
    err_sug = [""] * k
    ambiguous_count = 0
    for i, (text, p) in enumerate(zip(texts, parts, strict=True)):
        outcome: dt.date | str
        if p.kind == "iso":
            outcome = _make_date(p.year, p.b, p.a)
        elif p.kind == "serial":
            if SERIAL_MIN <= p.serial <= SERIAL_MAX:
                result[i] = EXCEL_EPOCH + np.timedelta64(int(p.serial), "D")
                continue
            err_code[i], err_msg[i] = "invalid_date", f"'{text}' is a number, not a date"
            err_sug[i] = "Enter a date such as 2024-03-31 or 31.03.2024."
            continue
        elif p.kind == "dmy":
            if chosen == "YMD":
                outcome = _make_date(
                    _year(f"{p.a:02d}"), p.b, p.year % 100 if p.year >= 100 else p.year
                )
            elif (p.sep == "." and chosen != "MDY") or chosen == "DMY":
                outcome = _make_date(p.year, p.b, p.a)
            elif chosen == "MDY":
                outcome = _make_date(p.year, p.a, p.b)
            elif tie and p.a != p.b:
                ambiguous_count += 1
                err_code[i] = "ambiguous_date"
                err_msg[i] = (
                    f"'{text}': the column's date order is undecided ({dmy_votes} date(s) can "
                    f"only be read day first and {mdy_votes} only month first)"
                )
                err_sug[i] = (
                    "Set the column's date order (DMY or MDY) in the mapping options, or "
                    "correct the dates written the other way."
                )
                continue
            elif p.a == p.b:
                outcome = _make_date(p.year, p.a, p.b)
            else:
                day_first = _make_date(p.year, p.b, p.a)
                month_first = _make_date(p.year, p.a, p.b)
                ambiguous_count += 1
                err_code[i] = "ambiguous_date"
                err_msg[i] = (
                    f"'{text}' can be read two ways and no other date in the column decides"
                )
                err_sug[i] = (
                    f"Either {_long_date(day_first)} (day first) or "
                    f"{_long_date(month_first)} (month first): set the column's date "
                    "order (DMY or MDY) in the mapping options."
                )
                continue
            if isinstance(outcome, str) and chosen in ("DMY", "MDY") and p.sep != ".":
                other = (
                    _make_date(p.year, p.a, p.b)
                    if chosen == "DMY"
                    else _make_date(p.year, p.b, p.a)
                )
                if isinstance(other, dt.date):
                    name = _ORDER_NAMES[chosen]
                    why = "as set in the mapping options" if decided_by is None else decided_by
                    err_code[i] = "invalid_date"
                    err_msg[i] = f"'{text}' is not a date in this {name} column: {outcome}"
                    err_sug[i] = (
                        f"The column is read {name} ({why}); with the other order this would "
                        f"be {_long_date(other)}: correct the cell, or set the column's date "
                        "order in the mapping options."
                    )
                    continue
        else:
            err_code[i], err_msg[i] = "invalid_date", f"'{text}' is not a date"
            err_sug[i] = "Enter a date such as 2024-03-31, 31.03.2024 or 03/31/2024."
            continue
        if isinstance(outcome, str):
            err_code[i], err_msg[i] = "invalid_date", f"'{text}' is not a date: {outcome}"
            err_sug[i] = "Check the day and the month."
        else:
            result[i] = np.datetime64(outcome, "D")

    values_d = np.where(
        codes >= 0,
        result[np.maximum(codes, 0)] if k else np.datetime64("NaT"),
        np.datetime64("NaT"),
    ).astype("datetime64[D]")
    values = pd.Series(values_d.astype("datetime64[s]"), index=index)
    errors = errors_per_distinct(index, raw, codes, err_code, err_msg, err_sug)
    detected: dict[str, Any] = {"order": chosen, "ambiguous": ambiguous_count}
    if decided_by is not None and any(p.kind == "dmy" and p.sep != "." for p in parts):
        detected["assumption"] = f"dates read {_ORDER_NAMES[chosen or '']}: {decided_by}"
    return Parsed(values, errors, detected)


_ORDER_NAMES = {"DMY": "day-first (DD/MM/YYYY)", "MDY": "month-first (MM/DD/YYYY)", "YMD": "YMD"}


def _long_date(d: dt.date | str) -> str:
    if isinstance(d, str):
        return f"no valid date ({d})"
    return f"{d.day} {_month_name(d.month)} {d.year}"


# --------------------------------------------------------------------------------------------
# per-distinct-value columns


def map_distinct(
    s: pd.Series,
    func: Callable[[str], tuple[Any, str, str, str]],
    *,
    kind: str = "object",
) -> Parsed:
    """Apply ``func(text) -> (value, code, message, suggestion)`` once per distinct trimmed
    value; an empty ``code`` means the value is fine. Missing cells stay missing.

    ``kind`` is the values' type: ``"str"`` (a ``str`` Series built by an arrow take),
    ``"bool"``, ``"Int8"``, ``"float"`` or ``"object"``.
    """
    index = s.index
    raw = s if isinstance(s.dtype, pd.StringDtype) else s.astype("str")
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    outs = [func(str(u).strip()) for u in uniques]
    if kind == "str" and all(o[0] == u for o, u in zip(outs, uniques, strict=True)):
        values = raw  # nothing changed: no need to rebuild the column
    else:
        values = take_distinct([o[0] for o in outs], codes, index, kind)
    errors = errors_per_distinct(
        index, raw, codes, [o[1] for o in outs], [o[2] for o in outs], [o[3] for o in outs]
    )
    return Parsed(values, errors)


def take_distinct(
    per_value: Sequence[Any], codes: np.ndarray, index: pd.Index, kind: str
) -> pd.Series:
    """Expand values computed per distinct value to the rows (``codes``; -1 = missing)."""
    missing = codes < 0
    if kind == "str":
        arr = pa.array(list(per_value), pa.large_string())
        taken = (
            arr.take(pa.array(codes, mask=missing))
            if len(arr)
            else pa.nulls(len(codes), pa.large_string())
        )
        return pd.Series(pd.array(taken, dtype="str"), index=index, copy=False)
    take = np.maximum(codes, 0)
    if kind == "bool":
        base = np.array([bool(v) for v in per_value] or [False], dtype=bool)
        out = base[take]
        out[missing] = False
        return pd.Series(out, index=index)
    if kind in ("Int8", "float"):
        base = np.array([np.nan if v is None else float(v) for v in per_value] or [np.nan])
        out = base[take]
        out[missing] = np.nan
        series = pd.Series(out, index=index)
        return series.astype("Int8") if kind == "Int8" else series
    base_o = np.array([*per_value, None], dtype=object)
    return pd.Series(base_o[np.where(missing, len(per_value), codes)], index=index)


def errors_per_distinct(
    index: pd.Index,
    raw: pd.Series,
    codes: np.ndarray,
    err_code: Sequence[str],
    err_msg: Sequence[str],
    err_sug: Sequence[str],
) -> pd.DataFrame:
    """Error rows for every cell whose distinct value (``codes`` into the lists) failed."""
    bad_u = np.array([bool(c) for c in err_code], dtype=bool)
    if not bad_u.any():
        return empty_errors()
    take = np.maximum(codes, 0)
    row_bad = bad_u[take] & (codes >= 0)
    code_u = np.array(err_code, dtype=object)
    msg_u = np.array(err_msg, dtype=object)
    sug_u = np.array(err_sug, dtype=object)
    frames = []
    for code in sorted({c for c in err_code if c}):
        sel = row_bad & (code_u[take] == code)
        frames.append(
            _errors(
                index, raw, sel, code, lambda _v, p: msg_u[take[p]], lambda _v, p: sug_u[take[p]]
            )
        )
    return concat_errors(frames)


def parse_text(s: pd.Series, *, max_length: int | None = None) -> Parsed:
    """Trim and collapse whitespace; cells longer than ``max_length`` are ``text_too_long``."""

    def one(text: str) -> tuple[Any, str, str, str]:
        clean = " ".join(text.split())
        if not clean:
            return None, "", "", ""
        if max_length is not None and len(clean) > max_length:
            return (
                None,
                "text_too_long",
                f"The text has {len(clean)} characters (at most {max_length})",
                f"Shorten it to {max_length} characters.",
            )
        return clean, "", "", ""

    return map_distinct(s, one, kind="str")


_TRUE_WORDS = {
    "yes",
    "y",
    "true",
    "1",
    "x",
    "ja",
    "j",
    "oui",
    "o",
    "si",
    "s",
    "vero",
    "wahr",
    "waar",
    "correction",
    "korrektur",
    "storno",
    "correctie",
    "correzione",
    "correccion",
    "rectificacion",
    "rettifica",
    "avoir",
    "gutschrift",
    "creditnota",
    "credit note",
    "reversal",
}
_FALSE_WORDS = {"no", "n", "false", "0", "-", "nein", "non", "nee", "falso", "falsch", "onwaar"}


def parse_flag(s: pd.Series) -> Parsed:
    """Yes/no cells in the six languages (``x`` and ``1`` count as yes); empty = no."""

    def one(text: str) -> tuple[Any, str, str, str]:
        word = _fold(text).strip(" .")
        if not word or word in _FALSE_WORDS:
            return False, "", "", ""
        if word in _TRUE_WORDS:
            return True, "", "", ""
        return (
            None,
            "invalid_flag",
            f"'{text}' is neither yes nor no",
            "Enter yes or no (or leave the cell empty for no).",
        )

    return map_distinct(s, one, kind="bool")


_SCOPE_RE = re.compile(
    r"^(?:scope|s|bereich|perimetre|alcance|ambito|reikwijdte)?\s*[-:]?\s*([123])"
    r"(?:\s*\(.*\))?$"
)


def parse_scope(s: pd.Series) -> Parsed:
    """GHG Protocol scope 1, 2 or 3 (``3``, ``Scope 3``, ``S3``)."""

    def one(text: str) -> tuple[Any, str, str, str]:
        m = _SCOPE_RE.match(_fold(text))
        if m:
            return int(m.group(1)), "", "", ""
        return (
            None,
            "invalid_scope",
            f"'{text}' is not a scope",
            "Enter 1, 2 or 3 (or Scope 1/2/3).",
        )

    return map_distinct(s, one, kind="Int8")


# A record's data-quality tier (emissions.models.DataQuality) in the words files use.
DATA_QUALITY_WORDS = {
    "metered": ("metered", "meter", "measured", "gemessen", "zahler", "mesure", "medido"),
    "invoiced": ("invoiced", "invoice", "bill", "billed", "rechnung", "facture", "factura"),
    "estimated": ("estimated", "estimate", "geschatzt", "schatzung", "estime", "estimado"),
    "spend_based": ("spend based", "spend", "spend_based", "ausgaben", "depenses", "gasto"),
}
_DATA_QUALITY = {word: tier for tier, words in DATA_QUALITY_WORDS.items() for word in words}


def parse_data_quality(s: pd.Series) -> Parsed:
    """A record's data-quality tier: metered, invoiced, estimated or spend-based."""

    def one(text: str) -> tuple[Any, str, str, str]:
        tier = _DATA_QUALITY.get(" ".join(_fold(text).replace("-", " ").split()))
        if tier:
            return tier, "", "", ""
        return (
            None,
            "invalid_data_quality",
            f"'{text}' is not a data-quality tier",
            "Enter metered, invoiced, estimated or spend-based.",
        )

    return map_distinct(s, one, kind="str")


_CATEGORY_RE = re.compile(
    r"^(?:(?:scope\s*)?3\s*\.\s*|(?:cat(?:egory|egorie|egoria|egoría|\.)?|kategorie|c)\s*[-:#]?\s*)?"
    r"(\d{1,2})(?:\s*[-:.]\s*.*|\s+.*)?$"
)


def parse_category(s: pd.Series) -> Parsed:
    """Scope 3 category 1-15 (``6``, ``3.6``, ``C6``, ``Cat. 6``, ``Category 6 - Business
    travel``, or the category's English name)."""
    names = {_fold(v): k for k, v in SCOPE3_CATEGORIES.items()}

    def one(text: str) -> tuple[Any, str, str, str]:
        folded = _fold(text)
        m = _CATEGORY_RE.match(folded)
        number = int(m.group(1)) if m else names.get(folded)
        if number is not None and 1 <= number <= 15:
            return number, "", "", ""
        return (
            None,
            "invalid_category",
            f"'{text}' is not a Scope 3 category",
            "Enter the category number 1-15 (e.g. 6 for business travel).",
        )

    return map_distinct(s, one, kind="Int8")


@lru_cache(maxsize=1)
def _country_index() -> tuple[dict[str, str], list[str], list[str]]:
    """Country names and codes (ISO 3166-1, English plus de/fr/es/it/nl names) -> alpha-2."""
    import gettext

    import pycountry

    index: dict[str, str] = {}
    for c in pycountry.countries:
        code = c.alpha_2
        for name in (
            c.alpha_2,
            c.alpha_3,
            c.name,
            getattr(c, "common_name", None),
            getattr(c, "official_name", None),
        ):
            if name:
                index.setdefault(_fold(name), code)
    for lang in ("de", "fr", "es", "it", "nl"):
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        except OSError:
            continue
        for c in pycountry.countries:
            for name in (c.name, getattr(c, "common_name", None)):
                if name:
                    index.setdefault(_fold(tr.gettext(name)), c.alpha_2)
    # Common short forms that are not ISO names.
    index.update(
        {
            "uk": "GB",
            "great britain": "GB",
            "england": "GB",
            "usa": "US",
            "us": "US",
            "united states of america": "US",
            "el": "GR",
            "holland": "NL",
            "schweiz": "CH",
            "suisse": "CH",
            "svizzera": "CH",
            "czech republic": "CZ",
            "tschechien": "CZ",
            "turkey": "TR",
            "russia": "RU",
            "south korea": "KR",
        }
    )
    keys = list(index)
    return index, keys, [index[k] for k in keys]


def parse_country(s: pd.Series) -> Parsed:
    """Country as an ISO 3166-1 alpha-2 code, from codes (DE, DEU) or names in English, German,
    French, Spanish, Italian or Dutch."""
    from rapidfuzz import fuzz, process

    index, keys, _ = _country_index()

    def one(text: str) -> tuple[Any, str, str, str]:
        folded = _fold(text).strip(" .")
        code = index.get(folded)
        if code:
            return code, "", "", ""
        close = process.extractOne(folded, keys, scorer=fuzz.ratio, score_cutoff=80)
        hint = (
            f"Did you mean {index[close[0]]}?"
            if close
            else "Enter an ISO country code such as DE or FR."
        )
        return None, "invalid_country", f"'{text}' is not a known country", hint

    return map_distinct(s, one, kind="str")
