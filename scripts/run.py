"""Prepare the database and serve FactorTrace with an RQ worker beside it (called by `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def _taxonomy_defaults() -> None:
    """In development, reports read the ESRS taxonomy packages and the VSME dump from the shared
    reference folder beside the project when it is there and nothing else is configured (the
    EFRAG ESRS taxonomy is never copied into the project)."""
    shared = ROOT.parent / "shared" / "data"
    esrs = shared / "esrs_taxonomy"
    vsme = shared / "vsme"
    if not os.environ.get("XBRL_TAXONOMY_DIR") and esrs.is_dir():
        os.environ["XBRL_TAXONOMY_DIR"] = str(esrs)
        print(f"[run] reports read the ESRS taxonomy from {esrs}", file=sys.stderr)
    dump = vsme / "vsme-2026-05-01-taxonomy.json"
    if not os.environ.get("VSME_TAXONOMY_JSON") and dump.is_file():
        os.environ["VSME_TAXONOMY_JSON"] = str(dump)


def main() -> int:
    _taxonomy_defaults()
    manage("prepare")
    # Links are built with PUBLIC_PORT: serve on it unless told otherwise.
    port = os.environ.get("PUBLIC_PORT", "").strip() or "8000"
    address = os.environ.get("RUN_ADDRESS", f"0.0.0.0:{port}")
    children = [subprocess.Popen([PY, "manage.py", "runserver", address, "--noreload"], cwd=ROOT)]
    if os.environ.get("REDIS_URL"):
        children.append(
            subprocess.Popen(
                [PY, "manage.py", "rqworker", "default", "imports", "factors"], cwd=ROOT
            )
        )
    else:
        print("[run] no Redis: jobs run in the web process", file=sys.stderr)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            try:
                children[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
    finally:
        stop()
        for child in children:
            child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
