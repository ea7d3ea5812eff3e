"""Benchmark of OTLP traces at 1M spans (issue #18: load under 15 s, service map and window diff under
2 s, one trace's waterfall under 0.5 s).

Writes collector-format OTLP JSON (one export request per line, hex ids) for a four-service chain
(txn-processor → scorer → feature-store → redis, plus txn-processor → ledger-db) over two hours, the
feature store failing in the second hour; then times the workbench's answers
(:mod:`core.sources.traces_otel`, :mod:`core.analysis.traces`) next to the same questions asked in
raw DuckDB SQL (``read_json`` with ``unnest`` for the load; hand-written joins for the rest).

Usage::

    python tests/bench/bench_traces.py [--spans 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc)
CHAIN = [("txn-processor", "POST /transactions", 2), ("scorer", "score", 2), ("feature-store", "get_features", 2),
         ("feature-store", "GET", 3), ("txn-processor", "INSERT ledger", 3)]


def _attrs(d: dict) -> list[dict]:
    return [{"key": k, "value": {"stringValue": str(v)}} for k, v in d.items()]


def write_spans(folder: Path, spans: int, *, seed: int = 3, per_line: int = 1000) -> int:
    """About ``spans`` spans in ``folder/spans.jsonl``; returns how many were written."""
    rng = random.Random(seed)
    traces = spans // len(CHAIN)
    span_s = 7200.0 / traces
    fail_at = 3600.0
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    by_service: dict[str, list[dict]] = {}
    with (folder / "spans.jsonl").open("w", encoding="utf-8") as fh:
        def flush() -> None:
            req = {"resourceSpans": [{"resource": {"attributes": _attrs({"service.name": svc})},
                                      "scopeSpans": [{"scope": {"name": "bench"}, "spans": sp}]}
                                     for svc, sp in by_service.items()]}
            fh.write(json.dumps(req, separators=(",", ":")) + "\n")
            by_service.clear()

        for i in range(traces):
            t = int((T0.timestamp() + i * span_s) * 1e9)
            failing = i * span_s >= fail_at and rng.random() < 0.6
            tid = f"{rng.getrandbits(128):032x}"
            ids = [f"{rng.getrandbits(64):016x}" for _ in CHAIN]
            parents = ["", ids[0], ids[1], ids[2], ids[0]]
            for j, (svc, name, kind) in enumerate(CHAIN):
                start = t + j * 1_000_000
                dur = rng.uniform(1, 5) * 1e6 * (4 if failing and j < 3 else 1)
                error = failing and j < 3
                span = {"traceId": tid, "spanId": ids[j], "parentSpanId": parents[j], "name": name, "kind": kind,
                        "startTimeUnixNano": str(start), "endTimeUnixNano": str(int(start + dur)),
                        "attributes": _attrs({"db.system": "redis"} if j == 3 else {"http.route": name}),
                        "status": {"code": 2, "message": "feature feed stale"} if error else {}}
                by_service.setdefault(svc, []).append(span)
                written += 1
            if written % per_line < len(CHAIN):
                flush()
        if by_service:
            flush()
    return written


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


RAW_LOAD = """
CREATE OR REPLACE TABLE raw AS
WITH r AS (SELECT unnest(resourceSpans) AS rs FROM read_json('{path}', format='newline_delimited',
                                                            maximum_object_size=1000000000)),
     s AS (SELECT rs.resource.attributes[1].value.stringValue AS service, unnest(rs.scopeSpans) AS ss FROM r),
     x AS (SELECT service, unnest(ss.spans) AS sp FROM s)
SELECT sp.traceId AS trace_id, sp.spanId AS span_id, nullif(sp.parentSpanId, '') AS parent_span_id, service,
       sp.name AS name, CAST(sp.startTimeUnixNano AS BIGINT) AS start_ns, CAST(sp.endTimeUnixNano AS BIGINT) AS end_ns,
       (CAST(sp.endTimeUnixNano AS BIGINT) - CAST(sp.startTimeUnixNano AS BIGINT)) / 1e6 AS duration_ms,
       CASE sp.status.code WHEN 2 THEN 'error' ELSE 'unset' END AS status_code
FROM x"""

RAW_DIFF = """
SELECT p.service AS caller, c.service AS callee,
       CASE WHEN c.start_ns >= $ws THEN 'window' ELSE 'base' END AS period, count(*) AS calls,
       avg((c.status_code = 'error')::INT) AS error_rate, quantile_cont(c.duration_ms, 0.95) AS p95
FROM raw c JOIN raw p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
WHERE p.service <> c.service AND c.start_ns >= $bs AND c.start_ns < $we
GROUP BY ALL"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import duckdb

    from core.analysis.traces import cascade_ranking, service_map_diff, waterfall
    from core.models import TimeWindow
    from core.sources.traces_otel import load_traces

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "traces"
        t = time.perf_counter()
        n = write_spans(folder, args.spans)
        size = (folder / "spans.jsonl").stat().st_size / 1e6
        print(f"wrote {n:,} spans ({size:.0f} MB of OTLP JSON) in {time.perf_counter() - t:.1f} s")

        load_s, src = timed(lambda: load_traces(folder))
        base = TimeWindow(T0, T0 + timedelta(hours=1))
        window = TimeWindow(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
        diff_s, diff = timed(lambda: service_map_diff(src, base, window), args.repeat)
        rank_s, ranking = timed(lambda: cascade_ranking(src, window, base), args.repeat)
        tid = src.rows("SELECT trace_id FROM spans WHERE status_code = 'error' LIMIT 1")[0][0]
        wf_s, wf = timed(lambda: waterfall(src, tid), args.repeat)

        con = duckdb.connect(":memory:")
        raw_load_s, _ = timed(lambda: con.execute(RAW_LOAD.format(path=folder / "spans.jsonl")))
        ns = {"bs": int(base.start.timestamp() * 1e9), "ws": int(window.start.timestamp() * 1e9),
              "we": int(window.end.timestamp() * 1e9)}
        raw_diff_s, raw = timed(lambda: con.execute(RAW_DIFF, ns).fetchall(), args.repeat)
        raw_wf_s, raw_wf = timed(lambda: con.execute("SELECT * FROM raw WHERE trace_id = ? ORDER BY start_ns",
                                                     [tid]).fetchall(), args.repeat)
        assert len(raw) == 2 * len(diff), (raw, diff)
        assert len(raw_wf) == len(wf)

        print(f"{src.info.spans:,} spans, {src.info.traces:,} traces; origin: {ranking[0].service} "
              f"({ranking[0].category}); {len(src.warnings)} warning(s)")
        rows = [("load (OTLP JSON → DuckDB)", load_s, raw_load_s, 15.0),
                ("service map + window diff", diff_s, raw_diff_s, 2.0),
                ("cascade origin ranking", rank_s, None, 2.0),
                ("one trace's waterfall", wf_s, raw_wf_s, 0.5)]
        print(f"{'question':32s} {'workbench':>10s} {'raw DuckDB':>11s} {'target':>7s}")
        for name, ours, raw_s, target in rows:
            print(f"{name:32s} {ours:9.3f}s {('%.3fs' % raw_s) if raw_s is not None else '-':>11s} "
                  f"{target:6.1f}s {'ok' if ours < target else 'SLOW'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
