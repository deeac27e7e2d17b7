"""The engine of the isolation matrix (tests/test_isolation.py holds the table).

`row_problems(name, row, state)` runs every check of one row against the real middleware stack, with
CSRF enforced and a real token, and returns what went wrong (an empty list when the row holds). The
mutation test calls it with a view's access decorators removed and expects problems.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tenants.utils import schema_context

from tests.conftest import ALICE, BOB, CHARLIE, EDDIE, Persona, host

TENANT_URLCONF = "factortrace.urls_tenant"
PUBLIC_URLCONF = "factortrace.urls_public"

# Who may reach a URL:
#   open      anyone, signed in or not (sign-in and password-reset pages)
#   read      any signed-in user of this tenant; a viewer's data POST is refused
#   edit      viewers read (GET); editors and owners write (POST)
#   write     editors and owners only, whatever the method
#   owner     owners only
OPEN, READ, EDIT, WRITE, OWNER = "open", "read", "edit", "write", "owner"
# Every member reads the page; only owners change anything through it (organisation settings).
OWNER_WRITES = "owner_writes"
LEVELS = (OPEN, READ, EDIT, WRITE, OWNER, OWNER_WRITES)

# Posts that are not data writes: every signed-in user may make them about themselves.
SELF_SERVICE = frozenset(
    {"login", "logout", "password_change", "password_reset", "password_reset_confirm"}
)
DEFAULT_POST = {"role": "owner", "email": "x@acme.example"}


@dataclass(frozen=True)
class Row:
    """One URL name: who may use it, the object its URL points at, other URL arguments."""

    level: str
    obj: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    post: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_POST))
    # Query parameters the view needs to do its work (e.g. which activity a search is for).
    query: dict[str, str] = field(default_factory=dict)
    # The import-run state in which the view does its work (the matrix also runs every other state).
    state: str = "validated"

    def __post_init__(self) -> None:
        assert self.level in LEVELS, self.level
        assert self.obj is None or self.obj in OBJECTS, f"unknown object type {self.obj!r}"


# ---- objects a URL can point at ------------------------------------------------------------------


def _make_run(schema: str, state: str) -> int:
    from imports.models import ImportRun, ImportStatus
    from tests.import_helpers import make_import_run

    run = make_import_run(schema)
    with schema_context(schema):
        fields: dict[str, Any] = {"status": state}
        if state in {ImportStatus.COMMITTED, ImportStatus.UNDONE}:
            fields["committed_at"] = timezone.now()
        if state == ImportStatus.FAILED:
            fields["error"] = "The worker stopped."
        if state == ImportStatus.COMMITTING:
            fields["progress"] = 40
        ImportRun.objects.filter(id=run.id).update(**fields)
    return int(run.id)


def _make_record(schema: str, state: str) -> int:
    from tests.import_helpers import make_activity_record

    return int(make_activity_record(schema).id)


def _make_supplier_factor(schema: str, state: str) -> int:
    from tests.factor_helpers import make_supplier_factor

    return int(make_supplier_factor(schema).id)


def _make_library_factor(schema: str, state: str) -> int:
    from tests.factor_helpers import library_factor_kwargs

    return int(library_factor_kwargs()["factor_id"])


def _make_user(schema: str, state: str) -> int:
    from accounts.models import User

    with schema_context(schema):
        user = User.objects.create_user(
            f"member-{get_random_string(8).lower()}@{schema}.example",
            None,  # no password hashing: the matrix signs members in with force_login
            full_name="Team Member",
            role="editor",
        )
    return int(user.id)


def _make_lock(schema: str, state: str) -> int:
    import datetime as dt

    from accounts.models import LoginThrottle

    now = timezone.now()
    with schema_context(schema):
        lock = LoginThrottle.objects.create(
            kind="login",
            address=f"192.0.2.{LoginThrottle.objects.count() + 1}",
            failures=10,
            last_failure_at=now,
            locked_until=now + dt.timedelta(hours=1),
        )
    return int(lock.id)


def _make_site(schema: str, state: str) -> int:
    from tests.org_helpers import make_site

    return int(make_site(schema, name=f"Site {get_random_string(8)}", aliases=[]).id)


def _make_period(schema: str, state: str) -> int:
    import datetime as dt

    from emissions.models import ReportingPeriod
    from tests.org_helpers import make_period

    with schema_context(schema):
        year = 1900 + ReportingPeriod.objects.count()
    return int(
        make_period(
            schema, name=f"FY{year}", start=dt.date(year, 1, 1), end=dt.date(year, 12, 31)
        ).id
    )


def _make_instrument(schema: str, state: str) -> int:
    from tests.org_helpers import make_instrument

    return int(make_instrument(schema).id)


def _make_report(schema: str, state: str) -> int:
    import gzip

    from reporting.models import Report, ReportStatus, Verdict

    period_id = _make_period(schema, state)
    with schema_context(schema):
        report = Report.objects.create(
            regime="esrs_e1",
            period_id=period_id,
            period_name="FY",
            period_start="2024-01-01",
            period_end="2024-12-31",
            formats=["pdf", "ixbrl", "package"],
            status=ReportStatus.DONE,
            verdict=Verdict.VALID,
            xhtml=b"<html/>",
            pdf=b"%PDF-1.7",
            viewer=gzip.compress(b"<html><body>viewer</body></html>"),
        )
    return int(report.id)


def _make_payment(schema: str, state: str) -> int:
    from billing.models import Payment
    from tenants.models import Tenant

    tenant = Tenant.objects.get(schema_name=schema)
    payment = Payment.objects.create(
        tenant_id=tenant.id,
        pack="one",
        credits=1,
        amount=35000,
        currency="eur",
        checkout_session_id=f"cs_test_{get_random_string(16)}",
    )
    return int(payment.id)


def _make_api_token(schema: str, state: str) -> int:
    from api.models import ApiToken
    from tests.api_helpers import make_token

    secret = make_token(schema, "read")
    with schema_context(schema):
        return int(ApiToken.objects.get(prefix=secret[:13]).id)


@dataclass(frozen=True)
class ObjectType:
    kwarg: str
    make: Callable[[str, str], int]  # (schema, import-run state) -> id
    model: str  # app_label.Model, to find an id of the other tenant that this one does not have
    tenant_owned: bool = True  # False: shared library rows, the same for every tenant


def _ids(model: str, schema: str) -> set[int]:
    from django.apps import apps

    rows = apps.get_model(model).objects
    if model.startswith("billing."):  # public-schema rows carry their tenant
        return set(rows.filter(tenant__schema_name=schema).values_list("id", flat=True))
    with schema_context(schema):
        return set(rows.values_list("id", flat=True))


OBJECTS: dict[str, ObjectType] = {
    "run": ObjectType("run_id", _make_run, "imports.ImportRun"),
    "record": ObjectType("record_id", _make_record, "emissions.ActivityRecord"),
    "supplier_factor": ObjectType(
        "supplier_factor_id", _make_supplier_factor, "emissions.SupplierFactor"
    ),
    "library_factor": ObjectType(
        "factor_id", _make_library_factor, "factors.EmissionFactor", tenant_owned=False
    ),
    "user": ObjectType("user_id", _make_user, "accounts.User"),
    "lock": ObjectType("lock_id", _make_lock, "accounts.LoginThrottle"),
    "site": ObjectType("site_id", _make_site, "emissions.Site"),
    "period": ObjectType("period_id", _make_period, "emissions.ReportingPeriod"),
    "instrument": ObjectType("instrument_id", _make_instrument, "emissions.ContractualInstrument"),
    "report": ObjectType("report_id", _make_report, "reporting.Report"),
    "payment": ObjectType("payment_id", _make_payment, "billing.Payment"),
    "api_token": ObjectType("token_id", _make_api_token, "api.ApiToken"),
}


def foreign_id(obj: str, state: str, *, home: str = "acme", other: str = "globex") -> int:
    """A real object of the other tenant whose id names nothing in this one (schemas have their own
    sequences, so the other tenant's first ids usually exist here too)."""
    kind = OBJECTS[obj]
    here = _ids(kind.model, home)
    for _ in range(200):
        candidate = kind.make(other, state)
        if candidate not in here:
            return candidate
    raise AssertionError(f"could not make a {obj} in {other} with an id unused in {home}")


# ---- URLs ----------------------------------------------------------------------------------------


def url_names(urlconf: str, *, only_named: bool = False) -> set[str]:
    def walk(patterns: list[Any], prefix: str = "") -> set[str]:
        names: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                names |= walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern):
                if not pattern.name and only_named:
                    continue
                if not pattern.name:
                    raise AssertionError(f"URL pattern {pattern.pattern} has no name")
                names.add(prefix + pattern.name)
        return names

    return walk(get_resolver(urlconf).url_patterns)


def url_for(
    name: str, row: Row, *, state: str, schema: str = "acme", obj_id: int | None = None
) -> str:
    kwargs = dict(row.kwargs)
    if row.obj is not None:
        kind = OBJECTS[row.obj]
        kwargs[kind.kwarg] = obj_id if obj_id is not None else kind.make(schema, state)
    url = reverse(name, urlconf=TENANT_URLCONF, kwargs=kwargs)
    return f"{url}?{urlencode(row.query)}" if row.query else url


def pattern_for(name: str) -> URLPattern:
    for pattern in get_resolver(TENANT_URLCONF).url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name == name:
            return pattern
    raise AssertionError(f"no tenant URL named {name}")


# ---- personas and clients ------------------------------------------------------------------------

CSRF_CHARS = string.ascii_letters + string.digits


def csrf_client(slug: str = "acme", persona: Persona | None = None) -> Client:
    """A client that enforces CSRF, holding a real token (cookie secret) for its posts."""
    from accounts.models import User

    client = Client(enforce_csrf_checks=True, HTTP_HOST=host(slug))
    if persona is not None:
        with schema_context(persona.tenant):
            client.force_login(User.objects.get(email=persona.email))
    client.cookies["csrftoken"] = get_random_string(32, CSRF_CHARS)
    return client


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    token = client.cookies["csrftoken"].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token})


def rebound_client() -> Client:
    """Alice's own acme session, rebound to globex's schema: the guard must treat it as anonymous."""
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.middleware import SESSION_SCHEMA_KEY

    client = csrf_client("acme", ALICE)
    with schema_context("acme"):
        session = SessionStore(session_key=client.cookies["sessionid"].value)
        session[SESSION_SCHEMA_KEY] = "globex"
        session.save()
    return client


@contextmanager
def viewer_guard_off() -> Iterator[None]:
    """Switch off the middleware that refuses every viewer POST, so the view's own decorator is what
    is tested (clients made inside the block load the patched middleware)."""
    from accounts.middleware import TenantSessionGuardMiddleware

    with mock.patch.object(TenantSessionGuardMiddleware, "process_view", return_value=None):
        yield


# ---- the checks ----------------------------------------------------------------------------------


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/?next=")


def is_served(response: Any) -> bool:
    """Reached the view: not refused, not sent to sign in (405: the view takes the other method)."""
    if response.status_code == 302:
        return not response["Location"].startswith("/login/")
    return response.status_code in {200, 204, 400, 405, 409, 413, 422}


def _call(problems: list[str], label: str, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except Exception as exc:  # a view reached without its checks may crash: that is a finding too
        problems.append(f"{label}: raised {exc.__class__.__name__}: {exc}")
        return None


def row_problems(name: str, row: Row, state: str) -> list[str]:
    """Every check of one row; returns what failed."""
    problems: list[str] = []

    def expect(label: str, make: Callable[[], Any], ok: Callable[[Any], bool]) -> None:
        response = _call(problems, label, make)
        if response is not None and not ok(response):
            location = response.get("Location", "")
            problems.append(f"{label}: got {response.status_code} {location}".rstrip())

    def refused(response: Any) -> bool:
        return response.status_code == 403

    url = url_for(name, row, state=state)
    data = row.post

    if row.level == OPEN:
        anon = csrf_client()
        expect("anonymous GET", lambda: anon.get(url), is_served)
        return problems

    # Signed out, or a session that belongs to another schema: sent to sign in, for both methods.
    for label, client in (
        ("anonymous", csrf_client()),
        ("globex session on acme", csrf_client("acme", CHARLIE)),
        ("acme session rebound to globex", rebound_client()),
    ):
        expect(f"{label} GET", lambda c=client: c.get(url), is_login_redirect)
        expect(f"{label} POST", lambda c=client: post(c, url, data), is_login_redirect)

    # A POST without the CSRF token is refused even from an owner.
    owner = csrf_client("acme", ALICE)
    expect("owner POST without token", lambda: owner.post(url, data), refused)

    viewer, editor = csrf_client("acme", BOB), csrf_client("acme", EDDIE)
    if row.level in {READ, EDIT, OWNER_WRITES}:
        expect("viewer GET", lambda: viewer.get(url), is_served)
    else:
        expect("viewer GET", lambda: viewer.get(url), refused)
    if row.level == OWNER:
        expect("editor GET", lambda: editor.get(url), refused)
    else:
        expect("editor GET", lambda: editor.get(url), is_served)
    expect("owner GET", lambda: owner.get(url), is_served)

    if name not in SELF_SERVICE:
        expect("viewer POST", lambda: post(viewer, url, data), refused)
    if row.level in {EDIT, WRITE, OWNER, OWNER_WRITES}:
        # The view's own decorator, behind the middleware: it must refuse on its own.
        with viewer_guard_off():
            bare_viewer = csrf_client("acme", BOB)
            expect("viewer POST (view alone)", lambda: post(bare_viewer, url, data), refused)
            if row.level in {OWNER, OWNER_WRITES}:
                bare_editor = csrf_client("acme", EDDIE)
                expect("editor POST (view alone)", lambda: post(bare_editor, url, data), refused)
    return problems


def cross_tenant_problems(name: str, row: Row, state: str) -> list[str]:
    """acme's owner asks for a real object of globex by its id: 404 (or 405 for the other method)."""
    assert row.obj is not None
    problems: list[str] = []
    url = url_for(name, row, state=state, obj_id=foreign_id(row.obj, state))
    owner = csrf_client("acme", ALICE)
    got = []
    for method, make in (
        ("GET", lambda: owner.get(url)),
        ("POST", lambda: post(owner, url, row.post)),
    ):
        response = _call(problems, f"owner {method} of globex's {row.obj}", make)
        if response is not None:
            got.append(response.status_code)
            if response.status_code not in {404, 405}:
                problems.append(f"owner {method} of globex's {row.obj}: got {response.status_code}")
    if got and 404 not in got:
        problems.append(f"globex's {row.obj} was never looked up (got {got})")
    return problems


# ---- the JSON API (api/v1.py): bearer tokens, not sessions ---------------------------------------

API_READ, API_WRITE = "api_read", "api_write"
# What a served API request may answer: done, or refused for its input (never 401/403/404/5xx).
API_SERVED = frozenset({200, 202, 400, 409, 413, 415, 422})


@dataclass(frozen=True)
class ApiRow:
    """One API route: OPEN (no token; answers `open_status`), API_READ (any token of this tenant)
    or API_WRITE (a read-and-write token); the object its URL points at; the method and body."""

    level: str
    obj: str | None = None
    method: str = "GET"
    body: dict[str, Any] = field(default_factory=dict)
    open_status: int = 200
    kwargs: dict[str, Any] = field(default_factory=dict)
    # The path also serves the other method (another row's operation): no 405 to check there.
    shared_path: bool = False

    def __post_init__(self) -> None:
        assert self.level in {OPEN, API_READ, API_WRITE}, self.level
        assert self.obj is None or self.obj in OBJECTS, f"unknown object type {self.obj!r}"


def api_url(name: str, row: ApiRow, *, obj_id: int | None = None) -> str:
    kwargs = dict(row.kwargs)
    if row.obj is not None:
        kind = OBJECTS[row.obj]
        kwargs[kind.kwarg] = obj_id if obj_id is not None else kind.make("acme", "committed")
    return reverse(name, urlconf=TENANT_URLCONF, kwargs=kwargs)


def _api_send(client: Client, row: ApiRow, url: str, *, method: str | None = None) -> Any:
    import json

    if (method or row.method) == "GET":
        return client.get(url)
    return client.post(url, data=json.dumps(row.body), content_type="application/json")


def _is_problem(response: Any, status: int) -> bool:
    return response.status_code == status and response["Content-Type"] == "application/problem+json"


def api_row_problems(name: str, row: ApiRow) -> list[str]:
    """Every check of one API row against the real stack (CSRF enforced); what failed."""
    from tests.api_helpers import api_client, make_token

    problems: list[str] = []

    def expect(label: str, make: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
        response = _call(problems, label, make)
        if response is not None and not ok(response):
            problems.append(f"{label}: got {response.status_code} {response.content[:200]!r}")
        return response

    url = api_url(name, row)
    if row.level == OPEN:
        expect(
            "no token",
            lambda: api_client("acme").get(url),
            lambda r: r.status_code == row.open_status,
        )
        return problems

    def send(secret: str | None) -> Any:
        return _api_send(api_client("acme", secret), row, url)

    unauthorized = lambda r: _is_problem(r, 401)  # noqa: E731
    expect("no token", lambda: send(None), unauthorized)
    wrong = expect("a wrong token", lambda: send("ft_0123456789_not-a-token"), unauthorized)
    other = expect("globex's token on acme", lambda: send(make_token("globex")), unauthorized)
    if wrong is not None and other is not None and wrong.content != other.content:
        problems.append("globex's token is answered otherwise than a wrong token")
    expect("a revoked token", lambda: send(make_token("acme", revoked=True)), unauthorized)
    expect("an expired token", lambda: send(make_token("acme", expired=True)), unauthorized)
    expect(
        "a write token",
        lambda: send(make_token("acme", "write")),
        lambda r: r.status_code in API_SERVED,
    )
    if row.level == API_WRITE:
        expect(
            "a read token", lambda: send(make_token("acme", "read")), lambda r: _is_problem(r, 403)
        )
    else:
        expect(
            "a read token",
            lambda: send(make_token("acme", "read")),
            lambda r: r.status_code in API_SERVED,
        )
    other_method = "POST" if row.method == "GET" else "GET"
    if row.shared_path:
        return problems
    expect(
        f"{other_method} with a write token",
        lambda: _api_send(
            api_client("acme", make_token("acme", "write")), row, url, method=other_method
        ),
        lambda r: _is_problem(r, 405),
    )
    return problems


def api_cross_tenant_problems(name: str, row: ApiRow) -> list[str]:
    """acme's write token asks for a real object of globex by its id: a 404 problem."""
    from tests.api_helpers import api_client, make_token

    assert row.obj is not None
    url = api_url(name, row, obj_id=foreign_id(row.obj, "committed"))
    response = _api_send(api_client("acme", make_token("acme", "write")), row, url)
    if not _is_problem(response, 404):
        return [f"acme's token on globex's {row.obj}: got {response.status_code}"]
    return []
