"""Small Delta tables and partition folders with a story, for the demos and the tests.

``write_delta_history`` writes real commits with ``deltalake`` (one per step: append, overwrite, a
schema merge or overwrite) and then dates each commit to the story's time: Delta records a
commit's time as ``commitInfo.timestamp`` in its JSON log file (and, for readers that use it, the
file's modification time), so both are set. Nothing else in the table is touched.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Commit:
    """One write of the story: the rows, the mode, how the schema may change, and when it happened."""

    frame: pd.DataFrame
    at: datetime
    mode: str = "append"  # append | overwrite
    schema_mode: str | None = None  # None | merge | overwrite


def write_delta_history(path: Path | str, commits: list[Commit]) -> Path:
    """Write ``commits`` as versions 0.. of a new Delta table at ``path``, dated to their ``at``."""
    from deltalake import write_deltalake

    path = Path(path)
    for c in commits:
        write_deltalake(str(path), c.frame, mode=c.mode, schema_mode=c.schema_mode)
    for version, c in enumerate(commits):
        log = path / "_delta_log" / f"{version:020d}.json"
        ms = int(c.at.timestamp() * 1000)
        lines = []
        for line in log.read_text(encoding="utf-8").splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                action["commitInfo"]["timestamp"] = ms
            lines.append(json.dumps(action, separators=(",", ":")))
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.utime(log, (c.at.timestamp(), c.at.timestamp()))
    return path


def write_partitions(path: Path | str, frames: dict[str, pd.DataFrame], key: str = "dt") -> Path:
    """Write one Parquet file per partition: ``path/KEY=VALUE/part-0.parquet``."""
    path = Path(path)
    for value, frame in frames.items():
        part = path / f"{key}={value}"
        part.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(part / "part-0.parquet", index=False)
    return path
