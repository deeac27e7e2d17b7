"""Read an activity description, or a library factor's name, as library concepts (pure: no database).

The vocabulary lives in `data/vocabulary/*.yml` (see its README): words in seven languages ->
concepts such as `fuel.diesel`, `travel.flight`, `q.haul.short` (a qualifier) or `use.mobile` (a
context). `read` lower-cases and folds accents, joins refrigerant designations ("R-410A"), matches
the longest known phrase first, splits German and Dutch compounds that are no term themselves
("Dienstwagenbenzin" -> dienstwagen + benzin) and ignores everything else: cost-centre and
reference numbers, dates, site and supplier names.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

VOCABULARY_DIR = Path(__file__).resolve().parents[1] / "data" / "vocabulary"
ROLES = frozenset({"head", "qualifier", "context", "noise"})
# Languages whose compounds are written as one word: their terms may be parts of a longer word.
COMPOUND_LANGUAGES = frozenset({"de", "nl", "en"})
MIN_PART = 3
_TOKEN = re.compile(r"[a-z0-9]+")
_RAW_TOKEN = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[^\W_]+")
# "R-410A", "R 410A", "HFC-134a" -> "r410a", "hfc134a" (ISO 817 designations written many ways).
_REFRIGERANT = re.compile(r"\b(r|hfc|hcfc|hfo)[\s-]?(\d{2,4}[a-z]{0,2})\b")
_FOLD = str.maketrans({"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "\u2019": "'"})
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
# Inflection endings tried when a word is no term itself ("Fahrzeugen" -> "fahrzeug").
_ENDINGS = ("en", "es", "s", "n", "e")


class VocabularyError(ValueError):
    """A vocabulary file that does not follow the format of data/vocabulary/README.md."""


@dataclass(frozen=True)
class Concept:
    id: str
    role: str
    kind: str = ""
    use: str = ""
    also: tuple[str, ...] = ()
    by_use: tuple[tuple[str, str], ...] = ()
    weak: bool = False
    resolves_to: str = ""
    default: bool = False
    label: str = ""

    @property
    def group(self) -> str:
        """Qualifiers of one group exclude each other (`q.haul.short` vs `q.haul.long`)."""
        return self.id.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Vocabulary:
    concepts: dict[str, Concept]
    phrases: dict[tuple[str, ...], frozenset[str]]
    exact: dict[str, frozenset[str]]
    parts: dict[str, frozenset[str]]
    max_phrase: int


@dataclass(frozen=True)
class Reading:
    """What a text names: heads (things), qualifiers (variants), contexts (use), and the terms."""

    heads: frozenset[str] = frozenset()
    qualifiers: frozenset[str] = frozenset()
    contexts: frozenset[str] = frozenset()
    terms: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    text: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        return self.heads, self.qualifiers, self.contexts

    def __hash__(self) -> int:
        # Readings key the ranking's caches: hash the three sets once, not at every look-up.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.heads, self.qualifiers, self.contexts))
            object.__setattr__(self, "_hash", cached)
        return cached


def fold(text: str) -> str:
    """Lower case, accents removed ("Électricité" -> "electricite", "Olej napędowy" -> "olej napedowy")."""
    lowered = text.lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    lowered = _REFRIGERANT.sub(r"\1\2", text.lower())
    return [t for word in _WORD.findall(lowered) for t in _fold_word(word)]


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(word)))


def _variants(term: str) -> set[str]:
    """The folded spellings of a term (German umlauts also as ae/oe/ue)."""
    return {term, term.lower().translate(_UMLAUTS)}


def _entry(concept_id: str, raw: dict[str, Any], path: Path) -> Concept:
    role = raw.get("role")
    if role not in ROLES:
        raise VocabularyError(f"{path.name}: {concept_id}: role must be one of {sorted(ROLES)}")
    words = raw.get("words") or {}
    label = ""
    for lang, group in words.items():
        if not isinstance(group, dict) or not group.get("source") or not group.get("terms"):
            raise VocabularyError(f"{path.name}: {concept_id}.{lang}: needs a source and terms")
        if lang == "en" and not label:
            label = str(group["terms"][0])
    return Concept(
        id=concept_id,
        role=role,
        kind=str(raw.get("kind", "")),
        use=str(raw.get("use", "")),
        also=tuple(raw.get("also", ())),
        by_use=tuple((str(k), str(v)) for k, v in (raw.get("by_use") or {}).items()),
        weak=bool(raw.get("weak", False)),
        resolves_to=str(raw.get("resolves_to", "")),
        default=bool(raw.get("default", False)),
        label=label or concept_id.rsplit(".", 1)[-1],
    )


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=4)
def vocabulary(directory: Path = VOCABULARY_DIR) -> Vocabulary:
    """All vocabulary files, loaded once per process."""
    concepts: dict[str, Concept] = {}
    phrases: defaultdict[tuple[str, ...], set[str]] = defaultdict(set)
    exact: defaultdict[str, set[str]] = defaultdict(set)
    parts: defaultdict[str, set[str]] = defaultdict(set)
    for path in sorted(directory.glob("*.yml")):
        # libyaml's safe loader where installed: the same documents, parsed ~10x faster.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or {}  # noqa: S506 (a safe loader)
        for concept_id, raw in data.items():
            if concept_id in concepts:
                raise VocabularyError(f"{path.name}: {concept_id} is defined twice")
            concept = _entry(str(concept_id), raw, path)
            concepts[concept.id] = concept
            for lang, group in (raw.get("words") or {}).items():
                for term in group["terms"]:
                    text = str(term)
                    if text.startswith("="):
                        exact[text[1:]].add(concept.id)
                        continue
                    for variant in _variants(text):
                        key = tuple(_tokens(variant))
                        if not key:
                            continue
                        phrases[key].add(concept.id)
                        if (
                            lang in COMPOUND_LANGUAGES
                            and len(key) == 1
                            and len(key[0]) >= MIN_PART
                            and key[0].isalpha()
                        ):
                            parts[key[0]].add(concept.id)
    for concept in concepts.values():
        for other in (*concept.also, concept.resolves_to, *(v for _, v in concept.by_use)):
            if other and other not in concepts:
                raise VocabularyError(f"{concept.id}: refers to unknown concept {other}")
    return Vocabulary(
        concepts=concepts,
        phrases={k: frozenset(v) for k, v in phrases.items()},
        exact={k: frozenset(v) for k, v in exact.items()},
        parts={k: frozenset(v) for k, v in parts.items()},
        max_phrase=max((len(k) for k in phrases), default=1),
    )


@lru_cache(maxsize=65536)
def split_compound(word: str) -> tuple[str, ...]:
    """The known parts of a compound word, or () if it has none worth trusting.

    An unknown head ("Gewerbe|abfall") or tail ("Stahl|blech") is allowed, and a linking "s"
    between parts ("Elektriciteit|s|verbruik"); the parts must cover at least half the word.
    """
    parts = vocabulary().parts
    n = len(word)
    best: tuple[int, tuple[str, ...]] = (0, ())
    for start in range(n - MIN_PART + 1):
        if start and best[0] >= n - start:
            break
        pos, found = start, list[str]()
        while pos < n:
            match = next(
                (
                    word[pos:end]
                    for end in range(n, pos + MIN_PART - 1, -1)
                    if word[pos:end] in parts
                ),
                None,
            )
            if match is None and found and word[pos] == "s":
                pos += 1
                continue
            if match is None:
                break
            found.append(match)
            pos += len(match)
        covered = sum(len(p) for p in found)
        if covered > best[0]:
            best = (covered, tuple(found))
    covered, parts_found = best
    if not parts_found or covered * 2 < n or max(len(p) for p in parts_found) < 4:
        return ()
    return parts_found


def _lookup(vocab: Vocabulary, word: str) -> tuple[str, frozenset[str]] | None:
    """A single word that is no term as written: an inflection, or a compound of terms."""
    if len(word) >= 5 and word.isalpha():
        for ending in _ENDINGS:
            stem = word[: -len(ending)]
            if word.endswith(ending) and len(stem) >= 4 and (stem,) in vocab.phrases:
                return stem, vocab.phrases[(stem,)]
    if len(word) >= 6 and word.isalpha():
        found = split_compound(word)
        if found:
            return "+".join(found), frozenset().union(*(vocab.parts[p] for p in found))
    return None


@lru_cache(maxsize=131072)
def read(text: str, *, as_factor: bool = False) -> Reading:
    """The concepts a description (or, `as_factor`, a factor's name and category) names.

    A weak head alone ("waste") stands for its `resolves_to` in a description; in a factor's
    name it is only the heading of something the vocabulary does not know. Publishers' names
    are English and split no compounds ("Biopropane" is not propane)."""
    vocab = vocabulary()
    concepts: dict[str, None] = {}
    terms: list[tuple[str, str]] = []
    kept: list[str] = []
    for raw in _RAW_TOKEN.findall(text):
        for cid in vocab.exact.get(raw, ()):
            concepts.setdefault(cid, None)
            terms.append((raw, cid))
    tokens = _tokens(text)
    i = 0
    while i < len(tokens):
        hit = None
        for size in range(min(vocab.max_phrase, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + size])
            if key in vocab.phrases:
                hit = (" ".join(key), vocab.phrases[key], size)
                break
        if hit is None and not as_factor:
            found = _lookup(vocab, tokens[i])
            if found is not None:
                hit = (found[0], found[1], 1)
        if hit is None:
            if tokens[i].isalpha() and len(tokens[i]) > 1:
                kept.append(tokens[i])
            i += 1
            continue
        phrase, ids, size = hit
        if size > 1 and not any(vocab.concepts[c].role == "head" for c in ids):
            # "employee own car" is a business-travel phrase that still names a car.
            ids = ids | _travel_heads(vocab, tuple(tokens[i : i + size]))
        if not all(vocab.concepts[c].role == "noise" for c in ids):
            kept.append(phrase)
        for cid in sorted(ids):
            if vocab.concepts[cid].role != "noise":
                concepts.setdefault(cid, None)
                terms.append((phrase, cid))
        i += size
    return _resolve(vocab, list(concepts), tuple(terms), " ".join(kept), not as_factor)


def _travel_heads(vocab: Vocabulary, phrase: tuple[str, ...]) -> frozenset[str]:
    """The vehicles and trips named inside a context or qualifier phrase. Only these: a material
    or a fuel inside such a phrase is incidental ("carta carburante", "battery electric vehicle",
    "LNG tanker")."""
    found: set[str] = set()
    for size in range(len(phrase) - 1, 0, -1):
        for start in range(len(phrase) - size + 1):
            for cid in vocab.phrases.get(phrase[start : start + size], ()):
                entry = vocab.concepts[cid]
                if entry.role == "head" and entry.kind == "travel":
                    found.add(cid)
    return frozenset(found)


def _resolve(
    vocab: Vocabulary,
    ids: list[str],
    terms: tuple[tuple[str, str], ...],
    text: str,
    resolve_weak: bool,
) -> Reading:
    heads, qualifiers, contexts = _resolve_ids(frozenset(ids), resolve_weak)
    return Reading(heads=heads, qualifiers=qualifiers, contexts=contexts, terms=terms, text=text)


@lru_cache(maxsize=65536)
def _resolve_ids(
    ids: frozenset[str], resolve_weak: bool
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    vocab = vocabulary()
    by_role: dict[str, list[Concept]] = defaultdict(list)
    for cid in ids:
        concept = vocab.concepts[cid]
        by_role[concept.role].append(concept)
    contexts = frozenset(c.id for c in by_role["context"])
    heads = by_role["head"]
    strong = [c for c in heads if not c.weak]
    if strong or not resolve_weak:
        chosen = {c.id for c in strong}
    else:
        chosen = {c.resolves_to or c.id for c in heads}
    resolved: set[str] = set()
    for cid in chosen:
        concept = vocab.concepts[cid]
        replacement = dict(concept.by_use).get("stationary_heating")
        resolved.add(replacement if replacement and "use.heating" in contexts else cid)
    return (
        frozenset(resolved),
        frozenset(c.id for c in by_role["qualifier"]),
        contexts,
    )


def related(heads: frozenset[str]) -> frozenset[str]:
    """Concepts a factor may name instead of these heads (their `also`)."""
    concepts = vocabulary().concepts
    return frozenset(a for h in heads for a in concepts[h].also)


def concept(concept_id: str) -> Concept:
    return vocabulary().concepts[concept_id]
