"""JSON API v1, served on tenant hosts at /api/v1/ (django-ninja: typed schemas, OpenAPI 3.1).

Every operation names the token scope it needs (``auth=READ`` or ``auth=WRITE``, api/auth.py);
every error is a problem+json (api/problems.py). Reads go through the same selectors as the pages:
activities (emissions.selectors_activities), the one inventory selector
(emissions.selectors_inventory), the factor browser's search (factors.picker); imports through
api/imports.py, the wizard's pipeline and job; reports, downloads, credits and vouchers through
api/reports.py (the reports page's services and download rule, the Billing page's ledger and
voucher service).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern
from ninja import Header, NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import ValidationError as PydanticValidationError

from api.auth import READ, WRITE
from api.imports import (
    ImportRequest,
    api_import_create,
    api_import_detail,
    request_fingerprint,
    rows_as_csv,
)
from api.problems import PROBLEM_TYPE, PROBLEMS, ApiProblem, problem
from api.reports import (
    api_credits,
    api_report_create,
    api_voucher_redeem,
    report_body,
    report_for_token,
    reports,
)
from api.schemas import (
    ActivityPageOut,
    ActivityQuery,
    CreditsOut,
    CreditsQuery,
    DownloadFormat,
    FactorOut,
    FactorPageOut,
    FactorQuery,
    ImportAcceptedOut,
    ImportBatchIn,
    ImportOut,
    ImportQuery,
    InventoryOut,
    InventoryQuery,
    ProblemOut,
    ReportAcceptedOut,
    ReportIn,
    ReportListOut,
    ReportOut,
    VoucherIn,
    VoucherOut,
)
from emissions.models import ActivityRecord, ReportingPeriod
from emissions.selectors_activities import ActivityFilters, activity_records
from emissions.selectors_inventory import (
    DIMENSIONS,
    inventory_breakdown,
    inventory_totals,
    inventory_uncertainty,
)
from factors.models import EmissionFactor
from factors.picker import factor_filters, matching_supplier_factors
from factors.selectors import factor_browse
from factortrace.numbers import whole_number
from imports.models import ImportRun
from imports.uploads import limit_message, limit_uploads
from reporting.downloads import DOWNLOADS, DownloadRefusedError, report_file

logger = logging.getLogger(__name__)

FACTOR_PAGE_SIZE = 25
# A multipart body carries the file plus its part headers and fields (as the wizard allows).
MULTIPART_SLACK = 64 * 1024
ROOT_PATH = "/api/v1/"
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429)


class FactorTraceApi(NinjaAPI):
    """NinjaAPI whose document declares errors as application/problem+json, and whose 405s and
    root are problems too."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content") or {}
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {PROBLEM_TYPE: content["application/json"]}
        schema["components"].setdefault("securitySchemes", {})
        return schema

    def get_root_path(self, path_params: dict[str, Any]) -> str:
        return ROOT_PATH

    def _get_urls(self) -> list[Any]:
        patterns = [p for p in super()._get_urls() if getattr(p, "name", "") != "api-root"]
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = _problem_405(pattern.callback)
        return patterns


def _problem_405(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """ninja's 405 as a problem; and no answer of the API (tenant data) is kept by any cache."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "") != PROBLEM_TYPE:
            refused = problem("method_not_allowed", f"{request.method} is not allowed here.")
            refused.status_code = 405
            refused["Allow"] = response.get("Allow", "")
            return refused
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response

    return wrapper


api = FactorTraceApi(
    title="FactorTrace API",
    version="1",
    description=(
        "Push activity data and read the inventory of one workspace. Authenticate with an API "
        "token made by an owner in Settings: `Authorization: Bearer <token>`, on the workspace's "
        "own host. Errors are `application/problem+json` (RFC 9457)."
    ),
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)

ERRORS = dict.fromkeys(ERROR_STATUSES, ProblemOut)


# ---- errors ---------------------------------------------------------------------------------------


@api.exception_handler(ApiProblem)
def _on_problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return exc.response()


@api.exception_handler(ValidationError)
def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "location": ".".join(str(p) for p in e.get("loc", ())),
            "message": str(e.get("msg", "")),
        }
        for e in exc.errors
    ]
    return problem("invalid_parameters", "Some parameters are not valid.", errors=errors)


@api.exception_handler(Http404)
def _on_404(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem("not_found", str(exc) or "Not found.")


@api.exception_handler(AuthenticationError)
def _on_auth(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem("unauthorized", "Send an API token as `Authorization: Bearer <token>`.")


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = next((c for c, (s, _) in PROBLEMS.items() if s == exc.status_code), "invalid_request")
    return problem(code, str(exc), status=exc.status_code)


@api.exception_handler(Exception)
def _on_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API request failed", extra={"path": request.path})
    return problem("server_error", "The request failed on our side; nothing was changed.")


def _no_store(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "no-store"
    return response


# ---- imports --------------------------------------------------------------------------------------

IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ImportBatchIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mapping": {
                            "type": "string",
                            "description": "An inline mapping as a JSON string.",
                        },
                        "template": {"type": "string", "maxLength": 120},
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _json_batch(request: HttpRequest) -> ImportBatchIn:
    length = _content_length(request)
    if length is None or length > settings.IMPORT_MAX_BYTES:
        raise ApiProblem("too_large", limit_message())
    # Read past DATA_UPLOAD_MAX_MEMORY_SIZE (a batch is bigger than a form), up to the import limit.
    raw = request.read(settings.IMPORT_MAX_BYTES + 1)
    if len(raw) > settings.IMPORT_MAX_BYTES:
        raise ApiProblem("too_large", limit_message())
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiProblem("malformed_json", "The body's JSON is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem("malformed_json", f"The body is not valid JSON: {exc}.") from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        limit = settings.API_MAX_BATCH_ROWS
        if len(data["rows"]) > limit:
            raise ApiProblem(
                "too_large",
                f"A batch may hold {limit:,} rows; this one has {len(data['rows']):,}. Send it "
                "in several batches, or as a file.",
                limit=limit,
            )
    try:
        return ImportBatchIn.model_validate(data)
    except PydanticValidationError as exc:
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()[:50]
        ]
        raise ApiProblem(
            "invalid_request", "The body does not match the schema.", errors=errors
        ) from None


def _multipart(request: HttpRequest) -> tuple[Any, dict[str, Any] | None, str | None]:
    length = _content_length(request)
    if length is None or length > settings.IMPORT_MAX_BYTES + MULTIPART_SLACK:
        raise ApiProblem("too_large", limit_message())
    limit_uploads(request)
    try:
        files, fields = request.FILES, request.POST
    except MultiPartParserError as exc:
        raise ApiProblem("invalid_request", f"The multipart body cannot be read: {exc}") from None
    except RequestDataTooBig:
        raise ApiProblem("too_large", limit_message()) from None
    except TooManyFieldsSent:
        raise ApiProblem("invalid_request", "The body has too many fields.") from None
    if getattr(request, "upload_too_large", False):
        raise ApiProblem("too_large", limit_message())
    unknown = (set(files) | set(fields)) - {"file", "mapping", "template"}
    if unknown:
        raise ApiProblem(
            "invalid_request",
            f"Unknown fields: {', '.join(sorted(unknown))}.",
            fields=sorted(unknown),
        )
    if "file" not in files:
        raise ApiProblem("invalid_request", "Send the file in the `file` field.")
    mapping = None
    if fields.get("mapping"):
        try:
            mapping = json.loads(fields["mapping"])
        except RecursionError:
            raise ApiProblem("malformed_json", "The mapping's JSON is nested too deeply.") from None
        except ValueError as exc:
            raise ApiProblem("malformed_json", f"The mapping is not valid JSON: {exc}.") from None
        if not isinstance(mapping, dict):
            raise ApiProblem("invalid_mapping", "The mapping must be a JSON object.")
    template = fields.get("template") or None
    return files["file"], mapping, template


@api.post(
    "/imports",
    auth=WRITE,
    response={202: ImportAcceptedOut, **ERRORS},
    openapi_extra=IMPORT_BODY,
    url_name="imports_create",
    summary="Import activities (a file or a JSON batch)",
)
def imports_create(
    request: HttpRequest,
    query: Query[ImportQuery],
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        max_length=255,
        description="Replays return the first answer.",
    ),
) -> HttpResponseBase:
    """Read, map and validate the rows as the wizard does, then queue the commit job; `GET` the
    returned `url` for its progress. Rows with errors refuse the whole import (422, with each
    error) unless `allow_partial`; nothing is written on any error."""
    content_type = request.content_type or ""
    if content_type == "application/json":
        batch = _json_batch(request)
        if batch.mapping is not None and batch.template:
            raise ApiProblem("invalid_mapping", "Give a mapping or a template, not both.")
        upload = rows_as_csv(batch.rows, batch.file_name or "batch.csv")
        mapping, template = batch.mapping, batch.template
    elif content_type == "multipart/form-data":
        upload, mapping, template = _multipart(request)
        if mapping is not None and template:
            raise ApiProblem("invalid_mapping", "Give a mapping or a template, not both.")
    else:
        raise ApiProblem(
            "unsupported_media_type",
            "Send application/json (a batch of rows) or multipart/form-data (a file).",
        )
    key = (idempotency_key or "").strip()
    status, body = api_import_create(
        token=request.auth,  # type: ignore[attr-defined]
        request=ImportRequest(
            upload=upload,
            mapping=mapping,
            template=template,
            allow_partial=query.allow_partial,
            duplicates=query.duplicates,
            idempotency_key=key,
            fingerprint=request_fingerprint(
                upload, mapping, template, query.allow_partial, query.duplicates
            ),
        ),
    )
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Location"] = body["url"]
    return _no_store(response)


def _get_run_for_token(request: HttpRequest, run_id: int) -> ImportRun:
    """An import run of this tenant (its own schema), 404 otherwise."""
    try:
        return ImportRun.objects.get(id=run_id)
    except ImportRun.DoesNotExist:
        raise ApiProblem("not_found", f"No import {run_id} in this workspace.") from None


@api.get(
    "/imports/{run_id}",
    auth=READ,
    response={200: ImportOut, **ERRORS},
    url_name="imports_detail",
    summary="An import's status, counts, row errors and factor choices",
)
def imports_detail(request: HttpRequest, run_id: int) -> Any:
    if not 0 < run_id < 2**63:
        raise ApiProblem("not_found", f"No import {run_id} in this workspace.")
    return api_import_detail(_get_run_for_token(request, run_id))


# ---- activities and the inventory ----------------------------------------------------------------


def _period(value: str | None) -> tuple[ReportingPeriod | None, ActivityFilters, str]:
    """(the reporting period, its date filters, the uncertainty key) for `?period=`."""
    if not value:
        return None, ActivityFilters(), ""
    period = ReportingPeriod.objects.filter(name=value).order_by("-start").first()
    if period is not None:
        key = str(period.start.year) if period.start.year == period.end.year else ""
        return period, ActivityFilters(date_from=period.start, date_to=period.end), key
    year = whole_number(value)
    if year is not None and len(value) == 4 and 1900 <= year <= 2200:
        filters = ActivityFilters(date_from=dt.date(year, 1, 1), date_to=dt.date(year, 12, 31))
        return None, filters, value
    names = list(ReportingPeriod.objects.values_list("name", flat=True)[:50])
    raise ApiProblem(
        "invalid_parameters",
        f"No reporting period named {value!r}; give a period's name or a calendar year.",
        periods=names,
    )


def _encode_cursor(record: ActivityRecord) -> str:
    return base64.urlsafe_b64encode(f"{record.date.isoformat()},{record.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.date, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        day, record_id = text.split(",")
        return dt.date.fromisoformat(day), int(record_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem("invalid_parameters", "The cursor is not one this API gave.") from None


@api.get(
    "/activities",
    auth=READ,
    response={200: ActivityPageOut, **ERRORS},
    url_name="activities_list",
    summary="Activity records, filtered, by date (cursor pagination)",
)
def activities_list(request: HttpRequest, query: Query[ActivityQuery]) -> Any:
    from django.db.models import Q

    _, filters, _ = _period(query.period)
    filters = ActivityFilters(
        date_from=filters.date_from,
        date_to=filters.date_to,
        scope=query.scope,
        category=query.category,
        site=query.site or "",
        run_id=query.import_run,
    )
    records = activity_records(filters).select_related(None)
    if query.cursor:
        day, last_id = _decode_cursor(query.cursor)
        records = records.filter(Q(date__gt=day) | Q(date=day, id__gt=last_id))
    page = list(records[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return {
        "results": [_activity(r) for r in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
    }


def _activity(r: ActivityRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "date": r.date,
        "period_end": r.period_end,
        "activity": r.activity,
        "site": r.site,
        "supplier": r.supplier,
        "country": r.country,
        "quantity": r.quantity,
        "unit": r.unit,
        "amount": r.amount,
        "currency": r.currency,
        "scope": r.scope,
        "category": r.category,
        "kg_co2e": r.kg_co2e,
        "kg_co2e_market": r.kg_co2e_market,
        "gwp_set": r.gwp_set,
        "factor_id": r.factor_id,
        "supplier_factor_id": r.supplier_factor_id,
        "factor_version": r.factor_version,
        "data_quality": r.data_quality,
        "line_kind": r.line_kind,
        "import_run": r.import_run_id,
        "source_row": r.source_row,
    }


@api.get(
    "/inventory",
    auth=READ,
    response={200: InventoryOut, **ERRORS},
    url_name="inventory",
    summary="The inventory: totals by scope (Scope 2 both ways), breakdowns, 95 % interval",
)
def inventory(request: HttpRequest, query: Query[InventoryQuery]) -> Any:
    period, filters, key = _period(query.period)
    totals = inventory_totals(filters=filters)
    uncertainty = inventory_uncertainty(period=key)
    body: dict[str, Any] = {
        "period": (
            {"name": period.name, "start": period.start, "end": period.end} if period else None
        ),
        "totals_kg": asdict(totals),
        "uncertainty_95": {
            "computed_at": uncertainty.computed_at,
            "pending": uncertainty.active is not None,
            "intervals_kg": {
                name: {"deterministic": r.deterministic, "p2_5": r.p2_5, "p97_5": r.p97_5}
                for name, r in uncertainty.groups.items()
            },
        },
    }
    for by in DIMENSIONS:
        body[f"by_{by}"] = [
            {
                "key": r.key.isoformat() if isinstance(r.key, dt.date) else r.key,
                "label": r.label,
                "records": r.records,
                "location_kg": r.location,
                "market_kg": r.market,
            }
            for r in inventory_breakdown(by=by, filters=filters)
        ]
    return body


# ---- factors --------------------------------------------------------------------------------------


def _factor(f: EmissionFactor) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "category": f.category,
        "dataset": f.dataset.key,
        "dataset_version": f.dataset.version,
        "dataset_is_current": f.dataset.is_current,
        "publisher_id": f.publisher_id,
        "scope": f.scope,
        "scope3_category": f.scope3_category,
        "region": f.region,
        "unit": f.unit,
        "unit_dimension": f.unit_dimension,
        "kg_co2e": f.kg_co2e,
        "co2": f.co2,
        "ch4": f.ch4,
        "n2o": f.n2o,
        "other_ghg": f.other_ghg,
        "gwp_set": f.gwp_set,
        "year": f.year,
        "uncertainty_low": f.uncertainty_low,
        "uncertainty_high": f.uncertainty_high,
    }


@api.get(
    "/factors",
    auth=READ,
    response={200: FactorPageOut, **ERRORS},
    url_name="factors_list",
    summary="Search the factor library (the factor browser's search)",
)
def factors_list(request: HttpRequest, query: Query[FactorQuery]) -> Any:
    params = QueryDict(mutable=True)
    params.update(
        {
            "q": query.search,
            "dataset": query.dataset,
            "scope": query.scope,
            "region": query.region,
            "dimension": query.dimension,
            "year": query.year,
        }
    )
    filters = factor_filters(params)
    page, _ = factor_browse(filters, page=query.page, per_page=FACTOR_PAGE_SIZE)
    supplier = matching_supplier_factors(filters) if page.number == 1 else []
    return {
        "count": page.paginator.count,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "results": [_factor(f) for f in page.object_list],
        "supplier_factors": [
            {"id": s.id, "name": s.name, "scope": str(s.scope), "region": s.region, "unit": s.unit}
            for s in supplier
        ],
    }


@api.get(
    "/factors/{factor_id}",
    auth=READ,
    response={200: FactorOut, **ERRORS},
    url_name="factors_detail",
    summary="One library factor",
)
def factors_detail(request: HttpRequest, factor_id: int) -> Any:
    factor = (
        EmissionFactor.objects.select_related("dataset").filter(id=factor_id).first()
        if 0 < factor_id < 2**63
        else None
    )
    if factor is None:
        raise ApiProblem("not_found", f"No factor {factor_id} in the library.")
    return _factor(factor)


# ---- reports and credits --------------------------------------------------------------------------

REPORT_ERRORS = dict.fromkeys((*ERROR_STATUSES, 402), ProblemOut)
FILE_RESPONSE = {
    "responses": {
        200: {
            "description": "The file, as an attachment.",
            "content": {
                content_type: {"schema": {"type": "string", "format": "binary"}}
                for _, content_type, _ in DOWNLOADS.values()
            },
        }
    }
}


@api.get(
    "/reports",
    auth=READ,
    response={200: ReportListOut, **ERRORS},
    url_name="reports_list",
    summary="The reports: status, progress, verdict, downloads",
)
def reports_list(request: HttpRequest) -> Any:
    return {"results": [report_body(r) for r in reports()]}


@api.post(
    "/reports",
    auth=WRITE,
    response={202: ReportAcceptedOut, **REPORT_ERRORS},
    url_name="reports_create",
    summary="Generate a report (consumes one credit)",
)
def reports_create(
    request: HttpRequest,
    body: ReportIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        max_length=255,
        description="Replays return the first answer and consume no second credit.",
    ),
) -> HttpResponseBase:
    """Check the request as the reports page does (regime, formats, period, organisation profile,
    data, taxonomy), consume one credit and queue the generation; `GET` the returned `url` for
    its progress, verdict and downloads. No credit left: 402, and nothing is created."""
    answer = api_report_create(
        token=request.auth,  # type: ignore[attr-defined]
        regime=body.regime,
        period=body.period,
        formats=list(body.formats),
        idempotency_key=(idempotency_key or "").strip(),
    )
    response = HttpResponse(
        ReportAcceptedOut.model_validate(answer).model_dump_json(),
        status=202,
        content_type="application/json",
    )
    response["Location"] = answer["url"]
    return _no_store(response)


@api.get(
    "/reports/{report_id}",
    auth=READ,
    response={200: ReportOut, **ERRORS},
    url_name="reports_detail",
    summary="One report: status, progress, verdict, downloads",
)
def reports_detail(request: HttpRequest, report_id: int) -> Any:
    return report_body(report_for_token(report_id))


@api.get(
    "/reports/{report_id}/files/{fmt}",
    auth=READ,
    response={**ERRORS},
    openapi_extra=FILE_RESPONSE,
    url_name="reports_file",
    summary="A report's file (PDF, iXBRL, report package, VSME Digital Template)",
)
def reports_file(request: HttpRequest, report_id: int, fmt: DownloadFormat) -> HttpResponseBase:
    """Only a finished report that is not invalid is downloadable as final (the reports page's
    rule): otherwise 409, with the reason."""
    try:
        found = report_file(report_for_token(report_id, with_files=True), fmt)
    except DownloadRefusedError as exc:
        raise ApiProblem("not_downloadable", str(exc)) from None
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return _no_store(response)


def _tenant_id(request: HttpRequest) -> int:
    return int(request.tenant.id)  # type: ignore[attr-defined]


@api.get(
    "/credits",
    auth=READ,
    response={200: CreditsOut, **ERRORS},
    url_name="credits",
    summary="The report credit balance and the ledger, newest first",
)
def credits(request: HttpRequest, query: Query[CreditsQuery]) -> Any:
    return api_credits(tenant_id=_tenant_id(request), limit=query.limit)


@api.post(
    "/vouchers/redeem",
    auth=WRITE,
    response={200: VoucherOut, **ERRORS},
    url_name="vouchers_redeem",
    summary="Redeem a voucher code for report credits",
)
def vouchers_redeem(request: HttpRequest, body: VoucherIn) -> Any:
    """As on the Billing page: once per workspace, before it expires, while it has redemptions
    left; otherwise 422 with the Billing page's message."""
    return api_voucher_redeem(
        token=request.auth,  # type: ignore[attr-defined]
        tenant_id=_tenant_id(request),
        code=body.code,
    )


def api_operations() -> dict[str, Any]:
    """Every operation that serves requests, by URL name (``api:<url_name>``): the isolation
    matrix checks each, and its mutation test removes or weakens each one's ``auth``."""
    found = {}
    for bound in api._get_bound_routers():
        for view in bound.path_operations.values():
            for operation in view.operations:
                found[f"{api.urls_namespace}:{operation.url_name}"] = operation
    return found
