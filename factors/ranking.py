"""Rank candidate factors for an activity description (pure: no database).

Each candidate gets a score and the reasons behind it: exact key, synonym, fuzzy text, unit
dimension compatible (or convertible via fuel properties), region (exact, fallback to GLOBAL, or
another region), year distance, well-to-tank or direct, flags. Supplier-specific factors that
match rank first. Generic words ("average", "blend") never make a match on their own, and a
synonym counts only where its whole phrase appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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
    "flug": ("flights",),
    "vol": ("flights",),
    "elektriciteit": ("electricity",),
    "elettricità": ("electricity",),
    "electricidad": ("electricity",),
    "aardgas": ("natural gas",),
    "gas naturale": ("natural gas",),
    "fioul": ("gas oil", "fuel oil"),
    "gasóleo": ("gas oil",),
    "gasolio": ("gas oil",),
    "essence": ("petrol",),
    "benzina": ("petrol",),
    "gasolina": ("petrol",),
    "propan": ("propane",),
    "stahl": ("steel",),
    "acier": ("steel",),
    "acero": ("steel",),
    "acciaio": ("steel",),
    "staal": ("steel",),
    "kunststoff": ("plastics",),
    "plastique": ("plastics",),
    "papier": ("paper",),
    "karton": ("paper and board", "cardboard"),
    "pappe": ("paper and board",),
    "abfall": ("waste",),
    "déchets": ("waste",),
    "wasser": ("water supply",),
    "bahn": ("rail",),
    "seefracht": ("cargo ship",),
    "schmierstoff": ("lubricants",),
    "kältemittel": ("refrigerant",),
    "pkw": ("car",),
}
# German compounds name the material first ("Stahlblech" is steel sheet): these synonym words also
# match at the start of a longer word.
COMPOUND_HEADS = frozenset(
    {
        "strom",
        "erdgas",
        "heizöl",
        "benzin",
        "diesel",
        "stahl",
        "kunststoff",
        "papier",
        "karton",
        "abfall",
        "wasser",
        "propan",
        "schmierstoff",
        "kältemittel",
        "fernwärme",
        "seefracht",
        "flug",
        "bahn",
        "lkw",
        "pkw",
    }
)
MIN_TEXT_SCORE = 55.0
FUEL_DIMENSIONS = frozenset({"mass", "volume", "energy"})
# Words that qualify a thing rather than name it. A description and a factor that share only
# these are not about the same thing ("Diesel (average biofuel blend)" vs "Petrol (average
# biofuel blend)"), so word matching ignores them (a synonym phrase still matches whole).
GENERIC_WORDS = frozenset(
    {
        "a", "all", "an", "and", "average", "avg", "biofuel", "blend", "blended", "by", "for",
        "from", "generic", "in", "mix", "mixed", "of", "on", "other", "per", "the", "to",
        "typical", "unknown", "with",
    }
)  # fmt: skip
# Well-to-tank (upstream: extraction, refining, transport of a fuel) is reported in Scope 3
# category 3, next to the fuel's direct combustion factor; it must not stand in for it.
# Upstream of the activity itself: fuel supply chains (WTT) and the grid's transmission and
# distribution losses (DEFRA's "T&D" factors, GHG Protocol Scope 3 category 3).
UPSTREAM_PATTERN = re.compile(
    r"\b(wtt|well to tank|upstream|t d|transmission and distribution|t d losses)\b"
)
UPSTREAM_PENALTY = 20.0


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
    scope3_category: int | None = None
    year: int | None = None
    flags: tuple[str, ...] = ()
    flag_reason: str = ""
    cv_basis: str = ""


# Energy bills (gas, oil) state kWh on the gross calorific value; a net-CV factor applied to them
# overstates emissions by about 10% (DEFRA's guidance: use the gross CV factors for bills).
NET_CV_PENALTY = 3.0


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
            "scope3_category": f.scope3_category,
            "region": f.region,
            "unit": f.unit,
            "kg_co2e": f.kg_co2e,
            "year": f.year,
            "flags": list(f.flags),
            "flag_reason": f.flag_reason,
            "score": round(self.score, 1),
            "reasons": list(self.reasons),
        }


@lru_cache(maxsize=131072)
def normalise_text(text: str) -> str:
    """Lower case, single spaces."""
    return re.sub(r"\s+", " ", text.strip().lower())


@dataclass(frozen=True)
class Query:
    """One text to match: the description itself, or a synonym rewrite of it.

    A rewrite only counts for a factor whose text contains its `phrase` whole: the synonym says
    that phrase names the same thing, not that any of its words do.
    """

    text: str
    synonym: str | None = None
    phrase: str | None = None


def _rewrites(description: str) -> list[Query]:
    query = normalise_text(description)
    found = [Query(query)]
    for word, alternatives in SYNONYMS.items():
        tail = r"\w*" if word in COMPOUND_HEADS else r"(?!\w)"
        pattern = rf"(?<!\w){re.escape(word)}{tail}"
        if re.search(pattern, query):
            for alternative in alternatives:
                rewritten = re.sub(pattern, alternative, query)
                if rewritten != query:
                    found.append(
                        Query(rewritten, f"'{word}' ~ '{alternative}'", _processed(alternative))
                    )
    return found


def expansions(description: str) -> list[tuple[str, str | None]]:
    """(query text, synonym used) pairs: the description itself, then each synonym rewrite."""
    return [(q.text, q.synonym) for q in _rewrites(description)]


@lru_cache(maxsize=131072)
def _processed(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces ("WTT- fuels" -> "wtt fuels")."""
    return " ".join(utils.default_process(text).split())


def content_words(text: str) -> list[str]:
    """The words of a text that name things (GENERIC_WORDS dropped), or all of them if none do."""
    return list(_content_words(text))


@lru_cache(maxsize=131072)
def _content_words(text: str) -> tuple[str, ...]:
    words = _processed(text).split()
    kept = [w for w in words if w not in GENERIC_WORDS]
    return tuple(kept or words)


def mentions_upstream(text: str) -> bool:
    """True if the text speaks of well-to-tank / upstream emissions."""
    return UPSTREAM_PATTERN.search(_processed(text)) is not None


def is_upstream(factor: FactorCandidate) -> bool:
    """A well-to-tank (upstream) factor, by its name or category (DEFRA's 'WTT- fuels')."""
    return mentions_upstream(f"{factor.name} {factor.category}")


def upstream_fit(description: str, factor: FactorCandidate) -> tuple[float, str]:
    """Penalty and reason when the description and the factor differ on well-to-tank."""
    wanted, offered = mentions_upstream(description), is_upstream(factor)
    if offered and not wanted:
        return (
            -UPSTREAM_PENALTY,
            "well-to-tank (upstream) factor: the description names no upstream",
        )
    if wanted and not offered:
        return -UPSTREAM_PENALTY, "direct factor: the description asks for well-to-tank"
    if wanted:
        return 0.0, "well-to-tank, as described"
    return 0.0, ""


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
    """Both texts already processed (lower case, punctuation to spaces)."""
    # token_set alone scores every name containing the words 100; token_sort prefers names
    # without many extra words ("Diesel (average biofuel blend)" over "Development diesel").
    return 0.6 * fuzz.token_set_ratio(query, text, processor=None) + 0.4 * fuzz.token_sort_ratio(
        query, text, processor=None
    )


def _contains_phrase(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {text} "


def _text_fit(queries: list[Query], factor: FactorCandidate) -> tuple[float, str]:
    name = _processed(factor.name)
    haystack = f"{name} {_processed(factor.category)}".strip()
    best, reason = 0.0, ""
    for query in queries:
        if query.phrase is None:
            # The description's own words: generic words on either side do not count.
            words = " ".join(content_words(query.text))
            score = max(
                _similarity(words, " ".join(content_words(name))),
                0.9 * _similarity(words, " ".join(content_words(haystack))),
            )
        else:
            # A synonym rewrite counts only where its phrase appears whole, then scores in full.
            text = _processed(query.text)
            score = 0.0
            if _contains_phrase(name, query.phrase):
                score = _similarity(text, name)
            elif _contains_phrase(haystack, query.phrase):
                score = 0.9 * _similarity(text, haystack)
        if score > best:
            best = score
            reason = f"synonym {query.synonym}" if query.synonym else f"fuzzy text {score:.0f}%"
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
    queries = _rewrites(description)
    query = queries[0].text
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
        if factor.year is not None:
            # Among otherwise equal factors (a grid's yearly series), the more recent one first.
            score += factor.year * 1e-4
        upstream_score, upstream_reason = upstream_fit(description, factor)
        score += upstream_score
        if upstream_reason:
            reasons.append(upstream_reason)
        if unit_dimension == "energy" and factor.cv_basis:
            wanted = "net" if _says_net(description) else "gross"
            if factor.cv_basis != wanted:
                score -= NET_CV_PENALTY
                reasons.append(
                    f"per kWh on the {factor.cv_basis} CV ("
                    + ("the description says net)" if wanted == "net" else "bills state gross)")
                )
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


def _says_net(description: str) -> bool:
    return re.search(r"\b(net|ncv|hi|heizwert|pci)\b", description.casefold()) is not None


def all_query_texts(description: str) -> Sequence[str]:
    """The description and its synonym rewrites, for the database pre-selection."""
    return [q.text for q in _rewrites(description)]
