"""Report generation at scale: N activity records in one reporting period, then the report's stages.

    .venv/bin/python scripts/services.py exec -- .venv/bin/python benchmarks/report.py
    ... benchmarks/report.py --records 200000 --no-validation

Runs on a tenant ``bench`` (created if missing; its records are replaced by the generated ones):
1. seed: N records of FY2024 written with one COPY (Scope 1 30 %, Scope 2 20 % with a market-based
   figure, Scope 3 45 % over the 15 categories, 5 % outside the scopes; 50 sites, 200 activities,
   a provenance of the size an import writes), then ANALYZE, as autovacuum does after a load;
2. aggregation (target <= 2 s): what a report reads through the inventory selector,
   ``reporting.services.report_input`` (totals by scope with Scope 2 both ways, Scope 3 by
   category, dataset versions and GWP sets), timed three times, the median reported; the
   dashboard's reads (by month, site, tier, top sources too) are timed once beside it;
3. PDF (target <= 10 s): the XHTML rendered and printed by WeasyPrint;
4. iXBRL + Arelle validation (target <= 20 s): what report_build asks Arelle for: the XHTML
   rendered, put in its inline XBRL report package (.xbri), the package validated offline with the
   ESRS packages and the iXBRL viewer page written, cold (a child loads the whole taxonomy for this
   one report, as with ARELLE_WARM_SERVER off) and warm (a child forked from the validation server,
   which has the DTS loaded: what every report after the server's start costs); the server's start
   (DTS load and validation once, then the first report) is reported apart;
5. the whole generation (``report_build``, warm): the above plus the fingerprint and the records'
   ids the restatement view compares.
Wall seconds, with this process's CPU seconds beside; the load average says how shared the machine
was. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factortrace.settings")
sys.path.insert(0, str(ROOT / "scripts"))
# The ESRS packages and the VSME dump from the shared folder beside the project, as `make run` does.
from run import taxonomy_defaults  # noqa: E402

taxonomy_defaults()

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from benchmarks.tenant import BENCH_SLUG, bench_tenant  # noqa: E402
from emissions.models import ActivityRecord, OrganisationProfile, ReportingPeriod  # noqa: E402

YEAR = 2024
TARGETS = {"aggregation_s": 2.0, "pdf_s": 10.0, "ixbrl_validation_s": 20.0}
DATASETS = ("defra_2024 v1", "uba_2024 v1", "ember_2024 v1", "exiobase_3.8 v1", "supplier")
# Shares of the generated records by scope (0: outside the scopes, biogenic CO2).
SCOPES = {1: 0.30, 2: 0.20, 3: 0.45, 0: 0.05}


class Stages:
    """Wall and CPU seconds per stage."""

    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.figures[f"{name}_s"] = round(time.perf_counter() - wall, 3)
        self.figures[f"{name}_cpu_s"] = round(time.process_time() - cpu, 3)


def ensure_profile_and_period() -> ReportingPeriod:
    """The organisation profile (with an LEI, for the iXBRL) and FY2024 with its revenue."""
    if not OrganisationProfile.objects.exists():
        OrganisationProfile.objects.create(
            legal_name="Benchmark GmbH",
            country="DE",
            consolidation_approach="operational",
            base_year=YEAR,
            identifier="5299000J2N45DDNE4Y28",
            identifier_scheme="lei",
        )
    period, _ = ReportingPeriod.objects.get_or_create(
        name=f"FY{YEAR}",
        defaults={
            "start": dt.date(YEAR, 1, 1),
            "end": dt.date(YEAR, 12, 31),
            "net_revenue": 250_000_000,
            "currency": "EUR",
        },
    )
    return period


def generate(records: int, seed: int = 7) -> pa.Table:
    """The records' columns (a realistic mix, see the module docstring), as an Arrow table."""
    rng = np.random.default_rng(seed)
    scopes = rng.choice(list(SCOPES), size=records, p=list(SCOPES.values())).astype(np.int16)
    category = np.where(scopes == 3, rng.integers(1, 16, size=records), 0)
    kg = rng.lognormal(mean=4.0, sigma=1.5, size=records).round(6)
    market = np.where(scopes == 2, (kg * rng.uniform(0.0, 1.2, size=records)).round(6), np.nan)
    days = rng.integers(0, 366, size=records)
    dates = (np.datetime64(f"{YEAR}-01-01") + days).astype("datetime64[D]")
    sites = np.array([f"Werk {i:02d}" for i in range(50)])[rng.integers(0, 50, size=records)]
    activities = np.array([f"Aktivität {i:03d}" for i in range(200)])
    activity = activities[rng.integers(0, 200, size=records)]
    datasets = np.array(DATASETS)[rng.integers(0, len(DATASETS), size=records)]
    keys = np.array([f"{i:016x}" for i in rng.integers(0, 2**62, size=500)])
    provenance = np.char.add(
        np.char.add('{"v": 1, "calculation": "', keys[rng.integers(0, 500, size=records)]),
        '", "region": {"code": "DE", "why": "the site\'s country"}, '
        '"warnings": [], "factor": {"dataset": "defra_2024", "version": "1"}}',
    )
    n = records
    return pa.table(
        {
            "date": pa.array(dates),
            "activity": activity,
            "site": sites,
            "supplier": np.full(n, "Lieferant GmbH"),
            "country": np.full(n, "DE"),
            "notes": np.full(n, ""),
            "is_correction": np.zeros(n, dtype=bool),
            "quantity": rng.uniform(1, 1000, size=n).round(3),
            "unit": np.full(n, "kWh"),
            "currency": np.full(n, ""),
            "scope": scopes,
            "category": pa.array(category, mask=category == 0, type=pa.int16()),
            "tier": np.full(n, "secondary"),
            "data_quality": np.full(n, "estimated"),
            "factor_version": datasets,
            "gwp_set": np.full(n, "AR5"),
            "kg_co2e": kg,
            "kg_co2e_market": pa.array(market, mask=np.isnan(market)),
            "market_basis": np.where(scopes == 2, "contractual", ""),
            "provenance": provenance,
            "line_kind": np.full(n, "main"),
        }
    )


def seed(records: int) -> dict[str, float]:
    """Replace the tenant's records with ``records`` generated ones: one COPY, then ANALYZE."""
    stages = Stages()
    with stages.stage("generate"):
        table = generate(records)
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
    columns = ", ".join(table.column_names)
    db_table = ActivityRecord._meta.db_table
    with stages.stage("copy"), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {db_table}")
        sql = f"COPY {db_table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        with cursor.cursor.copy(sql) as copy:
            copy.write(buffer.getbuffer())
    with stages.stage("analyze"), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {db_table}")
    return stages.figures


def measure_aggregation(period: ReportingPeriod, repeat: int = 3) -> dict[str, Any]:
    from reporting.selectors import dashboard
    from reporting.services import report_input

    runs = []
    data = None
    for _ in range(repeat):
        started = time.perf_counter()
        data = report_input(period)
        runs.append(round(time.perf_counter() - started, 3))
    stages = Stages()
    with stages.stage("dashboard"):
        dashboard(period)
    assert data is not None
    return {
        "aggregation_s": statistics.median(runs),
        "aggregation_runs_s": runs,
        "records_in_period": data.totals.records,
        "location_t": round(data.totals.location_t, 3),
        **stages.figures,
        "data": data,
    }


def measure_renderings(data: Any, *, validation: bool) -> dict[str, Any]:
    from reporting.regimes import regime
    from reporting.render import REPORT_PACKAGE_EXTENSION, render_package, render_pdf, render_xhtml
    from reporting.services import _viewer_script
    from reporting.taxonomy import esrs_taxonomy
    from reporting.validate import (
        single_schema_ref,
        validate_ixbrl,
        validate_ixbrl_cold,
        warm_server_stop,
    )

    chosen = regime("esrs_e1")
    stages = Stages()
    facts, notes = chosen.datapoints(data)
    with stages.stage("pdf"):
        render_pdf(render_xhtml(chosen, data, facts, notes))
    figures: dict[str, Any] = dict(stages.figures)
    if not validation:
        return figures
    from django.conf import settings

    settings.ARELLE_WARM_SERVER = True
    packages = esrs_taxonomy().packages
    stem = "bench-esrs-e1"

    def validated(validate: Any) -> Any:
        """As report_build validates: the package around the iXBRL, the viewer page asked for."""
        package = render_package(render_xhtml(chosen, data, facts, notes), stem)
        filename = f"{stem}.{REPORT_PACKAGE_EXTENSION}"
        return validate(package, packages, filename=filename, viewer_script=_viewer_script())

    with stages.stage("ixbrl_validation_cold"):
        cold = validated(validate_ixbrl_cold)
    figures["validation_server_was_running"] = warm_server_stop(
        single_schema_ref(render_xhtml(chosen, data, facts, notes)) or "", packages
    )
    with stages.stage("ixbrl_validation_server_start"):
        first = validated(validate_ixbrl)
    with stages.stage("ixbrl_validation_warm"):
        warm = validated(validate_ixbrl)
    figures.update(stages.figures)
    # The target's figure: a report validated once the server is up (every report after its
    # start); the cold and start figures are printed beside it.
    figures["ixbrl_validation_s"] = figures["ixbrl_validation_warm_s"]
    # Arelle's own CPU seconds (its child's): steadier than wall time on a shared machine.
    figures["ixbrl_validation_cold_arelle_cpu_s"] = cold.cpu_s
    figures["ixbrl_validation_warm_arelle_cpu_s"] = warm.cpu_s
    figures["verdicts"] = {
        "cold": {"errors": len(cold.errors), "missing": len(cold.missing)},
        "server_start": {"errors": len(first.errors), "missing": len(first.missing)},
        "warm": {"errors": len(warm.errors), "missing": len(warm.missing)},
    }
    figures["warm_equals_cold"] = sorted(warm.errors + warm.warnings + warm.missing) == sorted(
        cold.errors + cold.warnings + cold.missing
    )
    figures["viewer_bytes"] = {"cold": len(cold.viewer or b""), "warm": len(warm.viewer or b"")}
    figures["viewer_warm_equals_cold"] = warm.viewer is not None and warm.viewer == cold.viewer
    return figures


def measure_build(period: ReportingPeriod) -> dict[str, float]:
    from reporting.services import report_build, report_create

    report = report_create(user=None, period_id=period.id, regime_key="esrs_e1")
    stages = Stages()
    with stages.stage("report_build"):
        report_build(report)
    return stages.figures


def run(
    records: int, *, validation: bool = True, build: bool = True, schema: str = BENCH_SLUG
) -> dict[str, Any]:
    """Seed, then measure; the figures as a dict (what the last line prints)."""
    if schema == BENCH_SLUG:
        bench_tenant()
    results: dict[str, Any] = {"records": records}
    with schema_context(schema):
        period = ensure_profile_and_period()
        results["seed"] = seed(records)
        aggregation = measure_aggregation(period)
        data = aggregation.pop("data")
        results.update(aggregation)
        results.update(measure_renderings(data, validation=validation))
        if build and validation:
            results.update(measure_build(period))
    results["targets_s"] = TARGETS
    results["met"] = {k: results[k] <= v for k, v in TARGETS.items() if k in results}
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    results["cpus"] = os.cpu_count()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--no-validation", action="store_true", help="skip Arelle")
    parser.add_argument("--no-build", action="store_true", help="skip the whole report_build")
    args = parser.parse_args()
    results = run(args.records, validation=not args.no_validation, build=not args.no_build)
    print(
        f"{results['records']:,} records seeded in {results['seed']['copy_s']:.1f} s (COPY); "
        f"aggregation {results['aggregation_s']:.2f} s (median of {results['aggregation_runs_s']}), "
        f"dashboard {results['dashboard_s']:.2f} s; PDF {results['pdf_s']:.2f} s",
        flush=True,
    )
    if "ixbrl_validation_cold_s" in results:
        print(
            f"iXBRL + Arelle: cold {results['ixbrl_validation_cold_s']:.1f} s, server start + "
            f"first {results['ixbrl_validation_server_start_s']:.1f} s, warm "
            f"{results['ixbrl_validation_warm_s']:.1f} s (Arelle CPU: cold "
            f"{results['ixbrl_validation_cold_arelle_cpu_s']} s, warm "
            f"{results['ixbrl_validation_warm_arelle_cpu_s']} s; same verdict: "
            f"{results['warm_equals_cold']}, same viewer page: "
            f"{results['viewer_warm_equals_cold']}); load average {results['load_average']}",
            flush=True,
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
