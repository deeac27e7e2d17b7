"""The isolation matrix: every URL of the tenant app, the public site and the middleware endpoints,
checked for every persona and both methods, with CSRF enforced and a real token.

Adding a view is one line in ACCESS: `"url_name": Row(LEVEL, "object type")`, where LEVEL is OPEN,
READ, EDIT (viewers read, editors write), WRITE (editors only), OWNER_WRITES (everyone reads, owners
write) or OWNER, and the object type is the
kind of row the URL's id points at (a key of OBJECTS in tests/isolation_matrix.py: run, record,
supplier_factor, library_factor, user, lock; add a factory there for a new kind). Other URL arguments
go in `kwargs={...}`, the form posted in the checks in `post={...}`. A URL name without a row fails
`test_it_covers_every_tenant_url`; a view whose access decorator is removed or weakened fails
`test_it_fails_the_matrix_without_each_access_decorator`.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.access import login_required_tenant
from imports.models import ImportStatus
from tests.conftest import BOB
from tests.isolation_matrix import (
    API_READ,
    API_WRITE,
    EDIT,
    OBJECTS,
    OPEN,
    OWNER,
    OWNER_WRITES,
    PUBLIC_URLCONF,
    READ,
    TENANT_URLCONF,
    WRITE,
    ApiRow,
    Row,
    api_cross_tenant_problems,
    api_row_problems,
    cross_tenant_problems,
    csrf_client,
    pattern_for,
    post,
    row_problems,
    url_for,
    url_names,
)

ACCESS: dict[str, Row] = {
    "home": Row(READ),
    "reports": Row(EDIT),
    "report_download": Row(READ, "report", kwargs={"fmt": "xhtml"}),
    "report_viewer": Row(READ, "report"),
    "report_restatement": Row(READ, "report"),
    "login": Row(OPEN),
    "logout": Row(OPEN),
    "password_change": Row(READ),
    "password_change_done": Row(READ),
    "password_reset": Row(OPEN),
    "password_reset_done": Row(OPEN),
    "password_reset_confirm": Row(OPEN, kwargs={"uidb64": "MQ", "token": "set-password"}),
    "password_reset_complete": Row(OPEN),
    "welcome": Row(OPEN, kwargs={"token": "not-a-token"}),
    "invite_accept": Row(OPEN, kwargs={"uidb64": "MQ", "token": "choose-password"}),
    "team": Row(READ),
    "team_add": Row(OWNER),
    "team_role": Row(OWNER, "user"),
    "team_remove": Row(OWNER, "user"),
    "team_unlock": Row(OWNER, "lock"),
    "imports": Row(READ),
    "import_upload": Row(WRITE),
    "import_sample": Row(EDIT),
    "import_detail": Row(READ, "run"),
    "import_reading": Row(READ, "run", state="reading"),
    "import_sheet": Row(WRITE, "run"),
    "import_mapping": Row(WRITE, "run"),
    "import_preview": Row(EDIT, "run"),
    "import_validate": Row(WRITE, "run"),
    "import_results": Row(EDIT, "run"),
    "import_fix": Row(WRITE, "run"),
    "import_apply_all": Row(WRITE, "run"),
    "import_add_sites": Row(OWNER, "run"),
    "import_export": Row(READ, "run", kwargs={"fmt": "csv"}),
    "import_factors": Row(EDIT, "run"),
    "import_factor_choose": Row(WRITE, "run"),
    "import_factor_search": Row(EDIT, "run", query={"activity": "Diesel", "dimension": "volume"}),
    "import_commit": Row(WRITE, "run"),
    "import_progress": Row(READ, "run", state="committing"),
    "import_undo": Row(WRITE, "run", state="committed"),
    "activities": Row(READ),
    "activities_edit": Row(WRITE, "record"),
    "activities_delete": Row(WRITE, "record"),
    "activities_factor_change": Row(WRITE, "record"),
    "activities_companion_setting": Row(OWNER),
    "factors": Row(READ),
    "factor_detail": Row(READ, "library_factor"),
    "factor_picker": Row(READ),
    "supplier_factors": Row(READ),
    "supplier_factor_detail": Row(READ, "supplier_factor"),
    "supplier_factor_add": Row(WRITE),
    "supplier_factor_edit": Row(WRITE, "supplier_factor"),
    "supplier_factor_delete": Row(WRITE, "supplier_factor"),
    "billing": Row(READ),
    "billing_buy": Row(OWNER, post={"pack": "one"}),
    "billing_redeem": Row(OWNER, post={"code": "NO-SUCH-CODE"}),
    "billing_payment": Row(READ, "payment"),
    "billing_payment_cancel": Row(OWNER, "payment"),
    "settings": Row(OWNER_WRITES),
    "settings_period_add": Row(OWNER),
    "settings_period_delete": Row(OWNER, "period"),
    "settings_site_add": Row(OWNER),
    "settings_site_edit": Row(OWNER_WRITES, "site"),
    "settings_contract_add": Row(OWNER),
    "settings_contract_edit": Row(OWNER, "instrument"),
    "settings_contract_delete": Row(OWNER, "instrument"),
    "settings_language": Row(OWNER),
    "api_tokens": Row(OWNER),
    "api_token_revoke": Row(OWNER, "api_token"),
}

# The JSON API: bearer tokens of this tenant, read or read-and-write (tests/isolation_matrix.py's
# api_row_problems); the docs, the OpenAPI document and unknown API paths need none.
API_ACCESS: dict[str, ApiRow] = {
    "api_docs": ApiRow(OPEN),
    "api_not_found": ApiRow(OPEN, open_status=404),
    "api:openapi-json": ApiRow(OPEN),
    "api:imports_create": ApiRow(API_WRITE, method="POST", body={"rows": [{"a": "1"}]}),
    "api:imports_detail": ApiRow(API_READ, "run"),
    "api:activities_list": ApiRow(API_READ),
    "api:inventory": ApiRow(API_READ),
    "api:factors_list": ApiRow(API_READ),
    "api:factors_detail": ApiRow(API_READ, "library_factor"),
    "api:reports_list": ApiRow(API_READ, shared_path=True),
    "api:reports_create": ApiRow(
        API_WRITE, method="POST", body={"regime": "esrs_e1", "period": "FY"}, shared_path=True
    ),
    "api:reports_detail": ApiRow(API_READ, "report"),
    "api:reports_file": ApiRow(API_READ, "report", kwargs={"fmt": "xhtml"}),
    "api:credits": ApiRow(API_READ),
    "api:vouchers_redeem": ApiRow(API_WRITE, method="POST", body={"code": "NO-SUCH-CODE"}),
}

# The public site (BASE_DOMAIN): its own names, and the operator dashboard's namespace as one row.
OPERATOR = "operator"
PUBLIC_ACCESS: dict[str, str] = {
    "landing": OPEN,
    "signup": OPEN,
    "signin": OPEN,
    # Anyone may post; only a body signed with STRIPE_WEBHOOK_SECRET changes anything (test_billing).
    "stripe_webhook": OPEN,
    "admin:*": OPERATOR,
}
# Answered by middleware before any URLconf, on every host: path -> what it must show.
MIDDLEWARE_ENDPOINTS: dict[str, str] = {
    "/api/v1/health": "status only, except on the operator's host or with the token",
    "/metrics": "404 except from METRICS_ALLOWED_IPS or with the token",
}

RUN_STATES = [str(state) for state in ImportStatus]
# Views whose access decorator is doubled by Django's own check, so removing ours leaves them guarded.
MUTATION_EXEMPT = {
    "password_change": "PasswordChangeView.dispatch carries Django's login_required",
    "password_change_done": "PasswordChangeDoneView.dispatch carries Django's login_required",
}


def _cases() -> list[Any]:
    cases = []
    for name, row in sorted(ACCESS.items()):
        states = RUN_STATES if row.obj == "run" else [row.state]
        cases += [pytest.param(name, state, id=f"{name}-{state}") for state in states]
    return cases


def test_it_covers_every_tenant_url() -> None:
    names = url_names(TENANT_URLCONF)
    covered = ACCESS.keys() | API_ACCESS.keys()
    assert names - covered == set(), "add these URL names to the isolation matrix"
    assert covered - names == set(), "these names are no longer in the tenant URLconf"
    assert not ACCESS.keys() & API_ACCESS.keys()


def test_it_covers_every_public_url() -> None:
    for name in url_names(PUBLIC_URLCONF, only_named=True):
        assert name in PUBLIC_ACCESS or f"{name.split(':')[0]}:*" in PUBLIC_ACCESS, name


def test_it_covers_every_middleware_endpoint() -> None:
    from factortrace import middleware, observability

    paths = {
        value
        for module in (middleware, observability)
        for key, value in vars(module).items()
        if key.endswith("_PATH") and isinstance(value, str)
    }
    assert paths == MIDDLEWARE_ENDPOINTS.keys()


@pytest.mark.parametrize(("name", "state"), _cases())
def test_it_holds_every_row(name: str, state: str, tenants: dict[str, object], db: None) -> None:
    assert row_problems(name, ACCESS[name], state) == []


@pytest.mark.parametrize(
    "name", sorted(n for n, r in ACCESS.items() if r.obj and OBJECTS[r.obj].tenant_owned)
)
def test_it_404s_the_other_tenants_objects(name: str, tenants: dict[str, object], db: None) -> None:
    assert cross_tenant_problems(name, ACCESS[name], ACCESS[name].state) == []


@pytest.mark.parametrize("name", sorted(n for n, r in ACCESS.items() if r.obj == "run"))
def test_it_reaches_each_import_views_logic(
    name: str, tenants: dict[str, object], db: None
) -> None:
    # Fixtures in the right state: the view does its work instead of sending the user elsewhere.
    owner = csrf_client("acme", _persona("alice"))
    url = url_for(name, ACCESS[name], state=ACCESS[name].state)
    response = owner.get(url)
    if response.status_code == 405:
        response = post(owner, url, ACCESS[name].post)
        assert response.status_code in {200, 302, 400, 422}, response.status_code
        if response.status_code == 302:
            assert "/login/" not in response["Location"]
    else:
        assert response.status_code == 200, (name, response.status_code, response.get("Location"))


def _persona(name: str) -> Any:
    from tests import conftest

    return getattr(conftest, name.upper())


# ---- the mutation test ------------------------------------------------------------------------


def _access_codes() -> set[Any]:
    from accounts.access import role_required
    from accounts.models import Role

    def probe(request: Any) -> None:
        return None

    outer = role_required(Role.OWNER)(probe)
    return {outer.__code__, outer.__wrapped__.__code__, login_required_tenant(probe).__code__}  # type: ignore[attr-defined]


def strip_access(func: Any, codes: set[Any]) -> Any:
    """The same view without any access decorator, wherever it sits in the decorator stack."""
    import types

    if getattr(func, "__code__", None) in codes:
        return strip_access(func.__wrapped__, codes)
    closure = getattr(func, "__closure__", None)
    if not closure:
        return func
    cells = []
    changed = False
    for cell in closure:
        try:
            value = cell.cell_contents
        except ValueError:
            cells.append(cell)
            continue
        stripped = strip_access(value, codes) if callable(value) else value
        changed = changed or stripped is not value
        cells.append(types.CellType(stripped) if stripped is not value else cell)
    if not changed:
        return func
    rebuilt = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, tuple(cells)
    )
    rebuilt.__dict__.update(func.__dict__)
    rebuilt.__kwdefaults__ = func.__kwdefaults__
    return rebuilt


def _mutations() -> list[Any]:
    codes = _access_codes()
    cases = []
    for name, row in sorted(ACCESS.items()):
        if row.level == OPEN or name in MUTATION_EXEMPT:
            continue
        view = pattern_for(name).callback
        stripped = strip_access(view, codes)
        assert stripped is not view, f"{name} has no access decorator"
        cases.append(pytest.param(name, "removed", id=f"{name}-removed"))
        if row.level != READ:  # a role check weakened to "any signed-in user"
            cases.append(pytest.param(name, "any role", id=f"{name}-any-role"))
    return cases


@pytest.mark.parametrize(("name", "mutation"), _mutations())
def test_it_fails_the_matrix_without_each_access_decorator(
    name: str, mutation: str, tenants: dict[str, object], db: None, monkeypatch: Any
) -> None:
    pattern = pattern_for(name)
    stripped = strip_access(pattern.callback, _access_codes())
    mutant = stripped if mutation == "removed" else login_required_tenant(stripped)
    monkeypatch.setattr(pattern, "callback", mutant)
    assert row_problems(name, ACCESS[name], ACCESS[name].state), f"{name} without its check passed"


# ---- the JSON API -------------------------------------------------------------------------------


def test_it_covers_every_api_operation() -> None:
    from api.v1 import api_operations

    assert {n for n in API_ACCESS if n.startswith("api:")} - {"api:openapi-json"} == set(
        api_operations()
    )


@pytest.mark.parametrize("name", sorted(API_ACCESS))
def test_it_holds_every_api_row(name: str, tenants: dict[str, object], library: None) -> None:
    assert api_row_problems(name, API_ACCESS[name]) == []


@pytest.mark.parametrize(
    "name", sorted(n for n, r in API_ACCESS.items() if r.obj and OBJECTS[r.obj].tenant_owned)
)
def test_it_404s_the_other_tenants_objects_in_the_api(
    name: str, tenants: dict[str, object], db: None
) -> None:
    assert api_cross_tenant_problems(name, API_ACCESS[name]) == []


def _api_mutations() -> list[Any]:
    cases = []
    for name, row in sorted(API_ACCESS.items()):
        if row.level == OPEN:
            continue
        cases.append(pytest.param(name, "removed", id=f"{name}-removed"))
        if row.level == API_WRITE:  # the write scope weakened to "any token"
            cases.append(pytest.param(name, "read scope", id=f"{name}-read-scope"))
    return cases


@pytest.mark.parametrize(("name", "mutation"), _api_mutations())
def test_it_fails_the_api_matrix_without_each_operations_auth(
    name: str, mutation: str, tenants: dict[str, object], library: None, monkeypatch: Any
) -> None:
    from api.auth import READ
    from api.v1 import api_operations

    operation = api_operations()[name]
    assert operation.auth_callbacks, f"{name} has no auth"
    monkeypatch.setattr(operation, "auth_callbacks", [] if mutation == "removed" else [READ])
    assert api_row_problems(name, API_ACCESS[name]), f"{name} without its check passed"


# ---- the public site and the middleware endpoints ---------------------------------------------


@pytest.mark.parametrize("name", ["landing", "signup", "signin"])
def test_it_leaves_the_public_pages_open(name: str, tenants: dict[str, object], db: None) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
    assert client.get(reverse(name, urlconf=PUBLIC_URLCONF)).status_code == 200


def test_it_refuses_a_signup_post_without_its_token(tenants: dict[str, object], db: None) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
    response = client.post(reverse("signup", urlconf=PUBLIC_URLCONF), {"slug": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "name", ["admin:index", "admin:tenants_tenant_changelist", "admin:accounts_user_changelist"]
)
def test_it_keeps_the_operator_dashboard_to_operators(
    name: str, tenants: dict[str, object], db: None
) -> None:
    from django_tenants.utils import schema_context

    from accounts.models import User

    url = reverse(name, urlconf=PUBLIC_URLCONF)
    anonymous = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    with schema_context("public"):
        plain = User.objects.create_user("plain@factortrace.example", "p" * 12, full_name="P")
    member = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
    with schema_context("public"):
        member.force_login(plain)
    response = member.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    # The operator dashboard does not exist on tenant hosts, whoever asks.
    assert csrf_client("acme", _persona("alice")).get(url).status_code == 404


def test_it_answers_the_health_endpoint_with_status_only_on_tenant_hosts(
    tenants: dict[str, object], db: None
) -> None:
    client = csrf_client("acme", _persona("alice"))
    response = client.get("/api/v1/health")
    assert response.json() == {"status": "ok"}
    assert post(client, "/api/v1/health").status_code == 405


def test_it_hides_the_metrics_from_tenant_users(tenants: dict[str, object], db: None) -> None:
    client = csrf_client("acme", _persona("alice"))
    client.defaults["REMOTE_ADDR"] = "198.51.100.20"
    assert client.get("/metrics").status_code == 404
    assert post(client, "/metrics").status_code == 404


# ---- specific paths -------------------------------------------------------------------------------


def test_it_audits_denied_access(bob: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="factortrace.audit"):
        bob.post(reverse("team_add", urlconf=TENANT_URLCONF), {})
    events = [r for r in caplog.records if getattr(r, "event", None) == "access_denied"]
    assert len(events) == 1
    event = events[0]
    assert (event.tenant, event.user, event.path) == ("acme", BOB.email, "/team/add/")  # type: ignore[attr-defined]
    assert "role" in event.reason or "viewer" in event.reason  # type: ignore[attr-defined]


def test_it_audits_a_foreign_session(
    charlie_on_acme: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="factortrace.audit"):
        charlie_on_acme.get("/")
    reasons = [getattr(r, "reason", "") for r in caplog.records]
    assert "anonymous" in reasons


def test_it_sets_host_only_cookies(tenants: dict[str, object], db: None) -> None:
    client = Client(HTTP_HOST="acme.localhost")
    response = client.post(
        "/login/", {"username": "alice@acme.example", "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 302
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["domain"] == ""
    assert session_cookie["httponly"]
    csrf = client.get("/login/").cookies.get("csrftoken")
    assert csrf is None or csrf["domain"] == ""


def test_it_keeps_the_admin_off_tenant_hosts(alice: Client) -> None:
    assert alice.get("/admin/").status_code == 404


def test_it_answers_an_unknown_host_with_404(tenants: dict[str, object], db: None) -> None:
    response = Client(HTTP_HOST="nobody.localhost").get("/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_it_404s_a_user_outside_this_tenant(alice: Client) -> None:
    response = alice.post(
        reverse("team_remove", urlconf=TENANT_URLCONF, kwargs={"user_id": 999999})
    )
    assert response.status_code == 404


def test_the_matrix_levels_are_known() -> None:
    assert {row.level for row in ACCESS.values()} <= {OPEN, READ, EDIT, WRITE, OWNER, OWNER_WRITES}


def test_the_matrix_can_test_a_decorator_behind_the_middleware(
    tenants: dict[str, object], db: None
) -> None:
    # With the viewer-write guard on, a viewer's POST stops in the middleware; switched off, it reaches
    # the view, so the "(view alone)" checks do test each view's own decorator.
    from tests.isolation_matrix import viewer_guard_off

    assert post(csrf_client("acme", BOB), "/team/").status_code == 403
    with viewer_guard_off():
        assert post(csrf_client("acme", BOB), "/team/").status_code == 200


def test_it_fails_the_matrix_without_the_session_binding(
    tenants: dict[str, object], db: None, monkeypatch: Any
) -> None:
    # The guard's other half: a session presented to a schema it was not made in is flushed.
    from accounts.middleware import TenantSessionGuardMiddleware

    def call_without_binding(self: Any, request: Any) -> Any:
        return self.get_response(request)

    monkeypatch.setattr(TenantSessionGuardMiddleware, "__call__", call_without_binding)
    problems = row_problems("team", ACCESS["team"], ACCESS["team"].state)
    assert any("rebound" in problem for problem in problems), problems
