"""Rank candidate factors for an activity description (pure: no database).

A description is read as library concepts (`factors.concepts`, vocabulary in data/vocabulary):
what it names (heads: diesel, steel, a flight), how (qualifiers: short-haul, landfill) and in which
use (contexts: a vehicle, a boiler, a purchase, a waste word). Each factor of the library is read
the same way from its name and category, and a candidate must name what the description names.
Context then decides the use: vehicle words exclude stationary-combustion factors and the other
way round, waste factors need a waste or treatment word, material-use factors need a material
and no waste word, well-to-tank, T&D, managed-asset, outside-of-scope and market-based factors
are never a main line unless asked for. The unit's dimension must agree with the factor's, or a
fuel conversion path (density, calorific value) must exist. The region picks the publisher: an
exact region first (a country's grid, the US EPA for the US, DEFRA for GB), then GLOBAL, then
DEFRA's UK factor with the assumption stated in the reasons. Supplier-specific factors that name
the same thing rank first. A description that names no known concept falls back to fuzzy text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, utils

from factors.concepts import Reading, concept, fold, read, related

MIN_TEXT_SCORE = 55.0
# Mining products: a factor naming ores fits only a description that names ores.
ORE = "mat.ore"
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
    """The description, then one rewrite per thing it names, in the words the library uses
    ("Erdgas Heizung" -> "natural gas heizung"): the vocabulary's first English term."""
    query = fold(normalise_text(description))
    found = [Query(query)]
    for phrase, concept_id in read(description).terms:
        entry = concept(concept_id)
        if entry.role != "head" or "+" in phrase or phrase == entry.label:
            continue
        pattern = rf"(?<!\w){re.escape(phrase)}(?!\w)"
        rewritten = re.sub(pattern, entry.label, query)
        if rewritten != query:
            found.append(Query(rewritten, f"'{phrase}' ~ '{entry.label}'", _processed(entry.label)))
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


@lru_cache(maxsize=131072)
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


# Score of a description's head (the thing it names) found in a factor, found as a related
# concept ("diesel" for EPA's "Distillate Fuel Oil No. 2"), or missing; a head the factor names
# that the description does not (a more specific or another thing); qualifiers.
HEAD_MATCH = 100.0
HEAD_RELATED = 85.0
HEAD_MISSING = -30.0
EXTRA_HEAD = -15.0
QUALIFIER_MATCH = 10.0
EXTRA_QUALIFIER = -5.0
QUALIFIER_CONFLICT = -15.0
# Heads whose factors differ by use: an unstated use takes the fuel's usual one, softly.
USE_DEFAULT_PENALTY = 20.0
# Factor contexts that never make a main line unless the description asks for them.
ASK_ONLY = {
    "ctx.upstream": "well-to-tank (upstream)",
    "ctx.td": "transmission and distribution losses",
    "ctx.outside": "outside of scopes",
    "ctx.managed": "managed assets",
    "ctx.ev_charging": "electricity for electric vehicles",
    "ctx.homeworking": "homeworking",
    "ctx.market": "market-based (residual mix)",
}
# Datasets whose home region they are: among equal factors of that region, theirs first.
HOME_DATASETS = {"GB": "defra", "US": "epa"}
SUPPLIER_REASON = "supplier-specific factor (preferred)"


@dataclass(frozen=True)
class _Wanted:
    """The description as the ranking needs it, computed once per ranking."""

    reading: Reading
    related: frozenset[str]
    use: str
    use_stated: bool
    waste: bool
    material_only: bool
    # Derived once per ranking for concept_fit: heads or related, heads in sorted order with their
    # label and `also`, the qualifier groups named, and the ask-only contexts not asked for.
    reachable: frozenset[str] = frozenset()
    sorted_heads: tuple[tuple[str, str, frozenset[str]], ...] = ()
    groups: frozenset[str] = frozenset()
    not_asked: tuple[str, ...] = ()


def _wanted(reading: Reading) -> _Wanted:
    contexts = reading.contexts
    mobile, stationary = "use.mobile" in contexts, "use.stationary" in contexts
    if mobile != stationary:
        use, stated = ("mobile" if mobile else "stationary"), True
    else:
        uses = {concept(h).use for h in reading.heads if concept(h).use}
        use, stated = (uses.pop() if len(uses) == 1 else ""), False
    waste = (
        "ctx.waste" in contexts
        or any(q.startswith("q.treat.") and q != "q.treat.reuse" for q in reading.qualifiers)
        or any(concept(h).kind == "waste" for h in reading.heads)
    )
    kinds = {concept(h).kind for h in reading.heads}
    near = related(reading.heads)
    return _Wanted(
        reading=reading,
        related=near,
        reachable=reading.heads | near,
        sorted_heads=tuple((h, concept(h).label, _also(h)) for h in sorted(reading.heads)),
        groups=frozenset(concept(q).group for q in reading.qualifiers),
        not_asked=tuple(c for c in ASK_ONLY if c not in reading.contexts),
        use=use,
        use_stated=stated,
        waste=waste,
        material_only=kinds == {"material"},
    )


# Factor readings known before they are asked for (factors.library_index loads them from its
# disk cache, which is keyed by the vocabulary and the reader's code): text -> reading.
_KNOWN_READINGS: dict[str, Reading] = {}


def know_factor_readings(readings: dict[str, Reading]) -> None:
    _KNOWN_READINGS.update(readings)


@lru_cache(maxsize=262144)
def factor_reading(name: str, category: str) -> Reading:
    """What a factor names, read from its name and category with the same vocabulary."""
    text = f"{name} | {category}"
    known = _KNOWN_READINGS.get(text)
    return known if known is not None else read(text, as_factor=True)


@lru_cache(maxsize=65536)
def _is_fuel(reading: Reading) -> bool:
    return any(concept(h).kind == "fuel" for h in reading.heads)


@lru_cache(maxsize=65536)
def _factor_waste(reading: Reading) -> bool:
    """A waste-disposal factor (DEFRA "Material use: ... food and garden waste" is not one)."""
    if reading.contexts & {"ctx.material", "use.stationary", "use.mobile"}:
        # Material use, and waste burnt as a fuel (EPA "Municipal Solid Waste (stationary
        # combustion)"), are no disposal.
        return False
    return "ctx.waste" in reading.contexts or any(concept(h).kind == "waste" for h in reading.heads)


@lru_cache(maxsize=4096)
def _also(head: str) -> frozenset[str]:
    return frozenset(concept(head).also)


@lru_cache(maxsize=65536)
def _offered_terms(
    offered: Reading,
) -> tuple[bool, tuple[tuple[str, str, str, bool], ...], str, bool, bool, bool]:
    """What concept_fit needs of a factor's reading: disposal or not; its qualifiers (id, label,
    group, default); its use; business-travel, fleet and freight contexts."""
    contexts = offered.contexts
    quals = tuple(
        (q, concept(q).label, concept(q).group, concept(q).default) for q in offered.qualifiers
    )
    use = (
        "mobile"
        if "use.mobile" in contexts
        else "stationary"
        if "use.stationary" in contexts
        else ""
    )
    return (
        _factor_waste(offered),
        quals,
        use,
        "ctx.business_travel" in contexts,
        "ctx.fleet" in contexts,
        "ctx.freight" in contexts,
    )


def concept_fit(
    wanted: _Wanted, offered: Reading, *, spend: bool = False
) -> tuple[float, list[str]] | None:
    """Score and reasons for a factor reading against the description; None if it names another
    thing or serves another use."""
    want = wanted.reading
    heads, contexts = offered.heads, offered.contexts
    reachable = wanted.reachable or (want.heads | wanted.related)
    if not heads & reachable:
        return None
    not_asked = wanted.not_asked or tuple(c for c in ASK_ONLY if c not in want.contexts)
    for ctx in not_asked:
        if ctx in contexts:
            return None
    # Mining products (EXIOBASE "... ores and concentrates") only for a description that names
    # ores: buying aluminium sheet is not buying bauxite.
    if ORE in heads and ORE not in want.heads:
        return None
    factor_waste, quals, offered_use, travel, fleet, freight = _offered_terms(offered)
    if factor_waste != wanted.waste:
        return None
    if wanted.material_only and not wanted.waste and "ctx.material" not in contexts and not spend:
        return None
    score, reasons = 0.0, []
    named, near = [], []
    sorted_heads = wanted.sorted_heads or tuple(
        (h, concept(h).label, _also(h)) for h in sorted(want.heads)
    )
    for head, label, also in sorted_heads:
        if head in heads:
            score += HEAD_MATCH
            named.append(label)
        elif heads & also:
            score += HEAD_RELATED
            near.append(label)
        else:
            score += HEAD_MISSING
    for head in heads - want.heads:
        if head not in wanted.related and not (_also(head) & want.heads):
            score += EXTRA_HEAD
    if named:
        reasons.append("names " + ", ".join(named))
    if near:
        reasons.append("related to " + ", ".join(near))
    groups = (
        wanted.groups
        if wanted.sorted_heads
        else frozenset(concept(q).group for q in want.qualifiers)
    )
    for qual, label, group, default in quals:
        if qual in want.qualifiers:
            score += QUALIFIER_MATCH
            reasons.append(label)
        elif group in groups:
            score += QUALIFIER_CONFLICT
        elif not default:
            score += EXTRA_QUALIFIER
    if wanted.use and offered_use and offered_use != wanted.use:
        if wanted.use_stated:
            return None
        score -= USE_DEFAULT_PENALTY
    elif wanted.use and offered_use == wanted.use:
        reasons.append(
            f"{wanted.use} combustion"
            + (" (context words)" if wanted.use_stated else " (usual use of the fuel)")
        )
    if fleet and ("ctx.business_travel" in want.contexts or "ctx.freight" in want.contexts):
        return None
    if travel and "ctx.fleet" in want.contexts and "ctx.business_travel" not in want.contexts:
        return None
    if freight and "ctx.fleet" in want.contexts and "ctx.freight" not in want.contexts:
        return None
    if travel:
        score += 4.0
    elif fleet:
        score += 2.0
    if freight and "ctx.freight" not in want.contexts:
        score -= 10.0
    return score, reasons


def _region_fit(wanted: str | None, factor: FactorCandidate) -> tuple[float, str]:
    """The publisher that covers the region first; DEFRA's UK factor as the stated fallback."""
    if wanted is None:
        return 0.0, ""
    want, offered = wanted.upper(), factor.region.upper()
    home = HOME_DATASETS.get("US" if factor.dataset_key.startswith("epa") else want, "")
    bonus = 5.0 if home and factor.dataset_key.startswith(home) and offered in (want, "US") else 0
    if offered == want:
        return 40.0 + bonus, f"region {factor.region}"
    if offered == "US" and factor.dataset_key.startswith("epa") and len(want) > 2:
        return 30.0, f"US average (no {wanted} factor)"
    if offered == "GLOBAL":
        return 12.0, "region fallback to GLOBAL"
    if offered == "GB" and (factor.dataset_key.startswith("defra") or not factor.dataset_key):
        # No publisher covers the region for this activity: DEFRA's, with the assumption stated.
        return 10.0, f"UK factor used for a {want} activity"
    return -20.0, f"other region ({factor.region})"


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
    reading = read(description)
    if not reading.heads:
        return _rank_by_text(
            description=description,
            candidates=candidates,
            unit_dimension=unit_dimension,
            region=region,
            year=year,
            limit=limit,
        )
    wanted = _wanted(reading)
    exact = normalise_text(description)
    says_net = _says_net(description)
    upstream_wanted = mentions_upstream(description)
    # Score every candidate first (cached per factor reading, region and name), then give the
    # best `limit` their reasons: the same scores, in the same order, as `_scored` alone gives.
    keyed: list[tuple[float, int, str, int, FactorCandidate]] = []
    for position, factor in enumerate(candidates):
        quick = _quick_score(
            factor, reading, unit_dimension, exact, region, year, upstream_wanted, says_net
        )
        if quick is not None:
            keyed.append((-quick, len(factor.name), factor.name, position, factor))
    keyed.sort(key=lambda k: k[:4])
    ranked: list[Candidate] = []
    for *_, factor in keyed[:limit]:
        found = _scored(factor, wanted, unit_dimension, exact, region, year, description, says_net)
        if found is not None:
            ranked.append(found)
    return ranked


def _scored(
    factor: FactorCandidate,
    wanted: _Wanted,
    unit_dimension: str | None,
    exact: str,
    region: str | None,
    year: int | None,
    description: str,
    says_net: bool,
) -> Candidate | None:
    """One candidate's score and reasons (None when it cannot serve the description)."""
    fit = dimension_fit(unit_dimension, factor.unit_dimension)
    if fit is None:
        return None
    offered = factor_reading(factor.name, factor.category)
    if unit_dimension != factor.unit_dimension and not _is_fuel(offered):
        # Mass, volume and energy convert only through a fuel's density and calorific value
        # (DEFRA's fuel properties): steel given in litres has no path to a per-tonne factor.
        return None
    concept_score = _concept_fit_of(wanted.reading, offered, factor.unit_dimension == "money")
    if concept_score is None:
        return None
    score, reasons = concept_score[0], list(concept_score[1])
    if exact in (normalise_text(factor.publisher_id), normalise_text(factor.name)):
        score += 200.0
        reasons.insert(0, "exact key")
    reasons.extend(_common(factor, fit, region, year, description, unit_dimension, says_net, score))
    score = float(reasons.pop())
    if factor.source == "supplier":
        reasons.insert(0, SUPPLIER_REASON)
    return Candidate(factor=factor, score=score, reasons=tuple(reasons))


@lru_cache(maxsize=65536)
def _wanted_of(reading: Reading) -> _Wanted:
    return _wanted(reading)


@lru_cache(maxsize=262144)
def _concept_fit_of(
    want: Reading, offered: Reading, spend: bool
) -> tuple[float, tuple[str, ...]] | None:
    """`concept_fit` of a description reading and a factor reading, once per pair."""
    fit = concept_fit(_wanted_of(want), offered, spend=spend)
    return None if fit is None else (fit[0], tuple(fit[1]))


def _concept_score(want: Reading, offered: Reading, spend: bool) -> float | None:
    """`concept_fit`'s score for a description reading and a factor reading (None: no fit)."""
    fit = _concept_fit_of(want, offered, spend)
    return None if fit is None else fit[0]


@lru_cache(maxsize=262144)
def _upstream_named(name: str, category: str) -> bool:
    return mentions_upstream(f"{name} {category}")


@lru_cache(maxsize=65536)
def _region_score(wanted: str, offered: str, dataset_key: str) -> float:
    return _region_fit(
        wanted, FactorCandidate(offered, "", offered, 0.0, "", dataset_key=dataset_key)
    )[0]


def _quick_score(
    factor: FactorCandidate,
    want: Reading,
    unit_dimension: str | None,
    exact: str,
    region: str | None,
    year: int | None,
    upstream_wanted: bool,
    says_net: bool,
) -> float | None:
    """`_scored(...).score` without the reasons, from per-reading and per-region caches; the
    additions in the same order, so the floats are the same."""
    fit = dimension_fit(unit_dimension, factor.unit_dimension)
    if fit is None:
        return None
    offered = factor_reading(factor.name, factor.category)
    if unit_dimension != factor.unit_dimension and not _is_fuel(offered):
        return None
    score = _concept_score(want, offered, factor.unit_dimension == "money")
    if score is None:
        return None
    if exact in (normalise_text(factor.publisher_id), normalise_text(factor.name)):
        score += 200.0
    if fit[1]:
        score += fit[0]
    if region is not None:
        score += _region_score(region, factor.region, factor.dataset_key)
    if year is not None and factor.year is not None:
        score -= min(abs(year - factor.year), 5)
    if factor.year is not None:
        score += factor.year * 1e-4
    offered_upstream = _upstream_named(factor.name, factor.category)
    if offered_upstream != upstream_wanted:
        score -= UPSTREAM_PENALTY
    wanted_cv = "net" if says_net else "gross"
    if unit_dimension == "energy" and factor.cv_basis and factor.cv_basis != wanted_cv:
        score -= NET_CV_PENALTY
    if factor.scope == "outside":
        score -= 15.0
    if factor.flags:
        score -= 25.0
    if factor.source == "supplier":
        score += 1000.0
    return score


def _common(
    factor: FactorCandidate,
    fit: tuple[float, str],
    region: str | None,
    year: int | None,
    description: str,
    unit_dimension: str | None,
    says_net: bool,
    score: float,
) -> list[str]:
    """Reasons shared by both paths (dimension, region, year, upstream, CV, flags, supplier);
    the last element is the new score, as text."""
    reasons: list[str] = []
    if fit[1]:
        score += fit[0]
        reasons.append(fit[1])
    region_score, region_reason = _region_fit(region, factor)
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
        wanted = "net" if says_net else "gross"
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
    reasons.append(repr(score))
    return reasons


def _rank_by_text(
    *,
    description: str,
    candidates: Iterable[FactorCandidate],
    unit_dimension: str | None,
    region: str | None,
    year: int | None,
    limit: int,
) -> list[Candidate]:
    """A description that names no known concept (a factor's id, a supplier's own wording):
    fuzzy text against names and categories."""
    queries = _rewrites(description)
    query = queries[0].text
    says_net = _says_net(description)
    ranked: list[Candidate] = []
    for factor in candidates:
        fit = dimension_fit(unit_dimension, factor.unit_dimension)
        if fit is None:
            continue
        if query in (normalise_text(factor.publisher_id), normalise_text(factor.name)):
            text, why = 100.0, "exact key"
            bonus = 30.0
        else:
            text, why = _text_fit(queries, factor)
            bonus = 0.0
        if text < MIN_TEXT_SCORE:
            continue
        if is_upstream(factor) and not mentions_upstream(description):
            continue
        reasons = [
            why,
            *_common(
                factor, fit, region, year, description, unit_dimension, says_net, text + bonus
            ),
        ]
        score = float(reasons.pop())
        if factor.source == "supplier":
            reasons.insert(0, SUPPLIER_REASON)
        ranked.append(Candidate(factor=factor, score=score, reasons=tuple(reasons)))
    ranked.sort(key=lambda c: (-c.score, c.factor.name))
    return ranked[:limit]


def _says_net(description: str) -> bool:
    return re.search(r"\b(net|ncv|hi|heizwert|pci)\b", description.casefold()) is not None


def all_query_texts(description: str) -> Sequence[str]:
    """The description and its synonym rewrites, for the database pre-selection."""
    return [q.text for q in _rewrites(description)]
