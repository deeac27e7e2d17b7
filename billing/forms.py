from __future__ import annotations

from django import forms

from billing.vouchers import normalise_code


class VoucherForm(forms.Form):
    code = forms.CharField(label="Voucher code", max_length=60)

    def clean_code(self) -> str:
        code = normalise_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError("Enter a voucher code.")
        return code


class GrantForm(forms.Form):
    """The operator's grant (admin action): how many credits and why."""

    credits = forms.IntegerField(min_value=1, max_value=1000)
    reason = forms.CharField(max_length=300, help_text="Kept in the ledger with your name.")
