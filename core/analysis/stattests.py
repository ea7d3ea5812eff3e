"""Statistical tests and effect sizes used by the drift report, with a small registry.

Each test is registered by name with the column type it applies to, its default
threshold and whether it is an effect size or a hypothesis test (see
:data:`STAT_TESTS`). The kernels work on already sorted, null-free numpy arrays
(numeric) or on aligned count vectors (categorical), so one sort per column feeds
every numeric statistic.

The two-sample Kolmogorov–Smirnov statistic and the Wasserstein distance come from
the two sorted samples, merged when small and compared on a grid when large
(:func:`compare_sorted`); both equal scipy's. The KS p-value uses scipy's method
(exact for samples up to 10 000 values, the Kolmogorov distribution of
:mod:`core.analysis.ksdist` above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special

from core.analysis.ksdist import kstwo_sf
from core.errors import InvalidInputError


def inner(x: np.ndarray, y: np.ndarray) -> float:
    """Inner product without BLAS: OpenBLAS may spin extra threads for one long vector, which costs
    more CPU than it saves when the drift report already compares columns in parallel."""
    return float(np.einsum("i,i->", x, y))

NUMERIC = "numeric"
CATEGORICAL = "categorical"
EXACT_KS_MAX_N = 10_000  # scipy's MAX_AUTO_N: exact p-values up to this sample size
PSI_EPSILON = 1e-4  # floor of a bin share in PSI, so an empty bin gives a large but finite term
PSI_BINS = 10


@dataclass(frozen=True)
class StatTest:
    """A registered test: what it measures and when it calls a column drifted.

    Attributes:
        name: registry key, also the key in a column's ``tests``.
        label: human name.
        column_type: ``"numeric"`` or ``"categorical"``.
        threshold: default threshold.
        kind: ``"effect"`` (drifted when statistic > threshold) or ``"test"``
            (drifted when the Benjamini–Hochberg adjusted p-value < threshold).
    """

    name: str
    label: str
    column_type: str
    threshold: float
    kind: str


STAT_TESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("wasserstein", "Normalised Wasserstein distance", NUMERIC, 0.1, "effect"),
        StatTest("psi", "Population stability index", NUMERIC, 0.2, "effect"),
        StatTest("ks", "Kolmogorov–Smirnov test", NUMERIC, 0.05, "test"),
        StatTest("jensen_shannon", "Jensen–Shannon distance", CATEGORICAL, 0.1, "effect"),
        StatTest("psi_cat", "Population stability index", CATEGORICAL, 0.2, "effect"),
        StatTest("chi2", "Chi-square test", CATEGORICAL, 0.05, "test"),
    )
}


def tests_for(column_type: str) -> list[StatTest]:
    """The registered tests that apply to ``column_type``, effect sizes first."""
    return sorted((t for t in STAT_TESTS.values() if t.column_type == column_type),
                  key=lambda t: t.kind != "effect")


def resolve_thresholds(overrides: dict[str, float] | None) -> dict[str, float]:
    """Default thresholds updated with ``overrides``; unknown names are refused."""
    out = {name: t.threshold for name, t in STAT_TESTS.items()}
    for name, value in (overrides or {}).items():
        if name not in out:
            raise InvalidInputError(
                f"unknown drift test '{name}'; use one of {', '.join(sorted(STAT_TESTS))}"
            )
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InvalidInputError(f"threshold of '{name}' must be a non-negative number, got {value!r}")
        out[name] = float(value)
    return out


# ---------------------------------------------------------------- numeric kernels

@dataclass(frozen=True)
class MergedSamples:
    """Two sorted samples merged: the distinct values and ``F_ref - F_cur`` just after each of them."""

    values: np.ndarray  # distinct sorted values of both samples
    diff: np.ndarray  # F_ref(values[i]) - F_cur(values[i]) (right-continuous ECDFs)


def merge_sorted(ref: np.ndarray, cur: np.ndarray) -> MergedSamples:
    """Merge two sorted, non-empty, null-free float arrays into their joint ECDF difference."""
    n1, n2 = ref.size, cur.size
    allv = np.concatenate([ref, cur])
    # a stable sort of two sorted runs is a linear merge (timsort finds the runs)
    order = np.argsort(allv, kind="stable")
    vals = allv[order]
    count_type = np.int32 if n1 + n2 < 2**31 - 1 else np.int64
    c1 = np.cumsum(order < n1, dtype=count_type)
    c2 = np.arange(1, n1 + n2 + 1, dtype=count_type)
    c2 -= c1
    last = np.empty(vals.size, dtype=bool)  # last position of each tie group
    np.not_equal(vals[1:], vals[:-1], out=last[:-1])
    last[-1] = True
    if not last.all():
        vals, c1, c2 = vals[last], c1[last], c2[last]
    diff = np.divide(c1, n1)
    diff -= np.divide(c2, n2)
    return MergedSamples(vals, diff)


def ks_statistic(merged: MergedSamples) -> float:
    """Two-sided KS statistic ``max |F_ref - F_cur|`` (equals scipy's ``ks_2samp``)."""
    max_s = float(merged.diff.max())
    min_s = float(min(max(-merged.diff.min(), 0.0), 1.0))
    return min_s if min_s > max_s else max_s


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of the KS statistic ``d``, by scipy's method for these sample sizes."""
    if max(n1, n2) <= EXACT_KS_MAX_N:
        try:  # scipy's own exact routine, so small-sample p-values agree exactly
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _d, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if ok:
                return float(np.clip(prob, 0.0, 1.0))
        except ImportError:  # private helper moved in a newer scipy: fall back to the asymptotic form
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return kstwo_sf(d, int(np.round(en)))


def wasserstein(merged: MergedSamples) -> float:
    """First Wasserstein distance between the two samples (equals ``scipy.stats.wasserstein_distance``)."""
    if merged.values.size < 2:
        return 0.0
    return float(inner(np.abs(merged.diff[:-1]), np.diff(merged.values)))


def sorted_quantiles(sorted_values: np.ndarray, qs: np.ndarray | list[float]) -> np.ndarray:
    """Quantiles of an already sorted array (numpy's default linear method, without re-partitioning)."""
    qs = np.asarray(qs, dtype=float)
    pos = qs * (sorted_values.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, sorted_values.size - 1)
    frac = pos - lo
    a, b = sorted_values[lo], sorted_values[hi]
    return np.where(frac > 0, a + (b - a) * frac, a)


def quantile_edges(sorted_ref: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Distinct interior bin edges at the reference deciles (``bins`` equal-frequency bins)."""
    return np.unique(sorted_quantiles(sorted_ref, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins ``(-inf, e1], (e1, e2], ..., (ek, inf)`` of a sorted array."""
    cum = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cum, [sorted_values.size]]))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``sum((c - r) * ln(c / r))`` over bin shares floored at ``epsilon``."""
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return 0.0
    r = np.clip(r / r.sum(), epsilon, None)
    c = np.clip(c / c.sum(), epsilon, None)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between two count vectors."""
    p = np.asarray(ref_counts, dtype=float)
    q = np.asarray(cur_counts, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(math.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, int]:
    """Chi-square test of homogeneity on the 2×K table (as ``scipy.stats.chi2_contingency``).

    Categories absent from both samples are dropped; Yates' correction is applied
    when there is one degree of freedom, as scipy does.

    Returns:
        (statistic, p-value, degrees of freedom)
    """
    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    dof = table.shape[1] - 1
    observed = table
    if dof == 1:
        diff = expected - observed
        direction = np.sign(diff)
        magnitude = np.minimum(0.5, np.abs(diff))
        observed = observed + magnitude * direction
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return stat, float(scipy.special.chdtrc(dof, stat)), dof  # what scipy.stats.chi2.sf computes


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, equal to ``scipy.stats.false_discovery_control``.

    Kept here rather than calling scipy because a drift report on samples above
    ``EXACT_KS_MAX_N`` never imports ``scipy.stats`` (below it, the exact KS p-value loads
    it anyway). Measured by ``tests/bench/bench_ports.py`` (one run on a shared 2-core
    machine): ``import scipy.stats`` adds 1.1 s to the 1.7 s that ``python -m core drift``
    imports anyway, while adjusting 50 p-values takes 10 µs here and 75 µs in scipy, the
    two agreeing to 1e-16; ``tests/core/test_drift_stats.py`` checks both agree.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(adjusted, 0.0, 1.0)
    return out.tolist()


def dkw_bound(n: int, alpha: float = 0.05) -> float:
    """Dvoretzky–Kiefer–Wolfowitz bound: ``sup |ECDF_n - F| <= eps`` with probability 1 - alpha."""
    return math.sqrt(math.log(2 / alpha) / (2 * n)) if n > 0 else 1.0


# ---------------------------------------------------------------- large samples: a grid instead of a full merge

GRID_MIN_N = 20_000  # from this many values on both sides, the sorted samples are compared on a grid
GRID = 8192  # grid points taken from each sample


@dataclass(frozen=True)
class GridComparison:
    """Exact KS statistic and Wasserstein distance of two sorted samples, found on a grid."""

    ks: float
    wasserstein: float
    refined_bins: int  # grid bins whose values had to be merged one by one
    grid_points: int


def compare_sorted(ref: np.ndarray, cur: np.ndarray) -> GridComparison:
    """KS statistic and Wasserstein distance of two sorted, non-empty, null-free samples.

    Both equal scipy's (``ks_2samp``, ``wasserstein_distance``). Small samples are merged
    (:func:`merge_sorted`); large ones are compared on a grid (:func:`compare_on_grid`),
    which reads only a few percent of the values one by one.
    """
    if min(ref.size, cur.size) >= GRID_MIN_N:
        return compare_on_grid(ref, cur)
    merged = merge_sorted(ref, cur)
    return GridComparison(ks_statistic(merged), wasserstein(merged), 0, 0)


def compare_on_grid(ref: np.ndarray, cur: np.ndarray, grid: int = GRID) -> GridComparison:
    """Exact KS and Wasserstein of two large sorted samples without merging them.

    The grid holds ``grid`` evenly spaced order statistics of each sample (so both
    extremes). At a grid point both ECDFs are read off by binary search. Inside a bin
    ``(e[i-1], e[i]]`` neither ECDF can move by more than its mass in the bin, which bounds
    ``F_ref - F_cur`` there by ``[low, high]``:

    * KS: a bin can only beat the best grid value when its bound does; only those bins are
      merged value by value, so the statistic is exact.
    * Wasserstein: where the difference keeps one sign over a bin, its integral follows
      exactly from each sample's count and sum in the bin. Bins where it may change sign are merged value by value. The result is the
      exact ``integral |F_ref - F_cur|``.
    """
    n1, n2 = ref.size, cur.size
    edges = np.unique(np.concatenate([
        ref[np.linspace(0, n1 - 1, min(grid, n1)).astype(np.int64)],
        cur[np.linspace(0, n2 - 1, min(grid, n2)).astype(np.int64)],
    ]))
    c1 = np.searchsorted(ref, edges, side="right")
    c2 = np.searchsorted(cur, edges, side="right")
    below1 = _count_below(ref, edges, c1)[1:]  # values strictly below each upper edge
    below2 = _count_below(cur, edges, c2)[1:]
    if n1 == n2 and np.array_equal(c1, c2) and np.array_equal(ref, cur):  # e.g. a file compared with itself
        return GridComparison(0.0, 0.0, 0, int(edges.size))
    diff = c1 / n1 - c2 / n2
    d_grid = float(np.abs(diff).max())
    # bounds of the difference strictly inside bin i = (e[i-1], e[i]), i = 1..k-1
    low = c1[:-1] / n1 - below2 / n2
    high = below1 / n1 - c2[:-1] / n2
    ks_cand = np.maximum(high, -low) > d_grid
    crossing = (low < 0) & (high > 0)
    refine = np.flatnonzero(ks_cand | crossing) + 1  # bin numbers

    # Wasserstein over the bins kept whole: both integrals from counts and sums
    width = np.diff(edges)
    cnt1 = c1[1:] - c1[:-1]
    cnt2 = c2[1:] - c2[:-1]
    # integral of F over a bin = F(e[i-1]) * width + sum over its values v of (e[i] - v)
    i1 = (c1[:-1] * width + (cnt1 * edges[1:] - _segment_sums(ref, c1))) / n1
    i2 = (c2[:-1] * width + (cnt2 * edges[1:] - _segment_sums(cur, c2))) / n2
    whole = np.abs(i1 - i2)
    whole[refine - 1] = 0.0
    w = float(whole.sum())
    d = d_grid
    if refine.size:
        d_ref, w_ref = _refine_bins(ref, cur, edges, c1, c2, diff, refine)
        d, w = max(d, d_ref), w + w_ref
    return GridComparison(min(d, 1.0), w, int(refine.size), int(edges.size))


def _count_below(sorted_values: np.ndarray, edges: np.ndarray, at_most: np.ndarray) -> np.ndarray:
    """``np.searchsorted(sorted_values, edges, side="left")`` given the ``side="right"`` counts.

    Without ties an edge occurs at most once, so the count below it follows from one or two
    neighbours; only edges repeated in the data are searched.
    """
    n = sorted_values.size
    prev1 = sorted_values[np.maximum(at_most - 1, 0)]
    prev2 = sorted_values[np.maximum(at_most - 2, 0)]
    once = (at_most >= 1) & (prev1 == edges) & ((at_most < 2) | (prev2 != edges))
    absent = (at_most == 0) | (prev1 != edges)
    out = at_most - once
    repeated = np.flatnonzero(~once & ~absent)
    if repeated.size and n:
        out[repeated] = np.searchsorted(sorted_values, edges[repeated], side="left")
    return out


def _segment_sums(values: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Sums of ``values[cum[i-1]:cum[i]]`` for i = 1..k-1 (empty segments give 0)."""
    starts = cum[:-1]
    ok = starts < cum[1:]
    out = np.zeros(starts.size)
    if ok.any():
        idx = starts[ok]
        sums = np.add.reduceat(values, idx)  # idx[j]..idx[j+1], the last to the end
        ends = cum[1:][ok]
        tail = values.size - ends[-1]  # the last non-empty segment runs to the array's end: take the rest off
        if tail:
            sums[-1] -= values[ends[-1]:].sum()
        out[ok] = sums
    return out


def _gather(sorted_values: np.ndarray, cum: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values of the given bins (each a contiguous slice), their bin numbers, and each bin's offset in them."""
    starts, ends = cum[bins - 1], cum[bins]
    lengths = ends - starts
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    idx = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return sorted_values[idx], np.repeat(bins, lengths), offsets


def _refine_bins(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray, c1: np.ndarray, c2: np.ndarray,
                 diff: np.ndarray, bins: np.ndarray) -> tuple[float, float]:
    """Exact ``max |F_ref - F_cur|`` and ``integral |F_ref - F_cur|`` over the given bins."""
    n1, n2 = ref.size, cur.size
    ref_sel, ref_bins, off1 = _gather(ref, c1, bins)
    cur_sel, cur_bins, off2 = _gather(cur, c2, bins)
    start1 = np.zeros(edges.size, dtype=np.int64)
    start2 = np.zeros(edges.size, dtype=np.int64)
    start1[bins], start2[bins] = off1, off2
    d_max, w = 0.0, 0.0
    first_of_bin = np.full(edges.size, np.nan)
    if ref_sel.size + cur_sel.size:
        both = np.concatenate([ref_sel, cur_sel])
        order = np.argsort(both, kind="stable")  # a merge of two sorted runs
        points = both[order]
        where = np.concatenate([ref_bins, cur_bins])[order]
        k1 = np.cumsum(order < ref_sel.size)
        k2 = np.arange(1, points.size + 1) - k1
        last = np.ones(points.size, dtype=bool)  # last of each group of equal values
        np.not_equal(points[1:], points[:-1], out=last[:-1])
        points, where, k1, k2 = points[last], where[last], k1[last], k2[last]
        k1 += c1[where - 1] - start1[where]
        k2 += c2[where - 1] - start2[where]
        d_at = np.abs(k1 / n1 - k2 / n2)
        d_max = float(d_at.max())
        nxt = np.empty_like(points)
        nxt[:-1] = points[1:]
        end_of_bin = np.ones(points.size, dtype=bool)
        end_of_bin[:-1] = where[1:] != where[:-1]
        nxt[end_of_bin] = edges[where[end_of_bin]]
        w += float(inner(d_at, nxt - points))
        first = np.ones(points.size, dtype=bool)
        first[1:] = end_of_bin[:-1]
        first_of_bin[where[first]] = points[first]
    # from each bin's lower edge to its first value (or across the whole bin when it holds none)
    ends = np.where(np.isnan(first_of_bin[bins]), edges[bins], first_of_bin[bins])
    w += float(inner(np.abs(diff[bins - 1]), ends - edges[bins - 1]))
    return d_max, w
