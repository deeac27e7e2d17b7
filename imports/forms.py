"""Forms of the import wizard: they validate and normalise what the user chose; services write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from imports.pipeline import FIELD_LABELS, FIELDS, Mapping, PipelineError, RowFilter
from imports.pipeline.mapping import DATE_ORDERS

DECIMAL_CHOICES = [
    ("", "Detect from the values"),
    (",", "Comma: 1.234,56"),
    (".", "Point: 1,234.56"),
]
DATE_ORDER_CHOICES = [
    ("", "Detect from the values"),
    ("DMY", "Day first: 31.12.2024, 31/12/2024"),
    ("MDY", "Month first: 12/31/2024"),
    ("YMD", "Year first: 2024-12-31"),
]
# Hints under the fields a row needs, and under the country that steers factor matching.
REQUIRED_HINTS = {
    "date": "A date, or a period start and end.",
    "activity": "What was bought or used: Diesel, Strom, Flug…",
    "quantity": "With a unit, or give an amount with its currency.",
    "unit": "A column, or one unit for every row (e.g. kWh for a meter export).",
    "amount": "Spend, for spend-based factors.",
    "currency": "A column, or one currency for every row (e.g. EUR).",
    "country": "Where it happened (DE, FR…): electricity gets that country's grid factor.",
}


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Spreadsheet",
        error_messages={"required": "Choose a file to upload.", "empty": "The file is empty."},
    )


class SheetForm(forms.Form):
    sheet = forms.ChoiceField(label="Sheet", widget=forms.RadioSelect)

    def __init__(self, *args: Any, sheets: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sheet"].choices = [(s, s) for s in sheets]  # type: ignore[attr-defined]


class MappingForm(forms.Form):
    """One column select and one constant per target field, two reading options, a template name.

    ``cleaned_data["mapping"]`` is a checked :class:`Mapping` (complete, and naming only the
    file's columns); ``cleaned_data["template_name"]`` is the name to save it under (from the
    ``save_as`` field), or None.
    """

    decimal = forms.ChoiceField(label="Decimal separator", choices=DECIMAL_CHOICES, required=False)
    date_order = forms.ChoiceField(label="Date order", choices=DATE_ORDER_CHOICES, required=False)
    save_as = forms.CharField(
        label="Save as template",
        max_length=120,
        required=False,
        help_text="Name it to re-use this mapping when a file with the same columns comes back.",
    )

    def __init__(
        self,
        *args: Any,
        headers: Sequence[str],
        filter_choices: Sequence[tuple[str, Sequence[tuple[str, int]]]] = (),
        row_filter: RowFilter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        self.row_filter = row_filter or RowFilter()
        # Row filter: one checkbox per value of each column with few values (all ticked =
        # every row); a filter on another column (from a template or YAML) is kept as it is.
        self.filter_columns: list[tuple[str, str]] = []
        for i, (column, values) in enumerate(filter_choices):
            name = f"keep_{i}"
            self.fields[name] = forms.MultipleChoiceField(
                label=column,
                choices=[(v, f"{v} ({n:,} row{'s' if n != 1 else ''})") for v, n in values],
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
            self.initial.setdefault(name, _kept_values(self.row_filter, column, values))
            self.filter_columns.append((name, column))
        column_choices = [("", "— not in the file —"), *((h, h) for h in self.headers)]

        def choices() -> list[tuple[str, str]]:
            return column_choices

        for fld in FIELDS:
            # A callable: the list (one entry per column) is not copied into every field.
            self.fields[f"col_{fld}"] = forms.ChoiceField(
                label=FIELD_LABELS[fld], choices=choices, required=False
            )
            self.fields[f"const_{fld}"] = forms.CharField(
                label=f"{FIELD_LABELS[fld]}: one value for every row",
                max_length=200,
                required=False,
            )

    @staticmethod
    def initial_from(mapping: Mapping, template_name: str = "") -> dict[str, Any]:
        """Initial values showing ``mapping`` (a suggestion or the run's saved mapping)."""
        initial: dict[str, Any] = {"save_as": template_name}
        for fld in FIELDS:
            initial[f"col_{fld}"] = mapping.columns.get(fld, "")
            initial[f"const_{fld}"] = mapping.constants.get(fld, "")
        decimal = mapping.options.decimal
        initial["decimal"] = decimal if isinstance(decimal, str) else _single(decimal)
        order = mapping.options.date_order
        initial["date_order"] = order if isinstance(order, str) else _single(order)
        return initial

    def filter_fields(self) -> list[Any]:
        """The row filter's checkbox groups, one per column, for the template."""
        return [self[name] for name, _ in self.filter_columns]

    def _row_filter(self, data: dict[str, Any]) -> dict[str, Any]:
        offered = {column for _, column in self.filter_columns}
        include = {c: v for c, v in self.row_filter.include.items() if c not in offered}
        exclude = {c: v for c, v in self.row_filter.exclude.items() if c not in offered}
        if not self.data.get("filter_shown"):
            # Posted without the filter's checkboxes (a client that does not show them): the
            # run's filter stays as it was.
            return self.row_filter.to_dict()
        for name, column in self.filter_columns:
            kept = list(data.get(name) or [])
            every = [v for v, _ in self.fields[name].choices]  # type: ignore[attr-defined]
            if not kept:
                self.add_error(name, f"Tick at least one value of “{column}” to import rows.")
            elif len(kept) < len(every):
                include[column] = kept
        return RowFilter(include=include, exclude=exclude).to_dict()

    def field_rows(self) -> list[dict[str, Any]]:
        """Per target field: its column select and constant input, for the template."""
        return [
            {
                "field": fld,
                "label": FIELD_LABELS[fld],
                "column": self[f"col_{fld}"],
                "constant": self[f"const_{fld}"],
                "hint": REQUIRED_HINTS.get(fld, ""),
            }
            for fld in FIELDS
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        columns: dict[str, str] = {}
        constants: dict[str, str] = {}
        for fld in FIELDS:
            column = data.get(f"col_{fld}") or ""
            constant = (data.get(f"const_{fld}") or "").strip()
            if column and constant:
                self.add_error(
                    f"const_{fld}",
                    f"{FIELD_LABELS[fld]} takes its values from “{column}”: clear the column or "
                    "this value.",
                )
            elif column:
                columns[fld] = column
            elif constant:
                constants[fld] = constant
        used: dict[str, str] = {}
        for fld, column in columns.items():
            if column in used:
                self.add_error(
                    f"col_{fld}",
                    f"“{column}” already feeds {FIELD_LABELS[used[column]]}; a column feeds one "
                    "field.",
                )
            used[column] = fld
        row_filter = self._row_filter(data)
        if self.errors:
            return data
        options: dict[str, Any] = {}
        if data.get("decimal"):
            options["decimal"] = data["decimal"]
        if data.get("date_order") in DATE_ORDERS:
            options["date_order"] = data["date_order"]
        try:
            mapping = Mapping.from_dict(
                {
                    "columns": columns,
                    "constants": constants,
                    "options": options,
                    "filter": row_filter or None,
                }
            )
            mapping.check(self.headers)
        except PipelineError as exc:
            raise forms.ValidationError(exc.message) from None
        data["mapping"] = mapping
        data["template_name"] = (data.get("save_as") or "").strip() or None
        return data


def _kept_values(
    row_filter: RowFilter, column: str, values: Sequence[tuple[str, int]]
) -> list[str]:
    """The values of ``column`` a filter lets through (every value when it has no rule)."""
    every = [v for v, _ in values]
    if column in row_filter.include:
        wanted = {w.strip().casefold() for w in row_filter.include[column]}
        every = [v for v in every if v.casefold() in wanted]
    if column in row_filter.exclude:
        unwanted = {w.strip().casefold() for w in row_filter.exclude[column]}
        every = [v for v in every if v.casefold() not in unwanted]
    return every


def _single(value: dict[str, str] | None) -> str:
    """A per-field option shown as one choice when every field agrees (else: detect)."""
    if not value:
        return ""
    distinct = set(value.values())
    return distinct.pop() if len(distinct) == 1 else ""


class FixCellForm(forms.Form):
    """One cell fixed in place: the spreadsheet row, the user's column header and the new text."""

    row = forms.IntegerField(min_value=1)
    column = forms.CharField(max_length=300)
    value = forms.CharField(max_length=1000, required=False, strip=True)


class ApplyToAllForm(forms.Form):
    """ "Apply this fix to all N rows": every ``value`` cell of ``column`` becomes ``replacement``."""

    column = forms.CharField(max_length=300)
    value = forms.CharField(max_length=1000, required=False, strip=True)
    replacement = forms.CharField(
        max_length=1000,
        strip=True,
        error_messages={"required": "Enter the value to put in these cells."},
    )


class ErrorFilterForm(forms.Form):
    """Filters of the errors table: a column and words of the message or value."""

    column = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=200, strip=True)
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, columns: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["column"].choices = [("", "All columns"), *((c, c) for c in columns)]  # type: ignore[attr-defined]


class CommitForm(forms.Form):
    """The import step's choices: invalid rows left for later, rows already in the inventory."""

    allow_partial = forms.BooleanField(required=False)
    duplicates = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Ask me"),
            ("skip", "Skip the rows already in the inventory"),
            ("import", "Import them anyway"),
        ],
        error_messages={
            "invalid_choice": "Choose to skip the rows already imported or to import them."
        },
    )
