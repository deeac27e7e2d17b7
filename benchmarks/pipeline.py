"""Throughput of the import pipeline's pure core: read -> detect -> map -> normalise -> validate.

Generates realistic supplier files (a German-format CSV: ``;``, ``1.234,56``, ``31.12.2024``, a
title row and a totals row; a US-format CSV: ``,``, ``1,234.56``, ``12/31/2024``; mixed units and
currencies, about 200 distinct activity texts, some bad cells), then reads and validates each in a
fresh process and reports rows/s and peak RSS. Optionally also a 100,000-row XLSX.

    python benchmarks/pipeline.py                 # 1,000,000 CSV rows (half per format)
    python benchmarks/pipeline.py --rows 200000 --xlsx-rows 100000

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SITES = ["Werk Nord", "Werk Süd", "Lager Ost", "Zentrale", "Plant Lyon", "Plant Ohio"]
SUPPLIERS = ["Stadtwerke München", "Shell Deutschland", "DB Schenker", "Aral", "EDF", "Veolia"]
COUNTRIES = ["DE", "FR", "US", "Deutschland", "AT", "CH", "NL"]
# (activity stem, unit choices) - the units are those a real ledger or meter export uses.
ACTIVITIES = [
    ("Diesel Lkw-Flotte", ["l", "L", "Liter"]),
    ("Heizöl EL", ["l", "m3"]),
    ("Erdgas Heizung", ["kWh", "MWh", "m³"]),
    ("Strom Netzbezug", ["kWh", "MWh"]),
    ("Fernwärme", ["kWh", "MWh"]),
    ("Stahlblech S235", ["kg", "t"]),
    ("Aluminiumprofile", ["kg", "t"]),
    ("Kunststoffgranulat PP", ["kg", "t"]),
    ("Lkw-Transport Inland", ["tkm", "km"]),
    ("Seefracht Container", ["tkm"]),
    ("Dienstreise Bahn", ["Pkm", "pkm"]),
    ("Flug Kurzstrecke", ["Pkm"]),
    ("Gewerbeabfall", ["kg", "t"]),
    ("Papier Büro", ["kg"]),
    ("Benzin Pkw", ["l"]),
    ("Propan Stapler", ["kg", "l"]),
    ("Wasser", ["m3"]),
    ("Verpackung Karton", ["kg", "t"]),
    ("Schmierstoffe", ["l", "kg"]),
    ("Kältemittel R410A", ["kg"]),
]
CURRENCIES = ["EUR", "EUR", "EUR", "USD", "CHF", "GBP", "€"]


def _activity_texts() -> list[tuple[str, list[str]]]:
    """About 200 distinct descriptions: each stem with ten cost centres or variants."""
    return [(f"{stem} KSt {4100 + k}", units) for stem, units in ACTIVITIES for k in range(10)]


def _eu(values: np.ndarray) -> list[str]:
    return [f"{v:,.2f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".") for v in values]


def _us(values: np.ndarray) -> list[str]:
    return [f"{v:,.2f}" for v in values]


def generate_csv(
    path: Path,
    rows: int,
    style: str,
    seed: int = 7,
    spend_stems: tuple[str, ...] | None = None,
) -> None:
    """Write a supplier file of ``rows`` data rows in German (``de``) or US (``us``) format.

    ``spend_stems``: when given, only activities of these stems have spend rows (amount only),
    so a file can hold only rows the shipped library has a factor for."""
    rng = np.random.default_rng(seed)
    acts = _activity_texts()
    act_idx = rng.integers(0, len(acts), rows)
    act_text = np.array([a for a, _ in acts], dtype=object)[act_idx]
    unit_pick = rng.integers(0, 3, rows)
    unit_table = np.array([[u[i % len(u)] for i in range(3)] for _, u in acts], dtype=object)
    units = unit_table[act_idx, unit_pick]
    qty = np.round(rng.lognormal(6, 1.5, rows), 2)
    amount = np.round(qty * rng.uniform(0.1, 3.0, rows), 2)
    days = pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), unit="D")
    currency = np.array(CURRENCIES, dtype=object)[rng.integers(0, len(CURRENCIES), rows)]
    # Spend rows (amount only) and quantity rows (quantity + unit), as ledgers mix them.
    spend_only = rng.random(rows) < 0.2
    if spend_stems is not None:
        stems = np.array([stem for stem, _ in ACTIVITIES for _ in range(10)], dtype=object)
        spend_only &= np.isin(stems[act_idx], list(spend_stems))
    qty_text = np.array(_eu(qty) if style == "de" else _us(qty), dtype=object)
    amt_text = np.array(_eu(amount) if style == "de" else _us(amount), dtype=object)
    qty_text[spend_only] = ""
    units[spend_only] = ""
    # A few bad cells, as real files have (about 0.1%).
    bad = rng.random(rows) < 0.001
    units[bad] = "Fass"
    notes = np.full(rows, "", dtype=object)
    corr = rng.random(rows) < 0.002
    qty_text[corr & ~spend_only] = "-" + qty_text[corr & ~spend_only]
    notes[corr] = "Korrektur Vormonat" if style == "de" else "correction of previous month"
    if style == "de":
        frame = pd.DataFrame(
            {
                "Datum": days.strftime("%d.%m.%Y"),
                "Bezeichnung": act_text,
                "Menge": qty_text,
                "Einheit": units,
                "Betrag": amt_text,
                "Währung": currency,
                "Standort": np.array(SITES, dtype=object)[rng.integers(0, len(SITES), rows)],
                "Lieferant": np.array(SUPPLIERS, dtype=object)[
                    rng.integers(0, len(SUPPLIERS), rows)
                ],
                "Land": np.array(COUNTRIES, dtype=object)[rng.integers(0, len(COUNTRIES), rows)],
                "Bemerkung": notes,
            }
        )
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            fh.write("Verbrauchsdaten 2023-2024;;;;;;;;;\n")
            frame.to_csv(fh, sep=";", index=False, lineterminator="\r\n")
            fh.write("Summe;;;;;;;;;\r\n")
    else:
        frame = pd.DataFrame(
            {
                "Date": days.strftime("%m/%d/%Y"),
                "Description": act_text,
                "Quantity": qty_text,
                "UOM": units,
                "Amount": amt_text,
                "Currency": currency,
                "Site": np.array(SITES, dtype=object)[rng.integers(0, len(SITES), rows)],
                "Vendor": np.array(SUPPLIERS, dtype=object)[rng.integers(0, len(SUPPLIERS), rows)],
                "Country": np.array(COUNTRIES, dtype=object)[rng.integers(0, len(COUNTRIES), rows)],
                "Notes": notes,
            }
        )
        frame.to_csv(path, sep=",", index=False)


def generate_xlsx(path: Path, rows: int, seed: int = 11) -> None:
    """A workbook as a supplier exports it: a title row, typed numbers and dates."""
    from openpyxl import Workbook

    rng = np.random.default_rng(seed)
    acts = _activity_texts()
    act_idx = rng.integers(0, len(acts), rows)
    qty = np.round(rng.lognormal(6, 1.5, rows), 2)
    amount = np.round(qty * rng.uniform(0.1, 3.0, rows), 2)
    day0 = pd.Timestamp("2023-01-01").to_pydatetime()
    offsets = rng.integers(0, 730, rows)
    currency = np.array(CURRENCIES[:-1], dtype=object)[rng.integers(0, len(CURRENCIES) - 1, rows)]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Verbrauch")
    ws.append(["Verbrauchsdaten 2023-2024"])
    ws.append(["Datum", "Bezeichnung", "Menge", "Einheit", "Betrag", "Währung", "Standort", "Land"])
    for i in range(rows):
        text, units = acts[act_idx[i]]
        ws.append(
            [
                day0 + pd.Timedelta(days=int(offsets[i])),
                text,
                float(qty[i]),
                units[i % len(units)],
                float(amount[i]),
                currency[i],
                SITES[i % len(SITES)],
                COUNTRIES[i % len(COUNTRIES)],
            ]
        )
    wb.save(path)


def measure(paths: list[Path]) -> dict[str, object]:
    """Read + suggest a mapping + validate each file, in one fresh process (as one worker would
    run the imports one after the other). Module imports are timed apart (``setup_s``): a worker
    pays them once, not per file."""
    t = time.perf_counter()
    import emissions.engine.fx
    import emissions.engine.units  # noqa: F401
    from imports.pipeline import read_upload, suggest_mapping, validate

    setup_s = time.perf_counter() - t
    files = []
    for path in paths:
        t0 = time.perf_counter()
        read = read_upload(path, filename=path.name, max_bytes=2 * 1024**3)
        t1 = time.perf_counter()
        suggestion = suggest_mapping(read.headers, read.frame.head(200))
        result = validate(read.frame, suggestion.mapping, native_numbers=read.native_numbers)
        t2 = time.perf_counter()
        rows = len(read.frame)
        files.append(
            {
                "file": path.name,
                "rows": rows,
                "valid": result.n_valid,
                "invalid": result.n_invalid,
                "errors": len(result.errors),
                "skipped": [s.to_dict() for s in read.skipped],
                "mapped": sorted(suggestion.mapping.columns),
                "read_s": round(t1 - t0, 3),
                "validate_s": round(t2 - t1, 3),
                "seconds": round(t2 - t0, 3),
                "rows_per_s": round(rows / (t2 - t0)),
            }
        )
        del read, result
    return {
        "setup_s": round(setup_s, 3),
        "files": files,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _run_child(paths: list[Path]) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measuring {', '.join(p.name for p in paths)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="CSV rows in total (half per format)"
    )
    parser.add_argument(
        "--xlsx-rows", type=int, default=0, help="also time an XLSX of this many rows"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the files (default: a temp dir)"
    )
    parser.add_argument("--measure", type=Path, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(list(args.measure))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        half = args.rows // 2
        for style, n in (("de", args.rows - half), ("us", half)):
            if n <= 0:
                continue
            path = folder / f"activities_{style}_{n}.csv"
            if not path.exists():
                t = time.perf_counter()
                generate_csv(path, n, style)
                print(
                    f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in "
                    f"{time.perf_counter() - t:.1f} s",
                    file=sys.stderr,
                )
            paths.append(path)
        run = _run_child(paths) if paths else {"files": [], "setup_s": 0.0, "peak_rss_mb": None}
        files = run["files"]
        assert isinstance(files, list)
        total_rows = sum(int(f["rows"]) for f in files)
        total_s = sum(float(f["seconds"]) for f in files)
        setup_s = float(run["setup_s"])  # type: ignore[arg-type]
        out: dict[str, object] = {
            "benchmark": "imports.pipeline read+detect+map+normalise+validate",
            "rows": total_rows,
            "seconds": round(total_s, 3),
            "rows_per_s": round(total_rows / total_s) if total_s else None,
            "setup_s": setup_s,
            "rows_per_s_with_setup": round(total_rows / (total_s + setup_s)) if total_s else None,
            "peak_rss_mb": run["peak_rss_mb"],
            "files": files,
        }
        if args.xlsx_rows:
            path = folder / f"activities_{args.xlsx_rows}.xlsx"
            if not path.exists():
                t = time.perf_counter()
                generate_xlsx(path, args.xlsx_rows)
                print(f"generated {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            xlsx = _run_child([path])
            xlsx_files = xlsx["files"]
            assert isinstance(xlsx_files, list)
            out["xlsx"] = {
                **xlsx_files[0],
                "setup_s": xlsx["setup_s"],
                "peak_rss_mb": xlsx["peak_rss_mb"],
            }
        print(json.dumps(out))


if __name__ == "__main__":
    main()
