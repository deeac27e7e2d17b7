"""Workbook layouts beyond one header row: sheet lists, headers found by their first cell, column
groups and label cells that carry down over blank or merged cells.

The DESNZ/DEFRA "full set" workbook is the model: one sheet per category, several tables per sheet
each with its own header row ("Activity", "Fuel", "Unit", "kg CO2e", ...), group labels above the
value columns ("Diesel", "Petrol", ...), and the label of a block written once (merged or blank
cells below it). `read_layout` turns such a workbook into the same string frame the one-header
reader gives (one row per data row and group, `__row` = the row number in its sheet), so the
usual field specs apply. Pure pandas, no database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from factors.ingest.errors import IngestError
from factors.ingest.mapping import TableSpec, cell_ref

ROW = "__row"
SHEET = "__sheet"


def _cell(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def choose_sheets(table: TableSpec, names: list[str], label: str) -> list[str]:
    """The sheets a table reads, in workbook order; an unknown name fails naming the mapping key."""
    if table.sheets:
        chosen = list(table.sheets)
        listed, key = chosen, f"{table.key}.sheets"
    elif table.sheets_except is not None:
        listed, key = list(table.sheets_except), f"{table.key}.sheets.all_except"
        chosen = [n for n in names if n not in set(listed)]
    else:
        chosen = [table.sheet] if table.sheet is not None else names[:1]
        listed, key = chosen, f"{table.key}.sheet"
    unknown = [n for n in listed if n not in names]
    if unknown:
        raise IngestError(
            f"{key}: sheet {unknown[0]!r} is not in the workbook (sheets: {', '.join(names)})",
            file=label,
            sheet=unknown[0],
            extra={"mapping_key": key, "unknown_sheets": unknown},
        )
    if not chosen:
        raise IngestError(f"{key}: no sheet left to read", file=label, extra={"mapping_key": key})
    return chosen


def read_layout(path: Path, table: TableSpec, label: str) -> pd.DataFrame:
    """Every table of the chosen sheets as one frame of strings (blank = '')."""
    try:
        from python_calamine import CalamineWorkbook

        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
    except Exception as exc:  # calamine raises its own types for corrupt zips/XML
        raise IngestError(f"cannot read workbook (corrupt or not XLSX): {exc}", file=label) from exc
    frames: list[pd.DataFrame] = []
    for sheet in choose_sheets(table, names, label):
        try:
            rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except Exception as exc:
            raise IngestError(f"cannot read sheet: {exc}", file=label, sheet=sheet) from exc
        width = max((len(r) for r in rows), default=0)
        cells = [[_cell(v).strip() for v in r] + [""] * (width - len(r)) for r in rows]
        frames.extend(_sheet_tables(cells, table, sheet, label))
    if not frames:
        raise IngestError(f"{table.key}: no table found in the sheets read", file=label)
    raw = pd.concat(frames, ignore_index=True, sort=False).fillna("")
    check_fill_down(raw, table, label)
    return raw


def _header_rows(cells: list[list[str]], table: TableSpec, sheet: str, label: str) -> list[int]:
    if table.header_starts_with is None:
        if len(cells) < table.header_row:
            raise IngestError(
                f"sheet has {len(cells)} rows, the header is expected on row {table.header_row}",
                file=label,
                sheet=sheet,
                row=table.header_row,
            )
        return [table.header_row - 1]
    found = [i for i, row in enumerate(cells) if row and row[0] == table.header_starts_with]
    if not found:
        key = f"{table.key}.header_starts_with"
        raise IngestError(
            f"{key}: no row starts with {table.header_starts_with!r} "
            "(list the sheet under sheets.all_except if it holds no factors)",
            file=label,
            sheet=sheet,
            extra={"mapping_key": key},
        )
    return found


def _sheet_tables(
    cells: list[list[str]], table: TableSpec, sheet: str, label: str
) -> list[pd.DataFrame]:
    constants: dict[str, str] = {}
    if table.sheet_column:
        constants[table.sheet_column] = sheet
    for column, ref in table.sheet_cells.items():
        at = cell_ref(ref)
        assert at is not None  # validated by load_mapping
        row, col = at
        constants[column] = cells[row][col] if row < len(cells) and col < len(cells[row]) else ""
    starts = _header_rows(cells, table, sheet, label)
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(cells)
        block = _block(cells, start, end, table, sheet, label)
        for column, value in constants.items():
            block[column] = value
        block[SHEET] = sheet
        out.append(block)
    return out


def _block(
    cells: list[list[str]], start: int, end: int, table: TableSpec, sheet: str, label: str
) -> pd.DataFrame:
    """One table of a sheet: header row `start`, data rows up to `end` or the first blank row."""
    header = [table.rename.get(c, c) for c in cells[start]]
    body = cells[start + 1 : end]
    numbers = list(range(start + 2, start + 2 + len(body)))  # 1-based sheet rows
    stop = table.stop_at_blank
    if stop is not None and table.header_starts_with and stop not in header:
        # Without it the notes and FAQs under the table would be read as factor rows.
        key = f"{table.key}.stop_at_blank"
        raise IngestError(
            f"{key}: column {stop!r} is not in this table's header (found: {[c for c in header if c]})",
            file=label,
            sheet=sheet,
            row=start + 1,
            column=stop,
            extra={"mapping_key": key},
        )
    if stop is not None and stop in header:
        col = header.index(stop)
        for i, row in enumerate(body):
            if row[col] == "":
                body, numbers = body[:i], numbers[:i]
                break
    groups = table.column_groups
    value_cols = [i for i, c in enumerate(header) if groups and c in groups.columns]
    label_cols = [i for i, c in enumerate(header) if c and i not in value_cols]
    names = [header[i] for i in label_cols]
    if groups is not None and not value_cols:
        key = f"{table.key}.column_groups.columns"
        raise IngestError(
            f"{key}: none of {list(groups.columns)} is in the header (found: {names})",
            file=label,
            sheet=sheet,
            row=start + 1,
            extra={"mapping_key": key},
        )
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise IngestError(
            f"{table.key}: header names {duplicated} appear twice (rename or group them)",
            file=label,
            sheet=sheet,
            row=start + 1,
            column=duplicated[0],
        )
    labels = pd.DataFrame([[r[i] for i in label_cols] for r in body], columns=names, dtype=object)
    labels = fill_down(labels, table.fill_down)
    labels[ROW] = numbers
    if groups is None:
        return labels
    above = cells[start - 1] if start > 0 else [""] * len(header)
    grouped = above[value_cols[0]] != ""
    members: dict[str, dict[str, int]] = {}
    current = ""
    for i in range(value_cols[0], len(header)):
        if grouped and above[i]:
            current = above[i]
        if i not in value_cols:
            continue
        members.setdefault(current, {})
        if header[i] in members[current]:
            raise IngestError(
                f"{table.key}.column_groups: column {header[i]!r} appears twice in group "
                f"{current!r} (is the group label row above the header?)",
                file=label,
                sheet=sheet,
                row=start + 1,
                column=header[i],
            )
        members[current][header[i]] = i
    parts = []
    for order, (group, columns) in enumerate(members.items()):
        part = labels.copy()
        part[groups.name] = group
        for name in groups.columns:
            part[name] = [r[columns[name]] if name in columns else "" for r in body]
        part["__group"] = order
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values([ROW, "__group"], kind="stable").drop(columns="__group")
    return frame.reset_index(drop=True)


def fill_down(labels: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Blank cells take the value above; a new value in a column clears the later columns."""
    present = [c for c in columns if c in labels.columns]
    if not present:
        return labels
    carried = dict.fromkeys(present, "")
    values = {c: labels[c].tolist() for c in present}
    for i in range(len(labels)):
        for level, column in enumerate(present):
            cell = values[column][i]
            if cell:
                carried[column] = cell
                for later in present[level + 1 :]:
                    if not values[later][i]:
                        carried[later] = ""
            else:
                values[column][i] = carried[column]
    for column in present:
        labels[column] = values[column]
    return labels


def check_fill_down(raw: pd.DataFrame, table: TableSpec, label: str) -> None:
    for column in table.fill_down:
        if column not in raw.columns:
            key = f"{table.key}.fill_down"
            found = [c for c in raw.columns if c not in (ROW, SHEET)]
            raise IngestError(
                f"{key}: column {column!r} is not in any header read (found: {found})",
                file=label,
                column=column,
                extra={"mapping_key": key},
            )
