"""Validation: Arelle, offline, in a child process under resource limits. Its exit code is 0 even
when the report has errors, so the verdict is read from its log (errors, warnings), never from the
code. The child also returns the facts Arelle read back from the iXBRL and, when asked, writes the
iXBRL viewer page (Arelle's ixbrl-viewer plugin) from the report it loaded.

With ``settings.ARELLE_WARM_SERVER`` (the default), the child is forked from a long-lived server
that has loaded and validated the taxonomy's DTS once (reporting.arelle_child: same verdict and
viewer page, for an iXBRL document or a report package around one, most of the time saved). One server per entry point and packages, reached on a Unix socket in a private
folder, so every process (web, worker, its work-horses, the CLI) shares it; it exits after
``WARM_IDLE_SECONDS`` without a request. Without the setting, without taxonomy packages, for a
document that does not name one schema, or for a package that does not hold one iXBRL document,
the child loads everything itself (cold)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
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
    cpu_s: float | None = None  # Arelle's CPU seconds for this report (its child's)

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
    viewer's script; given, Arelle's ixbrl-viewer plugin also writes the viewer page. Warm when
    the setting allows and the document names one schema, cold otherwise: the same verdict."""
    entry = single_schema_ref(_inline_document(content, filename)) if packages else None
    if getattr(settings, "ARELLE_WARM_SERVER", False) and entry is not None:
        return _verdict(_validate_warm(content, filename, viewer_script, entry, packages))
    return _verdict(_validate_cold(content, filename, viewer_script, packages))


def validate_ixbrl_cold(
    content: bytes,
    packages: tuple[Path, ...],
    *,
    filename: str = "report.xhtml",
    viewer_script: str = "",
) -> Verdict:
    """Everything loaded for this one file (the benchmark's and tests' reference)."""
    return _verdict(_validate_cold(content, filename, viewer_script, packages))


def _inline_document(content: bytes, filename: str) -> bytes:
    """The iXBRL document itself: the file, or a report package's only report, an .xhtml file
    directly in its reports folder (b"" for any other package: a cold run takes those)."""
    if not filename.endswith(".xbri"):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [
                n
                for n in archive.namelist()
                if n.split("/")[1:2] == ["reports"] and not n.endswith("/")
            ]
            if len(names) == 1 and names[0].count("/") == 2 and names[0].endswith(".xhtml"):
                return archive.read(names[0])
            return b""
    except (zipfile.BadZipFile, KeyError):
        return b""


def _viewer_page(folder: str, viewer_script: str) -> Path | None:
    """Where Arelle writes the viewer page (None: not asked for)."""
    if not viewer_script:
        return None
    page = Path(folder) / "viewer" / "viewer.html"
    page.parent.mkdir()
    return page


def _validate_cold(
    content: bytes, filename: str, viewer_script: str, packages: tuple[Path, ...]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ft-report-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        viewer = _viewer_page(folder, viewer_script)
        command = [sys.executable, "-m", "reporting.arelle_child", str(path)]
        if viewer is not None:
            command += ["--viewer", str(viewer), viewer_script]
        command += [str(p) for p in packages]
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
        env["HOME"] = folder  # Arelle writes its cache and config under the user's home
        env["PYTHONPATH"] = str(settings.BASE_DIR)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
        page = viewer.read_bytes() if viewer is not None and viewer.is_file() else None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-500:]
        raise ValidationUnavailableError(f"Arelle stopped (exit {done.returncode}): {tail}")
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise ValidationUnavailableError("Arelle's output could not be read.") from exc
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 3)
    result["viewer"] = page
    return result


def _verdict(result: dict[str, Any]) -> Verdict:
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
        viewer=result.get("viewer"),
        cpu_s=result.get("cpu_s"),
    )


# ---- the warm server -----------------------------------------------------------------------

WARM_IDLE_SECONDS = 600
_SCHEMA_REF = re.compile(rb"<link:schemaRef\b[^>]*\bxlink:href=\"([^\"]+)\"")


def single_schema_ref(xhtml: bytes) -> str | None:
    """The document's one schemaRef (the DTS entry point a warm server is loaded with)."""
    refs = set(_SCHEMA_REF.findall(xhtml))
    if len(refs) != 1 or b"linkbaseRef" in xhtml:
        return None
    ref = refs.pop().decode("ascii", errors="replace")
    return ref if ref.startswith("https://") else None


def _server_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"ft-arelle-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise ValidationUnavailableError(f"{folder} is not private to this user.")
    return folder


def _server_socket(entry: str, packages: tuple[Path, ...]) -> Path:
    """The socket of the server for this entry point and these package files (as they are now:
    a replaced package gets a new server)."""
    # The code too: two checkouts of the project on one machine do not share a server, and a
    # changed server module gets a new one.
    key = hashlib.sha256(f"{settings.BASE_DIR}\0{entry}".encode())
    key.update(Path(__file__).with_name("arelle_child.py").read_bytes())
    for package in packages:
        stat = package.stat()
        key.update(f"\0{package.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return _server_folder() / f"{key.hexdigest()[:24]}.sock"


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def _start_server(path: Path, entry: str, packages: tuple[Path, ...]) -> None:
    home = path.with_suffix(".home")
    home.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env["HOME"] = str(home)  # Arelle writes its cache and config under the user's home
    env["PYTHONPATH"] = str(settings.BASE_DIR)
    command = [sys.executable, "-m", "reporting.arelle_child", "--serve", str(path), entry]
    command += [str(WARM_IDLE_SECONDS), *(str(p) for p in packages)]
    subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_server_limits,
        env=env,
        cwd=str(home),
        start_new_session=True,  # outlives the process that started it (an RQ work-horse)
    )


def _server_limits() -> None:
    # The server's own CPU: the DTS load and validation; each child limits its own CPU time.
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _server_connection(entry: str, packages: tuple[Path, ...]) -> socket.socket:
    """A connection to the running server, started (and waited for) when there is none."""
    path = _server_socket(entry, packages)
    conn = _connect(path)
    if conn is not None:
        return conn
    lock = path.with_suffix(".lock")
    with lock.open("a") as handle:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX)  # one starter; the others wait for its socket
        try:
            conn = _connect(path)
            if conn is not None:
                return conn
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a dead server's socket
            _start_server(path, entry, packages)
            deadline = time.monotonic() + WALL_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.2)
                conn = _connect(path)
                if conn is not None:
                    return conn
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    raise ValidationUnavailableError("Arelle's validation server did not start in time.")


def warm_server_stop(entry: str, packages: tuple[Path, ...]) -> bool:
    """Stop the running server for this entry point and packages, if any (the benchmark times a
    start); whether one was running."""
    path = _server_socket(entry, packages)
    conn = _connect(path)
    if conn is None:
        return False
    with conn:
        pid, uid, _gid = struct.unpack(
            "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        )
    if uid != os.getuid():
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def _validate_warm(
    content: bytes, filename: str, viewer_script: str, entry: str, packages: tuple[Path, ...]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ft-report-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        viewer = _viewer_page(folder, viewer_script)
        conn = _server_connection(entry, packages)
        with conn:
            conn.settimeout(WALL_SECONDS)
            request = {
                "path": str(path),
                "cpu_seconds": CPU_SECONDS,
                "viewer": str(viewer or ""),
                "script_url": viewer_script,
            }
            try:
                conn.sendall(json.dumps(request).encode() + b"\n")
                chunks = []
                while chunk := conn.recv(1 << 16):
                    chunks.append(chunk)
            except TimeoutError as exc:
                raise ValidationUnavailableError(
                    "Arelle took too long to validate the report."
                ) from exc
        page = viewer.read_bytes() if viewer is not None and viewer.is_file() else None
    try:
        result: dict[str, Any] = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise ValidationUnavailableError("Arelle stopped before it answered.") from exc
    if "failed" in result:
        raise ValidationUnavailableError(f"Arelle stopped: {result['failed']}")
    # The warm child names the report's files as a cold run does (relative to the report); any
    # message that still holds the temporary folder's path gets it out (the folder is gone).
    result["levels"] = {
        level: [m.replace(f"{folder}/", "") for m in messages]
        for level, messages in result.get("levels", {}).items()
    }
    result["viewer"] = page
    return result


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
