"""Benchmark: peak memory of a local log source against the size of the log file it loads.

Generates (once, reused afterwards) a JSONL log file of ECS records of the given size
(default 200 MB), then, each in a fresh child process so the peaks do not mix:

* baseline: the interpreter with duckdb and the workbench imported (subtracted below);
* ours: ``LocalLogSource`` loading the file (JSONL -> in-memory DuckDB table sorted by
  time), then one search, one histogram and the top values over the whole span;
* ours again with a small ``WORKBENCH_LOG_MEMORY_MB`` (default 256): DuckDB spills to a
  temporary folder past that limit, so the peak stays near the limit whatever the file size;
* plain DuckDB: ``read_json`` of the same file into an in-memory table, the floor any
  DuckDB-based reader starts from.

It prints the peak resident memory (``ru_maxrss``) of each, the load time, and the
ratio *(peak − baseline) / file size*, which is what ``WORKBENCH_LOG_MAX_BYTES`` has to
be multiplied by to size a machine (README, docs/query-syntax.md).

Usage::

    python tests/bench/bench_logs_memory.py            # 200 MB
    python tests/bench/bench_logs_memory.py --mb 500
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import duckdb
from core.sources.local_logs import LocalLogSource
mode, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
out = {{}}
if mode == "ours":
    src = LocalLogSource(path, max_bytes=10**12)
    out["load_s"] = time.perf_counter() - t
    w = src.info.span
    t = time.perf_counter()
    out["hits"] = src.search("log.level:ERROR AND timeout", w).total
    src.histogram("", w)
    src.top_values("", w)
    out["query_s"] = time.perf_counter() - t
    out["records"] = src.info.records
elif mode == "duckdb":
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE logs AS SELECT * FROM read_json(?, format='newline_delimited', ignore_errors=true)",
                [path])
    out["load_s"] = time.perf_counter() - t
    out["records"] = con.execute("SELECT count(*) FROM logs").fetchone()[0]
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def generate(path: Path, megabytes: int, seed: int = 7) -> None:
    """ECS-like JSONL records (about 230 bytes each) until the file reaches ``megabytes``."""
    rng = random.Random(seed)
    services = [f"svc-{i}" for i in range(12)]
    levels = ["INFO"] * 80 + ["WARN"] * 12 + ["ERROR"] * 7 + ["DEBUG"]
    words = ["checkout", "payment", "timeout", "cache", "miss", "retry", "order", "feature", "score", "model"]
    t0 = datetime(2026, 3, 8, tzinfo=timezone.utc)
    target = megabytes * 1_000_000
    tmp = path.with_suffix(".part")
    with tmp.open("w") as fh:
        size, i = 0, 0
        while size < target:
            rec = {"@timestamp": (t0 + timedelta(milliseconds=37 * i)).isoformat(timespec="milliseconds")
                   .replace("+00:00", "Z"),
                   "log.level": rng.choice(levels), "service.name": rng.choice(services),
                   "message": f"{rng.choice(words)} {rng.choice(words)} request {rng.randrange(10**6)} "
                              f"took {rng.randrange(900)} ms",
                   "trace.id": f"{rng.getrandbits(64):016x}", "http.status": rng.choice([200, 200, 200, 404, 500])}
            line = json.dumps(rec) + "\n"
            fh.write(line)
            size += len(line)
            i += 1
    tmp.rename(path)


def child(mode: str, path: Path, memory_mb: int | None = None) -> dict:
    env = dict(os.environ)
    if memory_mb:
        env["WORKBENCH_LOG_MEMORY_MB"] = str(memory_mb)
    proc = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(path)],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the generated log file in MB (default 200)")
    ap.add_argument("--memory-mb", type=int, default=256,
                    help="a small WORKBENCH_LOG_MEMORY_MB to show the spilling run (default 256)")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "workbench-bench-logs"))
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"logs-{args.mb}mb.jsonl"
    if not path.exists():
        print(f"generating {path} …", flush=True)
        generate(path, args.mb)
    size_mb = path.stat().st_size / 2**20
    base = child("baseline", path)["peak_mb"]
    ours = child("ours", path)
    small = child("ours", path, args.memory_mb)
    duck = child("duckdb", path)
    print(f"\nlog file: {size_mb:,.0f} MiB, {ours['records']:,} records; baseline process {base:,.0f} MiB\n")
    print(f"{'reader':<34}{'peak MiB':>10}{'load s':>9}{'(peak-base)/file':>18}")
    for name, r in (("LocalLogSource (load + 3 queries)", ours),
                    (f"  same, WORKBENCH_LOG_MEMORY_MB={args.memory_mb}", small), ("plain DuckDB read_json", duck)):
        print(f"{name:<34}{r['peak_mb']:>10,.0f}{r['load_s']:>9.1f}{(r['peak_mb'] - base) / size_mb:>18.2f}")
    print(f"\nqueries over the whole span: {ours['query_s']:.2f} s; "
          f"ours / plain DuckDB peak above baseline: {(ours['peak_mb'] - base) / max(duck['peak_mb'] - base, 1):.2f}x; "
          f"with {args.memory_mb} MB: {small['query_s']:.2f} s, load {small['load_s'] / ours['load_s']:.2f}x slower")


if __name__ == "__main__":
    main()
