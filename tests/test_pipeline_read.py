"""Reading uploads: encodings, delimiters, workbooks, row numbers, and every bad file refused with
a clear structured error (imports.pipeline.read)."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import random
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from imports.pipeline import PipelineError, read_upload

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"

GERMAN_CSV = (
    "Energieverbrauch Werk Nord 2024\n"
    "\n"
    "Datum;Bezeichnung;Menge;Einheit;Währung\n"
    "31.01.2024;Strom Netzbezug;1.234,5;kWh;€\n"
    "29.02.2024;Heizöl EL;12,5;l;EUR\n"
    "\n"
    "31.03.2024;Diesel;500;l;EUR\n"
    "Summe;;1.747,0;;\n"
)


def _refused(code: str, data: bytes | str | Path, filename: str, **kwargs: object) -> PipelineError:
    with pytest.raises(PipelineError) as info:
        read_upload(data, filename=filename, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert err.code == code, err.message
    assert err.message
    assert "Traceback" not in err.message
    assert err.to_dict()["code"] == code
    return err


# ---------------------------------------------------------------------------------- CSV text


def test_it_reads_a_german_csv_with_a_title_row_blank_rows_and_a_totals_row() -> None:
    r = read_upload(GERMAN_CSV.encode("utf-8"), filename="verbrauch.csv")
    assert r.kind == "csv"
    assert r.delimiter == ";"
    assert r.encoding == "utf-8"
    assert r.header_row == 3
    assert r.headers == ["Datum", "Bezeichnung", "Menge", "Einheit", "Währung"]
    # Row numbers are the ones a spreadsheet shows: the blank row 6 is skipped, not renumbered.
    assert list(r.frame.index) == [4, 5, 7]
    assert r.frame.loc[7, "Bezeichnung"] == "Diesel"
    assert r.frame.loc[4, "Menge"] == "1.234,5"  # raw text, nothing guessed
    assert [(s.row, s.reason) for s in r.skipped] == [(6, "blank"), (8, "total")]
    assert all(str(t) == "str" for t in r.frame.dtypes)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_it_sniffs_the_delimiter(delimiter: str) -> None:
    rows = [
        ["Date", "Activity", "Quantity", "Unit"],
        ["2024-01-31", "Diesel", "12.5", "L"],
        ["2024-02-29", "Electricity", "1000", "kWh"],
    ]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    r = read_upload(text.encode(), filename="a.csv")
    assert r.delimiter == delimiter
    assert r.headers == rows[0]
    assert r.frame.loc[3, "Activity"] == "Electricity"


def test_it_does_not_take_decimal_commas_for_the_delimiter() -> None:
    text = "Datum;Menge\n01.01.2024;12,5\n02.01.2024;3,25\n"
    r = read_upload(text.encode(), filename="a.csv")
    assert r.delimiter == ";"
    assert r.frame["Menge"].tolist() == ["12,5", "3,25"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("utf-16", "utf-16"),  # BOM, as Excel's "Unicode text" export writes it
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("cp1252", "cp1252"),
    ],
)
def test_it_detects_the_encoding(encoding: str, expected: str) -> None:
    text = "Datum\tBezeichnung\tBetrag\tWährung\n31.01.2024\tHeizöl für Büro\t1.000,00\t€\n"
    r = read_upload(text.encode(encoding), filename="export.txt")
    assert r.encoding == expected
    assert r.headers == ["Datum", "Bezeichnung", "Betrag", "Währung"]
    assert r.frame.loc[2, "Bezeichnung"] == "Heizöl für Büro"
    assert r.frame.loc[2, "Währung"] == "€"


def test_it_reads_iso_8859_1_bytes_that_windows_1252_does_not_define() -> None:
    # 0x81 is unassigned in Windows-1252; ISO-8859-1 maps every byte.
    data = b"Name;Wert\n" + b"Gr\xfc\x81e;1\n"
    r = read_upload(data, filename="a.csv")
    assert r.encoding == "latin-1"
    assert r.frame.loc[2, "Name"] == "Grü\x81e"


def test_it_falls_back_to_windows_1252_when_invalid_utf8_comes_late_in_the_file() -> None:
    head = "Datum;Bezeichnung;Menge\n" + "01.01.2024;Strom;1\n" * 20000
    data = head.encode("ascii") + "02.01.2024;Fernwärme München;2\n".encode("cp1252")
    r = read_upload(data, filename="late.csv")
    assert r.encoding == "cp1252"
    assert r.frame["Bezeichnung"].iloc[-1] == "Fernwärme München"
    assert r.frame.index[-1] == 20002


def test_it_keeps_one_row_per_record_when_a_quoted_cell_spans_lines() -> None:
    text = 'Date,Activity,Quantity\n2024-01-01,"Diesel\nfleet",1\n2024-01-02,Gas,2\n'
    r = read_upload(text.encode(), filename="a.csv")
    assert list(r.frame.index) == [2, 3]
    assert r.frame.loc[2, "Activity"] == "Diesel\nfleet"


def test_it_pads_short_rows_and_names_extra_cells_by_their_column_letter() -> None:
    text = "Date,Activity,Quantity\n2024-01-01,Diesel\n2024-01-02,Gas,2,surplus\n"
    r = read_upload(text.encode(), filename="a.csv")
    assert r.headers == ["Date", "Activity", "Quantity", "Column D"]
    assert pd.isna(r.frame.loc[2, "Quantity"])
    assert r.frame.loc[3, "Column D"] == "surplus"


def test_it_trims_cells_and_reads_empty_cells_as_missing() -> None:
    r = read_upload(b"A,B,C\n  x  ,,\t\n y,2,3\n", filename="a.csv")
    assert r.frame.loc[2, "A"] == "x"
    assert r.frame.loc[2, ["B", "C"]].isna().all()


def test_it_makes_duplicate_and_empty_headers_usable() -> None:
    r = read_upload(b"Menge,Menge,,Notiz\n1,2,3,\n", filename="a.csv")
    assert r.headers == ["Menge", "Menge (2)", "Column C", "Notiz"]


def test_it_uses_the_header_row_the_user_names() -> None:
    text = "Report\nA;B\n1;2\n"
    r = read_upload(text.encode(), filename="a.csv", header_row=1)
    assert r.header_row == 1
    assert r.headers[0] == "Report"
    _refused("no_header", text.encode(), "a.csv", header_row=50)


def test_it_keeps_formula_like_cells_as_plain_text() -> None:
    text = 'Date,Activity,Quantity\n2024-01-01,"=HYPERLINK(""http://evil"",""x"")",1\n2024-01-02,+cmd|/c calc,2\n'
    r = read_upload(text.encode(), filename="a.csv")
    assert r.frame.loc[2, "Activity"] == '=HYPERLINK("http://evil","x")'
    assert r.frame.loc[3, "Activity"] == "+cmd|/c calc"


def test_it_reports_metadata_and_a_content_hash() -> None:
    data = GERMAN_CSV.encode()
    a = read_upload(data, filename="a.csv")
    b = read_upload(io.BytesIO(data), filename="b.csv")
    assert a.sha256 == b.sha256
    assert len(a.sha256) == 64
    meta = a.metadata()
    assert meta["rows"] == 3
    assert meta["header_row"] == 3
    assert meta["delimiter"] == ";"
    assert meta["skipped"][1]["reason"] == "total"


# ---------------------------------------------------------------------------------- bad files


def test_it_refuses_an_oversized_file_and_states_the_limit(tmp_path: Path) -> None:
    data = b"a,b\n" + b"1,2\n" * 400_000  # 1.5 MB
    err = _refused("too_large", data, "big.csv", max_bytes=1024 * 1024)
    assert "1 MB" in err.message
    assert "1.5 MB" in err.message
    assert err.details["limit_bytes"] == 1024 * 1024
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    _refused("too_large", path, "big.csv", max_bytes=1024 * 1024)


def test_it_stops_reading_a_stream_as_soon_as_it_passes_the_limit() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.served = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = 65536 if size is None or size < 0 else size
            self.served += size
            return b"x" * size

    stream = Endless()
    err = _refused("too_large", stream, "upload.csv", max_bytes=1024 * 1024)  # type: ignore[arg-type]
    assert "1 MB" in err.message
    assert stream.served <= 1024 * 1024 + 1


@pytest.mark.parametrize("data", [b"", b"   \r\n\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n"])
def test_it_refuses_an_empty_file(data: bytes) -> None:
    err = _refused("empty", data, "empty.csv")
    assert "empty" in err.message


def test_it_refuses_a_file_of_empty_cells() -> None:
    _refused("empty", b";;;\n;;;\n", "blank.csv")


@pytest.mark.parametrize(
    "text",
    ["Datum;Menge;Einheit\n", "Datum;Menge;Einheit", "Title\nDatum;Menge;Einheit\n\n;;\n"],
)
def test_it_refuses_a_header_without_rows(text: str) -> None:
    err = _refused("header_only", text.encode(), "header.csv")
    assert "no data rows" in err.message


def test_it_refuses_binary_garbage_named_csv() -> None:
    garbage = random.Random(5).randbytes(20_000)
    err = _refused("not_text", garbage, "data.csv")
    assert "binary" in err.message


def test_it_refuses_a_png_named_csv() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    _refused("not_text", png, "chart.csv")


def test_it_refuses_unsupported_file_types_before_reading_them() -> None:
    err = _refused("unsupported_format", b"%PDF-1.7", "report.pdf")
    assert "CSV, XLSX, XLS or ODS" in err.message


def test_it_refuses_a_text_file_named_xlsx() -> None:
    _refused("damaged", b"Date,Quantity\n2024-01-01,1\n", "export.xlsx")


# ---------------------------------------------------------------------------------- workbooks


def _openpyxl_bytes(build: object) -> bytes:
    wb = Workbook()
    build(wb)  # type: ignore[operator]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _supplier_workbook(wb: Workbook) -> None:
    # Spreadsheets hold naive local date-times; that is what a supplier's file contains.
    ws = wb.active
    ws.title = "Verbrauch"
    ws["A1"] = "Energieverbrauch 2024"
    ws.append([])
    ws.append(["Datum", "Bezeichnung", "Menge", "Einheit"])
    ws.append([dt.datetime(2024, 1, 31), "Strom", 1234.5, "kWh"])  # noqa: DTZ001
    ws.append([dt.datetime(2024, 2, 29, 14, 30), "Heizöl", 1.234, "l"])  # noqa: DTZ001
    ws.append([45382, "Diesel", 500, "l"])
    ws.append(["Summe", None, "=SUM(C4:C6)", None])
    other = wb.create_sheet("Fuhrpark")
    other.append(["Date", "Vehicle", "km"])
    other.append(["2024-01-05", "Van 1", 120])
    hidden = wb.create_sheet("Hilfswerte")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "internal"


def test_it_reads_an_xlsx_with_a_title_row_typed_cells_and_a_totals_row() -> None:
    r = read_upload(_openpyxl_bytes(_supplier_workbook), filename="verbrauch.xlsx")
    assert r.kind == "xlsx"
    assert r.sheets == ["Verbrauch", "Fuhrpark"]  # the hidden sheet is not offered
    assert r.sheet == "Verbrauch"
    assert r.header_row == 3
    assert list(r.frame.index) == [4, 5, 6]
    assert r.frame["Datum"].tolist() == ["2024-01-31", "2024-02-29 14:30:00", "45382"]
    assert r.frame["Menge"].tolist() == ["1234.5", "1.234", "500"]
    # Cells stored as numbers are marked, so 1.234 is never read as one thousand two hundred...
    assert r.native_numbers["Menge"].tolist() == [True, True, True]
    assert r.native_numbers["Datum"].tolist() == [False, False, True]
    assert [(s.row, s.reason) for s in r.skipped] == [(7, "total")]


def test_it_reads_the_sheet_the_user_picks_and_lists_the_others() -> None:
    data = _openpyxl_bytes(_supplier_workbook)
    r = read_upload(data, filename="verbrauch.xlsx", sheet="Fuhrpark")
    assert r.sheet == "Fuhrpark"
    assert r.headers == ["Date", "Vehicle", "km"]
    assert r.frame.loc[2, "km"] == "120"
    err = _refused("sheet_not_found", data, "verbrauch.xlsx", sheet="Tabelle9")
    assert "Verbrauch, Fuhrpark" in err.message
    assert err.details["sheets"] == ["Verbrauch", "Fuhrpark"]


def test_it_skips_an_empty_first_sheet() -> None:
    def build(wb: Workbook) -> None:
        wb.active.title = "Leer"
        ws = wb.create_sheet("Daten")
        ws.append(["Datum", "Menge"])
        ws.append(["2024-01-01", 3])

    r = read_upload(_openpyxl_bytes(build), filename="a.xlsx")
    assert r.sheet == "Daten"


def _xlsx_from_parts(sheet_xml: str, *, strings_xml: str | None = None, prolog: str = "") -> bytes:
    """A minimal XLSX written part by part, to control exactly what the XML holds."""
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    parts = {
        "[Content_Types].xml": head
        + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            + (
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                if strings_xml
                else ""
            )
            + "</Types>"
        ),
        "_rels/.rels": head
        + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": head
        + (
            f"<workbook {ns} {rel_ns}><sheets>"
            '<sheet name="Daten" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": head
        + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            + (
                '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                if strings_xml
                else ""
            )
            + "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": head
        + prolog
        + f"<worksheet {ns}><sheetData>{sheet_xml}</sheetData></worksheet>",
    }
    if strings_xml:
        parts["xl/sharedStrings.xml"] = head + prolog + f"<sst {ns}>{strings_xml}</sst>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return out.getvalue()


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def test_it_reads_formula_cells_as_their_stored_values() -> None:
    sheet = (
        f'<row r="1">{_inline("A1", "Activity")}{_inline("B1", "Quantity")}{_inline("C1", "Double")}</row>'
        f'<row r="2">{_inline("A2", "Diesel")}<c r="B2"><v>5</v></c><c r="C2"><f>B2*2</f><v>10</v></c></row>'
    )
    r = read_upload(_xlsx_from_parts(sheet), filename="formulas.xlsx")
    assert r.frame.loc[2, "Double"] == "10"


def test_it_refuses_an_xlsx_declaring_xml_entities() -> None:
    laughs = '<!DOCTYPE sst [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    sheet = (
        f'<row r="1">{_inline("A1", "Activity")}</row><row r="2"><c r="A2" t="s"><v>0</v></c></row>'
    )
    data = _xlsx_from_parts(sheet, strings_xml="<si><t>&b;</t></si>", prolog=laughs)
    err = _refused("xml_entities", data, "laughs.xlsx")
    assert "entities" in err.message


def test_it_refuses_an_xlsx_with_an_external_entity() -> None:
    xxe = '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    sheet = f'<row r="1">{_inline("A1", "&x;")}</row>'
    _refused("xml_entities", _xlsx_from_parts(sheet, prolog=xxe), "xxe.xlsx")


def test_it_refuses_a_truncated_xlsx() -> None:
    data = _openpyxl_bytes(_supplier_workbook)
    err = _refused("damaged", data[: len(data) // 2], "cut.xlsx")
    assert "damaged or truncated" in err.message


def test_it_refuses_a_zip_bomb_by_its_compression_ratio() -> None:
    sheet = f'<row r="1">{_inline("A1", "Activity")}</row>' + " " * (8 * 1024 * 1024)
    err = _refused("zip_bomb", _xlsx_from_parts(sheet), "bomb.xlsx")
    assert "compressed" in err.message


def test_it_refuses_a_workbook_that_expands_beyond_the_limit() -> None:
    rnd = random.Random(1)
    filler = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(600_000))
    sheet = f'<row r="1">{_inline("A1", filler)}</row>'
    err = _refused(
        "zip_bomb", _xlsx_from_parts(sheet), "big.xlsx", max_uncompressed_bytes=256 * 1024
    )
    assert "256 KB" in err.message


def test_it_refuses_a_zip_whose_declared_sizes_lie() -> None:
    sheet = f'<row r="1">{_inline("A1", "Activity")}</row>' + "<!-- padding -->" * 50_000
    data = bytearray(_xlsx_from_parts(sheet))
    # Shrink the sheet's uncompressed size in the central directory so its ratio looks harmless.
    name = b"xl/worksheets/sheet1.xml"
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into("<I", data, pos + 24, 1000)
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    with pytest.raises(PipelineError) as info:
        read_upload(bytes(data), filename="liar.xlsx")
    assert info.value.code in ("damaged", "zip_bomb")


def test_it_refuses_a_zip_that_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("word/document.xml", "<document/>")
    _refused("unsupported_format", out.getvalue(), "letter.xlsx")


def test_it_reads_an_ods_workbook(tmp_path: Path) -> None:
    path = tmp_path / "daten.ods"
    frame = pd.DataFrame(
        {
            "Date": ["2024-01-31", "2024-02-29"],
            "Activity": ["Diesel", "Gas"],
            "Quantity": [12.5, 3.0],
        }
    )
    frame.to_excel(path, engine="odf", index=False, sheet_name="Daten")
    r = read_upload(path, filename="daten.ods")
    assert r.kind == "ods"
    assert r.sheets == ["Daten"]
    assert r.frame["Activity"].tolist() == ["Diesel", "Gas"]
    assert r.frame["Quantity"].tolist() == ["12.5", "3"]


def test_it_refuses_an_ods_with_a_doctype() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr(
            "content.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'
        )
    _refused("xml_entities", out.getvalue(), "evil.ods")


def test_it_reads_a_legacy_xls_workbook() -> None:
    # Written with xlwt 1.3.0: a title row, header on row 3, typed dates and numbers, "Summe".
    r = read_upload(FIXTURES / "verbrauch_2024.xls", filename="verbrauch_2024.xls")
    assert r.kind == "xls"
    assert r.sheets == ["Verbrauch", "Notizen"]
    assert r.header_row == 3
    assert r.frame["Datum"].tolist() == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert r.frame["Menge"].tolist() == ["1234.5", "1.234", "500"]
    assert r.frame.loc[5, "Bezeichnung"] == "Heizöl EL"
    assert [s.reason for s in r.skipped] == ["total"]


def test_it_refuses_a_damaged_xls() -> None:
    data = (FIXTURES / "verbrauch_2024.xls").read_bytes()
    _refused("damaged", data[:1500], "cut.xls")
