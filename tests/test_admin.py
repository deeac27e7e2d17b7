"""The operator dashboard lives on the public host only, for operators only."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import ALICE, PASSWORD


@pytest.fixture
def operator(tenants: dict[str, object], db: None) -> Client:
    with schema_context("public"):
        user = User.objects.create_superuser("ops@factortrace.example", PASSWORD, full_name="Ops")
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def test_it_lists_tenants_and_domains_for_operators(operator: Client) -> None:
    response = operator.get("/admin/tenants/tenant/")
    assert response.status_code == 200
    assert b"Acme Industries" in response.content
    assert b"Globex Logistics" in response.content
    domains = operator.get("/admin/tenants/domain/")
    assert b"acme.localhost" in domains.content


def test_it_links_to_the_queue_dashboard(operator: Client, settings: pytest.FixtureRequest) -> None:
    response = operator.get("/admin/")
    assert response.status_code == 200
    if settings.RQ_QUEUES:  # type: ignore[attr-defined]
        assert b"/admin/django_rq/dashboard/" in response.content
        assert operator.get("/admin/django_rq/dashboard/").status_code == 200
    else:
        assert b"Jobs run in-process" in response.content


def test_it_keeps_tenant_users_out(tenants: dict[str, object], db: None) -> None:
    client = Client(HTTP_HOST="localhost")
    response = client.post("/admin/login/", {"username": ALICE.email, "password": PASSWORD})
    # Alice exists only in acme's schema: the public admin does not know her.
    assert response.status_code == 200
    assert b"Please enter the correct" in response.content
    assert client.get("/admin/").status_code == 302
