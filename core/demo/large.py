"""A seeded bundle with many change events, for import benchmarks and the import-safety tests.

``write_large_bundle`` streams ``events.jsonl`` line by line, so a bundle of millions of
events is written in seconds without holding the events in memory.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.models import BUNDLE_EVENT_KINDS, EventKind

START = datetime(2024, 5, 1, tzinfo=timezone.utc)
_KINDS = [k.value for k in BUNDLE_EVENT_KINDS if k != EventKind.MILESTONE]


def write_large_bundle(path: Path | str, events: int, *, incident_id: str = "bulk-import",
                       title: str = "Bulk import benchmark", seed: int = 0,
                       extra_lines: list[str] | None = None) -> Path:
    """Write a valid bundle directory with ``events`` change events (plus two milestones).

    Args:
        path: the bundle directory to create.
        events: number of change events.
        incident_id: the manifest's id.
        title: the manifest's title.
        seed: seed of the generated kinds, sources and attributes.
        extra_lines: raw JSON lines appended to ``events.jsonl`` as they are (for hostile input).

    Returns:
        The bundle directory.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    span = max(events, 1)
    end = START + timedelta(seconds=span + 3600)
    manifest = {
        "format": "incident-bundle/1", "id": incident_id, "title": title, "service": "bulk",
        "summary": f"{events} generated change events", "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": START.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    (root / "bundle.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (root / "metrics").mkdir(exist_ok=True)
    with (root / "metrics" / "kpi.csv").open("w", encoding="utf-8") as fh:
        fh.write("timestamp,value\n")
        for h in range(int((end - START).total_seconds() // 3600) + 1):
            fh.write(f"{(START + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%M:%SZ')},{1.0 + (h % 24) / 100}\n")
    rng = random.Random(seed)
    base = START.timestamp()
    with (root / "events.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"timestamp": "2024-05-01T00:00:00Z", "kind": "milestone",
                             "title": "started", "attributes": {"milestone": "started"}}) + "\n")
        for i in range(events):
            ts = datetime.fromtimestamp(base + i, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            kind = _KINDS[rng.randrange(len(_KINDS))]
            fh.write(
                f'{{"timestamp": "{ts}", "kind": "{kind}", "title": "{kind} #{i} on host-{rng.randrange(64)}", '
                f'"source": "gen-{rng.randrange(8)}", "attributes": {{"n": {i}, '
                f'"score": {rng.random():.6f}, "host": "host-{rng.randrange(64)}"}}}}\n'
            )
        fh.write(json.dumps({"timestamp": (START + timedelta(seconds=span)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "kind": "milestone", "title": "detected",
                             "attributes": {"milestone": "detected"}}) + "\n")
        for line in extra_lines or ():
            fh.write(line.rstrip("\n") + "\n")
    return root
