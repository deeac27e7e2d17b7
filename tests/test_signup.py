"""Sign-up on the public site creates a tenant, its schema and its owner, or nothing at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tenants.models import Domain, Tenant
from tenants.services import SubdomainTakenError, tenant_create

pytestmark = pytest.mark.commits

GOOD = {
    "company_name": "Initech Components",
    "slug": "initech",
    "full_name": "Peter Gibbons",
    "email": "Peter@Initech.example",
    "password": "tps-reports-are-due-friday",
}


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_it_shows_the_landing_page(public_client: Client) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"Create your workspace" in response.content


def test_it_creates_a_tenant_with_schema_and_owner(public_client: Client) -> None:
    response = public_client.post("/signup/", GOOD)
    assert response.status_code == 302
    welcome = response["Location"]
    assert welcome.startswith("http://initech.localhost:8000/welcome/")
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.schema_name == "initech"
    assert Domain.objects.get(tenant=tenant).domain == "initech.localhost"
    assert _schema_exists("initech")
    with schema_context("initech"):
        owner = User.objects.get()
        assert (owner.email, owner.role, owner.full_name) == (
            "peter@initech.example",
            Role.OWNER,
            "Peter Gibbons",
        )
        assert owner.check_password(GOOD["password"])
    # The new owner is signed in on the tenant's host by the one-time token...
    handed = Client(HTTP_HOST="initech.localhost")
    arrived = handed.get(welcome.removeprefix("http://initech.localhost:8000"))
    assert arrived["Location"] == "/"
    assert "Welcome, Peter Gibbons" in handed.get("/").content.decode()
    # ...and later signs in with the password chosen.
    client = Client(HTTP_HOST="initech.localhost")
    login = client.post(
        "/login/", {"username": "peter@initech.example", "password": GOOD["password"]}
    )
    assert login.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "acme", "taken"),
        ("slug", "www", "reserved"),
        ("slug", "admin", "reserved"),
        ("slug", "public", "reserved"),
        ("slug", "static", "reserved"),
        ("slug", "Bad_Name", "lowercase"),
        ("slug", "-lead", "start with a letter"),
        ("slug", "ab", "at least 3"),
        ("slug", "a" * 64, "at most 63"),
        ("slug", "double--dash", "hyphens"),
        ("slug", "pg-catalog", "reserved"),
        ("password", "12345678901", "numeric"),
        ("password", "password123", "too common"),
        ("password", "short", "too short"),
        ("email", "not-an-email", "valid email"),
        ("company_name", "   ", "required"),
    ],
)
def test_it_rejects_bad_input_and_creates_nothing(
    public_client: Client, field: str, value: str, message: str
) -> None:
    before = set(Tenant.objects.values_list("slug", flat=True))
    response = public_client.post("/signup/", {**GOOD, field: value})
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors.get(field, [])).lower()
    assert message in errors, errors
    assert set(Tenant.objects.values_list("slug", flat=True)) == before
    assert not _schema_exists("initech")


def test_it_leaves_no_half_made_tenant_when_the_schema_fails(
    tenants: dict[str, object], db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Tenant, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Tenant, "create_schema", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        tenant_create(
            company_name="Broken",
            slug="broken",
            owner_name="B",
            owner_email="b@b.example",
            owner_password="x-y-z-w-v-u-1",
        )
    assert not Tenant.objects.filter(slug="broken").exists()
    assert not Domain.objects.filter(domain="broken.localhost").exists()
    assert not _schema_exists("broken")


@pytest.fixture
def committed(
    tenants: dict[str, object], django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield
        for tenant in Tenant.objects.filter(slug="racer"):
            tenant.delete(force_drop=True)


def test_it_lets_one_of_two_racing_signups_win(committed: None) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            tenant_create(
                company_name=f"Racer {n}",
                slug="racer",
                owner_name=f"R{n}",
                owner_email=f"r{n}@racer.example",
                owner_password="racing-password-42",
            )
            outcomes.append("won")
        except SubdomainTakenError:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["taken", "won"]
    assert Tenant.objects.filter(slug="racer").count() == 1
    with schema_context("racer"):
        assert User.objects.count() == 1
