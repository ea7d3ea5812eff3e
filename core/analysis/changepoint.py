"""When did the KPI change, by how much, and how sure are we (ruptures change-point detection).

Three layers, each usable alone:

* :func:`find_change_points` — indices of change points in a plain array (one or
  more dimensions) with ruptures binary segmentation or PELT on the ``l2`` cost
  of the standardised series. The penalty per change is ``penalty_scale * log(n)``
  (a modified BIC, so it grows with log n and does not depend on the series'
  units). This is what the TCPD benchmark runs.
* :func:`detect_onset` — the same on a time series: points are averaged onto a
  regular grid, a daily profile is removed when the series has one (so the normal
  night-time dip is not a change), and every change point gets its time, the
  levels before and after, the relative change, good/bad given the KPI's
  direction, and a confidence. The main onset is the largest bad change.
* :func:`break_down_segments` — for a series with a label column (platform,
  country...), which segments moved at the onset and which did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
from scipy import stats

from core.errors import InvalidInputError
from core.models import TimeWindow, iso

METHODS = ("binseg", "pelt")
DIRECTIONS = ("higher_is_better", "lower_is_better")
SEASONALITY = ("auto", "daily", "none")
DEFAULT_METHOD = "binseg"
DEFAULT_PENALTY_SCALE = 4.0
DEFAULT_MAX_CHANGE_POINTS = 5
MIN_POINTS = 10
MAX_GRID_POINTS = 2000
PELT_FULL_RESOLUTION = 1000  # longer series are searched by PELT on a coarser set of candidate indices
SEASONAL_STRENGTH = 0.15  # share of variance the daily profile must explain to be removed
DAY = 86_400.0
RAMP_SECONDS = 3 * 3600.0  # a gradual change may take up to this long on each side of the change point
PROFILE_SMOOTH_SECONDS = 3600.0  # the daily profile is smoothed over about an hour of the day
NICE_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800,
              14400, 21600, 43200, 86400)


# ---------------------------------------------------------------- plain arrays

def noise_sigma(signal: np.ndarray) -> np.ndarray:
    """Robust per-dimension noise scale from first differences (MAD / 0.6745 / √2).

    Falls back to the standard deviation of the differences, then of the values,
    when most differences are equal (integer counts, flat stretches).
    """
    x = signal.reshape(len(signal), -1)
    d = np.diff(x, axis=0)
    out = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        dj = d[:, j]
        s = float(np.median(np.abs(dj - np.median(dj)))) / 0.6745 / math.sqrt(2) if len(dj) else 0.0
        if s <= 0:
            s = float(np.std(dj)) / math.sqrt(2) if len(dj) else 0.0
        if s <= 0:
            s = float(np.std(x[:, j]))
        out[j] = s if s > 0 else 1.0
    return out


def _interpolate_nans(x: np.ndarray) -> np.ndarray:
    x = x.astype(float, copy=True)
    for j in range(x.shape[1]):
        col = x[:, j]
        bad = ~np.isfinite(col)
        if bad.all():
            raise InvalidInputError("every value of the series is NaN or infinite; there is nothing to analyse")
        if bad.any():
            idx = np.arange(len(col))
            col[bad] = np.interp(idx[bad], idx[~bad], col[~bad])
    return x


def find_change_points(
    signal: np.ndarray | list[float],
    *,
    method: str = DEFAULT_METHOD,
    penalty_scale: float = DEFAULT_PENALTY_SCALE,
    penalty: float | None = None,
    min_size: int = 2,
    max_change_points: int | None = DEFAULT_MAX_CHANGE_POINTS,
) -> tuple[int, ...]:
    """Change points of ``signal`` as 0-based indices where a new segment starts.

    The signal is standardised (each dimension to unit variance) and segmented
    with the ``l2`` (mean-shift) cost. For ``binseg`` the nested solutions with
    0..``max_change_points`` changes are compared by the modified BIC
    ``cost + k · penalty_scale · log(n) + Σ log(n_j / n)`` (the ``MBIC`` of R's
    changepoint package, which the TCPD benchmark's default binseg uses); for
    ``pelt`` the optimal segmentation under ``penalty_scale · log(n)`` per change
    is found and, if needed, cut to the ``max_change_points`` strongest changes.

    Args:
        signal: shape (n,) or (n, d); NaN/inf are interpolated.
        method: ``binseg`` (binary segmentation) or ``pelt``.
        penalty_scale: multiplies ``log(n)``; larger finds fewer changes.
        penalty: an absolute penalty per change on the standardised signal, overriding the scale.
        min_size: shortest segment in points.
        max_change_points: keep at most this many; None means no cap (binseg then stops
            adding changes when one no longer pays its penalty).

    Returns:
        Sorted indices in ``1..n-1``.

    Raises:
        InvalidInputError: unknown method, non-positive penalty, or too few points.
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown change-point method '{method}'; use one of {', '.join(METHODS)}")
    if penalty is None and not (penalty_scale > 0):
        raise InvalidInputError(f"penalty scale must be positive, got {penalty_scale}")
    if penalty is not None and not (penalty > 0):
        raise InvalidInputError(f"penalty must be positive, got {penalty}")
    if max_change_points is not None and max_change_points < 0:
        raise InvalidInputError(f"max_change_points must be 0 or more, got {max_change_points}")
    x = np.asarray(signal, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    if n < 4:
        raise InvalidInputError(f"a series of {n} points is too short for change-point detection; give at least 4")
    x = _interpolate_nans(x)
    std = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    pen = penalty if penalty is not None else penalty_scale * math.log(n)
    size = max(1, min(int(min_size), n // 2))
    if max_change_points == 0:
        return ()
    if method == "binseg":
        algo = rpt.Binseg(model="l2", min_size=size, jump=1).fit(z)
        if max_change_points is None:
            bkps = algo.predict(pen=pen)[:-1]
        else:
            candidates: list[list[int]] = [[]]
            for k in range(1, max_change_points + 1):
                try:
                    candidates.append(algo.predict(n_bkps=k)[:-1])
                except rpt.exceptions.BadSegmentationParameters:
                    break  # the series is too short for k segments of min_size
            bkps = min(candidates, key=lambda b: _penalised_cost(z, b, pen))
    else:
        # PELT is quadratic in the worst case in ruptures' pure-Python loop: on long series only
        # every `jump`-th index is a candidate (detect_onset's ramp fit refines the time afterwards)
        jump = 1 if n <= PELT_FULL_RESOLUTION else int(math.ceil(n / (PELT_FULL_RESOLUTION / 2)))
        algo = rpt.Pelt(model="l2", min_size=max(size, jump), jump=jump).fit(z)
        bkps = algo.predict(pen=pen)[:-1]
        if max_change_points is not None and len(bkps) > max_change_points:
            bkps = _strongest(z, bkps, max_change_points)
    return tuple(int(b) for b in sorted(bkps) if 0 < b < n)


def _segment_cost(z: np.ndarray, edges: list[int]) -> float:
    return float(sum(((z[a:b] - z[a:b].mean(axis=0)) ** 2).sum() for a, b in zip(edges[:-1], edges[1:])))


def _penalised_cost(z: np.ndarray, bkps: list[int], pen: float) -> float:
    """Modified BIC: l2 cost + k·pen + Σ log(n_j / n) over segment lengths n_j."""
    n = len(z)
    edges = [0, *bkps, n]
    lengths = np.diff(edges)
    return _segment_cost(z, edges) + len(bkps) * pen + float(np.log(lengths / n).sum())


def _strongest(z: np.ndarray, bkps: list[int], k: int) -> list[int]:
    """Keep the ``k`` breakpoints whose removal would raise the l2 cost the most."""
    edges = [0, *bkps, len(z)]
    gains = []
    for i in range(1, len(edges) - 1):
        a, b, c = edges[i - 1], edges[i], edges[i + 1]
        gain = _segment_cost(z, [a, c]) - _segment_cost(z, [a, b, c])
        gains.append((gain, b))
    return sorted(b for _, b in sorted(gains, reverse=True)[:k])


# ---------------------------------------------------------------- time series

@dataclass(frozen=True)
class ChangePoint:
    """One change of level in a KPI.

    ``time`` is when the change began; ``settled`` when the new level was reached
    (equal to ``time`` for an abrupt step, later for a gradual one).
    """

    time: datetime
    level_before: float
    level_after: float
    absolute_change: float
    relative_change: float | None  # None when the level before is 0
    effect: str  # "bad", "good" or "neutral" (no direction given)
    confidence: float  # 0..1
    z: float  # |change| in units of the point-to-point noise
    before_start: datetime
    after_end: datetime
    settled: datetime | None = None

    def describe(self, unit: str = "") -> str:
        rel = f" ({self.relative_change:+.1%})" if self.relative_change is not None else ""
        return (f"{iso(self.time)}: {self.level_before:.4g}{unit} → {self.level_after:.4g}{unit}{rel}, "
                f"{self.effect}, confidence {self.confidence:.0%}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": iso(self.time), "level_before": self.level_before, "level_after": self.level_after,
            "absolute_change": self.absolute_change, "relative_change": self.relative_change,
            "effect": self.effect, "confidence": self.confidence, "z": self.z,
            "before_start": iso(self.before_start), "after_end": iso(self.after_end),
            "settled": iso(self.settled or self.time),
        }


@dataclass(frozen=True)
class OnsetResult:
    """Change points of a KPI and the main onset; ``grid`` is the regular series that was analysed."""

    metric: str
    direction: str | None
    change_points: tuple[ChangePoint, ...]
    onset: ChangePoint | None
    method: str
    penalty_scale: float
    seasonality: str  # "daily" when a daily profile was removed, else "none"
    resolution_seconds: float
    n_points: int
    notes: tuple[str, ...] = ()
    grid: pd.DataFrame = field(default=None, repr=False, compare=False)  # timestamp, value, adjusted, fitted

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "direction": self.direction, "method": self.method,
            "penalty_scale": self.penalty_scale, "seasonality": self.seasonality,
            "resolution_seconds": self.resolution_seconds, "n_points": self.n_points,
            "onset": self.onset.to_dict() if self.onset else None,
            "change_points": [c.to_dict() for c in self.change_points],
            "notes": list(self.notes),
        }


def _seconds(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as float seconds since the epoch (any datetime resolution)."""
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def _nice_step(seconds: float) -> float:
    for s in NICE_STEPS:
        if s >= seconds - 1e-9:
            return float(s)
    return float(math.ceil(seconds / DAY) * DAY)


def _to_grid(frame: pd.DataFrame, max_points: int) -> tuple[pd.DataFrame, float, list[str]]:
    """Average the points onto a regular grid of a 'nice' step; empty bins are left out."""
    notes: list[str] = []
    secs = _seconds(frame["timestamp"])
    uniq = np.unique(secs)
    native = float(np.median(np.diff(uniq))) if len(uniq) > 1 else 1.0
    span = float(uniq[-1] - uniq[0]) if len(uniq) > 1 else 0.0
    step = _nice_step(max(native, span / max_points if span else native))
    bins = np.floor(secs / step) * step
    g = pd.DataFrame({"bin": bins, "value": frame["value"].to_numpy(dtype=float)})
    g = g.groupby("bin", sort=True)["value"].mean()
    grid = pd.DataFrame({"timestamp": pd.to_datetime(g.index.to_numpy(), unit="s", utc=True),
                         "value": g.to_numpy()})
    if step > native * 1.5:
        notes.append(f"points were averaged into {_fmt_seconds(step)} bins ({len(grid)} bins) for detection")
    return grid, step, notes


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:g}-second"
    if s < 3600:
        return f"{s / 60:g}-minute"
    if s < DAY:
        return f"{s / 3600:g}-hour"
    return f"{s / DAY:g}-day"


def daily_profile(grid: pd.DataFrame, step: float) -> pd.Series | None:
    """Median value by time of day (index: seconds since midnight UTC), or None when under two days."""
    if step >= DAY / 4:
        return None
    secs = _seconds(grid["timestamp"])
    if secs[-1] - secs[0] < 2 * DAY - step:
        return None
    slot = np.mod(secs, DAY)
    profile = pd.Series(grid["value"].to_numpy()).groupby(slot).median()
    width = int(round(PROFILE_SMOOTH_SECONDS / step))
    if width >= 3 and len(profile) > 2 * width:
        # circular centred rolling mean over about an hour of the day: the profile is a shape, not noise
        padded = pd.concat([profile.iloc[-width:], profile, profile.iloc[:width]])
        smooth = padded.rolling(width, center=True, min_periods=1).mean().iloc[width:-width]
        profile = pd.Series(smooth.to_numpy(), index=profile.index)
    return profile


def _deseasonalise(grid: pd.DataFrame, step: float, mode: str) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """Return (adjusted values, seasonal factor or offset applied, seasonality used, notes).

    A positive series (rates, CTR, latency) is divided by its relative daily profile
    (multiplicative seasonality, so a drop of 20% stays 20% at night and at noon);
    other series have the profile subtracted. The returned component maps levels
    back to the raw scale: ``raw ≈ level * factor`` or ``level + offset``.
    """
    values = grid["value"].to_numpy(dtype=float)
    multiplicative = bool(np.all(values > 0))
    neutral = np.ones_like(values) if multiplicative else np.zeros_like(values)
    if mode == "none":
        return values, neutral, "none", []
    profile = daily_profile(grid, step)
    if profile is None:
        if mode == "daily":
            return values, neutral, "none", ["daily seasonality needs at least two days at sub-daily steps; not removed"]
        return values, neutral, "none", []
    slot = np.mod(_seconds(grid["timestamp"]), DAY)
    shape = profile.reindex(slot).to_numpy()
    if multiplicative:
        component = shape / float(profile.mean())
        adjusted = values / component
    else:
        component = shape - float(profile.mean())
        adjusted = values - component
    total = float(np.var(values))
    strength = 1.0 - float(np.var(adjusted)) / total if total > 0 else 0.0
    if mode == "auto" and strength < SEASONAL_STRENGTH:
        return values, neutral, "none", []
    kind = "multiplicative" if multiplicative else "additive"
    return adjusted, component, "daily", [
        f"a daily profile ({kind}) explaining {max(strength, 0):.0%} of the variance was removed before detection"
    ]


def _effective_n(x: np.ndarray) -> float:
    """Sample size corrected for lag-1 autocorrelation."""
    n = len(x)
    if n < 3 or np.std(x) == 0:
        return float(n)
    r = float(np.corrcoef(x[:-1], x[1:])[0, 1])
    if not np.isfinite(r):
        return float(n)
    r = min(max(r, 0.0), 0.95)
    return max(2.0, n * (1 - r) / (1 + r))


def shift_confidence(before: np.ndarray, after: np.ndarray, sigma: float) -> tuple[float, float]:
    """(confidence 0..1, z) of a level shift between two stretches.

    Confidence is one minus the p-value of Welch's t-test on autocorrelation-corrected
    sample sizes, damped when the shift is small next to the point-to-point noise
    (below half a noise sigma).
    """
    diff = float(np.mean(after) - np.mean(before))
    z = abs(diff) / sigma if sigma > 0 else float("inf")
    na, nb = _effective_n(after), _effective_n(before)
    va, vb = float(np.var(after, ddof=1)) if len(after) > 1 else 0.0, float(np.var(before, ddof=1)) if len(before) > 1 else 0.0
    se = math.sqrt(va / na + vb / nb)
    if se == 0:
        p = 0.0 if diff != 0 else 1.0
    else:
        t = abs(diff) / se
        dof = max(1.0, min(na, nb) - 1)
        p = float(2 * stats.t.sf(t, dof))
    conf = (1.0 - p) * min(1.0, z / 0.5)
    return round(max(0.0, min(1.0, conf)), 3), round(z, 3)


def fit_ramp(values: np.ndarray, cp: int, level_before: float, level_after: float, width: int) -> tuple[int, int]:
    """Start and end index of the transition around change point ``cp``.

    Fits "flat at ``level_before`` until s, linear until e, flat at ``level_after``"
    with s ≤ cp ≤ e within ``width`` points of ``cp`` and returns the (s, e) of
    least squared error; an abrupt step gives s == e == cp.
    """
    n = len(values)
    lo, hi = max(0, cp - width), min(n, cp + width + 1)
    x = values[lo:hi]
    idx = np.arange(lo, hi, dtype=float)
    best = (math.inf, cp, cp)
    for s in range(cp, max(lo, cp - width) - 1, -1):  # nearest first: ties go to the more abrupt fit
        for e in range(cp, min(hi, cp + width + 1)):
            if e == s:
                model = np.where(idx < s, level_before, level_after)
            else:
                frac = np.clip((idx - s) / (e - s), 0.0, 1.0)
                model = level_before + (level_after - level_before) * frac
            sse = float(((x - model) ** 2).sum())
            if sse < best[0] - 1e-12:
                best = (sse, s, e)
    return best[1], best[2]


def _effect(diff: float, direction: str | None) -> str:
    if direction is None or diff == 0:
        return "neutral"
    worse = diff < 0 if direction == "higher_is_better" else diff > 0
    return "bad" if worse else "good"


def _prepare(frame: pd.DataFrame, what: str) -> tuple[pd.DataFrame, list[str]]:
    if not {"timestamp", "value"} <= set(frame.columns):
        raise InvalidInputError(f"{what}: a series needs 'timestamp' and 'value' columns")
    notes: list[str] = []
    df = frame[["timestamp", "value"]].copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    finite = np.isfinite(df["value"].to_numpy())
    if (~finite).any():
        notes.append(f"{int((~finite).sum())} NaN or infinite value(s) ignored")
        df = df[finite]
    df = df.dropna(subset=["timestamp"]).sort_values("timestamp", kind="stable")
    n_times = df["timestamp"].nunique()
    if n_times < MIN_POINTS:
        raise InvalidInputError(
            f"{what}: only {n_times} usable point(s); change-point detection needs at least {MIN_POINTS} — "
            "widen the time range"
        )
    vals = df["value"].to_numpy()
    if np.all(vals == vals[0]):
        raise InvalidInputError(
            f"{what}: every value is {vals[0]:g}; a constant series has no change point — check the metric name "
            "or the time range"
        )
    return df, notes


def detect_onset(
    frame: pd.DataFrame,
    *,
    direction: str | None = "higher_is_better",
    metric: str = "kpi",
    method: str = DEFAULT_METHOD,
    penalty_scale: float = DEFAULT_PENALTY_SCALE,
    max_change_points: int | None = DEFAULT_MAX_CHANGE_POINTS,
    seasonality: str = "auto",
    max_grid_points: int = MAX_GRID_POINTS,
) -> OnsetResult:
    """Find the change points of a KPI series and its main onset.

    Args:
        frame: ``timestamp`` (UTC) and ``value`` columns; label columns are averaged away.
        direction: ``higher_is_better`` or ``lower_is_better``; None marks every change neutral.
        metric: name used in results and messages.
        method: ``binseg`` or ``pelt``.
        penalty_scale: see :func:`find_change_points`.
        max_change_points: cap on reported change points.
        seasonality: ``auto`` removes a daily profile when it explains ≥15% of the variance,
            ``daily`` always removes it (given two days of sub-daily data), ``none`` never.
        max_grid_points: the series is averaged into at most about this many bins.

    Returns:
        An :class:`OnsetResult`; ``onset`` is the largest bad change (the largest change
        when none is bad), or None when there is no change point.

    Raises:
        InvalidInputError: bad parameters, fewer than 10 points, or a constant series.
    """
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInputError(f"direction '{direction}' is not one of {', '.join(DIRECTIONS)}")
    if seasonality not in SEASONALITY:
        raise InvalidInputError(f"seasonality '{seasonality}' is not one of {', '.join(SEASONALITY)}")
    df, notes = _prepare(frame, metric)
    grid, step, grid_notes = _to_grid(df, max_grid_points)
    notes += grid_notes
    adjusted, component, used, season_notes = _deseasonalise(grid, step, seasonality)
    notes += season_notes
    if len(grid) < MIN_POINTS:
        raise InvalidInputError(f"{metric}: only {len(grid)} distinct times after binning; need {MIN_POINTS}")
    idx = find_change_points(adjusted, method=method, penalty_scale=penalty_scale,
                             max_change_points=max_change_points)
    sigma = float(noise_sigma(adjusted)[0])
    times = grid["timestamp"].tolist()
    edges = [0, *idx, len(grid)]
    fitted = np.empty(len(grid))
    for a, b in zip(edges[:-1], edges[1:]):
        fitted[a:b] = adjusted[a:b].mean()
    end_time = times[-1] + timedelta(seconds=step)
    cps = []
    for i in range(1, len(edges) - 1):
        a, b, c = edges[i - 1], edges[i], edges[i + 1]
        before, after = adjusted[a:b], adjusted[b:c]
        lb, la = float(before.mean()), float(after.mean())
        diff = la - lb
        conf, z = shift_confidence(before, after, sigma)
        width = max(0, min(b - a, c - b, max(1, int(round(RAMP_SECONDS / step)))) - 1)
        start, settled = fit_ramp(adjusted, b, lb, la, width)
        cps.append(ChangePoint(
            time=times[start].to_pydatetime(), settled=times[settled].to_pydatetime(), level_before=lb, level_after=la, absolute_change=diff,
            relative_change=(diff / abs(lb)) if lb != 0 else None, effect=_effect(diff, direction),
            confidence=conf, z=z, before_start=times[a].to_pydatetime(),
            after_end=(times[c].to_pydatetime() if c < len(grid) else end_time.to_pydatetime()),
        ))
    bad = [c for c in cps if c.effect == "bad"]
    pool = bad or cps
    onset = max(pool, key=lambda c: (c.z * min(1.0, c.confidence + 0.5))) if pool else None
    if not cps:
        notes.append("no change point found: the series stays within its normal variation")
    elif not bad and direction is not None:
        notes.append("no change made the KPI worse; the largest change is shown")
    fitted = fitted * component if bool(np.all(grid["value"] > 0)) else fitted + component
    out_grid = grid.assign(adjusted=adjusted, fitted=fitted)
    return OnsetResult(
        metric=metric, direction=direction, change_points=tuple(cps), onset=onset, method=method,
        penalty_scale=penalty_scale, seasonality=used, resolution_seconds=step, n_points=len(df),
        notes=tuple(notes), grid=out_grid,
    )


# ---------------------------------------------------------------- segments

@dataclass(frozen=True)
class SegmentShift:
    """How one segment (one value of the label column) changed at the onset."""

    segment: str
    level_before: float
    level_after: float
    relative_change: float | None
    effect: str
    confidence: float
    moved: bool

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "level_before": self.level_before, "level_after": self.level_after,
                "relative_change": self.relative_change, "effect": self.effect,
                "confidence": self.confidence, "moved": self.moved}


@dataclass(frozen=True)
class SegmentBreakdown:
    """Which segments moved at an onset; ``summary`` says what the pattern suggests."""

    label: str
    onset_time: datetime
    segments: tuple[SegmentShift, ...]
    summary: str
    before_start: datetime | None = None
    settled: datetime | None = None
    after_end: datetime | None = None

    @property
    def moved(self) -> tuple[str, ...]:
        return tuple(s.segment for s in self.segments if s.moved)

    @property
    def unmoved(self) -> tuple[str, ...]:
        return tuple(s.segment for s in self.segments if not s.moved)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "onset_time": iso(self.onset_time), "summary": self.summary,
                "moved": list(self.moved), "unmoved": list(self.unmoved),
                "segments": [s.to_dict() for s in self.segments]}


def break_down_segments(
    frame: pd.DataFrame,
    label: str,
    onset: ChangePoint,
    *,
    direction: str | None = "higher_is_better",
    seasonality: str = "auto",
    min_relative: float = 0.02,
    share_of_total: float = 0.3,
) -> SegmentBreakdown:
    """Compare each segment's level before and after ``onset``.

    The stretches compared are the onset's own (``before_start``..``time`` and
    ``settled``..``after_end``). A segment *moved* when its shift is significant
    (confidence ≥ 0.99) and at least ``min_relative`` and ``share_of_total`` of the
    largest segment shift.

    Raises:
        InvalidInputError: ``label`` is not a column, or no segment has enough points.
    """
    if label not in frame.columns:
        cols = [c for c in frame.columns if c not in ("timestamp", "value")]
        raise InvalidInputError(
            f"no label column '{label}' in the series; label columns are {', '.join(cols) or 'none'}"
        )
    shifts = []
    for seg, part in frame.groupby(label, sort=True):
        try:
            df, _ = _prepare(part, f"{label}={seg}")
        except InvalidInputError:
            continue
        grid, step, _ = _to_grid(df, MAX_GRID_POINTS)
        adjusted, _, _, _ = _deseasonalise(grid, step, seasonality)
        ts = grid["timestamp"]
        before = adjusted[((ts >= onset.before_start) & (ts < onset.time)).to_numpy()]
        after = adjusted[((ts >= (onset.settled or onset.time)) & (ts < onset.after_end)).to_numpy()]
        if len(before) < 3 or len(after) < 3:
            continue
        sigma = float(noise_sigma(adjusted)[0])
        lb, la = float(before.mean()), float(after.mean())
        conf, _ = shift_confidence(before, after, sigma)
        shifts.append((str(seg), lb, la, (la - lb) / abs(lb) if lb else None, _effect(la - lb, direction), conf))
    if not shifts:
        raise InvalidInputError(
            f"no value of '{label}' has enough points on both sides of {iso(onset.time)} to compare"
        )
    biggest = max(abs(s[3]) for s in shifts if s[3] is not None) if any(s[3] is not None for s in shifts) else 0
    out = []
    for seg, lb, la, rel, eff, conf in shifts:
        size = abs(rel) if rel is not None else 0.0
        moved = conf >= 0.99 and size >= min_relative and size >= share_of_total * biggest
        out.append(SegmentShift(seg, lb, la, rel, eff, conf, moved))
    moved = [s.segment for s in out if s.moved]
    still = [s.segment for s in out if not s.moved]
    if not moved:
        summary = f"no {label} moved clearly at the onset"
    elif not still:
        summary = (f"all {len(out)} values of {label} moved together ({', '.join(moved)}): a change that hits "
                   "everyone, such as an external event or a global model or pipeline change")
    else:
        summary = (f"only {', '.join(moved)} moved; {', '.join(still)} did not: the cause is specific to "
                   f"those {label} values (a feature feed, client release or config that only they use)")
    return SegmentBreakdown(label=label, onset_time=onset.time, segments=tuple(out), summary=summary,
                            before_start=onset.before_start, settled=onset.settled or onset.time,
                            after_end=onset.after_end)


def onset_window(result: OnsetResult) -> TimeWindow | None:
    """The absolute window around the main onset (its before and after stretches)."""
    if result.onset is None:
        return None
    return TimeWindow(result.onset.before_start, result.onset.after_end)
