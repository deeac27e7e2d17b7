"""Reads on the factor library for the browser: filtered search and facet counts.

Search is `icontains` per word, every word required (AND), over the stored `search_text` (name,
category, region, unit and publisher id, lower case). The library is some 26,000 rows, so a scan
with ILIKE is a few milliseconds; pg_trgm would index it, but the embedded PostgreSQL has no
contrib extensions. Facet counts apply every filter except the facet's own, so each count says
how many results choosing that value would give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from factors.models import EmissionFactor, FactorDataset, Scope
from factortrace.numbers import whole_number

MAX_WORDS = 8
FACETS = ("dataset", "scope", "region", "dimension", "year")
_FACET_FIELDS = {
    "dataset": "dataset__key",
    "scope": "scope",
    "region": "region",
    "dimension": "unit_dimension",
    "year": "year",
}
# The year facet's value for factors that state no year (a facet value is never empty).
NO_YEAR = "none"


@dataclass(frozen=True)
class FactorFilters:
    """What the browser asks for: words (all required) and one value per facet."""

    words: tuple[str, ...] = ()
    dataset: str = ""
    scope: str = ""
    region: str = ""
    dimension: str = ""
    year: str = ""
    all_versions: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.words or any(getattr(self, f) for f in FACETS))


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Facet:
    """A facet's values, most frequent first, and the total with the facet's own filter off."""

    values: list[FacetValue]
    total: int


def search_words(text: str) -> tuple[str, ...]:
    """The words of a search box, lower case, at most MAX_WORDS, without repeats."""
    words = re.findall(r"[^\s]+", text.lower())
    unique = list(dict.fromkeys(w.strip("\"'") for w in words))
    return tuple(w for w in unique if w)[:MAX_WORDS]


def _filtered(filters: FactorFilters) -> QuerySet[EmissionFactor]:
    factors = EmissionFactor.objects.all()
    if not filters.all_versions:
        factors = factors.filter(dataset__is_current=True)
    for word in filters.words:
        factors = factors.filter(search_text__contains=word)
    if filters.dataset:
        factors = factors.filter(dataset__key=filters.dataset)
    if filters.scope:
        factors = factors.filter(scope=filters.scope)
    if filters.region:
        factors = factors.filter(region=filters.region)
    if filters.dimension:
        factors = factors.filter(unit_dimension=filters.dimension)
    if filters.year == NO_YEAR:
        factors = factors.filter(year__isnull=True)
    elif filters.year:
        factors = (
            factors.filter(year=year)
            if (year := whole_number(filters.year)) is not None
            else factors.none()
        )
    return factors


def factor_search(filters: FactorFilters) -> QuerySet[EmissionFactor]:
    """The factors matching every filter, most relevant first.

    Relevance: the words as a phrase of whole words in the name ("diesel" before "biodiesel"),
    then every word starting a word of the name, then every word anywhere in the name, then a
    match in the category, region, unit or id only; then dataset and name.
    """
    factors = _filtered(filters).select_related("dataset")
    if not filters.words:
        return factors.order_by("dataset__key", "name", "id")
    words = [re.escape(w) for w in filters.words]
    phrase = r"\s+".join(words)
    word_starts, anywhere = Q(), Q()
    for word, escaped in zip(filters.words, words, strict=True):
        word_starts &= Q(name__iregex=rf"\m{escaped}")
        anywhere &= Q(name__icontains=word)
    return factors.annotate(
        relevance=Case(
            When(name__iregex=rf"\m{phrase}\M", then=Value(0)),
            When(word_starts, then=Value(1)),
            When(anywhere, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
    ).order_by("relevance", "dataset__key", "name", "id")


def factor_facets(filters: FactorFilters) -> dict[str, Facet]:
    """For each facet, its values with the number of factors each would give.

    One grouped scan (words and versions applied, facet filters not): the few thousand
    (dataset, scope, region, dimension) groups are then summed per facet, each with the other
    facets' choices applied. `Facet.total` of any facet with no value chosen is the result count.
    """
    fields = [_FACET_FIELDS[f] for f in FACETS]
    base = replace(filters, dataset="", scope="", region="", dimension="", year="")
    groups = list(_filtered(base).values_list(*fields).annotate(n=Count("id")).order_by())
    chosen = {f: getattr(filters, f) for f in FACETS}
    datasets = _dataset_titles()
    facets: dict[str, Facet] = {}
    for position, facet in enumerate(FACETS):
        others = [(i, chosen[f]) for i, f in enumerate(FACETS) if f != facet and chosen[f]]
        counts: dict[str, int] = {}
        for group in groups:
            if all(_facet_value(group[i]) == value for i, value in others):
                key = _facet_value(group[position])
                counts[key] = counts.get(key, 0) + int(group[-1])
        values = [
            FacetValue(value, _label(facet, value, datasets), n, value == chosen[facet])
            for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        total = sum(counts.values())
        if chosen[facet] and not any(v.selected for v in values):
            values.insert(
                0, FacetValue(chosen[facet], _label(facet, chosen[facet], datasets), 0, True)
            )
        if facet == "scope":
            order = [s.value for s in Scope]
            values.sort(key=lambda v: order.index(v.value) if v.value in order else len(order))
        if facet == "year":  # newest edition first, "no year" last
            values.sort(key=lambda v: (v.value == NO_YEAR, -(whole_number(v.value) or 0)))
        facets[facet] = Facet(values=values, total=total)
    return facets


def result_count(facets: dict[str, Facet]) -> int:
    """How many factors match every filter, from the facet counts (no extra query)."""
    for facet in facets.values():
        selected = [v for v in facet.values if v.selected]
        if selected:
            return selected[0].count
    return next(iter(facets.values())).total if facets else 0


def factor_browse(
    filters: FactorFilters, *, page: str | int | None, per_page: int
) -> tuple[Page[EmissionFactor], dict[str, Facet]]:
    """One page of results and the facets: two scans of the library in all."""
    facets = factor_facets(filters)
    paginator: Paginator[EmissionFactor] = Paginator(factor_search(filters), per_page)
    paginator.__dict__["count"] = result_count(facets)  # Paginator.count is a cached_property
    return paginator.get_page(page), facets


def library_is_empty() -> bool:
    """True until the operator ingests a dataset."""
    return not FactorDataset.objects.exists()


def _dataset_titles() -> dict[str, str]:
    return dict(
        FactorDataset.objects.filter(is_current=True).values_list("key", "title").order_by("key")
    )


def _facet_value(value: object) -> str:
    return NO_YEAR if value is None else str(value)


def _label(facet: str, value: str, datasets: dict[str, str]) -> str:
    if facet == "year" and value == NO_YEAR:
        return "No year given"
    if facet == "scope":
        return dict(Scope.choices).get(value, value)
    if facet == "dataset":
        return f"{value} · {datasets[value]}" if value in datasets else value
    if facet == "region":
        name = country_name(value)
        return f"{value} · {name}" if name else value
    return value


@cache
def country_name(code: str) -> str:
    """The ISO 3166 short name of an alpha-2 code ('' for GLOBAL, subregions and unknown codes)."""
    if len(code) != 2:
        return "World" if code == "GLOBAL" else ""
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else ""
