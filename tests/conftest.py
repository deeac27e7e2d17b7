"""Shared fixtures: two tenants (acme, globex) and three personas, as in every feature test.

alice owns acme, bob is a viewer of acme, charlie owns globex. The tenants and their schemas are
created once per test database (kept between runs with --reuse-db); each test's own rows roll back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Persona:
    email: str
    name: str
    tenant: str
    role: str


ALICE = Persona("alice@acme.example", "Alice Owner", "acme", "owner")
BOB = Persona("bob@acme.example", "Bob Viewer", "acme", "viewer")
CHARLIE = Persona("charlie@globex.example", "Charlie Owner", "globex", "owner")
EDDIE = Persona("eddie@acme.example", "Eddie Editor", "acme", "editor")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After each test that reached the database, while its rows still exist (before the
    per-test rollback, and after a browser or worker test committed its own), every record of
    every tenant that carries a provenance must replay equal from it (``emissions.replay``):
    ``manage.py replay`` passes for every record the suite creates, whatever the test order.
    A test that breaks a record on purpose is marked ``replay_unchecked``."""
    outcome = yield
    if item.get_closest_marker("replay_unchecked") is None and _database_open(item):
        _replay_check()
    return outcome


def _database_open(item: pytest.Item) -> bool:
    """Whether the test may reach the database (pytest-django has not blocked it)."""
    from django.db.backends.base.base import BaseDatabaseWrapper
    from pytest_django.plugin import DjangoDbBlocker, blocking_manager_key

    if item.config.stash.get(blocking_manager_key, None) is None:
        return False
    current = BaseDatabaseWrapper.ensure_connection
    return getattr(current, "__func__", None) is not DjangoDbBlocker._blocking_wrapper


def _replay_check() -> None:
    from django.db import DatabaseError
    from django.test.testcases import DatabaseOperationForbidden

    from emissions.replay import tenants_replay

    try:
        differ = tenants_replay()
    except DatabaseOperationForbidden:
        return  # a test without the database
    except DatabaseError:
        return  # the test left its transaction broken: its rows roll back unseen
    if differ:
        lines = [
            f"{schema} record {r.record_id} ({r.kind}): "
            + (
                r.reason
                or f"stored {r.kg_co2e!r}/{r.kg_co2e_market!r}, "
                f"replayed {r.replayed!r}/{r.replayed_market!r}"
            )
            for schema, results in differ.items()
            for r in results
        ]
        pytest.fail("Records do not replay from their provenance:\n" + "\n".join(lines))


def host(slug: str) -> str:
    return f"{slug}.localhost"


@pytest.fixture(scope="session")
def tenants(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> dict[str, object]:
    from accounts.models import User
    from tenants.models import Domain, Tenant
    from tenants.services import tenant_create

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        public = Tenant.objects.filter(schema_name="public").first()
        if public is None:
            public = Tenant(schema_name="public", name="FactorTrace", slug="public")
            public.save()
        Domain.objects.get_or_create(
            domain="localhost", defaults={"tenant": public, "is_primary": True}
        )
        for owner, company in ((ALICE, "Acme Industries"), (CHARLIE, "Globex Logistics")):
            if not Tenant.objects.filter(slug=owner.tenant).exists():
                tenant_create(
                    company_name=company,
                    slug=owner.tenant,
                    owner_name=owner.name,
                    owner_email=owner.email,
                    owner_password=PASSWORD,
                )
        with schema_context("acme"):
            for persona in (BOB, EDDIE):
                if not User.objects.filter(email=persona.email).exists():
                    User.objects.create_user(
                        persona.email, PASSWORD, full_name=persona.name, role=persona.role
                    )
        return {t.slug: t for t in Tenant.objects.exclude(schema_name="public")}


# What a module that commits rows (a browser test's server, a race between connections) must
# leave as it found it: acme's own rows and the public library's datasets. A leak there changes
# what later modules see (a remembered supplier factor, a site name already taken), in whatever
# order pytest-randomly runs them.
LEAK_WATCHED = (
    "emissions.ActivityRecord",
    "emissions.ContractualInstrument",
    "emissions.OrganisationProfile",
    "emissions.ReportingPeriod",
    "emissions.Site",
    "emissions.SupplierFactor",
    "imports.FactorChoice",
    "imports.ImportRun",
    "imports.MappingTemplate",
    "reporting.Report",
)


def _watched_counts() -> dict[str, int]:
    from django.apps import apps

    from factors.models import FactorDataset

    with schema_context("acme"):
        counts = {m: apps.get_model(m).objects.count() for m in LEAK_WATCHED}
    counts["factors.FactorDataset (public)"] = FactorDataset.objects.count()
    return counts


@pytest.fixture(scope="module", autouse=True)
def _commits_nothing_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked ``browser`` or ``commits`` leaves acme's rows and the library's datasets
    as it found them; otherwise it fails at its teardown, naming what it left."""
    module = request.node
    if (
        module.get_closest_marker("browser") is None
        and module.get_closest_marker("commits") is None
    ):
        yield
        return
    request.getfixturevalue("tenants")
    blocker = request.getfixturevalue("django_db_blocker")
    with blocker.unblock():
        before = _watched_counts()
    yield
    with blocker.unblock():
        after = _watched_counts()
        connection.set_schema_to_public()
    left = {name: after[name] - before[name] for name in before if after[name] != before[name]}
    if left:
        pytest.fail(f"{module.name} left committed rows behind (count change): {left}")


@pytest.fixture(autouse=True)
def _back_to_public() -> Iterator[None]:
    from factors.library_index import library_index_clear

    library_index_clear()  # each test sees the library as its own transaction has it
    yield
    connection.set_schema_to_public()


def client_for(persona: Persona | None, slug: str) -> Client:
    """A client on `slug`'s host, signed in as `persona` on the persona's own tenant."""
    from accounts.models import User

    client = Client(HTTP_HOST=host(slug))
    if persona is not None:
        with schema_context(persona.tenant):
            client.force_login(User.objects.get(email=persona.email))
    return client


@pytest.fixture
def anon_acme(tenants: dict[str, object], db: None) -> Client:
    return client_for(None, "acme")


@pytest.fixture
def alice(tenants: dict[str, object], db: None) -> Client:
    return client_for(ALICE, "acme")


@pytest.fixture
def bob(tenants: dict[str, object], db: None) -> Client:
    return client_for(BOB, "acme")


@pytest.fixture
def eddie(tenants: dict[str, object], db: None) -> Client:
    return client_for(EDDIE, "acme")


@pytest.fixture
def charlie_on_acme(tenants: dict[str, object], db: None) -> Client:
    """Charlie signed in on globex, presenting that session cookie to acme's host."""
    return client_for(CHARLIE, "acme")


@pytest.fixture
def public_client(tenants: dict[str, object], db: None) -> Client:
    return Client(HTTP_HOST="localhost")


_DATASET_READS: dict[str, tuple[object, object, object]] = {}


def dataset_read(key: str) -> tuple[object, object, object]:
    """A shipped dataset read once per test session: (mapping, read result, identity), the
    arguments of ``factors.ingest.writer.write_dataset``."""
    if key not in _DATASET_READS:
        from factors.ingest.reader import read_dataset
        from factors.ingest.writer import DatasetIdentity
        from factors.services import file_sha256, select_mappings

        mapping = select_mappings([key])[0]
        paths = [mapping.table_path(t) for t in mapping.tables]
        identity = DatasetIdentity(mapping.key, file_sha256(paths), mapping.sha256)
        _DATASET_READS[key] = (mapping, read_dataset(mapping), identity)
    return _DATASET_READS[key]


def library_add(*keys: str) -> None:
    """Shipped datasets written into the running test's transaction (rolled back after it)."""
    from factors.ingest.writer import write_dataset
    from factors.library_index import library_index_clear

    for key in keys:
        write_dataset(*dataset_read(key))  # type: ignore[arg-type]
    library_index_clear()


@pytest.fixture(scope="session")
def _library_reads() -> list[tuple[object, object, object]]:
    """The real DEFRA 2024 and OWID grid datasets, read once per test session."""
    return [dataset_read(key) for key in ("defra_2024", "owid_grid_2025")]


@pytest.fixture
def library(_library_reads: list[tuple[object, object, object]], db: None) -> None:
    """Those datasets written into this test's transaction (rolled back after it)."""
    library_add("defra_2024", "owid_grid_2025")
