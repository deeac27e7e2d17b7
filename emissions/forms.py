"""Forms of the inventory data: they validate and normalise, the services write."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from django import forms

from emissions.engine.gwp import DEFAULT_GWP_SET, GWP_SETS
from emissions.engine.units import unit_currency
from emissions.inventory import clean_unit_text
from emissions.models import Scope, SupplierFactor
from emissions.services import SUPPLIER_FACTOR_FIELDS

REGION_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
GAS_FIELDS = ("kg_co2", "kg_ch4_co2e", "kg_n2o_co2e", "kg_other_co2e")
# The gases may be rounded where the supplier publishes them: accept a 1 % gap to the total.
GAS_SUM_TOLERANCE = 0.01


class SupplierFactorForm(forms.ModelForm):
    """A supplier-specific factor: the unit must parse in the engine, values are kg CO2e >= 0."""

    gwp_set = forms.ChoiceField(
        label="GWP set",
        choices=[(name, name) for name in GWP_SETS],
        initial=DEFAULT_GWP_SET,
        help_text="The IPCC assessment report whose 100-year GWPs the supplier used.",
    )

    class Meta:
        model = SupplierFactor
        fields = SUPPLIER_FACTOR_FIELDS
        labels: ClassVar[dict[str, str]] = {
            "category": "Scope 3 category",
            "unit": "Per unit",
            "kg_co2e": "kg CO2e per unit",
            "kg_co2": "of which CO2 (kg)",
            "kg_ch4_co2e": "of which CH4 (kg CO2e)",
            "kg_n2o_co2e": "of which N2O (kg CO2e)",
            "kg_other_co2e": "of which other gases (kg CO2e)",
            "price_year": "Price year",
            "uncertainty_gsd": "Uncertainty (geometric standard deviation)",
        }
        help_texts: ClassVar[dict[str, str]] = {
            "name": "What the factor is for, as your activity data names it (used for matching).",
            "kg_co2e": "",
            "uncertainty_gsd": "Optional; 1.1 means about ±10 % (one standard deviation).",
            "region": "ISO 3166 code (DE, GB, US), a subregion code, or GLOBAL.",
            "currency": "For spend-based factors: the currency of the price (filled from the unit).",
            "source_note": "Where the value comes from: document, date, contact.",
        }
        widgets: ClassVar[dict[str, Any]] = {
            "source_note": forms.Textarea(attrs={"rows": 3}),
            "kg_co2e": forms.NumberInput(attrs={"step": "any", "min": "0"}),
            "kg_co2": forms.NumberInput(attrs={"step": "any", "min": "0"}),
            "kg_ch4_co2e": forms.NumberInput(attrs={"step": "any", "min": "0"}),
            "kg_n2o_co2e": forms.NumberInput(attrs={"step": "any", "min": "0"}),
            "kg_other_co2e": forms.NumberInput(attrs={"step": "any", "min": "0"}),
            "uncertainty_gsd": forms.NumberInput(attrs={"step": "any", "min": "1"}),
        }

    def clean_name(self) -> str:
        return " ".join(str(self.cleaned_data["name"]).split())

    def clean_unit(self) -> str:
        try:
            return clean_unit_text(str(self.cleaned_data["unit"]))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_region(self) -> str:
        region = str(self.cleaned_data["region"]).strip().upper()
        if not REGION_PATTERN.match(region):
            raise forms.ValidationError(
                "Use an ISO 3166 country code such as DE, a subregion code, or GLOBAL."
            )
        return region

    def clean_source_note(self) -> str:
        note = str(self.cleaned_data["source_note"]).strip()
        if not note:
            raise forms.ValidationError("Say where the value comes from (document, date, contact).")
        return note

    def clean_currency(self) -> str:
        return str(self.cleaned_data.get("currency") or "").strip().upper()

    def clean_uncertainty_gsd(self) -> float | None:
        gsd = self.cleaned_data.get("uncertainty_gsd")
        if gsd is not None and (not math.isfinite(gsd) or gsd < 1):
            raise forms.ValidationError("A geometric standard deviation is 1 or more.")
        return gsd

    def _non_negative(self, name: str) -> None:
        value = self.cleaned_data.get(name)
        if value is not None and (not math.isfinite(value) or value < 0):
            self.add_error(name, "Enter a value of 0 or more (kg CO2e per unit).")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("kg_co2e", *GAS_FIELDS):
            self._non_negative(name)
        scope, category = cleaned.get("scope"), cleaned.get("category")
        if scope == Scope.SCOPE_3 and category is None:
            self.add_error("category", "A scope 3 factor needs its category (1-15).")
        elif scope is not None and scope != Scope.SCOPE_3 and category is not None:
            self.add_error("category", "Only scope 3 factors have a category; leave it empty.")
        self._check_gases(cleaned)
        self._check_currency(cleaned)
        for name in ("year", "price_year"):
            year = cleaned.get(name)
            if year is not None and not 1990 <= year <= 2100:
                self.add_error(name, "Enter a year between 1990 and 2100.")
        return cleaned

    def _check_gases(self, cleaned: dict[str, Any]) -> None:
        total = cleaned.get("kg_co2e")
        parts = [cleaned[g] for g in GAS_FIELDS if cleaned.get(g) is not None]
        if total is None or not parts or self.errors:
            return
        if sum(parts) > total * (1 + GAS_SUM_TOLERANCE) + 1e-12:
            self.add_error(
                "kg_co2e",
                f"The gases add up to {sum(parts):.6g} kg CO2e, more than the total {total:.6g}.",
            )

    def _check_currency(self, cleaned: dict[str, Any]) -> None:
        unit = cleaned.get("unit")
        if not unit:
            return
        money = unit_currency(unit)
        currency = cleaned.get("currency", "")
        if money is None:
            return
        if currency and currency != money[0]:
            self.add_error("currency", f"The unit is an amount of {money[0]}, not {currency}.")
        else:
            cleaned["currency"] = money[0]
