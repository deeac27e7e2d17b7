"""EPA GHG Emission Factors Hub 2025 -> factors (pure reader)."""

from __future__ import annotations

import pandas as pd
import pytest

from factors.ingest.mapping import load_mapping, mapping_path
from factors.ingest.reader import ReadResult, read_dataset

KG_PER_LB = 0.45359237  # exact, international pound


@pytest.fixture(scope="module")
def epa() -> ReadResult:
    return read_dataset(load_mapping(mapping_path("epa_hub_2025")))


def _one(frame: pd.DataFrame, publisher_id: str) -> pd.Series:
    rows = frame[frame["publisher_id"] == publisher_id]
    assert len(rows) == 1, publisher_id
    return rows.iloc[0]


def test_it_reads_tables_1_2_6_7_8_9_10(epa: ReadResult) -> None:
    tables = {t.table.split()[1]: t.rows_read for t in epa.report.tables}
    assert tables == {"1": 63, "2": 10, "6": 28, "7": 1, "8": 7, "9": 61, "10": 12}
    counts = epa.frame.groupby("table").size()
    # Table 1: 58 fuels per unit + 63 per mmBtu; table 9: the 183 treatments EPA publishes.
    assert counts["Table 1 Stationary combustion"] == 58 + 63
    assert counts["Table 6 eGRID2023 subregions"] == 28
    assert counts["Table 9 Waste"] == 183
    assert len(epa.frame) == 362
    assert (epa.frame["kg_co2e"] >= 0).all()
    assert set(epa.frame["scope"]) == {"1", "2", "3"}
    assert {"US"} <= set(epa.frame["region"])


def test_it_converts_an_egrid_subregion_from_lb_per_mwh_with_its_gas_split(epa: ReadResult) -> None:
    srmw = _one(epa.frame, "T6:SRMW")
    # Published: CO2 1,238.311, CH4 0.132, N2O 0.019 lb/MWh; AR5 GWPs CH4 28, N2O 265.
    assert srmw["unit"] == "kWh"
    assert srmw["region"] == "SRMW"
    assert srmw["co2"] == pytest.approx(0.56168842128707)
    assert srmw["ch4"] == pytest.approx(0.0016764773995200)
    assert srmw["n2o"] == pytest.approx(0.0022838375829500)
    assert srmw["kg_co2e"] == pytest.approx(0.56564873626954)
    assert srmw["co2"] == pytest.approx(1238.311 * KG_PER_LB / 1000)
    assert (srmw["scope"], srmw["basis"], srmw["kind"], srmw["year"]) == (
        "2",
        "location",
        "grid_electricity",
        2023,
    )
    assert _one(epa.frame, "T6:US Average")["region"] == "US"


def test_it_combines_grams_of_ch4_and_n2o_with_ar5(epa: ReadResult) -> None:
    gas = _one(epa.frame, "T1:Natural Gas:Natural Gas")
    # 0.05444 kg CO2 + 0.00103 g CH4 x 28 + 0.0001 g N2O x 265 per scf
    assert gas["unit"] == "scf"
    assert gas["kg_co2e"] == pytest.approx(0.05449534)
    assert gas["ch4"] == pytest.approx(0.00103e-3 * 28)
    per_mmbtu = _one(epa.frame, "T1:Natural Gas:Natural Gas:mmBtu")
    assert per_mmbtu["unit"] == "MMBtu"
    assert per_mmbtu["cv_basis"] == "gross"
    assert per_mmbtu["kg_co2e"] == pytest.approx(53.06 + 1e-3 * 28 + 0.1e-3 * 265)
    coal = _one(epa.frame, "T1:Coal and Coke:Anthracite")
    assert coal["unit"] == "short_ton"
    assert coal["kg_co2e"] == pytest.approx(2602 + 0.276 * 28 + 0.040 * 265)


def test_it_melts_the_waste_table_and_skips_na_cells(epa: ReadResult) -> None:
    landfilled = _one(epa.frame, "T9:Mixed MSW:Landfilled")
    # 0.58 metric tons CO2e per short ton -> 580 kg CO2e per short ton
    assert landfilled["kg_co2e"] == pytest.approx(580.0)
    assert landfilled["unit"] == "short_ton"
    assert landfilled["scope3_category"] == 5
    assert "T9:Mixed MSW:Composted" not in set(epa.frame["publisher_id"])
    # 61 materials x 6 treatments = 366 cells, 183 of them NA; plus 5 kraft liquors per unit.
    assert epa.report.skipped["blank factor (not applicable)"] == 183 + 5


def test_it_reads_travel_and_transport_units(epa: ReadResult) -> None:
    car = _one(epa.frame, "T10:Passenger Car A")
    assert car["unit"] == "vehicle * mi"
    assert car["kg_co2e"] == pytest.approx(0.297 + 0.0059e-3 * 28 + 0.0053e-3 * 265)
    rail = _one(epa.frame, "T8:Rail:short ton-mile")
    assert rail["unit"] == "short_ton * mi"
    assert rail["unit_dimension"] == "freight (mass x distance)"
