"""Read a dataset as its YAML mapping describes: files -> one normalised DataFrame of factor rows.

Pure pandas, no database. `read_dataset(mapping)` returns a `ReadResult`: the factor rows (columns
`FACTOR_COLUMNS`) and an `IngestionReport` (rows read, ingested, skipped and flagged by reason).
A missing or unreadable file, a column the mapping names that the header lacks, or a cell that
cannot be what the mapping says raises `IngestError` naming file, sheet, row and column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from factors.ingest.checks import run_checks
from factors.ingest.errors import IngestError, MappingError
from factors.ingest.layout import SHEET, check_fill_down, fill_down, read_layout
from factors.ingest.mapping import (
    FLOAT_FIELDS,
    GAS_FIELDS,
    INT_FIELDS,
    LIST_FIELDS,
    TEXT_FIELDS,
    Condition,
    FieldSpec,
    Fold,
    Lookup,
    Mapping,
    TableSpec,
)
from factors.ingest.report import IngestionReport, TableReport
from factors.ingest.transforms import (
    apply_numeric_transform,
    apply_text_transform,
    is_numeric_transform,
)

ROW = "__row"
TABLE = "__table"
SKIP = "__skip"
FACTOR_COLUMNS = (
    *TEXT_FIELDS,
    "unit_dimension",
    *FLOAT_FIELDS,
    *INT_FIELDS,
    *LIST_FIELDS,
    "source_row",
    "flags",
    "flag_reason",
    "search_text",
)
DEFAULT_NA = ("", "NA", "N/A", "n/a", "-")


@dataclass
class ReadResult:
    """The normalised factor rows of a dataset and the report of how they were obtained."""

    frame: pd.DataFrame
    report: IngestionReport
    file_sha256: str


# --------------------------------------------------------------------------- reading files


def _file_label(path: Path, mapping: Mapping) -> str:
    try:
        return str(path.relative_to(mapping.raw_dir))
    except ValueError:
        return path.name


def read_raw_table(
    table: TableSpec,
    mapping: Mapping,
    *,
    path: Path | None = None,
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The table's data rows as strings, with `__row` (the 1-based row number in the file/sheet)."""
    if frame is not None:
        raw = frame.copy()
        raw.columns = [str(c).strip() for c in raw.columns]
        raw = raw.astype("string").fillna("")
        raw[ROW] = np.arange(len(raw)) + table.header_row + 1
        return _check_columns(raw, table, label="<frame>")
    path = path or mapping.table_path(table)
    label = _file_label(path, mapping)
    if not path.is_file():
        raise IngestError("data file not found", file=label, sheet=table.sheet or "")
    if table.format == "xlsx" and table.uses_layout:
        # Sheet lists, headers found by content, column groups, fill-down: each table of each
        # sheet already ends at its first blank `stop_at_blank` cell.
        return _check_columns(read_layout(path, table, label), table, label=label)
    if table.format == "xlsx":
        raw = _read_xlsx(path, table, label)
    else:
        raw = _read_csv(path, table, label)
        if table.rename or table.fill_down:
            raw = fill_down(raw.rename(columns=table.rename), table.fill_down)
            check_fill_down(raw, table, label)
    raw = _check_columns(raw, table, label=label)
    if table.stop_at_blank:
        blank = raw[table.stop_at_blank].astype("string").str.strip().fillna("") == ""
        if blank.any():
            raw = raw.iloc[: int(np.argmax(blank.to_numpy()))]
    return raw


def _read_csv(path: Path, table: TableSpec, label: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(
            path,
            sep=table.delimiter,
            encoding=table.encoding,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            header=table.header_row - 1,
            skip_blank_lines=False,
        )
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"not {table.encoding} text (byte {exc.start}): corrupt or wrong encoding", file=label
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise IngestError("file is empty", file=label) from exc
    except pd.errors.ParserError as exc:
        raise IngestError(f"cannot parse as CSV: {exc}", file=label) from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    raw[ROW] = np.arange(len(raw)) + table.header_row + 1
    return raw


def _read_xlsx(path: Path, table: TableSpec, label: str) -> pd.DataFrame:
    sheet = table.sheet if table.sheet is not None else 0
    try:
        cells = pd.read_excel(
            path, sheet_name=sheet, header=None, dtype=str, engine="calamine", na_filter=False
        )
    except ValueError as exc:
        sheets = _sheet_names(path)
        if sheets is not None and table.sheet not in sheets:
            raise IngestError(
                f"sheet not found (sheets: {', '.join(sheets)})", file=label, sheet=str(sheet)
            ) from exc
        raise IngestError(f"cannot read workbook: {exc}", file=label, sheet=str(sheet)) from exc
    except Exception as exc:  # calamine raises its own types for corrupt zips/XML
        raise IngestError(
            f"cannot read workbook (corrupt or not XLSX): {exc}", file=label, sheet=str(sheet)
        ) from exc
    if len(cells) < table.header_row:
        raise IngestError(
            f"sheet has {len(cells)} rows, the header is expected on row {table.header_row}",
            file=label,
            sheet=str(sheet),
            row=table.header_row,
        )
    header = [str(c).strip() for c in cells.iloc[table.header_row - 1]]
    raw = cells.iloc[table.header_row :].copy()
    raw.columns = header
    raw = raw.loc[:, [bool(c) for c in header]].fillna("")
    raw[ROW] = raw.index.to_numpy() + 1
    return raw.reset_index(drop=True)


def _sheet_names(path: Path) -> list[str] | None:
    try:
        from python_calamine import CalamineWorkbook

        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception:
        return None


def _check_columns(raw: pd.DataFrame, table: TableSpec, *, label: str) -> pd.DataFrame:
    needed = table.column_keys()
    missing = sorted(set(needed) - set(raw.columns))
    if missing:
        found = [c for c in raw.columns if c not in (ROW, SHEET)]
        key = needed[missing[0]]
        raise IngestError(
            f"column named by the mapping is not in the header (found: {found}; used by {key})",
            file=label,
            sheet=table.sheet or "",
            row=None if table.header_starts_with else table.header_row,
            column=missing[0],
            extra={"missing_columns": missing, "mapping_key": key},
        )
    return raw


def file_sha256(paths: list[Path]) -> str:
    """One hash over the dataset's files (each file's hash, in table order)."""
    outer = hashlib.sha256()
    for path in paths:
        inner = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                inner.update(chunk)
        outer.update(inner.hexdigest().encode())
    return outer.hexdigest()


# --------------------------------------------------------------------------- evaluating fields


class _Ctx:
    """Per-table evaluation state: the raw rows, where skips are recorded, the file label."""

    def __init__(self, raw: pd.DataFrame, table: TableSpec, mapping: Mapping, label: str) -> None:
        self.raw = raw
        self.table = table
        self.mapping = mapping
        self.label = label
        self.skip = pd.Series(pd.NA, index=raw.index, dtype="string")
        self.na_values = set(DEFAULT_NA) | set(table.na_values)

    def mark(self, mask: pd.Series, reason: pd.Series | str) -> None:
        """Record `reason` for rows in `mask` that have no earlier reason."""
        fresh = mask & self.skip.isna()
        if isinstance(reason, str):
            self.skip[fresh] = reason
        else:
            self.skip[fresh] = reason[fresh]


def _text(series: pd.Series) -> pd.Series:
    out = series.astype("string").str.strip()
    return out.mask(out == "")


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    result = parts[0]
    for part in parts[1:]:
        both = result.notna() & part.notna()
        result = result.where(result.notna(), part)
        result = result.where(~both, result + sep + part)
    return result


def _template(template: str, raw: pd.DataFrame) -> pd.Series:
    import string

    out = pd.Series("", index=raw.index, dtype="string")
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is not None:
            out = out + raw[name].astype("string").str.strip().fillna("")
    return out.mask(out == "")


@cache
def _lookup_table(path: Path, key: str, value: str, sep: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise IngestError(f"cannot read lookup table: {exc}", file=path.name) from exc
    for column in (key, value):
        if column not in table.columns:
            raise IngestError(
                f"lookup column not in the header (found: {list(table.columns)})",
                file=path.name,
                row=1,
                column=column,
            )
    return table[[key, value]].apply(lambda s: s.str.strip())


def _lookup(lookup: Lookup, mapping: Mapping) -> pd.DataFrame:
    path = Path(lookup.file)
    path = path if path.is_absolute() else mapping.raw_dir / path
    if not path.is_file():
        raise IngestError("lookup file not found", file=lookup.file)
    table = _lookup_table(path, lookup.key, lookup.value, lookup.sep).copy()
    values = _text(table[lookup.value])
    for call in lookup.transform:
        values = apply_text_transform(call, values)
    table[lookup.value] = values
    return table.dropna()


def _source(spec: FieldSpec, ctx: _Ctx, raw: pd.DataFrame) -> pd.Series:
    if spec.column is not None:
        return _text(raw[spec.column])
    if spec.join:
        return _join([_text(raw[c]) for c in spec.join], spec.sep)
    if spec.template is not None:
        return _template(spec.template, raw)
    value = spec.value
    return pd.Series(pd.NA if value is None else str(value), index=raw.index, dtype="string")


def _eval_text(spec: FieldSpec, name: str, ctx: _Ctx, raw: pd.DataFrame) -> pd.Series:
    """A text field: source -> map -> transforms for the unmapped -> default / keep / skip."""
    if spec.when is not None:
        chosen = _condition(spec.when, raw)
        inner = replace(spec, when=None, otherwise=None)
        here = _eval_text(inner, name, ctx, raw[chosen])
        out = pd.Series(pd.NA, index=raw.index, dtype="string")
        out[chosen] = here
        if spec.otherwise is not None:
            out[~chosen] = _eval_text(spec.otherwise, name, ctx, raw[~chosen])
        return out
    source = _source(spec, ctx, raw)
    text_calls = [c for c in spec.transform if not is_numeric_transform(c)]
    table: MappingABC[str, Any] | None = spec.map
    if spec.map_from is not None:
        lk = _lookup(spec.map_from, ctx.mapping)
        table = dict(zip(lk[spec.map_from.key], lk[spec.map_from.value], strict=True))
    if table is None:
        out = source
        for call in text_calls:
            out = apply_text_transform(call, out)
        unresolved = (
            source.notna() & out.isna() if text_calls else pd.Series(False, index=raw.index)
        )
    else:
        keys = source.fillna("")
        mapped = keys.isin(list(table))
        out = keys.map(dict(table)).astype("string").where(mapped)
        rest = (
            source.where(~mapped)
            if text_calls
            else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        for call in text_calls:
            rest = apply_text_transform(call, rest)
        out = out.where(mapped, rest)
        unresolved = ~mapped & source.notna() & out.isna()
    if unresolved.any():
        if spec.has_default:
            fill = pd.NA if spec.default is None else str(spec.default)
            out = out.where(~unresolved, fill)
        elif spec.keep_unmapped:
            out = out.where(~unresolved, source)
        else:
            ctx.mark(unresolved, f"{name}: no mapping for '" + source.fillna("") + "'")
    elif spec.has_default and spec.default is not None:
        out = out.fillna(str(spec.default))
    if spec.prefix:
        out = spec.prefix + out
    return out


def _eval_number(
    spec: FieldSpec, name: str, ctx: _Ctx, raw: pd.DataFrame, gwp_set: str | None
) -> pd.Series:
    """A numeric field: blank / NA tokens -> NaN; anything else not a number -> IngestError."""
    if spec.when is not None:
        chosen = _condition(spec.when, raw)
        inner = replace(spec, when=None, otherwise=None)
        out = pd.Series(np.nan, index=raw.index, dtype="float64")
        out[chosen] = _eval_number(inner, name, ctx, raw[chosen], gwp_set)
        if spec.otherwise is not None:
            out[~chosen] = _eval_number(spec.otherwise, name, ctx, raw[~chosen], gwp_set)
        return out
    text_spec = replace(
        spec, transform=tuple(c for c in spec.transform if not is_numeric_transform(c))
    )
    text = _eval_text(text_spec, name, ctx, raw) if spec.map else _source(text_spec, ctx, raw)
    text = text.str.replace(",", "", regex=False) if spec.column else text
    blank = text.isna() | text.isin(ctx.na_values)
    values = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
    bad = values.isna() & ~blank
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise IngestError(
            f"{name}: not a number",
            file=ctx.label,
            sheet=ctx.table.sheet or "",
            row=int(raw[ROW].iloc[first]),
            column=spec.column or name,
            value=str(text.iloc[first]),
            extra={"bad_cells": int(bad.sum())},
        )
    for call in spec.transform:
        if is_numeric_transform(call):
            if call.name == "gwp" and not gwp_set:
                raise MappingError(
                    f"{spec.where}: the gwp transform needs a constant gwp_set field"
                )
            values = apply_numeric_transform(call, values, gwp_set=gwp_set or "")
    return values


def _eval_list(spec: FieldSpec, name: str, ctx: _Ctx, raw: pd.DataFrame) -> pd.Series:
    """A list field (classification codes): each part adds zero or more prefixed codes per row."""
    columns: list[list[list[str]]] = []
    for part in spec.parts or (spec,):
        if part.lookup_all is not None:
            lk = _lookup(part.lookup_all, ctx.mapping)
            grouped = {
                key: [part.prefix + v for v in sorted(set(values))]
                for key, values in lk.groupby(part.lookup_all.key)[part.lookup_all.value]
            }
            keys = _source(part, ctx, raw).fillna("").tolist()
            columns.append([grouped.get(k, []) for k in keys])
        elif part.split:
            text = _eval_text(replace(part, prefix=""), name, ctx, raw).fillna("")
            columns.append(
                [
                    [part.prefix + code.strip() for code in cell.split(part.split) if code.strip()]
                    for cell in text.tolist()
                ]
            )
        else:
            text = _eval_text(part, name, ctx, raw)
            columns.append([[v] if isinstance(v, str) else [] for v in text.tolist()])
    combined = [[code for codes in row for code in codes] for row in zip(*columns, strict=True)]
    return pd.Series(combined, index=raw.index, dtype="object")


def _condition(cond: Condition, raw: pd.DataFrame) -> pd.Series:
    values = raw[cond.column].astype("string").str.strip().fillna("")
    keep = pd.Series(True, index=raw.index)
    if cond.equals is not None:
        keep &= values == cond.equals
    if cond.isin:
        keep &= values.isin(cond.isin)
    if cond.not_in:
        keep &= ~values.isin(cond.not_in)
    if cond.not_blank:
        keep &= values != ""
    return keep


def _evaluate(
    fields: dict[str, FieldSpec], ctx: _Ctx, raw: pd.DataFrame, id_suffix: str = ""
) -> pd.DataFrame:
    gwp_spec = fields.get("gwp_set")
    gwp_set = str(gwp_spec.value) if gwp_spec is not None and gwp_spec.value is not None else None
    out = pd.DataFrame(index=raw.index)
    for name in TEXT_FIELDS:
        if name in fields:
            out[name] = _eval_text(fields[name], name, ctx, raw)
        else:
            out[name] = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "unit_label" not in fields and "unit" in fields and fields["unit"].column:
        out["unit_label"] = _text(raw[fields["unit"].column])
    if id_suffix:
        out["publisher_id"] = out["publisher_id"] + id_suffix
    sums = {n: s for n, s in fields.items() if s.sum}
    for name in FLOAT_FIELDS:
        if name in fields and name not in sums:
            out[name] = _eval_number(fields[name], name, ctx, raw, gwp_set)
        else:
            out[name] = np.nan
    for name, spec in sums.items():
        # A total is only known when every component is: a blank component leaves it blank.
        out[name] = out[list(spec.sum)].sum(axis=1, skipna=False)
    for name in INT_FIELDS:
        if name in fields:
            out[name] = _eval_number(fields[name], name, ctx, raw, gwp_set).round().astype("Int64")
        else:
            out[name] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    for name in LIST_FIELDS:
        if name in fields:
            out[name] = _eval_list(fields[name], name, ctx, raw)
        else:
            out[name] = pd.Series([[]] * len(raw), index=raw.index, dtype="object")
    out["source_row"] = raw[ROW].astype("int64")
    return out


def _fold(
    frame: pd.DataFrame, raw: pd.DataFrame, fold: Fold, ctx: _Ctx, report: TableReport
) -> pd.DataFrame:
    """One-row-per-gas -> one factor per group; its id and text come from the total row."""
    gas = _text(raw[fold.gas_column]).fillna("")
    role = gas.map(fold.gases)
    if fold.skip:
        listed = gas.map(fold.skip)
        ctx.mark(listed.notna(), listed)
    ctx.mark(role.isna(), f"{fold.gas_column} '" + gas + "' is not a gas the mapping folds")
    keep = ctx.skip.isna()
    rows = frame[keep].copy()
    rows["__role"] = role[keep]
    rows["__group"] = (
        raw.loc[keep, list(fold.group_by)]
        .astype("string")
        .fillna("")
        .groupby(list(fold.group_by), sort=False, dropna=False)
        .ngroup()
    )
    dup = rows.duplicated(["__group", "__role"], keep="first")
    if dup.any():
        ctx.mark(dup.reindex(frame.index, fill_value=False), "duplicate gas row in a fold group")
        rows = rows[~dup]
    values = rows.pivot(index="__group", columns="__role", values="kg_co2e")
    rows["__rank"] = (rows["__role"] != "total").astype(int)
    head = rows.sort_values(["__group", "__rank", "source_row"]).drop_duplicates("__group")
    head = head.set_index("__group")
    gas_cols = [g for g in GAS_FIELDS if g in values.columns]
    for name in GAS_FIELDS:
        head[name] = values[name] if name in values.columns else np.nan
    total = values["total"] if "total" in values.columns else pd.Series(np.nan, index=values.index)
    head["kg_co2e"] = total.fillna(
        values[gas_cols].sum(axis=1, min_count=1) if gas_cols else np.nan
    )
    report.rows_folded += len(rows) - len(head)
    return head.drop(columns=["__role", "__rank"]).reset_index(drop=True)


def read_table(
    table: TableSpec,
    mapping: Mapping,
    *,
    path: Path | None = None,
    frame: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, TableReport, pd.DataFrame]:
    """Evaluate one table: (factor rows, table counts, skipped rows with `reason`/`__row`)."""
    raw = read_raw_table(table, mapping, path=path, frame=frame)
    label = (
        "<frame>" if frame is not None else _file_label(path or mapping.table_path(table), mapping)
    )
    report = TableReport(table=table.name, file=label, sheet=table.sheet, rows_read=len(raw))
    for cond in table.where:
        keep = _condition(cond, raw)
        report.rows_filtered_out += int((~keep).sum())
        raw = raw[keep]
    raw = raw.reset_index(drop=True)
    if table.melt is not None:
        melt = table.melt
        ids = [c for c in raw.columns if c not in melt.columns]
        raw = raw.melt(
            id_vars=ids,
            value_vars=list(melt.columns),
            var_name=melt.var_name,
            value_name=melt.value_name,
        )
        raw[melt.var_name] = raw[melt.var_name].map(melt.columns)
        raw = raw.sort_values(ROW, kind="stable").reset_index(drop=True)
    ctx = _Ctx(raw, table, mapping, label)
    for name, spec in table.derive.items():
        raw[name] = _eval_text(spec, name, ctx, raw).fillna("")
    if table.variants:
        parts = []
        for variant in table.variants:
            part = _evaluate({**table.fields, **variant.fields}, ctx, raw, variant.id_suffix)
            parts.append(part.assign(**{SKIP: ctx.skip.copy()}))
            ctx.skip[:] = pd.NA
        evaluated = pd.concat(parts, ignore_index=True)
        skip = evaluated.pop(SKIP)
        raw = pd.concat([raw] * len(table.variants), ignore_index=True)
        ctx = _Ctx(raw, table, mapping, label)
        ctx.skip = skip.astype("string")
    else:
        evaluated = _evaluate(table.fields, ctx, raw)
    evaluated["source_table"] = evaluated["source_table"].fillna(table.name)
    # Blank factors are "not applicable" in the publisher's file: skipped, never read as zero.
    ctx.mark(evaluated["kg_co2e"].isna(), "blank factor (not applicable)")
    for name in ("publisher_id", "name", "unit", "region", "scope"):
        ctx.mark(evaluated[name].isna(), f"missing {name}")
    if table.fold is not None:
        evaluated = _fold(evaluated, raw, table.fold, ctx, report)
        kept = evaluated
    else:
        kept = evaluated[ctx.skip.isna()]
    skipped = pd.DataFrame(
        {"reason": ctx.skip[ctx.skip.notna()], ROW: raw.loc[ctx.skip.notna(), ROW]}
    )
    skipped[TABLE] = table.name
    if SHEET in raw.columns:  # several sheets: say which one the row is on
        skipped[TABLE] = table.name + ": " + raw.loc[ctx.skip.notna(), SHEET].astype(str)
    kept = kept.reset_index(drop=True)
    kept[TABLE] = table.name
    return kept, report, skipped


def read_dataset(
    mapping: Mapping,
    *,
    files: dict[str, Path] | None = None,
    frames: dict[str, pd.DataFrame] | None = None,
) -> ReadResult:
    """Read every table of a mapping, run the quality checks and build the report.

    `files` replaces a table's file (by table name, e.g. next year's workbook given with --file);
    `frames` supplies a table as a DataFrame built in code (EXIOBASE computed from an MRIO system).
    """
    files = files or {}
    frames = frames or {}
    report = IngestionReport(dataset=mapping.key)
    parts: list[pd.DataFrame] = []
    skipped: list[pd.DataFrame] = []
    paths: list[Path] = []
    for table in mapping.tables:
        frame = frames.get(table.name)
        path = files.get(table.name)
        if frame is None:
            paths.append(path or mapping.table_path(table))
        rows, table_report, table_skipped = read_table(table, mapping, path=path, frame=frame)
        report.tables.append(table_report)
        parts.append(rows)
        skipped.append(table_skipped)
    frame = pd.concat(parts, ignore_index=True)
    frame, check_skipped, flags = run_checks(frame, mapping)
    skipped.append(check_skipped)
    all_skipped = pd.concat(skipped, ignore_index=True)
    for reason, group in all_skipped.groupby("reason", sort=False):
        report.skipped[str(reason)] = len(group)
        report.add_examples(str(reason), _where(group))
    for reason, group in flags.groupby("reason", sort=False):
        report.flagged[str(reason)] = len(group)
        report.add_examples(str(reason), _where(group))
    frame["search_text"] = _search_text(frame)
    report.ingested = len(frame)
    digest = (
        file_sha256(paths)
        if paths
        else hashlib.sha256(
            pd.util.hash_pandas_object(frame[["publisher_id", "kg_co2e"]], index=False)
            .to_numpy()
            .tobytes()
        ).hexdigest()
    )
    out = frame[[*FACTOR_COLUMNS, TABLE]].rename(columns={TABLE: "table"})
    return ReadResult(frame=out, report=report, file_sha256=digest)


def _where(group: pd.DataFrame) -> list[str]:
    head = group.head(5)
    return [f"{t} row {r}" for t, r in zip(head[TABLE], head[ROW], strict=True)]


def _search_text(frame: pd.DataFrame) -> pd.Series:
    parts = [
        frame[c].fillna("") for c in ("name", "category", "region", "unit_label", "publisher_id")
    ]
    codes = frame["classifications"].map(" ".join)
    text = parts[0]
    for part in [*parts[1:], codes]:
        text = text + " " + part
    return text.str.replace(r"\s+", " ", regex=True).str.strip().str.lower()


__all__ = [
    "FACTOR_COLUMNS",
    "ReadResult",
    "file_sha256",
    "read_dataset",
    "read_raw_table",
    "read_table",
]
