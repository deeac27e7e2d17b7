"""Security headers, origins and production settings (issue 13, points 2, 3 and 7)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from tests.conftest import BOB, host
from tests.import_helpers import FUEL_CSV

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "DEBUG": "false",
    "BASE_DOMAIN": "factortrace.eu",
}

# ---- 2. Headers ---------------------------------------------------------------------------------


def _csp(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", ["/", "/imports/", "/imports/upload/", "/team/", "/activities/"])
def test_it_sends_a_strict_content_security_policy(alice: Client, path: str) -> None:
    response = alice.get(path)
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    html = response.content.decode()
    _assert_no_inline_code(html, path)
    assert 'name="htmx-config"' in html
    assert '"includeIndicatorStyles": false' in html


def test_it_sends_the_policy_on_the_public_site(public_client: Client) -> None:
    response = public_client.get("/")
    assert _csp(response)["script-src"] == ["'self'"]
    _assert_no_inline_code(response.content.decode(), "/")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
HX_EVAL = re.compile(r"\shx-on[:-]|\shx-vars\s*=|js:", re.IGNORECASE)


def _assert_no_inline_code(text: str, where: str) -> None:
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER, HX_EVAL):
        match = pattern.search(text)
        assert match is None, (
            f"{where}: inline code the CSP refuses: {text[match.start() : match.start() + 80]!r}"
        )


def test_it_keeps_every_template_free_of_inline_script_and_style() -> None:
    # The policy allows no inline code: a template that adds some would break in the browser.
    for template in sorted((ROOT / "templates").rglob("*.html")):
        _assert_no_inline_code(template.read_text(), str(template.relative_to(ROOT)))


def test_it_forbids_caching_of_signed_in_pages(alice: Client) -> None:
    for path in ("/", "/team/", "/imports/"):
        cache_control = alice.get(path)["Cache-Control"]
        assert "no-store" in cache_control, path
        assert "private" in cache_control, path


def test_it_forbids_caching_of_the_operator_dashboard(tenants: dict[str, object], db: None) -> None:
    from django_tenants.utils import schema_context

    from accounts.models import User

    with schema_context("public"):
        user = User.objects.create_superuser("ops2@factortrace.example", "x" * 12, full_name="Ops")
    client = Client(HTTP_HOST="localhost")
    with schema_context("public"):
        client.force_login(user)
    assert "no-store" in client.get("/admin/")["Cache-Control"]


def _production(code: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "factortrace.settings", **extra}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_it_hardens_transport_in_production() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.DEBUG)"
    )
    result = _production(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "31536000 True True True ('HTTP_X_FORWARDED_PROTO', 'https') True False"
    )


# ---- 7. Production settings ---------------------------------------------------------------------


def test_it_passes_the_deploy_checks_in_production() -> None:
    env = {**os.environ, **PRODUCTION}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"DEBUG": "true"}, "DEBUG"),
        ({"SECRET_KEY": "dev-only-insecure-key-never-used-in-production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-" + "k" * 60}, "SECRET_KEY"),
        ({"SECRET_KEY": "a" * 64}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"CSRF_TRUSTED_ORIGINS": "https://*.factortrace.eu"}, "CSRF_TRUSTED_ORIGINS"),
    ],
)
def test_it_refuses_an_unsafe_production_configuration(extra: dict[str, str], named: str) -> None:
    result = _production("import django; django.setup()", **extra)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {named}:" in result.stderr


# ---- 3. Origins ---------------------------------------------------------------------------------


def _csrf_client(slug: str) -> tuple[Client, str]:
    port = settings.PUBLIC_PORT
    client = Client(enforce_csrf_checks=True, HTTP_HOST=f"{host(slug)}:{port}")
    client.get("/login/")
    return client, client.cookies["csrftoken"].value


def test_it_refuses_a_post_from_another_tenants_host(tenants: dict[str, object], db: None) -> None:
    client, token = _csrf_client("acme")
    port = settings.PUBLIC_PORT
    data = {"username": BOB.email, "password": "x", "csrfmiddlewaretoken": token}
    foreign = client.post("/login/", data, HTTP_ORIGIN=f"http://bravo.localhost:{port}")
    assert foreign.status_code == 403
    assert "sent from another site" in foreign.content.decode()
    public = client.post("/login/", data, HTTP_ORIGIN=f"http://localhost:{port}")
    assert public.status_code == 403
    own = client.post("/login/", data, HTTP_ORIGIN=f"http://acme.localhost:{port}")
    assert own.status_code == 200  # the form, with "wrong password": the token was accepted


def test_it_refuses_a_post_from_another_tenant_over_https(
    tenants: dict[str, object], db: None
) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_HOST="acme.localhost")
    client.get("/login/", secure=True)
    token = client.cookies["csrftoken"].value
    data = {"username": BOB.email, "password": "x", "csrfmiddlewaretoken": token}
    referer = client.post(
        "/login/", data, secure=True, HTTP_REFERER="https://bravo.localhost/login/"
    )
    assert referer.status_code == 403
    own = client.post("/login/", data, secure=True, HTTP_REFERER="https://acme.localhost/login/")
    assert own.status_code == 200


def test_it_builds_reset_links_from_the_tenant_domain(tenants: dict[str, object], db: None) -> None:
    client = Client(HTTP_HOST="acme.localhost:9999")
    assert client.post("/password/reset/", {"email": BOB.email}).status_code == 302
    assert len(mail.outbox) == 1
    links = re.findall(r"https?://\S+", mail.outbox[0].body)
    assert len(links) == 1
    parts = urlsplit(links[0])
    assert parts.hostname == "acme.localhost"
    assert parts.port == (settings.PUBLIC_PORT or None)
    assert "9999" not in mail.outbox[0].body


def test_it_explains_a_file_name_too_long_to_read(alice: Client) -> None:
    boundary = "FactorTraceBoundary"
    name = "a" * 1000 + ".csv"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + FUEL_CSV
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = alice.generic(
        "POST", "/imports/upload/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Rename the file to a shorter name" in page
    assert '<link rel="stylesheet"' in page  # our page, not Django's bare text
