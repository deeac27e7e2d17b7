"""Default uncertainties (data/uncertainty/defaults.yml), applied when the Monte Carlo reads the
inventory rather than written onto the factors: ingestion stays idempotent (a factor row and the
dataset checksum never depend on this file) and a corrected default applies at the next run
without re-ingesting a dataset.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from django.conf import settings

from emissions.models import DataQuality

DEFAULTS_PATH = Path(settings.BASE_DIR) / "data" / "uncertainty" / "defaults.yml"
_Z_97_5 = 1.959963984540054


def gsd_from_ci95(ci95_pct: float) -> float:
    """The geometric standard deviation of a lognormal whose 97.5th percentile is
    (1 + ci95_pct/100) times its median."""
    return math.exp(math.log1p(ci95_pct / 100.0) / _Z_97_5)


@functools.cache
def uncertainty_defaults() -> dict[str, Any]:
    """The parsed defaults file (read once per process)."""
    with DEFAULTS_PATH.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def _gsd(entry: dict[str, Any]) -> float:
    return gsd_from_ci95(float(entry["ci95_pct"]))


def library_factor_default(*, family: str, kind: str, basis: str) -> dict[str, Any]:
    """The defaults entry for a library factor ({ci95_pct, basis, source, gsd, applies})."""
    d = uncertainty_defaults()
    for section, key in (
        ("factor_families", family),
        ("factor_kinds", kind),
        ("factor_bases", basis),
    ):
        entry = d.get(section, {}).get(key)
        if entry:
            return {**entry, "gsd": _gsd(entry), "applies": f"{section}.{key}"}
    entry = d["factor_fallback"]
    return {**entry, "gsd": _gsd(entry), "applies": "factor_fallback"}


def supplier_factor_gsd(stated: float | None) -> float:
    """A supplier factor's own GSD if it states one, else the documented default."""
    if stated is not None and stated >= 1:
        return float(stated)
    return _gsd(uncertainty_defaults()["supplier_factor"])


def record_tier_gsd() -> dict[str, float]:
    """GSD of a record's activity figure by data-quality tier."""
    tiers = uncertainty_defaults()["record_tiers"]
    return {tier: _gsd(tiers[tier]) for tier in DataQuality.values}


def record_data_quality(tiers: np.ndarray, given: Any = None) -> np.ndarray:
    """Each record's data-quality tier: spend-based when computed with a money factor (engine tier
    'spend'), else the tier the import gives (a column or a constant; unknown values fall back),
    else the documented default (``record_default_tier``)."""
    default = str(uncertainty_defaults()["record_default_tier"])
    n = len(tiers)
    out = np.full(n, default, dtype=object)
    if given is not None:
        values = np.asarray(given, dtype=object)
        values = np.broadcast_to(values, (n,)) if values.ndim == 0 else values
        normalised = np.array(
            [str(v).strip().lower().replace("-", "_").replace(" ", "_") for v in values],
            dtype=object,
        )
        known = np.isin(normalised, DataQuality.values)
        out[known] = normalised[known]
    out[np.asarray(tiers, dtype=object) == "spend"] = DataQuality.SPEND_BASED.value
    return out
