"""The drift kernels agree with scipy and with the direct formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from core.analysis import stattests as st
from core.errors import InvalidInputError


def _sample(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "shifted":
        return rng.normal(0.3, 1.2, size=n)
    if kind == "ties":
        return rng.integers(0, 5, size=n).astype(float)
    if kind == "heavy":
        return rng.standard_t(2, size=n)
    if kind == "constant":
        return np.full(n, 3.0)
    raise AssertionError(kind)


CORPUS = [
    (a, b, n1, n2, seed)
    for seed, (a, b, n1, n2) in enumerate([
        ("normal", "normal", 50, 50), ("normal", "shifted", 37, 91), ("ties", "ties", 200, 150),
        ("ties", "normal", 120, 80), ("heavy", "normal", 1000, 700), ("normal", "shifted", 5000, 9000),
        ("constant", "normal", 30, 40), ("constant", "constant", 25, 25), ("normal", "shifted", 20_000, 15_000),
        ("ties", "shifted", 30_000, 12_000), ("heavy", "heavy", 12_000, 50_000), ("normal", "normal", 3, 4),
        ("shifted", "ties", 1, 500), ("normal", "shifted", 200_000, 180_000),
    ])
]


@pytest.mark.parametrize("a,b,n1,n2,seed", CORPUS)
def test_ks_matches_scipy(a, b, n1, n2, seed):
    rng = np.random.default_rng(seed)
    x, y = _sample(a, n1, rng), _sample(b, n2, rng)
    merged = st.merge_sorted(np.sort(x), np.sort(y))
    d = st.ks_statistic(merged)
    p = st.ks_pvalue(d, n1, n2)
    ref = stats.ks_2samp(x, y)
    assert abs(d - ref.statistic) <= 1e-9
    assert p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("a,b,n1,n2,seed", CORPUS[:10])
def test_wasserstein_matches_scipy(a, b, n1, n2, seed):
    rng = np.random.default_rng(seed)
    x, y = _sample(a, n1, rng), _sample(b, n2, rng)
    w = st.wasserstein(st.merge_sorted(np.sort(x), np.sort(y)))
    assert w == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("counts", [
    ([10, 20, 30], [30, 20, 10]),
    ([5, 0, 7, 100], [6, 3, 0, 90]),
    ([50, 50], [90, 10]),
    ([1000, 1, 1], [995, 4, 3]),
])
def test_chi2_matches_scipy(counts):
    r, c = (np.array(x) for x in counts)
    stat, p, dof = st.chi2_test(r, c)
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    ref = stats.chi2_contingency(table)
    assert stat == pytest.approx(ref.statistic, rel=1e-9)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert dof == ref.dof


def test_chi2_single_category_is_no_evidence():
    assert st.chi2_test(np.array([5, 0]), np.array([7, 0])) == (0.0, 1.0, 0)


@pytest.mark.parametrize("seed", range(5))
def test_psi_and_js_match_direct_formulas(seed):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 200, size=8).astype(float)
    c = rng.integers(0, 200, size=8).astype(float)
    r[seed % 8] = 0  # an empty bin is floored, not a division by zero
    pr, pc = r / r.sum(), c / c.sum()
    expected_psi = sum(
        (max(b, 1e-4) - max(a, 1e-4)) * math.log(max(b, 1e-4) / max(a, 1e-4)) for a, b in zip(pr, pc)
    )
    assert st.psi(r, c) == pytest.approx(expected_psi, rel=1e-12)
    m = (pr + pc) / 2
    kl = lambda p: sum(x * math.log2(x / y) for x, y in zip(p, m) if x > 0)  # noqa: E731
    assert st.jensen_shannon(r, c) == pytest.approx(math.sqrt((kl(pr) + kl(pc)) / 2), rel=1e-12)
    assert st.jensen_shannon(r, c) == pytest.approx(jensenshannon(pr, pc, base=2), rel=1e-9)


def test_bin_counts_use_reference_deciles():
    ref = np.sort(np.arange(100, dtype=float))
    edges = st.quantile_edges(ref)
    assert len(edges) == 9
    assert st.bin_counts(ref, edges).tolist() == [10] * 10
    assert st.bin_counts(np.sort(np.full(7, 1000.0)), edges).tolist() == [0] * 9 + [7]


def test_benjamini_hochberg_matches_scipy():
    p = [0.01, 0.04, 0.03, 0.5, 0.2, 0.001, 0.04]
    assert st.benjamini_hochberg(p) == pytest.approx(list(stats.false_discovery_control(p)), rel=1e-12)
    assert st.benjamini_hochberg([]) == []


def test_thresholds_registry():
    thr = st.resolve_thresholds({"psi": 0.25})
    assert thr["psi"] == 0.25 and thr["ks"] == 0.05
    assert [t.name for t in st.tests_for("numeric")] == ["wasserstein", "psi", "ks"]
    with pytest.raises(InvalidInputError, match="unknown drift test 'psii'"):
        st.resolve_thresholds({"psii": 0.1})
    with pytest.raises(InvalidInputError, match="non-negative"):
        st.resolve_thresholds({"psi": -1})


LARGE_CASES = ["normal", "ties", "shift", "scale", "heavy", "disjoint", "offset", "constant", "identical", "one_tie"]


def _large_pair(kind: str, rng: np.random.Generator, n1: int = 150_000, n2: int = 120_000):
    return {
        "normal": lambda: (rng.normal(size=n1), rng.normal(size=n2)),
        "ties": lambda: (rng.integers(0, 50, n1).astype(float), rng.integers(0, 51, n2).astype(float)),
        "shift": lambda: (rng.normal(size=n1), rng.normal(0.02, 1, size=n2)),
        "scale": lambda: (rng.lognormal(3, 1, n1), rng.lognormal(3, 1, n2) * 10),
        "heavy": lambda: (rng.standard_t(1.5, n1), rng.standard_t(1.5, n2)),
        "disjoint": lambda: (rng.normal(size=n1), rng.normal(100, 1, n2)),
        "offset": lambda: (1e6 + rng.normal(size=n1), 1e6 + rng.normal(size=n2)),
        "constant": lambda: (np.full(n1, 2.0), rng.normal(2.0, 1, size=n2)),
        "identical": lambda: (np.arange(n1, dtype=float), np.arange(n1, dtype=float)),
        "one_tie": lambda: (np.concatenate([rng.normal(size=n1 - 5000), np.zeros(5000)]),
                            np.concatenate([rng.normal(size=n2 - 100), np.zeros(100)])),
    }[kind]()


@pytest.mark.parametrize("kind", LARGE_CASES)
def test_grid_comparison_of_large_samples_is_exact(kind):
    """The grid reads only some values one by one, yet KS and Wasserstein equal scipy's."""
    rng = np.random.default_rng(len(kind))
    x, y = _large_pair(kind, rng)
    grid = st.compare_on_grid(np.sort(x), np.sort(y))
    ref = stats.ks_2samp(x, y)
    assert abs(grid.ks - ref.statistic) <= 1e-9
    assert st.ks_pvalue(grid.ks, x.size, y.size) == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert grid.wasserstein == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-9, abs=1e-12)
    if kind in ("shift", "disjoint", "scale"):
        assert grid.refined_bins < 0.02 * grid.grid_points  # a clear difference is settled on the grid


def test_compare_sorted_merges_small_samples_and_grids_large_ones():
    rng = np.random.default_rng(7)
    small = st.compare_sorted(np.sort(rng.normal(size=500)), np.sort(rng.normal(size=400)))
    assert small.grid_points == 0
    x, y = rng.normal(size=st.GRID_MIN_N), rng.normal(0.1, 1, size=st.GRID_MIN_N + 3)
    large = st.compare_sorted(np.sort(x), np.sort(y))
    assert large.grid_points > 0
    assert large.ks == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)
