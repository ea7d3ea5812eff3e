"""Similar incidents and recurrence over a store of many incidents (not collected by pytest).

    python tests/bench/bench_similar.py [--incidents 500] [--events 55]

Fills a fresh SQLite store with ``incidents`` incidents (random class, one of 20 services,
``events`` timeline events each, five of them failed data checks), then prints, as the median
of five runs, the seconds of: reading every signature, ranking the similar incidents of one,
recurrence per failure pattern, and the revision check the pages make before reusing their
cached signatures — and the ratio of a page's warm read (revision check) to a cold one.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.analysis.incident_analytics import recurrence_by_pattern  # noqa: E402
from core.analysis.similar import rank_similar  # noqa: E402
from core.store import open_store  # noqa: E402
from core.store.analytics import load_guard_rails, load_signatures, signatures_revision  # noqa: E402
from core.store.incidents import create_incident  # noqa: E402
from core.store.timeline import add_events  # noqa: E402

CLASSES = ("stale_data", "schema_change", "data_drift", "infrastructure", "code_regression", "external_event")


def fill(store, n: int, events: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        t = t0 + timedelta(days=rng.randint(0, 900))
        iid = f"bench-{i}"
        create_incident(store, id=iid, title=f"incident {i}", service=f"svc-{rng.randint(0, 19)}", severity="SEV3",
                        root_cause=rng.choice(CLASSES), milestones={"started": t})
        rows = [{"timestamp": t, "kind": "alert", "title": "check failed",
                 "details": {"expectation": "expect_column_values_to_be_between", "column": f"col{rng.randint(0, 30)}"}}
                for _ in range(5)]
        rows += [{"timestamp": t, "kind": "deploy", "title": "deploy"} for _ in range(max(0, events - 5))]
        add_events(store, iid, rows)


def median_seconds(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=500)
    ap.add_argument("--events", type=int, default=55)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        fill(store, args.incidents, args.events)
        sigs = load_signatures(store)
        rails = load_guard_rails(store)
        read = median_seconds(lambda: load_signatures(store))
        rank = median_seconds(lambda: rank_similar(sigs[0], sigs))
        rec = median_seconds(lambda: recurrence_by_pattern(sigs, rails))
        rev = median_seconds(lambda: signatures_revision(store))
        store.dispose()
    print(f"{args.incidents} incidents, {args.incidents * args.events} events")
    print(f"read every signature      {read:8.3f} s")
    print(f"rank similar (one)        {rank:8.4f} s")
    print(f"recurrence per pattern    {rec:8.3f} s")
    print(f"revision check (warm)     {rev:8.4f} s  ({read / rev:.0f}x less than a cold read)")


if __name__ == "__main__":
    main()
