"""Uncertainty: pedigree matrix, Monte Carlo and the analytic estimate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emissions.engine.calculate import calculate
from emissions.engine.errors import InputError
from emissions.engine.uncertainty import (
    PEDIGREE_VARIANCES,
    analytic_estimate,
    distribution_specs,
    monte_carlo,
    monte_carlo_chunk,
    monte_carlo_model,
    monte_carlo_summary,
    pedigree_gsd,
)

# ecoinvent v3 uncertainty factors U (contributions to the 95% interval GSD^2), as shipped in
# openLCA's "ecoinvent data quality system": sigma^2 = (ln U / 2)^2.
ECOINVENT_U = {
    "reliability": (1, 1.05, 1.1, 1.2, 1.5),
    "completeness": (1, 1.02, 1.05, 1.1, 1.2),
    "temporal": (1, 1.03, 1.1, 1.2, 1.5),
    "geographical": (1, 1.01, 1.02, 1.05, 1.1),
    "technological": (1, 1.05, 1.2, 1.5, 2.0),
}


def test_it_uses_the_ecoinvent_pedigree_coefficients() -> None:
    for name, factors in ECOINVENT_U.items():
        expected = [(math.log(u) / 2) ** 2 for u in factors]
        assert PEDIGREE_VARIANCES[name] == pytest.approx(expected, rel=0.15, abs=1e-9), name


def test_it_turns_pedigree_scores_into_a_geometric_sd() -> None:
    assert pedigree_gsd(1, 1, 1, 1, 1) == pytest.approx(math.exp(math.sqrt(0.0006)))
    assert pedigree_gsd(1, 1, 1, 1, 1, basic_variance=0) == 1.0
    # 0.0006 basic + 0.0006 + 0.0006 + 0 + 0.000025 + 0.04
    assert pedigree_gsd(2, 3, 1, 2, 4) == pytest.approx(math.exp(math.sqrt(0.041825)))
    many = pedigree_gsd([1, 5], [1, 5], [1, 5], [1, np.nan], [1, 5], basic_variance=0)
    assert many[1] == pytest.approx(math.exp(math.sqrt(0.04 + 0.008 + 0.04 + 0.002 + 0.12)))


def test_it_refuses_scores_outside_one_to_five() -> None:
    with pytest.raises(InputError) as info:
        pedigree_gsd(0, 1, 1, 1, 6)
    assert info.value.code == "pedigree_score"


def test_it_refuses_a_distribution_without_its_parameters() -> None:
    frame = pd.DataFrame({"uncertainty_distribution": ["triangular"], "uncertainty_low": [1.0]})
    with pytest.raises(InputError) as info:
        distribution_specs(frame, np.array([2.0]))
    assert info.value.code == "uncertainty_parameters"
    with pytest.raises(InputError):
        distribution_specs(pd.DataFrame({"uncertainty_distribution": ["cauchy"]}), np.array([1.0]))


def inventory(gsd: float = 1.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    factors = pd.DataFrame(
        [
            {"factor_key": "a", "unit": "kg", "kg_co2e": 2.0, "scope": 1, "uncertainty_gsd": gsd},
            {"factor_key": "b", "unit": "kg", "kg_co2e": 2.0, "scope": 1, "uncertainty_gsd": gsd},
            {
                "factor_key": "c",
                "unit": "kWh",
                "kg_co2e": 0.4,
                "scope": 2,
                "uncertainty_distribution": "normal",
                "uncertainty_sd": 0.04,
            },
            {
                "factor_key": "d",
                "unit": "EUR",
                "kg_co2e": 0.5,
                "scope": 3,
                "category": 1,
                "uncertainty_distribution": "uniform",
                "uncertainty_low": 0.25,
                "uncertainty_high": 0.75,
            },
            {
                "factor_key": "e",
                "unit": "pkm",
                "kg_co2e": 0.1,
                "scope": 3,
                "category": 6,
                "uncertainty_distribution": "triangular",
                "uncertainty_low": 0.05,
                "uncertainty_high": 0.3,
            },
            {
                "factor_key": "f",
                "unit": "kg",
                "kg_co2e": 1.0,
                "scope": 3,
                "category": 5,
                "dq_reliability": 3,
                "dq_completeness": 2,
                "dq_temporal": 4,
                "dq_geographical": 2,
                "dq_technological": 3,
            },
        ]
    )
    activities = pd.DataFrame(
        [
            {"quantity": 100.0, "unit": "kg", "factor_key": "a"},
            {"quantity": 100.0, "unit": "kg", "factor_key": "a"},
            {"quantity": 200.0, "unit": "kg", "factor_key": "b"},
            {
                "quantity": 1000.0,
                "unit": "kWh",
                "factor_key": "c",
                "uncertainty_distribution": "normal",
                "uncertainty_sd": 50.0,
            },
            {"quantity": 400.0, "unit": "EUR", "factor_key": "d"},
            {"quantity": 3000.0, "unit": "pkm", "factor_key": "e", "uncertainty_gsd": 1.2},
            {"quantity": 250.0, "unit": "kg", "factor_key": "f"},
        ]
    )
    return factors, activities


def test_it_is_reproducible_with_a_seed() -> None:
    factors, activities = inventory()
    result = calculate(activities, factors)
    first = monte_carlo(result, factors, activities, iterations=2000, seed=42)
    again = monte_carlo(result, factors, activities, iterations=2000, seed=42)
    other = monte_carlo(result, factors, activities, iterations=2000, seed=43)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["mean"], other["mean"])


def test_it_reports_total_scope_and_category_groups() -> None:
    factors, activities = inventory()
    result = calculate(activities, factors)
    mc = monte_carlo(result, factors, activities, iterations=4000, seed=1)
    assert list(mc.index) == [
        "total",
        "scope_1",
        "scope_2",
        "scope_3",
        "scope_3_cat_01",
        "scope_3_cat_05",
        "scope_3_cat_06",
    ]
    assert list(mc.columns) == ["deterministic", "mean", "median", "p2_5", "p97_5", "sd"]
    assert mc.loc["total", "deterministic"] == pytest.approx(result["kg_co2e"].sum())
    scopes = mc.loc[["scope_1", "scope_2", "scope_3"], "deterministic"].sum()
    assert scopes == pytest.approx(mc.loc["total", "deterministic"])
    assert (mc["p2_5"] <= mc["median"]).all()
    assert (mc["median"] <= mc["p97_5"]).all()


def test_it_moves_records_that_share_a_factor_together() -> None:
    # Records on one factor are fully correlated; on two independent factors of the same
    # uncertainty the spread of the sum shrinks by sqrt(2).
    factors, _ = inventory(gsd=1.3)
    shared = pd.DataFrame({"quantity": [100.0, 100.0], "unit": "kg", "factor_key": ["a", "a"]})
    split = pd.DataFrame({"quantity": [100.0, 100.0], "unit": "kg", "factor_key": ["a", "b"]})
    sd_shared = monte_carlo(calculate(shared, factors), factors, iterations=20_000, seed=3).loc[
        "total", "sd"
    ]
    sd_split = monte_carlo(calculate(split, factors), factors, iterations=20_000, seed=3).loc[
        "total", "sd"
    ]
    assert sd_shared / sd_split == pytest.approx(math.sqrt(2), rel=0.05)
    exact = 200 * 2.0 * math.sqrt(math.expm1(math.log(1.3) ** 2))
    assert sd_shared == pytest.approx(exact, rel=0.03)


def test_it_keeps_the_reported_value_as_the_mean_of_each_distribution() -> None:
    factors, activities = inventory()
    result = calculate(activities, factors)
    mc = monte_carlo(result, factors, activities, iterations=40_000, seed=11)
    analytic = analytic_estimate(result, factors, activities)
    # Lognormal, normal and uniform keep the value as their mean; the triangular's mean is
    # (low + mode + high) / 3, which the analytic estimate accounts for.
    triangular_shift = 3000 * ((0.05 + 0.1 + 0.3) / 3 - 0.1)
    assert analytic.loc["total", "mean"] == pytest.approx(
        result["kg_co2e"].sum() + triangular_shift
    )
    for group in mc.index:
        se = mc.loc[group, "sd"] / math.sqrt(40_000)
        assert abs(mc.loc[group, "mean"] - analytic.loc[group, "mean"]) < 5 * se + 1e-9, group
        assert mc.loc[group, "sd"] == pytest.approx(analytic.loc[group, "sd"], rel=0.05), group


def test_it_handles_an_inventory_without_uncertainty() -> None:
    factors = pd.DataFrame([{"factor_key": "x", "unit": "kg", "kg_co2e": 3.0, "scope": 1}])
    activities = pd.DataFrame({"quantity": [1.0, 2.0], "unit": "kg", "factor_key": "x"})
    result = calculate(activities, factors)
    mc = monte_carlo(result, factors, iterations=100, seed=0)
    assert mc.loc["total", "p2_5"] == mc.loc["total", "p97_5"] == pytest.approx(9.0)
    assert analytic_estimate(result, factors).loc["total", "sd"] == 0.0


@settings(max_examples=12, deadline=None)
@given(
    gsds=st.lists(st.floats(min_value=1.01, max_value=2.5), min_size=1, max_size=4),
    quantities=st.lists(st.floats(min_value=0.1, max_value=1e4), min_size=1, max_size=8),
    activity_gsd=st.one_of(st.none(), st.floats(min_value=1.01, max_value=1.5)),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_it_brackets_the_analytic_estimate_with_its_percentiles(
    gsds: list[float], quantities: list[float], activity_gsd: float | None, seed: int
) -> None:
    factors = pd.DataFrame(
        {
            "factor_key": [f"f{i}" for i in range(len(gsds))],
            "unit": "kg",
            "kg_co2e": [1.0 + i for i in range(len(gsds))],
            "scope": 1,
            "uncertainty_gsd": gsds,
        }
    )
    activities = pd.DataFrame(
        {
            "quantity": quantities,
            "unit": "kg",
            "factor_key": [f"f{i % len(gsds)}" for i in range(len(quantities))],
            "uncertainty_gsd": activity_gsd,
        }
    )
    result = calculate(activities, factors)
    mc = monte_carlo(result, factors, activities, iterations=3000, seed=seed).loc["total"]
    analytic = analytic_estimate(result, factors, activities).loc["total"]
    assert mc["p2_5"] <= analytic["mean"] <= mc["p97_5"]
    assert analytic["p2_5"] <= mc["mean"] <= analytic["p97_5"]
    assert (
        abs(mc["mean"] - analytic["mean"])
        <= 6 * analytic["sd"] / math.sqrt(3000) + 1e-9 * analytic["mean"]
    )


def test_it_simulates_the_same_total_the_summary_reports() -> None:
    from emissions.engine.calculate import summarise

    factors, activities = inventory()
    result = calculate(activities, factors)
    mc = monte_carlo(result, factors, activities, iterations=200, seed=5)
    assert mc.loc["total", "deterministic"] == pytest.approx(summarise(result)["total_location_kg"])


def test_its_chunks_are_independent_streams_that_add_up_to_the_same_distribution() -> None:
    """Chunks computed anywhere in any order give the same samples; together they estimate what
    one ``monte_carlo`` run estimates."""
    factors, activities = inventory()
    result = calculate(activities, factors)
    model = monte_carlo_model(result, factors, activities)
    chunks = [monte_carlo_chunk(model, seed=7, chunk=k, size=2000) for k in range(10)]
    again = monte_carlo_chunk(
        monte_carlo_model(result, factors, activities), seed=7, chunk=3, size=2000
    )
    np.testing.assert_array_equal(chunks[3], again)
    assert not np.allclose(chunks[0], chunks[1])
    summary = monte_carlo_summary(model, np.concatenate(chunks, axis=1))
    whole = monte_carlo(result, factors, activities, iterations=20_000, seed=7)
    pd.testing.assert_series_equal(summary["deterministic"], whole["deterministic"])
    for column in ("mean", "p2_5", "p97_5"):
        np.testing.assert_allclose(summary[column], whole[column], rtol=0.03)
