"""The bridge between stored factors and the pure engine: factor rows -> the engine's factor frame,
activity frames -> kg CO2e with provenance, and the recalculation of one edited record.

Library factors are keyed ``lib:<id>``, a tenant's supplier factors ``sup:<id>``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from emissions.engine.calculate import calculate, money_of
from emissions.engine.errors import EngineError, UnitError
from emissions.engine.fuels import resolve_fuel
from emissions.engine.units import (
    canonical_unit,
    is_regional_unit,
    parse_cv_basis,
    resolve_regional_unit,
    unit_dimension,
)
from emissions.factor_keys import library_key, supplier_key
from emissions.models import ActivityRecord, SupplierFactor
from emissions.provenance import build
from factors.models import EmissionFactor

DEFAULT_GWP_SET = "AR5"

# Library "basis" -> the engine's basis vocabulary.
_BASIS = {
    "activity": "activity",
    "spend": "spend",
    "location": "location",
    "market": "contractual",
    "residual_mix": "residual_mix",
    "supplier": "supplier_specific",
}
_SCOPE_INT = {"outside_scopes": 0, "scope_1": 1, "scope_2": 2, "scope_3": 3}


@functools.lru_cache(maxsize=4096)
def _fuel_of(name: str) -> str | None:
    """The DEFRA fuel a factor's name stands for (for volume/mass/energy conversions), if any."""
    for part in reversed(name.split(":")):
        try:
            return resolve_fuel(part.strip())
        except EngineError:
            continue
    return None


def factor_frame(
    *, factor_ids: Iterable[int] = (), supplier_factor_ids: Iterable[int] = ()
) -> pd.DataFrame:
    """The engine's factors frame for these library and supplier factors."""
    library = EmissionFactor.objects.filter(id__in=set(factor_ids)).select_related("dataset")
    suppliers = SupplierFactor.objects.filter(id__in=set(supplier_factor_ids))
    rows = [_library_row(f) for f in library] + [_supplier_row(s) for s in suppliers]
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["factor_key", "unit", "kg_co2e"])
    return frame


def _library_row(f: EmissionFactor) -> dict[str, Any]:
    return {
        "factor_key": library_key(f.id),
        "factor_id": f.id,
        "dataset": f.dataset.key,
        "dataset_version": str(f.dataset.version),
        "publisher_id": f.publisher_id,
        "unit": f.unit,
        "kg_co2e": f.kg_co2e,
        "co2_kg_co2e": f.co2,
        "ch4_kg_co2e": f.ch4,
        "n2o_kg_co2e": f.n2o,
        "other_kg_co2e": f.other_ghg,
        "gwp_basis": f.gwp_set,
        "cv_basis": f.cv_basis or None,
        "fuel": _fuel_of(f.name),
        "currency": f.currency or None,
        "price_year": f.price_year,
        "scope": f.scope,
        "category": f.scope3_category,
        "basis": _BASIS.get(f.basis, "activity"),
        "name": f.name,
    }


def _supplier_row(s: SupplierFactor) -> dict[str, Any]:
    return {
        "factor_key": supplier_key(s.id),
        "factor_id": s.id,
        "dataset": "supplier",
        "dataset_version": "",
        "unit": s.unit,
        "kg_co2e": s.kg_co2e,
        "co2_kg_co2e": s.kg_co2,
        "ch4_kg_co2e": s.kg_ch4_co2e,
        "n2o_kg_co2e": s.kg_n2o_co2e,
        "other_kg_co2e": s.kg_other_co2e,
        "gwp_basis": s.gwp_set,
        "cv_basis": None,
        "fuel": _fuel_of(s.name),
        "currency": s.currency or None,
        "price_year": s.price_year,
        "scope": str(s.scope),
        "category": s.category,
        "basis": _BASIS.get(s.basis, "supplier_specific"),
        "name": s.name,
    }


def compute(
    activities: pd.DataFrame, factors: pd.DataFrame, *, gwp_set: str = DEFAULT_GWP_SET
) -> pd.DataFrame:
    """Run the engine; tiers default from the factor (supplier -> primary, spend -> spend)."""
    return calculate(activities, factors, gwp_set=gwp_set)


def provenance_key(provenance_json: str) -> str:
    """A short stable key for one way of calculating (shared by every row computed that way)."""
    return hashlib.sha256(provenance_json.encode()).hexdigest()[:16]


def scope_int(value: object) -> int | None:
    if isinstance(value, str):
        return _SCOPE_INT.get(value)
    return None


# The fields activity_record_recalculate fills (for save(update_fields=...)).
RESULT_FIELDS = (
    "kg_co2e",
    "kg_co2",
    "kg_ch4_co2e",
    "kg_n2o_co2e",
    "kg_other_co2e",
    "kg_co2e_market",
    "market_basis",
    "gwp_set",
    "factor_version",
    "provenance",
)


def clean_unit_text(raw: str, *, region: str | None = None) -> str:
    """The engine's spelling of a unit typed in a form; a ValueError whose message says what is
    wrong and what to write instead.

    An energy unit keeps its calorific-value basis ("kWh (Net CV)" -> "kWh (net CV)"). With a
    ``region`` (the record's country, "" when it has none), "gal" is read by it as the import
    reads it (US gallon, imperial gallon for GB/IE) or refused naming "US gal" and "imp gal"."""
    try:
        text = raw.strip()
        if region is not None and is_regional_unit(text):
            return resolve_regional_unit(text, region or None)[0]
        canonical = canonical_unit(text)
        basis = parse_cv_basis(text)
        if basis and unit_dimension(canonical) == "energy":
            return f"{canonical} ({basis} CV)"
        return canonical
    except UnitError as exc:
        raise ValueError(" ".join(p for p in (exc.message, exc.suggestion) if p)) from exc


class RecalculationError(Exception):
    """An edited record cannot be computed: the message says why, for the form."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "The record cannot be computed."))
        self.error = error


def activity_record_recalculate(
    *, record: ActivityRecord, gwp_set: str | None = None
) -> ActivityRecord:
    """Recompute one record (after an edit) through the same engine path as an import.

    Fills the record's result fields; the caller saves. Raises RecalculationError with the
    engine's structured error when the edited values cannot be computed.
    """
    if record.supplier_factor_id:
        key = supplier_key(record.supplier_factor_id)
        factors = factor_frame(supplier_factor_ids=[record.supplier_factor_id])
    elif record.factor_id:
        key = library_key(record.factor_id)
        factors = factor_frame(factor_ids=[record.factor_id])
    else:
        raise RecalculationError({"message": "The record has no emission factor to compute with."})
    spend = record.quantity is None and record.amount is not None
    activity = {
        "quantity": record.amount if spend else record.quantity,
        "unit": "" if spend else record.unit,
        "currency": record.currency or None,
        "factor_key": key,
        "date": pd.Timestamp(record.date),
        "is_correction": record.is_correction,
    }
    result = compute(
        pd.DataFrame([activity]), factors, gwp_set=gwp_set or record.gwp_set or DEFAULT_GWP_SET
    )
    row = result.iloc[0]
    if not bool(row["ok"]):
        raise RecalculationError(dict(row["error"] or {}))
    _apply_result(record, row)
    provenance = json.loads(row["provenance"]) if isinstance(row["provenance"], str) else {}
    money = money_of(result).iloc[0]
    record.provenance = record_provenance(
        record.provenance, calculation=provenance, money=json.loads(money) if money else None
    ) | {"edited": True}
    if record.scope == 2 or row.get("scope") == "scope_2":
        from emissions.scope2 import record_market_based

        record_market_based(record, result)
    else:
        record.provenance.pop("scope2_market", None)
    record.gwp_set = gwp_set or record.gwp_set or DEFAULT_GWP_SET
    record.factor_version = factor_version(provenance)[:80]
    return record


def record_provenance(
    previous: dict[str, Any] | None,
    *,
    calculation: dict[str, Any],
    money: dict[str, Any] | None,
) -> dict[str, Any]:
    """A recomputed record's provenance (``emissions.provenance``): the new calculation and
    money; region and why, warnings, the edit mark, the re-factoring history and the Scope 2
    market-based detail kept (``record_market_based`` replaces or drops the last)."""
    kept = {k: v for k, v in (previous or {}).items() if k not in {"v", "calculation", "money"}}
    return build(calculation=calculation, money=money, **kept)


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _apply_result(record: ActivityRecord, row: pd.Series) -> None:
    record.kg_co2e = float(row["kg_co2e"])
    record.kg_co2 = _num(row.get("co2_kg_co2e"))
    record.kg_ch4_co2e = _num(row.get("ch4_kg_co2e"))
    record.kg_n2o_co2e = _num(row.get("n2o_kg_co2e"))
    record.kg_other_co2e = _num(row.get("other_kg_co2e"))
    record.kg_co2e_market = _num(row.get("kg_co2e_market"))
    basis = row.get("market_basis")
    record.market_basis = "" if basis is None or pd.isna(basis) else str(basis)


def factor_version(provenance: dict[str, Any]) -> str:
    """'defra_2024 v1' for a library factor, 'supplier' for a tenant's own, from a provenance dict."""
    factor = provenance.get("factor") or {}
    dataset, version = factor.get("dataset") or "", factor.get("version") or ""
    return f"{dataset} v{version}" if version else str(dataset)
