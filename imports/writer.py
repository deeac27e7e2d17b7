"""The commit's write: a prepared run's valid rows as ActivityRecord columns (an Arrow table built
column by column), the duplicate check against the inventory (fingerprints), and one COPY in one
transaction."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from emissions import provenance as provenance_parts
from emissions.companions import companion_records
from emissions.engine.calculate import money_of
from emissions.factor_keys import factor_key_id, is_library_key
from emissions.inventory import (
    DEFAULT_GWP_SET,
    factor_version,
    provenance_key,
    scope_int,
)
from emissions.models import ActivityRecord
from emissions.services_scope2 import scope2_market_reallocate, scope2_sites_of_run
from emissions.services_uncertainty import uncertainty_run_request
from emissions.uncertainty_defaults import record_data_quality
from factortrace.tenancy import current_schema
from imports.errors import ImportInputError
from imports.models import FactorChoice, ImportRun, ImportStatus
from imports.preparation import ActivityChoiceRow, Prepared, combined_codes

# Rows already in the inventory: "refuse" stops the commit and asks, "skip" leaves them out,
# "import" writes them again (the user says they are distinct activities).
DUPLICATES_REFUSE, DUPLICATES_SKIP, DUPLICATES_IMPORT = "refuse", "skip", "import"
DUPLICATE_CHOICES = (DUPLICATES_REFUSE, DUPLICATES_SKIP, DUPLICATES_IMPORT)


STOPPED_MESSAGE = (
    "The import stopped before it finished (its worker was interrupted); nothing was written. "
    "Retry it."
)


def duplicates_message(n: int) -> str:
    return (
        f"{n:,} row{'s are' if n != 1 else ' is'} already in your inventory (same date, activity, "
        "quantity, unit and site). Choose to skip them or to import them anyway."
    )


class LeaseLostError(RuntimeError):
    """The commit job lost its run: its worker is gone, or the run was failed by the sweeper."""


FINGERPRINT_COLUMNS = (
    "date",
    "period_end",
    "activity",
    "quantity",
    "unit",
    "amount",
    "currency",
    "site",
)


def _committed_rows_excluded(table: pa.Table, run_id: int | None) -> pa.Table:
    """The rows of `table` this run has not imported yet (a partly imported run's fixed rows)."""
    if run_id is None or table.num_rows == 0:
        return table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source_row FROM {ActivityRecord._meta.db_table} WHERE import_run_id = %s",  # noqa: S608 (a model's table)
            [run_id],
        )
        done = [r[0] for r in cursor.fetchall()]
    if not done:
        return table
    keep = pc.invert(pc.is_in(table["source_row"], value_set=pa.array(done, type=pa.int64())))
    return table.filter(keep)


def duplicate_mask(table: pa.Table) -> np.ndarray:
    """Which rows of a records table are already in the inventory: a record with the same
    fingerprint (date, period end, activity, quantity or amount, unit or currency, site).

    Computed in SQL against the records (manual ones too): the rows' fingerprints go to a
    temporary table by COPY and one hash semi-join answers. When no record falls in the file's
    date range, nothing is sent.
    """
    n = table.num_rows
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    bounds = pc.min_max(table["date"]).as_py()
    records = ActivityRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {records} WHERE date BETWEEN %s AND %s)",  # noqa: S608 (a model's table)
            [bounds["min"], bounds["max"]],
        )
        if not cursor.fetchone()[0]:
            return mask
    keys = table.select(list(FINGERPRINT_COLUMNS)).add_column(
        0, "i", pa.array(np.arange(n, dtype=np.int64))
    )
    buffer = io.BytesIO()
    pacsv.write_csv(
        keys, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_fingerprint")
        cursor.execute(
            "CREATE TEMP TABLE import_fingerprint (i bigint, date date, period_end date, "
            "activity text, quantity double precision, unit text, amount double precision, "
            "currency text, site text) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY import_fingerprint FROM STDIN WITH (FORMAT csv, "
            "FORCE_NOT_NULL (activity, unit, currency, site))"
        ) as copy:
            copy.write(buffer.getbuffer())
        # No ANALYZE: the planner sizes the fresh table from its pages, which is enough to hash
        # the smaller side (measured: a third of the check's time saved on 117k rows).
        cursor.execute(
            "SELECT k.i FROM import_fingerprint k WHERE EXISTS ("  # noqa: S608 (a model's table)
            f"SELECT 1 FROM {records} r WHERE r.date = k.date AND r.activity = k.activity "
            "AND r.unit = k.unit AND r.currency = k.currency AND r.site = k.site "
            "AND r.quantity IS NOT DISTINCT FROM k.quantity "
            "AND r.amount IS NOT DISTINCT FROM k.amount "
            "AND r.period_end IS NOT DISTINCT FROM k.period_end "
            # Only the records of the file's dates are hashed (the date index finds them).
            "AND r.date BETWEEN %s AND %s)",
            [bounds["min"], bounds["max"]],
        )
        found = [r[0] for r in cursor.fetchall()]
        cursor.execute("DROP TABLE pg_temp.import_fingerprint")
    mask[found] = True
    return mask


def count_duplicates(prepared: Prepared, *, run_id: int | None = None) -> tuple[int, int]:
    """(rows this run would import, how many of them are already in the inventory)."""
    if prepared.n_valid == 0:
        return 0, 0
    table = _committed_rows_excluded(fingerprint_table(prepared), run_id)
    return table.num_rows, int(duplicate_mask(table).sum())


def _commit_lock() -> None:
    """Serialise the commits of one tenant, so each one's duplicate check sees every record the
    others wrote (a transaction-level advisory lock, released at commit or rollback)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"imports.commit:{current_schema()}"]
        )


def import_run_write(
    *,
    run_id: int,
    prepared: Prepared,
    duplicates: str = DUPLICATES_REFUSE,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Write a prepared run's new records in one transaction (COPY) and mark it imported.

    Rows this run imported before (fix later) are not written again; rows already in the
    inventory are refused (ImportInputError, nothing written), skipped or written, as chosen.
    The run ends committed, or partly imported while invalid rows remain. The status changes with
    a conditional UPDATE: a run no longer committing (swept) rolls everything back.
    """
    check = checkpoint or (lambda: None)
    with transaction.atomic():
        _commit_lock()
        run = ImportRun.objects.get(id=run_id)
        if run.status != ImportStatus.COMMITTING:
            return 0
        if prepared.n_valid:
            calculations, table = records_frame(
                prepared, run_id=run.id, user_id=run.committed_by_id
            )
        else:
            calculations, table = {}, pa.table({c: pa.nulls(0) for c in RECORD_COLUMNS})
        table = _committed_rows_excluded(table, run.id)
        found = duplicate_mask(table)
        n_duplicates = int(found.sum())
        if n_duplicates and duplicates == DUPLICATES_REFUSE:
            raise ImportInputError(
                duplicates_message(n_duplicates) + " Nothing was written.", code="duplicates"
            )
        if n_duplicates and duplicates == DUPLICATES_SKIP:
            table = table.filter(pa.array(~found))
        # WTT / T&D lines of the rows written, in the same COPY (emissions/companions.py); the
        # run's counts and total stay those of the main lines.
        line_calculations, lines = companion_records(
            prepared,
            table,
            frame_of=lambda p: records_frame(p, run_id=run.id, user_id=run.committed_by_id),
        )
        calculations = {**calculations, **line_calculations}
        check()
        copy_records(pa.concat_tables([table, lines]) if lines else table, checkpoint=check)
        written = table.num_rows
        factor_choices_remember(prepared.choices, run.committed_by_id)
        check()
        kg = float(pc.sum(table["kg_co2e"]).as_py() or 0.0) if written else 0.0
        if run.records_created:
            # A partly imported run: its total covers every main record it holds.
            kg = float(
                ActivityRecord.objects.filter(import_run_id=run.id, line_kind="main").aggregate(
                    s=Sum("kg_co2e")
                )["s"]
                or 0.0
            )
        n_lines = lines.num_rows if lines else 0
        total = run.records_created + written
        skipped = n_duplicates if duplicates == DUPLICATES_SKIP else 0
        status = ImportStatus.PARTIAL if prepared.n_invalid else ImportStatus.COMMITTED
        message = (
            f"Imported {written:,} records"
            + (f" (and {n_lines:,} WTT / T&D companion lines)" if n_lines else "")
            + (f"; {skipped:,} already in the inventory were skipped" if skipped else "")
        )
        updated = ImportRun.objects.filter(id=run.id, status=ImportStatus.COMMITTING).update(
            status=status,
            records_created=total,
            rows_total=prepared.n_rows,
            rows_valid=prepared.n_valid,
            rows_invalid=prepared.n_invalid,
            rows_duplicate=0,
            kg_co2e=kg,
            committed_at=timezone.now(),
            progress=100,
            progress_message=message,
            lease_until=None,
            error="",
            detected={
                **run.detected,
                "calculations": {**run.detected.get("calculations", {}), **calculations},
                "duplicates_skipped": skipped,
                "rows_excluded": prepared.n_excluded,
                "companion_lines": n_lines,
                # Every valid row is in now; fixed rows count again at the next check.
                "rows_to_import": 0,
            },
        )
        if updated != 1:
            raise LeaseLostError(STOPPED_MESSAGE)
        # A contract's MWh cover its site's records of every import, in date order.
        scope2_market_reallocate(site_ids=scope2_sites_of_run(run_id=run_id))
        uncertainty_run_request()
    return written


def factor_choices_remember(choices: Iterable[ActivityChoiceRow], user_id: int | None) -> None:
    """Remember each distinct activity's factor for the tenant's next imports (one upsert).

    One per (activity, dimension): the choice of the most rows (choices come largest first); a
    grid factor is reused only for rows of its own region (``assign_factors``). A Scope 2
    supplier factor moved to the market-based side is remembered as the choice made.
    """
    rows: dict[tuple[str, str], FactorChoice] = {}
    for c in choices:
        if c.factor_key is None or (c.key, c.unit_dimension) in rows:
            continue
        supplier_id = c.supplier_factor_id or c.market_supplier_factor_id
        rows[(c.key, c.unit_dimension)] = FactorChoice(
            activity_key=c.key,
            unit_dimension=c.unit_dimension,
            factor_id=None if supplier_id else c.factor_id,
            supplier_factor_id=supplier_id,
            chosen_by_id=user_id,
        )
    FactorChoice.objects.bulk_create(
        list(rows.values()),
        update_conflicts=True,
        unique_fields=["activity_key", "unit_dimension"],
        update_fields=["factor", "supplier_factor", "chosen_by", "updated_at"],
        batch_size=1000,
    )


RECORD_COLUMNS = [
    "import_run_id",
    "source_row",
    "date",
    "period_end",
    "activity",
    "site",
    "supplier",
    "country",
    "notes",
    "is_correction",
    "quantity",
    "unit",
    "amount",
    "currency",
    "amount_eur",
    "scope",
    "category",
    "tier",
    "data_quality",
    "factor_id",
    "supplier_factor_id",
    "factor_version",
    "gwp_set",
    "kg_co2e",
    "kg_co2",
    "kg_ch4_co2e",
    "kg_n2o_co2e",
    "kg_other_co2e",
    "kg_co2e_market",
    "market_basis",
    "provenance",
    "line_kind",
    "created_by_id",
]
TIERS = ("primary", "secondary", "spend")
# Text columns that are never NULL (an empty cell is "").
TEXT_COLUMNS = (
    "activity",
    "site",
    "supplier",
    "country",
    "notes",
    "unit",
    "currency",
    "tier",
    "data_quality",
    "factor_version",
    "gwp_set",
    "market_basis",
    "provenance",
    "line_kind",
)
_TEXT_LIMITS = {
    "activity": 500,
    "site": 255,
    "supplier": 255,
    "country": 20,
    "unit": 60,
    "currency": 3,
}


def _per_distinct(
    values: pd.Series | pd.Categorical, func: Callable[[Any], Any], default: Any
) -> np.ndarray:
    """func applied once per distinct value, spread back to every row (missing -> default)."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([func(u) for u in uniques] + [default], dtype=object)
    return mapped[codes]


def _text_array(data: pd.DataFrame, name: str, index: pd.Index) -> pa.Array:
    if name not in data:
        return pa.array(np.full(len(index), "", dtype=object), type=pa.string())
    array = pa.array(data[name].astype("string[pyarrow]"), type=pa.string())
    array = pc.fill_null(array, "")
    limit = _TEXT_LIMITS.get(name)
    return pc.utf8_slice_codeunits(array, 0, limit) if limit else array


def _float_array(values: pd.Series | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.float64())
    return pa.array(
        values.to_numpy(dtype="float64", na_value=np.nan), type=pa.float64(), from_pandas=True
    )


def _date_array(values: pd.Series | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.date32())
    days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    return pa.array(days, type=pa.date32(), from_pandas=True)


def _masked(values: np.ndarray, keep: np.ndarray) -> pa.Array:
    """values where keep, NULL elsewhere (a nullable integer column, without a Python object per
    row)."""
    numbers = np.zeros(len(values), dtype=np.int64)
    numbers[keep] = values[keep].astype(np.int64)
    return pa.array(numbers, type=pa.int64(), mask=~keep)


def _int_array(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.int64(), from_pandas=True)


def _constant(value: Any, n: int, kind: pa.DataType) -> pa.Array:
    """One value (or NULL) on every row."""
    return pa.nulls(n, kind) if value is None else pa.repeat(pa.scalar(value, type=kind), n)


def _strings(values: np.ndarray | pd.Series) -> pa.Array:
    """A text column of few distinct values: converted once per distinct value."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(list(uniques), type=pa.string())
    )


def fingerprint_table(prepared: Prepared) -> pa.Table:
    """The valid rows' ``source_row`` and fingerprint columns, as ``records_frame`` builds them
    (the same helpers), without the rest of a record: the duplicate check of the check step
    needs no provenance, money or factor columns."""
    index = prepared.valid[prepared.valid].index
    data = prepared.result.data.loc[index]
    n = len(index)
    date = data["date"] if "date" in data else data.get("period_start")
    columns: dict[str, pa.Array] = {
        "source_row": pa.array(index.to_numpy(dtype="int64")),
        "date": _date_array(date, n),
        "period_end": _date_array(data.get("period_end"), n),
        "activity": _text_array(data, "activity", index),
        "quantity": _float_array(data.get("quantity"), n),
        "unit": _text_array(data, "unit", index),
        "amount": _float_array(data.get("amount"), n),
        "currency": _text_array(data, "currency", index),
        "site": _text_array(data, "site", index),
    }
    return pa.table(columns)


def records_frame(
    prepared: Prepared, *, run_id: int | None, user_id: int | None, gwp_set: str = DEFAULT_GWP_SET
) -> tuple[dict[str, Any], pa.Table]:
    """The valid rows as ActivityRecord columns (an Arrow table, built column by column), and the
    run's distinct calculations keyed as the records' provenance names them."""
    index = prepared.valid[prepared.valid].index
    calc = prepared.calculated.loc[index]
    data = prepared.result.data.loc[index]
    n = len(index)

    provenance = calc["provenance"].astype("category") if n else calc["provenance"]
    texts = [str(p) for p in provenance.cat.categories] if n else []
    calculations = {provenance_key(t): json.loads(t) for t in texts}
    by_text = {t: provenance_key(t) for t in texts}
    version_of = {t: factor_version(calculations[by_text[t]])[:80] for t in texts}

    keys = calc["factor_key"].astype(str)
    is_library = _per_distinct(keys, is_library_key, False).astype(bool)
    ids = _per_distinct(keys, factor_key_id, None)
    date = data["date"] if "date" in data else data.get("period_start")
    tiers = _per_distinct(calc["tier"], lambda t: t if t in TIERS else "secondary", "secondary")
    columns: dict[str, pa.Array] = {
        "import_run_id": _constant(run_id, n, pa.int64()),
        "source_row": pa.array(index.to_numpy(dtype="int64")),
        "date": _date_array(date, n),
        "period_end": _date_array(data.get("period_end"), n),
        "activity": _text_array(data, "activity", index),
        "site": _text_array(data, "site", index),
        "supplier": _text_array(data, "supplier", index),
        "country": _text_array(data, "country", index),
        "notes": _text_array(data, "notes", index),
        "is_correction": pa.array(
            data["is_correction"].to_numpy(dtype=bool, na_value=False)
            if "is_correction" in data
            else np.zeros(n, bool)
        ),
        "quantity": _float_array(data.get("quantity"), n),
        "unit": _text_array(data, "unit", index),
        "amount": _float_array(data.get("amount"), n),
        "currency": _text_array(data, "currency", index),
        "amount_eur": _float_array(data.get("amount_eur"), n),
        "scope": _int_array(_per_distinct(calc["scope"], scope_int, None)),
        "category": _int_array(
            calc["scope3_category"].to_numpy(dtype=object, na_value=None)
            if "scope3_category" in calc
            else np.full(n, None)
        ),
        "tier": _strings(tiers),
        "data_quality": _strings(record_data_quality(tiers, data.get("data_quality"))),
        "factor_id": _masked(ids, is_library & pd.notna(ids)),
        "supplier_factor_id": _masked(ids, ~is_library & pd.notna(ids)),
        "factor_version": _strings(_per_distinct(provenance, version_of.get, "")),
        "gwp_set": _constant(gwp_set, n, pa.string()),
        "kg_co2e": _float_array(calc["kg_co2e"], n),
        "kg_co2": _float_array(calc.get("co2_kg_co2e"), n),
        "kg_ch4_co2e": _float_array(calc.get("ch4_kg_co2e"), n),
        "kg_n2o_co2e": _float_array(calc.get("n2o_kg_co2e"), n),
        "kg_other_co2e": _float_array(calc.get("other_kg_co2e"), n),
        "kg_co2e_market": _float_array(calc.get("kg_co2e_market"), n),
        "market_basis": _strings(
            _per_distinct(calc["market_basis"], lambda b: "" if b is None else str(b), "")
        ),
        "provenance": _record_provenance(calc, provenance, by_text),
        "line_kind": _constant("main", n, pa.string()),
        "created_by_id": _constant(user_id, n, pa.int64()),
    }
    return calculations, pa.table([columns[c] for c in RECORD_COLUMNS], names=RECORD_COLUMNS)


def _record_provenance(
    calc: pd.DataFrame, provenance: pd.Series, by_text: dict[str, str]
) -> pa.Array:
    """Each record's provenance JSON (``emissions.provenance``: its calculation's key, the FX
    rate and deflator it used, region and why, the Scope 2 market-based detail, warnings),
    built once per distinct combination of those parts and spread to the rows."""
    if not len(calc):
        return pa.array([], type=pa.string())
    names = [c for c in provenance_parts.ROW_PARTS if c in calc]
    calculation = pd.Categorical(provenance)
    # Each part factorized as it is (no text column per row): codes, and each distinct value once.
    factorized = [pd.factorize(money_of(calc))] + [pd.factorize(calc[c]) for c in names]
    codes, first = combined_codes(
        [np.asarray(calculation.codes), *(np.asarray(c) for c, _ in factorized)]
    )
    texts = np.asarray(calculation.categories, dtype=object)

    def value(part: int, row: int) -> str:
        code, uniques = factorized[part][0][row], factorized[part][1]
        return "" if code < 0 else str(uniques[code])

    def text(row: int) -> str:
        row_parts: dict[str, Any] = {
            name: (json.loads(v) if name == "scope2_market" else v)
            if (v := value(i, row))
            else None
            for i, name in enumerate(names, start=1)
        }
        money = value(0, row)
        return provenance_parts.build_text(
            calculation=by_text[str(texts[calculation.codes[row]])],
            money=json.loads(money) if money else None,
            **row_parts,
        )

    # Dictionary-encoded: each distinct text is held once; the COPY writes it on every row.
    distinct = pa.array([text(int(f)) for f in first], type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), distinct)


COPY_BATCH_ROWS = 50_000
BULK_REBUILD_ROWS = 100_000


def _secondary_indexes(table_name: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes other than its primary key, in the
    current tenant schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_index x ON x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass "
            "WHERE i.schemaname = current_schema() AND i.tablename = %s AND NOT x.indisprimary",
            [table_name],
        )
        return [(name, definition) for name, definition in cursor.fetchall()]


def _existing_rows(table_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table_name]
        )
        row = cursor.fetchone()
    return max(int(row[0]) if row else 0, 0)


def copy_records(table: pa.Table, *, checkpoint: Callable[[], None] | None = None) -> int:
    """Write record rows with one COPY, as CSV made by Arrow (no per-row Python).

    A second thread formats the next batch while this one streams the previous batch to the
    server (both release the GIL), so formatting and loading overlap.
    """
    if table.num_rows == 0:
        return 0
    # Only text that needs it is quoted; FORCE_NOT_NULL reads an empty text field as "" (not NULL),
    # so numbers and dates go unquoted and the file is smaller to write and to parse.
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")

    def formatted(batch: pa.RecordBatch) -> memoryview:
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, write_options=options)
        return buffer.getbuffer()

    columns = ", ".join(RECORD_COLUMNS)
    not_null = ", ".join(TEXT_COLUMNS)
    table_name = ActivityRecord._meta.db_table
    batches = table.to_batches(max_chunksize=COPY_BATCH_ROWS)
    # A load larger than the table itself is faster without index upkeep: drop the secondary
    # indexes, load, and build them once ("Populating a Database" in the PostgreSQL manual). It
    # all happens in the caller's transaction; the lock it takes covers this tenant's table only.
    rebuild = (
        _secondary_indexes(table_name)
        if table.num_rows >= BULK_REBUILD_ROWS and table.num_rows > _existing_rows(table_name)
        else []
    )
    if rebuild:
        with connection.cursor() as cursor:
            schema = connection.ops.quote_name(current_schema())
            for name, _ in rebuild:
                cursor.execute(f"DROP INDEX {schema}.{connection.ops.quote_name(name)}")
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {table_name} ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
        ) as copy,
    ):
        pending = pool.submit(formatted, batches[0])
        for following in [*batches[1:], None]:
            data = pending.result()
            if checkpoint is not None:
                checkpoint()
            if following is not None:
                pending = pool.submit(formatted, following)
            copy.write(data)
    if rebuild:
        with connection.cursor() as cursor:
            for _, definition in rebuild:
                cursor.execute(definition)
    return table.num_rows
