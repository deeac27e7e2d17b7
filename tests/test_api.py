"""The JSON API v1: tokens (Settings), the framework (OpenAPI, docs, problem+json, rate limit) and
the import, activity, inventory and factor endpoints. The isolation matrix (tests/test_isolation.py)
checks every route with other tenants' tokens and objects; tests/test_api_fuzz.py runs schemathesis."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from emissions.models import ActivityRecord
from imports.models import ImportRun, ImportStatus, MappingTemplate
from tests.api_helpers import api_client, make_token
from tests.conftest import host
from tests.test_import_services import DIESEL

PROBLEM = "application/problem+json"
MAPPING = {
    "columns": {"date": "Date", "activity": "Activity", "quantity": "Quantity", "unit": "Unit"},
    "options": {"decimal": ".", "date_order": "YMD"},
}
ROWS = [
    {"Date": "2024-01-15", "Activity": "Diesel", "Quantity": 1000, "Unit": "L"},
    {"Date": "2024-02-15", "Activity": "Diesel", "Quantity": 500.5, "Unit": "L"},
]


@pytest.fixture
def writer(tenants: dict[str, object], db: None) -> Client:
    return api_client("acme", make_token("acme", "write"))


@pytest.fixture
def reader(tenants: dict[str, object], db: None) -> Client:
    return api_client("acme", make_token("acme", "read"))


@pytest.fixture
def jobs_in_process() -> Iterator[None]:
    with override_settings(JOBS_IN_PROCESS=True):
        yield


def post_batch(client: Client, body: Any, *, query: str = "", **headers: Any) -> Any:
    """POST a JSON batch, running the commit job it queues once the request commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/imports{query}",
            data=json.dumps(body),
            content_type="application/json",
            **headers,
        )


def runs() -> int:
    with schema_context("acme"):
        return ImportRun.objects.count()


def records() -> int:
    with schema_context("acme"):
        return ActivityRecord.objects.filter(line_kind="main").count()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


# ---- tokens ---------------------------------------------------------------------------------------


def test_it_shows_a_new_token_once_and_keeps_only_its_hash(alice: Client) -> None:
    from api.models import ApiToken

    response = alice.post(
        reverse("api_tokens"), {"name": "SAP export", "scope": "write", "expires_in_days": "90"}
    )
    assert response.status_code == 201
    secret = response.context["new_token"].secret
    assert secret.encode() in response.content
    with schema_context("acme"):
        token = ApiToken.objects.get(name="SAP export")
        stored = [str(v) for v in vars(token).values()]
    assert token.scope == "write"
    assert token.expires_at is not None
    assert secret not in stored
    assert all(secret not in v for v in stored)
    assert secret.encode() not in alice.get(reverse("api_tokens")).content
    assert api_client("acme", secret).get("/api/v1/activities").status_code == 200


def test_it_refuses_the_token_page_to_editors_and_viewers(eddie: Client, bob: Client) -> None:
    assert eddie.get(reverse("api_tokens")).status_code == 403
    assert bob.get(reverse("api_tokens")).status_code == 403


def test_it_records_the_last_use(tenants: dict[str, object], db: None) -> None:
    from api.models import ApiToken

    secret = make_token("acme", "read")
    with schema_context("acme"):
        assert ApiToken.objects.get(prefix=secret[:13]).last_used_at is None
    api_client("acme", secret).get("/api/v1/activities")
    with schema_context("acme"):
        assert ApiToken.objects.get(prefix=secret[:13]).last_used_at is not None


def test_it_revokes_a_token_from_settings(alice: Client) -> None:
    from api.models import ApiToken

    secret = make_token("acme", "write")
    with schema_context("acme"):
        token_id = ApiToken.objects.get(prefix=secret[:13]).id
    response = alice.post(reverse("api_token_revoke", kwargs={"token_id": token_id}))
    assert response.status_code == 302
    body = assert_problem(
        api_client("acme", secret).get("/api/v1/activities"), 401, "invalid_token"
    )
    assert "revoked" in body["detail"]


def test_it_refuses_an_expired_token(tenants: dict[str, object], db: None) -> None:
    secret = make_token("acme", "write", expired=True)
    body = assert_problem(api_client("acme", secret).get("/api/v1/inventory"), 401, "invalid_token")
    assert "expired" in body["detail"]


def test_it_answers_another_tenants_token_as_a_wrong_one(
    tenants: dict[str, object], db: None
) -> None:
    globex = api_client("acme", make_token("globex", "write")).get("/api/v1/activities")
    wrong = api_client("acme", "ft_0123456789_not-a-real-token").get("/api/v1/activities")
    assert_problem(globex, 401, "invalid_token")
    assert globex.json() == wrong.json()
    assert globex["WWW-Authenticate"] == wrong["WWW-Authenticate"]


def test_it_refuses_a_token_whose_owner_is_no_longer_owner(
    tenants: dict[str, object], db: None
) -> None:
    from accounts.models import User

    secret = make_token("acme", "write")
    with schema_context("acme"):
        User.objects.filter(email="alice@acme.example").update(role="editor")
    assert_problem(api_client("acme", secret).get("/api/v1/activities"), 401, "invalid_token")


def test_it_refuses_writes_to_a_read_token(reader: Client) -> None:
    response = reader.post("/api/v1/imports", data="{}", content_type="application/json")
    assert_problem(response, 403, "insufficient_scope")


def test_it_rate_limits_each_token_with_retry_after(
    tenants: dict[str, object], db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secrets
    import types

    import api.auth

    # 20 s into a one-minute window (of its own: counts live in Redis), for the whole test.
    now = 60.0 * (29_000_000 + secrets.randbelow(10**6)) + 20
    monkeypatch.setattr(api.auth, "time", types.SimpleNamespace(time=lambda: now))
    first, second = make_token("acme", "read"), make_token("acme", "read")
    with override_settings(API_RATE_LIMIT_PER_MINUTE=3):
        answers = [api_client("acme", first).get("/api/v1/activities") for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        body = assert_problem(answers[3], 429, "rate_limited")
        assert answers[3]["Retry-After"] == "40"
        assert body["retry_after"] == 40
        # Another token of the same tenant has its own allowance.
        assert api_client("acme", second).get("/api/v1/activities").status_code == 200


# ---- the framework ----------------------------------------------------------------------------------


def test_it_serves_the_openapi_document_and_docs_on_tenant_hosts_only(
    tenants: dict[str, object], db: None
) -> None:
    response = api_client("acme").get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/v1/imports",
        "/api/v1/imports/{run_id}",
        "/api/v1/activities",
        "/api/v1/inventory",
        "/api/v1/factors",
        "/api/v1/factors/{factor_id}",
        "/api/v1/reports",
        "/api/v1/reports/{report_id}",
        "/api/v1/reports/{report_id}/files/{fmt}",
        "/api/v1/credits",
        "/api/v1/vouchers/redeem",
    }
    error = doc["paths"]["/api/v1/activities"]["get"]["responses"]["422"]
    assert list(error["content"]) == [PROBLEM]
    create = doc["paths"]["/api/v1/reports"]["post"]["responses"]
    assert list(create["402"]["content"]) == [PROBLEM]
    assert "202" in create
    files = doc["paths"]["/api/v1/reports/{report_id}/files/{fmt}"]["get"]["responses"]
    assert {"application/pdf", "application/zip"} <= set(files["200"]["content"])
    assert list(files["409"]["content"]) == [PROBLEM]
    docs = api_client("acme").get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"POST /api/v1/imports" in docs.content
    assert b"POST /api/v1/reports" in docs.content
    assert b"no_credits" in docs.content
    public = Client(HTTP_HOST="localhost")
    assert public.get("/api/v1/openapi.json").status_code == 404
    assert public.get("/api/v1/docs").status_code == 404
    # The health check keeps answering where it was, on every host.
    assert public.get("/api/v1/health").status_code == 200
    assert api_client("acme").get("/api/v1/health").json() == {"status": "ok"}


def test_the_docs_page_runs_no_script_under_the_csp(tenants: dict[str, object], db: None) -> None:
    import re

    response = api_client("acme").get("/api/v1/docs")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    scripts = re.findall(rb"<script[^>]*>", response.content)
    assert all(b'src="/static/' in s for s in scripts), scripts
    assert b"cdn" not in response.content.lower()


def test_it_answers_unknown_paths_and_methods_with_problems(writer: Client) -> None:
    assert_problem(writer.get("/api/v1/nothing-here"), 404, "not_found")
    response = writer.delete("/api/v1/imports")
    assert_problem(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_it_needs_a_token(tenants: dict[str, object], db: None) -> None:
    response = api_client("acme").get("/api/v1/activities")
    assert_problem(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[" * 200_000 + "]" * 200_000, "application/json", 400, "malformed_json"),
        ('{"rows": [{"a": 1}], "colour": "red"}', "application/json", 422, "invalid_request"),
        ('{"rows": []}', "application/json", 422, "invalid_request"),
        ('{"rows": [{"a": [1, 2]}]}', "application/json", 422, "invalid_request"),
        ("[1, 2]", "application/json", 422, "invalid_request"),
        ("Date,Activity\n2024-01-01,Diesel\n", "text/csv", 415, "unsupported_media_type"),
        ("rows=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_it_refuses_bad_bodies_and_writes_nothing(
    writer: Client, data: str, content_type: str, status: int, code: str
) -> None:
    before = runs()
    response = writer.post("/api/v1/imports", data=data, content_type=content_type)
    assert_problem(response, status, code)
    assert runs() == before


def test_it_refuses_a_batch_over_the_size_limit(writer: Client) -> None:
    with override_settings(API_MAX_BATCH_ROWS=1):
        response = post_batch(writer, {"rows": ROWS, "mapping": MAPPING})
    body = assert_problem(response, 413, "too_large")
    assert body["limit"] == 1
    assert runs() == 0


def test_it_refuses_a_mapping_naming_a_missing_column_and_keeps_no_file(
    writer: Client, library: None
) -> None:
    from django.conf import settings

    files_before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], "site": "Standort"}}
    response = post_batch(writer, {"rows": ROWS, "mapping": mapping})
    body = assert_problem(response, 422, "invalid_mapping")
    assert "Standort" in body["detail"]
    assert runs() == 0
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == files_before


def test_it_refuses_an_unknown_template_and_a_broken_mapping(writer: Client) -> None:
    body = assert_problem(
        post_batch(writer, {"rows": ROWS, "template": "Nope"}), 422, "invalid_mapping"
    )
    assert "Nope" in body["detail"]
    assert_problem(
        post_batch(writer, {"rows": ROWS, "mapping": {"columns": [1]}}), 422, "invalid_mapping"
    )
    assert_problem(
        post_batch(writer, {"rows": ROWS, "mapping": MAPPING, "template": "X"}),
        422,
        "invalid_mapping",
    )
    assert runs() == 0


# ---- imports ------------------------------------------------------------------------------------------


def test_it_imports_a_json_batch_through_the_commit_job(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    response = post_batch(writer, {"rows": ROWS, "mapping": MAPPING})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["counts"] == {"rows": 2, "valid": 2, "invalid": 0}
    assert response["Location"] == body["url"] == f"/api/v1/imports/{body['id']}"
    detail = writer.get(body["url"]).json()
    assert detail["status"] == ImportStatus.COMMITTED
    assert detail["counts"]["records"] == 2
    assert detail["kg_co2e"] == pytest.approx(1500.5 * DIESEL)
    (diesel,) = detail["choices"]
    assert diesel["activity"] == "Diesel"
    assert diesel["factor"]["dataset"] == "defra_2024"
    assert records() == 2
    with schema_context("acme"):
        run = ImportRun.objects.get(id=body["id"])
        assert run.created_by.email == "alice@acme.example"  # the token's maker
        assert run.original_name == "batch.csv"


def test_it_refuses_rows_with_errors_with_the_wizards_row_errors(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    rows = [*ROWS, {"Date": "2024-03-01", "Activity": "Diesel", "Quantity": 5, "Unit": "Fass"}]
    body = assert_problem(
        post_batch(writer, {"rows": rows, "mapping": MAPPING}), 422, "invalid_rows"
    )
    assert body["counts"] == {"rows": 3, "valid": 2, "invalid": 1}
    (error,) = body["errors"]
    assert set(error) == {"row", "column", "value", "message", "suggestion"}
    assert (error["row"], error["column"], error["value"]) == (4, "Unit", "Fass")
    assert runs() == 0
    assert records() == 0


def test_it_imports_the_valid_rows_with_allow_partial(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    rows = [*ROWS, {"Date": "2024-03-01", "Activity": "Diesel", "Quantity": 5, "Unit": "Fass"}]
    response = post_batch(writer, {"rows": rows, "mapping": MAPPING}, query="?allow_partial=true")
    assert response.status_code == 202, response.content
    detail = writer.get(response.json()["url"]).json()
    assert detail["status"] == ImportStatus.PARTIAL
    assert detail["counts"]["records"] == 2
    assert [(e["row"], e["column"]) for e in detail["errors"]] == [(4, "Unit")]
    assert records() == 2


def test_it_replays_an_idempotent_request_and_creates_nothing(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    body = {"rows": ROWS, "mapping": MAPPING}
    first = post_batch(writer, body, HTTP_IDEMPOTENCY_KEY="feed-2024-02")
    again = post_batch(writer, body, HTTP_IDEMPOTENCY_KEY="feed-2024-02")
    assert first.status_code == again.status_code == 202
    assert again.json() == {**first.json(), "replayed": True}
    assert runs() == 1
    assert records() == 2
    other = post_batch(writer, {**body, "rows": ROWS[:1]}, HTTP_IDEMPOTENCY_KEY="feed-2024-02")
    assert_problem(other, 422, "idempotency_key_reused")
    assert runs() == 1


def test_it_refuses_rows_already_imported_unless_told(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    assert post_batch(writer, {"rows": ROWS, "mapping": MAPPING}).status_code == 202
    assert_problem(post_batch(writer, {"rows": ROWS, "mapping": MAPPING}), 409, "duplicates")
    assert runs() == 1
    skipped = post_batch(writer, {"rows": ROWS, "mapping": MAPPING}, query="?duplicates=skip")
    assert skipped.status_code == 202
    assert writer.get(skipped.json()["url"]).json()["counts"]["skipped_duplicates"] == 2
    assert records() == 2


def test_it_imports_an_uploaded_file_with_a_saved_template(
    writer: Client, library: None, jobs_in_process: None
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.test_import_cli import CLEAN_CSV

    with schema_context("acme"):
        MappingTemplate.objects.create(
            name="Tankkarte",
            header_signature="-",
            mapping={
                "columns": {
                    "date": "Datum",
                    "activity": "Beschreibung",
                    "quantity": "Menge",
                    "unit": "Einheit",
                },
                "options": {"decimal": ",", "date_order": "DMY"},
            },
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = writer.post(
            "/api/v1/imports",
            {"file": SimpleUploadedFile("tankkarte.csv", CLEAN_CSV), "template": "Tankkarte"},
        )
    assert response.status_code == 202, response.content
    detail = writer.get(response.json()["url"]).json()
    assert detail["status"] == ImportStatus.COMMITTED
    assert detail["file_name"] == "tankkarte.csv"
    assert records() == 4


def test_it_refuses_unknown_multipart_fields(writer: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = writer.post(
        "/api/v1/imports", {"file": SimpleUploadedFile("a.csv", b"a\n1\n"), "colour": "red"}
    )
    assert_problem(response, 422, "invalid_request")
    assert runs() == 0


# ---- reads ------------------------------------------------------------------------------------------


def test_it_lists_activities_with_filters_and_a_cursor(
    reader: Client, writer: Client, library: None, jobs_in_process: None
) -> None:
    rows = [
        {"Date": f"2024-{m:02d}-10", "Activity": "Diesel", "Quantity": m, "Unit": "L"}
        for m in range(1, 7)
    ]
    run_id = post_batch(writer, {"rows": rows, "mapping": MAPPING}).json()["id"]
    seen: list[str] = []
    cursor = ""
    while True:
        page = reader.get(
            "/api/v1/activities",
            {
                "limit": 4,
                "scope": 1,
                "import_run": run_id,
                **({"cursor": cursor} if cursor else {}),
            },
        ).json()
        assert "results" in page, page
        seen += [r["date"] for r in page["results"] if r["line_kind"] == "main"]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [r["Date"] for r in rows]
    only_2024_h1 = reader.get("/api/v1/activities", {"period": "2024", "scope": 2}).json()
    assert only_2024_h1["results"] == []
    assert_problem(reader.get("/api/v1/activities", {"cursor": "!!"}), 422, "invalid_parameters")
    assert_problem(
        reader.get("/api/v1/activities", {"period": "FY1066"}), 422, "invalid_parameters"
    )
    assert_problem(reader.get("/api/v1/activities", {"scope": "7"}), 422, "invalid_parameters")


def test_it_reads_the_inventory_through_the_inventory_selector(
    reader: Client, writer: Client, library: None, jobs_in_process: None
) -> None:
    import datetime as dt

    from emissions.selectors_activities import ActivityFilters
    from emissions.selectors_inventory import inventory_totals
    from tests.org_helpers import make_period

    post_batch(writer, {"rows": ROWS, "mapping": MAPPING})
    make_period("acme", name="FY2024", start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))
    body = reader.get("/api/v1/inventory", {"period": "FY2024"}).json()
    with schema_context("acme"):
        totals = inventory_totals(
            filters=ActivityFilters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31))
        )
    assert body["period"] == {"name": "FY2024", "start": "2024-01-01", "end": "2024-12-31"}
    assert body["totals_kg"]["scope_1"] == pytest.approx(totals.scope_1)
    assert body["totals_kg"]["scope_2_market"] == pytest.approx(totals.scope_2_market)
    assert [r["key"] for r in body["by_month"]] == ["2024-01-01", "2024-02-01"]
    assert "intervals_kg" in body["uncertainty_95"]
    assert reader.get("/api/v1/inventory", {"period": "2023"}).json()["totals_kg"]["records"] == 0


def test_it_searches_the_factor_library_as_the_browser(reader: Client, library: None) -> None:
    from django.http import QueryDict

    from factors.picker import factor_filters
    from factors.selectors import factor_search

    body = reader.get("/api/v1/factors", {"search": "diesel", "scope": "1"}).json()
    expected = list(
        factor_search(factor_filters(QueryDict("q=diesel&scope=1"))).values_list("id", flat=True)
    )
    assert body["count"] == len(expected)
    assert [f["id"] for f in body["results"]] == expected[:25]
    one = reader.get(f"/api/v1/factors/{expected[0]}").json()
    assert one["id"] == expected[0]
    assert one["dataset"]
    assert_problem(reader.get("/api/v1/factors/999999999"), 404, "not_found")


def test_it_is_not_served_on_the_public_host(tenants: dict[str, object], db: None) -> None:
    secret = make_token("acme", "write")
    public = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert public.get("/api/v1/activities").status_code == 404
    assert host("acme") == "acme.localhost"


def test_it_refuses_a_broken_multipart_body(writer: Client) -> None:
    response = writer.post(
        "/api/v1/imports",
        data=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nbroken',
        content_type="multipart/form-data; boundary=xyz",
    )
    assert response.status_code in {400, 422}
    assert response["Content-Type"] == PROBLEM
    assert runs() == 0


def test_it_keeps_api_answers_out_of_caches(reader: Client) -> None:
    assert reader.get("/api/v1/activities")["Cache-Control"] == "no-store"


# ---- reports, credits and vouchers ----------------------------------------------------------------


@pytest.fixture
def seeded(tenants: dict[str, object], db: None, settings: Any, monkeypatch: Any) -> Any:
    """acme with FY2024's records, its profile and 10 report credits; reports are built in
    process without Arelle (tests/test_reports.py runs it)."""
    from reporting import services
    from tests.report_helpers import ESRS_DIR, VSME_JSON, seed_tenant

    settings.XBRL_TAXONOMY_DIR = str(ESRS_DIR)
    settings.VSME_TAXONOMY_JSON = str(VSME_JSON)
    settings.JOBS_IN_PROCESS = True
    monkeypatch.setattr(services, "_packages", lambda regime_key: ())
    monkeypatch.setattr(services, "_arelle_reads", lambda regime_key: False)
    return seed_tenant()


def post_report(client: Client, body: Any, **headers: Any) -> Any:
    """POST /reports, running the generation job it queues once the request commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            "/api/v1/reports", data=json.dumps(body), content_type="application/json", **headers
        )


def balance(schema: str = "acme") -> int:
    from billing.ledger import credit_balance, tenant_id_for_schema

    return credit_balance(tenant_id=tenant_id_for_schema(schema))


def reports_made() -> int:
    from reporting.models import Report

    with schema_context("acme"):
        return Report.objects.count()


def test_it_generates_a_report_consuming_one_credit_and_serves_its_files(
    seeded: Any, writer: Client, reader: Client
) -> None:
    before = balance()
    response = post_report(writer, {"regime": "vsme", "period": "FY2024", "formats": ["pdf"]})
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert response["Location"] == accepted["url"] == f"/api/v1/reports/{accepted['id']}"
    assert accepted["credits_left"] == before - 1 == balance()
    assert accepted["replayed"] is False
    assert accepted["created_by"] == "alice@acme.example"

    report = reader.get(accepted["url"]).json()
    assert report["status"] == "done"
    assert report["progress"] == 100
    assert report["period"] == {"name": "FY2024", "start": "2024-01-01", "end": "2024-12-31"}
    assert (report["regime"], report["version"], report["formats"]) == ("vsme", 1, ["pdf"])
    assert report["verdict"]["verdict"] == "valid"
    assert report["verdict"]["error_count"] == 0
    assert report["verdict"]["checked_by"] == "the VSME taxonomy dump"
    assert set(report["downloads"]) == {"pdf", "xhtml"}
    assert reader.get("/api/v1/reports").json()["results"] == [report]

    pdf = reader.get(report["downloads"]["pdf"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="vsme-fy2024-v1.pdf"'
    assert pdf.content.startswith(b"%PDF")
    xhtml = reader.get(report["downloads"]["xhtml"])
    assert xhtml["Content-Type"] == "application/xhtml+xml"
    assert b"ix:nonFraction" in xhtml.content
    # Not asked for: no such file, with the reports page's reason.
    body = assert_problem(reader.get(f"{accepted['url']}/files/template"), 409, "not_downloadable")
    assert "no such file" in body["detail"]

    ledger = reader.get("/api/v1/credits").json()
    assert ledger["balance"] == before - 1
    consumed = ledger["ledger"][0]
    assert (consumed["kind"], consumed["credits"], consumed["report_id"]) == (
        "consume",
        -1,
        accepted["id"],
    )
    assert consumed["actor"] == "alice@acme.example"
    # A year names the period starting in it: a second version.
    again = post_report(writer, {"regime": "vsme", "period": "2024"})
    assert again.status_code == 202, again.content
    assert again.json()["version"] == 2
    assert balance() == before - 2


def test_it_refuses_a_report_without_a_credit_and_creates_nothing(
    seeded: Any, writer: Client
) -> None:
    from tests.billing_helpers import set_balance

    set_balance("acme", 0)
    body = assert_problem(
        post_report(writer, {"regime": "esrs_e1", "period": "FY2024"}), 402, "no_credits"
    )
    assert "No report credits left" in body["detail"]
    assert "redeem a voucher" in body["detail"]
    assert reports_made() == 0
    assert balance() == 0


def test_it_refuses_a_report_it_cannot_generate_with_the_reason(
    seeded: Any, writer: Client, reader: Client, settings: Any
) -> None:
    from emissions.models import OrganisationProfile
    from tests.org_helpers import make_period

    before = balance()
    cases = [
        ({"regime": "cbam", "period": "FY2024"}, "cannot_generate", "Unknown regime"),
        (
            {"regime": "esrs_e1", "period": "FY2024", "formats": ["template"]},
            "cannot_generate",
            "not template",
        ),
        ({"regime": "esrs_e1", "period": "FY1999"}, "invalid_parameters", "No reporting period"),
        ({"regime": "esrs_e1", "period": "FY\x00"}, "invalid_parameters", ""),
        ({"regime": "esrs_e1", "period": "FY2024", "extra": 1}, "invalid_parameters", ""),
        ({"regime": "esrs_e1", "period": "FY2024", "formats": ["docx"]}, "invalid_parameters", ""),
    ]
    for body, code, detail in cases:
        problem = assert_problem(post_report(writer, body), 422, code)
        assert detail in problem["detail"], problem
    make_period(name="FY2030", start=dt.date(2030, 1, 1), end=dt.date(2030, 12, 31))
    problem = assert_problem(
        post_report(writer, {"regime": "esrs_e1", "period": "FY2030"}), 422, "cannot_generate"
    )
    assert "no activity records" in problem["detail"]
    settings.XBRL_TAXONOMY_DIR = "/nonexistent"
    problem = assert_problem(
        post_report(writer, {"regime": "esrs_e1", "period": "FY2024"}), 422, "cannot_generate"
    )
    assert "XBRL_TAXONOMY_DIR" in problem["detail"]
    with schema_context("acme"):
        OrganisationProfile.objects.all().delete()
    problem = assert_problem(
        post_report(writer, {"regime": "vsme", "period": "FY2024"}), 422, "cannot_generate"
    )
    assert "organisation profile" in problem["detail"]
    assert_problem(
        post_report(reader, {"regime": "vsme", "period": "FY2024"}), 403, "insufficient_scope"
    )
    assert reports_made() == 0
    assert balance() == before


def test_it_replays_a_report_request_with_its_idempotency_key_for_one_credit(
    seeded: Any, writer: Client
) -> None:
    before = balance()
    body = {"regime": "vsme", "period": "FY2024", "formats": ["ixbrl"]}
    first = post_report(writer, body, HTTP_IDEMPOTENCY_KEY="feed-2024-12")
    replay = post_report(writer, body, HTTP_IDEMPOTENCY_KEY="feed-2024-12")
    assert (first.status_code, replay.status_code) == (202, 202)
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["replayed"] is True
    assert reports_made() == 1
    assert balance() == before - 1
    other = {**body, "period": "2024"}
    assert_problem(
        post_report(writer, other, HTTP_IDEMPOTENCY_KEY="feed-2024-12"),
        422,
        "idempotency_key_reused",
    )
    assert reports_made() == 1


def test_it_refuses_to_download_an_invalid_report_as_final(seeded: Any, reader: Client) -> None:
    from reporting.models import Report, ReportStatus, Verdict

    with schema_context("acme"):
        report = Report.objects.create(
            regime="esrs_e1",
            period=seeded,
            period_name=seeded.name,
            period_start=seeded.start,
            period_end=seeded.end,
            status=ReportStatus.DONE,
            verdict=Verdict.INVALID,
            xhtml=b"<html/>",
            pdf=b"%PDF-1.7",
            template=b"PK",
            formats=["pdf", "ixbrl", "package", "template"],
            validation={"error_count": 1, "warning_count": 2, "errors": ["[xbrl] broken"]},
        )
    shown = reader.get(f"/api/v1/reports/{report.id}").json()
    assert shown["downloads"] == {}
    assert (shown["verdict"]["error_count"], shown["verdict"]["warning_count"]) == (1, 2)
    assert shown["verdict"]["errors"] == ["[xbrl] broken"]
    for fmt in ("pdf", "xhtml", "package", "template"):
        body = assert_problem(
            reader.get(f"/api/v1/reports/{report.id}/files/{fmt}"), 409, "not_downloadable"
        )
        assert "cannot be downloaded as final" in body["detail"]
    assert_problem(reader.get(f"/api/v1/reports/{report.id}/files/docx"), 422, "invalid_parameters")
    assert_problem(reader.get("/api/v1/reports/999999/files/pdf"), 404, "not_found")
    assert_problem(reader.get("/api/v1/reports/999999"), 404, "not_found")


def test_it_redeems_a_voucher_with_the_billing_pages_messages(
    tenants: dict[str, object], db: None, writer: Client, reader: Client
) -> None:
    from billing.ledger import tenant_id_for_schema
    from billing.models import Voucher
    from billing.vouchers import voucher_redeem

    now = timezone.now()
    Voucher.objects.create(code="FT-AAAA-BBBB-CCCC", credits=3)
    Voucher.objects.create(code="FT-OLDD-OLDD-OLDD", credits=3, expires_at=now - dt.timedelta(1))
    Voucher.objects.create(code="FT-ONCE-ONCE-ONCE", credits=3)
    voucher_redeem(
        tenant_id=tenant_id_for_schema("globex"), code="FT-ONCE-ONCE-ONCE", user_email="c@g"
    )
    before = balance()

    def redeem(client: Client, code: str) -> Any:
        return client.post(
            "/api/v1/vouchers/redeem",
            data=json.dumps({"code": code}),
            content_type="application/json",
        )

    redeemed = redeem(writer, " ft-aaaa-bbbb-cccc ")
    assert redeemed.status_code == 200, redeemed.content
    assert redeemed.json() == {
        "code": "FT-AAAA-BBBB-CCCC",
        "credits_added": 3,
        "balance": before + 3,
    }
    refusals = {
        "FT-AAAA-BBBB-CCCC": "Your organisation has already redeemed FT-AAAA-BBBB-CCCC.",
        "FT-NONE-NONE-NONE": "The code FT-NONE-NONE-NONE is not a valid voucher.",
        "FT-OLDD-OLDD-OLDD": "The voucher FT-OLDD-OLDD-OLDD expired on",
        "FT-ONCE-ONCE-ONCE": "The voucher FT-ONCE-ONCE-ONCE has been used up.",
        "   ": "This field is required.",  # the Billing form's message
    }
    for code, message in refusals.items():
        body = assert_problem(redeem(writer, code), 422, "voucher_refused")
        assert body["detail"].startswith(message), body
    assert_problem(redeem(reader, "FT-AAAA-BBBB-CCCC"), 403, "insufficient_scope")
    assert_problem(redeem(writer, ""), 422, "invalid_parameters")
    body = assert_problem(redeem(writer, "FT-\x00"), 422, "voucher_refused")
    assert body["detail"] == "Null characters are not allowed."
    assert balance() == before + 3
    row = reader.get("/api/v1/credits").json()["ledger"][0]
    assert (row["kind"], row["credits"], row["actor"]) == ("voucher", 3, "alice@acme.example")


def test_it_shows_only_this_tenants_credits(tenants: dict[str, object], db: None) -> None:
    from tests.billing_helpers import set_balance

    set_balance("globex", 42)
    set_balance("acme", 5)
    acme = api_client("acme", make_token("acme", "read")).get("/api/v1/credits?limit=1000").json()
    globex = api_client("globex", make_token("globex", "read")).get("/api/v1/credits").json()
    assert (acme["balance"], globex["balance"]) == (5, 42)
    assert acme["ledger"]
    assert not {r["id"] for r in acme["ledger"]} & {r["id"] for r in globex["ledger"]}
    assert all(r["balance_after"] != 42 for r in acme["ledger"])
    assert_problem(
        api_client("acme", make_token("acme")).get("/api/v1/credits?limit=0"),
        422,
        "invalid_parameters",
    )


@pytest.mark.parametrize("value", ["²²²²", "٢٠٢٤", "9" * 40])
def test_a_period_or_year_of_other_digits_is_no_period_not_a_crash(
    writer: Client, value: str
) -> None:
    for url in (f"/api/v1/inventory?period={value}", f"/api/v1/activities?period={value}"):
        assert writer.get(url).status_code in (404, 422), url
    assert writer.get(f"/api/v1/factors?year={value[:8]}").status_code in (200, 422)
    response = writer.post(
        "/api/v1/reports", data={"regime": "vsme", "period": value}, content_type="application/json"
    )
    assert response.status_code in (404, 422), response.content
