"""Rank candidate factors for an activity description (pure: no database).

Each candidate gets a score and the reasons behind it: exact key, synonym, fuzzy text, unit
dimension compatible (or convertible via fuel properties), region (exact, fallback to GLOBAL, or
another region), year distance, flags. Supplier-specific factors that match rank first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, utils

# Small synonym table: words people write -> how the libraries name the same thing.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "diesel": (
        "gas oil",
        "diesel (average biofuel blend)",
        "diesel fuel",
        "distillate fuel oil no. 2",
    ),
    "gasoil": ("gas oil", "diesel"),
    "petrol": ("petrol (average biofuel blend)", "motor gasoline"),
    "gasoline": ("petrol", "motor gasoline"),
    "benzin": ("petrol", "motor gasoline"),
    "strom": ("electricity",),
    "électricité": ("electricity",),
    "electricite": ("electricity",),
    "power": ("electricity",),
    "erdgas": ("natural gas",),
    "gaz naturel": ("natural gas",),
    "gas natural": ("natural gas",),
    "heizöl": ("burning oil", "gas oil", "fuel oil"),
    "heating oil": ("burning oil", "gas oil", "fuel oil"),
    "kerosene": ("burning oil", "kerosene"),
    "jet fuel": ("aviation turbine fuel", "kerosene-type jet fuel"),
    "lpg": ("liquefied petroleum gases", "lpg"),
    "lng": ("liquefied natural gas", "lng"),
    "fernwärme": ("district heat and steam",),
    "district heating": ("district heat and steam",),
    "lkw": ("hgv", "medium- and heavy-duty truck"),
    "truck": ("hgv", "medium- and heavy-duty truck"),
    "lorry": ("hgv",),
    "train": ("rail",),
    "hotel": ("hotel stay",),
    "flight": ("flights", "air travel"),
}
MIN_TEXT_SCORE = 55.0
FUEL_DIMENSIONS = frozenset({"mass", "volume", "energy"})


@dataclass(frozen=True)
class FactorCandidate:
    """A factor that may match: from the library (`factor_id`) or a tenant's supplier factor."""

    name: str
    unit: str
    region: str
    kg_co2e: float
    unit_dimension: str
    source: str = "library"
    factor_id: int | None = None
    dataset_key: str = ""
    dataset_version: int | None = None
    publisher_id: str = ""
    category: str = ""
    scope: str = ""
    year: int | None = None
    flags: tuple[str, ...] = ()
    flag_reason: str = ""


@dataclass(frozen=True)
class Candidate:
    """A ranked candidate with its score and the reasons for it, best first."""

    factor: FactorCandidate
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (CLI --json, HTMX views)."""
        f = self.factor
        return {
            "source": f.source,
            "factor_id": f.factor_id,
            "dataset": f.dataset_key,
            "dataset_version": f.dataset_version,
            "publisher_id": f.publisher_id,
            "name": f.name,
            "category": f.category,
            "scope": f.scope,
            "region": f.region,
            "unit": f.unit,
            "kg_co2e": f.kg_co2e,
            "year": f.year,
            "flags": list(f.flags),
            "flag_reason": f.flag_reason,
            "score": round(self.score, 1),
            "reasons": list(self.reasons),
        }


def normalise_text(text: str) -> str:
    """Lower case, single spaces."""
    return re.sub(r"\s+", " ", text.strip().lower())


def expansions(description: str) -> list[tuple[str, str | None]]:
    """(query text, synonym used) pairs: the description itself, then each synonym rewrite."""
    query = normalise_text(description)
    found: list[tuple[str, str | None]] = [(query, None)]
    for word, alternatives in SYNONYMS.items():
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", query):
            for alternative in alternatives:
                rewritten = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", alternative, query)
                if rewritten != query:
                    found.append((rewritten, f"'{word}' ~ '{alternative}'"))
    return found


def dimension_fit(wanted: str | None, offered: str) -> tuple[float, str] | None:
    """Score and reason for using a factor per `offered` with a quantity of `wanted`; None if unusable."""
    if wanted is None:
        return 0.0, ""
    if wanted == offered:
        return 20.0, f"dimension compatible ({offered})"
    if wanted in FUEL_DIMENSIONS and offered in FUEL_DIMENSIONS:
        return 5.0, f"convertible via fuel properties ({wanted} -> {offered})"
    return None


def region_fit(wanted: str | None, offered: str) -> tuple[float, str]:
    """Exact region first, then the GLOBAL fallback, then any other region."""
    if wanted is None:
        return 0.0, ""
    if offered.upper() == wanted.upper():
        return 15.0, f"region {offered}"
    if offered == "GLOBAL":
        return 8.0, "region fallback to GLOBAL"
    return 0.0, f"other region ({offered})"


def _similarity(query: str, text: str) -> float:
    # token_set alone scores every name containing the words 100; token_sort prefers names
    # without many extra words ("Diesel (average biofuel blend)" over "Development diesel").
    clean = (
        utils.default_process
    )  # lower case, punctuation to spaces ("electricity," -> "electricity")
    return 0.6 * fuzz.token_set_ratio(query, text, processor=clean) + 0.4 * fuzz.token_sort_ratio(
        query, text, processor=clean
    )


def _text_fit(queries: list[tuple[str, str | None]], factor: FactorCandidate) -> tuple[float, str]:
    name = normalise_text(factor.name)
    haystack = f"{name} {normalise_text(factor.category)}"
    best, reason = 0.0, ""
    for query, synonym in queries:
        score = max(_similarity(query, name), 0.9 * _similarity(query, haystack))
        if score > best:
            best = score
            reason = f"synonym {synonym}" if synonym else f"fuzzy text {score:.0f}%"
    return best, reason


def rank_candidates(
    *,
    description: str,
    candidates: Iterable[FactorCandidate],
    unit_dimension: str | None = None,
    region: str | None = None,
    year: int | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Score every candidate against the description; return the best `limit`, best first."""
    queries = expansions(description)
    query = queries[0][0]
    ranked: list[Candidate] = []
    for factor in candidates:
        fit = dimension_fit(unit_dimension, factor.unit_dimension)
        if fit is None:
            continue
        reasons: list[str] = []
        if query in (normalise_text(factor.publisher_id), normalise_text(factor.name)):
            text, why = 100.0, "exact key"
            bonus = 30.0
        else:
            text, why = _text_fit(queries, factor)
            bonus = 0.0
        if text < MIN_TEXT_SCORE:
            continue
        reasons.append(why)
        score = text + bonus
        if fit[1]:
            score += fit[0]
            reasons.append(fit[1])
        region_score, region_reason = region_fit(region, factor.region)
        score += region_score
        if region_reason:
            reasons.append(region_reason)
        if year is not None and factor.year is not None:
            gap = abs(year - factor.year)
            score -= min(gap, 5)
            reasons.append(f"year {factor.year}" + (f" ({gap} from {year})" if gap else ""))
        if factor.scope == "outside":
            score -= 15.0
            reasons.append("outside of scopes (reported separately)")
        if factor.flags:
            score -= 25.0
            reasons.append(f"flagged: {factor.flag_reason or ', '.join(factor.flags)}")
        if factor.source == "supplier":
            # A supplier's own factor beats any library factor that matches as well.
            score += 1000.0
            reasons.insert(0, "supplier-specific factor (preferred)")
        ranked.append(Candidate(factor=factor, score=score, reasons=tuple(reasons)))
    ranked.sort(key=lambda c: (-c.score, c.factor.name))
    return ranked[:limit]


def all_query_texts(description: str) -> Sequence[str]:
    """The description and its synonym rewrites, for the database pre-selection."""
    return [text for text, _ in expansions(description)]
