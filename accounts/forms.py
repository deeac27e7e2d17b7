from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import (
    get_default_password_validators,
    validate_password,
)

from accounts.models import Role, User


def password_rules() -> str:
    """The password validators' rules as one sentence, shown under a new password before the
    first try (not only after a refusal)."""
    return " ".join(v.get_help_text() for v in get_default_password_validators())


class EmailAuthenticationForm(AuthenticationForm):
    """Sign-in by e-mail: the address field is an e-mail input (the right phone keyboard, the
    browser's address autofill)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True, "maxlength": 254}
        )


class NewPasswordMixin(forms.Form):
    """Checks the `password` field with the password validators, against the name and e-mail
    the same form gives (so a password cannot be the user's own e-mail)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            probe = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                validate_password(password, probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class UserAddForm(forms.Form):
    """Invite a teammate: they get an e-mail with a link to choose their own password."""

    full_name = forms.CharField(label="Name", max_length=150)
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError(
                "A user with this e-mail already belongs to your organisation."
            )
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
