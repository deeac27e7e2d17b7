"""Quality checks run on a dataset's normalised factor rows before anything is written.

Rows that cannot be used are skipped with a reason (unit that does not parse, negative or
non-finite factor, duplicate publisher id). Rows that can be used but deserve a warning are kept
and flagged: the reason is stored on the factor so the UI can show it (implausible for its kind,
unit of the wrong dimension, zero or outlier as the dataset's mapping says, per-gas split that does
not add up). Every check works on whole columns; units are resolved once per distinct unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from factors.ingest.units import UnitInfo, resolve_units

if TYPE_CHECKING:
    from factors.ingest.mapping import Mapping

ROW = "__row"
TABLE = "__table"


@dataclass(frozen=True)
class Plausible:
    """A plausible range of kg CO2e per canonical unit of `dimension` for one kind of factor."""

    dimension: str
    low: float
    high: float
    per: str


# Wide enough for every published factor of the kind, narrow enough to catch a unit slip
# (g read as kg, per MWh read as per kWh); blast furnace gas, the most carbon-rich fuel gas, is
# 0.94 kg CO2e/kWh (EPA Hub 2025 table 1). Grid electricity: the most carbon-intensive national
# grids are about 1.3 kg CO2e/kWh (Our World in Data 2000-2025 maximum 1.31).
PLAUSIBLE: dict[str, tuple[Plausible, ...]] = {
    "grid_electricity": (Plausible("energy", 0.0, 1.5, "kWh"),),
    "heat_steam": (Plausible("energy", 0.0, 1.0, "kWh"),),
    "fuel": (
        Plausible("energy", 0.0, 1.0, "kWh"),
        Plausible("mass", 0.0, 5.0, "kg"),
        Plausible("volume", 0.0, 5.0, "L"),
    ),
    "spend": (Plausible("money", 0.0, 10.0, "currency unit"),),
}
EXPECTED_DIMENSIONS: dict[str, frozenset[str]] = {
    kind: frozenset(p.dimension for p in ranges) for kind, ranges in PLAUSIBLE.items()
}
# A per-gas split may differ from the published total by the publisher's rounding.
SPLIT_RELATIVE_TOLERANCE = 0.005
SPLIT_ABSOLUTE_TOLERANCE = 1e-4


def _frame(reasons: pd.Series, rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"reason": reasons, ROW: rows["source_row"], TABLE: rows[TABLE]})


class _Flags:
    """Collects (row, code, reason) flags; applied to the frame at the end in one pass."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.records: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, code: str, reason: pd.Series | str) -> None:
        if not mask.any():
            return
        reasons = (
            reason[mask]
            if isinstance(reason, pd.Series)
            else pd.Series(reason, index=mask[mask].index)
        )
        rows = self.frame[mask]
        part = _frame(reasons.astype("string"), rows)
        part["code"] = code
        part["index"] = rows.index
        self.records.append(part)

    def result(self) -> pd.DataFrame:
        if not self.records:
            return pd.DataFrame(columns=["reason", ROW, TABLE, "code", "index"])
        return pd.concat(self.records, ignore_index=True)


def run_checks(
    frame: pd.DataFrame, mapping: Mapping
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check a dataset's rows: (kept rows with flags, skipped rows, flags), each with its reason."""
    frame = frame.reset_index(drop=True)
    skip = pd.Series(pd.NA, index=frame.index, dtype="string")

    def mark(mask: pd.Series, reason: pd.Series | str) -> None:
        fresh = mask & skip.isna()
        skip[fresh] = reason if isinstance(reason, str) else reason[fresh]

    value = frame["kg_co2e"].astype("float64")
    mark(~np.isfinite(value), "factor is not a finite number")
    mark(value < 0, "negative factor")

    units = resolve_units(frame["unit"].dropna().unique().tolist())
    errors = {u: info for u, info in units.items() if isinstance(info, str)}
    if errors:
        unit_error = frame["unit"].map(errors)
        mark(
            unit_error.notna(),
            "unit '" + frame["unit"] + "' does not parse: " + unit_error.fillna(""),
        )

    dup = frame["publisher_id"].duplicated(keep="first")
    mark(dup, "duplicate publisher id")
    if mapping.zero is not None and mapping.zero.action == "skip":
        mark(value == 0, mapping.zero.reason)
    if mapping.maximum is not None and mapping.maximum.action == "skip":
        mark(value > float(mapping.maximum.value or 0), mapping.maximum.reason)

    kept = frame[skip.isna()].copy()
    skipped = _frame(skip[skip.notna()], frame[skip.notna()])
    infos = {u: info for u, info in units.items() if isinstance(info, UnitInfo)}
    # Store the registry's own spelling of each unit ('litres' mapped to 'L', 'gallon' -> 'US_gallon').
    kept["unit"] = kept["unit"].map({u: i.stored for u, i in infos.items()}).astype("string")
    infos = {i.stored: i for i in infos.values()}
    kept["unit_dimension"] = (
        kept["unit"].map({u: i.dimension for u, i in infos.items()}).astype("string")
    )
    flags = _Flags(kept)
    ruled = _check_rules(kept, mapping, flags)
    _check_kind(kept, infos, flags, already=ruled)
    _check_split(kept, flags)
    found = flags.result()
    if len(found):
        by_row = found.groupby("index", sort=False)
        kept["flags"] = by_row["code"].agg(lambda s: sorted(set(s))).reindex(kept.index)
        kept["flag_reason"] = by_row["reason"].agg("; ".join).reindex(kept.index)
    else:
        kept["flags"] = None
        kept["flag_reason"] = pd.NA
    kept["flags"] = kept["flags"].map(lambda v: v if isinstance(v, list) else [])
    kept["flag_reason"] = kept["flag_reason"].astype("string").fillna("")
    return kept.reset_index(drop=True), skipped, found[["reason", ROW, TABLE]]


def _check_kind(
    kept: pd.DataFrame, infos: dict[str, UnitInfo], flags: _Flags, *, already: pd.Series
) -> None:
    """Dimension and plausible range by kind; rows a dataset rule already flagged keep that reason."""
    dimension = kept["unit"].map({u: i.dimension for u, i in infos.items()})
    scale = kept["unit"].map({u: i.per_canonical for u, i in infos.items()}).astype("float64")
    per_canonical = kept["kg_co2e"] / scale
    for kind, ranges in PLAUSIBLE.items():
        of_kind = kept["kind"] == kind
        if not of_kind.any():
            continue
        expected = EXPECTED_DIMENSIONS[kind]
        wrong = of_kind & dimension.notna() & ~dimension.isin(expected)
        flags.add(
            wrong,
            "dimension",
            "unit dimension '" + dimension.fillna("") + f"' unexpected for {kind.replace('_', ' ')}"
            f" (expected {', '.join(sorted(expected))})",
        )
        for rng in ranges:
            rows = of_kind & (dimension == rng.dimension)
            # Zero is left to the dataset's own zero rule (some residual mixes are zero).
            out = rows & ~already & ((per_canonical < rng.low) | (per_canonical > rng.high))
            flags.add(
                out,
                "implausible",
                f"outside the plausible range {rng.low:g}-{rng.high:g} kg CO2e per {rng.per} "
                f"for {kind.replace('_', ' ')}",
            )


def _check_rules(kept: pd.DataFrame, mapping: Mapping, flags: _Flags) -> pd.Series:
    """The dataset's own zero / maximum rules; returns the rows they flagged."""
    value = kept["kg_co2e"]
    ruled = pd.Series(False, index=kept.index)
    if mapping.zero is not None and mapping.zero.action == "flag":
        flags.add(value == 0, "zero", mapping.zero.reason)
        ruled |= value == 0
    if mapping.maximum is not None and mapping.maximum.action == "flag":
        over = value > float(mapping.maximum.value or 0)
        flags.add(over, "outlier", mapping.maximum.reason)
        ruled |= over
    return ruled


def _check_split(kept: pd.DataFrame, flags: _Flags) -> None:
    gases = kept[["co2", "ch4", "n2o", "other_ghg"]].astype("float64")
    has_split = gases.notna().any(axis=1)
    parts = gases.sum(axis=1, min_count=1)
    total = kept["kg_co2e"]
    tolerance = np.maximum(SPLIT_ABSOLUTE_TOLERANCE, SPLIT_RELATIVE_TOLERANCE * total.abs())
    off = has_split & ((parts - total).abs() > tolerance)
    flags.add(off, "gas_split", "per-gas values do not add up to the total")
