"""The domain classifier behind the multivariate drift check: small gradient-boosted trees in numpy.

Can a model tell current rows from reference rows? Its held-out ROC AUC answers how far
the joint distribution moved (0.5: not at all; 1.0: the two samples are fully separated),
including moves no single column shows, such as a correlation that flipped.

The model is histogram gradient boosting (logistic loss, depth-3 trees on at most 32 bins
per column, the construction LightGBM and scikit-learn's ``HistGradientBoostingClassifier``
use), trained on a few thousand rows. It lives here rather than in scikit-learn because
importing scikit-learn costs about 0.75 s (it loads ``scipy.stats``), a third of a whole
million-row drift report; training and scoring here take about 0.1 s.
``tests/core/test_domain.py`` checks it against known separations.

Still pays with the command line's lazy imports (``tests/bench/bench_ports.py``, one run
on a shared 2-core machine, 3,000 rows per side and 50 columns as in the drift
benchmark): 0.28 s to train and score here against 0.81 s for
``HistGradientBoostingClassifier`` with the same settings plus ``roc_auc_score`` (the
same AUC, 0.868), and importing those two adds 2.3 s to the 1.7 s that
``python -m core drift`` imports anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 32  # per column; bin 0 holds the nulls, 1 and BINS-1 hold -inf and +inf
DEPTH = 3
ROUNDS = 40
LEARNING_RATE = 0.3
L2 = 1.0  # regularisation of leaf values
MIN_LEAF = 20  # rows


def bin_numeric(values: np.ndarray) -> np.ndarray:
    """Codes at the pooled quantiles of the finite values: 2..BINS-2; nulls 0, -inf 1, +inf BINS-1."""
    codes = np.zeros(values.size, dtype=np.uint8)
    codes[values == -np.inf] = 1
    codes[values == np.inf] = BINS - 1
    ok = np.isfinite(values)
    if not ok.any():
        return codes
    finite = values[ok]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS - 3)[1:-1]))
    codes[ok] = (np.searchsorted(edges, finite, side="left") + 2).astype(np.uint8)
    return codes


def bin_categories(codes: np.ndarray) -> np.ndarray:
    """Category codes (-1 for null) to bins ordered by frequency; the rarest share the last bin."""
    out = np.zeros(codes.size, dtype=np.uint8)
    ok = codes >= 0
    if not ok.any():
        return out
    counts = np.bincount(codes[ok])
    rank = np.empty(counts.size, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(counts.size)
    out[ok] = (np.minimum(rank[codes[ok]], BINS - 2) + 1).astype(np.uint8)
    return out


@dataclass
class _Tree:
    feature: np.ndarray  # per node; -1 marks a leaf
    threshold: np.ndarray  # go left when code <= threshold
    value: np.ndarray  # leaf values


class BoostedTrees:
    """Gradient-boosted depth-limited trees on binned features (binary logistic loss)."""

    def __init__(self, rounds: int = ROUNDS, depth: int = DEPTH, learning_rate: float = LEARNING_RATE,
                 l2: float = L2, min_leaf: int = MIN_LEAF) -> None:
        self.rounds, self.depth, self.learning_rate = rounds, depth, learning_rate
        self.l2, self.min_leaf = l2, min_leaf
        self.trees: list[_Tree] = []
        self.importances = np.zeros(0)
        self.base = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> BoostedTrees:
        """Train on ``x`` (rows × columns of bin codes, uint8) and labels ``y`` (0 or 1)."""
        n, f = x.shape
        self.importances = np.zeros(f)
        share = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        self.base = float(np.log(share / (1 - share)))
        score = np.full(n, self.base)
        flat = x.astype(np.uint16) + (np.arange(f, dtype=np.uint16) * BINS)  # cells of a column × bin table
        for _ in range(self.rounds):
            p = 1.0 / (1.0 + np.exp(-score))
            tree = self._grow(x, flat, p - y, p * (1 - p))
            self.trees.append(tree)
            score += self.learning_rate * self._apply(tree, x)
        return self

    def _histograms(self, flat: np.ndarray, idx: np.ndarray, g: np.ndarray, h: np.ndarray,
                    f: int) -> np.ndarray:
        """Counts, gradient and hessian sums per (column, bin) of the rows ``idx``: shape (3, f, BINS)."""
        cells = flat[idx].ravel()
        size = f * BINS
        return np.stack([
            np.bincount(cells, minlength=size),
            np.bincount(cells, weights=np.repeat(g[idx], f), minlength=size),
            np.bincount(cells, weights=np.repeat(h[idx], f), minlength=size),
        ]).reshape(3, f, BINS)

    def _grow(self, x: np.ndarray, flat: np.ndarray, g: np.ndarray, h: np.ndarray) -> _Tree:
        n_nodes = 2 ** (self.depth + 1) - 1
        feature = np.full(n_nodes, -1, dtype=np.int64)
        threshold = np.zeros(n_nodes, dtype=np.int64)
        value = np.zeros(n_nodes)
        f = x.shape[1]
        root = np.arange(x.shape[0])
        pending: dict[int, tuple[np.ndarray, np.ndarray | None]] = {0: (root, self._histograms(flat, root, g, h, f))}
        for node in range(n_nodes):
            if node not in pending:
                continue
            idx, hist = pending.pop(node)
            g_sum, h_sum = float(g[idx].sum()), float(h[idx].sum())
            value[node] = -g_sum / (h_sum + self.l2)
            if hist is None:  # a leaf by depth
                continue
            cl, gl, hl = (hist[k].cumsum(axis=1)[:, :-1] for k in range(3))
            gr, hr = g_sum - gl, h_sum - hl
            gain = gl**2 / (hl + self.l2) + gr**2 / (hr + self.l2) - g_sum**2 / (h_sum + self.l2)
            gain[(cl < self.min_leaf) | (idx.size - cl < self.min_leaf)] = -np.inf
            best = int(np.argmax(gain))
            if not np.isfinite(gain.flat[best]) or gain.flat[best] <= 1e-12:
                continue
            feat, thr = divmod(best, BINS - 1)
            feature[node], threshold[node] = feat, thr
            self.importances[feat] += gain.flat[best]
            go_left = x[idx, feat] <= thr
            left, right = idx[go_left], idx[~go_left]
            if int(np.log2(node + 1)) + 1 >= self.depth:  # the children are leaves
                pending[2 * node + 1], pending[2 * node + 2] = (left, None), (right, None)
                continue
            # the smaller child is counted; the larger one's histograms are the parent's minus it
            left_smaller = left.size <= right.size
            small_hist = self._histograms(flat, left if left_smaller else right, g, h, f)
            left_hist, right_hist = (small_hist, hist - small_hist) if left_smaller else (hist - small_hist, small_hist)
            pending[2 * node + 1] = (left, left_hist if left.size >= 2 * self.min_leaf else None)
            pending[2 * node + 2] = (right, right_hist if right.size >= 2 * self.min_leaf else None)
        return _Tree(feature, threshold, value)

    @staticmethod
    def _apply(tree: _Tree, x: np.ndarray) -> np.ndarray:
        node = np.zeros(x.shape[0], dtype=np.int64)
        rows = np.arange(x.shape[0])
        while True:
            feat = tree.feature[node]
            inner = feat >= 0
            if not inner.any():
                return tree.value[node]
            i = rows[inner]
            go_right = x[i, feat[inner]] > tree.threshold[node[inner]]
            node[inner] = 2 * node[inner] + 1 + go_right

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Log-odds that each row is from the positive class."""
        score = np.full(x.shape[0], self.base)
        for tree in self.trees:
            score += self.learning_rate * self._apply(tree, x)
        return score


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with tied scores given their average rank)."""
    order = np.argsort(score, kind="stable")
    s = score[order]
    ranks = np.empty(s.size)
    starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
    ends = np.concatenate([starts[1:], [s.size]])
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # 1-based average ranks
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def stratified_halves(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of two halves with the same class balance (fit, test)."""
    fit, test = [], []
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        half = idx.size // 2
        fit.append(idx[:half])
        test.append(idx[half:])
    return np.concatenate(fit), np.concatenate(test)
