"""The Team page and the account pages: owners manage users; everyone manages their own password."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client, TestCase
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tests.conftest import ALICE, BOB, PASSWORD


def _user(email: str) -> User:
    with schema_context("acme"):
        return User.objects.get(email=email)


def _invite(alice: Client, email: str = "Vera@Acme.example", role: str = "viewer") -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return alice.post("/team/add/", {"full_name": "Vera Viewer", "email": email, "role": role})


def _invite_link(host: str = "acme.localhost") -> str:
    body = mail.outbox[-1].body
    link = re.search(rf"http://{re.escape(host)}:8000(/invite/[^\s]+)", body)
    assert link is not None, body
    return link.group(1)


def _choose_password(client: Client, path: str, password: str) -> Any:
    form = client.get(path, follow=True)
    url = form.redirect_chain[-1][0] if form.redirect_chain else path
    return client.post(url, {"new_password1": password, "new_password2": password})


def test_it_invites_a_viewer_by_email_who_chooses_a_password(alice: Client) -> None:
    response = _invite(alice)
    assert response.status_code == 302
    vera = _user("vera@acme.example")
    assert (vera.role, vera.full_name) == (Role.VIEWER, "Vera Viewer")
    assert not vera.has_usable_password()  # nobody chose it for her
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["vera@acme.example"]
    assert "Alice Owner invites you to Acme" in mail.outbox[0].subject
    # The link uses the tenant's configured domain and PUBLIC_PORT.
    path = _invite_link()

    client = Client(HTTP_HOST="acme.localhost")
    done = _choose_password(client, path, "long-enough-pass-42")
    assert done.status_code == 302
    assert done["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in
    assert _user("vera@acme.example").check_password("long-enough-pass-42")

    # Single-use: the same link no longer sets a password.
    again = Client(HTTP_HOST="acme.localhost")
    page = again.get(path, follow=True).content.decode()
    assert "This invitation has expired" in page
    assert _choose_password(again, path, "another-pass-4242").status_code == 200
    assert _user("vera@acme.example").check_password("long-enough-pass-42")


def test_an_invitation_expires_and_a_tampered_one_is_refused(alice: Client, settings: Any) -> None:
    _invite(alice)
    path = _invite_link()
    tampered = path.rstrip("/")[:-2] + "xx/"
    client = Client(HTTP_HOST="acme.localhost")
    assert "This invitation has expired" in client.get(tampered, follow=True).content.decode()
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is already too old
    assert "This invitation has expired" in client.get(path, follow=True).content.decode()
    assert not _user("vera@acme.example").has_usable_password()


def test_an_invitation_opens_only_its_own_workspace(alice: Client) -> None:
    _invite(alice)
    path = _invite_link()
    globex = Client(HTTP_HOST="globex.localhost")
    page = globex.get(path, follow=True).content.decode()
    assert "Choose the password" not in page


def test_it_refuses_a_duplicate_email(alice: Client) -> None:
    response = _invite(alice, email=BOB.email)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "already belongs" in errors["email"][0]
    assert mail.outbox == []


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
