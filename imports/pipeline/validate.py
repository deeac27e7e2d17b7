"""Validation: apply a mapping to a frame of text cells and return normalised columns, a validity
mask and structured cell errors; plus the preview, single-row re-validation and bulk fixes the
wizard needs.

Rules (per row): a date, or a period start and end (end not before start); an activity; and a
quantity with its unit or an amount with its currency (amounts are converted to EUR at the row's
date through the engine). A negative quantity or amount is an error unless the row is a
correction: a ``correction`` column saying yes, or a correction word in its notes (Korrektur,
Storno, Gutschrift, credit note, avoir, rettifica, correctie...; more in the mapping's
``options.correction_words``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ERROR_COLUMNS, PipelineError
from .mapping import DATE_FIELDS, FIELD_LABELS, FIELDS, NUMBER_FIELDS, Mapping, MappingOptions
from .normalise import (
    TEXT_MAX_LENGTH,
    Parsed,
    as_arrow,
    concat_errors,
    empty_errors,
    errors_per_distinct,
    map_distinct,
    parse_category,
    parse_country,
    parse_data_quality,
    parse_dates,
    parse_flag,
    parse_numbers,
    parse_scope,
    parse_text,
    take_distinct,
)

#: Words in a notes cell that mark a row as a correction (negative values allowed).
CORRECTION_WORDS = (
    "correction",
    "corrected",
    "credit note",
    "credit",
    "reversal",
    "refund",
    "korrektur",
    "storno",
    "stornierung",
    "gutschrift",
    "berichtigung",
    "avoir",
    "rectification",
    "rectificatif",
    "annulation",
    "corrección",
    "correccion",
    "rectificación",
    "rectificacion",
    "abono",
    "nota de crédito",
    "correzione",
    "rettifica",
    "storno",
    "nota di credito",
    "correctie",
    "creditnota",
    "creditering",
)


@dataclass
class ValidationResult:
    """Outcome of :func:`validate`.

    ``data``: index = spreadsheet row numbers; one column per mapped field, normalised (``date``,
    ``period_start``, ``period_end`` datetime64; ``quantity``, ``amount`` float64; ``unit``
    canonical unit text; ``currency`` ISO 4217 code; ``country`` ISO 3166 alpha-2; ``scope``,
    ``category`` Int8; texts trimmed), plus ``is_correction``, ``region`` (when the caller gave
    regions: the caller's region, else the row's country) and, when amounts are mapped,
    ``amount_eur``, ``fx_rate`` (currency per EUR) and ``fx_rate_date``. Invalid cells are
    missing. ``valid``: boolean per row. ``errors``: one row per bad cell with the columns
    ``row, column, field, value, code, message, suggestion`` (``column`` is the user's header).
    ``detected``: per field, what was detected (``decimal``, date ``order``, ambiguous counts).
    """

    data: pd.DataFrame
    valid: pd.Series
    errors: pd.DataFrame
    detected: dict[str, dict[str, Any]]
    mapping: Mapping
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: What was read one way where another was possible, one short text each, with the field,
    #: the user's column and the number of rows: ``{"code", "field", "column", "count", "text"}``
    #: ("gal read as US gallon (row country US)", "dates read month-first (MM/DD/YYYY): ...").
    assumptions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Rows validated."""
        return len(self.valid)

    @property
    def n_valid(self) -> int:
        """Rows without any error."""
        return int(self.valid.sum())

    @property
    def n_invalid(self) -> int:
        """Rows with at least one error."""
        return self.n_rows - self.n_valid

    def error_records(
        self,
        limit: int | None = None,
        *,
        column: str | None = None,
        code: str | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Errors as JSON-ready dicts, optionally filtered by column or code, paginated."""
        errs = self.errors
        if column is not None:
            errs = errs[errs["column"] == column]
        if code is not None:
            errs = errs[errs["code"] == code]
        errs = errs.iloc[offset : None if limit is None else offset + limit]
        return [_json_error(r) for r in errs.to_dict("records")]

    def error_summary(self) -> list[dict[str, Any]]:
        """Errors grouped by (column, code, value): the count, the first rows, message and
        suggestion; what the wizard shows for "apply this fix to all N rows"."""
        if self.errors.empty:
            return []
        errs = self.errors.fillna({"value": ""})
        grouped = errs.groupby(["column", "field", "code", "value"], sort=False)
        out = []
        for (column, fld, code, value), group in grouped:
            out.append(
                {
                    "column": column,
                    "field": fld,
                    "code": code,
                    "value": value or None,
                    "count": len(group),
                    "rows": [int(r) for r in group["row"].iloc[:10]],
                    "message": group["message"].iloc[0],
                    "suggestion": group["suggestion"].iloc[0],
                }
            )
        out.sort(key=lambda e: -e["count"])
        return out

    def valid_data(self) -> pd.DataFrame:
        """The normalised rows without errors."""
        return self.data[self.valid.to_numpy()]

    def detected_options(self) -> MappingOptions:
        """The decimal separators and date orders decided for this file, as options to pass to
        :func:`revalidate_row` so one fixed row is read like the whole column was."""
        decimal = {
            f: d["decimal"]
            for f, d in self.detected.items()
            if f in NUMBER_FIELDS and d.get("decimal")
        }
        order = {
            f: d["order"] for f, d in self.detected.items() if f in DATE_FIELDS and d.get("order")
        }
        return MappingOptions(decimal=decimal or None, date_order=order or None)

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals: ``{"rows", "valid", "invalid", "errors", "detected", "notes"}``."""
        return {
            "rows": self.n_rows,
            "valid": self.n_valid,
            "invalid": self.n_invalid,
            "errors": len(self.errors),
            "detected": self.detected,
            "notes": self.notes,
            "assumptions": self.assumptions,
        }


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _json_error(rec: MappingABC[str, Any]) -> dict[str, Any]:
    return {k: _json_value(rec.get(k)) for k in ERROR_COLUMNS}


# --------------------------------------------------------------------------------------------


def _engine_column(raw: pd.Series, kind: str) -> Parsed:
    """Units and currencies through the engine, which sees each distinct value once."""
    from emissions.engine import fx, units

    parse: Callable[[pd.Series], tuple[pd.Series, MappingABC[str, Any]]] = (
        units.parse_unit_column if kind == "unit" else fx.parse_currency_column
    )
    text = raw if isinstance(raw.dtype, pd.StringDtype) else raw.astype("str")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    canonical, errs = parse(distinct)
    per_value = [None if isinstance(v, float) or v is None else str(v) for v in canonical.tolist()]
    if kind == "unit":
        # An energy unit keeps its calorific-value basis ("kWh (Net CV)" -> "kWh (net CV)"), so
        # the engine converts a net quantity to a gross factor with the fuel's CV ratio.
        per_value = [
            _with_cv_basis(v, u, units) if v is not None else None
            for v, u in zip(per_value, distinct.tolist(), strict=True)
        ]
    values = take_distinct(per_value, codes, raw.index, "str")
    outs = []
    for u, v in zip(distinct.tolist(), per_value, strict=True):
        err = errs.get(str(u)) if v is None else None
        if v is None and err is None:
            outs.append((f"invalid_{kind}", f"'{u}' is not a valid {kind}", ""))
        elif err is not None:
            outs.append(
                (
                    str(getattr(err, "code", None) or f"invalid_{kind}"),
                    err.message.rstrip("."),
                    err.suggestion or "",
                )
            )
        else:
            outs.append(("", "", ""))
    errors = errors_per_distinct(
        raw.index, text, codes, [o[0] for o in outs], [o[1] for o in outs], [o[2] for o in outs]
    )
    return Parsed(values, errors)


def _with_cv_basis(canonical: str, raw: Any, units: Any) -> str:
    basis = units.parse_cv_basis(raw)
    if basis and units.unit_dimension(canonical) == "energy":
        return f"{canonical} ({basis} CV)"
    return canonical


def _row_regions(
    data: MappingABC[str, pd.Series], region: pd.Series | str | None, index: pd.Index
) -> tuple[pd.Series, np.ndarray]:
    """Each row's region: the caller's ``region`` where it gives one, else the row's country
    (its column or the mapping's constant); missing where neither says. Also whether each row's
    region is the caller's."""
    out = (
        data["country"].astype(object)
        if "country" in data
        else pd.Series(None, index=index, dtype=object)
    )
    if isinstance(region, str):
        given = pd.Series(region, index=index, dtype=object)
    elif region is not None:
        given = pd.Series(region, dtype=object).reindex(index)
    else:
        return out, np.zeros(len(index), dtype=bool)
    mine = (given.notna() & (given.astype(str).str.strip() != "")).to_numpy(dtype=bool)
    return given.where(mine, out), mine


def _regional_units(
    units_now: pd.Series,
    raw: pd.Series | None,
    constant: str | None,
    regions: pd.Series,
    column: str,
    from_caller: np.ndarray | None = None,
) -> tuple[pd.Series, pd.DataFrame, list[dict[str, Any]]]:
    """Units whose meaning depends on the region ("gal") read by each row's region: the units,
    the errors of rows no region decides, and the assumptions made (one text per reading)."""
    from emissions.engine import units
    from emissions.engine.errors import UnitError

    index = units_now.index
    text = raw if raw is not None else pd.Series(constant, index=index, dtype=object)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    regional = np.array([units.is_regional_unit(u) for u in uniques], dtype=bool)
    if not len(uniques) or not regional.any():
        return units_now, empty_errors(), []
    rows = np.flatnonzero((codes >= 0) & regional[np.maximum(codes, 0)])
    region_text = regions.to_numpy(dtype=object)[rows]
    region_text = np.array(["" if pd.isna(r) else str(r) for r in region_text], dtype=object)
    caller = (np.zeros(len(rows), dtype=bool) if from_caller is None else from_caller[rows]).astype(
        np.int64
    )
    pairs = pd.MultiIndex.from_arrays([codes[rows], region_text, caller])
    pair_codes, pair_uniques = pd.factorize(pairs)
    values = units_now.to_numpy(dtype=object).copy()
    frames = []
    assumptions = []
    for j, (code, where, by_caller) in enumerate(pair_uniques):
        mine = rows[pair_codes == j]
        unit_text = str(uniques[code])
        said_by = ("row country", "row region", "organisation country")[int(by_caller)]
        try:
            canonical, said = units.resolve_regional_unit(unit_text, where or None, said_by=said_by)
        except UnitError as exc:
            values[mine] = None
            mask = np.zeros(len(index), dtype=bool)
            mask[mine] = True
            frames.append(
                _rule_errors(
                    index,
                    mask,
                    column,
                    "unit",
                    text.astype("str") if raw is not None else None,
                    exc.code or "unit_ambiguous",
                    exc.message.rstrip("."),
                    exc.suggestion or "",
                )
            )
            continue
        values[mine] = canonical
        assumptions.append(
            {
                "code": "regional_unit",
                "field": "unit",
                "column": column,
                "count": len(mine),
                "text": said,
            }
        )
    out = pd.Series(values, index=index, dtype=units_now.dtype)
    errors = concat_errors(frames) if frames else empty_errors()
    return out, errors, assumptions


def _parse_field(
    fld: str, raw: pd.Series, options: MappingOptions, native: np.ndarray | None
) -> Parsed:
    if fld in DATE_FIELDS:
        return parse_dates(raw, order=options.date_order_for(fld))
    if fld in NUMBER_FIELDS:
        return parse_numbers(raw, decimal=options.decimal_for(fld), native=native)
    if fld == "unit":
        return _engine_column(raw, "unit")
    if fld == "currency":
        return _engine_column(raw, "currency")
    if fld == "country":
        return parse_country(raw)
    if fld == "scope":
        return parse_scope(raw)
    if fld == "category":
        return parse_category(raw)
    if fld == "correction":
        return parse_flag(raw)
    if fld == "data_quality":
        return parse_data_quality(raw)
    return parse_text(raw, max_length=TEXT_MAX_LENGTH.get(fld))


def _constant(fld: str, text: str, options: MappingOptions, index: pd.Index) -> pd.Series:
    """A constant parsed once and broadcast; an invalid constant is a mapping error."""
    one = pd.Series([text], dtype="str")
    parsed = _parse_field(fld, one, options, None)
    if len(parsed.errors):
        err = parsed.errors.iloc[0]
        raise PipelineError(
            "mapping_invalid",
            f"The constant {FIELD_LABELS[fld].lower()} '{text}' is not valid: {err['message']}. "
            f"{err['suggestion']}".strip(),
            field=fld,
            value=text,
        )
    value = parsed.values.iloc[0]
    return pd.Series(
        [value] * len(index) if len(index) else [], index=index, dtype=parsed.values.dtype
    )


def _with_where(errs: pd.DataFrame, column: str, fld: str) -> pd.DataFrame:
    if errs.empty:
        return errs
    errs = errs.copy()
    errs.insert(0, "field", fld)
    errs.insert(0, "column", column)
    return errs


def _rule_errors(
    index: pd.Index,
    mask: np.ndarray,
    column: str,
    fld: str,
    raw: pd.Series | None,
    code: str,
    message: str,
    suggestion: str,
) -> pd.DataFrame:
    if not mask.any():
        return empty_errors()
    rows = index[mask]
    values = (
        pd.Series(raw.to_numpy()[mask], index=rows, dtype="str")
        if raw is not None
        else pd.Series(pd.NA, index=rows, dtype="str")
    )
    out = pd.DataFrame(
        {
            "column": column,
            "field": fld,
            "value": values,
            "code": code,
            "message": message,
            "suggestion": suggestion,
        },
        index=pd.Index(rows, name="row"),
    )
    return out


def _correction_mask(
    notes: pd.Series | None, flag: pd.Series | None, words: Iterable[str]
) -> np.ndarray | None:
    mask = None
    if flag is not None:
        mask = flag.fillna(False).to_numpy(dtype=bool)
    if notes is not None:
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
        hit = map_distinct(notes, lambda t: (bool(pattern.search(t)), "", "", ""), kind="bool")
        note_mask = hit.values.to_numpy(dtype=bool)
        mask = note_mask if mask is None else (mask | note_mask)
    return mask


def validate(
    frame: pd.DataFrame,
    mapping: Mapping,
    options: MappingOptions | MappingABC[str, Any] | None = None,
    *,
    native_numbers: MappingABC[str, np.ndarray] | None = None,
    convert_currency: bool = True,
    region: pd.Series | str | None = None,
    default_region: str | None = None,
) -> ValidationResult:
    """Validate every row of ``frame`` (text cells, index = spreadsheet rows, as
    :func:`~imports.pipeline.read.read_upload` returns) under ``mapping``.

    ``options`` override the mapping's options (e.g. the user picked a decimal separator in the
    wizard). ``native_numbers`` is ``ReadResult.native_numbers``. Amounts are converted to EUR
    through the engine unless ``convert_currency`` is False. ``region`` is each row's region as
    the caller decided it (a Series indexed like ``frame``, ISO 3166 alpha-2, missing where it
    has none, e.g. from sites or the organisation; or one code for all rows): where it gives one
    it is used, else the row's country column or constant. Units whose meaning depends on it
    ("gal") are read by it or refused. ``default_region`` (the organisation's country) decides
    the rows that neither names. Raises :class:`PipelineError` when the mapping is
    incomplete, names a column the frame lacks, or has an invalid constant.
    """
    opts = mapping.options.merged(options)
    headers = [str(c) for c in frame.columns]
    mapping.check(headers)
    index = frame.index
    natives = native_numbers or {}

    data: dict[str, pd.Series] = {}
    raws: dict[str, pd.Series | None] = {}
    frames: list[pd.DataFrame] = []
    detected: dict[str, dict[str, Any]] = {}
    for fld in FIELDS:
        if fld in mapping.columns:
            col = mapping.columns[fld]
            raw = frame[col]
            parsed = _parse_field(fld, raw, opts, natives.get(col))
            data[fld] = parsed.values
            raws[fld] = raw
            frames.append(_with_where(parsed.errors, col, fld))
            if parsed.detected:
                detected[fld] = parsed.detected
        elif fld in mapping.constants:
            data[fld] = _constant(fld, mapping.constants[fld], opts, index)
            raws[fld] = None

    def source(fld: str) -> str:
        return mapping.source_of(fld) or FIELD_LABELS[fld]

    assumptions: list[dict[str, Any]] = []
    for fld, info in detected.items():
        if info.get("assumption"):
            assumptions.append(
                {
                    "code": "date_order",
                    "field": fld,
                    "column": source(fld),
                    "count": len(index),
                    "text": info["assumption"],
                }
            )
    regions, from_caller = _row_regions(data, region, index)
    if default_region:
        # 0: the row's country, 1: the caller's region, 2: the organisation's country.
        missing = (regions.isna() | (regions.astype(str).str.strip() == "")).to_numpy(dtype=bool)
        from_caller = from_caller.astype(np.int64)
        from_caller[missing] = 2
        regions = regions.where(~missing, default_region)
    if "unit" in data:
        data["unit"], unit_errors, unit_assumptions = _regional_units(
            data["unit"],
            raws.get("unit"),
            mapping.constants.get("unit"),
            regions,
            source("unit"),
            from_caller,
        )
        frames.append(unit_errors)
        assumptions.extend(unit_assumptions)

    def empty(fld: str) -> np.ndarray:
        raw = raws.get(fld)
        if fld in mapping.constants:
            return np.zeros(len(index), dtype=bool)
        if raw is None:
            return np.ones(len(index), dtype=bool)
        return raw.isna().to_numpy()

    def present(fld: str) -> np.ndarray:
        if fld not in data:
            return np.zeros(len(index), dtype=bool)
        return data[fld].notna().to_numpy()

    # A date, or a period.
    if mapping.has("date"):
        missing = empty("date")
        if mapping.has("period_start") and mapping.has("period_end"):
            missing &= ~(present("period_start") & present("period_end"))
        frames.append(
            _rule_errors(
                index,
                missing,
                source("date"),
                "date",
                None,
                "missing_date",
                "The date is missing",
                "Enter the date of the activity.",
            )
        )
    else:
        frames.extend(
            _rule_errors(
                index,
                empty(fld),
                source(fld),
                fld,
                None,
                f"missing_{fld}",
                f"The {FIELD_LABELS[fld].lower()} is missing",
                "Enter the first and last day of the period.",
            )
            for fld in ("period_start", "period_end")
        )
    if "period_start" in data and "period_end" in data:
        start, end = data["period_start"].to_numpy(), data["period_end"].to_numpy()
        reversed_ = present("period_start") & present("period_end") & (end < start)
        frames.append(
            _rule_errors(
                index,
                reversed_,
                source("period_end"),
                "period_end",
                raws.get("period_end"),
                "period_reversed",
                "The period ends before it starts",
                "Swap the start and end dates.",
            )
        )

    frames.append(
        _rule_errors(
            index,
            empty("activity"),
            source("activity"),
            "activity",
            None,
            "missing_activity",
            "The activity description is missing",
            "Describe the activity (e.g. Diesel, Electricity, Flight FRA-JFK).",
        )
    )

    # Quantity with unit, or amount with currency.
    q_ok = present("quantity") & present("unit")
    a_ok = present("amount") & present("currency")
    basis_missing = ~(q_ok | a_ok)
    if basis_missing.any():
        if mapping.has("quantity"):
            frames.append(
                _rule_errors(
                    index,
                    basis_missing & present("quantity") & empty("unit"),
                    source("unit"),
                    "unit",
                    None,
                    "missing_unit",
                    "The unit is missing",
                    "Enter the unit of the quantity (e.g. kWh, L, kg, km) or set a constant unit.",
                )
            )
        if mapping.has("amount"):
            frames.append(
                _rule_errors(
                    index,
                    basis_missing & present("amount") & empty("currency"),
                    source("currency"),
                    "currency",
                    None,
                    "missing_currency",
                    "The currency is missing",
                    "Enter the currency (e.g. EUR) or set a constant currency.",
                )
            )
        nothing = basis_missing & empty("quantity") & empty("amount")
        target = "quantity" if mapping.has("quantity") else "amount"
        frames.append(
            _rule_errors(
                index,
                nothing,
                source(target),
                target,
                None,
                "missing_quantity",
                "There is no quantity or amount",
                "Enter the quantity (with its unit) or the amount (with its currency).",
            )
        )

    # Negative values only on corrections.
    correction = _correction_mask(
        data.get("notes") if "notes" in mapping.columns else None,
        data.get("correction"),
        [*CORRECTION_WORDS, *opts.correction_words],
    )
    is_correction = correction if correction is not None else np.zeros(len(index), dtype=bool)
    for fld in NUMBER_FIELDS:
        if fld in data:
            negative = (data[fld].to_numpy() < 0) & ~is_correction
            frames.append(
                _rule_errors(
                    index,
                    negative,
                    source(fld),
                    fld,
                    raws.get(fld),
                    f"negative_{fld}",
                    f"The {FIELD_LABELS[fld].lower()} is negative but the row is not marked as a correction",
                    "If this row corrects an earlier one, say so in a Correction column (yes) or in "
                    "the notes (e.g. 'correction'); otherwise enter a positive number.",
                )
            )

    if "scope" in data and "category" in data:
        scope, category = data["scope"], data["category"]
        both = (scope.notna() & category.notna()).to_numpy(dtype=bool)
        not_three = scope.fillna(3).to_numpy(dtype=int) != 3
        frames.append(
            _rule_errors(
                index,
                both & not_three,
                source("category"),
                "category",
                raws.get("category"),
                "category_outside_scope_3",
                "A Scope 3 category is given on a row that is not Scope 3",
                "Clear the category, or set the row's scope to 3.",
            )
        )

    out = pd.DataFrame(data, index=index)
    out["is_correction"] = is_correction
    if region is not None:
        out["region"] = regions

    if convert_currency and "amount" in data and "currency" in data:
        frames.append(_convert_to_eur(out, mapping, source("currency"), raws.get("currency")))

    errors = _finish_errors(frames)
    bad_rows = np.unique(errors["row"].to_numpy()) if len(errors) else np.array([], dtype=np.int64)
    valid = pd.Series(~index.isin(bad_rows), index=index, name="valid")
    notes = _column_notes(detected, mapping)
    return ValidationResult(out, valid, errors, detected, mapping, notes, assumptions)


def _convert_to_eur(
    out: pd.DataFrame, mapping: Mapping, column: str, raw_currency: pd.Series | None
) -> pd.DataFrame:
    """Add ``amount_eur``, ``fx_rate`` and ``fx_rate_date`` (engine, ECB rate at the row's date
    or, without one, at the period's end); rows the engine cannot convert get an error."""
    from emissions.engine.fx import to_eur

    when = next((out[f] for f in ("date", "period_end", "period_start") if f in out), None)
    n = len(out)
    eur = np.full(n, np.nan)
    rate = np.full(n, np.nan)
    rate_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    result = empty_errors()
    if when is not None:
        # Prefer the date; where it is missing use the period's end.
        if "date" in out and "period_end" in out:
            when = out["date"].fillna(out["period_end"])
        ok = (out["amount"].notna() & out["currency"].notna() & when.notna()).to_numpy()
        if ok.any():
            conv = to_eur(
                out["amount"].to_numpy()[ok],
                out["currency"].to_numpy(dtype=object)[ok],
                when.to_numpy()[ok],
                errors="coerce",
            )
            eur[ok] = conv["eur"].to_numpy()
            rate[ok] = conv["rate"].to_numpy()
            rate_date[ok] = conv["rate_date"].to_numpy().astype("datetime64[s]")
            err = conv["error"].to_numpy()
            bad = np.fromiter((e is not None for e in err), dtype=bool, count=len(err))
            if bad.any():
                rows = out.index[ok][bad]
                found = err[bad]
                values = (
                    raw_currency.loc[rows].to_numpy()
                    if raw_currency is not None
                    else out["currency"].to_numpy()[ok][bad]
                )
                result = pd.DataFrame(
                    {
                        "column": column,
                        "field": "currency",
                        "value": pd.Series(values, index=rows, dtype="str"),
                        "code": [e.get("code") or "fx" for e in found],
                        "message": [(e.get("message") or "").rstrip(".") for e in found],
                        "suggestion": [e.get("suggestion") or "" for e in found],
                    },
                    index=pd.Index(rows, name="row"),
                )
    out["amount_eur"] = eur
    out["fx_rate"] = rate
    out["fx_rate_date"] = rate_date
    return result


def _finish_errors(frames: list[pd.DataFrame]) -> pd.DataFrame:
    errs = concat_errors(frames)
    if errs.empty:
        return pd.DataFrame(
            {c: pd.Series([], dtype="int64" if c == "row" else "str") for c in ERROR_COLUMNS}
        )
    errs = errs.reset_index()
    order = {f: i for i, f in enumerate(FIELDS)}
    errs["_f"] = errs["field"].map(order)
    errs = errs.sort_values(["row", "_f"], kind="stable").drop(columns="_f")
    errs = errs[list(ERROR_COLUMNS)].reset_index(drop=True)
    for c in ERROR_COLUMNS[1:]:
        errs[c] = errs[c].astype("str")
    errs["row"] = errs["row"].astype("int64")
    return errs


def _column_notes(detected: dict[str, dict[str, Any]], mapping: Mapping) -> list[dict[str, Any]]:
    """Column-level hints: ambiguity the user can settle once with an option."""
    notes = []
    for fld, info in detected.items():
        column = mapping.source_of(fld)
        if fld in NUMBER_FIELDS:
            if info.get("ambiguous"):
                notes.append(
                    {
                        "field": fld,
                        "column": column,
                        "code": "decimal_undecided",
                        "count": info["ambiguous"],
                        "message": f"{info['ambiguous']} value(s) in '{column}' can be read "
                        "with a decimal point or a decimal comma; choose the "
                        "column's decimal separator.",
                    }
                )
            if info.get("point_evidence") and info.get("comma_evidence"):
                notes.append(
                    {
                        "field": fld,
                        "column": column,
                        "code": "mixed_number_formats",
                        "count": info["point_evidence"] + info["comma_evidence"],
                        "message": f"'{column}' mixes decimal points and decimal commas.",
                    }
                )
        if fld in DATE_FIELDS and info.get("ambiguous"):
            notes.append(
                {
                    "field": fld,
                    "column": column,
                    "code": "date_order_undecided",
                    "count": info["ambiguous"],
                    "message": f"{info['ambiguous']} date(s) in '{column}' can be read day "
                    "first or month first; choose the column's date order.",
                }
            )
    return notes


# --------------------------------------------------------------------------------------------
# preview, single rows, bulk fixes


def preview(
    frame: pd.DataFrame,
    mapping: Mapping,
    n: int = 10,
    *,
    options: MappingOptions | MappingABC[str, Any] | None = None,
    native_numbers: MappingABC[str, np.ndarray] | None = None,
    sample_rows: int = 5000,
    region: pd.Series | str | None = None,
    default_region: str | None = None,
) -> dict[str, Any]:
    """The first ``n`` rows after mapping: per field the raw cell beside the normalised value
    and its errors. Formats are detected on the first ``sample_rows`` rows.

    Returns ``{"fields": [{"field", "label", "source"}], "rows": [{"row", "valid", "cells":
    {field: {"raw", "value", "errors": [...]}}}], "detected": {...}, "notes": [...],
    "assumptions": [...]}``, JSON-ready. ``region`` as for :func:`validate`.
    """
    head = frame.iloc[:sample_rows]
    natives = {k: v[:sample_rows] for k, v in (native_numbers or {}).items()}
    if isinstance(region, pd.Series):
        region = region.reindex(head.index)
    result = validate(
        head, mapping, options, native_numbers=natives, region=region, default_region=default_region
    )
    fields = [f for f in FIELDS if mapping.has(f)]
    rows = []
    by_row = result.errors.groupby("row") if len(result.errors) else None
    for row in head.index[:n]:
        errs = by_row.get_group(row) if by_row is not None and row in by_row.groups else None
        cells = {}
        for fld in fields:
            raw = (
                head.at[row, mapping.columns[fld]]
                if fld in mapping.columns
                else mapping.constants[fld]
            )
            cells[fld] = {
                "raw": _json_value(raw),
                "value": _json_value(result.data.at[row, fld]),
                "errors": []
                if errs is None
                else [_json_error(e) for e in errs[errs["field"] == fld].to_dict("records")],
            }
        rows.append({"row": int(row), "valid": bool(result.valid.at[row]), "cells": cells})
    return {
        "fields": [
            {"field": f, "label": FIELD_LABELS[f], "source": mapping.source_of(f)} for f in fields
        ],
        "rows": rows,
        "detected": result.detected,
        "notes": result.notes,
        "assumptions": result.assumptions,
    }


@dataclass
class RowCheck:
    """One row re-validated: whether it is valid now, its normalised values and errors."""

    row: int
    valid: bool
    values: dict[str, Any]
    errors: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"row": self.row, "valid": self.valid, "values": self.values, "errors": self.errors}


def revalidate_row(
    frame: pd.DataFrame,
    mapping: Mapping,
    row: int,
    *,
    fixes: MappingABC[str, str | None] | None = None,
    detected: MappingOptions | None = None,
    options: MappingOptions | MappingABC[str, Any] | None = None,
    native_numbers: MappingABC[str, np.ndarray] | None = None,
    region: pd.Series | str | None = None,
    default_region: str | None = None,
) -> RowCheck:
    """Re-check one row after the user fixed cells in it: ``fixes`` maps the user's column
    names to the new text (applied to this row only; the frame is not copied). Pass
    ``result.detected_options()`` as ``detected`` so the row is read with its columns' decimal
    separators and date orders, as the whole file was. Costs one row's work."""
    if row not in frame.index:
        raise PipelineError("row_not_found", f"There is no row {row} in this import.", row=row)
    pos = frame.index.get_loc(row)
    sub = frame.iloc[[pos]]
    natives = {k: v[[pos]] for k, v in (native_numbers or {}).items()}
    if fixes:
        sub, natives = apply_fixes(sub, [(row, c, v) for c, v in fixes.items()], natives)
    merged = (detected or MappingOptions()).merged(options)
    if isinstance(region, pd.Series):
        region = region.reindex(sub.index)
    result = validate(
        sub, mapping, merged, native_numbers=natives, region=region, default_region=default_region
    )
    values = {f: _json_value(result.data.iloc[0][f]) for f in result.data.columns}
    return RowCheck(int(row), bool(result.valid.iloc[0]), values, result.error_records())


def apply_fixes(
    frame: pd.DataFrame,
    fixes: Iterable[tuple[int, str, str | None]],
    native_numbers: MappingABC[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A copy of ``frame`` with the user's cell fixes ``(row, column, new text)`` applied (and
    those cells no longer marked as workbook numbers). One replacement per fixed column, so
    thousands of fixes on a million rows stay cheap; a later fix of a cell wins."""
    by_column: dict[str, dict[int, str | None]] = {}
    for row, column, value in fixes:
        if column not in frame.columns:
            raise PipelineError(
                "column_not_found", f"There is no column '{column}'.", column=column
            )
        text = None if value is None or not str(value).strip() else str(value).strip()
        by_column.setdefault(column, {})[row] = text
    out = frame.copy(deep=False)
    natives = {k: v.copy() for k, v in (native_numbers or {}).items()}
    for column, cells in by_column.items():
        positions = frame.index.get_indexer(list(cells))
        if (positions < 0).any():
            missing = [r for r, p in zip(cells, positions, strict=True) if p < 0]
            raise PipelineError(
                "row_not_found", f"There is no row {missing[0]} in this import.", row=missing[0]
            )
        order = np.argsort(positions)
        mask = np.zeros(len(frame), dtype=bool)
        mask[positions] = True
        replacements = pa.array([list(cells.values())[i] for i in order], pa.large_string())
        column_data = as_arrow(frame[column])
        fixed = pc.replace_with_mask(column_data.combine_chunks(), pa.array(mask), replacements)
        out[column] = pd.Series(pd.array(fixed, dtype="str"), index=frame.index)
        if column in natives:
            natives[column][positions] = False
    return out, natives


def _matches(series: pd.Series, value: str | None) -> pd.Series:
    if value is None or not str(value).strip():
        return series.isna()
    return series.str.strip().eq(str(value).strip()).fillna(False)


def count_value(frame: pd.DataFrame, column: str, value: str | None) -> int:
    """How many cells of ``column`` hold ``value`` (compared trimmed; None = empty cells)."""
    return int(_matches(frame[column], value).sum())


def replace_value(
    frame: pd.DataFrame, column: str, old: str | None, new: str | None
) -> tuple[pd.DataFrame, int]:
    """ "Apply this fix to all N rows": a copy of ``frame`` with every ``old`` cell of
    ``column`` set to ``new``, and how many cells changed (one column operation)."""
    if column not in frame.columns:
        raise PipelineError("column_not_found", f"There is no column '{column}'.", column=column)
    mask = _matches(frame[column], old)
    out = frame.copy()
    new_text = None if new is None or not str(new).strip() else str(new).strip()
    out[column] = out[column].mask(mask.to_numpy(), new_text)
    return out, int(mask.sum())
