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


def taxonomy_defaults() -> None:
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


def _stripe_standin(port: str) -> subprocess.Popen[bytes] | None:
    """In development with no Stripe key, the local Stripe stand-in serves Checkout (its hosted
    page "pays" and sends the signed webhook to this server), so buying credits works end to end
    without Stripe's servers. A real STRIPE_SECRET_KEY, production, or STRIPE_STANDIN=0 skips it."""
    if os.environ.get("STRIPE_SECRET_KEY") or os.environ.get("STRIPE_STANDIN", "1") == "0":
        return None
    if os.environ.get("ENVIRONMENT", "development").strip().lower() == "production":
        return None
    from stripe_standin import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET

    standin_port = os.environ.get("STRIPE_STANDIN_PORT", "12111")
    base_domain = os.environ.get("BASE_DOMAIN", "localhost")
    os.environ.update(
        STRIPE_SECRET_KEY=DEFAULT_API_KEY,
        STRIPE_WEBHOOK_SECRET=DEFAULT_WEBHOOK_SECRET,
        STRIPE_API_BASE=f"http://127.0.0.1:{standin_port}",
    )
    print(
        f"[run] no STRIPE_SECRET_KEY: payments go to the local Stripe stand-in on port "
        f"{standin_port} (no money moves)",
        file=sys.stderr,
    )
    return subprocess.Popen(
        [
            PY,
            str(ROOT / "scripts" / "stripe_standin.py"),
            "--port",
            standin_port,
            "--webhook-url",
            f"http://{base_domain}:{port}/stripe/webhook/",
        ],
        cwd=ROOT,
    )


def main() -> int:
    taxonomy_defaults()
    manage("prepare")
    # Links are built with PUBLIC_PORT: serve on it unless told otherwise.
    port = os.environ.get("PUBLIC_PORT", "").strip() or "8000"
    address = os.environ.get("RUN_ADDRESS", f"0.0.0.0:{port}")
    standin = _stripe_standin(port)
    children = [subprocess.Popen([PY, "manage.py", "runserver", address, "--noreload"], cwd=ROOT)]
    if standin is not None:
        children.append(standin)
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
