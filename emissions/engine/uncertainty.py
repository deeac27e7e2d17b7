"""Uncertainty of an inventory: distributions, pedigree-matrix scores, Monte Carlo and a fast
analytic estimate.

Each factor (a row of the factors frame) and each activity record may carry a distribution:

- ``uncertainty_distribution = "lognormal"`` with ``uncertainty_gsd`` (geometric standard
  deviation, >= 1);
- ``"normal"`` with ``uncertainty_sd`` (standard deviation, in the value's own unit);
- ``"uniform"`` or ``"triangular"`` with ``uncertainty_low`` and ``uncertainty_high`` (bounds in
  the value's own unit; the triangular mode is the value itself);
- or data-quality scores ``dq_reliability``, ``dq_completeness``, ``dq_temporal``,
  ``dq_geographical``, ``dq_technological`` (1 best .. 5 worst), turned into a lognormal GSD with
  the pedigree matrix (``pedigree_gsd``). A missing score counts as 5.

Rows with none of these are certain. Lognormals are parameterised so their mean equals the
reported value (mu = ln(value) - sigma^2 / 2, sigma = ln(GSD)), so the simulated mean matches the
inventory total (the IPCC 2006 Guidelines, Vol. 1, Ch. 3, treat the point estimate as the mean).

Pedigree coefficients (variances of ln, added to a basic variance; GSD = exp(sqrt(sum))):
ecoinvent v3 data quality guideline, Weidema B.P. et al. (2013) "Overview and methodology. Data
quality guideline for the ecoinvent database version 3", ecoinvent Report 1(v3), based on
Ciroth A. et al. (2016) "Empirically based uncertainty factors for the pedigree matrix in
ecoinvent", Int J LCA 21:1338-1348. The default basic variance 0.0006 is ecoinvent's basic
uncertainty for CO2 emissions and energy demands (GSD^2 about 1.05).

Monte Carlo (``monte_carlo``): records sharing a factor must move together, so each distinct
factor is sampled once per iteration and multiplies the summed activity of every (factor, group)
cell that uses it. Record-level activity uncertainty inside a cell is combined first by matching
the mean and variance of the cell sum (Fenton-Wilkinson for lognormals, normal otherwise), which
keeps the simulation's size independent of the number of records. Cells without activity
uncertainty are folded into a (groups x factors) weight matrix. Iterations run in chunks, so
memory stays at a few tens of MB for 10,000 iterations x 2,000 factors. Seeded and reproducible
(numpy PCG64; the same seed, inputs and ``chunk_size`` give the same numbers).

Results are per group: ``total`` (all valid rows except outside-of-scopes, location-based),
``scope_1``, ``scope_2``, ``scope_3``, ``scope_3_cat_01`` .. ``scope_3_cat_15``: columns
``deterministic``, ``mean``, ``median``, ``p2_5``, ``p97_5``, ``sd``.

Public API
----------
- ``PEDIGREE_VARIANCES``, ``DEFAULT_BASIC_VARIANCE``.
- ``pedigree_gsd(reliability, completeness, temporal, geographical, technological, *,
  basic_variance=0.0006) -> numpy.ndarray``.
- ``distribution_specs(frame, values) -> DataFrame``: normalised (kind, gsd, sd, low, high).
- ``monte_carlo(result, factors, activities=None, *, iterations=10_000, seed=0,
  chunk_size=500) -> DataFrame``.
- ``analytic_estimate(result, factors, activities=None) -> DataFrame``.
- ``monte_carlo_model``, ``monte_carlo_chunk(model, *, seed, chunk, size)``,
  ``monte_carlo_summary(model, totals)``: the same simulation split in independently seeded
  chunks that separate workers can compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from .calculate import SCOPES
from .errors import InputError

# ecoinvent v3 pedigree matrix: variance of ln added for scores 1..5 (see module docstring).
PEDIGREE_VARIANCES: dict[str, tuple[float, float, float, float, float]] = {
    "reliability": (0.0, 0.0006, 0.002, 0.008, 0.04),
    "completeness": (0.0, 0.0001, 0.0006, 0.002, 0.008),
    "temporal": (0.0, 0.0002, 0.002, 0.008, 0.04),
    "geographical": (0.0, 0.000025, 0.0001, 0.0006, 0.002),
    "technological": (0.0, 0.0006, 0.008, 0.04, 0.12),
}
DEFAULT_BASIC_VARIANCE = 0.0006
_DQ_COLUMNS = {f"dq_{name}": name for name in PEDIGREE_VARIANCES}

NONE, LOGNORMAL, NORMAL, UNIFORM, TRIANGULAR = range(5)
_KINDS = {"lognormal": LOGNORMAL, "normal": NORMAL, "uniform": UNIFORM, "triangular": TRIANGULAR}


def pedigree_gsd(
    reliability: Any,
    completeness: Any,
    temporal: Any,
    geographical: Any,
    technological: Any,
    *,
    basic_variance: float = DEFAULT_BASIC_VARIANCE,
) -> np.ndarray:
    """Geometric standard deviation from pedigree scores (1..5 each; NaN counts as 5).

    ``GSD = exp(sqrt(basic_variance + sum of the indicator variances))``.
    """
    total = np.full(
        np.broadcast(reliability, completeness, temporal, geographical, technological).shape,
        float(basic_variance),
    )
    for name, scores in zip(
        PEDIGREE_VARIANCES,
        (reliability, completeness, temporal, geographical, technological),
        strict=True,
    ):
        values = np.asarray(scores, dtype=np.float64)
        values = np.where(np.isnan(values), 5.0, values)
        if ((values < 1) | (values > 5) | (values != np.round(values))).any():
            bad = values[(values < 1) | (values > 5) | (values != np.round(values))][0]
            raise InputError(
                f"Pedigree score {bad:g} for {name} is outside 1-5.",
                value=float(bad),
                expected="an integer score from 1 (best) to 5 (worst)",
                code="pedigree_score",
            )
        total = total + np.asarray(PEDIGREE_VARIANCES[name])[values.astype(np.int64) - 1]
    return np.asarray(np.exp(np.sqrt(total)))


def distribution_specs(
    frame: pd.DataFrame, values: np.ndarray, *, basic_variance: float = DEFAULT_BASIC_VARIANCE
) -> pd.DataFrame:
    """Normalised distribution per row of ``frame`` around ``values``.

    Columns: ``kind`` (0 none, 1 lognormal, 2 normal, 3 uniform, 4 triangular), ``gsd``, ``sd``,
    ``low``, ``high`` (sd and bounds in the unit of ``values``). Raises InputError on an unknown
    distribution name or a distribution without its parameters.
    """
    n = len(frame)
    kind = np.full(n, NONE, dtype=np.int64)

    def column(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )

    gsd, sd, low, high = (
        column(c)
        for c in ("uncertainty_gsd", "uncertainty_sd", "uncertainty_low", "uncertainty_high")
    )
    if "uncertainty_distribution" in frame.columns:
        names = frame["uncertainty_distribution"]
        codes, uniques = pd.factorize(names, use_na_sentinel=True)
        lookup = []
        for name in uniques:
            key = str(name).strip().lower().replace("-", "").replace(" ", "")
            key = {"log-normal": "lognormal", "gaussian": "normal", "triangle": "triangular"}.get(
                key, key
            )
            if key in ("", "none", "fixed", "undefined"):
                lookup.append(NONE)
            elif key in _KINDS:
                lookup.append(_KINDS[key])
            else:
                raise InputError(
                    f"Unknown uncertainty distribution {name!r}.",
                    value=str(name),
                    expected="lognormal, normal, uniform or triangular",
                    code="uncertainty_distribution",
                )
        lookup.append(NONE)
        kind = np.asarray(lookup, dtype=np.int64)[
            np.where(np.asarray(codes) < 0, len(uniques), codes)
        ]
    # A GSD without a distribution name is a lognormal; pedigree scores fill the rest.
    kind = np.where((kind == NONE) & np.isfinite(gsd), LOGNORMAL, kind)
    dq_present = [c for c in _DQ_COLUMNS if c in frame.columns]
    if dq_present:
        scores = {name: column(c) for c, name in _DQ_COLUMNS.items()}
        any_score = np.zeros(n, dtype=bool)
        for c in dq_present:
            any_score |= np.isfinite(column(c))
        use = (kind == NONE) & any_score
        if use.any():
            ped = pedigree_gsd(
                *(scores[k][use] for k in PEDIGREE_VARIANCES), basic_variance=basic_variance
            )
            gsd = gsd.copy()
            gsd[use] = ped
            kind = np.where(use, LOGNORMAL, kind)
    checks = (
        (LOGNORMAL, ~(np.isfinite(gsd) & (gsd >= 1)), "uncertainty_gsd >= 1"),
        (NORMAL, ~(np.isfinite(sd) & (sd >= 0)), "uncertainty_sd >= 0"),
        (
            UNIFORM,
            ~(np.isfinite(low) & np.isfinite(high) & (low <= high)),
            "uncertainty_low <= uncertainty_high",
        ),
        (
            TRIANGULAR,
            ~(
                np.isfinite(low)
                & np.isfinite(high)
                & (low <= values)
                & (values <= high)
                & (low < high)
            ),
            "uncertainty_low <= value <= uncertainty_high",
        ),
    )
    for code, bad, expected in checks:
        bad_rows = (kind == code) & bad
        if bad_rows.any():
            row = int(np.flatnonzero(bad_rows)[0])
            raise InputError(
                f"Row {frame.index[row]!r}: the {list(_KINDS)[code - 1]} distribution needs {expected}.",
                value=str(frame.index[row]),
                expected=expected,
                code="uncertainty_parameters",
            )
    return pd.DataFrame(
        {"kind": kind, "gsd": gsd, "sd": sd, "low": low, "high": high}, index=frame.index
    )


def _moments(
    kind: np.ndarray, value: np.ndarray, spec: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each distribution (lognormals keep the value as their mean)."""
    gsd, sd = spec["gsd"].to_numpy(), spec["sd"].to_numpy()
    a, b = spec["low"].to_numpy(), spec["high"].to_numpy()
    mean = value.astype(np.float64).copy()
    var = np.zeros(len(value))
    ln = kind == LOGNORMAL
    var[ln] = value[ln] ** 2 * np.expm1(np.log(gsd[ln]) ** 2)
    nm = kind == NORMAL
    var[nm] = sd[nm] ** 2
    un = kind == UNIFORM
    mean[un] = (a[un] + b[un]) / 2
    var[un] = (b[un] - a[un]) ** 2 / 12
    tr = kind == TRIANGULAR
    c = value[tr]
    mean[tr] = (a[tr] + b[tr] + c) / 3
    var[tr] = (a[tr] ** 2 + b[tr] ** 2 + c**2 - a[tr] * b[tr] - a[tr] * c - b[tr] * c) / 18
    return mean, var


@dataclass
class _Model:
    groups: list[str]
    deterministic: np.ndarray  # per group
    factor_value: np.ndarray  # per used factor
    factor_spec: pd.DataFrame
    factor_kind: np.ndarray
    weights: sp.csr_matrix  # groups x factors: certain activity per factor
    cell_factor: np.ndarray  # per uncertain cell
    cell_mean: np.ndarray
    cell_var: np.ndarray
    cell_lognormal: np.ndarray
    cell_groups: sp.csr_matrix  # groups x uncertain cells


def _build(
    result: pd.DataFrame,
    factors: pd.DataFrame,
    activities: pd.DataFrame | None,
    basic_variance: float,
) -> _Model:
    ok = result["ok"].to_numpy(dtype=bool) & (result["scope"] != "outside_scopes").to_numpy()
    rows = np.flatnonzero(ok)
    f_row = result["factor_row"].to_numpy()[rows]
    qc = result["quantity_converted"].to_numpy(dtype=np.float64)[rows]
    q = result["quantity"].to_numpy(dtype=np.float64)[rows]
    per_unit = result["factor_kg_co2e_per_unit"].to_numpy(dtype=np.float64)[rows]
    scope_codes = np.asarray(
        pd.Categorical(result["scope"], categories=SCOPES).codes, dtype=np.int64
    )[rows]
    category = result["scope3_category"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]

    used, f_local = np.unique(f_row, return_inverse=True)
    value = np.zeros(len(used))
    value[f_local] = per_unit
    fsub = factors.iloc[used]
    published = (
        pd.to_numeric(fsub["kg_co2e"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if "kg_co2e" in fsub.columns
        else np.full(len(used), np.nan)
    )
    # Bounds and SDs are given in the published unit; rescale them to the effective value.
    scale = np.where(
        np.isfinite(published) & (published != 0),
        value / np.where(published == 0, 1, published),
        1.0,
    )
    spec = distribution_specs(
        fsub, np.where(np.isfinite(published), published, value), basic_variance=basic_variance
    )
    for c in ("sd", "low", "high"):
        spec[c] = spec[c].to_numpy() * scale
    f_kind = spec["kind"].to_numpy()

    # Groups: total, scopes, Scope 3 categories present.
    cats = sorted({int(c) for c in category[np.isfinite(category)]})
    groups = ["total", "scope_1", "scope_2", "scope_3"] + [f"scope_3_cat_{c:02d}" for c in cats]
    g_index = {g: i for i, g in enumerate(groups)}
    # One cell per (factor, scope, category); codes numbered in order of first appearance.
    combined = (f_local.astype(np.int64) * 5 + (scope_codes + 1)) * 16 + np.nan_to_num(
        category, nan=0
    ).astype(np.int64)
    cell_key = np.asarray(pd.factorize(combined)[0], dtype=np.int64)
    n_cells = int(cell_key.max(initial=-1)) + 1
    running = np.maximum.accumulate(cell_key) if len(cell_key) else cell_key
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]]) if len(cell_key) else cell_key
    cell_factor = f_local[first]
    cell_scope = scope_codes[first]
    cell_cat = category[first]

    # Activity distributions per record, relative to the reported quantity.
    a_mean, a_var = qc.copy(), np.zeros(len(rows))
    a_logn = np.ones(len(rows), dtype=bool)
    if activities is not None:
        act = (
            activities.iloc[rows]
            if len(activities) == len(result)
            else activities.loc[result.index[rows]]
        )
        a_spec = distribution_specs(act, q, basic_variance=basic_variance)
        kind = a_spec["kind"].to_numpy()
        mean_q, var_q = _moments(kind, q, a_spec)
        ratio = np.divide(qc, q, out=np.zeros_like(qc), where=q != 0)
        a_mean = mean_q * ratio
        a_var = var_q * ratio**2
        a_logn = (kind == LOGNORMAL) | (a_var == 0)
    c_mean = np.bincount(cell_key, weights=a_mean, minlength=n_cells)
    c_var = np.bincount(cell_key, weights=a_var, minlength=n_cells)
    c_logn = np.bincount(cell_key, weights=(~a_logn).astype(np.float64), minlength=n_cells) == 0
    c_logn &= c_mean > 0

    def membership(scope_c: np.ndarray, cat_c: np.ndarray) -> sp.csr_matrix:
        r_idx, c_idx = [], []
        for j, (s, c) in enumerate(zip(scope_c, cat_c, strict=True)):
            names = ["total"] + ([SCOPES[s]] if s >= 0 else [])  # unscoped rows count in the total
            if s >= 0 and SCOPES[s] == "scope_3" and np.isfinite(c):
                names.append(f"scope_3_cat_{int(c):02d}")
            for name in names:
                if name in g_index:
                    r_idx.append(g_index[name])
                    c_idx.append(j)
        return sp.csr_matrix(
            (np.ones(len(r_idx)), (r_idx, c_idx)), shape=(len(groups), len(scope_c))
        )

    member = membership(cell_scope, cell_cat)
    certain = c_var == 0
    weights = member[:, np.flatnonzero(certain)] @ sp.csr_matrix(
        (c_mean[certain], (np.arange(int(certain.sum())), cell_factor[certain])),
        shape=(int(certain.sum()), len(used)),
    )
    kg = result["kg_co2e"].to_numpy(dtype=np.float64)[rows]
    deterministic = member @ np.bincount(cell_key, weights=kg, minlength=n_cells)
    unc = ~certain
    return _Model(
        groups=groups,
        deterministic=np.asarray(deterministic).ravel(),
        factor_value=value,
        factor_spec=spec,
        factor_kind=f_kind,
        weights=sp.csr_matrix(weights),
        cell_factor=cell_factor[unc],
        cell_mean=c_mean[unc],
        cell_var=c_var[unc],
        cell_lognormal=c_logn[unc],
        cell_groups=sp.csr_matrix(member[:, np.flatnonzero(unc)]),
    )


def _sample_factors(model: _Model, rng: np.random.Generator, size: int) -> np.ndarray:
    value, kind, spec = model.factor_value, model.factor_kind, model.factor_spec
    out = np.repeat(value[:, None], size, axis=1)
    ln = np.flatnonzero(kind == LOGNORMAL)
    if len(ln):
        sigma = np.log(spec["gsd"].to_numpy()[ln])[:, None]
        out[ln] = value[ln, None] * np.exp(
            sigma * rng.standard_normal((len(ln), size)) - sigma**2 / 2
        )
    nm = np.flatnonzero(kind == NORMAL)
    if len(nm):
        out[nm] = value[nm, None] + spec["sd"].to_numpy()[nm, None] * rng.standard_normal(
            (len(nm), size)
        )
    un = np.flatnonzero(kind == UNIFORM)
    if len(un):
        lo, hi = spec["low"].to_numpy()[un, None], spec["high"].to_numpy()[un, None]
        out[un] = lo + (hi - lo) * rng.random((len(un), size))
    tr = np.flatnonzero(kind == TRIANGULAR)
    if len(tr):
        out[tr] = rng.triangular(
            spec["low"].to_numpy()[tr, None],
            value[tr, None],
            spec["high"].to_numpy()[tr, None],
            size=(len(tr), size),
        )
    return out


def _sample_cells(model: _Model, rng: np.random.Generator, size: int) -> np.ndarray:
    mean, var = model.cell_mean, model.cell_var
    out = np.empty((len(mean), size))
    ln = model.cell_lognormal
    if ln.any():
        s2 = np.log1p(var[ln] / mean[ln] ** 2)[:, None]
        mu = np.log(mean[ln])[:, None] - s2 / 2
        out[ln] = np.exp(mu + np.sqrt(s2) * rng.standard_normal((int(ln.sum()), size)))
    nm = ~ln
    if nm.any():
        out[nm] = mean[nm, None] + np.sqrt(var[nm])[:, None] * rng.standard_normal(
            (int(nm.sum()), size)
        )
    return out


def monte_carlo(
    result: pd.DataFrame,
    factors: pd.DataFrame,
    activities: pd.DataFrame | None = None,
    *,
    iterations: int = 10_000,
    seed: int = 0,
    chunk_size: int = 500,
    basic_variance: float = DEFAULT_BASIC_VARIANCE,
) -> pd.DataFrame:
    """Monte Carlo of the inventory in a ``calculate`` result (location-based kg CO2e).

    ``factors`` is the frame passed to ``calculate`` (uncertainty columns are read from it);
    ``activities`` (optional, aligned with ``result``) adds record-level activity uncertainty.
    Returns one row per group with ``deterministic``, ``mean``, ``median``, ``p2_5``, ``p97_5``,
    ``sd``.
    """
    if iterations < 2:
        raise InputError(
            "A Monte Carlo needs at least 2 iterations.",
            value=iterations,
            expected="an integer >= 2",
            code="iterations",
        )
    model = _build(result, factors, activities, basic_variance)
    rng = np.random.default_rng(seed)
    totals = np.empty((len(model.groups), iterations))
    for start in range(0, iterations, chunk_size):
        size = min(chunk_size, iterations - start)
        f = _sample_factors(model, rng, size)
        block = model.weights @ f
        if len(model.cell_mean):
            cells = _sample_cells(model, rng, size) * f[model.cell_factor]
            block = block + model.cell_groups @ cells
        totals[:, start : start + size] = block
    p = np.percentile(totals, [2.5, 50, 97.5], axis=1)
    return pd.DataFrame(
        {
            "deterministic": model.deterministic,
            "mean": totals.mean(axis=1),
            "median": p[1],
            "p2_5": p[0],
            "p97_5": p[2],
            "sd": totals.std(axis=1, ddof=1),
        },
        index=pd.Index(model.groups, name="group"),
    )


def analytic_estimate(
    result: pd.DataFrame,
    factors: pd.DataFrame,
    activities: pd.DataFrame | None = None,
    *,
    basic_variance: float = DEFAULT_BASIC_VARIANCE,
) -> pd.DataFrame:
    """Closed-form mean and variance of each group total (independent factors and cells), with
    2.5/50/97.5 percentiles from a lognormal of the same mean and variance (a normal when the
    mean is not positive). Instant, to show while the Monte Carlo runs.
    """
    model = _build(result, factors, activities, basic_variance)
    f_mean, f_var = _moments(model.factor_kind, model.factor_value, model.factor_spec)
    f_second = f_var + f_mean**2
    # Certain activity: W @ mean, variance W^2 @ var.
    w = model.weights
    mean = np.asarray(w @ f_mean).ravel()
    var = np.asarray(w.multiply(w) @ f_var).ravel()
    if len(model.cell_mean):
        # Uncertain cells of the same factor share it: sum them per (group, factor) first.
        n_f = len(f_mean)
        to_factor = sp.csr_matrix(
            (
                np.ones(len(model.cell_factor)),
                (np.arange(len(model.cell_factor)), model.cell_factor),
            ),
            shape=(len(model.cell_factor), n_f),
        )
        s_mean = model.cell_groups @ sp.diags(model.cell_mean) @ to_factor  # groups x factors
        s_var = model.cell_groups @ sp.diags(model.cell_var) @ to_factor
        s_mean = sp.csr_matrix(s_mean)
        total_mean = s_mean + w
        mean = np.asarray(total_mean @ f_mean).ravel()
        # Var(F S) with F, S independent: E[F^2] E[S^2] - (E F E S)^2, S = certain + uncertain part.
        s2 = total_mean.multiply(total_mean) + s_var
        var = np.asarray(s2 @ f_second - total_mean.multiply(total_mean) @ (f_mean**2)).ravel()
    var = np.maximum(var, 0)
    sd = np.sqrt(var)
    positive = mean > 0
    s2_ln = np.log1p(np.divide(var, mean**2, out=np.zeros_like(var), where=positive))
    mu_ln = np.log(np.where(positive, mean, 1)) - s2_ln / 2
    z = stats.norm.ppf([0.025, 0.5, 0.975])
    p = np.where(
        positive[None, :],
        np.exp(mu_ln[None, :] + np.sqrt(s2_ln)[None, :] * z[:, None]),
        mean[None, :] + sd[None, :] * z[:, None],
    )
    return pd.DataFrame(
        {
            "deterministic": model.deterministic,
            "mean": mean,
            "median": p[1],
            "p2_5": p[0],
            "p97_5": p[2],
            "sd": sd,
        },
        index=pd.Index(model.groups, name="group"),
    )


# Chunked Monte Carlo, for a job that reports progress or splits the iterations between workers:
# chunk k draws from its own stream (PCG64 seeded with (seed, k)), so the chunks of one run can be
# computed anywhere, in any order, and their samples concatenated.


def monte_carlo_model(
    result: pd.DataFrame,
    factors: pd.DataFrame,
    activities: pd.DataFrame | None = None,
    *,
    basic_variance: float = DEFAULT_BASIC_VARIANCE,
) -> Any:
    """The simulation model of a ``calculate`` result (the same model ``monte_carlo`` builds)."""
    return _build(result, factors, activities, basic_variance)


_CHUNK_BLOCK = 500  # part of the stream's definition: another block size draws other numbers


def monte_carlo_chunk(model: Any, *, seed: int, chunk: int, size: int) -> np.ndarray:
    """``size`` iterations of chunk number ``chunk``: a (groups x size) array of totals, the same
    for the same model, seed, chunk and size wherever it is computed."""
    block = _CHUNK_BLOCK
    rng = np.random.default_rng([seed, chunk])
    totals = np.empty((len(model.groups), size))
    for start in range(0, size, block):
        n = min(block, size - start)
        f = _sample_factors(model, rng, n)
        values = model.weights @ f
        if len(model.cell_mean):
            values = values + model.cell_groups @ (
                _sample_cells(model, rng, n) * f[model.cell_factor]
            )
        totals[:, start : start + n] = values
    return totals


def monte_carlo_summary(model: Any, totals: np.ndarray) -> pd.DataFrame:
    """Per group: ``deterministic``, ``mean``, ``median``, ``p2_5``, ``p97_5``, ``sd`` of the
    concatenated chunk samples (groups x iterations)."""
    p = np.percentile(totals, [2.5, 50, 97.5], axis=1)
    return pd.DataFrame(
        {
            "deterministic": model.deterministic,
            "mean": totals.mean(axis=1),
            "median": p[1],
            "p2_5": p[0],
            "p97_5": p[2],
            "sd": totals.std(axis=1, ddof=1),
        },
        index=pd.Index(model.groups, name="group"),
    )
