"""Change the factor of every record of one activity, after an import's commit.

An activity is what the import wizard chooses factors for: the normalised activity text and the
unit dimension of its quantity ('volume', 'energy'...; 'money' for spend rows). A change is asked
for in a request (checked at once: the factor exists and computes the activity's units), then one
job recalculates all of the tenant's records of that activity with the new factor in one
transaction, keeps the old and the new factor in each record's provenance, and remembers the
factor for the next imports (FactorChoice).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from emissions.companions import companions_recompute
from emissions.engine.calculate import money_of
from emissions.factor_keys import library_key, supplier_key
from emissions.inventory import (
    DEFAULT_GWP_SET,
    RESULT_FIELDS,
    compute,
    factor_frame,
    factor_version,
    record_provenance,
    scope_int,
)
from emissions.models import (
    ActivityRecord,
    FactorChange,
    FactorChangeStatus,
    SupplierFactor,
    Tier,
)
from emissions.selectors_refactor import activity_group, activity_text_key, record_dimension
from emissions.services_scope2 import scope2_market_reallocate, scope2_sites_of
from factors.models import EmissionFactor
from factortrace.jobs import enqueue_for_tenant
from factortrace.tenancy import current_schema

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 1000
_TIERS = {t.value for t in Tier}
# The fields a change of factor writes on each record.
CHANGED_FIELDS = ("factor", "supplier_factor", "scope", "category", "tier", *RESULT_FIELDS)


class FactorChangeError(Exception):
    """A change that cannot be made: ``message`` says why and what to do; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _new_factor(
    factor_id: int | None, supplier_factor_id: int | None
) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    """The factor key, the engine's frame for it and its description for provenance."""
    if supplier_factor_id is not None:
        supplier = SupplierFactor.objects.filter(id=supplier_factor_id).first()
        if supplier is None:
            raise FactorChangeError("That supplier factor does not exist.", field="factor")
        return (
            supplier_key(supplier.id),
            factor_frame(supplier_factor_ids=[supplier.id]),
            {"supplier_factor_id": supplier.id, "name": supplier.name, "version": "supplier"},
        )
    if factor_id is None:
        raise FactorChangeError("Choose a factor.", field="factor")
    factor = EmissionFactor.objects.filter(id=factor_id).select_related("dataset").first()
    if factor is None:
        raise FactorChangeError("That factor does not exist in the library.", field="factor")
    return (
        library_key(factor.id),
        factor_frame(factor_ids=[factor.id]),
        {
            "factor_id": factor.id,
            "name": factor.name,
            "version": f"{factor.dataset.key} v{factor.dataset.version}",
        },
    )


def _activities(rows: list[dict[str, Any]], key: str) -> pd.DataFrame:
    """The engine's activity frame of records, as activity_record_recalculate builds one."""
    frame = pd.DataFrame(rows)
    spend = frame["quantity"].isna() & frame["amount"].notna()
    return pd.DataFrame(
        {
            "quantity": frame["amount"].where(spend, frame["quantity"]).astype("float64"),
            "unit": frame["unit"].where(~spend, ""),
            "currency": [c or None for c in frame["currency"]],
            "factor_key": key,
            "date": pd.to_datetime(frame["date"]),
            "is_correction": frame["is_correction"].astype(bool),
        }
    )


_ROW_FIELDS = ("id", "quantity", "unit", "amount", "currency", "date", "is_correction", "gwp_set")


def _check_computes(rows: list[dict[str, Any]], key: str, factors: pd.DataFrame) -> pd.DataFrame:
    """The engine's results for these records; FactorChangeError with the engine's own message
    when any of them cannot be computed with the factor."""
    gwp_set = next((r["gwp_set"] for r in rows if r["gwp_set"]), DEFAULT_GWP_SET)
    result = compute(_activities(rows, key), factors, gwp_set=gwp_set)
    bad = result.loc[~result["ok"].astype(bool)]
    if not bad.empty:
        error = dict(bad.iloc[0]["error"] or {})
        message = " ".join(str(p) for p in (error.get("message"), error.get("suggestion")) if p)
        raise FactorChangeError(
            f"{len(bad)} of {len(rows)} records cannot be calculated with this factor: "
            f"{message or 'the units do not convert'}",
            field="factor",
        )
    return result


def activity_factor_change_check(
    *,
    record: ActivityRecord,
    factor_id: int | None,
    supplier_factor_id: int | None = None,
    only_this: bool = False,
) -> dict[str, Any]:
    """The new factor's description, once it is known to exist and to compute every distinct
    unit of `record`'s activity (or `record` alone); FactorChangeError otherwise."""
    key, factors, new = _new_factor(factor_id, supplier_factor_id)
    group = (
        ActivityRecord.objects.filter(id=record.id)
        if only_this
        else activity_group(activity=record.activity, dimension=record_dimension(record))
    )
    # One record per distinct unit and currency is enough to know the conversion exists.
    samples = list(
        group.order_by("unit", "currency", "id").distinct("unit", "currency").values(*_ROW_FIELDS)
    )
    if not samples:
        raise FactorChangeError("This activity has no records to recalculate.")
    _check_computes(samples, key, factors)
    return new


def activity_factor_change_request(
    *,
    record: ActivityRecord,
    factor_id: int | None,
    supplier_factor_id: int | None = None,
    reason: str,
    user: User | None,
    only_this: bool = False,
) -> FactorChange:
    """Ask for every record of `record`'s activity (or `record` alone, with `only_this`) to be
    recalculated with another factor. Only a change of the whole activity is remembered for the
    next imports.

    Checked now (the reason is given, the factor exists and computes the activity's units),
    applied by one job queued when this transaction commits. Raises FactorChangeError, nothing
    stored, when the change cannot be made.
    """
    reason = reason.strip()
    if not reason:
        raise FactorChangeError(
            "Say why the factor changes (it is kept with the records).", field="reason"
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise FactorChangeError(
            f"Keep the reason under {REASON_MAX_LENGTH} characters.", field="reason"
        )
    activity_factor_change_check(
        record=record,
        factor_id=factor_id,
        supplier_factor_id=supplier_factor_id,
        only_this=only_this,
    )
    with transaction.atomic():
        change = FactorChange.objects.create(
            activity_key=activity_text_key(record.activity),
            activity=record.activity,
            unit_dimension=record_dimension(record),
            factor_id=None if supplier_factor_id is not None else factor_id,
            supplier_factor_id=supplier_factor_id,
            only_record_id=record.id if only_this else None,
            reason=reason,
            requested_by=user,
        )
        enqueue_for_tenant(
            activity_factor_change_job, schema_name=current_schema(), change_id=change.id
        )
    return change


def activity_factor_change_job(*, change_id: int) -> dict[str, Any]:
    """The job: recalculate every record of the change's activity, in one transaction.

    Claims the change once (QUEUED -> RUNNING); a second run of the same job does nothing. When
    any record cannot be computed, no record changes and the change is marked FAILED with why.
    """
    claimed = FactorChange.objects.filter(id=change_id, status=FactorChangeStatus.QUEUED).update(
        status=FactorChangeStatus.RUNNING
    )
    if claimed != 1:
        return {"status": "skipped"}
    change = FactorChange.objects.select_related("requested_by").get(id=change_id)
    try:
        with transaction.atomic():
            changed, before, after = _recalculate_group(change)
            change.status = FactorChangeStatus.DONE
            change.records_changed = changed
            change.kg_co2e_before, change.kg_co2e_after = before, after
            change.finished_at = timezone.now()
            change.save(
                update_fields=[
                    "status",
                    "records_changed",
                    "kg_co2e_before",
                    "kg_co2e_after",
                    "finished_at",
                ]
            )
    except Exception as exc:
        message = (
            exc.message
            if isinstance(exc, FactorChangeError)
            else "The recalculation failed; no record was changed."
        )
        logger.exception("factor change failed", extra={"change": change_id})
        FactorChange.objects.filter(id=change_id).update(
            status=FactorChangeStatus.FAILED, error=message, finished_at=timezone.now()
        )
        return {"status": "failed", "error": message}
    return {"status": "done", "records": changed}


def _recalculate_group(change: FactorChange) -> tuple[int, float, float]:
    """Recompute and save the change's records (locked); returns (records, kg before, kg after)."""
    key, factors, new = _new_factor(change.factor_id, change.supplier_factor_id)
    group = (
        ActivityRecord.objects.filter(id=change.only_record_id)
        if change.only_record_id is not None
        else activity_group(activity=change.activity, dimension=change.unit_dimension)
    )
    records = list(
        group.select_for_update(of=("self",))
        .select_related("factor__dataset", "supplier_factor")
        .order_by("id")
    )
    if not records:
        _remember(change)
        return 0, 0.0, 0.0
    rows = [{f: getattr(r, f) for f in _ROW_FIELDS} for r in records]
    result = _check_computes(rows, key, factors)
    before = sum(r.kg_co2e for r in records)
    now = timezone.now()
    step = {
        "change": change.id,
        "by": change.requested_by.email if change.requested_by else None,
        "at": now.isoformat(timespec="seconds"),
        "reason": change.reason,
        "new": new,
    }
    money = money_of(result)
    for record, (label, row) in zip(records, result.iterrows(), strict=True):
        old = _old_factor(record)
        calculation = json.loads(row["provenance"]) if isinstance(row["provenance"], str) else {}
        record.factor_id = new.get("factor_id")
        record.supplier_factor_id = new.get("supplier_factor_id")
        record.kg_co2e = float(row["kg_co2e"])
        record.kg_co2 = _num(row.get("co2_kg_co2e"))
        record.kg_ch4_co2e = _num(row.get("ch4_kg_co2e"))
        record.kg_n2o_co2e = _num(row.get("n2o_kg_co2e"))
        record.kg_other_co2e = _num(row.get("other_kg_co2e"))
        record.kg_co2e_market = _num(row.get("kg_co2e_market"))
        basis = row.get("market_basis")
        record.market_basis = "" if basis is None or pd.isna(basis) else str(basis)
        scope = scope_int(row.get("scope"))
        if scope is not None:
            record.scope = scope
        category = row.get("scope3_category")
        record.category = None if category is None or pd.isna(category) else int(category)
        tier = row.get("tier")
        record.tier = tier if tier in _TIERS else Tier.SECONDARY
        record.factor_version = factor_version(calculation)[:80]
        record.updated_at = now
        history = list((record.provenance or {}).get("factor_changes", []))
        history.append({**step, "old": old, "kg_co2e_before": old.pop("kg_co2e")})
        spent = money.loc[label]
        provenance = record_provenance(
            record.provenance,
            calculation=calculation,
            money=json.loads(spent) if isinstance(spent, str) else None,
        )
        # The market-based figure is now the engine's: the old Scope 2 detail no longer holds.
        provenance.pop("scope2_market", None)
        record.provenance = provenance | {"factor_changes": history}
    ActivityRecord.objects.bulk_update(records, [*CHANGED_FIELDS, "updated_at"], batch_size=1000)
    # Contracts of their sites cover the re-factored Scope 2 records again, in date order.
    scope2_market_reallocate(
        site_ids=scope2_sites_of(site_texts={r.site for r in records if r.scope == 2 and r.site})
    )
    # The WTT / T&D lines of the new factor replace the old ones (emissions/companions.py).
    companions_recompute(records=records)
    _remember(change)
    return len(records), before, sum(r.kg_co2e for r in records)


def _old_factor(record: ActivityRecord) -> dict[str, Any]:
    if record.supplier_factor_id:
        name = record.supplier_factor.name if record.supplier_factor else ""
        old: dict[str, Any] = {"supplier_factor_id": record.supplier_factor_id, "name": name}
    else:
        name = record.factor.name if record.factor else ""
        old = {"factor_id": record.factor_id, "name": name}
    return {**old, "version": record.factor_version, "kg_co2e": record.kg_co2e}


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _remember(change: FactorChange) -> None:
    """The next imports of this activity use the new factor (the wizard's remembered choice);
    a change of one record is an exception, not a choice for the activity."""
    from imports.models import FactorChoice
    from imports.preparation import activity_key

    if change.only_record_id is not None:
        return
    FactorChoice.objects.update_or_create(
        activity_key=activity_key(change.activity),
        unit_dimension=change.unit_dimension,
        defaults={
            "factor_id": change.factor_id,
            "supplier_factor_id": change.supplier_factor_id,
            "chosen_by_id": change.requested_by_id,
        },
    )
