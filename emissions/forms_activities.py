"""Forms of the activities page: its filters, and the correction of one record."""

from __future__ import annotations

from typing import Any

from django import forms

from emissions.engine.unit_display import display_unit
from emissions.factor_keys import parse_factor_key
from emissions.inventory import clean_unit_text
from emissions.models import ActivityRecord, DataQuality, Scope, Scope3Category
from emissions.selectors_activities import ActivityFilters
from emissions.services_refactor import REASON_MAX_LENGTH


class ActivityFilterForm(forms.Form):
    """The page's filters; invalid values are reported and ignored, never guessed."""

    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scope = forms.TypedChoiceField(
        label="Scope",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "All scopes"), *Scope.choices],
    )
    category = forms.TypedChoiceField(
        label="Scope 3 category",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "All categories"), *Scope3Category.choices],
    )
    site = forms.ChoiceField(label="Site", required=False)
    run = forms.TypedChoiceField(label="Import", required=False, coerce=int, empty_value=None)

    def __init__(
        self, *args: Any, sites: list[str], runs: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "All sites"), *((s, s) for s in sites)]  # type: ignore[attr-defined]
        self.fields["run"].choices = [("", "All imports"), *runs]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end of the period is before its start.")
        return cleaned

    def filters(self) -> ActivityFilters:
        """The valid filters (a field with an error is left out)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return ActivityFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            scope=data.get("scope"),
            category=data.get("category"),
            site=data.get("site") or "",
            run_id=data.get("run"),
        )


class ActivityRecordForm(forms.Form):
    """A correction of one record: what the user sees in their source data. The emissions are
    recomputed from it (same engine path as an import) by the service."""

    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    activity = forms.CharField(label="Activity description", max_length=300)
    quantity = forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}))
    unit = forms.CharField(
        max_length=60, help_text="Any unit FactorTrace understands: L, kWh, kg, km…"
    )
    site = forms.CharField(max_length=200, required=False)
    data_quality = forms.ChoiceField(
        label="Data quality",
        choices=[c for c in DataQuality.choices if c[0] != DataQuality.SPEND_BASED],
        required=False,
        help_text="How the quantity was obtained; it sets the record's uncertainty.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, record: ActivityRecord, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                name: getattr(record, name)
                for name in (
                    "date",
                    "activity",
                    "quantity",
                    "unit",
                    "amount",
                    "site",
                    "data_quality",
                    "notes",
                )
            }
            | {"unit": display_unit(record.unit)},  # "US gal", read back as the same unit
        )
        super().__init__(*args, **kwargs)
        self.region = record.country or ""
        self.spend_based = record.quantity is None and record.amount is not None
        if self.spend_based:
            # A spend record is corrected through its amount; its currency stays as imported,
            # and a money factor makes it spend-based.
            del self.fields["quantity"]
            del self.fields["unit"]
            del self.fields["data_quality"]
            self.fields["amount"] = forms.FloatField(
                label=f"Amount ({record.currency or 'EUR'})",
                widget=forms.NumberInput(attrs={"step": "any"}),
            )
            # Keep the field order of the page: date, activity, amount, site, notes.
            self.order_fields(["date", "activity", "amount", "site", "notes"])

    def clean_activity(self) -> str:
        return " ".join(str(self.cleaned_data["activity"]).split())

    def clean_unit(self) -> str:
        try:
            return clean_unit_text(str(self.cleaned_data.get("unit") or ""), region=self.region)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def values(self) -> dict[str, Any]:
        """The corrected fields, ready for ``activity_record_update``."""
        names = ["date", "activity", "site", "notes"]
        names += ["amount"] if self.spend_based else ["quantity", "unit"]
        if self.cleaned_data.get("data_quality"):  # left out: the record keeps its tier
            names.append("data_quality")
        return {name: self.cleaned_data[name] for name in names}


class FactorChangeForm(forms.Form):
    """The factor chosen in the picker (``lib:<id>`` / ``sup:<id>``) and why; ``confirm`` is set
    by the confirmation step."""

    factor = forms.CharField(
        error_messages={"required": "Choose a factor in the list."}, widget=forms.HiddenInput
    )
    reason = forms.CharField(
        label="Why the factor changes",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with every record it changes, for your auditors.",
        error_messages={"required": "Say why the factor changes (it is kept with the records)."},
    )
    only_this = forms.BooleanField(
        label="Only this record", required=False, help_text="Not remembered for your next imports."
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_factor(self) -> tuple[int | None, int | None]:
        try:
            return parse_factor_key(self.cleaned_data["factor"])
        except ValueError:
            raise forms.ValidationError("Choose a factor in the list.") from None
