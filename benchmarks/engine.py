"""Benchmark of the calculation engine.

1. ``calculate`` over 1,000,000 activity records and 2,000 distinct factors (fuels by volume,
   mass and energy with DEFRA fuel properties, EPA-style per-gas factors, freight and passenger
   distance, electricity with residual mixes, USD/EUR spend in five currencies with ECB rates and
   deflation), against the naive way measured in the same process on a random sample and
   extrapolated: a per-row loop converting each record with pint's ``Quantity(...).to(...)``
   (and currencyconverter per row for spend) and multiplying. The naive results are checked
   against the engine's on the sample.
2. ``monte_carlo``: 10,000 iterations over 100,000 records and 2,000 factors, with factor and
   record-level uncertainty; wall time and peak traced memory.

Targets (issue 3): calculate <= 1 s and >= 100x the naive loop; Monte Carlo <= 10 s and
<= 2 GB. Run: ``python benchmarks/engine.py [--records N] [--sample N]``. The last line printed
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from currency_converter import CurrencyConverter

from emissions.engine import fx, units
from emissions.engine.calculate import calculate, summarise
from emissions.engine.fuels import fuel_property
from emissions.engine.gwp import GWP_SETS
from emissions.engine.uncertainty import analytic_estimate, monte_carlo

LIQUIDS = [
    "Diesel (average biofuel blend)",
    "Petrol (average biofuel blend)",
    "Gas Oil",
    "Fuel Oil",
    "Burning Oil",
    "LPG",
    "Aviation Turbine Fuel",
    "Propane",
    "Butane",
    "Naphtha",
]
GASES = ["Natural Gas", "CNG", "LNG", "Biomethane", "Biogas"]
N_FACTORS = 2000


def make_factors(rng: np.random.Generator) -> tuple[pd.DataFrame, list[list[str]]]:
    """2,000 factors and, for each, the activity units a sheet may report against it."""
    rows: list[dict[str, Any]] = []
    compatible: list[list[str]] = []

    def add(row: dict[str, Any], activity_units: list[str]) -> None:
        row["factor_key"] = f"f{len(rows):04d}"
        rows.append(row)
        compatible.append(activity_units)

    fuel_units = {
        "litres": [
            "litres",
            "L",
            "m3",
            "US gallon",
            "kg",
            "tonnes",
            "kWh (Gross CV)",
            "kWh (Net CV)",
        ],
        "tonnes": ["tonnes", "kg", "litres", "short ton", "GJ (Net CV)", "kWh (Gross CV)"],
        "kWh (Gross CV)": [
            "kWh (Gross CV)",
            "MWh (Gross CV)",
            "kWh (Net CV)",
            "litres",
            "kg",
            "GJ (Gross CV)",
        ],
        "kWh (Net CV)": ["kWh (Net CV)", "kWh (Gross CV)", "tonnes", "MJ (Net CV)"],
        "cubic metres": ["cubic metres", "m3", "kWh (Gross CV)", "kg", "scf"],
    }
    while len(rows) < 600:
        unit = rng.choice(list(fuel_units))
        fuel = rng.choice(GASES if unit == "cubic metres" else LIQUIDS + GASES[:1])
        if unit == "cubic metres" or fuel in GASES:
            unit = rng.choice(["cubic metres", "kWh (Gross CV)", "kWh (Net CV)", "tonnes"])
        co2 = rng.uniform(0.1, 3.0)
        add(
            {
                "unit": unit,
                "fuel": fuel,
                "co2_kg_co2e": co2,
                "ch4_kg_co2e": co2 * 1e-4,
                "n2o_kg_co2e": co2 * 0.013,
                "kg_co2e": co2 * 1.0131,
                "gwp_basis": "AR5",
                "scope": 1,
                "uncertainty_gsd": rng.choice([1.02, 1.05, 1.1]),
            },
            fuel_units[unit],
        )
    epa_units = {
        "gallon": ["gallon", "US gallon", "L", "UK gallon"],
        "scf": ["scf", "Mcf", "m3"],
        "short ton": ["short ton", "tonnes", "kg", "lb"],
        "mmBtu": ["mmBtu", "kWh", "GJ", "therm (UK)"],
    }
    while len(rows) < 900:
        unit = str(rng.choice(list(epa_units)))
        add(
            {
                "unit": unit,
                "co2_kg": rng.uniform(1, 100),
                "ch4_g": rng.uniform(0.01, 3),
                "n2o_g": rng.uniform(0.01, 1),
                "cv_basis": "gross" if unit == "mmBtu" else None,
                "scope": 1,
                "dq_reliability": rng.integers(1, 6),
                "dq_temporal": rng.integers(1, 6),
                "dq_technological": rng.integers(1, 6),
            },
            epa_units[unit],
        )
    travel_units = {
        "tonne.km": ["tonne.km", "tkm", "short ton-mile"],
        "passenger.km": ["passenger.km", "pkm", "passenger-mile"],
        "vehicle-mile": ["vehicle-mile", "vehicle-km"],
        "km": ["km", "miles"],
        "short ton-mile": ["ton-mile", "tkm"],
    }
    while len(rows) < 1200:
        unit = str(rng.choice(list(travel_units)))
        add(
            {
                "unit": unit,
                "kg_co2e": rng.uniform(0.01, 0.5),
                "scope": 3,
                "category": int(rng.choice([4, 6, 7, 9])),
                "uncertainty_distribution": "triangular",
                "uncertainty_low": 0.0,
                "uncertainty_high": 1.0,
            },
            travel_units[unit],
        )
        rows[-1]["uncertainty_low"] = rows[-1]["kg_co2e"] * 0.8
        rows[-1]["uncertainty_high"] = rows[-1]["kg_co2e"] * 1.3
    while len(rows) < 1500:
        residual = len(rows) % 2 == 0
        add(
            {
                "unit": "MWh",
                "co2_lb": rng.uniform(200, 1600),
                "ch4_lb": 0.05,
                "n2o_lb": 0.008,
                "scope": 2,
                "residual_mix_key": f"f{len(rows) + 1:04d}" if residual else None,
                "uncertainty_distribution": "normal",
                "uncertainty_sd": 0.0,
            },
            ["kWh", "MWh", "GJ"],
        )
        rows[-1]["uncertainty_sd"] = rows[-1]["co2_lb"] * 0.05 * 0.45359237
        if residual:
            add(
                {
                    "unit": "kWh",
                    "kg_co2e": rng.uniform(0.2, 0.7),
                    "scope": 2,
                    "basis": "residual_mix",
                },
                ["kWh", "MWh"],
            )
    while len(rows) < 1800:
        usd = rng.random() < 0.5
        add(
            {
                "unit": "kg CO2e/2022 USD, purchaser price" if usd else "EUR",
                "price_year": None if usd else 2022,
                "kg_co2e": rng.uniform(0.05, 2.0),
                "scope": 3,
                "category": int(rng.choice([1, 2, 5, 8])),
                "basis": "spend",
                "uncertainty_distribution": "uniform",
                "uncertainty_low": 0.0,
                "uncertainty_high": 0.0,
            },
            ["EUR", "GBP", "USD", "SEK", "kEUR"],
        )
        rows[-1]["uncertainty_low"] = rows[-1]["kg_co2e"] * 0.5
        rows[-1]["uncertainty_high"] = rows[-1]["kg_co2e"] * 1.5
    other_units = {
        "tonnes": ["tonnes", "kg", "short ton"],
        "Room per night": ["room nights"],
        "per FTE Working Hour": ["FTE hours", "hours"],
        "million litres": ["million litres", "m3"],
    }
    while len(rows) < N_FACTORS:
        unit = str(rng.choice(list(other_units)))
        add(
            {
                "unit": unit,
                "kg_co2e": rng.uniform(0.1, 500),
                "scope": 3,
                "category": int(rng.choice([1, 5, 6, 7])),
                "uncertainty_gsd": 1.5,
            },
            other_units[unit],
        )
    return pd.DataFrame(rows), compatible


def make_activities(
    rng: np.random.Generator, factors: pd.DataFrame, compatible: list[list[str]], n: int
) -> pd.DataFrame:
    fidx = rng.integers(0, len(factors), n)
    # One unit per row, drawn from the factor's compatible units.
    choice = rng.random(n)
    lengths = np.array([len(c) for c in compatible])
    pick = (choice * lengths[fidx]).astype(np.int64)
    flat = np.array([u for c in compatible for u in c], dtype=object)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    unit = flat[offsets[fidx] + pick]
    days = rng.integers(0, 730, n)
    return pd.DataFrame(
        {
            "quantity": np.round(rng.lognormal(5, 1.5, n), 3),
            "unit": pd.array(unit, dtype="str"),
            "factor_key": pd.array(factors["factor_key"].to_numpy()[fidx], dtype="str"),
            "date": np.datetime64("2023-01-01") + days.astype("timedelta64[D]"),
        }
    )


def naive(sample: pd.DataFrame, factors: pd.DataFrame, gwp_set: str = "AR5") -> np.ndarray:
    """The per-row way: pint Quantity(...).to(...) per record, currencyconverter per record."""
    ureg, q_ = units.ureg, units.ureg.Quantity
    converter = CurrencyConverter(
        fallback_on_missing_rate=True, fallback_on_missing_rate_method="last_known"
    )
    by_key = factors.set_index("factor_key")
    gwp = GWP_SETS[gwp_set]
    cpi = fx.price_indices().query("index == 'US_CPI_U'").set_index("year")["value"]
    hicp = fx.price_indices().query("index == 'EA_HICP'").set_index("year")["value"]
    out = np.empty(len(sample))
    for i, (qty, unit, key, date) in enumerate(
        sample[["quantity", "unit", "factor_key", "date"]].itertuples(index=False)
    ):
        f = by_key.loc[key]
        fu = units.parse_factor_unit(f["unit"])
        if pd.notna(f.get("co2_kg")):
            value = f["co2_kg"] + f["ch4_g"] / 1000 * gwp["CH4"] + f["n2o_g"] / 1000 * gwp["N2O"]
        elif pd.notna(f.get("co2_lb")):
            value = (f["co2_lb"] + f["ch4_lb"] * gwp["CH4"] + f["n2o_lb"] * gwp["N2O"]) * 0.45359237
        else:
            value = f["kg_co2e"]
        target = fu.per_unit
        source = units.canonical_unit(unit)
        money = units.unit_currency(target)
        if money:
            code, scale = units.unit_currency(source) or ("", 1.0)
            amount = converter.convert(qty * scale, code, money[0], date=pd.Timestamp(date).date())
            year = pd.Timestamp(date).year
            price_year = fu.price_year or f.get("price_year")
            index = cpi if money[0] == "USD" else hicp
            amount *= index[int(price_year)] / index[min(year, int(index.index.max()))]
            out[i] = amount * value
            continue
        qty_q = q_(qty, source)
        src_cv = units.parse_cv_basis(unit) or ""
        dst_cv = fu.cv_basis or (str(f["cv_basis"]) if isinstance(f.get("cv_basis"), str) else "")
        if qty_q.check(target) or qty_q.dimensionality == q_(1, target).dimensionality:
            converted = qty_q.to(target).magnitude
            if src_cv and dst_cv and src_cv != dst_cv:
                p = fuel_property(f["fuel"])
                converted *= p.cv_gj_per_t(dst_cv) / p.cv_gj_per_t(src_cv)
        else:
            p = fuel_property(f["fuel"])
            density = q_(p.density_kg_per_m3, "kg / m ** 3")
            if qty_q.check("[volume]"):
                mass = (qty_q * density).to("kg")
            elif qty_q.check("[energy]"):
                mass = (qty_q / q_(p.cv_kwh_per_kg(src_cv), "kWh / kg")).to("kg")
            else:
                mass = qty_q.to("kg")
            if q_(1, target).check("[volume]"):
                converted = (mass / density).to(target).magnitude
            elif q_(1, target).check("[energy]"):
                converted = (mass * q_(p.cv_kwh_per_kg(dst_cv), "kWh / kg")).to(target).magnitude
            else:
                converted = mass.to(target).magnitude
        out[i] = converted * value
    del ureg
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000, help="rows for the naive loop")
    parser.add_argument("--mc-records", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(20241)
    factors, compatible = make_factors(rng)
    activities = make_activities(rng, factors, compatible, args.records)
    print(
        f"factors: {len(factors)} distinct; records: {len(activities):,}; "
        f"distinct activity units: {activities['unit'].nunique()}"
    )

    # The first call in a fresh process pays one-off costs: per-combination conversion paths are
    # computed and cached, and every array lands on memory the process has never touched (page
    # faults). A running worker pays them once; the steady state is what each later call costs.
    start = time.perf_counter()
    result = calculate(activities, factors)
    first_s = time.perf_counter() - start
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        result = calculate(activities, factors)
        timings.append(time.perf_counter() - start)
    calc_s = float(np.median(timings))
    summary = summarise(result)
    errors = int((~result["ok"]).sum())
    print(
        f"calculate: {calc_s:.3f} s steady state (median of {', '.join(f'{t:.3f}' for t in timings)}); "
        f"first call in a fresh process {first_s:.3f} s; "
        f"{summary['total_location_kg'] / 1000:,.1f} t CO2e location-based, "
        f"{summary['total_market_kg'] / 1000:,.1f} t market-based; rows with errors: {errors}"
    )

    sample_idx = rng.choice(len(activities), args.sample, replace=False)
    sample = activities.iloc[sample_idx]
    start = time.perf_counter()
    naive_kg = naive(sample, factors)
    naive_s = time.perf_counter() - start
    engine_kg = result["kg_co2e"].to_numpy()[sample_idx]
    max_rel = float(np.nanmax(np.abs(naive_kg - engine_kg) / np.maximum(np.abs(engine_kg), 1e-12)))
    naive_full = naive_s / len(sample) * len(activities)
    speedup = naive_full / calc_s
    print(
        f"naive per-row pint loop: {naive_s:.2f} s for a {len(sample):,}-row sample "
        f"({naive_s / len(sample) * 1e6:.0f} us/row), extrapolated to {len(activities):,} rows: "
        f"{naive_full:.0f} s; speed-up {speedup:.0f}x; max relative difference on the sample {max_rel:.1e}"
    )

    mc_acts = activities.iloc[: args.mc_records].copy()
    mc_acts["uncertainty_gsd"] = np.where(rng.random(len(mc_acts)) < 0.3, 1.1, np.nan)
    mc_result = calculate(mc_acts, factors)
    used = int(mc_result["factor_row"].nunique())
    start = time.perf_counter()
    mc = monte_carlo(mc_result, factors, mc_acts, iterations=args.iterations, seed=7)
    mc_s = time.perf_counter() - start
    tracemalloc.start()
    monte_carlo(mc_result, factors, mc_acts, iterations=args.iterations, seed=7)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    analytic = analytic_estimate(mc_result, factors, mc_acts)
    total = mc.loc["total"]
    print(
        f"monte carlo: {args.iterations:,} iterations over {len(mc_acts):,} records and {used:,} factors "
        f"in {mc_s:.2f} s, peak traced memory {peak / 2**20:.0f} MiB; total {total['mean'] / 1000:,.1f} t "
        f"(95% {total['p2_5'] / 1000:,.1f} - {total['p97_5'] / 1000:,.1f} t); analytic "
        f"{analytic.loc['total', 'mean'] / 1000:,.1f} t (95% {analytic.loc['total', 'p2_5'] / 1000:,.1f} - "
        f"{analytic.loc['total', 'p97_5'] / 1000:,.1f} t)"
    )
    figures = {
        "records": len(activities),
        "factors": len(factors),
        "distinct_activity_units": int(activities["unit"].nunique()),
        "calculate_s": round(calc_s, 4),
        "calculate_runs_s": [round(t, 4) for t in timings],
        "calculate_first_call_s": round(first_s, 4),
        "total_kg_co2e": round(summary["total_location_kg"], 3),
        "total_market_kg_co2e": round(summary["total_market_kg"], 3),
        "rows_with_errors": errors,
        "naive_sample_rows": len(sample),
        "naive_us_per_row": round(naive_s / len(sample) * 1e6, 1),
        "naive_extrapolated_s": round(naive_full, 1),
        "speedup": round(speedup, 1),
        "speedup_first_call": round(naive_full / first_s, 1),
        "naive_max_rel_diff": max_rel,
        "mc_records": len(mc_acts),
        "mc_factors": used,
        "mc_iterations": args.iterations,
        "mc_s": round(mc_s, 3),
        "mc_peak_mib": round(peak / 2**20, 1),
        "mc_total_mean_kg": round(float(total["mean"]), 1),
        "mc_total_p2_5_kg": round(float(total["p2_5"]), 1),
        "mc_total_p97_5_kg": round(float(total["p97_5"]), 1),
        "analytic_total_mean_kg": round(float(analytic.loc["total", "mean"]), 1),
        "targets_met": bool(calc_s <= 1.0 and speedup >= 100 and mc_s <= 10 and peak <= 2 * 2**30),
        "first_call_within_1s": bool(first_s <= 1.0),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
