"""Spend-based datasets: USEEIO v1.3 (NAICS-6) and EXIOBASE 3 multipliers (pure reader)."""

from __future__ import annotations

import pandas as pd
import pytest

from factors.ingest.mapping import load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset


@pytest.fixture(scope="module")
def useeio() -> ReadResult:
    return read_dataset(load_mapping(mapping_path("useeio_v1_3")))


@pytest.fixture(scope="module")
def exiobase() -> ReadResult:
    return read_dataset(load_mapping(mapping_path("exiobase_2022")))


def _one(frame: pd.DataFrame, publisher_id: str) -> pd.Series:
    rows = frame[frame["publisher_id"] == publisher_id]
    assert len(rows) == 1, publisher_id
    return rows.iloc[0]


def test_it_reads_a_useeio_naics_code_with_and_without_margins(useeio: ReadResult) -> None:
    assert useeio.report.rows_read == 1016
    assert len(useeio.frame) == 2 * 1016
    steel_without = _one(useeio.frame, "331110:without margins")
    steel_with = _one(useeio.frame, "331110:with margins")
    assert steel_without["kg_co2e"] == pytest.approx(0.769)
    assert steel_with["kg_co2e"] == pytest.approx(0.787)
    for factor in (steel_without, steel_with):
        assert (factor["unit"], factor["currency"], factor["price_year"]) == ("USD", "USD", 2022)
        assert (factor["basis"], factor["scope"], factor["scope3_category"]) == ("spend", "3", 1)
        assert factor["classifications"] == ["NAICS:331110", "USEEIO:331110"]
    siding = _one(useeio.frame, "238170:with margins")
    assert "USEEIO:2334A0" in siding["classifications"]  # a cell listing several USEEIO codes
    assert (useeio.frame["kg_co2e"] >= 0).all()
    assert set(useeio.frame["region"]) == {"US"}


def test_it_reads_every_exiobase_multiplier_and_flags_zeros_and_outliers(
    exiobase: ReadResult,
) -> None:
    frame = exiobase.frame
    assert len(frame) == 9791  # 49 x 200 less 9 pairs absent from the published file
    assert frame["region"].nunique() == 49
    assert {"DE", "CN", "US", "GB", "ROW_AFRICA"} <= set(frame["region"])
    assert "WF" not in set(frame["region"])  # EXIOBASE's RoW Africa, not Wallis and Futuna
    zero = frame["flags"].map(lambda f: "zero" in f)
    outlier = frame["flags"].map(lambda f: "outlier" in f)
    assert int(zero.sum()) == 1648
    assert int(outlier.sum()) == 297
    assert (frame.loc[zero, "kg_co2e"] == 0).all()
    assert (frame.loc[outlier, "kg_co2e"] > 10).all()
    assert frame.loc[outlier, "flag_reason"].str.contains("thin region-product pair").all()
    assert (frame.loc[~zero & ~outlier, "flag_reason"] == "").all()
    assert exiobase.report.flagged == {
        frame.loc[zero, "flag_reason"].iloc[0]: 1648,
        frame.loc[outlier, "flag_reason"].iloc[0]: 297,
    }


def test_it_lets_a_user_choose_exiobase_factors_by_nace_code(exiobase: ReadResult) -> None:
    steel_at = _one(exiobase.frame, "AT:p27.a")
    assert {"EXIOBASE:p27.a", "NACE:24.10", "NACE:24.20", "NACE:24.31"} <= set(
        steel_at["classifications"]
    )
    by_nace = exiobase.frame[exiobase.frame["classifications"].map(lambda c: "NACE:24.10" in c)]
    assert {"p27.a", "p27.a.w"} <= set(by_nace["publisher_id"].str.split(":").str[1])
    assert (exiobase.frame["unit"] == "EUR").all()
    assert (exiobase.frame["kg_co2e"] >= 0).all()


def test_it_reads_the_nace_world_averages_as_global_factors() -> None:
    result = read_dataset(load_mapping(mapping_path("exiobase_nace_2022")))
    assert len(result.frame) == 44
    assert set(result.frame["region"]) == {"GLOBAL"}
    rice = _one(result.frame, "NACE:01.12")
    assert rice["kg_co2e"] == pytest.approx(3.676724468194199)
    assert rice["classifications"] == ["NACE:01.12"]
    assert rice["gwp_set"] == "AR6"
