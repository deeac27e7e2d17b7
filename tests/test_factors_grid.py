"""Electricity grid intensity (OWID, location-based) and the AIB European residual mix (pure reader)."""

from __future__ import annotations

import pandas as pd
import pytest

from factors.ingest.mapping import load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset


def _one(frame: pd.DataFrame, publisher_id: str) -> pd.Series:
    rows = frame[frame["publisher_id"] == publisher_id]
    assert len(rows) == 1, publisher_id
    return rows.iloc[0]


@pytest.fixture(scope="module")
def owid() -> ReadResult:
    return read_dataset(load_mapping(mapping_path("owid_grid_2025")))


def test_it_reads_country_years_in_kg_per_kwh(owid: ReadResult) -> None:
    frame = owid.frame
    assert {"GLOBAL", "GB", "US", "DE", "CN", "EU27"} <= set(frame["region"])
    germany = _one(frame, "DEU:2023")
    assert (germany["region"], germany["year"], germany["unit"]) == ("DE", 2023, "kWh")
    assert germany["kg_co2e"] == pytest.approx(0.36503)  # published 365.03 gCO2e/kWh
    assert _one(frame, "OWID_WRL:2023")["region"] == "GLOBAL"
    assert (frame["basis"] == "location").all()
    assert frame["kg_co2e"].between(0, 1.5).all()
    assert not frame["flags"].map(lambda f: "implausible" in f).any()


def test_it_skips_aggregates_that_are_not_a_region(owid: ReadResult) -> None:
    report = owid.report
    assert report.rows_read == 6106
    assert report.skipped["missing region"] == 301  # Ember aggregates have no code
    assert report.skipped["region: no mapping for 'OWID_HIC'"] == 24  # income groups
    assert report.ingested + report.skipped_total == 6106


def test_it_reads_the_european_residual_mix_as_market_based() -> None:
    result = read_dataset(load_mapping(mapping_path("aib_residual_mix_2021")))
    frame = result.frame
    assert result.report.tables[0].rows_filtered_out == 1039 - 98
    assert len(frame) == 2 * 98
    residual = _one(frame, "Scope2_Electricity_DE_kWh_2021:residual_mix")
    location = _one(frame, "Scope2_Electricity_DE_kWh_2021:location")
    assert (residual["kg_co2e"], residual["basis"]) == (pytest.approx(0.61784), "residual_mix")
    assert (location["kg_co2e"], location["basis"]) == (pytest.approx(0.37764), "location")
    assert residual["scope"] == "2"
    assert {"DE", "GB"} <= set(frame["region"])
    austria = _one(frame, "Scope2_Electricity_AT_kWh_2019:residual_mix")
    assert austria["kg_co2e"] == 0
    assert austria["flags"] == ["zero"]
    assert "AIB reports no residual mix" in austria["flag_reason"]
