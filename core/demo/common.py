"""Shared helpers of the seeded demo generators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

UTC = timezone.utc


def t(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def minutes(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="1min", inclusive="left", tz="UTC")


def daily_cycle(index: pd.DatetimeIndex, amplitude: float, peak_hour: float) -> np.ndarray:
    """1 + amplitude * cos(...) peaking at ``peak_hour`` UTC."""
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    return 1.0 + amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24.0)


def ramp(index: pd.DatetimeIndex, start: datetime, minutes_long: float) -> np.ndarray:
    """0 before ``start``, rising linearly to 1 over ``minutes_long`` minutes."""
    dt = (index - pd.Timestamp(start)).total_seconds().to_numpy() / 60.0
    return np.clip(dt / max(minutes_long, 1e-9), 0.0, 1.0)


def series(index: pd.DatetimeIndex, values: np.ndarray, **labels: Any) -> pd.DataFrame:
    df = pd.DataFrame({"timestamp": index, "value": np.round(values, 6)})
    for k, v in labels.items():
        df[k] = v
    return df


def log_stream(
    rng: np.random.Generator,
    start: datetime,
    end: datetime,
    mean_gap_s: float,
    make: Callable[[datetime, np.random.Generator], dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """Records at Poisson times in [start, end); ``make`` returns the record or None to skip."""
    total = (end - start).total_seconds()
    n = int(total / mean_gap_s)
    offsets = np.sort(rng.uniform(0, total, size=n))
    out = []
    for off in offsets:
        when = start + timedelta(seconds=float(off))
        rec = make(when, rng)
        if rec is not None:
            out.append(rec)
    return out


def log(when: datetime, level: str, service: str, message: str, rng: np.random.Generator, **extra: Any) -> dict:
    rec = {
        "@timestamp": zms(when),
        "log.level": level,
        "service.name": service,
        "message": message,
        "trace.id": f"{rng.integers(0, 2**63):016x}",
        "host.name": f"{service}-{rng.integers(1, 4)}",
    }
    rec.update(extra)
    return rec


def merge_logs(*streams: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    allrecs = [r for s in streams for r in s]
    allrecs.sort(key=lambda r: r["@timestamp"])
    return allrecs


def event(when: datetime, kind: str, title: str, source: str, end: datetime | None = None, **attributes: Any) -> dict:
    ev: dict[str, Any] = {"timestamp": z(when), "kind": kind, "title": title, "source": source,
                          "attributes": attributes}
    if end is not None:
        ev["end"] = z(end)
    return ev


def hourly_pipeline_runs(start: datetime, end: datetime, job: str, stop_at: datetime | None = None,
                         minute: int = 5, every_hours: int = 1) -> list[dict]:
    """A succeeded data_pipeline run every ``every_hours`` hours until ``stop_at``."""
    out = []
    at = start.replace(minute=minute, second=0, microsecond=0)
    if at < start:
        at += timedelta(hours=1)
    n = 1000
    while at < end and (stop_at is None or at < stop_at):
        if at.hour % every_hours == 0:
            out.append(event(at, "data_pipeline", f"{job} run #{n} succeeded", "airflow",
                             end=at + timedelta(minutes=7), job=job, run=n, state="success"))
        n += 1
        at += timedelta(hours=1)
    return out


def random_times(rng: np.random.Generator, start: datetime, end: datetime, n: int) -> pd.DatetimeIndex:
    """``n`` sorted uniform random UTC times in [start, end)."""
    total = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0, total, n))
    return pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s"))
