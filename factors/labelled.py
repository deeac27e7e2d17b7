"""The labelled matching set (tests/data/matching): load it and judge a top-1 factor against it.

Pure (no database): the test and `benchmarks/matching.py` both use it. See the header of
`tests/data/matching/families.yml` for what an "expected factor family" is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from emissions.engine.units import unit_dimension
from factors.library_index import LibraryIndex, build_index
from factors.ranking import FUEL_DIMENSIONS, FactorCandidate

LABELLED_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "matching"
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl")


@dataclass(frozen=True)
class Family:
    key: str
    dataset: str
    name: re.Pattern[str]
    scope: str
    category: int | None
    same_region: bool


@dataclass(frozen=True)
class LabelledRow:
    lang: str
    split: str
    description: str
    unit: str
    country: str
    family: Family


@lru_cache(maxsize=1)
def families() -> dict[str, Family]:
    raw: dict[str, dict[str, Any]] = yaml.safe_load(
        (LABELLED_DIR / "families.yml").read_text(encoding="utf-8")
    )
    return {
        key: Family(
            key=key,
            dataset=str(spec["dataset"]),
            name=re.compile(str(spec["name"])),
            scope=str(spec["scope"]),
            category=spec.get("category"),
            same_region=spec.get("region") == "row",
        )
        for key, spec in raw.items()
    }


def labelled_rows() -> list[LabelledRow]:
    known = families()
    with (LABELLED_DIR / "labelled.csv").open(encoding="utf-8", newline="") as handle:
        return [
            LabelledRow(
                lang=r["lang"],
                split=r["split"],
                description=r["description"],
                unit=r["unit"],
                country=r["country"],
                family=known[r["family"]],
            )
            for r in csv.DictReader(handle)
        ]


def index_from_frames(frames: Iterable[tuple[str, pd.DataFrame]]) -> LibraryIndex:
    """A library index of datasets as read by their mappings (dataset key, frame), without a
    database: what the labelled-set test and the benchmark match against."""
    factors: list[FactorCandidate] = []
    texts: list[str] = []
    for key, frame in frames:
        for row in frame.to_dict("records"):
            cv = row.get("cv_basis") or ""
            cv = "" if cv != cv else str(cv)  # NaN
            name = str(row["name"])
            category3 = row.get("scope3_category")
            year = row.get("year")
            factors.append(
                FactorCandidate(
                    name=f"{name} ({cv} CV)" if cv and row["unit"] == "kWh" else name,
                    unit=str(row["unit"]),
                    region=str(row["region"]),
                    kg_co2e=float(row["kg_co2e"]),
                    unit_dimension=str(row["unit_dimension"]),
                    factor_id=len(factors) + 1,
                    dataset_key=key,
                    dataset_version=1,
                    publisher_id=str(row["publisher_id"]),
                    category=str(row.get("category") or ""),
                    scope=str(row["scope"]),
                    scope3_category=None
                    if category3 != category3 or category3 is None
                    else int(category3),
                    year=None if year != year or year is None else int(year),
                    flags=tuple(row.get("flags") or ()),
                    flag_reason=str(row.get("flag_reason") or ""),
                    cv_basis=cv,
                )
            )
            texts.append(str(row.get("search_text") or name))
    return build_index(factors, texts)


def verdict(row: LabelledRow, top: FactorCandidate | None) -> str:
    """'ok', or why the top-1 is wrong ('none', 'dimension', 'scope', 'category', 'family')."""
    if top is None:
        return "none"
    wanted = unit_dimension(row.unit)
    if top.unit_dimension != wanted and not (
        wanted in FUEL_DIMENSIONS and top.unit_dimension in FUEL_DIMENSIONS
    ):
        return "dimension"
    family = row.family
    if top.scope != family.scope:
        return "scope"
    if family.category is not None and top.scope3_category != family.category:
        return "category"
    if (
        top.dataset_key != family.dataset
        or not family.name.search(top.name)
        or (family.same_region and top.region.upper() != row.country.upper())
    ):
        return "family"
    return "ok"


@dataclass
class Score:
    total: int = 0
    right: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def score(
    rows: Iterable[LabelledRow],
    top_of: Callable[[LabelledRow], FactorCandidate | None],
) -> tuple[Score, dict[str, Score], list[tuple[LabelledRow, str, str]]]:
    """Overall and per-language top-1 accuracy, and the misses (row, verdict, top-1 name)."""
    overall, by_lang = Score(), {lang: Score() for lang in LANGUAGES}
    misses: list[tuple[LabelledRow, str, str]] = []
    for row in rows:
        top = top_of(row)
        outcome = verdict(row, top)
        for s in (overall, by_lang[row.lang]):
            s.total += 1
            s.right += outcome == "ok"
        if outcome != "ok":
            misses.append((row, outcome, f"{top.dataset_key}: {top.name}" if top else "-"))
    return overall, by_lang, misses
