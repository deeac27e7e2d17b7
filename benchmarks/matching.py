"""Factor matching: accuracy on the labelled set, speed, and coverage of the pipeline's files.

    python benchmarks/matching.py            # needs no database: reads the shipped datasets

Prints top-1 accuracy overall, per language, on the held-out fifth and on the rows written after
tuning of tests/data/matching/labelled.csv (`fresh`, and `fresh2` = fresh_2.csv); the time, wall
and CPU, to match

- 10,000 distinct activities that each need their own ranking: ledger phrasing that combines a
  thing the library covers (fuel, material, trip, freight mode, waste, refrigerant, energy, in
  the vocabulary's words of seven languages) with up to two qualifiers (car size, haul, cabin,
  treatment, ship type, ...) and a use or context word, ERP noise, a unit of its kind and one of
  30 countries or eGRID subregions; no two share a reading, dimension and region (the ranking's
  cache key), and the number of distinct concept readings among them is printed;
- 10,000 noisy activities: the labelled descriptions with cost centres, sites and order numbers
  (distinct texts with few distinct meanings, as one import's activities often are);

each from a fresh state (the library index built, no description read or ranked yet); and whether
every distinct activity (and unit) of benchmarks/pipeline.py's generated files matches a factor.
The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATASETS = [
    "defra_2024",
    "epa_hub_2025",
    "owid_grid_2025",
    "aib_residual_mix_2021",
    "exiobase_2022",
    "useeio_v1_3",
]
DISTINCT = 10_000
# The pipeline generator's country column as ledgers write it -> ISO code.
COUNTRY_CODES = {"Deutschland": "DE"}
CURRENCY_UNITS = {"€": "EUR"}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")
    import django

    django.setup()


def _index():  # type: ignore[no-untyped-def]
    from factors.ingest.reader import read_dataset
    from factors.labelled import index_from_frames
    from factors.services import select_mappings

    return index_from_frames((m.key, read_dataset(m).frame) for m in select_mappings(DATASETS))


def accuracy(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from factors.labelled import labelled_rows, score
    from factors.matching import match_factors

    def top_of(row):  # type: ignore[no-untyped-def]
        found = match_factors(
            description=row.description, unit=row.unit, region=row.country, index=index, limit=1
        )
        return found[0].factor if found else None

    rows = labelled_rows()
    overall, by_lang, misses = score(rows, top_of)
    held, _, _ = score([r for r in rows if r.split == "holdout"], top_of)
    fresh, _, _ = score([r for r in rows if r.split == "fresh"], top_of)
    fresh2, _, _ = score([r for r in rows if r.split == "fresh2"], top_of)
    return {
        "rows": overall.total,
        "top1": round(overall.accuracy, 4),
        "by_language": {k: round(v.accuracy, 4) for k, v in by_lang.items()},
        "held_out_rows": held.total,
        "held_out_top1": round(held.accuracy, 4),
        "fresh_rows": fresh.total,
        "fresh_top1": round(fresh.accuracy, 4),
        "fresh2_rows": fresh2.total,
        "fresh2_top1": round(fresh2.accuracy, 4),
        "misses": [f"{r.lang} {r.description!r}: {why} <- {name}" for r, why, name in misses],
    }


# What a ledger line about each kind of thing may add to it: qualifier groups (at most one term of
# each, at most two), one use or context word, and the units its quantity comes in.
_KINDS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "fuel": (
        ["q.blend", "q.mineral", "q.marine"],
        ["use.mobile", "use.stationary", "use.heating", "ctx.fleet", "ctx.upstream"],
        ["L", "kg", "kWh", "t", "m3", "MWh"],
    ),
    "material": (
        ["q.material", "q.treat", "q.waste"],
        ["ctx.purchased", "ctx.material", "ctx.waste"],
        ["t", "kg"],
    ),
    "waste": (["q.treat", "q.waste"], ["ctx.waste"], ["t", "kg"]),
    "refrigerant": ([], ["ctx.refrigerant"], ["kg", "t"]),
    "electricity": (
        ["q.grid", "q.elec", "q.mix"],
        ["ctx.td", "ctx.upstream", "ctx.market", "ctx.ev_charging"],
        ["kWh", "MWh"],
    ),
    "heat": ([], ["ctx.purchased", "ctx.upstream"], ["kWh", "MWh"]),
    "water": ([], ["ctx.purchased"], ["m3", "L"]),
}
_TRAVEL: dict[str, tuple[list[str], list[str], list[str]]] = {
    "travel.flight": (
        ["q.haul", "q.class", "q.rf"],
        ["ctx.business_travel", "ctx.upstream"],
        ["passenger.km"],
    ),
    "travel.car": (
        ["q.size", "q.fuel", "q.segment"],
        ["ctx.business_travel", "ctx.fleet", "ctx.upstream"],
        ["km", "mi", "passenger.km"],
    ),
    "travel.taxi": (["q.size"], ["ctx.business_travel", "ctx.upstream"], ["km", "passenger.km"]),
    "travel.rail": (["q.rail"], ["ctx.business_travel", "ctx.upstream"], ["passenger.km"]),
    "travel.bus": ([], ["ctx.business_travel", "ctx.upstream"], ["passenger.km"]),
    "travel.coach": ([], ["ctx.business_travel", "ctx.upstream"], ["passenger.km"]),
    "travel.tram": ([], ["ctx.business_travel", "ctx.upstream"], ["passenger.km"]),
    "travel.ferry": ([], ["ctx.business_travel", "ctx.upstream"], ["passenger.km"]),
    "travel.motorbike": (["q.size"], ["ctx.business_travel", "ctx.fleet"], ["km", "mi"]),
    "travel.hotel": ([], ["ctx.business_travel"], ["room_night"]),
    "travel.van": (
        ["q.size", "q.laden", "q.fuel"],
        ["ctx.fleet", "ctx.freight", "ctx.upstream"],
        ["km", "mi"],
    ),
    "travel.hgv": (
        ["q.size", "q.laden"],
        ["ctx.fleet", "ctx.freight", "ctx.upstream"],
        ["km", "tonne.km"],
    ),
    "freight.sea": (["q.ship"], ["ctx.freight", "ctx.upstream"], ["tonne.km"]),
    "freight.air": (["q.haul"], ["ctx.freight", "ctx.upstream"], ["tonne.km"]),
}
_COUNTRIES = [
    "GB", "US", "DE", "FR", "ES", "IT", "NL", "PL", "IE", "AT", "BE", "CH", "SE", "DK", "CZ",
    "PT", "FI", "NO", "HU", "RO", "JP", "CN", "IN", "BR", "CA", "AU", "MX", "ZA", "CAMX", "ERCT",
]  # fmt: skip
_NOISE = [
    "KSt {n}",
    "Werk {s}",
    "PO-{n}7",
    "{m:02d}/2024",
    "Kst. {n} {s}",
    "CC{n}",
    "inv {n}3",
    "",
]
_SITES = ["Nord", "Plant 2", "HQ", "Lager Ost", "Lyon", "Magazzino 3", "Zakład B", "Depot 7"]


def _terms() -> dict[str, dict[str, list[str]]]:
    """concept -> language -> its terms, as the vocabulary files list them."""
    import yaml

    from factors.concepts import VOCABULARY_DIR

    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(VOCABULARY_DIR.glob("*.yml")):
        for cid, raw in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            out[str(cid)] = {
                lang: [str(t).lstrip("=") for t in group["terms"]]
                for lang, group in (raw.get("words") or {}).items()
            }
    return out


def _distinct_activities(n: int) -> list[tuple[str, str, str]]:
    """n activities that each need their own ranking: ledger phrasing combining a thing the
    library covers (fuel, material, trip, freight mode, waste, refrigerant, energy) with up to
    two qualifiers (size, haul, class, treatment, ...) and a use or context word, in one of
    seven languages, with ERP noise, a unit of its kind and a country. No two share a reading,
    dimension and region (the ranking's cache key), so no ranking is reused among them."""
    import itertools
    import random

    from emissions.engine.units import unit_dimension
    from factors.concepts import read, vocabulary

    vocab, terms, rng = vocabulary(), _terms(), random.Random(8)
    langs = ["en", "de", "fr", "es", "it", "nl", "pl"]

    def words(cid: str, lang: str) -> list[str]:
        found = terms.get(cid, {})
        return found.get(lang) or found.get("en") or next(iter(found.values()), [])

    by_group: dict[str, list[str]] = {}
    for c in vocab.concepts.values():
        if c.role == "qualifier":
            by_group.setdefault(c.group, []).append(c.id)
    # One shuffled list of (concepts, units) per kind of thing; the kinds take turns.
    pools: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}
    for head in sorted(c.id for c in vocab.concepts.values() if c.role == "head"):
        kind = vocab.concepts[head].kind
        spec = _TRAVEL.get(head) or _KINDS.get(kind)
        if spec is None:
            continue
        groups, contexts, units = spec
        singles = [[(q,) for q in sorted(by_group.get(g, []))] for g in groups]
        options: list[tuple[str, ...]] = [(), *(o for s in singles for o in s)]
        for left, right in itertools.combinations(singles, 2):
            options += [a + b for a, b in itertools.product(left, right)]
        pool = pools.setdefault("travel" if head in _TRAVEL else kind, [])
        pool += [
            ((head, *qs, *([ctx] if ctx else [])), units)
            for qs in options
            for ctx in [None, *contexts]
        ]
    for pool in pools.values():
        rng.shuffle(pool)
    turns = itertools.cycle(sorted(pools))
    position = dict.fromkeys(pools, 0)
    out: list[tuple[str, str, str]] = []
    seen: set[object] = set()
    for k in range(40 * n):
        if len(out) >= n:
            break
        kind = next(turns)
        combo, units = pools[kind][position[kind] % len(pools[kind])]
        position[kind] += 1
        lang = langs[k % len(langs)]
        parts = [rng.choice(words(cid, lang) or [cid]) for cid in combo]
        rest = parts[1:]
        rng.shuffle(rest)
        unit, country = rng.choice(units), rng.choice(_COUNTRIES)
        noise = rng.choice(_NOISE).format(
            n=rng.randrange(1000, 9999), s=rng.choice(_SITES), m=rng.randrange(1, 13)
        )
        text = " ".join(p for p in [parts[0].capitalize(), *rest, noise] if p)
        reading = read(text)
        key = (reading.key, unit_dimension(unit), country)
        if not reading.heads or key in seen or text in seen:
            continue
        seen.update((key, text))
        out.append((text, unit, country))
    return out


def _noisy_activities(n: int) -> list[tuple[str, str, str]]:
    """n distinct descriptions from the labelled stems with cost centres, sites and order
    numbers: distinct texts, few distinct meanings (as one import's activities often are)."""
    from factors.labelled import labelled_rows

    stems = labelled_rows()
    sites = ["Werk Nord", "Plant 2", "HQ", "Lager Ost", "Site Lyon", "Magazzino 3", "Zakład B"]
    out: list[tuple[str, str, str]] = []
    k = 0
    while len(out) < n:
        row = stems[k % len(stems)]
        variant = k // len(stems)
        noise = f"KSt {4100 + variant % 97} {sites[variant % len(sites)]} PO-{47110 + k}"
        out.append((f"{row.description} {noise}", row.unit, row.country))
        k += 1
    return out


def _forget_descriptions(index) -> None:  # type: ignore[no-untyped-def]
    """Start from a freshly built index: no description read or ranked yet (the factors' own
    readings belong to the index and stay)."""
    from factors import concepts, ranking

    index.ranked.clear()
    for cached in (
        concepts.read,
        concepts.split_compound,
        concepts._fold_word,
        concepts._resolve_ids,
        ranking._wanted_of,
        ranking._concept_fit_of,
        ranking.mentions_upstream,
        ranking.normalise_text,
        ranking._region_score,
    ):
        cached.cache_clear()  # type: ignore[attr-defined]


def _timed(index, activities: list[tuple[str, str, str]]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from emissions.engine.units import unit_dimension
    from factors.concepts import read
    from factors.matching import match_factors

    assert len(set(activities)) == len(activities)
    _forget_descriptions(index)
    start, cpu = time.perf_counter(), time.process_time()
    unmatched = 0
    for description, unit, country in activities:
        found = match_factors(description=description, unit=unit, region=country, index=index)
        unmatched += not found
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    readings = {read(a).key for a, _, _ in activities}
    keys = {(read(a).key, unit_dimension(u), c) for a, u, c in activities}
    return {
        "activities": len(activities),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "distinct_readings": len(readings),
        "distinct_rankings": len(keys),
        "ms_per_activity": round(seconds / len(activities) * 1000, 3),
        "unmatched": unmatched,
    }


def speed(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Matching 10,000 activities that each need their own ranking, then 10,000 noisy ones."""
    distinct = _timed(index, _distinct_activities(DISTINCT))
    noisy = _timed(index, _noisy_activities(DISTINCT))
    return {"target_seconds": 5.0, "distinct": distinct, "noisy": noisy}


def pipeline_coverage(index) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every distinct activity and unit of the pipeline benchmark's files matches a factor."""
    import importlib.util

    from emissions.engine.units import unit_dimension
    from factors.matching import match_factors

    spec = importlib.util.spec_from_file_location(
        "pipeline_benchmark", ROOT / "benchmarks" / "pipeline.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    currencies = sorted({CURRENCY_UNITS.get(c, c) for c in bench.CURRENCIES})
    countries = sorted({COUNTRY_CODES.get(c, c) for c in bench.COUNTRIES})
    checked, missing, spend = 0, [], 0
    for text, units in bench._activity_texts():
        for unit in [*units, *currencies]:
            if unit_dimension(unit) is None:
                continue
            for country in countries:
                checked += 1
                spend += unit in currencies
                if not match_factors(description=text, unit=unit, region=country, index=index):
                    missing.append(f"{text} [{unit}, {country}]")
    return {
        "checked": checked,
        "of_which_spend": spend,
        "unmatched": len(missing),
        "examples": missing[:10],
    }


def main() -> None:
    _setup()
    t = time.perf_counter()
    index = _index()
    print(f"library read and indexed in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    acc = accuracy(index)
    print(f"top-1 accuracy: {acc['top1']:.1%} of {acc['rows']}", file=sys.stderr)
    for lang, value in acc["by_language"].items():  # type: ignore[attr-defined]
        print(f"  {lang}: {value:.1%}", file=sys.stderr)
    print(
        f"held-out: {acc['held_out_top1']:.1%} of {acc['held_out_rows']}; "
        f"written after tuning: {acc['fresh_top1']:.1%} of {acc['fresh_rows']}, "
        f"{acc['fresh2_top1']:.1%} of {acc['fresh2_rows']} (fresh_2.csv, after its vocabulary fixes)",
        file=sys.stderr,
    )
    fast = speed(index)
    for label in ("distinct", "noisy"):
        run = fast[label]  # type: ignore[index]
        print(
            f"{run['activities']} {label} activities matched in {run['seconds']} s wall, "
            f"{run['cpu_seconds']} s CPU ({run['distinct_readings']} distinct readings, "
            f"{run['distinct_rankings']} distinct (reading, dimension, region); "
            f"{run['unmatched']} unmatched)",
            file=sys.stderr,
        )
    coverage = pipeline_coverage(index)
    print(
        f"pipeline benchmark activities: {coverage['checked']} checked, "
        f"{coverage['unmatched']} unmatched",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "benchmark": "factors.matching",
                "accuracy": acc,
                "speed": fast,
                "pipeline_coverage": coverage,
            }
        )
    )


if __name__ == "__main__":
    main()
