"""Factor library services: ingest a shipped dataset, a replacement file, or EXIOBASE from MRIO.

`factors_ingest` and `factors_ingest_mrio` are what the CLI, `make run` and the admin's RQ job
(`ingest_dataset_job`) call. Each reads and checks everything before touching the database, then
writes one dataset version in one transaction; identical inputs change nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import replace
from pathlib import Path
from typing import Any

from factors.ingest.errors import IngestError
from factors.ingest.mapping import Mapping, load_mapping, mapping_path, shipped_mappings
from factors.ingest.reader import file_sha256, read_dataset
from factors.ingest.report import IngestionReport
from factors.library_index import library_index_clear

Progress = Callable[[str, float], None]
MRIO_MAPPING = "exiobase_mrio"
# Per database: a test database and a development one may share a Redis.
INGEST_RESULT_KEY = "factors:ingest:{database}:last:{key}"
INGEST_RESULT_TTL = 30 * 24 * 3600
logger = logging.getLogger(__name__)


def _noop(step: str, fraction: float) -> None:
    return None


def available_mappings() -> list[Mapping]:
    """Every shipped dataset mapping that reads files (not the MRIO template)."""
    mappings = [load_mapping(path) for path in shipped_mappings()]
    return [m for m in mappings if m.source == "files"]


def select_mappings(selectors: list[str] | None) -> list[Mapping]:
    """Mappings by dataset key (defra_2024) or family (defra); all of them when none is given."""
    mappings = available_mappings()
    if not selectors:
        return mappings
    chosen: list[Mapping] = []
    for selector in selectors:
        found = [m for m in mappings if selector in (m.key, m.family)]
        if not found:
            known = ", ".join(sorted({m.key for m in mappings} | {m.family for m in mappings}))
            raise IngestError(f"unknown dataset {selector!r} (known: {known})")
        chosen.extend(m for m in found if m not in chosen)
    return chosen


def factors_ingest(
    *,
    mapping: Mapping,
    files: MappingABC[str, Path] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> IngestionReport:
    """Read, check and (unless dry_run) store one dataset; returns its report.

    `files` replaces table files by table name (a single-table dataset takes `{table: path}`).
    Raises IngestError (nothing written) for a missing or malformed file.
    """
    from factors.ingest.writer import DatasetIdentity, find_version, write_dataset

    progress = progress or _noop
    files = dict(files or {})
    paths = [files.get(t.name) or mapping.table_path(t) for t in mapping.tables]
    for table, path in zip(mapping.tables, paths, strict=True):
        if not path.is_file():
            raise IngestError("data file not found", file=str(path), sheet=table.sheet or "")
    identity = DatasetIdentity(mapping.key, file_sha256(paths), mapping.sha256)
    if not dry_run:
        existing = find_version(identity)
        if existing is not None:
            progress("unchanged", 1.0)
            return IngestionReport(
                dataset=mapping.key, status="unchanged", dataset_version=existing.version
            )
    progress("reading", 0.1)
    result = read_dataset(mapping, files=files)
    if dry_run:
        result.report.status = "dry run (nothing written)"
        progress("done", 1.0)
        return result.report
    progress("writing", 0.6)
    report = write_dataset(mapping, result, identity)
    library_index_clear()
    progress("done", 1.0)
    return report


def factors_ingest_mrio(
    *,
    path: str | Path | None,
    year: int,
    gwp_set: str = "AR5",
    extension: str | None = None,
    io: Any = None,
    gases: MappingABC[Any, str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> IngestionReport:
    """EXIOBASE from the full database: parse the release, sum GHG stressors, store `exiobase_<year>`.

    `io` passes an already parsed pymrio system instead of `path` (tests use `pymrio.load_test()`).
    """
    from factors.ingest.mrio import multipliers_from_iosystem, parse_exiobase_zip
    from factors.ingest.writer import DatasetIdentity, find_version, write_dataset

    progress = progress or _noop
    template = load_mapping(mapping_path(MRIO_MAPPING))
    mapping = replace(
        template,
        key=f"exiobase_{year}",
        edition=str(year),
        version=f"{template.version}, {gwp_set}",
    )
    settings_text = (
        f"year={year};gwp={gwp_set};extension={extension};gases={sorted((gases or {}).items())}"
    )
    source_hash = file_sha256([Path(path)]) if path is not None and Path(path).is_file() else ""
    identity: DatasetIdentity | None = None
    if io is None:
        if path is None:
            raise IngestError("give the EXIOBASE release with --from-mrio PATH")
        if source_hash:
            identity = DatasetIdentity(
                mapping.key,
                hashlib.sha256(f"{source_hash};{settings_text}".encode()).hexdigest(),
                mapping.sha256,
            )
            existing = None if dry_run else find_version(identity)
            if existing is not None:
                return IngestionReport(
                    dataset=mapping.key, status="unchanged", dataset_version=existing.version
                )
        progress("parsing EXIOBASE", 0.05)
        io = parse_exiobase_zip(path)
    progress("computing multipliers", 0.3)
    frame = multipliers_from_iosystem(
        io, gwp_set=gwp_set, extension=extension, gases=gases, year=year
    )
    progress("reading", 0.6)
    result = read_dataset(mapping, frames={mapping.tables[0].name: frame})
    if identity is None:
        identity = DatasetIdentity(
            mapping.key,
            hashlib.sha256(f"{result.file_sha256};{settings_text}".encode()).hexdigest(),
            mapping.sha256,
        )
    if dry_run:
        result.report.status = "dry run (nothing written)"
        return result.report
    progress("writing", 0.8)
    report = write_dataset(mapping, result, identity)
    library_index_clear()
    progress("done", 1.0)
    return report


def _rq_progress(step: str, fraction: float) -> None:
    """Record progress on the running RQ job (the admin shows job.meta['progress'])."""
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency; kept for in-process runs
        return
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = {"step": step, "fraction": fraction}
        job.save_meta()


def ingest_dataset_job(
    *,
    dataset_key: str,
    file_path: str | None = None,
    dry_run: bool = False,
    from_mrio: str | None = None,
    year: int | None = None,
    gwp_set: str = "AR5",
) -> dict[str, Any]:
    """RQ job (public schema): ingest one dataset key or family; returns the report(s) as JSON."""
    try:
        if from_mrio is not None:
            if year is None:
                raise IngestError("--from-mrio needs --year")
            reports = [
                factors_ingest_mrio(
                    path=from_mrio,
                    year=year,
                    gwp_set=gwp_set,
                    dry_run=dry_run,
                    progress=_rq_progress,
                )
            ]
        else:
            mappings = select_mappings([dataset_key])
            files = _file_override(mappings, file_path)
            reports = [
                factors_ingest(mapping=m, files=files, dry_run=dry_run, progress=_rq_progress)
                for m in mappings
            ]
    except IngestError as exc:
        return _remember(dataset_key, {"ok": False, "error": exc.as_dict()})
    return _remember(dataset_key, {"ok": True, "reports": [r.as_dict() for r in reports]})


def _remember(dataset_key: str, result: dict[str, Any]) -> dict[str, Any]:
    """Keep the job's result where the admin's progress page finds it, in-process or from RQ."""
    from django.core.cache import cache
    from django.utils import timezone

    stamped = {**result, "dataset_key": dataset_key, "finished_at": timezone.now().isoformat()}
    try:
        cache.set(_result_key(dataset_key), stamped, INGEST_RESULT_TTL)
    except Exception:  # the result is also the job's return value; the cache is a convenience
        logger.warning("cannot store the ingestion result", exc_info=True)
    return result


def last_ingestion_result(dataset_key: str) -> dict[str, Any] | None:
    """The result of the last ingestion job for a dataset key (kept for INGEST_RESULT_TTL)."""
    from django.core.cache import cache

    found: dict[str, Any] | None = cache.get(_result_key(dataset_key))
    return found


def _result_key(dataset_key: str) -> str:
    from django.db import connection

    return INGEST_RESULT_KEY.format(database=connection.settings_dict["NAME"], key=dataset_key)


def _file_override(mappings: list[Mapping], file_path: str | None) -> dict[str, Path]:
    if file_path is None:
        return {}
    if len(mappings) != 1 or len(mappings[0].tables) != 1:
        raise IngestError("--file replaces the file of one single-table dataset; name that dataset")
    return {mappings[0].tables[0].name: Path(file_path)}


def file_override(mappings: list[Mapping], file_path: str | None) -> dict[str, Path]:
    """Table -> replacement file for `--file` (only for one single-table dataset)."""
    return _file_override(mappings, file_path)
