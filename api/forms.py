"""The API token form of Settings."""

from __future__ import annotations

from typing import Any

from django import forms

from api.models import TokenScope
from api.tokens import EXPIRY_CHOICES_DAYS


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="What uses it, e.g. “SAP monthly export” or “Power BI”."
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="Read: activities, inventory, factors, imports' status. Read and write: also "
        "imports, generates reports (each uses a credit) and redeems vouchers.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "Never"), *((d, f"In {d} days") for d in EXPIRY_CHOICES_DAYS)],
    )

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "scope": data["scope"],
            "expires_in_days": data.get("expires_in_days"),
        }
