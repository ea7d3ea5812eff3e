"""Benchmark: the drift report on data larger than memory, by engine (in-process, DuckDB, Spark).

Generates Parquet folders with DuckDB (out of core), each with a ``ts`` column and
``--columns`` feature columns (numeric, two integer, two text; some shifted after the middle of the
time range), then compares the first half of the time range with the second half, each engine in a
fresh child process; it prints wall time and peak resident memory (the child and its children, so
Spark's JVM counts) side by side:

1. **big** (``--rows``, default 1M; the full run uses 100M): DuckDB with ``--memory-limit`` against
   the in-process engine, which refuses with its message when the data would not fit;
2. **mid** (``--mid-rows``, default 1M; the full run uses 10M): in-process (exact), DuckDB and
   Spark ``local[2]``; each engine's largest KS difference from the exact figure next to the bound it
   stated, and whether its drifted columns and findings equal the in-process ones.

Usage::

    python tests/bench/bench_scale.py                                   # 1M rows, quick
    python tests/bench/bench_scale.py --rows 100000000 --mid-rows 10000000 --memory-limit 8GB
    python tests/bench/bench_scale.py --no-spark --keep --data /tmp/scale-data

The data is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, time, warnings
sys.path.insert(0, {root!r})
warnings.simplefilter("ignore")
from datetime import datetime, timezone
from core.compute import DriftOptions, run_drift
from core.errors import WorkbenchError
t = time.perf_counter()
try:
    report, choice = run_drift({path!r}, engine={engine!r}, timestamp="ts",
                               split=datetime.fromisoformat({split!r}),
                               options=DriftOptions(multivariate=False),
                               engine_options={options!r})
except WorkbenchError as exc:
    print("\n" + MARK + json.dumps({{"error": str(exc), "seconds": time.perf_counter() - t}}), flush=True)
    sys.exit(0)
cols = {{c.column: {{"drifted": c.drifted, "uncertain": bool(c.uncertain),
                     "ks": c.tests["ks"].statistic if "ks" in c.tests else None,
                     "ks_bound": c.tests["ks"].error_bound if "ks" in c.tests else None}}
        for c in report.columns}}
print("\n" + MARK + json.dumps({{"seconds": time.perf_counter() - t, "columns": cols,
                  "findings": sorted(f.kind + ":" + ",".join(f.columns) for f in report.schema),
                  "n": [report.n_reference, report.n_current]}}))
"""

SPLIT = "2026-01-01T12:00:00+00:00"


def generate(folder: Path, rows: int, columns: int, seed: int) -> float:
    """Write ``rows`` rows as Parquet files under ``folder`` with DuckDB; returns seconds."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    n_num = max(columns - 4, 1)
    exprs = []
    for i in range(n_num):
        shift = {0: 0.3, 1: 0.05, 2: 0.0}.get(i, 0.0)
        scale = 1.5 if i == 3 else 1.0
        late = f"(i >= {rows // 2})"
        normal = "(random() + random() + random() - 1.5) * 2"
        exprs.append(f"CASE WHEN {late} THEN ({normal}) * {scale} + {shift} ELSE {normal} END AS f{i:02d}")
    exprs.append(f"CAST(floor(random() * CASE WHEN i >= {rows // 2} THEN 12 ELSE 10 END) AS BIGINT) AS n_int")
    exprs.append("CAST(floor(random() * 1000) AS BIGINT) AS n_id")
    exprs.append(f"CASE WHEN random() < CASE WHEN i >= {rows // 2} THEN 0.5 ELSE 0.3 END THEN 'web' "
                 "WHEN random() < 0.5 THEN 'ios' ELSE 'android' END AS platform")
    exprs.append("CASE WHEN random() < 0.02 THEN NULL ELSE 'v' || CAST(floor(random() * 20) AS INT) END AS version")
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{folder.parent / 'duckdb-tmp'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SELECT setseed({seed / 100:.2f})")
    chunk = 10_000_000
    t = time.perf_counter()
    for part, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        con.execute(
            f"COPY (SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(CAST(i * (86400000000 // {rows}) AS BIGINT)) AS ts, "
            f"{', '.join(exprs)} FROM (SELECT range AS i FROM range({start}, {start + n}))) "
            f"TO '{folder / f'part-{part:04d}.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    con.close()
    return time.perf_counter() - t


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(d))
            rss[int(d)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


RESULT_MARK = "BENCH-RESULT "


def run_engine(path: Path, engine: str, options: dict) -> dict:
    code = CHILD.format(root=str(ROOT), path=str(path), engine=engine, split=SPLIT, options=options)
    code = f"MARK = {RESULT_MARK!r}\n" + code
    env = {**os.environ, "WORKBENCH_MAX_UPLOAD_MB": "1000000"}  # the app's upload limit: not what is measured here
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    done.set()
    watcher.join()
    try:  # the marked line: engines and libraries may print progress before it, even on the same line
        at = out.rindex(RESULT_MARK)
        result = json.loads(out[at + len(RESULT_MARK):].splitlines()[0])
    except (ValueError, IndexError):
        raw = Path(tempfile.gettempdir()) / f"bench-scale-{engine}-{os.getpid()}-{int(time.time())}.out"
        raw.write_text(out)
        result = {"error": f"the child failed (exit {proc.returncode}); its output is in {raw}"}
    result["peak_gb"] = peak / 1e9
    return result


def _row(case: str, engine: str, rows: int, r: dict, exact: dict | None) -> str:
    if "error" in r:
        return f"| {case} | {engine} | {rows:,} | {r.get('seconds', 0):.1f} | {r['peak_gb']:.2f} | refused: {r['error'][:300]} |  |  |  |"
    drifted = sorted(c for c, v in r["columns"].items() if v["drifted"])
    ks_err = bound = same = ""
    if exact and "columns" in exact:
        diffs = [abs(v["ks"] - exact["columns"][c]["ks"]) for c, v in r["columns"].items() if v["ks"] is not None]
        bounds = [v["ks_bound"] or 0.0 for v in r["columns"].values() if v["ks"] is not None]
        ks_err, bound = f"{max(diffs):.5f}", f"{max(bounds):.5f}"
        exact_drifted = sorted(c for c, v in exact["columns"].items() if v["drifted"])
        same = "yes" if drifted == exact_drifted and r["findings"] == exact["findings"] else (
            f"no: drifted {drifted} vs {exact_drifted}; findings {r['findings']} vs {exact['findings']}")
    return (f"| {case} | {engine} | {rows:,} | {r['seconds']:.1f} | {r['peak_gb']:.2f} | "
            f"{len(drifted)} drifted ({', '.join(drifted)}) | {ks_err} | {bound} | {same} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the big case (full run: 100000000; 0 skips it)")
    ap.add_argument("--mid-rows", type=int, default=1_000_000, help="rows of the three-engine case (full run: 10000000)")
    ap.add_argument("--columns", type=int, default=20, help="feature columns (besides ts)")
    ap.add_argument("--memory-limit", default="8GB", help="DuckDB memory limit in the big case")
    ap.add_argument("--data", type=Path, help="folder for the generated data (default: a temp folder)")
    ap.add_argument("--no-spark", action="store_true", help="skip Spark")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    args = ap.parse_args()
    base = args.data or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"data in {base}; disk free {shutil.disk_usage(base).free / 1e9:.0f} GB", flush=True)
    lines = ["| case | engine | rows | seconds | peak RSS GB | result | max abs(KS - exact) | stated KS bound | same as in-process |",
             "|---|---|---|---|---|---|---|---|---|"]
    try:
        big = base / f"big-{args.rows}"
        if args.rows <= 0:
            big = None
        elif not big.exists():
            print(f"generating {args.rows:,} rows x {args.columns} columns ... "
                  f"{generate(big, args.rows, args.columns, 1):.0f} s", flush=True)
        for engine, opts in (("memory", {}), ("duckdb", {"memory_limit": args.memory_limit})) if big else ():
            if engine == "memory":
                size = sum(f.stat().st_size for f in big.rglob("*.parquet"))
                print(f"big: {size / 1e9:.1f} GB of Parquet", flush=True)
            r = run_engine(big, engine, opts)
            lines.append(_row("big", engine, args.rows, r, None))
            print(lines[-1], flush=True)
        mid = base / f"mid-{args.mid_rows}"
        if args.mid_rows == args.rows:
            mid = big
        elif not mid.exists():
            print(f"generating {args.mid_rows:,} rows ... {generate(mid, args.mid_rows, args.columns, 2):.0f} s", flush=True)
        exact = run_engine(mid, "memory", {})
        lines.append(_row("mid", "memory (exact)", args.mid_rows, exact, None))
        print(lines[-1], flush=True)
        engines = [("duckdb", {"memory_limit": args.memory_limit})] + ([] if args.no_spark else [("spark", {})])
        for engine, opts in engines:
            r = run_engine(mid, engine, opts)
            lines.append(_row("mid", engine, args.mid_rows, r, exact))
            print(lines[-1], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
