"""Companion lines: the upstream (well-to-tank) and T&D lines the GHG Protocol reports with an
activity, each a record of its own.

A fuel brings its WTT (Scope 3 category 3), UK electricity its T&D losses, their WTT and the WTT of
generation (category 3), business travel its WTT (category 6), freight its WTT (category 4). The
matcher never picks such a factor as the main line; here each distinct main factor gets its
companions from the same dataset edition, by the rules in ``data/companions/<family>.yml``
(Level 1 / Level 2 headings, same detail, unit and calorific-value basis): one query per import,
never a per-row loop.

Companion records carry ``line_kind`` (wtt, td, td_wtt), the import run and source row of their
main line, their own factor, scope, category and provenance; they are written in the same COPY and
transaction as the main rows (``imports.writer.import_run_write``) and removed with the run's
undo. When a main line is edited or re-factored, ``companions_recompute`` replaces its companions
with those of its new factor and quantity (none when the new factor has none). A tenant turns them
off with ``InventorySettings.companion_lines`` (on by default); records already written stay.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from django.db import transaction
from django.db.models import Q

from emissions.factor_keys import factor_key_id, library_key
from emissions.inventory import (
    DEFAULT_GWP_SET,
    _apply_result,
    compute,
    factor_frame,
    factor_version,
    scope_int,
)
from emissions.models import ActivityRecord, InventorySettings, LineKind
from factors.models import EmissionFactor

COMPANIONS_DIR = Path(__file__).resolve().parents[1] / "data" / "companions"
_SEP = " > "
# The main factor's own Level 2 ("Liquid fuels" under both "Fuels" and "WTT- fuels").
SAME = "same"


@dataclass(frozen=True)
class Rule:
    line_kind: str
    level1: str
    level2: str | None = None
    category: int | None = None

    def level2_for(self, main_level2: str) -> str:
        if self.level2 == SAME:
            return main_level2
        return self.level2 if self.level2 else f"WTT- {main_level2}"


@cache
def rules(family: str) -> dict[str, tuple[Rule, ...]]:
    """The companion rules of a dataset family ({} when it has none): main Level 1 -> rules."""
    path = COMPANIONS_DIR / f"{family}.yml"
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kinds = set(LineKind.values) - {LineKind.MAIN}
    out = {}
    for level1, entries in raw.items():
        parsed = tuple(Rule(**entry) for entry in entries)
        unknown = {r.line_kind for r in parsed} - kinds
        if unknown:
            raise ValueError(f"{path.name}: unknown line_kind {sorted(unknown)} under {level1!r}")
        out[str(level1)] = parsed
    return out


def _levels(category: str, name: str) -> tuple[str, str, str]:
    """(Level 1, Level 2, detail) of a factor: its category path is "L1 > L2 > L3 > L4" and its
    name "[L1: ]L2: detail" (detail: Level 3, Level 4 and column text)."""
    levels = category.split(_SEP)
    level1 = levels[0]
    level2 = levels[1] if len(levels) > 1 else ""
    head = f"{level2}: "
    detail = name.split(head, 1)[1] if head in name else ""
    return level1, level2, detail


def companion_factors(factor_ids: Iterable[int]) -> dict[int, list[tuple[Rule, int]]]:
    """For each library factor id, its companions (rule, companion factor id), in the rules' order;
    factors without companions are left out."""
    mains = list(
        EmissionFactor.objects.filter(id__in=set(factor_ids)).values(
            "id", "dataset_id", "dataset__family", "category", "name", "unit", "cv_basis"
        )
    )
    wanted: dict[int, set[str]] = {}
    for m in mains:
        level1 = _levels(m["category"], m["name"])[0]
        for rule in rules(m["dataset__family"]).get(level1, ()):
            wanted.setdefault(m["dataset_id"], set()).add(rule.level1)
    if not wanted:
        return {}
    query = Q()
    for dataset_id, level1s in wanted.items():
        for level1 in level1s:
            query |= Q(dataset_id=dataset_id, category__startswith=level1 + _SEP)
    index: dict[tuple[Any, ...], int] = {}
    for c in EmissionFactor.objects.filter(query).values(
        "id", "dataset_id", "category", "name", "unit", "cv_basis"
    ):
        level1, level2, detail = _levels(c["category"], c["name"])
        key = (c["dataset_id"], level1, level2.lower(), detail, c["unit"], c["cv_basis"] or "")
        index.setdefault(key, c["id"])
    out: dict[int, list[tuple[Rule, int]]] = {}
    for m in mains:
        level1, level2, detail = _levels(m["category"], m["name"])
        for rule in rules(m["dataset__family"]).get(level1, ()):
            key = (
                m["dataset_id"],
                rule.level1,
                rule.level2_for(level2).lower(),
                detail,
                m["unit"],
                m["cv_basis"] or "",
            )
            if key in index:
                out.setdefault(m["id"], []).append((rule, index[key]))
    return out


def enabled() -> bool:
    return InventorySettings.current().companion_lines


def _activities(data: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The engine's activities for companion lines: the main rows' quantity, unit and date."""
    rows = data.loc[index]
    activities = pd.DataFrame(index=index)
    activities["quantity"] = rows["quantity"].astype("float64")
    activities["unit"] = rows["unit"].astype("string").fillna("")
    activities["date"] = rows["date"] if "date" in rows else rows.get("period_start")
    activities["is_correction"] = rows.get("is_correction", False)
    activities["region"] = rows["region"] if "region" in rows else rows.get("country")
    return activities


def companion_records(
    prepared: Any,
    table: pa.Table,
    *,
    frame_of: Callable[[Any], tuple[dict[str, Any], pa.Table]],
    gwp_set: str = DEFAULT_GWP_SET,
) -> tuple[dict[str, Any], pa.Table | None]:
    """The companion records of the main rows in ``table`` (records about to be written), as a
    records table like it, and their calculations (provenance); (``{}``, None) when there are none
    or the tenant turned them off.

    ``prepared`` is the import's ``imports.preparation.Prepared``; ``frame_of`` turns one like it into
    records (``records_frame`` with the run and user bound).
    """
    if table.num_rows == 0 or "quantity" not in prepared.result.data or not enabled():
        return {}, None
    ids = [i for i in pc.unique(table["factor_id"]).to_pylist() if i is not None]
    links = companion_factors(ids)
    if not links:
        return {}, None
    kept = table.filter(pc.is_valid(table["factor_id"]))["source_row"].to_numpy()
    valid = prepared.valid
    rows = valid[valid].index.intersection(pd.Index(kept)).intersection(prepared.calculated.index)
    # A categorical: the mappings below run once per distinct factor, not once per row.
    main_keys = prepared.calculated.loc[rows, "factor_key"].astype(str).astype("category")
    data = prepared.result.data
    calculations: dict[str, Any] = {}
    tables = []
    for kind in (LineKind.WTT, LineKind.TD, LineKind.TD_WTT):
        chosen = {
            library_key(main): (library_key(cid), rule.category)
            for main, found in links.items()
            for rule, cid in found
            if rule.line_kind == kind
        }
        key = main_keys.map({k: v[0] for k, v in chosen.items()}, na_action="ignore")
        key = key.astype("object").dropna()
        if key.empty:
            continue
        activities = _activities(data, key.index)
        activities["factor_key"] = key
        category = (
            main_keys.loc[key.index]
            .cat.remove_unused_categories()
            .map({k: v[1] for k, v in chosen.items()}, na_action="ignore")
            .astype("object")
        )
        if category.notna().any():
            activities["scope3_category"] = category.astype("object")
        factors = factor_frame(factor_ids=[factor_key_id(k) for k in set(key)])
        result = compute(activities, factors, gwp_set=gwp_set)
        result = result.loc[result["ok"].astype(bool)]
        if result.empty:
            continue
        result["factor_key"] = activities.loc[result.index, "factor_key"]
        only = pd.Series(np.zeros(len(valid), bool), index=valid.index)
        only.loc[result.index] = True
        lines = dataclasses.replace(prepared, valid=only, calculated=result)
        calcs, lines_table = frame_of(lines)
        calculations.update(calcs)
        position = lines_table.schema.get_field_index("line_kind")
        lines_table = lines_table.set_column(
            position, "line_kind", pa.array(np.full(lines_table.num_rows, str(kind), dtype=object))
        )
        tables.append(lines_table)
    if not tables:
        return {}, None
    return calculations, pa.concat_tables(tables)


def companions_recompute(*, records: Iterable[ActivityRecord]) -> int:
    """Replace the companion lines of edited or re-factored main records by those of their current
    factor and quantity (none when the new factor has none, or the tenant turned them off);
    returns how many lines they now have. Only imported records have companions (tied to their
    main line by import run and source row); a manual record keeps none. One delete, one
    calculation and one insert for all the records."""
    mains = [
        r
        for r in records
        if r.line_kind == LineKind.MAIN and r.import_run_id is not None and r.source_row is not None
    ]
    if not mains:
        return 0
    by_run: dict[int, list[int]] = {}
    for r in mains:
        if r.import_run_id is not None and r.source_row is not None:
            by_run.setdefault(r.import_run_id, []).append(r.source_row)
    stale = Q()
    for run_id, source_rows in by_run.items():
        stale |= Q(import_run_id=run_id, source_row__in=source_rows)
    ActivityRecord.objects.filter(stale).exclude(line_kind=LineKind.MAIN).delete()
    if not enabled():
        return 0
    links = companion_factors(r.factor_id for r in mains if r.factor_id is not None)
    pairs = [
        (r, rule, cid)
        for r in mains
        if r.factor_id is not None and r.quantity is not None
        for rule, cid in links.get(r.factor_id, [])
    ]
    if not pairs:
        return 0
    activities = pd.DataFrame(
        {
            "quantity": [r.quantity for r, _, _ in pairs],
            "unit": [r.unit for r, _, _ in pairs],
            "date": [pd.Timestamp(r.date) for r, _, _ in pairs],
            "is_correction": [r.is_correction for r, _, _ in pairs],
            "region": [r.country or None for r, _, _ in pairs],
            "factor_key": [library_key(cid) for _, _, cid in pairs],
            "scope3_category": pd.array([rule.category for _, rule, _ in pairs], dtype="Int64"),
        }
    )
    if activities["scope3_category"].isna().all():
        activities = activities.drop(columns="scope3_category")
    gwp_set = mains[0].gwp_set or DEFAULT_GWP_SET
    result = compute(
        activities, factor_frame(factor_ids={cid for _, _, cid in pairs}), gwp_set=gwp_set
    )
    made = []
    for (record, rule, cid), (_, row) in zip(pairs, result.iterrows(), strict=True):
        if not bool(row["ok"]):
            continue
        provenance = json.loads(row["provenance"]) if isinstance(row["provenance"], str) else {}
        category = row.get("scope3_category")
        line = ActivityRecord(
            import_run_id=record.import_run_id,
            source_row=record.source_row,
            date=record.date,
            period_end=record.period_end,
            activity=record.activity,
            site=record.site,
            supplier=record.supplier,
            country=record.country,
            is_correction=record.is_correction,
            quantity=record.quantity,
            unit=record.unit,
            scope=scope_int(row["scope"]) or 3,
            category=None if category is None or pd.isna(category) else int(category),
            tier=record.tier,
            factor_id=cid,
            factor_version=factor_version(provenance)[:80],
            gwp_set=gwp_set,
            kg_co2e=float(row["kg_co2e"]),
            provenance={"calculation": provenance, "main_record": record.id},
            line_kind=rule.line_kind,
            created_by_id=record.created_by_id,
        )
        _apply_result(line, row)
        made.append(line)
    ActivityRecord.objects.bulk_create(made, batch_size=1000)
    return len(made)


def inventory_settings_update(*, companion_lines: bool) -> InventorySettings:
    """Turn the companion lines on or off for the next imports, edits and re-factors (the lines
    already written stay: an undo or a re-factor replaces them)."""
    with transaction.atomic():
        found = InventorySettings.objects.select_for_update().order_by("id").first()
        found = found or InventorySettings()
        found.companion_lines = companion_lines
        found.save()
    return found
