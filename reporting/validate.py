"""Validation: Arelle, offline, in a child process under resource limits. Its exit code is 0 even
when the report has errors, so the verdict is read from its log (errors, warnings), never from the
code. The child also returns the facts Arelle read back from the iXBRL."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

CPU_SECONDS = 240
MEMORY_BYTES = 4 * 1024**3
WALL_SECONDS = 300
ERROR_LEVELS = ("error", "fatal", "critical")
# EFRAG's formula linkbase lists every mandatory and expected datapoint as an existence
# assertion; Arelle logs each one missing under a "message:ea_..." code (esrs_taxonomy/NOTES.md).
# They say which ESRS datapoints a full sustainability statement still lacks (this report covers
# E1 only): kept apart as completeness findings, not counted as XBRL errors.
COMPLETENESS_PREFIX = "[message:ea_"
VIEWER_PREFIX = "[viewer:"


class ValidationUnavailableError(Exception):
    """Arelle could not run (missing taxonomy, limits hit): no verdict, say why."""


@dataclass(frozen=True)
class Verdict:
    errors: list[str]
    warnings: list[str]
    missing: list[str] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    viewer: bytes | None = None  # Arelle's iXBRL viewer page, when asked for

    @property
    def valid(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, Any]:
        return {
            "errors": self.errors[:50],
            "warnings": self.warnings[:50],
            "error_count": len(self.errors),
            "warning_count": len(self.warnings),
            "missing_count": len(self.missing),
            "missing": self.missing[:20],
            "facts": self.facts,
        }


def viewer_available() -> bool:
    """Arelle's ixbrl-viewer plugin is installed (its script is then one of our static files)."""
    import importlib.util

    return importlib.util.find_spec("iXBRLViewerPlugin") is not None


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def validate_ixbrl(
    content: bytes,
    packages: tuple[Path, ...],
    *,
    filename: str = "report.xhtml",
    viewer_script: str = "",
) -> Verdict:
    """Arelle's verdict on one iXBRL document, or an inline XBRL report package (``filename``
    ending .xbri), with the taxonomy packages given. ``viewer_script``: the URL of the iXBRL
    viewer's script; given, Arelle's ixbrl-viewer plugin also writes the viewer page."""
    with tempfile.TemporaryDirectory(prefix="ft-report-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        viewer = Path(folder) / "viewer" / "viewer.html"
        command = [sys.executable, "-m", "reporting.arelle_child", str(path)]
        if viewer_script:
            viewer.parent.mkdir()
            command += ["--viewer", str(viewer), viewer_script]
        command += [str(p) for p in packages]
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
        env["HOME"] = folder  # Arelle writes its cache and config under the user's home
        env["PYTHONPATH"] = str(settings.BASE_DIR)
        try:
            done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
                command,
                capture_output=True,
                timeout=WALL_SECONDS,
                preexec_fn=_limits,
                env=env,
                cwd=folder,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ValidationUnavailableError(
                "Arelle took too long to validate the report."
            ) from exc
        page = viewer.read_bytes() if viewer_script and viewer.is_file() else None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-500:]
        raise ValidationUnavailableError(f"Arelle stopped (exit {done.returncode}): {tail}")
    try:
        result = json.loads(done.stdout)
    except ValueError as exc:
        raise ValidationUnavailableError("Arelle's output could not be read.") from exc
    levels: dict[str, list[str]] = result["levels"]
    found = [m for level in ERROR_LEVELS for m in levels.get(level, [])]
    warnings = levels.get("warning", []) + levels.get("inconsistency", [])
    # The viewer plugin's own failures say nothing about the report: a warning, no viewer.
    warnings += [m for m in found if m.startswith(VIEWER_PREFIX)]
    found = [m for m in found if not m.startswith(VIEWER_PREFIX)]
    return Verdict(
        errors=[m for m in found if not m.startswith(COMPLETENESS_PREFIX)],
        warnings=[m for m in warnings if not m.startswith(COMPLETENESS_PREFIX)],
        missing=[m for m in found + warnings if m.startswith(COMPLETENESS_PREFIX)],
        facts=result["facts"],
        viewer=page,
    )


# The unit a numeric data type takes (DTR types 2024-01-31): GHG emissions in t CO2e, energy in
# MWh, emissions per monetary unit as t CO2e divided by a currency.
TYPE_UNITS = {
    "ghgEmissionsItemType": ("utr:tCO2e", ""),
    "energyItemType": ("utr:MWh", ""),
    "ghgEmissionsPerMonetaryItemType": ("utr:tCO2e", "iso4217:"),
}


def check_against_taxonomy(taxonomy: Any, facts: list[Any]) -> Verdict:
    """Each fact's concept exists, is not abstract, has a duration period type (every fact here is
    for the reporting period) and a unit its data type allows: the check a VSME report gets when
    no VSME taxonomy package is at hand for Arelle."""
    errors = []
    for fact in facts:
        local = fact.concept.split(":", 1)[1]
        concept = taxonomy.concepts.get(local)
        if concept is None:
            errors.append(f"[concept] {fact.concept} is not in the {taxonomy.prefix} taxonomy")
            continue
        if concept.abstract:
            errors.append(f"[abstract] {fact.concept} is abstract")
        errors.extend(
            f"[dimension] {qname} of {fact.concept} is not in the taxonomy"
            for qname in fact.dimension or ()
            if qname.split(":", 1)[-1] not in taxonomy.concepts
        )
        if concept.period_type != "duration":
            errors.append(f"[periodType] {fact.concept} is {concept.period_type}, not duration")
        kind = concept.data_type.split(":")[-1]
        numerator, denominator = TYPE_UNITS.get(kind, (None, None))
        if numerator is None:
            errors.append(f"[dataType] {fact.concept} has type {concept.data_type}")
            continue
        unit_ok = fact.unit.numerator == numerator and (
            fact.unit.denominator.startswith(denominator)
            if denominator
            else not fact.unit.denominator
        )
        if not unit_ok:
            errors.append(f"[unit] {fact.concept} ({concept.data_type}) in {fact.unit.id}")
    return Verdict(errors=errors, warnings=[])
