"""Invalid rows as CSV or XLSX with an error column, escaped against formula injection
(imports.pipeline.export)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from imports.pipeline import (
    Mapping,
    PipelineError,
    escape_formula,
    export_invalid_rows,
    read_upload,
    validate,
)

DANGEROUS = (
    "Date,Activity,Quantity,Unit,=Header\n"
    '2024-01-01,"=HYPERLINK(""http://evil.example"",""click"")",abc,kg,x\n'  # row 2
    "2024-01-02,+cmd|' /C calc'!A0,5,Fass,@SUM(A1)\n"  # row 3
    "2024-01-03,Diesel,5,L,ok\n"  # row 4: valid, not exported
    '2024-01-04,"\tTabbed",-3,L,"\rCR"\n'  # row 5
)


@pytest.fixture
def invalid() -> tuple[pd.DataFrame, object]:
    read = read_upload(DANGEROUS.encode(), filename="evil.csv")
    frame = read.frame.copy()
    # Reading trims cells; a fixed cell or another source can still start with a tab or CR.
    frame.loc[5, "Activity"] = "\tTabbed"
    frame.loc[5, "=Header"] = "\rCR"
    mapping = Mapping(
        columns={"date": "Date", "activity": "Activity", "quantity": "Quantity", "unit": "Unit"}
    )
    return frame, validate(frame, mapping)


def test_it_escapes_every_formula_start() -> None:
    s = pd.Series(["=1+1", "+cmd", "-2", "@x", "\tt", "\rr", "plain", None, "a=b"], dtype="str")
    out = escape_formula(s).tolist()
    assert out[:6] == ["'=1+1", "'+cmd", "'-2", "'@x", "'\tt", "'\rr"]
    assert out[6] == "plain"
    assert pd.isna(out[7])
    assert out[8] == "a=b"


def test_it_exports_invalid_rows_as_escaped_csv(invalid: tuple[pd.DataFrame, object]) -> None:
    frame, result = invalid
    data = export_invalid_rows(frame, result, fmt="csv")  # type: ignore[arg-type]
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["Row", "Date", "Activity", "Quantity", "Unit", "'=Header", "Errors"]
    assert [r[0] for r in body] == ["2", "3", "5"]
    assert body[0][2] == '\'=HYPERLINK("http://evil.example","click")'
    assert body[1][2] == "'+cmd|' /C calc'!A0"
    assert body[1][5] == "'@SUM(A1)"
    assert body[2][2] == "'\tTabbed"
    assert body[2][3] == "'-3"
    assert body[2][5] == "'\rCR"
    assert "Quantity: 'abc' is not a number" in body[0][6]
    assert "Unit: Unknown unit 'Fass'" in body[1][6]
    assert "negative" in body[2][6]
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_it_exports_invalid_rows_as_xlsx_without_any_formula(
    invalid: tuple[pd.DataFrame, object],
) -> None:
    frame, result = invalid
    data = export_invalid_rows(frame, result, fmt="xlsx")  # type: ignore[arg-type]
    ws = load_workbook(io.BytesIO(data)).active
    rows = [list(r) for r in ws.iter_rows()]
    assert [c.value for c in rows[0]] == [
        "Row",
        "Date",
        "Activity",
        "Quantity",
        "Unit",
        "'=Header",
        "Errors",
    ]
    assert [r[0].value for r in rows[1:]] == [2, 3, 5]
    assert rows[1][2].value == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[2][2].value == "'+cmd|' /C calc'!A0"
    for row in rows:
        for cell in row:
            assert cell.data_type != "f"
            if isinstance(cell.value, str):
                assert cell.value[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_it_refuses_an_unknown_export_format(invalid: tuple[pd.DataFrame, object]) -> None:
    frame, result = invalid
    with pytest.raises(PipelineError):
        export_invalid_rows(frame, result, fmt="pdf")  # type: ignore[arg-type]
