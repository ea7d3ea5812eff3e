"""Benchmark: the Logs page's queries through ``LocalLogSource`` against the same questions in plain DuckDB SQL.

Generates once (seeded, cached under /tmp) a JSONL file of ECS log records (default 5M,
about 1.1 GB), then in one process, side by side:

* load: ``LocalLogSource`` (JSONL -> a DuckDB table sorted by time, fields flattened,
  problems counted) against DuckDB's own ``CREATE TABLE .. AS SELECT * FROM read_json(..)``;
* every query the Logs page sends for a query text (app_pages/logs.py, ui/logs.py): the
  search (hit count and the first page of 50, newest first), the histogram (80 buckets split
  by ``log.level``) and the top values (6 per keyword/number field), each timed alone,
  against the same question written directly in SQL on the plain DuckDB table
  (text terms as ``ILIKE '%word%'``, the first page as ``ORDER BY time DESC LIMIT 51``).

Both connections get the same memory limit and thread count. Each query runs ``--repeat``
times (default 3; queries under a second up to 25 times) alternating the two sides, and the best
time of each is compared; the
answers are checked to be the same. Targets: every query within 2x of DuckDB, load within 1.5x.

Usage::

    python tests/bench/bench_logs.py                  # 5M records
    python tests/bench/bench_logs.py --records 500000 # a quicker look
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.models import TimeWindow  # noqa: E402
from core.sources.local_logs import LocalLogSource  # noqa: E402

SERVICES = [f"svc-{i}" for i in range(12)]
WORDS = ["checkout", "payment", "timeout", "cache", "miss", "retry", "order", "feature", "score", "model"]
QUERIES = ["", "timeout", "log.level:ERROR AND service.name:svc-3", 'log.level:ERROR AND "payment timeout"']


def generate(path: Path, records: int, seed: int = 7) -> None:
    """ECS-shaped JSONL records (about 230 bytes each), 37 ms apart, values drawn from a seeded hash.

    Written by DuckDB (``COPY .. (FORMAT json)``) because Python's json takes minutes for millions
    of lines; every value is a hash of the record number and the seed, so the file is the same on
    every machine and thread count.
    """
    tmp = path.with_suffix(".part")
    con = duckdb.connect()
    words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    services = "[" + ", ".join(f"'{s}'" for s in SERVICES) + "]"

    def pick(salt: int, n: int) -> str:
        return f"(hash(i * 31 + {salt} + {seed} * 1000003) % {n})::INTEGER"

    con.execute(f"""
        COPY (
          SELECT strftime(TIMESTAMP '2026-03-08 00:00:00' + to_milliseconds(37 * i), '%Y-%m-%dT%H:%M:%S.%gZ')
                   AS "@timestamp",
                 CASE WHEN {pick(1, 100)} < 80 THEN 'INFO' WHEN {pick(1, 100)} < 92 THEN 'WARN'
                      WHEN {pick(1, 100)} < 99 THEN 'ERROR' ELSE 'DEBUG' END AS "log.level",
                 {services}[{pick(2, len(SERVICES))} + 1] AS "service.name",
                 {words}[{pick(3, len(WORDS))} + 1] || ' ' || {words}[{pick(4, len(WORDS))} + 1]
                   || ' request ' || {pick(5, 10**6)} || ' took ' || {pick(6, 900)} || ' ms' AS message,
                 printf('%016x', hash(i * 31 + 7 + {seed})) AS "trace.id",
                 [200, 200, 200, 404, 500][{pick(8, 5)} + 1] AS "http.status"
          FROM range({records}) t(i) ORDER BY i
        ) TO '{tmp}' (FORMAT json)""")
    con.close()
    tmp.rename(path)


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-mb", type=int, default=None,
                    help="memory limit of both connections (default: WORKBENCH_LOG_MEMORY_MB or 1024)")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "workbench-bench-logs"))
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ecs-{args.records}.jsonl"
    if not path.exists():
        print(f"generating {path} …", flush=True)
        t = time.perf_counter()
        generate(path, args.records)
        print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    from core.config import settings

    memory_mb = args.memory_mb or settings().limits.log_memory_mb
    print(f"\n{path.name}: {path.stat().st_size / 2**20:,.0f} MiB; memory limit {memory_mb} MB per connection; "
          f"load average {os.getloadavg()[0]:.1f} (2 cores)\n", flush=True)

    # ---- load, DuckDB first (its file reads warm the page cache for both)
    duck_tmp = tempfile.TemporaryDirectory(prefix="bench-logs-duck-")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone='UTC'")
    con.execute(f"SET temp_directory='{duck_tmp.name}'")
    con.execute(f"SET memory_limit='{memory_mb}MB'")
    t = time.perf_counter()
    con.execute("CREATE TABLE logs AS SELECT * FROM read_json(?, format='newline_delimited')", [str(path)])
    duck_load = time.perf_counter() - t
    t = time.perf_counter()
    src = LocalLogSource(path, max_bytes=10**12, memory_mb=memory_mb, timeout_s=600)
    ours_load = time.perf_counter() - t
    rows: list[tuple[str, float, float]] = [("load (read the file into a table)", ours_load, duck_load)]
    print(f"{'':48}{'ours s':>9}{'DuckDB s':>10}{'ratio':>8}", flush=True)
    print(f"{rows[0][0]:48}{ours_load:9.2f}{duck_load:10.2f}{ours_load / duck_load:7.2f}x", flush=True)
    assert src.info.records == con.execute("SELECT count(*) FROM logs").fetchone()[0]

    span = src.info.span
    windows = {"whole span": span,
               "last hour": TimeWindow(span.end - timedelta(hours=1), span.end)}
    for wname, w in windows.items():
        for q in QUERIES:
            where, params = _duck_where(q, w)
            label = f"[{wname}] {q or '(empty)'}"
            print(f"\n{label}", flush=True)
            fields = [f for f, k in src.info.fields.items() if k.value in ("keyword", "number", "boolean")]
            step = _step(src, q, w)
            sides = {
                "count": (lambda: src.count(q, w),
                          lambda: con.execute(f"SELECT count(*) FROM logs WHERE {where}", params).fetchone()[0]),
                "first page (count + 50 newest)": (
                    lambda: _page_ours(src, q, w),
                    lambda: _page_duck(con, where, params)),
                "histogram (80 buckets x level)": (
                    lambda: [(b.start, b.key, b.count) for b in src.histogram(q, w, buckets=80).buckets],
                    lambda: _hist_duck(con, where, params, step)),
                f"top values ({len(fields)} fields x 6)": (
                    lambda: [(f.field, f.values) for f in src.top_values(q, w, size=6)],
                    lambda: _facets_duck(con, where, params, fields)),
            }
            for name, (ours_fn, duck_fn) in sides.items():
                t_ours, t_duck, a, b = [], [], None, None
                # at least --repeat rounds; quick queries repeat up to 25 times (or 1 s) so that one
                # scheduler hiccup on a loaded machine does not decide a millisecond comparison
                while len(t_ours) < args.repeat or (len(t_ours) < 25 and sum(t_ours) + sum(t_duck) < 1.0):
                    tt, b = best(duck_fn, 1)
                    t_duck.append(tt)
                    tt, a = best(ours_fn, 1)
                    t_ours.append(tt)
                same = _same(a, b)
                o, d = min(t_ours), min(t_duck)
                rows.append((f"{label} {name}", o, d))
                print(f"  {name:46}{o:9.3f}{d:10.3f}{o / d:7.2f}x{'' if same else '  ANSWERS DIFFER'}", flush=True)
    worst = max(rows[1:], key=lambda r: r[1] / r[2])
    print(f"\nload {ours_load / duck_load:.2f}x (target <= 1.5x); worst query {worst[1] / worst[2]:.2f}x: {worst[0]} "
          f"(target <= 2x); load average now {os.getloadavg()[0]:.1f}", flush=True)
    src.close()
    con.close()


# ------------------------------------------------------------------ the plain DuckDB side

def _duck_where(q: str, w: TimeWindow) -> tuple[str, list]:
    t = '"@timestamp"'
    base, params = f"{t} >= ? AND {t} < ?", [w.start, w.end]
    if q == "":
        return base, params
    if q == "timeout":
        return base + " AND message ILIKE '%timeout%'", params
    if q == "log.level:ERROR AND service.name:svc-3":
        return base + " AND \"log.level\" = 'ERROR' AND \"service.name\" = 'svc-3'", params
    if q == 'log.level:ERROR AND "payment timeout"':
        return base + " AND \"log.level\" = 'ERROR' AND message ILIKE '%payment timeout%'", params
    raise ValueError(q)


def _page_ours(src: LocalLogSource, q: str, w: TimeWindow):
    page = src.search(q, w, size=50)
    return page.total, [(h.timestamp, h.message) for h in page.hits]


def _page_duck(con, where: str, params: list):
    total = con.execute(f"SELECT count(*) FROM logs WHERE {where}", params).fetchone()[0]
    rows = con.execute(f'SELECT * FROM logs WHERE {where} ORDER BY "@timestamp" DESC LIMIT 51', params).fetchall()
    cols = [d[0] for d in con.description]
    ti, mi = cols.index("@timestamp"), cols.index("message")
    return total, [(r[ti], r[mi]) for r in rows[:50]]


def _step(src: LocalLogSource, q: str, w: TimeWindow) -> int:
    from core.sources.logs import pick_interval

    return pick_interval(w, 80)


def _hist_duck(con, where: str, params: list, step: int):
    ms = step * 1000
    rows = con.execute(
        f'SELECT (epoch_ms("@timestamp") // {ms}) * {ms} AS b, COALESCE("log.level", \'(none)\') AS k, count(*) '
        f"FROM logs WHERE {where} GROUP BY b, k ORDER BY b, k", params).fetchall()
    from datetime import datetime, timezone

    return [(datetime.fromtimestamp(b / 1000, tz=timezone.utc), k, n) for b, k, n in rows]


def _facets_duck(con, where: str, params: list, fields: list[str]):
    out = []
    for f in fields:
        col = '"' + f + '"'
        rows = con.execute(f"SELECT {col}, count(*) AS n FROM logs WHERE {where} AND {col} IS NOT NULL "
                           f"GROUP BY {col} ORDER BY n DESC, {col} LIMIT 6", params).fetchall()
        if rows:
            out.append((f, tuple((v, n) for v, n in rows)))
    return out


def _same(a, b) -> bool:
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], list):  # (total, [(time, message)])
        ta, ha = a
        tb, hb = b
        return ta == tb and [m for _, m in ha] == [m for _, m in hb] and \
            [x.replace(tzinfo=None) for x, _ in ha] == [x.replace(tzinfo=None) for x, _ in hb]
    return a == b


if __name__ == "__main__":
    main()
