"""Triage step ``metrics``: the other metrics of the bundle (latency, errors, saturation, traffic) at the onset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

import numpy as np
import pandas as pd

from core.models import RootCause, format_duration
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import INFRA_METRIC_WORDS, SYMPTOM_DELAY, TRAFFIC_METRIC_WORDS, around, clip

NAME = "metrics"
TITLE = "Latency, errors and traffic"


@dataclass(frozen=True)
class MetricShift:
    """A non-KPI metric around the onset, compared with the same time one day earlier when possible.

    ``before``/``after`` are medians of the metric in the 6 hours before and after the
    onset; ``z`` is the shift of the (day-over-day) difference in units of its robust noise;
    ``delay`` is when the metric first moved clearly, relative to the onset.
    """

    name: str
    kind: str  # infra | traffic
    before: float
    after: float
    z: float
    relative: float | None
    delay: timedelta | None
    day_over_day: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "before": self.before, "after": self.after,
                "z": round(self.z, 2), "relative": self.relative, "day_over_day": self.day_over_day,
                "delay_s": self.delay.total_seconds() if self.delay is not None else None}


@dataclass(frozen=True)
class MetricFinding:
    shifts: tuple[MetricShift, ...]
    step: StepResult


def metric_shift(frame: pd.DataFrame, onset: datetime, *, name: str = "", kind: str = "infra",
                 span: timedelta = timedelta(hours=6)) -> MetricShift | None:
    """How a metric moved at ``onset`` (5-minute means; day-over-day differences remove a daily cycle).

    Returns None when there are too few points on either side.
    """
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    vals = pd.to_numeric(frame["value"], errors="coerce")
    g = pd.Series(vals.to_numpy(), index=ts).dropna()
    if g.empty:
        return None
    g = g.groupby(level=0).mean().resample("5min").mean().dropna()
    at = pd.Timestamp(onset)
    lo, hi = at - span, at + span
    raw_before = g[(g.index >= lo) & (g.index < at)]
    raw_after = g[(g.index >= at + timedelta(minutes=10)) & (g.index < hi)]
    if len(raw_before) < 5 or len(raw_after) < 5:
        return None
    yesterday = g.reindex(g.index - pd.Timedelta(days=1))
    yesterday.index = g.index
    dod = bool(yesterday[(g.index >= lo) & (g.index < hi)].notna().mean() > 0.8)
    d = (g - yesterday).dropna() if dod else g
    before = d[(d.index >= lo) & (d.index < at)]
    after = d[(d.index >= at + timedelta(minutes=10)) & (d.index < hi)]
    if len(before) < 5 or len(after) < 5:
        return None
    mb, ma = float(before.median()), float(after.median())
    mad = float((before - mb).abs().median()) * 1.4826
    scale = mad if mad > 0 else (float(before.std()) or abs(float(raw_before.median())) * 0.01 or 1.0)
    z = (ma - mb) / scale
    level = float(raw_before.median())
    rel = (ma - mb) / abs(level) if level else None
    delay = None
    if abs(z) >= 4:
        thr = max(4 * scale, 0.2 * abs(ma - mb))
        watch = d[(d.index >= at - timedelta(hours=1)) & (d.index < hi)]
        moved = ((watch - mb) * np.sign(ma - mb) > thr).astype(int)
        run = moved.rolling(3).sum()
        hit = run[run >= 3]
        if len(hit):
            delay = (hit.index[0] - pd.Timedelta(minutes=10)).to_pydatetime() - onset
    return MetricShift(name, kind, level, float(raw_after.median()), z, rel, delay, dod)


def analyse_metrics(metrics: Mapping[str, pd.DataFrame] | None, onset: datetime, *, kpi: str = "") -> MetricFinding:
    """Shifts of the latency/error/saturation and traffic metrics at the onset (the KPI excluded)."""
    title = TITLE
    others = {k: v for k, v in (metrics or {}).items() if k != kpi}
    if not others:
        return MetricFinding((), StepResult(NAME, title, "skipped",
                                            "no metrics besides the KPI: latency, errors and traffic not checked"))
    shifts = []
    for name, frame in sorted(others.items()):
        kind = "infra" if INFRA_METRIC_WORDS.search(name) else "traffic" if TRAFFIC_METRIC_WORDS.search(name) else None
        if kind is None or not {"timestamp", "value"} <= set(frame.columns):
            continue
        got = metric_shift(frame, onset, name=name, kind=kind)
        if got is not None:
            shifts.append(got)
    moved = [s for s in shifts if abs(s.z) >= 5 and s.relative is not None and abs(s.relative) >= 0.15]
    summary = (f"{len(shifts)} metric(s) compared 6 h before and after the onset; moved: "
               + (", ".join(f"{s.name} {s.relative:+.0%}" for s in moved) if moved else "none"))
    return MetricFinding(tuple(shifts), StepResult(NAME, title, "ok", summary,
                                                   {"shifts": [s.to_dict() for s in shifts]}))



def metric_signals(mf: MetricFinding, onset: datetime) -> tuple[list[Signal], bool]:
    out: list[Signal] = []
    late = False
    win = around(onset)
    best_infra: Signal | None = None
    best_traffic: Signal | None = None
    for s in mf.shifts:
        if abs(s.z) < 5 or s.relative is None:
            continue
        if s.kind == "infra" and s.relative >= 0.2:
            strength = clip((s.relative - 0.1) / 0.9)
            early_up = s.delay is None or s.delay <= SYMPTOM_DELAY
            if not early_up:
                late = True
                strength *= 0.4
            sig = signal("infra_metric", strength,
                          f"{s.name} median {s.before:.4g} → {s.after:.4g} ({s.relative:+.0%}, z {s.z:.1f})"
                          + ("" if early_up else f"; it rose only {format_duration(s.delay)} after the onset"),
                          step=NAME, view="metrics", title=f"{s.name} rose", window=win,
                          data={**s.to_dict(), "metric": s.name})
            if best_infra is None or sig.contribution > best_infra.contribution:
                best_infra = sig
        elif s.kind == "traffic" and abs(s.relative) >= 0.15:
            sig = signal("traffic_shift", clip((abs(s.relative) - 0.1) / 0.4),
                          f"{s.name} median {s.before:.4g} → {s.after:.4g} ({s.relative:+.0%})",
                          step=NAME, view="metrics", title=f"{s.name} changed", window=win,
                          data={**s.to_dict(), "metric": s.name})
            if best_traffic is None or sig.contribution > best_traffic.contribution:
                best_traffic = sig
    out += [s for s in (best_infra, best_traffic) if s is not None]
    return out, late



class MetricsStep:
    """Compare every metric besides the KPI before and after the onset."""

    name = NAME
    title = TITLE
    relevance = {RootCause.INFRASTRUCTURE: 0.6, RootCause.EXTERNAL_EVENT: 0.3}

    def run(self, context: TriageContext) -> StepOutcome:
        bundle = context.bundle
        others = {name: bundle.read_metric(name) for name in bundle.metric_names() if name != bundle.kpi_metric}
        found = analyse_metrics(others, context.at, kpi=bundle.kpi_metric)
        sigs, late = metric_signals(found, context.at)
        return StepOutcome(found.step, tuple(sigs), facts={"metrics_late": late}, finding=found)
