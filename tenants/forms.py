from __future__ import annotations

from typing import Any

from django import forms

from accounts.forms import NewPasswordMixin, password_rules
from tenants.models import LANGUAGES, Tenant
from tenants.rules import slug_problem


class SigninForm(forms.Form):
    slug = forms.CharField(
        label="Your workspace",
        max_length=63,
        help_text="The subdomain your company chose at sign-up, as in <subdomain>.factortrace.",
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        slug = slug.split("://")[-1].split(".")[0].split("/")[0]
        if not slug or not Tenant.objects.filter(slug=slug).exclude(schema_name="public").exists():
            raise forms.ValidationError(
                "There is no workspace at that address. Check the spelling, or create one."
            )
        return slug


class SignupForm(NewPasswordMixin, forms.Form):
    company_name = forms.CharField(label="Company name", max_length=200)
    slug = forms.CharField(
        label="Subdomain",
        max_length=63,
        help_text="Your workspace address: <subdomain>.factortrace. Lowercase letters, digits, hyphens.",
    )
    full_name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(label="Work e-mail")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, min_length=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = password_rules()

    def clean_company_name(self) -> str:
        name = self.cleaned_data["company_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your company's name.")
        return name

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        problem = slug_problem(slug)
        if problem:
            raise forms.ValidationError(problem)
        if Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError("This subdomain is taken. Please choose another.")
        return slug

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label="Language and format",
        choices=LANGUAGES,
        help_text="How numbers and dates are shown to everyone in this workspace.",
    )
