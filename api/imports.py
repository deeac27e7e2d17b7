"""The API's imports, through the wizard's own pipeline and commit job.

Every call into the import services is in this module: ``import_run_create`` (store and read the
file in the parse child), ``import_run_set_mapping`` (check the mapping against the file's columns), ``import_run_validate``
(validate, match factors, calculate, store the row errors) and ``import_run_start_commit`` (claim
the run and queue ``import_run_commit_job``, the wizard's commit job). They run in one transaction:
any refusal rolls the run back and deletes its stored file, so a refused request leaves nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction

from accounts.models import User
from api.models import ApiImport, ApiToken
from api.problems import ApiProblem
from imports.errors import ImportInputError
from imports.models import ImportRun, MappingTemplate, RowError
from imports.pipeline import Mapping, PipelineError
from imports.selectors import choice_summaries
from imports.services import (
    import_run_create,
    import_run_set_mapping,
    import_run_start_commit,
    import_run_validate,
)
from imports.writer import DUPLICATE_CHOICES

# Row errors in a refusal (the run's GET lists up to the wizard's stored maximum).
ERRORS_IN_PROBLEM = 1000


@dataclass(frozen=True)
class ImportRequest:
    """A validated POST /imports: the file (an upload, or a JSON batch written as CSV), how its
    columns map, and the commit choices."""

    upload: UploadedFile
    mapping: dict[str, Any] | None
    template: str | None
    allow_partial: bool
    duplicates: str
    idempotency_key: str
    fingerprint: str  # SHA-256 of everything above: a reused key must come with the same request


def rows_as_csv(rows: list[dict[str, Any]], name: str) -> SimpleUploadedFile:
    """A JSON batch as the CSV file the pipeline reads (columns in first-seen order; null and
    missing keys are empty cells)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"), content_type="text/csv")


def request_fingerprint(upload: UploadedFile, *parts: object) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    digest.update(repr(parts).encode())
    upload.seek(0)
    return digest.hexdigest()


def _mapping(request: ImportRequest) -> Mapping | None:
    if request.template:
        template = MappingTemplate.objects.filter(name=request.template).first()
        if template is None:
            names = list(MappingTemplate.objects.values_list("name", flat=True)[:50])
            raise ApiProblem(
                "invalid_mapping",
                f"No mapping template named {request.template!r}.",
                templates=names,
            )
        return Mapping.from_dict(template.mapping)
    if request.mapping is not None:
        try:
            return Mapping.from_dict(request.mapping)
        except PipelineError as exc:
            raise ApiProblem(
                "invalid_mapping", exc.message, pipeline_code=exc.code, details=exc.details
            ) from None
    return None


def _input_problem(exc: ImportInputError, code: str) -> ApiProblem:
    if exc.code == "too_large":
        code = "too_large"
    elif exc.code == "duplicates":
        code = "duplicates"
    return ApiProblem(code, exc.message, pipeline_code=exc.code, details=exc.details)


def _replay(existing: ApiImport, fingerprint: str) -> tuple[int, dict[str, Any]]:
    if existing.request_sha256 != fingerprint:
        raise ApiProblem(
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request. Use a new key for a new "
            "request.",
        )
    return 202, {**existing.response, "replayed": True}


def api_import_create(*, token: ApiToken, request: ImportRequest) -> tuple[int, dict[str, Any]]:
    """Read, map, validate and queue the commit of one import; (status, body). A request with an
    Idempotency-Key already answered gets that first answer again, and nothing is created."""
    key = request.idempotency_key
    if key:
        existing = ApiImport.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, request.fingerprint)
    try:
        return _create(token=token, request=request)
    except IntegrityError:
        # The same key in a concurrent request that committed first: answer as it did.
        existing = ApiImport.objects.filter(idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return _replay(existing, request.fingerprint)


def _create(*, token: ApiToken, request: ImportRequest) -> tuple[int, dict[str, Any]]:
    user: User | None = token.created_by
    run: ImportRun | None = None
    try:
        with transaction.atomic():
            # The key is claimed first: a concurrent request with it waits here, then replays.
            record = ApiImport.objects.create(
                token=token,
                idempotency_key=request.idempotency_key,
                request_sha256=request.fingerprint,
            )
            mapping = _mapping(request)
            try:
                run = import_run_create(upload=request.upload, user=user)
            except ImportInputError as exc:
                raise _input_problem(exc, "invalid_file") from None
            if mapping is not None:
                try:
                    run = import_run_set_mapping(
                        run=run, mapping=mapping, template_name=None, user=user
                    )
                except ImportInputError as exc:
                    raise _input_problem(exc, "invalid_mapping") from None
            try:
                prepared = import_run_validate(run=run)
            except ImportInputError as exc:
                raise _input_problem(exc, "invalid_mapping") from None
            counts = _counts(prepared.n_rows, prepared.n_valid, prepared.n_invalid)
            if prepared.n_invalid and not request.allow_partial:
                raise ApiProblem(
                    "invalid_rows",
                    f"{prepared.n_invalid:,} of {prepared.n_rows:,} rows have errors; nothing was "
                    "imported. Fix them, or send ?allow_partial=true to import the valid rows.",
                    counts=counts,
                    errors=_clean_errors(prepared.error_records(limit=ERRORS_IN_PROBLEM)),
                )
            if not prepared.n_valid:
                raise ApiProblem("nothing_to_import", "No row can be imported.", counts=counts)
            try:
                import_run_start_commit(
                    run=run,
                    user=user,
                    allow_partial=request.allow_partial,
                    duplicates=request.duplicates,
                )
            except ImportInputError as exc:
                raise _input_problem(exc, "invalid_request") from None
            body = {
                "id": run.id,
                "url": f"/api/v1/imports/{run.id}",
                "status": "committing",
                "counts": counts,
                "replayed": False,
            }
            record.run = run
            record.response = body
            record.choices = choice_summaries(prepared.choices)
            record.save(update_fields=["run", "response", "choices"])
    except BaseException:
        if run is not None and run.file:
            run.file.storage.delete(run.file.name)
        raise
    return 202, body


def _counts(rows: int, valid: int, invalid: int) -> dict[str, int]:
    return {"rows": rows, "valid": valid, "invalid": invalid}


def _clean_errors(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The wizard's row-error objects, JSON-clean (no NaN for an empty cell)."""
    out = []
    for e in records:
        value, suggestion = e.get("value"), e.get("suggestion")
        out.append(
            {
                "row": int(e["row"]),
                "column": str(e["column"]),
                "value": None if value is None or value != value else str(value),
                "message": str(e["message"]),
                "suggestion": None
                if suggestion is None or suggestion != suggestion
                else str(suggestion) or None,
            }
        )
    return out


def api_import_detail(run: ImportRun) -> dict[str, Any]:
    """A run's status, counts, stored row errors and factor choices, for GET /imports/{id}."""
    record = ApiImport.objects.filter(run=run).first()
    detected = run.detected or {}
    errors = [
        {
            "row": e.row,
            "column": e.column,
            "value": e.value or None,
            "message": e.message,
            "suggestion": e.suggestion or None,
        }
        for e in RowError.objects.filter(run=run).order_by("row", "id")[:ERRORS_IN_PROBLEM]
    ]
    return {
        "id": run.id,
        "url": f"/api/v1/imports/{run.id}",
        "status": str(run.status),
        "file_name": run.original_name,
        "created_at": run.created_at,
        "committed_at": run.committed_at,
        "progress": run.progress,
        "message": run.error or run.progress_message,
        "counts": {
            "rows": run.rows_total,
            "valid": run.rows_valid,
            "invalid": run.rows_invalid,
            "duplicates": run.rows_duplicate,
            "skipped_duplicates": int(detected.get("duplicates_skipped") or 0),
            "records": run.records_created,
        },
        "kg_co2e": run.kg_co2e,
        "errors_total": int(detected.get("errors_total") or len(errors)),
        "errors": errors,
        "choices": record.choices if record is not None else [],
    }


DUPLICATES = DUPLICATE_CHOICES
