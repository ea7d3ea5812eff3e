"""When did each data column change, and by what factor (data-side change points).

A KPI that moves slowly is detected late; a comparison of the data cut at that late
onset then has changed rows on the reference side, and a clean unit change (×100) looks
like ordinary drift. This module finds each column's *own* change point in time with the
change-point code of the Metrics analysis (:func:`core.analysis.changepoint.find_change_points`)
on regular per-bin series of the column:

* ``scale`` — the median of ``log10(value)`` per bin, for numeric columns that are mostly
  positive (a unit change is a step there, whatever the mix of rows around it);
* ``level`` — the median value per bin, for numeric columns with zeros or negatives;
* ``null rate`` — the share of nulls per bin (a column dropped or renamed upstream);
* ``categories`` — the shares of the most frequent values per bin (a changed mix).

The time of the strongest step is refined on the rows themselves (the split that best
separates the values around it). A scale step whose factor is a clean unit factor (×10ⁿ,
×60, ×3600, ×1024...) is marked as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import numpy as np
import pandas as pd

from core.analysis.changepoint import find_change_points, noise_sigma, shift_confidence
from core.errors import InvalidInputError
from core.models import TimeWindow, iso

#: Multiplicative factors a unit change produces (their inverses count too).
CLEAN_FACTORS = (10.0, 100.0, 1000.0, 1e4, 1e6, 60.0, 3600.0, 86400.0, 24.0, 1024.0, 1e9)
#: How close (in log10) a measured factor must be to a clean one.
CLEAN_TOLERANCE = 0.06
MEASURES = ("scale", "level", "null rate", "categories")


@dataclass(frozen=True)
class ColumnChange:
    """The strongest change of one column over time.

    ``before``/``after`` are the measure's median per bin on each side (for ``scale``, in
    log10 units); ``factor`` the multiplicative change (``scale`` only) and ``clean_factor``
    the unit factor it matches, if any; ``z`` the step in units of the bin-to-bin noise.
    """

    column: str
    measure: str
    time: datetime
    before: float
    after: float
    z: float
    confidence: float
    factor: float | None = None
    clean_factor: float | None = None

    def describe(self) -> str:
        """``amount ×100 from 08:55`` — what changed and since when."""
        at = f"{self.time:%H:%M}"
        if self.measure == "scale" and self.factor is not None:
            f = self.clean_factor or self.factor
            shown = f"×{f:g}" if self.clean_factor else f"×{f:.3g}"
            if f < 1:
                shown = f"÷{1 / f:g}" if self.clean_factor else f"×{f:.3g}"
            return f"`{self.column}` {shown} from {at}"
        if self.measure == "null rate":
            return f"`{self.column}` null rate {self.before:.0%} → {self.after:.0%} from {at}"
        if self.measure == "categories":
            return f"`{self.column}` mix changed from {at}"
        return f"`{self.column}` {self.before:.4g} → {self.after:.4g} from {at}"

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "measure": self.measure, "time": iso(self.time), "before": self.before,
                "after": self.after, "z": round(self.z, 2), "confidence": self.confidence, "factor": self.factor,
                "clean_factor": self.clean_factor, "text": self.describe()}


def clean_factor(factor: float, tolerance: float = CLEAN_TOLERANCE) -> float | None:
    """The clean unit factor (×100, ÷60...) ``factor`` matches within ``tolerance`` in log10, or None."""
    if not (factor > 0 and math.isfinite(factor)):
        return None
    lf = math.log10(factor)
    for f in CLEAN_FACTORS:
        for cand in (f, 1.0 / f):
            if abs(lf - math.log10(cand)) <= tolerance:
                return cand
    return None


def _bin_series(times: np.ndarray, values: np.ndarray, edges: np.ndarray, how: str, min_count: int) -> np.ndarray:
    """Per-bin median (``how='median'``) or mean of ``values`` (NaN for bins with too few rows)."""
    idx = np.searchsorted(edges, times, side="right") - 1
    out = np.full(len(edges) - 1, np.nan)
    ok = (idx >= 0) & (idx < len(out))
    frame = pd.DataFrame({"b": idx[ok], "v": values[ok]})
    g = frame.groupby("b")["v"]
    stat = g.median() if how == "median" else g.mean()
    cnt = g.count()
    stat = stat[cnt >= min_count]
    out[stat.index.to_numpy()] = stat.to_numpy()
    return out


def _strongest_step(series: np.ndarray, valid_from: int, valid_to: int) -> tuple[int, float, float, float, float] | None:
    """(index, level before, level after, z, confidence) of the strongest change point in ``series``
    whose index lies in [valid_from, valid_to)."""
    x = series.copy()
    good = np.isfinite(x) if x.ndim == 1 else np.isfinite(x).all(axis=1)
    if good.sum() < 8:
        return None
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            cps = find_change_points(x, max_change_points=3)
    except InvalidInputError:
        return None
    if not cps:
        return None
    n = len(x)
    edges = [0, *cps, n]
    best = None
    for i in range(1, len(edges) - 1):
        a, b, c = edges[i - 1], edges[i], edges[i + 1]
        if not valid_from <= b < valid_to:
            continue
        before, after = x[a:b], x[b:c]
        if x.ndim == 1:
            before, after = before[np.isfinite(before)], after[np.isfinite(after)]
            if len(before) < 3 or len(after) < 2:
                continue
            sigma = float(noise_sigma(x[np.isfinite(x)])[0])
            conf, z = shift_confidence(before, after, sigma)
            lb, la = float(np.median(before)), float(np.median(after))
        else:
            keep_b, keep_a = np.isfinite(before).all(axis=1), np.isfinite(after).all(axis=1)
            before, after = before[keep_b], after[keep_a]
            if len(before) < 3 or len(after) < 2:
                continue
            d = np.abs(after.mean(axis=0) - before.mean(axis=0))
            j = int(np.argmax(d))
            sigma = float(noise_sigma(x[good][:, j])[0]) if x[good].shape[0] > 3 else 0.0
            conf, z = shift_confidence(before[:, j], after[:, j], sigma)
            lb, la = float(np.median(before[:, j])), float(np.median(after[:, j]))
        if best is None or z * conf > best[3] * best[4]:
            best = (b, lb, la, float(z), float(conf))
    return best


def _refine(times: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float | None:
    """The row time in [lo, hi) that best splits ``values`` into two levels (least squares)."""
    m = (times >= lo) & (times < hi) & np.isfinite(values)
    t, v = times[m], values[m]
    if len(t) < 6:
        return None
    order = np.argsort(t)
    t, v = t[order], v[order]
    c1, c2 = np.cumsum(v), np.cumsum(v * v)
    n = len(v)
    k = np.arange(1, n)
    left = c2[:-1] - c1[:-1] ** 2 / k
    right = (c2[-1] - c2[:-1]) - (c1[-1] - c1[:-1]) ** 2 / (n - k)
    cost = left + right
    lim = slice(1, n - 2)
    i = int(np.argmin(cost[lim])) + 1
    return float(t[i + 1]) if i + 1 < n else None


def locate_column_changes(frame: pd.DataFrame, timestamp: str, columns: Sequence[str], *,
                          search: TimeWindow | None = None, bin_width: timedelta = timedelta(minutes=30),
                          min_rows_per_bin: int = 3) -> list[ColumnChange]:
    """The strongest change point of each column over time (see the module docstring).

    Args:
        frame: rows with a timestamp column (reference and current rows together).
        timestamp: the timestamp column.
        columns: the columns to look at (missing ones are skipped).
        search: only change points inside this window count (default: anywhere).
        bin_width: the width of the time bins the measures are taken over.
        min_rows_per_bin: bins with fewer rows are treated as missing.

    Returns:
        One :class:`ColumnChange` per column and measure that has a change point, strongest first.

    Raises:
        InvalidInputError: the timestamp column is missing or the bin width is not positive.
    """
    if timestamp not in frame.columns:
        raise InvalidInputError(f"timestamp column '{timestamp}' is not in the data; name an existing column")
    if bin_width <= timedelta(0):
        raise InvalidInputError(f"bin width must be positive, got {bin_width}")
    ts = pd.to_datetime(frame[timestamp], utc=True, errors="coerce")
    keep = ts.notna().to_numpy()
    if keep.sum() < 20:
        return []
    secs = (ts[keep] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
    t0, t1 = float(secs.min()), float(secs.max())
    width = bin_width.total_seconds()
    edges = np.arange(t0, t1 + width, width)
    if len(edges) < 10:
        return []
    sub = frame[keep]
    lo_idx, hi_idx = 0, len(edges) - 1
    if search is not None:
        lo_idx = int(max(0, np.searchsorted(edges, search.start.timestamp()) - 1))
        hi_idx = int(min(len(edges) - 1, np.searchsorted(edges, search.end.timestamp()) + 1))
    out: list[ColumnChange] = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for col in columns:
            out.extend(_column_changes(sub[col] if col in sub.columns and col != timestamp else None, str(col),
                                       secs, edges, lo_idx, hi_idx, min_rows_per_bin))
    out.sort(key=lambda c: -(c.z * c.confidence))
    return out


def _column_changes(s: pd.Series | None, col: str, secs: np.ndarray, edges: np.ndarray, lo_idx: int, hi_idx: int,
                    min_rows_per_bin: int) -> list[ColumnChange]:
    out: list[ColumnChange] = []
    if s is None:
        return out
    nulls = s.isna().to_numpy().astype(float)
    if 0 < nulls.mean() < 1:
        rate = _bin_series(secs, nulls, edges, "mean", min_rows_per_bin)
        got = _strongest_step(rate, lo_idx, hi_idx)
        if got is not None and abs(got[2] - got[1]) >= 0.1:
            at = _refine(secs, nulls, edges[max(got[0] - 2, 0)], edges[min(got[0] + 2, len(edges) - 1)])
            out.append(ColumnChange(str(col), "null rate", _when(at, edges[got[0]]), got[1], got[2], got[3], got[4]))
    if pd.api.types.is_bool_dtype(s.dtype):
        return out
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        fin = np.isfinite(v)
        if fin.sum() < 20:
            return out
        positive = (v[fin] > 0).mean() >= 0.95
        if positive:
            lv = np.where(fin & (v > 0), np.log10(np.where(v > 0, v, 1.0)), np.nan)
            series = _bin_series(secs[np.isfinite(lv)], lv[np.isfinite(lv)], edges, "median", min_rows_per_bin)
            got = _strongest_step(series, lo_idx, hi_idx)
            if got is not None:
                at = _refine(secs, lv, edges[max(got[0] - 2, 0)], edges[min(got[0] + 2, len(edges) - 1)])
                factor = 10.0 ** (got[2] - got[1])
                out.append(ColumnChange(str(col), "scale", _when(at, edges[got[0]]), got[1], got[2], got[3],
                                        got[4], factor=factor, clean_factor=clean_factor(factor)))
        else:
            series = _bin_series(secs[fin], v[fin], edges, "median", min_rows_per_bin)
            got = _strongest_step(series, lo_idx, hi_idx)
            if got is not None:
                at = _refine(secs, v, edges[max(got[0] - 2, 0)], edges[min(got[0] + 2, len(edges) - 1)])
                out.append(ColumnChange(str(col), "level", _when(at, edges[got[0]]), got[1], got[2], got[3],
                                        got[4]))
    elif s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype):
        labels = s.astype("string").fillna("<null>")
        counts = labels.value_counts()
        if len(counts) < 2 or len(counts) > 0.5 * len(labels):
            return out  # one value, or an identifier
        top = counts.index[:5]
        mat = np.column_stack([_bin_series(secs, (labels == c).to_numpy().astype(float), edges, "mean",
                                           min_rows_per_bin) for c in top])
        got = _strongest_step(mat, lo_idx, hi_idx)
        if got is not None:
            out.append(ColumnChange(str(col), "categories", _when(None, edges[got[0]]), got[1], got[2], got[3],
                                    got[4]))
    return out


def _when(refined: float | None, bin_start: float) -> datetime:
    return datetime.fromtimestamp(refined if refined is not None else bin_start, tz=timezone.utc)


__all__ = ["CLEAN_FACTORS", "ColumnChange", "clean_factor", "locate_column_changes"]
