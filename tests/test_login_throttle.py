"""Sign-in and password-reset throttling: per tenant and per address, with a page that says so, and
lifted by an owner (Team page) or an operator (admin)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import LoginThrottle, User
from tests.conftest import ALICE, BOB, CHARLIE, PASSWORD, host

ATTACKER = "203.0.113.7"


class QuickHasher(PBKDF2PasswordHasher):
    """One iteration: the dummy hash Django computes for an unknown e-mail costs nothing here."""

    algorithm = "pbkdf2_quick"
    iterations = 1


@pytest.fixture(autouse=True)
def _quick_hashing(settings: pytest.FixtureRequest) -> None:
    # Attempts use unknown e-mails (as a password sprayer would); the personas keep their real hashes.
    settings.PASSWORD_HASHERS = [  # type: ignore[attr-defined]
        "tests.test_login_throttle.QuickHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def _client(slug: str, address: str = ATTACKER) -> Client:
    return Client(HTTP_HOST=host(slug), REMOTE_ADDR=address)


def _fail_logins(client: Client, slug: str, times: int, *, who: str = "nobody") -> None:
    for attempt in range(times):
        email = f"{who}-{attempt}@{slug}.example"
        response = client.post("/login/", {"username": email, "password": f"wrong-{attempt}"})
        assert response.status_code == 200, (attempt, response.status_code)


def _sign_in(client: Client, email: str) -> int:
    return client.post("/login/", {"username": email, "password": PASSWORD}).status_code


def test_it_locks_a_tenant_after_ten_failed_logins_from_one_address(
    tenants: dict[str, object], db: None
) -> None:
    assert settings.LOGIN_FAILURE_LIMIT == 10
    client = _client("acme")
    _fail_logins(client, "acme", 9)
    wrong = client.post("/login/", {"username": ALICE.email, "password": "not-her-password"})
    assert wrong.status_code == 200  # the tenth failure, on a real account

    response = client.post("/login/", {"username": ALICE.email, "password": PASSWORD})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert ATTACKER in page
    assert "Even the right password is refused" in page
    assert int(response["Retry-After"]) > 0
    assert "sessionid" not in response.cookies
    # The sign-in page itself says so too, not only the post.
    assert client.get("/login/").status_code == 429

    # Another tenant, same address: not locked.
    assert _sign_in(_client("globex"), CHARLIE.email) == 302
    # Same tenant, another address: not locked.
    assert _sign_in(_client("acme", "198.51.100.9"), ALICE.email) == 302


def test_it_counts_failures_across_accounts_of_the_tenant(
    tenants: dict[str, object], db: None
) -> None:
    client = _client("acme")
    _fail_logins(client, "acme", 5, who="first")
    _fail_logins(client, "acme", 5, who="second")
    assert _sign_in(client, BOB.email) == 429


def test_it_lets_an_owner_lift_the_lock(alice: Client) -> None:
    attacker = _client("acme")
    _fail_logins(attacker, "acme", 10)
    assert _sign_in(attacker, BOB.email) == 429

    team = alice.get("/team/").content.decode()
    assert "Paused sign-ins" in team
    assert ATTACKER in team
    with schema_context("acme"):
        lock = LoginThrottle.objects.get(address=ATTACKER)
    response = alice.post(f"/team/locks/{lock.id}/lift/")
    assert response.status_code == 302
    assert _sign_in(attacker, BOB.email) == 302


def test_it_keeps_the_lock_list_and_lifting_to_owners(bob: Client, eddie: Client) -> None:
    _fail_logins(_client("acme"), "acme", 10)
    with schema_context("acme"):
        lock = LoginThrottle.objects.get(address=ATTACKER)
    assert ATTACKER not in bob.get("/team/").content.decode()
    assert bob.post(f"/team/locks/{lock.id}/lift/").status_code == 403
    assert eddie.post(f"/team/locks/{lock.id}/lift/").status_code == 403
    with schema_context("acme"):
        assert LoginThrottle.objects.get(id=lock.id).is_locked


def test_it_cannot_lift_another_tenants_lock(alice: Client) -> None:
    _fail_logins(_client("globex"), "globex", 10)
    with schema_context("globex"):
        lock = LoginThrottle.objects.get(address=ATTACKER)
    assert alice.post(f"/team/locks/{lock.id}/lift/").status_code == 404
    with schema_context("globex"):
        assert LoginThrottle.objects.get(id=lock.id).is_locked


def test_it_throttles_password_reset_requests(tenants: dict[str, object], db: None) -> None:
    client = _client("acme")
    for _ in range(settings.PASSWORD_RESET_LIMIT):
        response = client.post("/password/reset/", {"email": BOB.email})
        assert response.status_code == 302
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT
    response = client.post("/password/reset/", {"email": BOB.email})
    assert response.status_code == 429
    assert "Too many password-reset requests" in response.content.decode()
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT
    # Signing in is a separate count: still open from that address.
    assert _sign_in(client, BOB.email) == 302
    assert _client("globex").post("/password/reset/", {"email": CHARLIE.email}).status_code == 302


@pytest.fixture
def operator(tenants: dict[str, object], db: None) -> Client:
    with schema_context("public"):
        user = User.objects.create_superuser("ops@factortrace.example", PASSWORD, full_name="Ops")
    client = Client(HTTP_HOST="localhost")
    with schema_context("public"):
        client.force_login(user)
    return client


def test_it_lets_an_operator_lift_a_tenants_locks(operator: Client) -> None:
    from tenants.models import Tenant

    attacker = _client("acme")
    _fail_logins(attacker, "acme", 10)
    acme = Tenant.objects.get(slug="acme")
    response = operator.post(
        "/admin/tenants/tenant/",
        {"action": "lift_login_locks", "_selected_action": [acme.pk]},
    )
    assert response.status_code == 302
    assert _sign_in(attacker, ALICE.email) == 302


def test_it_locks_the_operator_sign_in_too(tenants: dict[str, object], db: None) -> None:
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=ATTACKER)
    for attempt in range(10):
        client.post("/admin/login/", {"username": "ops@x.example", "password": f"w{attempt}"})
    response = client.post("/admin/login/", {"username": "ops@x.example", "password": "w"})
    assert response.status_code == 429
    assert "Another operator can lift this" in response.content.decode()
    assert _sign_in(_client("acme"), ALICE.email) == 302
