"""The domain classifier separates what differs, and only that."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.analysis import domain


def _fit_auc(x_raw: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray]:
    x = np.column_stack([domain.bin_numeric(col) for col in x_raw.T])
    rng = np.random.default_rng(seed)
    fit, test = domain.stratified_halves(y, rng)
    model = domain.BoostedTrees().fit(x[fit], y[fit])
    return domain.roc_auc(y[test], model.decision(x[test])), model.importances


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500).astype(float)
    score = np.round(rng.normal(size=500) + y, 1)  # many ties
    assert domain.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert domain.roc_auc(np.ones(4), np.arange(4.0)) == 0.5  # one class: no information


def test_identical_distributions_give_chance_auc():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6000, 10))
    y = np.repeat([0.0, 1.0], 3000)
    auc, _ = _fit_auc(x, y)
    assert abs(auc - 0.5) < 0.04  # about 3.5 standard errors


def test_flipped_correlation_is_found_and_attributed():
    rng = np.random.default_rng(3)
    n = 3000
    a = rng.normal(size=2 * n)
    b = np.concatenate([a[:n], -a[n:]]) + rng.normal(0, 0.1, 2 * n)  # same marginals, opposite sign
    noise = rng.normal(size=(2 * n, 5))
    y = np.repeat([0.0, 1.0], n)
    auc, importances = _fit_auc(np.column_stack([a, b, noise]), y)
    assert auc > 0.9
    assert set(np.argsort(importances)[-2:]) == {0, 1}


def test_nulls_and_categories_are_features():
    rng = np.random.default_rng(4)
    n = 2000
    values = rng.normal(size=2 * n)
    values[n:][rng.random(n) < 0.3] = np.nan  # nulls only in the current half
    codes = np.concatenate([rng.integers(0, 3, n), rng.integers(0, 4, n)])  # a new category
    codes[:10] = -1
    x = np.column_stack([domain.bin_numeric(values), domain.bin_categories(codes)])
    y = np.repeat([0.0, 1.0], n)
    fit, test = domain.stratified_halves(y, np.random.default_rng(0))
    model = domain.BoostedTrees().fit(x[fit], y[fit])
    assert domain.roc_auc(y[test], model.decision(x[test])) > 0.65
    assert (model.importances > 0).all()


def test_binning_keeps_nulls_apart_and_caps_categories():
    codes = domain.bin_numeric(np.array([np.nan, 1.0, 2.0, 3.0, np.nan]))
    assert codes[0] == codes[4] == 0 and (codes[1:4] > 0).all()
    many = domain.bin_categories(np.arange(100) % 50)
    assert many.max() == domain.BINS - 1 and many.min() == 1
    assert domain.bin_numeric(np.full(3, np.nan)).tolist() == [0, 0, 0]
