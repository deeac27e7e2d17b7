"""No file can take the site down: bounded parsing, the reader's child process, honest encodings.

The hostile files are written by hand (a worksheet's XML is a few lines), so each costs kilobytes;
what they would cost an unbounded reader is in the issue (10): a cell at XFD1048576 kills the
process, one at AZ1000000 costs 2.9 GB.
"""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context

from imports.errors import ImportInputError
from imports.models import ImportRun, ImportStatus
from imports.pipeline import PipelineError, read_upload
from imports.pipeline.isolate import ChildLimits, read_upload_isolated
from imports.pipeline.read import ReadLimits
from imports.services import import_run_create, import_run_set_encoding
from tests.import_helpers import post_upload, upload

_CELL = '<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'
_TABLE = (
    '<row r="1">'
    + _CELL.format(ref="A1", text="Datum")
    + _CELL.format(ref="B1", text="Menge")
    + "</row>"
    + '<row r="2">'
    + _CELL.format(ref="A2", text="2024-01-31")
    + '<c r="B2"><v>5</v></c></row>'
)


def _xlsx(cells: str = _TABLE, *, sheet_name: str = "Data", dimension: str = "") -> bytes:
    """A minimal XLSX written part by part (openpyxl would refuse most of these files)."""
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}"><Relationship '
            f'Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}"><Relationship '
            f'Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}">{dim}'
            f"<sheetData>{cells}</sheetData></worksheet>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _one_cell_at(ref: str) -> bytes:
    row = "".join(ch for ch in ref if ch.isdigit())
    return _xlsx(_TABLE + f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>')


def _error(data: bytes, filename: str, **kwargs: Any) -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        read_upload(data, filename=filename, **kwargs)
    return caught.value


# --------------------------------------------------------------------------------------------
# bounded parsing


def test_it_refuses_a_dimension_bomb_from_its_cell_references_before_allocating() -> None:
    data = _one_cell_at("XFD1048576")
    assert len(data) < 2000
    started = time.perf_counter()
    error = _error(data, "bomb.xlsx")
    assert error.code == "too_many_columns"
    assert "16,384 columns; the limit is 1,000" in error.message
    assert time.perf_counter() - started < 2


def test_it_refuses_a_sparse_sheet_by_its_cell_count() -> None:
    error = _error(_one_cell_at("AZ1000000"), "sparse.xlsx")
    assert error.code == "too_many_cells"
    assert "1,000,000 rows x 52 columns" in error.message
    assert "12,000,000" in error.message


def test_it_ignores_a_declared_dimension_that_the_cells_do_not_use() -> None:
    read = read_upload(_xlsx(dimension="A1:XFD1048576"), filename="declared.xlsx")
    assert read.headers == ["Datum", "Menge"]
    assert len(read.frame) == 1


def test_it_reads_a_csv_padded_with_millions_of_blank_lines_at_once() -> None:
    data = b"Datum;Menge\n2024-01-31;5\n" + b"\n" * 5_000_000 + b";\n" * 100_000
    started = time.perf_counter()
    read = read_upload(data, filename="padded.csv")
    assert time.perf_counter() - started < 3
    assert len(read.frame) == 1
    assert read.skipped[-1].reason == "blank"
    assert read.skipped[-1].last_row - read.skipped[-1].row + 1 == 5_100_000


def test_it_refuses_a_long_blank_gap_with_values_below_and_states_the_limit() -> None:
    data = b"Datum;Menge\n2024-01-31;5\n" + b"\n" * 20_000 + b"2024-02-29;6\n"
    error = _error(data, "gap.csv")
    assert error.code == "blank_run"
    assert "Rows 3 to 20,002" in error.message
    assert "the limit is 10,000" in error.message


def test_it_refuses_more_rows_than_the_limit_from_the_line_count() -> None:
    data = b"Datum;Menge\n" + b"2024-01-31;5\n" * 101
    error = _error(data, "long.csv", limits=ReadLimits(max_rows=100))
    assert error.code == "too_many_rows"
    assert "the limit is 100 rows" in error.message


def _wide_csv(columns: int) -> bytes:
    header = ";".join(f"Spalte {i}" for i in range(columns))
    rows = "\n".join(";".join(str(r * i) for i in range(columns)) for r in range(1, 4))
    return f"{header}\n{rows}\n".encode()


def test_it_refuses_4000_columns_with_a_message_that_states_the_limit() -> None:
    error = _error(_wide_csv(4000), "wide.csv")
    assert error.code == "too_many_columns"
    assert "4,000 columns; the limit is 1,000" in error.message


# --------------------------------------------------------------------------------------------
# encodings, names


def _mixed_utf8_file() -> bytes:
    good = "2024-01-31;Stromzähler Halle 2;120;kWh\n".encode()
    lines = [b"Datum;Zaehler;Menge;Einheit\n", good * 8000]  # about 330 KB of UTF-8
    lines.append("2024-02-29;Stromzähler Lager;80;kWh\n".encode("cp1252"))
    lines.append(good)
    return b"".join(lines)


def test_it_reports_the_lines_of_a_utf8_file_that_are_not_utf8_and_keeps_the_rest() -> None:
    read = read_upload(_mixed_utf8_file(), filename="zaehler.csv")
    assert read.encoding == "utf-8"
    assert read.frame["Zaehler"].iloc[0] == "Stromzähler Halle 2"
    assert read.frame["Zaehler"].iloc[8000] == "Stromz\ufffdhler Lager"
    notice = read.notices[0]
    assert notice["code"] == "mixed_encoding"
    assert notice["lines"] == [8002]
    assert "Line 8,002 of zaehler.csv is not valid UTF-8" in notice["message"]
    assert notice["choices"] == ["utf-8-replace", "cp1252"]


def test_it_reads_the_same_file_as_windows_1252_when_the_user_chooses_it() -> None:
    read = read_upload(_mixed_utf8_file(), filename="zaehler.csv", encoding="cp1252")
    assert read.encoding == "cp1252"
    assert read.frame["Zaehler"].iloc[8000] == "Stromzähler Lager"
    assert read.notices[0]["code"] == "encoding_chosen"


def test_it_still_reads_a_plain_windows_1252_file_without_a_question() -> None:
    data = "Datum;Zähler;Menge\n2024-01-31;Stromzähler;5\n".encode("cp1252")
    read = read_upload(data, filename="ansi.csv")
    assert read.encoding == "cp1252"
    assert read.frame["Zähler"].iloc[0] == "Stromzähler"
    assert read.notices == []


def test_it_refuses_a_sheet_name_too_long_to_store() -> None:
    error = _error(_xlsx(sheet_name="Verbrauch " * 30), "long-name.xlsx")
    assert error.code == "sheet_name_too_long"
    assert "300 characters; the limit is 200" in error.message


def test_it_cuts_a_header_too_long_to_store_and_says_so() -> None:
    header = "Menge " * 60
    read = read_upload(f"Datum;{header}\n2024-01-31;5\n".encode(), filename="a.csv")
    assert len(read.headers[1]) == 150
    assert read.headers[1].endswith("…")
    assert read.notices[0]["code"] == "long_headers"
    assert read.notices[0]["columns"] == ["B"]


# --------------------------------------------------------------------------------------------
# the child process


def _sparse_file() -> bytes:
    """A cell at Z200000: 5.2 million cells that the reader allocates (and later drops as blank),
    several hundred MB; within every table limit once those are relaxed."""
    return _one_cell_at("Z200000")


RELAXED = ReadLimits(max_blank_run=10**7)


def test_it_ends_a_read_that_needs_more_memory_than_its_limit_and_survives(tmp_path: Any) -> None:
    path = tmp_path / "sparse.xlsx"
    path.write_bytes(_sparse_file())
    with pytest.raises(PipelineError) as caught:
        read_upload_isolated(
            path,
            filename="sparse.xlsx",
            limits=ChildLimits(memory_bytes=128 * 1024**2),
            read_limits=RELAXED,
        )
    assert caught.value.code == "read_limit"
    assert "needs more than 128 MB of memory" in caught.value.message
    # This process is untouched, and the next file is read as usual.
    good = tmp_path / "good.xlsx"
    good.write_bytes(_xlsx())
    assert read_upload_isolated(good, filename="good.xlsx").headers == ["Datum", "Menge"]


def test_it_kills_a_read_that_takes_longer_than_its_wall_clock_limit(tmp_path: Any) -> None:
    path = tmp_path / "sparse.xlsx"
    path.write_bytes(_sparse_file())
    started = time.perf_counter()
    with pytest.raises(PipelineError) as caught:
        read_upload_isolated(
            path,
            filename="sparse.xlsx",
            limits=ChildLimits(wall_seconds=0.05),
            read_limits=RELAXED,
        )
    assert caught.value.code == "read_limit"
    assert "took longer than 0.05 s" in caught.value.message
    assert time.perf_counter() - started < 5


def test_it_starts_a_new_reader_server_when_the_old_one_died(tmp_path: Any) -> None:
    from imports.pipeline import isolate

    good = tmp_path / "good.xlsx"
    good.write_bytes(_xlsx())
    assert read_upload_isolated(good, filename="good.xlsx").headers == ["Datum", "Menge"]
    server = isolate._SERVER
    assert server is not None
    server.kill()
    server.wait()
    assert read_upload_isolated(good, filename="good.xlsx").headers == ["Datum", "Menge"]
    assert isolate._SERVER is not server


def test_it_returns_the_pipeline_error_of_the_child() -> None:
    with pytest.raises(ImportInputError) as caught, schema_context("acme"):
        import_run_create(upload=upload(_one_cell_at("XFD1048576"), "bomb.xlsx"), user=None)
    assert caught.value.code == "too_many_columns"


# --------------------------------------------------------------------------------------------
# through the wizard


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = settings.MULTITENANT_RELATIVE_MEDIA_ROOT


def _upload_view(client: Client, content: bytes, name: str) -> Any:
    return post_upload(client, content, name)


def _reading_page(client: Client) -> tuple[Any, str]:
    with schema_context("acme"):
        run = ImportRun.objects.get()
    page = client.get(reverse("import_reading", kwargs={"run_id": run.id}), follow=True)
    return run, page.content.decode()


def test_it_answers_a_long_sheet_name_with_a_message_not_a_500(alice: Client) -> None:
    response = _upload_view(alice, _xlsx(sheet_name="Verbrauch " * 30), "long-name.xlsx")
    assert response.status_code == 302
    run, page = _reading_page(alice)
    assert run.status == ImportStatus.UNREADABLE
    assert "the limit is 200" in page
    assert run.mapping == {}
    assert not run.file


def test_it_answers_a_dimension_bomb_with_a_message(alice: Client) -> None:
    response = _upload_view(alice, _one_cell_at("XFD1048576"), "bomb.xlsx")
    assert response.status_code == 302
    run, page = _reading_page(alice)
    assert run.status == ImportStatus.UNREADABLE
    assert "16,384 columns; the limit is 1,000" in page


def _mapping_page_cpu_seconds(client: Client, columns: int) -> float:
    """CPU seconds of this process to render the mapping page of a file with `columns` columns (best of two)."""
    with schema_context("acme"):
        ImportRun.objects.all().delete()
    response = _upload_view(client, _wide_csv(columns), "wide.csv")
    assert response.status_code == 302
    with schema_context("acme"):
        run = ImportRun.objects.get()
    url = reverse("import_mapping", kwargs={"run_id": run.id})
    client.get(url)  # the first view compiles the templates; the page itself is timed below
    timings = []
    for _ in range(2):
        started = time.process_time()
        response = client.get(url)
        timings.append(time.process_time() - started)
        assert response.status_code == 200
        assert f"Spalte {columns - 1}" in response.content.decode()
    return min(timings)


def test_it_renders_the_mapping_page_in_time_linear_in_its_columns(
    alice: Client, settings: Any
) -> None:
    # CPU time, and a ratio of two sizes: the figure does not depend on what else the machine runs.
    # Four times the columns may cost at most about four times the time (a columns x samples loop costs 16x).
    settings.IMPORT_MAX_COLUMNS = 5000
    small = _mapping_page_cpu_seconds(alice, 1000)
    large = _mapping_page_cpu_seconds(alice, 4000)
    assert large < 3.0, large
    assert large < 6 * max(small, 0.02), (small, large)


def test_it_lets_the_user_read_a_mixed_file_as_windows_1252(alice: Client) -> None:
    response = _upload_view(alice, _mixed_utf8_file(), "zaehler.csv")
    assert response.status_code == 302
    with schema_context("acme"):
        run = ImportRun.objects.get()
    url = reverse("import_mapping", kwargs={"run_id": run.id})
    page = alice.get(url).content.decode()
    assert "Line 8,002 of zaehler.csv" in page
    assert 'value="cp1252"' in page
    response = alice.post(url, {"encoding": "cp1252"})
    assert response.status_code == 302
    with schema_context("acme"):
        run.refresh_from_db()
        assert run.detected["encoding"] == "cp1252"
        assert run.detected["encoding_choice"] == "cp1252"
        with pytest.raises(ImportInputError):
            import_run_set_encoding(run=run, encoding="latin-9")


def test_it_keeps_the_second_line_the_reader_server_sent_in_the_same_write() -> None:
    # A quick child: the server's process-id line and exit-code line arrive in one read.
    import os

    from imports.pipeline.isolate import _read_line

    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"12850\n0 0.01 2048\n")
        pending = bytearray()
        assert _read_line(read_end, 1, pending) == "12850"
        assert _read_line(read_end, 1, pending) == "0 0.01 2048"
        assert _read_line(read_end, 0.05, pending) is None
    finally:
        os.close(read_end)
        os.close(write_end)
