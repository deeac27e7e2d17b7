"""What parsing in a child process costs: the same reads in this process and through the child.

Times ``read_upload`` (in this process) against ``read_upload_isolated`` (a child forked from the
reader server, under the default memory and time limits) for a small CSV and a generated
supplier CSV of ``--rows`` rows; the best of ``--repeat`` runs each. The first child read of a
process also starts the reader server: timed separately.

    python benchmarks/read_isolation.py --rows 1000000

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import generate_csv  # noqa: E402
from imports.pipeline import read_upload  # noqa: E402
from imports.pipeline.isolate import read_upload_isolated  # noqa: E402

SMALL = b"Datum;Beschreibung;Menge;Einheit\n15.01.2024;Diesel;1.234,5;L\n"


def _best(read: Callable[[Path], Any], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        read(path)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def in_process(p: Path) -> Any:
        return read_upload(p, filename=p.name, max_bytes=1 << 30)

    def child(p: Path) -> Any:
        return read_upload_isolated(p, filename=p.name, max_bytes=1 << 30)

    results: dict[str, object] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.csv"
        small.write_bytes(SMALL)
        start = time.perf_counter()
        child(small)
        results["server_start_s"] = round(time.perf_counter() - start, 2)
        results["small_in_process_ms"] = round(_best(in_process, small, 10) * 1000, 1)
        results["small_child_ms"] = round(_best(child, small, 10) * 1000, 1)
        big = Path(tmp) / "verbrauch.csv"
        generate_csv(big, args.rows, "de")
        results["file_mb"] = round(big.stat().st_size / 1e6, 1)
        results["big_in_process_s"] = round(_best(in_process, big, args.repeat), 2)
        results["big_child_s"] = round(_best(child, big, args.repeat), 2)
    print(
        f"reader server start {results['server_start_s']} s; small file "
        f"{results['small_in_process_ms']} ms in process, {results['small_child_ms']} ms in a "
        f"child; {args.rows:,} rows {results['big_in_process_s']} s in process, "
        f"{results['big_child_s']} s in a child",
        flush=True,
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
