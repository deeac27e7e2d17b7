"""Download of the invalid rows (CSV or XLSX) with an error column, safe to open in a spreadsheet.

Every text cell that a spreadsheet program could take for a formula (one starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return; OWASP "CSV injection") is prefixed with a single
quote, in both formats, headers included. Cells are written as text, exactly as uploaded.
"""

from __future__ import annotations

import io
from typing import Literal

import pandas as pd

from .errors import PipelineError
from .validate import ValidationResult

FORMULA_START_RE = r"^[=+\-@\t\r]"
ROW_HEADER = "Row"
ERRORS_HEADER = "Errors"


def escape_formula(values: pd.Series) -> pd.Series:
    """Prefix ``'`` to every text that starts with = + - @ tab or CR (missing cells stay
    missing); one column operation."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")
    risky = text.str.contains(FORMULA_START_RE, regex=True).fillna(False).to_numpy(dtype=bool)
    if not risky.any():
        return text
    return text.mask(risky, "'" + text)


def _escape_text(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def invalid_rows_table(frame: pd.DataFrame, result: ValidationResult) -> pd.DataFrame:
    """The invalid rows as uploaded (escaped), with their spreadsheet row number first and all
    their errors in a last column ("Column: message (suggestion); ...")."""
    bad = frame[~result.valid.reindex(frame.index, fill_value=True).to_numpy()]
    errs = result.errors
    described = (
        errs["column"]
        + ": "
        + errs["message"]
        + errs["suggestion"]
        .where(errs["suggestion"].fillna("") == "", " (" + errs["suggestion"] + ")")
        .fillna("")
    )
    by_row = (
        described.groupby(errs["row"].to_numpy()).agg("; ".join)
        if len(errs)
        else pd.Series(dtype="str")
    )
    table = pd.DataFrame(index=bad.index)
    table[ROW_HEADER] = bad.index.to_numpy()
    for col in bad.columns:
        table[_escape_text(str(col))] = escape_formula(bad[col])
    table[ERRORS_HEADER] = escape_formula(by_row.reindex(bad.index).astype("str"))
    return table.reset_index(drop=True)


def export_invalid_rows(
    frame: pd.DataFrame,
    result: ValidationResult,
    *,
    fmt: Literal["csv", "xlsx"] = "csv",
    delimiter: str = ",",
) -> bytes:
    """The invalid rows of ``frame`` as a CSV (UTF-8 with BOM, so Excel reads the accents) or
    XLSX file, with an ``Errors`` column; see :func:`invalid_rows_table`."""
    table = invalid_rows_table(frame, result)
    if fmt == "csv":
        return table.to_csv(index=False, sep=delimiter, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        return _xlsx(table)
    raise PipelineError("unsupported_format", f"Cannot export as {fmt!r}; use csv or xlsx.")


def _xlsx(table: pd.DataFrame) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Invalid rows")
    ws.append([str(c) for c in table.columns])
    columns = [table[c].to_numpy(dtype=object) for c in table.columns]
    for i in range(len(table)):
        row: list[object] = []
        for j, col in enumerate(columns):
            v = col[i]
            if j == 0:
                row.append(int(v))
            elif v is None or v is pd.NA or (isinstance(v, float) and v != v):
                row.append(None)
            else:
                # Removing characters XML cannot hold may uncover a leading "=": escape again.
                row.append(_escape_text(ILLEGAL_CHARACTERS_RE.sub("", str(v))))
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
