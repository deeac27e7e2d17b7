"""Writing the factor library (public schema): versions, idempotent re-runs, rollback, matching, commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from factors.ingest import writer
from factors.ingest.errors import IngestError
from factors.ingest.mapping import load_mapping, mapping_path
from factors.matching import match_factors
from factors.models import EmissionFactor, FactorDataset
from factors.ranking import FactorCandidate
from factors.services import factors_ingest, factors_ingest_mrio

pytestmark = pytest.mark.django_db

MAPPING = """
key: test_2024
title: Test factors
publisher: Test publisher
edition: "2024"
source_url: https://example.org/factors
licence: CC0
fields:
  scope: "1"
  region: GB
  gwp_set: AR5
  basis: activity
  kind: fuel
tables:
  - name: factors
    file: {file}
    fields:
      publisher_id: {{column: id}}
      name: {{column: name}}
      unit: {{column: unit}}
      kg_co2e: {{column: factor}}
"""


def _dataset(tmp_path: Path, rows: str) -> Path:
    data = tmp_path / "factors.csv"
    data.write_text("id,name,unit,factor\n" + rows, encoding="utf-8")
    path = tmp_path / "test_2024.yml"
    path.write_text(MAPPING.format(file=data), encoding="utf-8")
    return path


def test_it_ingests_a_dataset_and_a_rerun_changes_nothing() -> None:
    mapping = load_mapping(mapping_path("epa_hub_2025"))
    report = factors_ingest(mapping=mapping)
    assert (report.status, report.dataset_version, report.ingested) == ("ingested", 1, 362)
    dataset = FactorDataset.objects.get(key="epa_hub_2025")
    assert (dataset.factor_count, dataset.rows_read, dataset.is_current) == (362, 182, True)
    assert dataset.report["skipped"] == {"blank factor (not applicable)": 188}
    assert dataset.licence == "US Government work, public domain"
    srmw = EmissionFactor.objects.get(dataset=dataset, publisher_id="T6:SRMW")
    assert srmw.kg_co2e == pytest.approx(0.56564873626954)
    assert (srmw.co2, srmw.unit, srmw.region, srmw.source_row) == (
        pytest.approx(0.56168842128707),
        "kWh",
        "SRMW",
        25,
    )
    ids = sorted(EmissionFactor.objects.values_list("id", flat=True))
    datasets = FactorDataset.objects.count()
    again = factors_ingest(mapping=mapping)
    assert (again.status, again.dataset_version) == ("unchanged", 1)
    assert sorted(EmissionFactor.objects.values_list("id", flat=True)) == ids
    assert FactorDataset.objects.count() == datasets
    assert FactorDataset.objects.filter(key="epa_hub_2025").count() == 1


def test_it_makes_a_new_version_for_a_changed_file_and_keeps_the_old(tmp_path: Path) -> None:
    path = _dataset(tmp_path, "a,Diesel,L,2.5\nb,Gas,kWh,0.18\n")
    first = factors_ingest(mapping=load_mapping(path))
    path = _dataset(tmp_path, "a,Diesel,L,2.6\nb,Gas,kWh,0.18\nc,Coal,kg,3.1\n")
    second = factors_ingest(mapping=load_mapping(path))
    assert (first.dataset_version, second.dataset_version) == (1, 2)
    v1, v2 = FactorDataset.objects.filter(key="test_2024").order_by("version")
    assert (v1.is_current, v2.is_current) == (False, True)
    assert EmissionFactor.objects.get(dataset=v1, publisher_id="a").kg_co2e == 2.5
    assert EmissionFactor.objects.get(dataset=v2, publisher_id="a").kg_co2e == 2.6
    assert v1.factors.count() == 2
    assert v2.factors.count() == 3


def test_it_writes_nothing_for_a_corrupt_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "defra.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 not really a workbook")
    mapping = load_mapping(mapping_path("defra_2024"))
    datasets, factors = FactorDataset.objects.count(), EmissionFactor.objects.count()
    with pytest.raises(IngestError, match="cannot read workbook"):
        factors_ingest(mapping=mapping, files={"Factors by Category": corrupt})
    assert FactorDataset.objects.count() == datasets
    assert EmissionFactor.objects.count() == factors


def test_it_leaves_no_partial_rows_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(frame: object, dataset_id: int) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "copy_factors", broken)
    datasets = FactorDataset.objects.count()
    with pytest.raises(RuntimeError):
        factors_ingest(mapping=load_mapping(_dataset(tmp_path, "a,Diesel,L,2.5\n")))
    assert FactorDataset.objects.count() == datasets


def test_it_matches_library_factors_and_prefers_supplier_factors() -> None:
    factors_ingest(mapping=load_mapping(mapping_path("epa_hub_2025")))
    found = match_factors(description="Natural gas", unit="scf", region="US")
    assert found[0].factor.publisher_id == "T1:Natural Gas:Natural Gas"
    assert found[0].factor.dataset_key == "epa_hub_2025"
    assert "region US" in found[0].reasons
    assert all(c.factor.unit_dimension in {"volume", "mass", "energy"} for c in found)
    supplier = FactorCandidate(
        name="Natural gas from our supplier", unit="m ** 3", region="US", kg_co2e=1.9,
        unit_dimension="volume", source="supplier",
    )  # fmt: skip
    found = match_factors(
        description="Natural gas", unit="scf", region="US", extra_candidates=[supplier]
    )
    assert found[0].factor is supplier


def test_it_ingests_exiobase_computed_from_an_mrio_system() -> None:
    pymrio = pytest.importorskip("pymrio")
    io = pymrio.load_test()
    gases = {"emission_type1": "CO2", "emission_type2": "CH4"}
    report = factors_ingest_mrio(path=None, year=2022, io=io, gases=gases)
    assert (report.status, report.ingested) == ("ingested", 48)
    dataset = FactorDataset.objects.get(key="exiobase_2022")
    assert dataset.family == "exiobase"
    assert dataset.factors.filter(unit="USD", basis="spend").count() == 48
    again = factors_ingest_mrio(path=None, year=2022, io=pymrio.load_test(), gases=gases)
    assert again.status == "unchanged"


def test_it_runs_the_commands() -> None:
    out = StringIO()
    datasets = FactorDataset.objects.count()
    call_command("ingest_factors", "--dataset", "epa_hub", "--dry-run", "--json", stdout=out)
    dry = json.loads(out.getvalue())
    assert dry["reports"][0]["ingested"] == 362
    assert FactorDataset.objects.count() == datasets
    out = StringIO()
    call_command("ingest_factors", "--dataset", "epa_hub_2025", stdout=out)
    assert "epa_hub_2025: ingested (version 1)" in out.getvalue()
    out = StringIO()
    call_command(
        "factor_search", "natural gas", "--unit", "scf", "--region", "US", "--json", stdout=out
    )
    candidates = json.loads(out.getvalue())["candidates"]
    assert candidates[0]["publisher_id"] == "T1:Natural Gas:Natural Gas"
    assert candidates[0]["reasons"]
    with pytest.raises(CommandError, match="unknown dataset 'nope'"):
        call_command("ingest_factors", "--dataset", "nope")
    with pytest.raises(CommandError, match="ambiguous"):
        call_command("factor_search", "diesel", "--unit", "ton")


def test_it_runs_the_ingestion_job_and_reports_errors_as_data() -> None:
    from factors.services import ingest_dataset_job

    result = ingest_dataset_job(dataset_key="epa_hub")
    assert result["ok"] is True
    assert result["reports"][0]["status"] == "ingested"
    assert FactorDataset.objects.filter(key="epa_hub_2025").count() == 1
    defra_versions = FactorDataset.objects.filter(key="defra_2024").count()
    failed = ingest_dataset_job(dataset_key="defra_2024", file_path="/nonexistent/defra.xlsx")
    assert failed["ok"] is False
    assert failed["error"]["error"] == "data file not found"
    assert FactorDataset.objects.filter(key="defra_2024").count() == defra_versions
