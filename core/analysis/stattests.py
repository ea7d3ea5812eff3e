"""Statistical tests and effect sizes used by the drift report, with a small registry.

Each test is registered by name with the column type it applies to, its default
threshold and whether it is an effect size or a hypothesis test (see
:data:`STAT_TESTS`). The kernels work on already sorted, null-free numpy arrays
(numeric) or on aligned count vectors (categorical), so one sort per column feeds
every numeric statistic.

The two-sample Kolmogorov–Smirnov statistic is computed by merging the two sorted
samples; it equals ``scipy.stats.ks_2samp`` and its p-value uses the same method
(exact for samples up to 10 000 values, Smirnov's asymptotic distribution above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from core.errors import InvalidInputError

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
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def wasserstein(merged: MergedSamples) -> float:
    """First Wasserstein distance between the two samples (equals ``scipy.stats.wasserstein_distance``)."""
    if merged.values.size < 2:
        return 0.0
    return float(np.dot(np.abs(merged.diff[:-1]), np.diff(merged.values)))


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
    return stat, float(stats.chi2.sf(stat, dof)), dof


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (equal to ``scipy.stats.false_discovery_control``)."""
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


# ---------------------------------------------------------------- large samples: one sort instead of two

LARGE_N = 100_000  # from this many values on both sides, the current sample is not sorted
GRID = 4096
TAIL = 1024  # extra grid points in each tail, where bins would otherwise be wide


@dataclass(frozen=True)
class GridComparison:
    """KS (exact), Wasserstein (on the grid) and bin counts, from a sorted reference and an unsorted current."""

    ks: float
    wasserstein: float
    cur_counts: np.ndarray  # current counts in the bins of ``bin_counts`` for the given edges
    refined_bins: int
    wasserstein_error: float  # the Wasserstein value is at most this much below the exact one
    edges: np.ndarray  # the grid
    cur_cum: np.ndarray  # number of current values <= each grid point


def compare_on_grid(ref_sorted: np.ndarray, cur: np.ndarray, psi_edges: np.ndarray) -> GridComparison:
    """Compare a sorted reference with an unsorted current sample without sorting the current one.

    Both ECDFs are computed exactly on a grid of about 8,000 points (reference quantiles, a stride
    sample of the current values, both extremes). Between two grid points neither ECDF can move by
    more than its mass in that bin, so the KS statistic is bounded there; only the bins whose bound
    exceeds the best grid value are refined, by sorting the few values inside them. The KS statistic
    is therefore exact (equal to ``scipy.stats.ks_2samp``). The Wasserstein distance integrates both
    ECDFs exactly over each bin (from per-bin counts and sums); it is exact except in bins where the
    two ECDFs cross, whose error is at most the bin width times its mass.
    """
    n1, n2 = ref_sorted.size, cur.size
    step = max(n2 // GRID, 1)
    tail = min(TAIL, n1 // 4)
    outer = cur[(cur < ref_sorted[tail]) | (cur > ref_sorted[-tail - 1])]  # current values in the reference's tails
    if outer.size > 4 * TAIL:
        outer = outer[:: outer.size // (4 * TAIL)]
    edges = np.unique(np.concatenate([
        ref_sorted[np.linspace(0, n1 - 1, GRID).astype(np.int64)], ref_sorted[:TAIL], ref_sorted[-TAIL:],
        cur[::step], outer, [cur.min(), cur.max()], psi_edges,
    ]))
    c1 = np.searchsorted(ref_sorted, edges, side="right")
    idx = locate(edges, cur)  # cur in (edges[i-1], edges[i]] -> i
    c2 = np.cumsum(np.bincount(idx, minlength=edges.size))
    diff = c1 / n1 - c2 / n2
    d_grid = float(np.abs(diff).max())
    # bound inside the open bin (edges[i-1], edges[i]), i >= 1
    upper = np.maximum(c1[1:] / n1 - c2[:-1] / n2, c2[1:] / n2 - c1[:-1] / n1)
    cand = np.flatnonzero(upper > d_grid) + 1
    d = d_grid
    if cand.size:
        is_cand = np.zeros(edges.size, dtype=bool)
        is_cand[cand] = True
        sel_mask = is_cand[idx]
        cur_sel = np.sort(cur[sel_mask])
        cur_bins = np.sort(idx[sel_mask])  # same order as cur_sel: bins are ordered value ranges
        lengths = c1[cand] - c1[cand - 1]
        ref_idx = np.repeat(c1[cand - 1] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        ref_sel = ref_sorted[ref_idx]
        ref_bins = np.repeat(cand, lengths)
        off_ref = np.zeros(edges.size, dtype=np.int64)
        off_cur = np.zeros(edges.size, dtype=np.int64)
        off_ref[cand] = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cur_len = np.bincount(cur_bins, minlength=edges.size)[cand]
        off_cur[cand] = np.concatenate([[0], np.cumsum(cur_len)[:-1]])
        points = np.concatenate([ref_sel, cur_sel])
        bins = np.concatenate([ref_bins, cur_bins])
        k1 = np.searchsorted(ref_sel, points, side="right") - off_ref[bins] + c1[bins - 1]
        k2 = np.searchsorted(cur_sel, points, side="right") - off_cur[bins] + c2[bins - 1]
        if points.size:
            d = max(d, float(np.abs(k1 / n1 - k2 / n2).max()))
    w1, w1_bound = _grid_wasserstein(ref_sorted, cur, edges, idx, c1, c2)
    at = np.searchsorted(edges, psi_edges)
    cum = c2[at] if psi_edges.size else np.array([], dtype=np.int64)
    cur_counts = np.diff(np.concatenate([[0], cum, [n2]]))
    return GridComparison(min(d, 1.0), w1, cur_counts, int(cand.size), w1_bound, edges, c2)


def _grid_wasserstein(ref_sorted: np.ndarray, cur: np.ndarray, edges: np.ndarray, idx: np.ndarray,
                      c1: np.ndarray, c2: np.ndarray) -> float:
    """``sum over bins |integral (F_ref - F_cur)|`` with both integrals exact per bin, and its error bound.

    In a bin where the difference keeps its sign the term is exact; where it may change sign the
    term can fall short by at most the bin width times the range of the difference in the bin.
    """
    n1, n2 = ref_sorted.size, cur.size
    shift = float(ref_sorted[n1 // 2])  # centre the sums to keep their rounding small
    e = edges - shift
    ref_cum = np.concatenate([[0.0], np.cumsum(ref_sorted - shift)])
    sum1 = ref_cum[c1[1:]] - ref_cum[c1[:-1]]
    sum2 = np.bincount(idx, weights=cur - shift, minlength=edges.size)[1:]
    cnt1 = c1[1:] - c1[:-1]
    cnt2 = c2[1:] - c2[:-1]
    width = np.diff(e)
    b = e[1:]
    i1 = (c1[:-1] * width + (cnt1 * b - sum1)) / n1
    i2 = (c2[:-1] * width + (cnt2 * b - sum2)) / n2
    low = c1[:-1] / n1 - c2[1:] / n2  # smallest possible difference inside each bin
    high = c1[1:] / n1 - c2[:-1] / n2  # largest
    crossing = (low < 0) & (high > 0)
    bound = float(np.sum((high - low)[crossing] * width[crossing]))
    return float(np.abs(i1 - i2).sum()), bound


LOOKUP_CELLS = 1 << 17
LOOKUP_PASSES = 4
LOOKUP_CROWDED = 64  # edges in one cell beyond which the lookup is not worth it


def locate(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, values, side="left")`` for many unsorted values, faster.

    A uniform lookup table over the edges' range gives each value the first edge of its cell;
    a few vectorised passes step over the edges inside the cell, and the rare values still
    unplaced (cells crowded with edges) fall back to a binary search. Values must lie within
    [edges[0], edges[-1]].
    """
    lo, hi = float(edges[0]), float(edges[-1])
    if not hi > lo or not np.isfinite(hi - lo):
        return np.searchsorted(edges, values, side="left")
    scale = LOOKUP_CELLS / (hi - lo)
    bounds = lo + np.arange(LOOKUP_CELLS + 1) / scale
    table = np.searchsorted(edges, bounds, side="left")  # first edge >= each cell's start
    if int(np.diff(table).max()) > LOOKUP_CROWDED:  # edges crowd a few cells (heavy tails): plain search
        return np.searchsorted(edges, values, side="left")
    cell = ((values - lo) * scale).astype(np.int64)
    np.clip(cell, 0, LOOKUP_CELLS - 1, out=cell)
    idx = table[cell]
    # the cell start may round above a value next to it: step back where needed
    back = (idx > 0) & (edges[np.maximum(idx - 1, 0)] >= values)
    if back.any():
        where = np.flatnonzero(back)
        idx[where] = np.searchsorted(edges, values[where], side="left")
    todo = np.flatnonzero(edges[np.minimum(idx, edges.size - 1)] < values)
    for _ in range(LOOKUP_PASSES):
        if todo.size == 0:
            return idx
        idx[todo] += 1
        todo = todo[edges[np.minimum(idx[todo], edges.size - 1)] < values[todo]]
    if todo.size:
        idx[todo] = np.searchsorted(edges, values[todo], side="left")
    return idx
