"""YAML mappings that describe how one publisher's file becomes factor rows.

A mapping (data/mappings/<dataset>.yml) names the dataset (key, publisher, edition, licence...), the
tables to read (file, sheet, header row), how each normalised field is computed from the columns,
and the layout quirks (rows to keep, wide-to-long melts, per-variant fields, one-row-per-gas folds).
`load_mapping` validates all of it up front, so a typo fails with the mapping's path and key
before any data is read.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from factors.ingest.errors import MappingError
from factors.ingest.transforms import TransformCall, parse_transform

REPO_DIR = Path(__file__).resolve().parents[2]
MAPPINGS_DIR = REPO_DIR / "data" / "mappings"
RAW_DIR = REPO_DIR / "data" / "raw"

TEXT_FIELDS = (
    "publisher_id",
    "scope",
    "category",
    "name",
    "region",
    "unit",
    "unit_label",
    "gwp_set",
    "basis",
    "kind",
    "currency",
    "cv_basis",
    "uncertainty_distribution",
    "source_table",
)
FLOAT_FIELDS = (
    "kg_co2e",
    "co2",
    "ch4",
    "n2o",
    "other_ghg",
    "uncertainty_sd",
    "uncertainty_low",
    "uncertainty_high",
)
INT_FIELDS = ("scope3_category", "price_year", "year")
LIST_FIELDS = ("classifications",)
ALL_FIELDS = TEXT_FIELDS + FLOAT_FIELDS + INT_FIELDS + LIST_FIELDS
REQUIRED_FIELDS = (
    "publisher_id",
    "scope",
    "name",
    "region",
    "unit",
    "kg_co2e",
    "basis",
    "gwp_set",
    "kind",
)
GAS_FIELDS = ("co2", "ch4", "n2o", "other_ghg")

SCOPES = ("1", "2", "3", "outside")
BASES = ("activity", "spend", "location", "market", "residual_mix")
CV_BASES = ("net", "gross")
FOLD_ROLES = ("total", *GAS_FIELDS)
CHECK_ACTIONS = ("flag", "skip", "allow")


@dataclass(frozen=True)
class Lookup:
    """A key -> value table read from a data file (one value per key, or all values)."""

    file: str
    key: str
    value: str
    sep: str = ","
    transform: tuple[TransformCall, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A row filter: keep rows whose column equals / is in / is not in / is not blank."""

    column: str
    equals: str | None = None
    isin: tuple[str, ...] = ()
    not_in: tuple[str, ...] = ()
    not_blank: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """How one field is computed; exactly one source (value, column, join, template, sum, parts).

    Text is taken from the source, then mapped (`map` / `map_from`); values the map does not list
    go through `transform` (so a map can override a generic transform), then take `default`, are
    kept (`keep_unmapped`), or make the row skipped with the reason named. With `when`, only rows
    matching the condition use this spec; the others use `otherwise`.
    """

    where: str
    value: Any = None
    column: str | None = None
    join: tuple[str, ...] = ()
    sep: str = " "
    template: str | None = None
    sum: tuple[str, ...] = ()
    parts: tuple[FieldSpec, ...] = ()
    map: dict[str, Any] | None = None
    map_from: Lookup | None = None
    lookup_all: Lookup | None = None
    default: Any = None
    has_default: bool = False
    keep_unmapped: bool = False
    transform: tuple[TransformCall, ...] = ()
    prefix: str = ""
    when: Condition | None = None
    otherwise: FieldSpec | None = None
    # list fields: one cell holding several codes ("230301, 233210") gives one code each
    split: str | None = None

    def columns(self) -> set[str]:
        """Source columns this spec reads."""
        cols: set[str] = set()
        if self.when:
            cols.add(self.when.column)
        if self.otherwise:
            cols |= self.otherwise.columns()
        if self.column:
            cols.add(self.column)
        cols.update(self.join)
        if self.template:
            cols.update(template_fields(self.template))
        for part in self.parts:
            cols |= part.columns()
        return cols


@dataclass(frozen=True)
class Melt:
    """Wide-to-long: each listed column becomes its own row (var_name = the column's label)."""

    columns: dict[str, str]
    var_name: str
    value_name: str


@dataclass(frozen=True)
class Variant:
    """Another factor from the same row, with some fields replaced and an id suffix."""

    id_suffix: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class Fold:
    """Rows of one activity, one per gas (total, CO2, CH4, N2O), folded into one factor."""

    group_by: tuple[str, ...]
    gas_column: str
    gases: dict[str, str]
    # gas-column labels of rows that are not emission factors, with the reason reported
    skip: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnGroups:
    """Several value columns per row, repeated under group labels in the row above the header.

    Each (row, group) becomes its own row: the group's label in column `name`, and the group's
    value columns under their header names (`columns`), e.g. a "Diesel" and a "Petrol" group each
    with "kg CO2e", "kg CO2e of CO2 per unit", ... A label carries right over the blank (merged)
    cells after it. Without labels above (the cell over the first value column is blank), the
    whole row is one group with a blank label.
    """

    columns: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class TableSpec:
    """One table (CSV file or XLSX sheet, or several sheets of one layout) of a dataset."""

    name: str
    file: str
    sheet: str | None = None
    # Several sheets read as one table: the named ones (`sheets`), or all but `sheets_except`.
    sheets: tuple[str, ...] = ()
    sheets_except: tuple[str, ...] | None = None
    # Column that receives the sheet's name; cells read once per sheet ({column: "B6"}).
    sheet_column: str | None = None
    sheet_cells: dict[str, str] = field(default_factory=dict)
    # Every row whose first cell is this text is a header; its table runs until the next one
    # (or the first row blank in `stop_at_blank`). Replaces `header_row`.
    header_starts_with: str | None = None
    # Header names -> the names the fields use (sheets that call the same column differently).
    rename: dict[str, str] = field(default_factory=dict)
    # Label columns whose blank (or merged) cells take the value above; a new value in one
    # column clears what the columns after it in the list carry.
    fill_down: tuple[str, ...] = ()
    column_groups: ColumnGroups | None = None
    # Where this table is in the mapping ("tables[2]"), for error messages.
    key: str = ""
    header_row: int = 1
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    na_values: tuple[str, ...] = ()
    stop_at_blank: str | None = None
    where: tuple[Condition, ...] = ()
    derive: dict[str, FieldSpec] = field(default_factory=dict)
    melt: Melt | None = None
    variants: tuple[Variant, ...] = ()
    fold: Fold | None = None
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def format(self) -> str:
        """'xlsx' or 'csv', from the file name."""
        return "xlsx" if self.file.lower().endswith((".xlsx", ".xlsm")) else "csv"

    @property
    def uses_layout(self) -> bool:
        """Read with the workbook-layout reader (sheet lists, header search, groups, fill-down)."""
        return bool(
            self.sheets
            or self.sheets_except is not None
            or self.header_starts_with
            or self.column_groups
            or self.fill_down
            or self.rename
            or self.sheet_column
            or self.sheet_cells
        )

    def source_columns(self) -> set[str]:
        """Every column of the file this table's mapping reads (checked before evaluation)."""
        return set(self.column_keys())

    def column_keys(self) -> dict[str, str]:
        """Each column of the file this table's mapping reads -> the first mapping key using it."""
        keys: dict[str, str] = {}

        def add(columns: set[str] | tuple[str, ...] | list[str], where: str) -> None:
            for column in sorted(columns):
                keys.setdefault(column, where)

        prefix = f"{self.key}." if self.key else ""
        for i, cond in enumerate(self.where):
            add([cond.column], f"{prefix}where[{i}].column")
        for name, spec in self.derive.items():
            add(spec.columns(), spec.where or f"{prefix}derive.{name}")
        if self.melt:
            add(list(self.melt.columns), f"{prefix}melt.columns")
        if self.fold:
            add(self.fold.group_by, f"{prefix}fold.group_by")
            add([self.fold.gas_column], f"{prefix}fold.gas_column")
        produced = set(self.derive)
        if self.melt:
            produced |= {self.melt.var_name, self.melt.value_name}
        specs = list(self.fields.values()) + [s for v in self.variants for s in v.fields.values()]
        for spec in specs:
            add(spec.columns(), spec.where)
        if self.stop_at_blank:
            add([self.stop_at_blank], f"{prefix}stop_at_blank")
        return {c: k for c, k in keys.items() if c not in produced and c != "__row"}


@dataclass(frozen=True)
class CheckRule:
    """A dataset-specific check: what to do with a zero or an over-large factor, and why."""

    action: str
    reason: str
    value: float | None = None


@dataclass(frozen=True)
class Mapping:
    """A validated mapping: dataset metadata, checks and tables."""

    path: Path
    key: str
    family: str
    title: str
    publisher: str
    edition: str
    version: str
    source_url: str
    licence: str
    tables: tuple[TableSpec, ...]
    attribution: str = ""
    zero: CheckRule | None = None
    maximum: CheckRule | None = None
    raw_dir: Path = RAW_DIR
    text: str = ""
    # 'files' (the default) or 'frame': the table is a DataFrame built by code (EXIOBASE from MRIO).
    source: str = "files"

    @property
    def sha256(self) -> str:
        """Hash of the mapping text: a changed mapping makes a new dataset version."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def table_path(self, table: TableSpec) -> Path:
        """Where the table's file is (relative names are under data/raw)."""
        path = Path(table.file)
        return path if path.is_absolute() else self.raw_dir / path


def cell_ref(ref: str) -> tuple[int, int] | None:
    """'B6' -> (row 5, column 1), 0-based; None when `ref` is not a cell reference."""
    match = re.fullmatch(r"([A-Za-z]{1,3})([1-9][0-9]*)", ref.strip())
    if match is None:
        return None
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(match.group(2)) - 1, column - 1


def template_fields(template: str) -> list[str]:
    """Column names a '{Column}:{Other}' template reads."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise MappingError(f"bad template {template!r}: {exc}") from exc


class _Reader:
    """Walks the YAML with a path for every error message."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> MappingError:
        return MappingError(f"{where}: {message}", file=str(self.path))

    def check_keys(self, raw: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = set(raw) - allowed
        if unknown:
            raise self.fail(where, f"unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")

    def as_dict(self, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, f"expected a mapping, got {type(raw).__name__}")
        return raw

    def as_str_list(self, raw: Any, where: str) -> tuple[str, ...]:
        if isinstance(raw, str):
            return (raw,)
        if not isinstance(raw, list) or not all(isinstance(x, str | int | float) for x in raw):
            raise self.fail(where, f"expected a list of strings, got {raw!r}")
        return tuple(str(x) for x in raw)

    def transforms(self, raw: Any, where: str) -> tuple[TransformCall, ...]:
        items = raw if isinstance(raw, list) else [raw]
        try:
            return tuple(parse_transform(item, where) for item in items)
        except MappingError as exc:
            raise self.fail(where, exc.message) from exc

    def lookup(self, raw: Any, where: str) -> Lookup:
        data = self.as_dict(raw, where)
        self.check_keys(data, {"file", "key", "value", "sep", "transform"}, where)
        for name in ("file", "key", "value"):
            if not isinstance(data.get(name), str):
                raise self.fail(where, f"'{name}' is required")
        return Lookup(
            file=data["file"],
            key=data["key"],
            value=data["value"],
            sep=str(data.get("sep", "\t" if data["file"].endswith(".tsv") else ",")),
            transform=self.transforms(data["transform"], f"{where}.transform")
            if "transform" in data
            else (),
        )

    def field_spec(self, raw: Any, where: str, maps: dict[str, dict[str, Any]]) -> FieldSpec:
        if not isinstance(raw, dict):
            return FieldSpec(where=where, value=raw)
        allowed = {
            "value", "column", "join", "sep", "template", "sum", "parts", "map", "map_from",
            "lookup_all", "default", "keep_unmapped", "transform", "prefix", "when", "otherwise",
            "split",
        }  # fmt: skip
        self.check_keys(raw, allowed, where)
        sources = [k for k in ("value", "column", "join", "template", "sum", "parts") if k in raw]
        if len(sources) != 1:
            raise self.fail(where, "give exactly one of value, column, join, template, sum, parts")
        mapping = raw.get("map")
        if isinstance(mapping, str):
            if mapping not in maps:
                raise self.fail(where, f"map {mapping!r} is not defined under 'maps'")
            mapping = maps[mapping]
        elif mapping is not None and not isinstance(mapping, dict):
            raise self.fail(where, "map is a mapping or the name of one under 'maps'")
        if isinstance(mapping, dict):
            mapping = {str(k): v for k, v in mapping.items()}
        parts = tuple(
            self.field_spec(p, f"{where}.parts[{i}]", maps)
            for i, p in enumerate(raw.get("parts") or [])
        )
        if "parts" in raw and not parts:
            raise self.fail(where, "parts must be a non-empty list")
        if "template" in raw:
            template_fields(str(raw["template"]))
        return FieldSpec(
            where=where,
            value=raw.get("value"),
            column=str(raw["column"]) if "column" in raw else None,
            join=self.as_str_list(raw["join"], f"{where}.join") if "join" in raw else (),
            sep=str(raw.get("sep", " ")),
            template=str(raw["template"]) if "template" in raw else None,
            sum=self.as_str_list(raw["sum"], f"{where}.sum") if "sum" in raw else (),
            parts=parts,
            map=mapping,
            map_from=self.lookup(raw["map_from"], f"{where}.map_from")
            if "map_from" in raw
            else None,
            lookup_all=self.lookup(raw["lookup_all"], f"{where}.lookup_all")
            if "lookup_all" in raw
            else None,
            default=raw.get("default"),
            has_default="default" in raw,
            keep_unmapped=bool(raw.get("keep_unmapped", False)),
            transform=self.transforms(raw["transform"], f"{where}.transform")
            if "transform" in raw
            else (),
            prefix=str(raw.get("prefix", "")),
            split=str(raw["split"]) if "split" in raw else None,
            when=self.condition(raw["when"], f"{where}.when") if "when" in raw else None,
            otherwise=self.field_spec(raw["otherwise"], f"{where}.otherwise", maps)
            if "otherwise" in raw
            else None,
        )

    def fields(self, raw: Any, where: str, maps: dict[str, dict[str, Any]]) -> dict[str, FieldSpec]:
        data = self.as_dict(raw or {}, where)
        specs: dict[str, FieldSpec] = {}
        for name, spec in data.items():
            if name not in ALL_FIELDS:
                raise self.fail(
                    f"{where}.{name}", f"unknown field (fields: {', '.join(ALL_FIELDS)})"
                )
            specs[name] = self.field_spec(spec, f"{where}.{name}", maps)
        for name, spec in specs.items():
            for ref in spec.sum:
                if ref not in FLOAT_FIELDS or ref == name:
                    raise self.fail(f"{where}.{name}.sum", f"{ref!r} is not a numeric field to sum")
        return specs

    def condition(self, raw: Any, where: str) -> Condition:
        data = self.as_dict(raw, where)
        self.check_keys(data, {"column", "equals", "in", "not_in", "not_blank"}, where)
        if "column" not in data:
            raise self.fail(where, "'column' is required")
        return Condition(
            column=str(data["column"]),
            equals=str(data["equals"]) if "equals" in data else None,
            isin=self.as_str_list(data["in"], f"{where}.in") if "in" in data else (),
            not_in=self.as_str_list(data["not_in"], f"{where}.not_in") if "not_in" in data else (),
            not_blank=bool(data.get("not_blank", False)),
        )

    def table(
        self, raw: Any, where: str, maps: dict[str, dict[str, Any]], base: dict[str, FieldSpec]
    ) -> TableSpec:
        data = self.as_dict(raw, where)
        allowed = {
            "name", "file", "sheet", "header_row", "delimiter", "encoding", "na_values",
            "stop_at_blank", "where", "derive", "melt", "variants", "fold", "fields",
            "sheets", "sheet_column", "sheet_cells", "header_starts_with", "rename", "fill_down",
            "column_groups",
        }  # fmt: skip
        self.check_keys(data, allowed, where)
        if not isinstance(data.get("file"), str):
            raise self.fail(where, "'file' is required")
        header_row = data.get("header_row", 1)
        if not isinstance(header_row, int) or header_row < 1:
            raise self.fail(f"{where}.header_row", "must be a row number (1 = first row)")
        layout = self.layout(data, where)
        fields = {**base, **self.fields(data.get("fields"), f"{where}.fields", maps)}
        variants = tuple(
            Variant(
                id_suffix=str(self.as_dict(v, f"{where}.variants[{i}]").get("id_suffix", "")),
                fields=self.fields(v.get("fields"), f"{where}.variants[{i}].fields", maps),
            )
            for i, v in enumerate(data.get("variants") or [])
        )
        for i, _variant in enumerate(variants):
            if set(self.as_dict(data["variants"][i], where)) - {"id_suffix", "fields"}:
                raise self.fail(f"{where}.variants[{i}]", "only id_suffix and fields are allowed")
        if len({v.id_suffix for v in variants}) != len(variants):
            raise self.fail(f"{where}.variants", "each variant needs its own id_suffix")
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        if variants:
            missing = [f for f in missing if not all(f in v.fields for v in variants)]
        if missing:
            raise self.fail(where, f"required field(s) not mapped: {', '.join(missing)}")
        melt = None
        if "melt" in data:
            m = self.as_dict(data["melt"], f"{where}.melt")
            self.check_keys(m, {"columns", "var_name", "value_name"}, f"{where}.melt")
            cols = m.get("columns")
            if isinstance(cols, list):
                cols = {str(c): str(c) for c in cols}
            if not isinstance(cols, dict) or not cols:
                raise self.fail(
                    f"{where}.melt.columns", "a non-empty list or column -> label mapping"
                )
            melt = Melt(
                columns={str(k): str(v) for k, v in cols.items()},
                var_name=str(m.get("var_name", "variable")),
                value_name=str(m.get("value_name", "value")),
            )
        fold = None
        if "fold" in data:
            f = self.as_dict(data["fold"], f"{where}.fold")
            self.check_keys(f, {"group_by", "gas_column", "gases", "skip"}, f"{where}.fold")
            gases = {
                str(k): str(v)
                for k, v in self.as_dict(f.get("gases"), f"{where}.fold.gases").items()
            }
            bad = sorted(set(gases.values()) - set(FOLD_ROLES))
            if bad:
                raise self.fail(f"{where}.fold.gases", f"roles {bad} not in {FOLD_ROLES}")
            if "gas_column" not in f or "group_by" not in f:
                raise self.fail(f"{where}.fold", "group_by and gas_column are required")
            fold = Fold(
                group_by=self.as_str_list(f["group_by"], f"{where}.fold.group_by"),
                gas_column=str(f["gas_column"]),
                gases=gases,
                skip={
                    str(k): str(v)
                    for k, v in self.as_dict(f.get("skip") or {}, f"{where}.fold.skip").items()
                },
            )
        derive = {
            str(name): self.field_spec(spec, f"{where}.derive.{name}", maps)
            for name, spec in self.as_dict(data.get("derive") or {}, f"{where}.derive").items()
        }
        return TableSpec(
            name=str(data.get("name", Path(data["file"]).stem)),
            file=data["file"],
            sheet=str(data["sheet"]) if data.get("sheet") is not None else None,
            header_row=header_row,
            delimiter=str(data.get("delimiter", ",")),
            encoding=str(data.get("encoding", "utf-8-sig")),
            na_values=self.as_str_list(data.get("na_values", []), f"{where}.na_values"),
            stop_at_blank=str(data["stop_at_blank"]) if data.get("stop_at_blank") else None,
            where=tuple(
                self.condition(c, f"{where}.where[{i}]")
                for i, c in enumerate(data.get("where") or [])
            ),
            derive=derive,
            melt=melt,
            variants=variants,
            fold=fold,
            fields=fields,
            key=where,
            **layout,
        )

    def layout(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        """The workbook-layout keys of a table: sheet lists, header search, groups, fill-down."""
        out: dict[str, Any] = {}
        is_xlsx = str(data["file"]).lower().endswith((".xlsx", ".xlsm"))
        for name in (
            "sheets", "sheet_column", "sheet_cells", "header_starts_with", "column_groups"
        ):  # fmt: skip
            if name in data and not is_xlsx:
                raise self.fail(f"{where}.{name}", "only a workbook (.xlsx) has sheets")
        if "sheets" in data:
            if data.get("sheet") is not None:
                raise self.fail(f"{where}.sheets", "give either 'sheet' or 'sheets', not both")
            raw = data["sheets"]
            if isinstance(raw, dict):
                self.check_keys(raw, {"all_except"}, f"{where}.sheets")
                out["sheets_except"] = self.as_str_list(
                    raw.get("all_except") or [], f"{where}.sheets.all_except"
                )
            else:
                sheets = self.as_str_list(raw, f"{where}.sheets")
                if not sheets:
                    raise self.fail(
                        f"{where}.sheets", "a list of sheet names, or {all_except: [...]}"
                    )
                out["sheets"] = sheets
        if "sheet_column" in data:
            out["sheet_column"] = self.name(data["sheet_column"], f"{where}.sheet_column")
        if "sheet_cells" in data:
            cells = self.as_dict(data["sheet_cells"], f"{where}.sheet_cells")
            for column, ref in cells.items():
                if not isinstance(ref, str) or cell_ref(ref) is None:
                    raise self.fail(
                        f"{where}.sheet_cells.{column}", f"{ref!r} is not a cell such as B6"
                    )
            out["sheet_cells"] = {str(k): str(v) for k, v in cells.items()}
        if "header_starts_with" in data:
            if "header_row" in data:
                raise self.fail(
                    f"{where}.header_starts_with", "give either header_row or header_starts_with"
                )
            out["header_starts_with"] = self.name(
                data["header_starts_with"], f"{where}.header_starts_with"
            )
        if "rename" in data:
            rename = self.as_dict(data["rename"], f"{where}.rename")
            out["rename"] = {str(k).strip(): str(v).strip() for k, v in rename.items()}
        if "fill_down" in data:
            out["fill_down"] = self.as_str_list(data["fill_down"], f"{where}.fill_down")
        if "column_groups" in data:
            g = self.as_dict(data["column_groups"], f"{where}.column_groups")
            self.check_keys(g, {"columns", "name"}, f"{where}.column_groups")
            columns = self.as_str_list(g.get("columns") or [], f"{where}.column_groups.columns")
            if not columns:
                raise self.fail(
                    f"{where}.column_groups.columns", "list the value columns of one group"
                )
            out["column_groups"] = ColumnGroups(
                columns=columns,
                name=self.name(g.get("name"), f"{where}.column_groups.name"),
            )
        return out

    def name(self, raw: Any, where: str) -> str:
        if not isinstance(raw, str | int) or not str(raw).strip():
            raise self.fail(where, "a column name is required")
        return str(raw).strip()

    def check_rule(self, raw: Any, where: str, *, needs_value: bool) -> CheckRule:
        data = self.as_dict(raw, where)
        self.check_keys(data, {"action", "reason", "value"}, where)
        action = data.get("action", "flag")
        if action not in CHECK_ACTIONS:
            raise self.fail(where, f"action must be one of {CHECK_ACTIONS}")
        if not isinstance(data.get("reason"), str):
            raise self.fail(where, "'reason' (shown to users) is required")
        value = data.get("value")
        if needs_value and not isinstance(value, int | float):
            raise self.fail(where, "'value' (a number) is required")
        return CheckRule(action=action, reason=data["reason"], value=value)


def load_mapping(path: str | Path, *, raw_dir: Path | None = None) -> Mapping:
    """Read and validate a YAML mapping; raise MappingError naming the file and key on any problem."""
    path = Path(path)
    reader = _Reader(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping: {exc.strerror}", file=str(path)) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"not valid YAML: {exc}", file=str(path)) from exc
    data = reader.as_dict(raw, "mapping")
    allowed = {
        "key", "family", "title", "publisher", "edition", "version", "source_url", "licence",
        "attribution", "maps", "fields", "checks", "tables", "source", "extends",
    }  # fmt: skip
    reader.check_keys(data, allowed, "mapping")
    if "extends" in data:
        data, text = _extend(data, text, path, reader)
    for name in ("key", "title", "publisher", "edition", "source_url", "licence"):
        if not isinstance(data.get(name), str | int) or not str(data[name]).strip():
            raise reader.fail(name, "is required")
    maps = {
        str(k): {str(a): b for a, b in reader.as_dict(v, f"maps.{k}").items()}
        for k, v in reader.as_dict(data.get("maps") or {}, "maps").items()
    }
    base = reader.fields(data.get("fields"), "fields", maps)
    tables_raw = data.get("tables")
    if not isinstance(tables_raw, list) or not tables_raw:
        raise reader.fail("tables", "a non-empty list of tables is required")
    tables = tuple(reader.table(t, f"tables[{i}]", maps, base) for i, t in enumerate(tables_raw))
    if len({t.name for t in tables}) != len(tables):
        raise reader.fail("tables", "table names must be unique")
    checks = reader.as_dict(data.get("checks") or {}, "checks")
    reader.check_keys(checks, {"zero", "max"}, "checks")
    key = str(data["key"])
    source = str(data.get("source", "files"))
    if source not in ("files", "frame"):
        raise reader.fail("source", "must be 'files' or 'frame'")
    return Mapping(
        path=path,
        key=key,
        family=str(data.get("family", key.rsplit("_", 1)[0])),
        title=str(data["title"]),
        publisher=str(data["publisher"]),
        edition=str(data["edition"]),
        version=str(data.get("version", "")),
        source_url=str(data["source_url"]),
        licence=str(data["licence"]),
        attribution=str(data.get("attribution", "")),
        tables=tables,
        zero=reader.check_rule(checks["zero"], "checks.zero", needs_value=False)
        if "zero" in checks
        else None,
        maximum=reader.check_rule(checks["max"], "checks.max", needs_value=True)
        if "max" in checks
        else None,
        raw_dir=raw_dir or RAW_DIR,
        text=text,
        source=source,
    )


def _extend(
    data: dict[str, Any], text: str, path: Path, reader: _Reader
) -> tuple[dict[str, Any], str]:
    """`extends: other.yml`: that mapping's maps and fields, under this one's (which win).

    One layout of a dataset reads another (the DEFRA full set and flat file share every field but
    the id and the values), so an edit to the shared fields reaches both. The base's text is part
    of this mapping's hash: changing it makes a new dataset version of both.
    """
    name = data["extends"]
    if not isinstance(name, str) or not name.strip():
        raise reader.fail("extends", "the path of a mapping file, relative to this one")
    base_path = (path.parent / name).resolve()
    try:
        base_text = base_path.read_text(encoding="utf-8")
        base = yaml.safe_load(base_text)
    except (OSError, yaml.YAMLError) as exc:
        raise reader.fail("extends", f"cannot read mapping {name!r}: {exc}") from exc
    base = reader.as_dict(base, f"extends ({name})")
    if "extends" in base:
        raise reader.fail("extends", f"{name!r} extends another mapping: extend that one")
    merged = dict(data)
    for part in ("maps", "fields"):
        own = reader.as_dict(data.get(part) or {}, part)
        inherited = reader.as_dict(base.get(part) or {}, f"extends ({name}).{part}")
        merged[part] = {**inherited, **own}
    return merged, f"{base_text}\n---\n{text}"


def mapping_path(key: str) -> Path:
    """The shipped mapping file for a dataset key."""
    return MAPPINGS_DIR / f"{key}.yml"


def shipped_mappings() -> list[Path]:
    """Every shipped mapping, in a stable order."""
    return sorted(MAPPINGS_DIR.glob("*.yml"))
