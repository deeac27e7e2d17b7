"""Forms of the Settings page: the organisation profile, reporting periods, sites and the
contractual instruments of Scope 2 market-based. They validate and normalise; the services write."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any, ClassVar, cast

from django import forms
from django.utils.safestring import SafeString

from emissions.models import (
    ContractualInstrument,
    IdentifierScheme,
    InstrumentKind,
    OrganisationProfile,
    ReportingPeriod,
    Site,
)

_MONTHS = {
    name.casefold(): i
    for i in range(1, 13)
    for name in (calendar.month_name[i], calendar.month_abbr[i])
}
_NACE = re.compile(r"^(?:[A-U](?:\d{1,2}(?:\.\d{1,2}){0,2})?|\d{2}(?:\.\d{1,2}){0,2})$")
_LEI = re.compile(r"^[0-9A-Z]{18}[0-9]{2}$")
_SUBREGION = re.compile(r"^[A-Z]{2,5}$")


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 of a code (DE, DEU) or an English name; ValidationError otherwise."""
    import pycountry

    text = (value or "").strip()
    if not text:
        raise forms.ValidationError("Enter a country.")
    try:
        country = pycountry.countries.lookup(text)
    except LookupError:
        raise forms.ValidationError(
            f"“{text}” is not a country: use an ISO 3166 code such as DE, GB or US."
        ) from None
    return str(country.alpha_2)


def parse_month_day(value: str) -> tuple[int, int]:
    """'04-01' (month-day), '1 April', 'April 1' or 'April' -> (month, day)."""
    text = " ".join((value or "").replace(",", " ").split()).casefold()
    month = day = None
    if m := re.fullmatch(r"(\d{1,2})-(\d{1,2})", text):
        month, day = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.?", text):
        month, day = _MONTHS.get(m[2]), int(m[1])
    elif m := re.fullmatch(r"([a-z]+)\.?(?: (\d{1,2})(?:st|nd|rd|th)?)?", text):
        month, day = _MONTHS.get(m[1]), int(m[2] or 1)
    if month is None or day is None:
        raise ValueError(value)
    dt.date(2001, month, day)  # a real day of a non-leap year, or ValueError
    return month, day


def _lei_check(code: str) -> bool:
    """ISO 17442: the check digits make the code, letters as 10-35, equal 1 modulo 97."""
    digits = "".join(str(int(ch, 36)) for ch in code)
    return int(digits) % 97 == 1


class OrganisationProfileForm(forms.ModelForm):
    country = forms.CharField(max_length=60, help_text="ISO 3166 code (DE, GB, US) or name.")
    fiscal_year_start = forms.CharField(
        max_length=20, help_text="The day the fiscal year starts: 1 January, 1 April, 04-01."
    )

    class Meta:
        model = OrganisationProfile
        fields: ClassVar[list[str]] = [
            "legal_name",
            "identifier_scheme",
            "identifier",
            "country",
            "nace_code",
            "consolidation_approach",
            "base_year",
            "employees",
        ]
        labels: ClassVar[dict[str, str]] = {"nace_code": "NACE code"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        profile = self.instance
        if profile.pk and not self.is_bound:
            month_name = calendar.month_name[profile.fiscal_year_start_month]
            self.initial["fiscal_year_start"] = f"{profile.fiscal_year_start_day} {month_name}"
        self.order_fields(["legal_name", "identifier_scheme", "identifier", "country"])

    def clean_country(self) -> str:
        return country_code(self.cleaned_data["country"])

    def clean_nace_code(self) -> str:
        code = self.cleaned_data["nace_code"].strip().upper()
        if code and not _NACE.match(code):
            raise forms.ValidationError("A NACE Rev. 2 code looks like C25.11, 25.11 or C.")
        return code

    def clean_fiscal_year_start(self) -> tuple[int, int]:
        try:
            return parse_month_day(self.cleaned_data["fiscal_year_start"])
        except ValueError:
            raise forms.ValidationError(
                "Write the first day of the fiscal year as “1 April” or “04-01” (month-day)."
            ) from None

    def clean_base_year(self) -> int | None:
        year = self.cleaned_data["base_year"]
        if year is not None and not 1990 <= year <= dt.date.today().year:  # noqa: DTZ011
            raise forms.ValidationError("A base year between 1990 and this year.")
        return year

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scheme = data.get("identifier_scheme")
        identifier = (data.get("identifier") or "").strip().upper().replace(" ", "")
        if identifier and not scheme:
            self.add_error(
                "identifier_scheme", "Say whether the identifier is an LEI or a register number."
            )
        if scheme == IdentifierScheme.LEI and not (
            _LEI.match(identifier) and _lei_check(identifier)
        ):
            self.add_error("identifier", "An LEI has 20 characters and valid check digits.")
        if scheme and not identifier:
            self.add_error("identifier", "Enter the identifier.")
        data["identifier"] = identifier
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned fields as the service's keywords."""
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        month, day = self.cleaned_data["fiscal_year_start"]
        return {**data, "fiscal_year_start_month": month, "fiscal_year_start_day": day}


class ReportingPeriodForm(forms.ModelForm):
    class Meta:
        model = ReportingPeriod
        fields: ClassVar[list[str]] = ["name", "start", "end", "net_revenue", "currency"]
        widgets: ClassVar[dict[str, Any]] = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "end": forms.DateInput(attrs={"type": "date"}),
        }
        labels: ClassVar[dict[str, str]] = {"net_revenue": "Net revenue"}

    def clean_currency(self) -> str:
        import pycountry

        code = self.cleaned_data["currency"].strip().upper()
        if pycountry.currencies.get(alpha_3=code) is None:
            raise forms.ValidationError(f"“{code}” is not an ISO 4217 currency such as EUR.")
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                self.add_error("end", "The period must end after it starts.")
            else:
                overlapping = ReportingPeriod.objects.filter(start__lte=end, end__gte=start)
                if self.instance.pk:
                    overlapping = overlapping.exclude(id=self.instance.pk)
                if clash := overlapping.first():
                    self.add_error("start", f"This period overlaps “{clash.name}”.")
        return data


def _aliases(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for line in re.split(r"[\n;]", text or ""):
        alias = " ".join(line.split())
        if alias:
            seen.setdefault(alias.casefold(), alias)
    return list(seen.values())


class SubregionInput(forms.TextInput):
    """A text input offering the eGRID subregions of EPA's Hub (Table 6) as a datalist."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        from django.utils.html import format_html, format_html_join

        from imports.regions import egrid_subregion_names

        list_id = f"{(attrs or {}).get('id') or name}-egrid"
        html = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join(
            "",
            '<option value="{}">{}</option>',
            sorted(egrid_subregion_names().items()),
        )
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


class SiteForm(forms.ModelForm):
    country = forms.CharField(max_length=60, help_text="ISO 3166 code (DE, GB, US) or name.")
    aliases_text = forms.CharField(
        label="Aliases",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The names files use for this site, one a line (Werk Ulm, UK depot).",
    )

    class Meta:
        model = Site
        fields: ClassVar[list[str]] = ["name", "country", "subregion", "active_from", "active_to"]
        labels: ClassVar[dict[str, str]] = {"subregion": "US state or eGRID subregion"}
        help_texts: ClassVar[dict[str, str]] = {
            "subregion": "US sites: the eGRID subregion gives the site its grid's factor. A state "
            "alone takes the US average: EPA publishes no table of the subregions serving each "
            "state, and many states have several (EPA's Power Profiler finds a site's subregion "
            "by ZIP code)."
        }
        widgets: ClassVar[dict[str, Any]] = {
            "subregion": SubregionInput(),
            "active_from": forms.DateInput(attrs={"type": "date"}),
            "active_to": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["aliases_text"] = "\n".join(self.instance.aliases)

    def clean_country(self) -> str:
        return country_code(self.cleaned_data["country"])

    def clean_subregion(self) -> str:
        from imports.regions import egrid_subregions, us_states

        code = self.cleaned_data["subregion"].strip().upper()
        if code and not (
            _SUBREGION.match(code) and (code in egrid_subregions() or code in us_states())
        ):
            raise forms.ValidationError(
                "Not a US state (TX) or an eGRID subregion of EPA's eGRID2023 (ERCT); the list "
                "offers the subregions."
            )
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("subregion") and data.get("country") not in {None, "US"}:
            self.add_error("subregion", "Subregions are for US sites only.")
        start, end = data.get("active_from"), data.get("active_to")
        if start and end and end < start:
            self.add_error("active_to", "The site must close after it opens.")
        names = [data.get("name", ""), *_aliases(data.get("aliases_text", ""))]
        others = Site.objects.exclude(id=self.instance.pk) if self.instance.pk else Site.objects
        taken = {
            n.casefold(): site.name for site in others.all() for n in [site.name, *site.aliases]
        }
        for name in names:
            if name and name.casefold() in taken:
                self.add_error(
                    "aliases_text" if name != data.get("name") else "name",
                    f"“{name}” already names the site “{taken[name.casefold()]}”.",
                )
        return data

    def values(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        return {**data, "aliases": _aliases(self.cleaned_data.get("aliases_text", ""))}


class ContractualInstrumentForm(forms.ModelForm):
    class Meta:
        model = ContractualInstrument
        fields: ClassVar[list[str]] = [
            "kind",
            "carrier",
            "site",
            "supplier",
            "start",
            "end",
            "mwh_covered",
            "kg_co2e_per_kwh",
            "certificate_ids",
        ]
        labels: ClassVar[dict[str, str]] = {
            "mwh_covered": "MWh covered",
            "kg_co2e_per_kwh": "Emission rate (kg CO2e/kWh)",
            "certificate_ids": "Certificate ids",
        }
        help_texts: ClassVar[dict[str, str]] = {
            "mwh_covered": "Leave blank when it covers all of the site's electricity in the period.",
        }
        widgets: ClassVar[dict[str, Any]] = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "end": forms.DateInput(attrs={"type": "date"}),
            "certificate_ids": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_mwh_covered(self) -> float | None:
        mwh = self.cleaned_data["mwh_covered"]
        if mwh is not None and not mwh > 0:
            raise forms.ValidationError("MWh covered must be more than 0.")
        return mwh

    def clean_kg_co2e_per_kwh(self) -> float:
        rate = self.cleaned_data["kg_co2e_per_kwh"]
        if not 0 <= rate <= 2:
            raise forms.ValidationError(
                "An emission rate in kg CO2e per kWh is between 0 and 2 (coal is about 1)."
            )
        return rate

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end, site = data.get("start"), data.get("end"), data.get("site")
        if start and end and end < start:
            self.add_error("end", "The contract must end after it starts.")
        elif start and end and site:
            # The same kWh cannot be claimed twice (Scope 2 Guidance, Quality Criteria 2): one
            # instrument per site and time, and one supplier rate per site and time.
            supplier_rate = data.get("kind") == InstrumentKind.SUPPLIER_RATE
            clashes = ContractualInstrument.objects.filter(
                site=site, start__lte=end, end__gte=start
            )
            clashes = (
                clashes.filter(kind=InstrumentKind.SUPPLIER_RATE)
                if supplier_rate
                else clashes.exclude(kind=InstrumentKind.SUPPLIER_RATE)
            )
            if self.instance.pk:
                clashes = clashes.exclude(id=self.instance.pk)
            if clash := clashes.first():
                self.add_error(
                    "start",
                    f"{clash} already covers {site.name}'s {clash.get_carrier_display().lower()} "
                    "in this period: the same "
                    "kWh cannot be claimed twice.",
                )
        return data


class UnknownSiteForm(forms.Form):
    """One site name of an import that no site or alias knows: leave it, add it as a new site
    (the Settings page's rules), or add it as an alias of an existing site."""

    LEAVE, NEW, ALIAS = "", "new", "alias"

    name = forms.CharField(max_length=255, widget=forms.HiddenInput)
    action = forms.ChoiceField(
        choices=[(LEAVE, "Leave it"), (NEW, "Add it as a new site"), (ALIAS, "An alias of…")],
        required=False,
    )
    country = forms.CharField(max_length=60, required=False)
    subregion = forms.CharField(max_length=10, required=False)
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.all()  # type: ignore[attr-defined]
        name = self.initial.get("name") or self.data.get(self.add_prefix("name"), "")
        for field, label in (
            ("action", "What “{}” is"),
            ("country", "Country of “{}”"),
            ("subregion", "US state or eGRID subregion of “{}”"),
            ("site", "The site “{}” stands for"),
        ):
            self.fields[field].widget.attrs["aria-label"] = label.format(name)
        self.new_site: dict[str, Any] | None = None
        self.alias_of: Site | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = " ".join((data.get("name") or "").split())
        action = data.get("action")
        if action == self.NEW:
            site_form = SiteForm(
                data={
                    "name": name,
                    "country": data.get("country") or "",
                    "subregion": data.get("subregion") or "",
                }
            )
            if site_form.is_valid():
                self.new_site = site_form.values()
            for field, errors in site_form.errors.items():
                for error in errors:
                    self.add_error(field if field in {"country", "subregion"} else None, error)
        elif action == self.ALIAS:
            site = data.get("site")
            if site is None:
                self.add_error("site", "Choose the site this name stands for.")
            else:
                site_form = SiteForm(
                    data={
                        "name": site.name,
                        "country": site.country,
                        "subregion": site.subregion,
                        "active_from": site.active_from or "",
                        "active_to": site.active_to or "",
                        "aliases_text": "\n".join([*site.aliases, name]),
                    },
                    instance=site,
                )
                if site_form.is_valid():
                    self.alias_of = site
                for errors in site_form.errors.values():
                    for error in errors:
                        self.add_error("site", error)
        data["name"] = name
        return data


class BaseUnknownSiteFormSet(forms.BaseFormSet):  # type: ignore[type-arg,unused-ignore]
    """Every unknown name of one import; `names` are the ones the check found, nothing else."""

    def __init__(self, *args: Any, names: list[str], **kwargs: Any) -> None:
        self.names = names
        super().__init__(*args, **kwargs)

    def clean(self) -> None:
        if any(self.errors):
            return
        allowed = {" ".join(n.split()).casefold() for n in self.names}
        seen: set[str] = set()
        for form in self.forms:
            name = form.cleaned_data.get("name", "")
            key = name.casefold()
            if key not in allowed:
                raise forms.ValidationError(f"“{name}” is not a site name of this file.")
            if form.cleaned_data.get("action") and key in seen:
                form.add_error(None, f"“{name}” is already added above.")
            seen.add(key)
        if not any(f.new_site or f.alias_of for f in self.forms):
            raise forms.ValidationError("Choose what at least one name is.")


UnknownSiteFormSet = cast(
    "type[BaseUnknownSiteFormSet]",
    forms.formset_factory(
        UnknownSiteForm, formset=BaseUnknownSiteFormSet, extra=0, max_num=100, validate_max=True
    ),
)
