"""Reading an uploaded file into a frame of text cells, safely.

:func:`read_upload` accepts CSV (delimiter ``,`` ``;`` tab or ``|`` sniffed; UTF-8 with or without
BOM, UTF-16, Windows-1252 / ISO-8859-1), XLSX, XLS and ODS (python-calamine; formula cells read as
their stored values). Every cell comes back as text (``str`` dtype, empty cells missing) so no type
is guessed before the user's column options are known; the frame's index is the row number the
user sees in Excel or LibreOffice, counting any title rows above the header.

Before any parsing: the size limit; for XLSX/ODS a zip-bomb guard (entry count, declared
uncompressed size, compression ratio, then every XML part decompressed once with its CRC checked
against a byte budget) and a defusedxml scan of every XML prolog that rejects DTDs, entities and
external references. Before cells are allocated, :class:`ReadLimits`: an XLSX sheet's used range
comes from its cell references (read during that same decompression; the declared
``<dimension>`` is not trusted), any workbook sheet's from calamine before its cells become
Python objects, a CSV's width from its header and its length from its line count (blank lines
after the last value are cut first, so a file padded with millions of them costs nothing). A
long blank gap with values below it is refused rather than read row by row. A CSV that is UTF-8
except some lines is read as UTF-8 with those bytes replaced and a notice listing the lines
(``ReadResult.notices``); ``encoding="cp1252"`` reads it as Windows-1252 instead. Whatever goes wrong comes back as a :class:`PipelineError` with a message for
the user, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .detect import HEADER_SCAN_ROWS, SkippedRow, detect_header_row, find_skipped_rows
from .errors import PipelineError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Total uncompressed size a workbook's parts may reach.
DEFAULT_MAX_UNCOMPRESSED = 400 * 1024 * 1024
#: Uncompressed / compressed size above which a part (of more than 1 MiB) counts as a bomb;
#: real sheets stay far below (a generated 100,000-row sheet compresses about 10:1).
MAX_COMPRESSION_RATIO = 150
MAX_ZIP_ENTRIES = 10_000


@dataclass(frozen=True)
class ReadLimits:
    """How big a table may be; checked from the declared and used ranges before cells are
    allocated. ``max_rows``: data rows (Excel holds 1,048,576); ``max_columns``; ``max_cells``:
    rows x columns of a workbook sheet's used range (a sparse sheet is allocated whole);
    ``max_blank_run``: blank rows in a row with data below them; ``max_name_chars``: a sheet
    name (longer ones cannot be stored); ``max_header_chars``: longer header cells are cut."""

    max_rows: int = 1_048_576
    max_columns: int = 1_000
    max_cells: int = 12_000_000
    max_blank_run: int = 10_000
    max_name_chars: int = 200
    max_header_chars: int = 150


DEFAULT_LIMITS = ReadLimits()
#: Rows searched for a column's first values (shown on the mapping page).
SAMPLE_SCAN_ROWS = 200
#: Choices for a CSV that is UTF-8 except some lines.
ENCODING_CHOICES = ("utf-8-replace", "cp1252")

CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv", ".tab", ""})
WORKBOOK_EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods"}
DELIMITERS = (",", ";", "\t", "|")

_SAMPLE_CHARS = 256 * 1024
_SAMPLE_RECORDS = 200
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")
_CONTENT_RE = re.compile(rb"[^\s\x00\xef\xbb\xbf\xfe\xff]")
# Checked at both ends of every cell before trimming; other whitespace is handled by the
# normalisers (numbers allow it, text columns trim their distinct values).
_WHITESPACE_EDGES = (" ", "\t")


@dataclass
class ReadResult:
    """A file read into text cells.

    ``frame``: one ``str`` column per header (the user's header names, made unique; an unnamed
    column is called ``Column C`` after its spreadsheet letter), values trimmed, empty cells
    missing; index ``row`` = spreadsheet row numbers; blank and trailing total rows removed
    (listed in ``skipped``). ``native_numbers`` marks, per column, the workbook cells that were
    stored as numbers (so ``1.234`` typed as a number is never read as one thousand two hundred
    and thirty-four); CSV files have none.
    """

    frame: pd.DataFrame
    kind: str
    filename: str
    header_row: int
    skipped: list[SkippedRow] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    native_numbers: dict[str, np.ndarray] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0
    notices: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        """The column names, in file order."""
        return [str(c) for c in self.frame.columns]

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of what was read (for the import run record)."""
        return {
            "filename": self.filename,
            "kind": self.kind,
            "size": self.size,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheets": list(self.sheets),
            "sheet": self.sheet,
            "header_row": self.header_row,
            "headers": self.headers,
            "rows": len(self.frame),
            "skipped": [s.to_dict() for s in self.skipped],
            "notices": list(self.notices),
            "samples": dict(self.samples),
        }


Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


def read_upload(
    source: Source,
    *,
    filename: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    sheet: str | None = None,
    header_row: int | None = None,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    limits: ReadLimits | None = None,
    encoding: str | None = None,
) -> ReadResult:
    """Read an uploaded CSV, XLSX, XLS or ODS file into text cells.

    ``source`` is a path, the bytes, or a binary file object (read at most ``max_bytes + 1``
    bytes, so a stream longer than the limit is refused without being read whole).
    ``filename`` (the user's name for the file) gives the expected type. ``sheet`` picks a
    workbook sheet (default: the first visible sheet with data); ``header_row`` (spreadsheet row
    number) overrides header detection. ``limits`` bound rows, columns, cells and blank runs
    (:class:`ReadLimits`). ``encoding`` decides a CSV that is UTF-8 except some lines
    (``"utf-8-replace"`` or ``"cp1252"``; by default such a file is read as UTF-8 with the bad
    bytes replaced, and a notice lists the lines). Raises :class:`PipelineError` for any file that
    cannot be read, or that exceeds a limit (codes ``too_many_rows``, ``too_many_columns``,
    ``too_many_cells``, ``blank_run``, ``sheet_name_too_long``).
    """
    limits = limits or DEFAULT_LIMITS
    if encoding is not None and encoding not in ENCODING_CHOICES:
        raise ValueError(f"encoding must be one of {ENCODING_CHOICES}")
    ext = Path(filename).suffix.lower()
    if ext not in CSV_EXTENSIONS and ext not in WORKBOOK_EXTENSIONS:
        raise PipelineError(
            "unsupported_format",
            f"{filename} is not a supported file type. Upload a CSV, XLSX, XLS or ODS file.",
            filename=filename,
        )
    data = _load_bytes(source, max_bytes, filename)
    if not _CONTENT_RE.search(data):
        raise PipelineError("empty", f"{filename} is empty.", filename=filename)
    digest = hashlib.sha256(data).hexdigest()

    if data[:4] in _ZIP_MAGIC:
        kind, bounds = _check_zip(data, filename, max_uncompressed_bytes)
        result = _read_workbook(data, kind, filename, sheet, header_row, limits, bounds)
    elif data[:8] == _OLE_MAGIC:
        result = _read_workbook(data, "xls", filename, sheet, header_row, limits, {})
    else:
        if ext in (".xlsx", ".xlsm", ".ods"):
            raise PipelineError(
                "damaged",
                f"{filename} is not a valid {ext[1:].upper()} workbook: it may be damaged or "
                "truncated. Open it in your spreadsheet program and save it again.",
                filename=filename,
            )
        if data.lstrip()[:1] == b"<":
            raise PipelineError(
                "unsupported_format",
                f"{filename} looks like a web page or XML file, not a spreadsheet. Open it in "
                "your spreadsheet program and save it as XLSX or CSV.",
                filename=filename,
            )
        result = _read_csv(data, filename, header_row, limits, encoding)
    result.sha256 = digest
    result.size = len(data)
    return result


# --------------------------------------------------------------------------------------------
# bytes, size limit


def _human_size(n: int) -> str:
    """A byte count as people read it: 50 MB, 1.5 MB, 512 KB, 300 bytes."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{round(n / size, 1):g} {unit}"
    return f"{n} bytes"


def _too_large(filename: str, max_bytes: int, size: int | None) -> PipelineError:
    what = f"is {_human_size(size)}" if size is not None else "is larger than the limit"
    name = filename or "The file"
    return PipelineError(
        "too_large",
        f"{name} {what}; the limit is {_human_size(max_bytes)}. Split it into smaller files or "
        "remove unused sheets and columns.",
        limit_bytes=max_bytes,
        size_bytes=size,
    )


def _load_bytes(source: Source, max_bytes: int, filename: str) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > max_bytes:
            raise _too_large(filename, max_bytes, len(data))
        return data
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_large(filename, max_bytes, size)
            return path.read_bytes()
        except OSError as exc:
            raise PipelineError(
                "unreadable",
                f"{filename} cannot be opened: {exc.strerror or exc}.",
                filename=filename,
            ) from None
    chunks = []
    remaining = max_bytes + 1
    while remaining > 0:
        chunk = source.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _too_large(filename, max_bytes, None)
    return data


# --------------------------------------------------------------------------------------------
# CSV


class _NotUtf8Error(Exception):
    """A file whose first part read as UTF-8 has invalid UTF-8 further on."""


def _not_text(filename: str) -> PipelineError:
    return PipelineError(
        "not_text",
        f"{filename} is not a text (CSV) file: it contains binary data. Upload the CSV, XLSX, "
        "XLS or ODS file itself.",
        filename=filename,
    )


def _guess_encoding(data: bytes) -> tuple[str, int]:
    """Encoding from the byte-order mark or the pattern of zero bytes; else ``utf-8`` to try."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    head = data[:4096]
    half = max(len(head) // 2, 1)
    even_nuls, odd_nuls = head[0::2].count(0), head[1::2].count(0)
    if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
        return "utf-16-le", 0
    if even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
        return "utf-16-be", 0
    return "utf-8", 0


def _decode_other(data: bytes, encoding: str, filename: str) -> tuple[str, str]:
    """Whole-file decoding for everything but UTF-8: UTF-16, else Windows-1252, else Latin-1."""
    candidates = [encoding] if encoding.startswith("utf-16") else ["cp1252", "latin-1"]
    for enc in candidates:
        try:
            text = data.decode(enc).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        return text, enc
    raise _not_text(filename)


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if "\x00" in text:
        return True
    return len(_CONTROL_RE.findall(sample)) > max(2, 0.01 * len(sample))


def _sniff_delimiter(records_text: str) -> str:
    """The delimiter that splits the most sample rows into the same number (> 1) of fields."""
    best, best_score = ",", (0, 0, 0)
    for rank, delim in enumerate(DELIMITERS):
        records, _ = _parse_records(records_text, delim, complete=True, limit=60)
        counts = [len(r) for r in records if len(r) > 1]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode), mode, -rank)
        if score > best_score:
            best, best_score = delim, score
    return best


def _parse_records(
    text: str, delimiter: str, *, complete: bool, limit: int = _SAMPLE_RECORDS
) -> tuple[list[list[str]], list[int]]:
    """CSV records of a text sample and the character offset where each one ends."""
    end = 0

    def lines() -> Any:
        nonlocal end
        for m in _LINE_RE.finditer(text):
            end = m.end()
            yield m.group()

    records: list[list[str]] = []
    ends: list[int] = []
    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"')
    try:
        for record in reader:
            records.append(record)
            ends.append(end)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    if not complete and records and ends[-1] >= len(text):
        records.pop()
        ends.pop()
    return records, ends


def _read_csv(
    data: bytes, filename: str, header_row: int | None, limits: ReadLimits, choice: str | None
) -> ReadResult:
    encoding, bom = _guess_encoding(data)
    if encoding == "utf-8" and choice != "cp1252":
        # The common case reads the bytes as they are: only a sample is decoded here, and
        # pyarrow checks the rest is UTF-8 while parsing.
        try:
            sample = codecs.getincrementaldecoder("utf-8")().decode(
                data[bom : bom + _SAMPLE_CHARS], final=len(data) <= bom + _SAMPLE_CHARS
            )
        except UnicodeDecodeError:
            sample = None
        if sample is not None:
            if _looks_binary(sample) or data.find(b"\x00") >= 0:
                raise _not_text(filename)
            try:
                return _read_csv_buffer(data, bom, sample, "utf-8", filename, header_row, limits)
            except _NotUtf8Error:
                pass
        # Not UTF-8 throughout: a file with UTF-8 text elsewhere is UTF-8 with some bad lines
        # (read so, the lines reported, the other choice offered); one without is a legacy file.
        text, bad_lines, utf8_text = _utf8_problems(data[bom:])
        if choice == "utf-8-replace" or utf8_text:
            if _looks_binary(text):
                raise _not_text(filename)
            buffer = text.encode("utf-8")
            del text
            sample = buffer[:_SAMPLE_CHARS].decode("utf-8", errors="ignore")
            result = _read_csv_buffer(buffer, 0, sample, "utf-8", filename, header_row, limits)
            result.notices.insert(0, _mixed_encoding_notice(filename, bad_lines, choice))
            return result
    text, encoding = _decode_other(data[bom:], encoding, filename)
    buffer = text.encode("utf-8")
    del text
    sample = buffer[:_SAMPLE_CHARS].decode("utf-8", errors="ignore")
    result = _read_csv_buffer(buffer, 0, sample, encoding, filename, header_row, limits)
    if choice == "cp1252" and encoding in ("cp1252", "latin-1"):
        result.notices.insert(
            0,
            {
                "code": "encoding_chosen",
                "message": f"{filename} is read as Windows-1252, as you chose.",
                "choices": list(ENCODING_CHOICES),
                "choice": choice,
            },
        )
    return result


_ESCAPED_RE = re.compile("[\udc80-\udcff]+")
_NON_ASCII_RE = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")
_LISTED_LINES = 20


def _utf8_problems(data: bytes) -> tuple[str, list[int], bool]:
    """``data`` decoded as UTF-8 with every invalid byte replaced by U+FFFD, the line numbers
    (1-based) that held invalid bytes, and whether valid non-ASCII UTF-8 text occurs at all."""
    text = data.decode("utf-8", errors="surrogateescape")
    lines: list[int] = []
    line, pos = 1, 0
    for m in _ESCAPED_RE.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    utf8_text = _NON_ASCII_RE.search(_ESCAPED_RE.sub("", text)) is not None if lines else True
    return _ESCAPED_RE.sub("\ufffd", text), lines, utf8_text


def _mixed_encoding_notice(filename: str, lines: list[int], choice: str | None) -> dict[str, Any]:
    shown = ", ".join(f"{n:,}" for n in lines[:_LISTED_LINES])
    more = f" and {len(lines) - _LISTED_LINES:,} more" if len(lines) > _LISTED_LINES else ""
    which = "Line" if len(lines) == 1 else "Lines"
    verb = "is" if len(lines) == 1 else "are"
    return {
        "code": "mixed_encoding",
        "message": f"{which} {shown}{more} of {filename} {verb} not valid UTF-8, unlike the rest "
        "of the file: their unreadable characters are shown as \ufffd. If the file was saved "
        "as Windows-1252 (ANSI), read it that way instead.",
        "lines": lines[:1000],
        "line_count": len(lines),
        "choices": list(ENCODING_CHOICES),
        "choice": choice or "utf-8-replace",
    }


def _read_csv_buffer(
    data: bytes,
    start: int,
    sample: str,
    encoding: str,
    filename: str,
    header_row: int | None,
    limits: ReadLimits,
) -> ReadResult:
    """Parse UTF-8 ``data[start:]`` whose beginning is the decoded ``sample``."""
    complete = start + len(sample.encode("utf-8")) >= len(data)
    delimiter = _sniff_delimiter(sample[:65536])
    records, ends = _parse_records(sample, delimiter, complete=complete)
    if not any(any(c.strip() for c in r) for r in records):
        raise PipelineError("empty", f"{filename} has no values.", filename=filename)
    header_idx = _header_index(records, header_row, filename)
    header_cells = records[header_idx]
    offset = start + len(sample[: ends[header_idx]].encode("utf-8"))
    width = max([len(header_cells), *(len(r) for r in records[header_idx + 1 :])])
    data, trailing = _without_trailing_blanks(data, offset, delimiter)
    newline = b"\n" if data.find(b"\n", offset) >= 0 else b"\r"
    # Each line holds at most one row: counted before anything is allocated.
    lines = data.count(newline, offset) + (0 if data.endswith(newline) else 1)
    _check_shape(0, width, where=filename, limits=limits)
    if lines > limits.max_rows:
        raise PipelineError(
            "too_many_rows",
            f"{filename} has {lines:,} lines under its header; the limit is "
            f"{limits.max_rows:,} rows. Split it into smaller files.",
            rows=lines,
            limit=limits.max_rows,
        )
    columns = _parse_body(data, offset, delimiter, width, filename, limits)
    result = _assemble(
        columns,
        header_cells,
        first_row=header_idx + 2,
        first_col=0,
        kind="csv",
        filename=filename,
        natives={},
        encoding=encoding,
        delimiter=delimiter,
        limits=limits,
    )
    if trailing:
        first = header_idx + 2 + len(columns[0]) if columns else header_idx + 2
        result.skipped.append(SkippedRow(first, first + trailing - 1, "blank"))
    return result


def _without_trailing_blanks(data: bytes, offset: int, delimiter: str) -> tuple[bytes, int]:
    """``data`` without the blank lines (spaces and separators only) after its last value, and
    how many lines were cut: a file padded with millions of them is read in no time."""
    stripped = len(data.rstrip(b" \t\r\n" + delimiter.encode()))
    if stripped <= offset:
        return data[:offset], data.count(b"\n", offset) or data.count(b"\r", offset)
    end = min(
        (i + 1 for i in (data.find(b"\n", stripped), data.find(b"\r", stripped)) if i >= 0),
        default=len(data),
    )
    if data[end - 1 : end + 1] == b"\r\n":
        end += 1
    if end >= len(data):
        return data, 0
    tail = data[end:]
    return data[:end], tail.count(b"\n") or tail.count(b"\r")


def _header_index(
    rows: Sequence[Sequence[Any]], header_row: int | None, filename: str, first_row: int = 1
) -> int:
    if header_row is None:
        return detect_header_row(rows)
    idx = header_row - first_row
    if not 0 <= idx < len(rows):
        raise PipelineError(
            "no_header",
            f"Row {header_row} of {filename} cannot be the header: the table starts at row "
            f"{first_row}.",
            header_row=header_row,
        )
    return idx


_NON_SPACE_RE = re.compile(rb"\S")


def _parse_body(
    data: bytes, offset: int, delimiter: str, width: int, filename: str, limits: ReadLimits
) -> list[pa.ChunkedArray]:
    """Parse ``data[offset:]`` (the rows under the header, UTF-8) into ``width`` string columns,
    one record per spreadsheet row."""
    if not _CONTENT_RE.search(data, offset):
        return [pa.chunked_array([pa.array([], pa.large_string())]) for _ in range(width)]
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(offset)),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _NotUtf8Error from None
        table = None  # ragged rows: the tolerant parser below pads short rows
    if table is not None and not _drops_blank_lines(data, offset, table.num_rows):
        return [table.column(i) for i in range(width)]
    return _parse_body_tolerant(memoryview(data)[offset:], delimiter, width, filename, limits)


def _drops_blank_lines(data: bytes, offset: int, rows: int) -> bool:
    """pyarrow skips empty lines, which would shift row numbers. When it read as many rows as
    there are lines nothing was skipped; otherwise fewer rows come from quoted line breaks
    (harmless) or from blank lines (then the tolerant parser must read the file)."""
    newline = b"\n" if data.find(b"\n", offset) >= 0 else b"\r"
    lines = data.count(newline, offset) + (0 if data.endswith(newline) else 1)
    if rows >= lines:
        return False
    return (
        data.find(newline + newline, offset) >= 0
        or data.find(b"\n\r\n", offset) >= 0
        or data[offset : offset + 1] in (b"\n", b"\r")
    )


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parse_body_tolerant(
    body: bytes | memoryview, delimiter: str, width: int, filename: str, limits: ReadLimits
) -> list[pa.ChunkedArray]:
    """pandas' C parser keeps blank lines as empty rows and pads short rows; a row longer than
    the header widens the table (its extra cells get letter names, as a spreadsheet shows them)."""
    for _ in range(8):
        try:
            df = pd.read_csv(
                io.BytesIO(body),
                sep=delimiter,
                header=None,
                names=[f"c{i}" for i in range(width)],
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                index_col=False,
                quotechar='"',
                engine="c",
                encoding="utf-8",
            )
        except pd.errors.ParserError as exc:
            m = _FIELDS_RE.search(str(exc))
            if not m:
                raise PipelineError(
                    "bad_row",
                    f"{filename} cannot be read as CSV: {str(exc).splitlines()[-1]}",
                ) from None
            width = int(m.group(3))
            _check_shape(0, width, where=filename, limits=limits)
            continue
        except UnicodeDecodeError:
            raise _NotUtf8Error from None
        except pd.errors.EmptyDataError:
            return [pa.chunked_array([pa.array([], pa.large_string())]) for _ in range(width)]
        return [
            pa.chunked_array([pa.array(df[c].array)])
            if len(df)
            else pa.chunked_array([pa.array([], pa.large_string())])
            for c in df.columns
        ]
    raise PipelineError("bad_row", f"{filename} has rows of too many different lengths to read.")


# --------------------------------------------------------------------------------------------
# workbooks


class _RootReachedError(Exception):
    pass


class _PrologTarget:
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootReachedError

    def end(self, tag: str) -> None:
        return None

    def data(self, data: str) -> None:
        return None

    def close(self) -> None:
        return None


def _check_zip(
    data: bytes, filename: str, max_uncompressed: int
) -> tuple[str, dict[str, _UsedRange]]:
    """Zip-bomb and XML-entity guard for XLSX/ODS; returns ``"xlsx"`` or ``"ods"`` and, for
    XLSX, the used range of each worksheet part (from its cell references, read while the part
    is decompressed anyway)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    def damaged(detail: str = "") -> PipelineError:
        return PipelineError(
            "damaged",
            f"{filename} is damaged or truncated{detail}. Open it in your spreadsheet program "
            "and save it again.",
            filename=filename,
        )

    def bomb(detail: str) -> PipelineError:
        return PipelineError(
            "zip_bomb",
            f"{filename} is refused: {detail}. A real spreadsheet does not do this; save it "
            "again from your spreadsheet program.",
            filename=filename,
        )

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise damaged() from None
    names = {i.filename for i in infos}
    if len(infos) > MAX_ZIP_ENTRIES:
        raise bomb(f"it holds {len(infos)} parts (at most {MAX_ZIP_ENTRIES})")
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed:
        raise bomb(
            f"it would expand to {_human_size(total)} (at most {_human_size(max_uncompressed)})"
        )
    for info in infos:
        if info.file_size > 1024 * 1024:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_COMPRESSION_RATIO:
                raise bomb(
                    f"its part {info.filename} is compressed {ratio:.0f} to 1 "
                    f"(at most {MAX_COMPRESSION_RATIO} to 1)"
                )

    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        kind = "xlsx"
    elif "content.xml" in names and "mimetype" in names:
        kind = "ods"
    else:
        raise PipelineError(
            "unsupported_format",
            f"{filename} is a ZIP archive but not an XLSX or ODS workbook.",
            filename=filename,
        )

    # Decompress every part once, counting real bytes (declared sizes can lie; zipfile stops at
    # the declared size and then checks the CRC), and run each XML prolog through defusedxml.
    budget = max_uncompressed
    ranges: dict[str, _UsedRange] = {}
    for info in infos:
        if info.is_dir():
            continue
        used = (
            _UsedRange() if kind == "xlsx" and info.filename.startswith("xl/worksheets/") else None
        )
        tail = b""
        is_xml = info.filename.endswith((".xml", ".rels", ".vml")) or info.filename == "mimetype"
        parser = (
            DefusedXMLParser(
                target=_PrologTarget(), forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
            if is_xml and info.filename != "mimetype"
            else None
        )
        try:
            with zf.open(info) as part:
                while chunk := part.read(1024 * 1024):
                    budget -= len(chunk)
                    if budget < 0:
                        raise bomb(f"it expands to more than {_human_size(max_uncompressed)}")
                    if parser is not None:
                        try:
                            parser.feed(chunk)
                        except _RootReachedError:
                            parser = None
                    if used is not None:
                        # A reference cut at the chunk's end is seen whole with the next chunk.
                        cut = max(len(chunk) - 24, 0)
                        used.scan(tail + chunk[:cut])
                        tail = chunk[cut:]
                if used is not None:
                    used.scan(tail)
                    ranges[info.filename] = used
        except DefusedXmlException:
            raise PipelineError(
                "xml_entities",
                f"{filename} is refused: its part {info.filename} declares XML entities or a "
                "document type (a known attack on XML readers). Save the file again from your "
                "spreadsheet program.",
                filename=filename,
                part=info.filename,
            ) from None
        except ParseError:
            raise damaged(f" (its part {info.filename} is not well-formed XML)") from None
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ):
            raise damaged() from None
    return kind, _sheet_ranges(zf, ranges) if ranges else {}


_ROW_RE = re.compile(rb'\sr="[A-Z]{0,3}([0-9]{1,7})"')
_COL_RE = re.compile(rb'\sr="([A-Z]{1,3})[0-9]')


@dataclass
class _UsedRange:
    """The rows and columns a worksheet's cells reference (``<row r=..>``, ``<c r=..>``): what a
    reader allocates, whatever the sheet's ``<dimension>`` declares."""

    max_row: int = 0
    columns: set[bytes] = field(default_factory=set)

    def scan(self, xml: bytes) -> None:
        rows = _ROW_RE.findall(xml)
        if rows:
            self.max_row = max(self.max_row, int(np.array(rows).astype(np.int64).max()))
        self.columns.update(_COL_RE.findall(xml))

    @property
    def max_column(self) -> int:
        """1-based index of the rightmost referenced column (A = 1)."""
        best = 0
        for letters in self.columns:
            n = 0
            for ch in letters:
                n = n * 26 + ch - 64
            best = max(best, n)
        return best


def _sheet_ranges(zf: zipfile.ZipFile, parts: dict[str, _UsedRange]) -> dict[str, _UsedRange]:
    """Used ranges by sheet name (workbook.xml names the sheets, its relationships the parts)."""
    from defusedxml.ElementTree import fromstring

    try:
        workbook = fromstring(zf.read("xl/workbook.xml"))
        rels = fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception:  # a workbook calamine can still read; its sheets are checked after loading
        return {}
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        targets[rel.get("Id")] = path.replace("/./", "/")
    by_name = {}
    for node in workbook.iter():
        if node.tag.endswith("}sheet") and node.get("name") is not None:
            rid = next((v for k, v in node.attrib.items() if k.endswith("}id")), None)
            part = targets.get(rid)
            if part in parts:
                by_name[node.get("name")] = parts[part]
    return by_name


def _cell_text_converters() -> dict[type, Callable[[Any], tuple[str | None, bool]]]:
    def from_float(v: float) -> tuple[str | None, bool]:
        if v != v or v in (float("inf"), float("-inf")):
            return None, False
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v)), True
        return repr(v), True

    def from_datetime(v: dt.datetime) -> tuple[str | None, bool]:
        if v.hour == v.minute == v.second == v.microsecond == 0:
            return v.date().isoformat(), False
        return v.isoformat(sep=" ", timespec="seconds"), False

    return {
        str: lambda v: (v, False),
        float: from_float,
        int: lambda v: (str(v), True),
        bool: lambda v: ("TRUE" if v else "FALSE", False),
        dt.datetime: from_datetime,
        dt.date: lambda v: (v.isoformat(), False),
        dt.time: lambda v: (v.isoformat(timespec="seconds"), False),
        dt.timedelta: lambda v: (str(v), False),
        type(None): lambda v: (None, False),
    }


_CONVERTERS = _cell_text_converters()


def _texts(values: Sequence[Any]) -> tuple[list[str | None], np.ndarray | None]:
    """Workbook cells as text, and which of them were stored as numbers."""
    if all(type(v) is str for v in values):
        return [v or None for v in values], None
    conv = _CONVERTERS
    pairs = [conv.get(type(v), lambda x: (str(x), False))(v) for v in values]
    texts = [p[0] or None for p in pairs]
    native = np.fromiter((p[1] for p in pairs), dtype=bool, count=len(pairs))
    return texts, native if native.any() else None


def _column_array(values: Sequence[Any]) -> tuple[pa.Array, np.ndarray | None]:
    """One workbook column as an arrow string array (plus its stored-as-number mask). Columns of
    only numbers or only dates (and empty cells) are converted by numpy/arrow kernels; mixed
    columns cell by cell."""
    kinds = set(map(type, values))
    n = len(values)
    if kinds <= {str}:
        return pa.array([v or None for v in values], pa.large_string()), None
    is_text = np.fromiter((type(v) is str for v in values), dtype=bool, count=n)
    blanks_only = not any(v for v in values if type(v) is str)
    if blanks_only and kinds <= {str, float, int}:
        nums = np.array(
            [np.nan if t else v for v, t in zip(values, is_text, strict=True)], dtype=float
        )
        finite = np.isfinite(nums)
        if finite.sum() == (~is_text).sum():
            text = pc.cast(pa.array(nums, mask=~finite), pa.large_string())
            return text, ~is_text
    if blanks_only and kinds <= {str, dt.date}:
        days = np.array(
            [None if t else v for v, t in zip(values, is_text, strict=True)], dtype="datetime64[D]"
        )
        text = np.datetime_as_string(days, unit="D")
        return pa.array(text, pa.large_string(), mask=np.isnat(days)), None
    texts, native = _texts(values)
    return pa.array(texts, pa.large_string()), native


def _check_shape(
    rows: int, columns: int, *, where: str, limits: ReadLimits, sheets: Sequence[str] = ()
) -> None:
    """Refuse a table whose used range exceeds the limits, before its cells are allocated."""
    extra: dict[str, Any] = {"sheets": list(sheets)} if sheets else {}
    if columns > limits.max_columns:
        raise PipelineError(
            "too_many_columns",
            f"{where} uses {columns:,} columns; the limit is {limits.max_columns:,}. Delete the "
            "unused columns (or values far to the right) and upload it again.",
            columns=columns,
            limit=limits.max_columns,
            **extra,
        )
    if rows > limits.max_rows + HEADER_SCAN_ROWS:
        raise PipelineError(
            "too_many_rows",
            f"{where} uses {rows:,} rows; the limit is {limits.max_rows:,}. Split it into "
            "smaller files, or delete values far below the table.",
            rows=rows,
            limit=limits.max_rows,
            **extra,
        )
    if rows * columns > limits.max_cells:
        raise PipelineError(
            "too_many_cells",
            f"{where} spans {rows:,} rows x {columns:,} columns = {rows * columns:,} cells; the "
            f"limit is {limits.max_cells:,}. A value far below or to the right of the table "
            "makes the whole range count: delete it (or split the file) and upload it again.",
            rows=rows,
            columns=columns,
            limit=limits.max_cells,
            **extra,
        )


def _read_workbook(
    data: bytes,
    kind: str,
    filename: str,
    sheet: str | None,
    header_row: int | None,
    limits: ReadLimits,
    ranges: dict[str, _UsedRange],
) -> ReadResult:
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    label = {"xlsx": "XLSX", "xls": "XLS", "ods": "ODS"}[kind]

    def damaged(exc: Exception) -> PipelineError:
        return PipelineError(
            "damaged",
            f"{filename} cannot be read as an {label} workbook ({str(exc)[:200] or type(exc).__name__}). "
            "Open it in your spreadsheet program and save it again.",
            filename=filename,
        )

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        meta = wb.sheets_metadata
    except Exception as exc:  # calamine raises several error types for broken files
        if "password" in str(exc).lower() or type(exc).__name__ == "PasswordError":
            raise PipelineError(
                "damaged",
                f"{filename} is password-protected. Remove the password and upload it again.",
                filename=filename,
            ) from None
        raise damaged(exc) from None
    worksheets = [m.name for m in meta if m.typ == SheetTypeEnum.WorkSheet]
    visible = [
        m.name
        for m in meta
        if m.typ == SheetTypeEnum.WorkSheet and m.visible == SheetVisibleEnum.Visible
    ]
    if sheet is not None and sheet not in worksheets:
        raise PipelineError(
            "sheet_not_found",
            f"{filename} has no sheet named '{sheet}'. Its sheets are: {', '.join(visible or worksheets)}.",
            sheets=visible or worksheets,
        )
    order = [sheet] if sheet is not None else (visible or worksheets)
    rows: list[list[Any]] = []
    start = (0, 0)
    chosen = order[0] if order else None
    listed = visible or worksheets
    try:
        for name in order:
            shown = name if len(name) <= 60 else f"{name[:60]}…"
            where = f"The sheet '{shown}' of {filename}"
            if len(name) > limits.max_name_chars:
                raise PipelineError(
                    "sheet_name_too_long",
                    f"{where} has a name of {len(name):,} characters; the limit is "
                    f"{limits.max_name_chars}. Rename the sheet and upload the file again.",
                    length=len(name),
                    limit=limits.max_name_chars,
                    sheets=listed,
                )
            used = ranges.get(name)
            if used is not None:
                # Declared by the cell references: checked before the reader allocates them.
                _check_shape(
                    used.max_row, used.max_column, where=where, limits=limits, sheets=listed
                )
            ws = wb.get_sheet_by_name(name)
            _check_shape(ws.height, ws.width, where=where, limits=limits, sheets=listed)
            rows = ws.to_python(skip_empty_area=True)
            if any(any(v not in ("", None) for v in r) for r in rows[:50]):
                chosen, start = name, (ws.start or (0, 0))
                break
    except PipelineError:
        raise
    except Exception as exc:
        raise damaged(exc) from None
    if chosen is None or not any(any(v not in ("", None) for v in r) for r in rows[:50]):
        where = f"The sheet '{chosen}' of {filename}" if chosen else filename
        raise PipelineError(
            "empty", f"{where} has no values.", filename=filename, sheets=visible or worksheets
        )

    first_row, first_col = start[0] + 1, start[1]
    head = [_texts(r)[0] for r in rows[:50]]
    header_idx = _header_index(head, header_row, filename, first_row)
    header_cells = [c or "" for c in head[header_idx]]
    body_rows = rows[header_idx + 1 :]
    width = max(len(header_cells), max((len(r) for r in body_rows), default=0))
    columns: list[pa.ChunkedArray] = []
    natives: dict[int, np.ndarray] = {}
    if body_rows:
        for j, values in enumerate(zip(*body_rows, strict=False)):
            array, native = _column_array(values)
            columns.append(pa.chunked_array([array]))
            if native is not None:
                natives[j] = native
    else:
        columns = [pa.chunked_array([pa.array([], pa.large_string())]) for _ in range(width)]
    return _assemble(
        columns,
        header_cells,
        first_row=first_row + header_idx + 1,
        first_col=first_col,
        kind=kind,
        filename=filename,
        natives=natives,
        sheets=visible or worksheets,
        sheet=chosen,
        limits=limits,
    )


# --------------------------------------------------------------------------------------------
# assembling the frame


def column_letter(index: int) -> str:
    """Spreadsheet letters of a 0-based column index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _trimmed(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells without surrounding whitespace, blank cells as missing (checked before the costlier
    trim, which most columns do not need)."""
    if any(
        pc.any(pc.starts_with(col, w)).as_py() or pc.any(pc.ends_with(col, w)).as_py()
        for w in _WHITESPACE_EDGES
    ):
        col = pc.utf8_trim_whitespace(col)
    if pc.any(pc.equal(col, "")).as_py():
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.large_string()), col)
    return col


def _clean_header(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _assemble(
    columns: list[pa.ChunkedArray],
    header_cells: Sequence[str],
    *,
    first_row: int,
    first_col: int,
    kind: str,
    filename: str,
    natives: dict[int, np.ndarray],
    encoding: str | None = None,
    delimiter: str | None = None,
    sheets: Sequence[str] = (),
    sheet: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReadResult:
    n = len(columns[0]) if columns else 0
    notices: list[dict[str, Any]] = []
    cut_headers: list[str] = []
    samples: dict[str, list[str]] = {}
    index = pd.RangeIndex(first_row, first_row + n, name="row")
    data: dict[str, pd.Series] = {}
    native_numbers: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for j, col in enumerate(columns):
        cleaned = _trimmed(col)
        header = _clean_header(header_cells[j] if j < len(header_cells) else "")
        if not header:
            if cleaned.null_count == len(cleaned):
                continue
            header = f"Column {column_letter(first_col + j)}"
        if len(header) > limits.max_header_chars:
            cut_headers.append(column_letter(first_col + j))
            header = header[: limits.max_header_chars - 1].rstrip() + "…"
        key = header.casefold()
        if key in seen:
            seen[key] += 1
            header = f"{header} ({seen[key]})"
        else:
            seen[key] = 1
        data[header] = pd.Series(pd.array(cleaned, dtype="str"), index=index, copy=False)
        # The first values of each column, for the mapping page (taken here, column by column in
        # arrow, so a page of thousands of columns never slices the frame).
        samples[header] = [
            v[:60] for v in cleaned.slice(0, SAMPLE_SCAN_ROWS).drop_null()[:3].to_pylist()
        ]
        if j in natives:
            native_numbers[header] = natives[j]
    frame = pd.DataFrame(data, index=index, copy=False)
    header_row = first_row - 1
    if not data:
        raise PipelineError(
            "empty", f"{filename} has no columns with a name or a value.", filename=filename
        )
    if cut_headers:
        notices.append(
            {
                "code": "long_headers",
                "message": f"The header of column{'s' if len(cut_headers) > 1 else ''} "
                f"{', '.join(cut_headers[:10])}{' and others' if len(cut_headers) > 10 else ''} "
                f"is longer than {limits.max_header_chars} characters: it is shown cut short.",
                "columns": cut_headers,
            }
        )
    keep, skipped = find_skipped_rows(frame)
    long_gap = next(
        (
            s
            for s in skipped
            if s.reason == "blank"
            and s.last_row - s.row + 1 > limits.max_blank_run
            and s.last_row < int(frame.index[-1])
        ),
        None,
    )
    if long_gap is not None:
        raise PipelineError(
            "blank_run",
            f"Rows {long_gap.row:,} to {long_gap.last_row:,} of {filename} are blank "
            f"({long_gap.last_row - long_gap.row + 1:,} in a row; the limit is "
            f"{limits.max_blank_run:,}) and more values follow below them. Delete the blank rows "
            "(or the values far below the table) and upload it again.",
            first_row=long_gap.row,
            last_row=long_gap.last_row,
            limit=limits.max_blank_run,
            sheets=list(sheets),
            sheet=sheet,
        )
    if not keep.all():
        kept = np.flatnonzero(keep)
        if len(kept) and kept[-1] - kept[0] + 1 == len(kept):
            # One block (a totals row or blank rows at the ends): a slice shares the memory,
            # where a boolean filter would copy every string.
            block = slice(int(kept[0]), int(kept[-1]) + 1)
            frame = frame.iloc[block]
            native_numbers = {k: v[block] for k, v in native_numbers.items()}
        else:
            frame = frame[keep]
            native_numbers = {k: v[keep] for k, v in native_numbers.items()}
    if frame.empty:
        raise PipelineError(
            "header_only",
            f"{filename} has a header row (row {header_row}) but no data rows under it.",
            filename=filename,
            header_row=header_row,
            sheets=list(sheets),
            sheet=sheet,
        )
    return ReadResult(
        frame=frame,
        kind=kind,
        filename=filename,
        header_row=header_row,
        skipped=skipped,
        sheets=list(sheets),
        sheet=sheet,
        encoding=encoding,
        delimiter=delimiter,
        native_numbers=native_numbers,
        notices=notices,
        samples=samples,
    )
