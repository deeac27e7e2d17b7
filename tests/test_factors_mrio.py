"""EXIOBASE from a full MRIO system: pymrio's test system, checked against M = S (I - A)^-1 by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factors.ingest.errors import IngestError
from factors.ingest.mapping import load_mapping, mapping_path
from factors.ingest.mrio import multipliers_from_iosystem, stressor_gases
from factors.ingest.reader import read_dataset

pymrio = pytest.importorskip("pymrio")
GASES = {"emission_type1": "CO2", "emission_type2": "CH4"}


@pytest.fixture(scope="module")
def system() -> object:
    io = pymrio.load_test()
    io.calc_all()
    return io


def _by_hand(io: object) -> np.ndarray:
    """Total multipliers of each stressor, per unit of money, computed directly with numpy."""
    z = io.Z.to_numpy()  # type: ignore[attr-defined]
    y = io.Y.to_numpy()  # type: ignore[attr-defined]
    f = io.emissions.F.to_numpy()  # type: ignore[attr-defined]
    output = z.sum(axis=1) + y.sum(axis=1)
    a = z / output[None, :]
    s = f / output[None, :]
    leontief = np.linalg.inv(np.eye(len(output)) - a)
    return s @ leontief


def test_it_sums_the_ghg_stressors_with_the_gwp_set(system: object) -> None:
    frame = multipliers_from_iosystem(system, gwp_set="AR5", gases=GASES, year=2022)
    m = _by_hand(system) / 1e6  # the test system is in Mill USD
    assert len(frame) == 48  # 6 regions x 8 sectors
    assert frame["co2"].to_numpy() == pytest.approx(m[0], rel=1e-9)
    assert frame["ch4"].to_numpy() == pytest.approx(28 * m[1], rel=1e-9)
    assert frame["kg_co2e"].to_numpy() == pytest.approx(m[0] + 28 * m[1], rel=1e-9)
    assert (frame["n2o"] == 0).all()
    assert set(frame["currency"]) == {"USD"}
    ar6 = multipliers_from_iosystem(system, gwp_set="AR6", gases=GASES)
    assert ar6["kg_co2e"].to_numpy() == pytest.approx(m[0] + 27.0 * m[1], rel=1e-9)


def test_it_ingests_the_multipliers_through_the_mrio_mapping(system: object) -> None:
    frame = multipliers_from_iosystem(system, gwp_set="AR5", gases=GASES, year=2022)
    result = read_dataset(
        load_mapping(mapping_path("exiobase_mrio")), frames={"MRIO multipliers": frame}
    )
    assert len(result.frame) == 48
    first = result.frame.iloc[0]
    assert (first["publisher_id"], first["unit"], first["currency"]) == ("reg1:food", "USD", "USD")
    assert (first["price_year"], first["gwp_set"], first["basis"]) == (2022, "AR5", "spend")
    assert first["kg_co2e"] == pytest.approx(frame["kg_co2e"].iloc[0])


def test_it_recognises_exiobase_stressor_names() -> None:
    index = pd.MultiIndex.from_tuples(
        [
            ("CO2 - combustion - air", "air"),
            ("CH4 - agriculture - air", "air"),
            ("N2O - combustion - air", "air"),
            ("CO2 - waste - biogenic - air", "air"),
            ("NOx - combustion - air", "air"),
            ("SF6 - air", "air"),
        ]
    )
    found = stressor_gases(index)
    assert sorted(found.values()) == ["CH4", "CO2", "N2O", "SF6"]
    assert ("CO2 - waste - biogenic - air", "air") not in found


def test_it_refuses_a_system_without_ghg_stressors(system: object) -> None:
    with pytest.raises(IngestError, match="no greenhouse-gas stressors"):
        multipliers_from_iosystem(system)
