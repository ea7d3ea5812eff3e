"""Triage step ``logs``: log templates, the error rate and new versions, before and after the onset.

The bundle's logs are read through :class:`core.sources.local_logs.LocalLogSource`, the
DuckDB source the Logs page queries, so the two never disagree about what the logs hold.
Templates are diffed by :func:`core.analysis.logpatterns.diff_patterns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.logpatterns import INCREASED, NEW, PARAM as PARAM_TOKEN, PatternDiff, diff_patterns
from core.errors import InvalidInputError
from core.models import RootCause, TimeWindow, format_duration, iso
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import (
    CODE_WORDS, INFRA_WORDS, SCHEMA_WORDS, STALE_WORDS, SYMPTOM_DELAY, around, clip, closeness,
)

NAME = "logs"
TITLE = "Log patterns and error rate"
#: The logs compared on each side of the onset.
LOG_SPAN = timedelta(hours=24)
#: Log source fields → the column names of :func:`analyse_logs`.
LOG_COLUMNS = {"@timestamp": "timestamp", "message": "message", "log.level": "level", "service.name": "service"}


@dataclass(frozen=True)
class LogFinding:
    diff: PatternDiff | None
    error_rate_before: float | None
    error_rate_after: float | None
    error_delay: timedelta | None  # first sustained rise of errors relative to the onset
    step: StepResult
    versions: tuple["NewVersion", ...] = ()


@dataclass(frozen=True)
class NewVersion:
    """A version string first seen in the logs shortly before the onset (a deploy or model change)."""

    value: str
    first_seen: datetime
    example: str
    lines_after: int


VERSION_PATTERNS = (
    re.compile(r"(?i)\bmodel[_ ]version[=: ]+v?([0-9][\w.\-]*)"),
    re.compile(r"(?i)\b(?:version|release|build)[=: ]+v?([0-9][\w.\-]*)"),
    re.compile(r"(?<![\w.])v?(\d+\.\d+\.\d+)(?![\w.])"),
)


def find_new_versions(logs: pd.DataFrame, onset: datetime, *, lookback: timedelta = timedelta(hours=6),
                      tolerance: timedelta = timedelta(minutes=15)) -> list[NewVersion]:
    """Version strings (``model_version=42``, ``version 42``, ``4.23.1``) never seen before
    ``onset - lookback`` that first appear between then and ``onset + tolerance``."""
    msgs = logs["message"].fillna("").astype(str)
    ts = logs["timestamp"]
    out: dict[str, NewVersion] = {}
    for pat in VERSION_PATTERNS:
        found = msgs.str.extract(pat, expand=False)
        has = found.notna().to_numpy()
        if not has.any():
            continue
        frame = pd.DataFrame({"v": found[has].to_numpy(), "t": ts[has].to_numpy(), "m": msgs[has].to_numpy()})
        first = frame.groupby("v")["t"].min()
        for value, at in first.items():
            at = pd.Timestamp(at).tz_localize("UTC") if pd.Timestamp(at).tzinfo is None else pd.Timestamp(at)
            at_dt = at.floor("us").to_pydatetime()
            if not (onset - lookback <= at_dt <= onset + tolerance) or value in out:
                continue
            rows = frame[frame["v"] == value]
            after = int((pd.to_datetime(rows["t"], utc=True) >= pd.Timestamp(onset)).sum())
            out[value] = NewVersion(str(value), at_dt, str(rows["m"].iloc[0])[:200], after)
    return sorted(out.values(), key=lambda v: v.first_seen)


def _error_delay(times: pd.Series, onset: datetime, baseline_start: datetime) -> timedelta | None:
    """When the error rate stepped up, relative to the onset (None when it did not).

    Errors are counted in 5-minute bins from 6 h before to 6 h after the onset and the
    single Poisson rate change of greatest likelihood is located; only a rise counts.
    """
    if times.empty:
        return None
    bin_s, span = 300, 6 * 3600
    t = (times - pd.Timestamp(onset)).dt.total_seconds().to_numpy()
    t = t[(t >= -span) & (t < span)]
    if t.size < 5:
        return None
    counts = np.bincount(((t + span) // bin_s).astype(int), minlength=2 * span // bin_s).astype(float)
    n = len(counts)
    c = np.cumsum(counts)
    k = np.arange(1, n)
    left, right = c[k - 1], c[-1] - c[k - 1]
    r1, r2 = left / k, right / (n - k)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.where(left > 0, left * np.log(np.where(r1 > 0, r1, 1)), 0) + \
            np.where(right > 0, right * np.log(np.where(r2 > 0, r2, 1)), 0)
    ll = np.where(r2 > r1, ll, -np.inf)
    if not np.isfinite(ll).any():
        return None
    best = int(np.argmax(ll))
    if right[best] < 5:
        return None
    return timedelta(seconds=float((best + 1) * bin_s - span))


def analyse_logs(logs: pd.DataFrame | None, onset: datetime, *, baseline: TimeWindow,
                 window: TimeWindow, skip_reason: str = "") -> LogFinding:
    """Diff log templates (level and service included) and the error rate before and after the onset.

    Args:
        logs: ``timestamp`` (UTC), ``message``, optional ``level`` and ``service`` columns.
        baseline: the lines before the onset to compare with.
        window: the lines after the onset.
    """
    title = TITLE
    if logs is None or logs.empty:
        return LogFinding(None, None, None, None, StepResult(
            NAME, title, "skipped", skip_reason or "the bundle has no logs: log patterns could not be checked"))
    ts = logs["timestamp"]
    level = logs["level"].fillna("").astype(str).str.upper() if "level" in logs else pd.Series("", index=logs.index)
    service = logs["service"].fillna("").astype(str) if "service" in logs else pd.Series("", index=logs.index)
    text = (level + " " + service + ": " + logs["message"].fillna("").astype(str))
    in_base = ((ts >= baseline.start) & (ts < baseline.end)).to_numpy()
    in_win = ((ts >= window.start) & (ts < window.end)).to_numpy()
    if in_base.sum() == 0 or in_win.sum() == 0:
        side = "baseline" if in_base.sum() == 0 else "incident window"
        return LogFinding(None, None, None, None, StepResult(
            NAME, title, "skipped",
            f"no log lines in the {side} ({iso(ts.min())} to {iso(ts.max())} in the logs): log patterns "
            "could not be compared"))
    diff = diff_patterns(text[in_base].tolist(), text[in_win].tolist(), baseline=baseline, window=window)
    is_err = level.isin(["ERROR", "FATAL", "CRITICAL"]).to_numpy()
    hours_b = baseline.duration.total_seconds() / 3600
    hours_w = window.duration.total_seconds() / 3600
    before = float((is_err & in_base).sum()) / max(float(in_base.sum()), 1.0)
    after = float((is_err & in_win).sum()) / max(float(in_win.sum()), 1.0)
    delay = _error_delay(ts[is_err & (in_base | in_win)], onset, baseline.start) if after > before else None
    versions = tuple(find_new_versions(logs, onset, lookback=min(timedelta(hours=6), onset - baseline.start)))
    new = diff.new
    up = [c for c in diff.changes if c.status == INCREASED]
    summary = (f"{diff.baseline_lines} lines before ({hours_b:.0f} h), {diff.window_lines} after ({hours_w:.0f} h); "
               f"{len(new)} new and {len(up)} increased template(s); error share {before:.2%} → {after:.2%}")
    if delay is not None:
        summary += f"; errors rose {format_duration(abs(delay))} {'after' if delay >= timedelta(0) else 'before'} the onset"
    if versions:
        summary += "; new version(s) in the logs: " + ", ".join(v.value for v in versions[:3])
    return LogFinding(diff, before, after, delay, versions=versions, step=StepResult(
        NAME, title, "ok", summary,
        {"new": [c.template for c in new[:10]], "increased": [c.template for c in up[:10]],
         "error_share_before": before, "error_share_after": after,
         "error_delay_s": delay.total_seconds() if delay is not None else None,
         "new_versions": [{"value": v.value, "first_seen": iso(v.first_seen), "example": v.example}
                          for v in versions[:5]]}))



def _log_query(template: str) -> str:
    """A Lucene query for the Logs page that finds a template's lines (level, service, longest fixed text)."""
    head, _, body = template.partition(": ")
    level, _, service = head.partition(" ")
    parts = [p.strip(" ,;:=()[]'\"") for p in body.replace(PARAM_TOKEN, "\x00").split("\x00")]
    phrase = max(parts, key=len) if parts else ""
    clauses = [f"log.level:{level}"] if level.isalpha() else []
    if service.strip():
        clauses.append(f'service.name:"{service.strip()}"')
    if phrase:
        clauses.append('"' + phrase.replace("\\", " ").replace('"', " ") + '"')
    return " AND ".join(clauses)


def log_signals(lg: LogFinding, onset: datetime) -> tuple[list[Signal], bool]:
    out: list[Signal] = []
    if lg.diff is None:
        return out, False
    win = around(onset, timedelta(hours=6), timedelta(hours=6))
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.rule not in best or sig.contribution > best[sig.rule].contribution:
            best[sig.rule] = sig

    total_after = max(lg.diff.window_lines, 1)
    for c in lg.diff.changes:
        if c.status not in (NEW, INCREASED):
            continue
        level = c.template.split(" ", 1)[0].upper()
        if level not in ("WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
            continue
        share = c.window_count / total_after
        if c.window_count < 5:
            continue
        strength = clip(0.5 + 0.5 * min(share / 0.05, 1.0)) if c.status == NEW else clip(
            0.3 + 0.4 * min(((c.ratio or 1) - 1) / 9, 1.0))
        body = c.template.split(": ", 1)[-1]
        query = _log_query(c.template)
        detail = (f"{c.status} {level} template '{c.template}': {c.window_count} lines after the onset, "
                  f"{c.baseline_count} before")
        data = {"template": c.template, "status": c.status, "window_count": c.window_count,
                "baseline_count": c.baseline_count, "ratio": c.ratio, "example": c.example[:300], "query": query}
        common = dict(step=NAME, view="logs", title=f"Log: {body[:80]}", window=win, data=data)
        if STALE_WORDS.search(body):
            keep(signal("stale_log", strength, detail, **common))
        elif SCHEMA_WORDS.search(body):
            keep(signal("schema_log", strength, detail, **common))
        elif INFRA_WORDS.search(body):
            keep(signal("infra_log", strength, detail, **common))
        elif CODE_WORDS.search(body):
            keep(signal("code_log", strength, detail, **common))
    for v in lg.versions:
        age = max(onset - v.first_seen, timedelta(0))
        keep(signal("version_log", closeness(age),
                     f"version '{v.value}' first appears in the logs {format_duration(age)} before the onset "
                     f"(\"{v.example}\")", step=NAME, view="logs", title=f"New version in the logs: {v.value}",
                     window=around(v.first_seen, timedelta(hours=3), timedelta(hours=3)),
                     data={"value": v.value, "first_seen": iso(v.first_seen), "lines_after": v.lines_after}))
    before, after = lg.error_rate_before or 0.0, lg.error_rate_after or 0.0
    rose = after - before >= 0.005 and after >= 2 * before
    if rose:
        keep(signal("error_rate", clip((after - before) / 0.05), f"error share of log lines {before:.2%} → {after:.2%}",
                     step=NAME, view="logs", title="Error rate rose", window=win,
                     data={"before": before, "after": after}))
    late = lg.error_delay is not None and lg.error_delay > SYMPTOM_DELAY
    return list(best.values()), late



def read_bundle_logs(bundle: Any) -> pd.DataFrame | None:
    """All log lines of a bundle as ``timestamp, message, level, service`` (None without logs), read
    through the same :class:`~core.sources.local_logs.LocalLogSource` the Logs page uses (the source
    factory opens both)."""
    from core.sources.factory import open_source

    if not bundle.log_files():
        return None
    source = open_source("logs", bundle)
    try:
        fields = [f for f in LOG_COLUMNS if f in source.info.fields]
        frame = source.frame(fields)
    finally:
        source.close()
    frame = frame.rename(columns=LOG_COLUMNS)
    frame = frame[frame["timestamp"].notna()].reset_index(drop=True)
    frame["timestamp"] = frame["timestamp"].dt.tz_convert("UTC")  # DuckDB says Etc/UTC
    return frame if len(frame) else None


class LogsStep:
    """Diff the log templates and the error rate on both sides of the onset."""

    name = NAME
    title = TITLE
    relevance = {RootCause.DATA_DRIFT: 0.1, RootCause.SCHEMA_CHANGE: 0.2, RootCause.STALE_DATA: 0.3,
                 RootCause.CODE_REGRESSION: 0.2, RootCause.INFRASTRUCTURE: 0.8}

    def run(self, context: TriageContext) -> StepOutcome:
        at, window = context.at, context.bundle.window
        logs = read_bundle_logs(context.bundle)
        if logs is None:
            found = analyse_logs(None, at, baseline=window, window=window)
        else:
            first, last = logs["timestamp"].min().to_pydatetime(), logs["timestamp"].max().to_pydatetime()
            b_start = max(first, at - LOG_SPAN)
            w_end = min(last + timedelta(seconds=1), at + LOG_SPAN)
            if b_start >= at or w_end <= at:
                found = analyse_logs(None, at, baseline=window, window=window, skip_reason=(
                    f"the logs run from {iso(first)} to {iso(last)} and do not cover both sides of the onset "
                    f"{iso(at)}: log patterns could not be compared"))
            else:
                try:
                    found = analyse_logs(logs, at, baseline=TimeWindow(b_start, at), window=TimeWindow(at, w_end))
                except InvalidInputError as exc:
                    found = analyse_logs(None, at, baseline=window, window=window,
                                         skip_reason=f"log patterns could not be compared: {exc}")
        sigs, late = log_signals(found, at)
        return StepOutcome(found.step, tuple(sigs), facts={"errors_late": late}, finding=found)
