"""`manage.py calculate`: one activity and one factor, with the provenance of the result."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def _calc(*args: str) -> str:
    out = StringIO()
    call_command("calculate", *args, stdout=out)
    return out.getvalue()


def test_it_computes_a_library_factor_with_provenance(library: None, db: None) -> None:
    result = json.loads(
        _calc(
            "--factor", "defra_2024:1_101_1011_8_1", "--quantity", "1000", "--unit", "L", "--json"
        )
    )
    assert result["kg_co2e"] == pytest.approx(2512.79)
    assert result["provenance"]["factor"]["dataset"] == "defra_2024"
    assert result["provenance"]["gwp_set"] == "AR5"


def test_it_goes_through_density_and_calorific_value(library: None, db: None) -> None:
    # DEFRA 2024 diesel per kWh (Gross CV) applied to litres: L -> kg -> kWh, and says so.
    result = json.loads(
        _calc(
            "--factor", "defra_2024:1_101_1011_6_1", "--quantity", "1000", "--unit", "L", "--json"
        )
    )
    path = result["provenance"]["conversion"]["path"]
    assert "density 833.519 kg/m3" in path
    assert "gross CV" in path
    assert result["kg_co2e"] == pytest.approx(2512.79, rel=0.01)


def test_it_accepts_a_factor_given_by_value() -> None:
    text = _calc(
        "--factor-value",
        "2.51279",
        "--factor-unit",
        "kg CO2e / L",
        "--quantity",
        "1000",
        "--unit",
        "L",
    )
    assert text.startswith("2,512.79 kg CO2e")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factor", "defra_2024:does-not-exist"], "No factor"),
        (["--factor", "nocolon"], "dataset:id"),
    ],
)
def test_it_explains_an_unknown_factor(
    library: None, db: None, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _calc(*args, "--quantity", "1", "--unit", "L")


def test_it_explains_a_unit_that_cannot_reach_the_factor() -> None:
    with pytest.raises(CommandError, match="density"):
        _calc(
            "--factor-value",
            "2.51279",
            "--factor-unit",
            "kg CO2e / L",
            "--quantity",
            "1000",
            "--unit",
            "kg",
        )
