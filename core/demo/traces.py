"""Demo traces: a fraud-scoring call chain in OTLP JSON, the collector's file-exporter format.

``write_cascade_traces`` writes the spans of ``txn-processor → fraud-scorer → feature-store
(→ redis)`` requests from ``start`` to ``end``, one export request per line, hex ids (what the
collector writes; no OpenTelemetry package needed). From ``onset`` the feature store's
``get_features`` fails ("features stale") while the scorer silently falls back to default features
(its spans stay ok, with ``features.default=true``), and as the review queue grows the transaction
processor's own calls start timing out: the cascade the Traces page and the triage step find, with
its origin in the feature store.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["write_cascade_traces"]


def _attrs(values: dict) -> list[dict]:
    out = []
    for k, v in values.items():
        if isinstance(v, bool):
            out.append({"key": k, "value": {"boolValue": v}})
        elif isinstance(v, int):
            out.append({"key": k, "value": {"intValue": str(v)}})
        else:
            out.append({"key": k, "value": {"stringValue": str(v)}})
    return out


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000) * 1000


def write_cascade_traces(folder: Path | str, start: datetime, end: datetime, onset: datetime, *,
                         every: timedelta = timedelta(minutes=1), seed: int = 7,
                         timeouts_after: timedelta = timedelta(minutes=30),
                         file_name: str = "otel-spans.jsonl", per_line: int = 400) -> Path:
    """Write the demo chain's spans to ``folder/file_name``; returns the file."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    batch: dict[str, list[dict]] = {}
    count = 0
    lines = []

    def span(tid, sid, parent, name, kind, t0, dur_ms, attrs, error=""):
        s = {"traceId": tid, "spanId": sid, "parentSpanId": parent, "name": name, "kind": kind,
             "startTimeUnixNano": str(t0), "endTimeUnixNano": str(t0 + int(dur_ms * 1e6)),
             "attributes": _attrs(attrs), "status": {"code": 2, "message": error} if error else {}}
        return s

    def flush():
        lines.append(json.dumps({"resourceSpans": [
            {"resource": {"attributes": _attrs({"service.name": svc, "deployment.environment": "prod"})},
             "scopeSpans": [{"scope": {"name": "fraud-demo"}, "spans": spans}]}
            for svc, spans in batch.items()]}, separators=(",", ":")))
        batch.clear()

    t = start
    while t < end:
        at = t + timedelta(seconds=rng.uniform(0, every.total_seconds() * 0.9))
        stale = at >= onset
        backlog = stale and at >= onset + timeouts_after
        tid = f"{rng.getrandbits(128):032x}"
        ids = [f"{rng.getrandbits(64):016x}" for _ in range(4)]
        t0 = _ns(at)
        fs_ms = rng.uniform(3, 8)
        score_ms = fs_ms + rng.uniform(4, 10)
        txn_ms = score_ms + rng.uniform(10, 30) + (rng.uniform(800, 2500) if backlog else 0)
        timeout = backlog and rng.random() < 0.7
        batch.setdefault("txn-processor", []).append(span(
            tid, ids[0], "", "POST /transactions", 2, t0, txn_ms, {"http.route": "/transactions"},
            "review queue full: timed out after 2000 ms" if timeout else ""))
        batch.setdefault("fraud-scorer", []).append(span(
            tid, ids[1], ids[0], "score", 2, t0 + 2_000_000, score_ms,
            {"model.name": "fraud-scorer", "features.default": stale}))
        batch.setdefault("feature-store", []).append(span(
            tid, ids[2], ids[1], "get_features", 2, t0 + 3_000_000, fs_ms, {"feature.set": "account_features"},
            "features stale: last refresh 02:05, older than 1 h" if stale else ""))
        batch.setdefault("feature-store", []).append(span(
            tid, ids[3], ids[2], "GET", 3, t0 + 3_500_000, fs_ms * 0.5,
            {"db.system": "redis", "db.operation": "GET"}))
        count += 4
        if count % per_line == 0:
            flush()
        t += every
    if batch:
        flush()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
