"""Drift statistics of a numeric column from an engine's summaries, with a stated error bound.

An engine that cannot sort a column in memory returns two small summaries per side:

1. the column's exact counts (rows, nulls, ±inf), exact minimum, maximum, mean and standard
   deviation, and quantiles at :func:`probabilities` of a sample of about 200,000 rows (the
   *sketch*: it only places the grid);
2. exact counts of values at or below (or below, see ``Histogram.closed``) every edge of one
   shared grid made from both sides' approximate quantiles (:func:`edges_for`).

The sample only places the edges; the counts at the edges are exact, so both empirical CDFs
are known exactly at every edge and bracketed between them. That gives deterministic bounds:

* *KS*: the largest gap at an edge is a lower bound; inside a grid bin neither CDF moves more
  than its mass there, which gives the upper bound (``KS ∈ [lo, hi]``, typically ±0.0005);
* *Wasserstein*: the exact integral of the bracket is the upper bound, the part whose sign is
  certain (and ``|mean₁ − mean₂|``, exact) the lower bound; the figure is the integral of the
  CDFs interpolated linearly inside each bin;
* *PSI*: over bins cut at the approximate reference deciles, with exact counts;
* the top value and its share: a value heavy enough to repeat in the quantile sketch gets a
  bin of its own (an edge just below it), so its count is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.analysis import stattests

GRID_POINTS = 2048  # uniform probabilities of each side's quantile sketch
TAIL_LEVELS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)  # extra probabilities at both ends (wide tail bins)
DECILES = tuple(i / 10 for i in range(1, 10))


SKETCH_SAMPLE = 200_000  # rows per side the edges are placed from (the counts on them are exact)


def sample_quantiles(values: np.ndarray, probs: np.ndarray) -> np.ndarray | None:
    """Quantiles of the finite values of a sample (None when it has none): they only place the edges."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    values.sort()
    return stattests.sorted_quantiles(values, probs)


def probabilities() -> np.ndarray:
    """The probabilities an engine's quantile sketch is asked for (sorted, in (0, 1))."""
    uniform = np.arange(1, GRID_POINTS) / GRID_POINTS
    tails = np.array(TAIL_LEVELS + tuple(1 - t for t in TAIL_LEVELS))
    return np.unique(np.concatenate([uniform, tails, np.array(DECILES)]))


@dataclass(frozen=True)
class Histogram:
    """Exact cumulative counts of a column's finite values at grid edges.

    ``closed="right"``: ``cumulative[j]`` counts values ``<= edges[j]`` (DuckDB's ``histogram``);
    ``closed="left"``: values ``< edges[j]`` (Spark's ``Bucketizer``).
    """

    edges: np.ndarray
    cumulative: np.ndarray
    n: int  # finite values
    closed: str = "right"
    below: int = 0  # values below the other side's minimum (current only: outside the reference range)
    above: int = 0


@dataclass(frozen=True)
class Bounded:
    """A statistic with the interval it is certain to lie in."""

    value: float
    low: float
    high: float

    @property
    def error(self) -> float:
        """Half-width of the interval around ``value`` (the ± figure reported)."""
        return max(self.value - self.low, self.high - self.value, 0.0)


def edges_for(ref_quantiles: np.ndarray | None, cur_quantiles: np.ndarray | None, lo: float, hi: float) -> np.ndarray:
    """The shared grid: both sketches' quantiles, the range ends, and an edge just below each
    repeated (heavy) value so that value's count is exact."""
    parts = [np.array([lo, hi], dtype=float)]
    for q in (ref_quantiles, cur_quantiles):
        if q is None:
            continue
        q = np.asarray(q, dtype=float)
        q = q[np.isfinite(q)]
        parts.append(q)
        repeated = np.unique(q[1:][q[1:] == q[:-1]])
        if repeated.size:
            parts.append(np.nextafter(repeated, -np.inf))
            parts.append(np.nextafter(repeated, np.inf))
    edges = np.unique(np.concatenate(parts))
    return edges[(edges >= np.nextafter(lo, -np.inf)) & (edges <= np.nextafter(hi, np.inf))]


def _cdf(h: Histogram) -> np.ndarray:
    """CDF at the edges with 0 before and 1 after: length ``len(edges) + 2``."""
    n = max(h.n, 1)
    return np.concatenate([[0.0], h.cumulative / n, [1.0]])


def _has_interior(edges: np.ndarray) -> np.ndarray:
    """Per bin between neighbouring edges: whether a value can lie strictly inside it.

    A bin between two adjacent floats holds at most the one value at its closed end, so both
    CDFs are exact across it (the bins that isolate a heavy value).
    """
    return np.nextafter(edges[:-1], np.inf) < edges[1:]


def ks_bounds(a: Histogram, b: Histogram) -> Bounded:
    """KS statistic bracketed from exact CDF values at shared edges."""
    fa, fb = _cdf(a)[1:-1], _cdf(b)[1:-1]  # the range ends are edges: outside them both CDFs are exact
    low = float(np.max(np.abs(fa - fb)))
    inner = _has_interior(a.edges)
    high = low
    if inner.any():
        up = np.maximum(fa[1:] - fb[:-1], fb[1:] - fa[:-1])
        high = float(max(np.max(up[inner]), low))
    high = min(high, 1.0)
    return Bounded((low + high) / 2, low, high)


def wasserstein_bounds(a: Histogram, b: Histogram, mean_a: float, mean_b: float) -> Bounded:
    """W1 between the two columns, bracketed (not normalised)."""
    edges = a.edges
    fa, fb = _cdf(a)[1:-1], _cdf(b)[1:-1]
    width = np.diff(edges)
    a0, a1, b0, b1 = fa[:-1], fa[1:], fb[:-1], fb[1:]
    inner = _has_interior(edges)
    high = float(np.sum((width * np.maximum(np.maximum(a1 - b0, b1 - a0), 0.0))[inner]))
    certain = np.maximum(np.maximum(a0 - b1, b0 - a1), 0.0)
    low = max(float(np.sum(width * certain)), abs(mean_a - mean_b))
    d0, d1 = a0 - b0, a1 - b1  # linear inside each bin: integral of |d0 + (d1 - d0) t| over [0, 1]
    same = d0 * d1 >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (d0 * d0 + d1 * d1) / (2 * (np.abs(d0) + np.abs(d1)))
    interp = np.where(same, np.abs(d0 + d1) / 2, np.nan_to_num(crossing))
    value = float(np.sum(width * interp))
    high = max(high, low)
    return Bounded(min(max(value, low), high), low, high)


def bin_counts_at(h: Histogram, cuts: np.ndarray) -> np.ndarray:
    """Counts of ``h`` in the bins between ``cuts`` (each cut must be one of ``h.edges``)."""
    idx = np.clip(np.searchsorted(h.edges, cuts), 0, h.edges.size - 1)
    at = h.cumulative[idx]
    if h.closed == "left":  # bins (-inf, cut] as in-process: count below the next float when it is an edge
        after = np.nextafter(cuts, np.inf)
        nidx = np.clip(np.searchsorted(h.edges, after), 0, h.edges.size - 1)
        at = np.where(h.edges[nidx] == after, h.cumulative[nidx], at)
    cum = np.concatenate([[0], at, [h.n]]).astype(float)
    return np.diff(cum)


def decile_cuts(ref_quantiles: np.ndarray | None, probs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The approximate reference deciles, snapped to grid edges (they are edges already)."""
    if ref_quantiles is None:
        return np.array([], dtype=float)
    at = np.searchsorted(probs, np.array(DECILES))
    cuts = np.unique(np.asarray(ref_quantiles, dtype=float)[at])
    idx = np.clip(np.searchsorted(edges, cuts), 0, edges.size - 1)
    return np.unique(edges[idx])


def top_value(h: Histogram) -> tuple[float | None, float]:
    """The heaviest value that has a bin of its own and its share of the finite values.

    Returns ``(None, share bound)`` when no value repeats in the sketch: then no value holds
    more than about one grid bin's mass.
    """
    if h.n == 0:
        return None, 0.0
    counts = np.diff(np.concatenate([[0], h.cumulative]))
    edges = h.edges
    own = np.zeros(edges.size, dtype=bool)
    if h.closed == "right":  # bin (e[j-1], e[j]] holds one value when e[j-1] == nextafter(e[j], -inf)
        own[1:] = edges[:-1] == np.nextafter(edges[1:], -np.inf)
        values = edges
    else:  # bin [e[j-1], e[j]) holds one value when e[j] == nextafter(e[j-1], inf)
        own[1:] = edges[1:] == np.nextafter(edges[:-1], np.inf)
        values = np.concatenate([[np.nan], edges[:-1]])
    if own.any():
        j = int(np.argmax(np.where(own, counts, -1)))
        return float(values[j]), float(counts[j] / h.n)
    return None, float(counts.max() / h.n)


def mass_bound(h: Histogram) -> float:
    """The largest share of values between two neighbouring edges."""
    return float(np.diff(np.concatenate([[0], h.cumulative, [h.n]])).max() / max(h.n, 1))


def nan_safe(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
