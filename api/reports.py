"""The API's reports and credits: report requests through ``reporting.services.report_request``
(which consumes one credit in the transaction that creates the report), downloads through
``reporting.downloads`` (the reports page's rule), the tenant's ledger through ``billing.ledger``
and vouchers through ``billing.vouchers.voucher_redeem``, as on the Billing page.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from api.models import ApiReport, ApiToken
from api.problems import ApiProblem
from billing.forms import VoucherForm
from billing.ledger import (
    NoCreditsError,
    credit_balance,
    credit_history,
    tenant_id_for_schema,
)
from billing.vouchers import VoucherError, voucher_redeem
from emissions.models import ReportingPeriod
from factortrace.numbers import whole_number
from factortrace.tenancy import current_schema
from reporting.downloads import report_formats
from reporting.models import Report
from reporting.regimes.base import RegimeError
from reporting.services import ReportError, report_request
from reporting.taxonomy import TaxonomyError
from reporting.vsme_template import TemplateError


def report_url(report_id: int) -> str:
    return f"/api/v1/reports/{report_id}"


def reports() -> QuerySet[Report]:
    """This tenant's reports (its own schema), newest first, without their files."""
    return (
        Report.objects.select_related("created_by")
        .defer("xhtml", "pdf", "template", "viewer", "facts")
        .annotate(has_template=Q(template__isnull=False))
    )


def report_body(report: Report) -> dict[str, Any]:
    validation = report.validation or {}
    has_template = getattr(report, "has_template", None)  # annotated: the file stays unread
    if has_template is None:
        has_template = report.template is not None
    return {
        "id": report.id,
        "url": report_url(report.id),
        "regime": report.regime,
        "period": {
            "name": report.period_name,
            "start": report.period_start,
            "end": report.period_end,
        },
        "version": report.version,
        "formats": list(report.formats),
        "status": str(report.status),
        "progress": report.progress,
        "error": report.error,
        "verdict": {
            "verdict": str(report.verdict),
            "checked_by": validation.get("checked_by"),
            "error_count": int(validation.get("error_count") or 0),
            "warning_count": int(validation.get("warning_count") or 0),
            "errors": list(validation.get("errors") or []),
            "warnings": list(validation.get("warnings") or []),
            "unavailable": validation.get("unavailable"),
        },
        "created_by": report.created_by.email if report.created_by else None,
        "created_at": report.created_at,
        "finished_at": report.finished_at,
        "downloads": {
            fmt: f"{report_url(report.id)}/files/{fmt}"
            for fmt in report_formats(report, has_template=has_template)
        },
    }


def report_for_token(report_id: int, *, with_files: bool = False) -> Report:
    """A report of this tenant (its files read too when asked), 404 otherwise."""
    found = None
    if 0 < report_id < 2**63:
        found = (Report.objects if with_files else reports()).filter(id=report_id).first()
    if found is None:
        raise ApiProblem("not_found", f"No report {report_id} in this workspace.")
    return found


def report_period(value: str) -> ReportingPeriod:
    """The reporting period named `value`, or for a year the one period starting in it."""
    named = ReportingPeriod.objects.filter(name=value).order_by("-start").first()
    if named is not None:
        return named
    year = whole_number(value)
    if year is not None and len(value) == 4:
        starting = list(ReportingPeriod.objects.filter(start__year=year)[:2])
        if len(starting) == 1:
            return starting[0]
    names = list(ReportingPeriod.objects.values_list("name", flat=True)[:50])
    raise ApiProblem(
        "invalid_parameters",
        f"No reporting period named {value!r} (nor one period starting in that year); owners "
        "add periods in Settings.",
        periods=names,
    )


def report_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replay(existing: ApiReport, fingerprint: str) -> dict[str, Any]:
    if existing.request_sha256 != fingerprint:
        raise ApiProblem(
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request. Use a new key for a new "
            "request.",
        )
    if existing.report_id is None:
        raise ApiProblem("not_found", "The report this Idempotency-Key made was deleted.")
    return _accepted(report_for_token(existing.report_id), replayed=True)


def _accepted(report: Report, *, replayed: bool) -> dict[str, Any]:
    return {
        **report_body(report),
        "replayed": replayed,
        "credits_left": credit_balance(tenant_id=tenant_id_for_schema(current_schema())),
    }


def api_report_create(
    *,
    token: ApiToken,
    regime: str,
    period: str,
    formats: list[str],
    idempotency_key: str,
) -> dict[str, Any]:
    """Request one report (one credit); with an Idempotency-Key already answered, that report
    again and no second credit. Any refusal creates nothing and consumes nothing."""
    fingerprint = report_fingerprint({"regime": regime, "period": period, "formats": formats})
    if idempotency_key:
        existing = ApiReport.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)
    try:
        return _create(
            token=token,
            regime=regime,
            period=period,
            formats=formats,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except IntegrityError:
        # The same key in a concurrent request that committed first: answer as it did.
        existing = (
            ApiReport.objects.filter(idempotency_key=idempotency_key).first()
            if idempotency_key
            else None
        )
        if existing is None:
            raise
        return _replay(existing, fingerprint)


def _create(
    *,
    token: ApiToken,
    regime: str,
    period: str,
    formats: list[str],
    idempotency_key: str,
    fingerprint: str,
) -> dict[str, Any]:
    with transaction.atomic():
        record = None
        if idempotency_key:
            # The key is claimed first: a concurrent request with it waits here, then replays.
            record = ApiReport.objects.create(
                token=token, idempotency_key=idempotency_key, request_sha256=fingerprint
            )
        chosen = report_period(period)
        try:
            report = report_request(
                user=token.created_by,
                period_id=chosen.id,
                regime_key=regime,
                formats=tuple(formats),
            )
        except ReportError as exc:
            if isinstance(exc.__cause__, NoCreditsError):
                raise ApiProblem("no_credits", str(exc)) from None
            raise ApiProblem("cannot_generate", str(exc)) from None
        except (RegimeError, TaxonomyError, TemplateError) as exc:
            raise ApiProblem("cannot_generate", str(exc)) from None
        if record is not None:
            record.report = report
            record.save(update_fields=["report"])
        return _accepted(report_for_token(report.id), replayed=False)


def api_credits(*, tenant_id: int, limit: int) -> dict[str, Any]:
    """The tenant's balance and its newest ledger rows (billing rows filtered by the tenant)."""
    return {
        "balance": credit_balance(tenant_id=tenant_id),
        "ledger": [
            {
                "id": row.id,
                "kind": row.kind,
                "credits": row.credits,
                "balance_after": row.balance_after,
                "reason": row.reason,
                "actor": row.actor,
                "report_id": row.report_id,
                "created_at": row.created_at,
            }
            for row in credit_history(tenant_id=tenant_id, limit=limit)
        ],
    }


def api_voucher_redeem(*, token: ApiToken, tenant_id: int, code: str) -> dict[str, Any]:
    """The Billing page's redemption: its service, its messages on refusal."""
    form = VoucherForm({"code": code})
    if not form.is_valid():
        raise ApiProblem(
            "voucher_refused", " ".join(str(e) for e in form.errors.get("code", ["Enter a code."]))
        )
    user = token.created_by
    actor = user.email if user is not None else f"API token {token.prefix}"
    try:
        row = voucher_redeem(tenant_id=tenant_id, code=form.cleaned_data["code"], user_email=actor)
    except VoucherError as exc:
        raise ApiProblem("voucher_refused", str(exc)) from None
    voucher_code = row.reason.removeprefix("Voucher ")
    return {"code": voucher_code, "credits_added": row.credits, "balance": row.balance_after}
