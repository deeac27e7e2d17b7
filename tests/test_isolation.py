"""The isolation matrix: every URL of the tenant app, checked for every persona that must be refused.

Each URL name of factortrace/urls_tenant.py must have a row in ACCESS. A new view without a row fails
`test_it_covers_every_tenant_url`, so no view can skip these checks.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tenants.utils import schema_context

from tests.conftest import BOB
from tests.factor_helpers import library_factor_kwargs, supplier_factor_kwargs
from tests.import_helpers import activity_record_kwargs, import_export_kwargs, import_run_kwargs

TENANT_URLCONF = "factortrace.urls_tenant"

# Who may reach a URL:
#   open   anyone, signed in or not (sign-in and password reset pages)
#   read   any signed-in user of this tenant; a viewer's POST is refused
#   write  editors and owners; viewers read (GET) where the page has a read side
#   owner  owners only
OPEN, READ, WRITE, OWNER = "open", "read", "write", "owner"


def _acme_user_id(email: str) -> int:
    from accounts.models import User

    with schema_context("acme"):
        return User.objects.get(email=email).id


def _bob_id() -> dict[str, Any]:
    return {"user_id": _acme_user_id(BOB.email)}


ACCESS: dict[str, tuple[str, Any]] = {
    "home": (READ, {}),
    "login": (OPEN, {}),
    "logout": (OPEN, {}),
    "password_change": (READ, {}),
    "password_change_done": (READ, {}),
    "password_reset": (OPEN, {}),
    "password_reset_done": (OPEN, {}),
    "password_reset_confirm": (OPEN, {"uidb64": "MQ", "token": "set-password"}),
    "password_reset_complete": (OPEN, {}),
    "team": (READ, {}),
    "team_add": (OWNER, {}),
    "team_role": (OWNER, _bob_id),
    "team_remove": (OWNER, _bob_id),
    "imports": (READ, {}),
    "import_upload": (WRITE, {}),
    "import_detail": (READ, import_run_kwargs),
    "import_sheet": (WRITE, import_run_kwargs),
    "import_mapping": (WRITE, import_run_kwargs),
    "import_preview": (WRITE, import_run_kwargs),
    "import_validate": (WRITE, import_run_kwargs),
    "import_results": (WRITE, import_run_kwargs),
    "import_fix": (WRITE, import_run_kwargs),
    "import_apply_all": (WRITE, import_run_kwargs),
    "import_export": (READ, import_export_kwargs),
    "import_factors": (WRITE, import_run_kwargs),
    "import_factor_choose": (WRITE, import_run_kwargs),
    "import_factor_search": (WRITE, import_run_kwargs),
    "import_commit": (WRITE, import_run_kwargs),
    "import_progress": (READ, import_run_kwargs),
    "import_undo": (WRITE, import_run_kwargs),
    "activities": (READ, {}),
    "activities_companion_setting": (OWNER, {}),
    "activities_edit": (WRITE, activity_record_kwargs),
    "activities_delete": (WRITE, activity_record_kwargs),
    "activities_factor_change": (WRITE, activity_record_kwargs),
    "factors": (READ, {}),
    "factor_detail": (READ, library_factor_kwargs),
    "factor_picker": (READ, {}),
    "supplier_factors": (READ, {}),
    "supplier_factor_detail": (READ, supplier_factor_kwargs),
    "supplier_factor_add": (WRITE, {}),
    "supplier_factor_edit": (WRITE, supplier_factor_kwargs),
    "supplier_factor_delete": (WRITE, supplier_factor_kwargs),
    "reports": (READ, {}),
    "billing": (READ, {}),
    "settings": (READ, {}),
}

# Posts that are not data writes: every signed-in user may make them about themselves.
SELF_SERVICE = {"login", "logout", "password_change", "password_reset", "password_reset_confirm"}


def _names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _names(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern):
            if not pattern.name:
                raise AssertionError(f"URL pattern {pattern.pattern} has no name")
            names.add(prefix + pattern.name)
    return names


def tenant_url_names() -> set[str]:
    return _names(get_resolver(TENANT_URLCONF).url_patterns)


def _url(name: str) -> str:
    _, kwargs = ACCESS[name]
    resolved = kwargs() if callable(kwargs) else kwargs
    return reverse(name, urlconf=TENANT_URLCONF, kwargs=resolved)


def test_it_covers_every_tenant_url() -> None:
    names = tenant_url_names()
    assert names - ACCESS.keys() == set(), "add these URL names to the isolation matrix"
    assert ACCESS.keys() - names == set(), "these names are no longer in the tenant URLconf"


PROTECTED = sorted(name for name, (level, _) in ACCESS.items() if level != OPEN)
DATA_WRITES = sorted(
    n for n, (level, _) in ACCESS.items() if level != OPEN and n not in SELF_SERVICE
)


def _is_login_redirect(response: Any, url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("name", PROTECTED)
def test_it_sends_anonymous_visitors_to_login(name: str, anon_acme: Client) -> None:
    url = _url(name)
    for method in (anon_acme.get, anon_acme.post):
        response = method(url)
        assert _is_login_redirect(response, url), (name, method, response.status_code)


@pytest.mark.parametrize("name", PROTECTED)
def test_it_treats_another_tenants_session_as_anonymous(name: str, charlie_on_acme: Client) -> None:
    url = _url(name)
    response = charlie_on_acme.get(url)
    assert _is_login_redirect(response, url), (name, response.status_code)
    # The stale session is flushed: a second request is still anonymous, never charlie.
    response = charlie_on_acme.post(url)
    assert _is_login_redirect(response, url), (name, response.status_code)


@pytest.mark.parametrize("name", DATA_WRITES)
def test_it_refuses_every_write_from_a_viewer(name: str, bob: Client) -> None:
    response = bob.post(_url(name), {"role": "owner", "email": "x@acme.example"})
    assert response.status_code == 403, (name, response.status_code)


@pytest.mark.parametrize("name", sorted(n for n, (level, _) in ACCESS.items() if level == OWNER))
def test_it_keeps_user_management_to_owners(name: str, eddie: Client) -> None:
    assert eddie.post(_url(name), {"role": "owner"}).status_code == 403


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_it_serves_every_url_to_its_owner(name: str, alice: Client) -> None:
    # The matrix is only meaningful if the same URLs work for someone allowed to use them.
    response = alice.get(_url(name))
    assert response.status_code in {200, 302, 405}, (name, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith("/login/"), name


@pytest.mark.parametrize("name", sorted(n for n, (level, _) in ACCESS.items() if level == OPEN))
def test_it_leaves_sign_in_pages_open(name: str, anon_acme: Client) -> None:
    response = anon_acme.get(_url(name))
    assert response.status_code in {200, 302, 405}, (name, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith("/login/"), name


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
