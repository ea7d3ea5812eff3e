"""Data versions: what a Distributions page click costs, against plain Parquet reads of the same rows.

    python tests/bench/bench_versions.py [--rows N] [--versions V]

Writes a Delta table of V versions (appends of N rows, one schema change) and the same rows as V
plain Parquet files, then times, best of 3: listing the history (every version's time, operation and
declared schema), reading two versions with deltalake through the workbench's source, and reading the
same rows with pandas from the Parquet files; and the whole comparison (two versions + drift report).
Prints the times side by side with their ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.analysis.versions import compare_versions  # noqa: E402
from core.demo.versions import Commit, write_delta_history  # noqa: E402
from core.sources.datasets_delta import DeltaTableSource  # noqa: E402


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--versions", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    frames = []
    for v in range(args.versions):
        f = pd.DataFrame({"amount": rng.normal(50 + v, 10, args.rows), "country": rng.choice(["DE", "FR", "US"], args.rows),
                          "clicks": rng.integers(0, 20, args.rows)})
        if v >= args.versions // 2:
            f["channel"] = rng.choice(["app", "web"], args.rows)  # the schema change half way
        frames.append(f)
    with tempfile.TemporaryDirectory() as tmp:
        table = write_delta_history(Path(tmp) / "t", [
            Commit(f, t0 + timedelta(hours=i), schema_mode="merge" if i else None) for i, f in enumerate(frames)])
        plain = []
        for i, f in enumerate(frames):
            p = Path(tmp) / f"v{i}.parquet"
            f.to_parquet(p, index=False)
            plain.append(p)
        a, b = args.versions // 2 - 1, args.versions - 1
        history = best(lambda: DeltaTableSource(table).history())
        delta_read = best(lambda: (DeltaTableSource(table).read(version=a), DeltaTableSource(table).read(version=b)))
        plain_read = best(lambda: (pd.concat([pd.read_parquet(p) for p in plain[: a + 1]]),
                                   pd.concat([pd.read_parquet(p) for p in plain[: b + 1]])))
        src = DeltaTableSource(table)
        ref, cur = src.read(version=a), src.read(version=b)
        compare = best(lambda: compare_versions("t", str(a), ref, str(b), cur, columns_a=src.columns_at(a),
                                                columns_b=src.columns_at(b)), repeat=1)
    rows_a, rows_b = (a + 1) * args.rows, (b + 1) * args.rows
    print(f"Delta table: {args.versions} versions of {args.rows:,} rows; versions {a} ({rows_a:,} rows) and "
          f"{b} ({rows_b:,} rows) compared")
    print(f"  history (times, operations, schemas):   {history * 1000:8.1f} ms")
    print(f"  two versions read, deltalake:           {delta_read * 1000:8.1f} ms")
    print(f"  the same rows, pandas over Parquet:     {plain_read * 1000:8.1f} ms   "
          f"(deltalake / plain = {delta_read / plain_read:.2f})")
    print(f"  drift report + schema diff of the two:  {compare * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
