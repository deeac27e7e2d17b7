"""The Team page and the account pages: owners manage users; everyone manages their own password."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tests.conftest import ALICE, BOB, PASSWORD


def _user(email: str) -> User:
    with schema_context("acme"):
        return User.objects.get(email=email)


def test_it_lets_an_owner_add_a_viewer_who_can_sign_in(alice: Client) -> None:
    response = alice.post(
        "/team/add/",
        {
            "full_name": "Vera Viewer",
            "email": "Vera@Acme.example",
            "role": "viewer",
            "password": "long-enough-pass-42",
        },
    )
    assert response.status_code == 302
    vera = _user("vera@acme.example")
    assert (vera.role, vera.full_name) == (Role.VIEWER, "Vera Viewer")
    client = Client(HTTP_HOST="acme.localhost")
    assert (
        client.post(
            "/login/", {"username": "vera@acme.example", "password": "long-enough-pass-42"}
        ).status_code
        == 302
    )
    assert client.get("/").status_code == 200


def test_it_refuses_a_duplicate_email_and_a_weak_password(alice: Client) -> None:
    response = alice.post(
        "/team/add/",
        {"full_name": "Bob Again", "email": BOB.email, "role": "viewer", "password": "12345"},
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "already belongs" in errors["email"][0]
    assert errors["password"]


def test_it_changes_a_role_and_keeps_one_owner(alice: Client) -> None:
    bob = _user(BOB.email)
    alice.post(f"/team/{bob.id}/role/", {"role": "editor"})
    assert _user(BOB.email).role == Role.EDITOR
    # Alice is the only owner: she cannot demote herself through another owner's absence.
    alice_id = _user(ALICE.email).id
    response = alice.post(f"/team/{alice_id}/role/", {"role": "viewer"}, follow=True)
    assert "at least one owner" in response.content.decode()
    assert _user(ALICE.email).role == Role.OWNER


def test_it_confirms_before_removing_a_user(alice: Client) -> None:
    bob = _user(BOB.email)
    page = alice.get(f"/team/{bob.id}/remove/")
    assert page.status_code == 200
    assert "Remove Bob Viewer?" in page.content.decode()
    with schema_context("acme"):
        assert User.objects.filter(id=bob.id).exists()
    alice.post(f"/team/{bob.id}/remove/")
    with schema_context("acme"):
        assert not User.objects.filter(id=bob.id).exists()


def test_it_resets_a_password_by_email_on_the_tenant_host(anon_acme: Client) -> None:
    anon_acme.post("/password/reset/", {"email": BOB.email})
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = re.search(r"http://acme\.localhost(:\d+)?(/[^\s]+)", body)
    assert link is not None
    path = link.group(2)
    form = anon_acme.get(path, follow=True)
    assert form.status_code == 200
    done = anon_acme.post(
        form.redirect_chain[-1][0] if form.redirect_chain else path,
        {"new_password1": "a-brand-new-password-7", "new_password2": "a-brand-new-password-7"},
    )
    assert done.status_code == 302
    assert _user(BOB.email).check_password("a-brand-new-password-7")


def test_it_lets_a_viewer_change_their_own_password(bob: Client) -> None:
    response = bob.post(
        "/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "viewer-new-password-9",
            "new_password2": "viewer-new-password-9",
        },
    )
    assert response.status_code == 302
    assert _user(BOB.email).check_password("viewer-new-password-9")
