"""First run: the public site's sign-in link finds the workspace; sign-up's one-time login token
carries the owner to their host (single-use, expiring, bound to its workspace, refused when
tampered with).

Personas: alice owns acme, charlie owns globex; anonymous visitors on the public site.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tokens import LOGIN_TOKEN_SALT, login_token_make
from tests.conftest import ALICE


def _token(email: str = ALICE.email, schema: str = "acme") -> str:
    with schema_context(schema):
        return login_token_make(user=User.objects.get(email=email), schema_name=schema)


def _refused(response: Any) -> bool:
    return (
        response.status_code == 200 and "This sign-in link has expired" in response.content.decode()
    )


def _signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_the_landing_page_links_to_sign_in_and_finds_the_workspace(public_client: Client) -> None:
    landing = public_client.get("/").content.decode()
    assert 'href="/signin/"' in landing
    assert public_client.get("/signin/").status_code == 200
    response = public_client.post("/signin/", {"slug": "Acme"})
    assert response.status_code == 302
    assert response["Location"] == "http://acme.localhost:8000/login/"
    # A pasted address works too.
    response = public_client.post("/signin/", {"slug": "acme.localhost:8000/login/"})
    assert response["Location"] == "http://acme.localhost:8000/login/"


def test_sign_in_says_when_there_is_no_such_workspace(public_client: Client) -> None:
    for slug in ("nosuchco", "public"):
        response = public_client.post("/signin/", {"slug": slug})
        assert response.status_code == 422
        assert "There is no workspace at that address" in response.content.decode()
    assert public_client.post("/signin/", {"slug": ""}).status_code == 422


def test_a_login_token_signs_in_once(tenants: dict[str, object], db: None) -> None:
    token = _token()
    first = Client(HTTP_HOST="acme.localhost")
    assert first.get(f"/welcome/{token}/")["Location"] == "/"
    assert _signed_in(first)
    # Used: a second browser presenting it is sent to the sign-in page, not signed in.
    second = Client(HTTP_HOST="acme.localhost")
    assert _refused(second.get(f"/welcome/{token}/"))
    assert not _signed_in(second)


def test_a_login_token_expires(tenants: dict[str, object], db: None, monkeypatch: Any) -> None:
    import accounts.tokens

    token = _token()
    monkeypatch.setattr(accounts.tokens, "LOGIN_TOKEN_MAX_AGE", -1)
    client = Client(HTTP_HOST="acme.localhost")
    assert _refused(client.get(f"/welcome/{token}/"))
    assert not _signed_in(client)


def test_a_tampered_or_foreign_login_token_is_refused(tenants: dict[str, object], db: None) -> None:
    token = _token()
    data = signing.loads(token, salt=LOGIN_TOKEN_SALT)
    client = Client(HTTP_HOST="acme.localhost")
    # Another user id in the payload breaks the signature.
    forged = token.replace(token.split(":")[0], signing.b64_encode(b'{"s":"acme","u":1}').decode())
    assert _refused(client.get(f"/welcome/{forged}/"))
    # Re-signed without the secret: refused.
    other = signing.dumps({**data, "u": data["u"] + 1}, key="not-the-secret", salt=LOGIN_TOKEN_SALT)
    assert _refused(client.get(f"/welcome/{other}/"))
    assert _refused(client.get("/welcome/garbage/"))
    assert not _signed_in(client)
    # A token made for acme opens nothing on globex.
    globex = Client(HTTP_HOST="globex.localhost")
    assert _refused(globex.get(f"/welcome/{token}/"))
    assert not _signed_in(globex)
    # The genuine token still works on its own host.
    assert client.get(f"/welcome/{token}/")["Location"] == "/"
