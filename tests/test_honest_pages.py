"""Pages that tell the user what they need before they fail: the refusal page keeps the
navigation, e-mail fields are e-mail inputs, password rules show before the first try, and
every page names its icon (a static file, no inline data)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse


def test_the_refusal_page_keeps_the_navigation(bob: Client) -> None:
    response = bob.get(reverse("team_add"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "This needs the owner role" in html
    assert 'class="mainnav"' in html
    assert f'href="{reverse("activities")}"' in html


def test_sign_in_asks_for_an_email_address(anon_acme: Client) -> None:
    html = anon_acme.get(reverse("login")).content.decode()
    assert 'type="email" name="username"' in html
    assert 'autocomplete="email"' in html


def test_sign_up_shows_the_password_rules_before_the_first_try(public_client: Client) -> None:
    html = public_client.get("/signup/").content.decode()
    assert "at least 10 characters" in html
    assert 'type="email" name="email"' in html


def test_an_invited_teammate_sees_the_password_rules(alice: Client) -> None:
    """The owner no longer chooses a password: the invitation page shows the rules first."""
    import re

    from django.core import mail
    from django.test import TestCase

    html = alice.get(reverse("team")).content.decode()
    assert 'type="email" name="email"' in html
    with TestCase.captureOnCommitCallbacks(execute=True):
        alice.post(
            reverse("team_add"), {"full_name": "Ina", "email": "ina@acme.example", "role": "viewer"}
        )
    link = re.search(r"http://acme\.localhost:\d+(/invite/\S+)", mail.outbox[-1].body)
    assert link is not None
    invited = Client(HTTP_HOST="acme.localhost")
    assert "at least 10 characters" in invited.get(link.group(1), follow=True).content.decode()


def test_every_page_names_a_static_icon(anon_acme: Client) -> None:
    html = anon_acme.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = Path(settings.BASE_DIR) / "static" / "favicon.svg"
    assert icon.read_text().startswith("<svg")
