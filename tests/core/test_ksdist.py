"""The large-sample KS distribution equals scipy's ``kstwo.sf`` in every branch."""

from __future__ import annotations

import math

import pytest
from scipy import special, stats

from core.analysis import ksdist

# (n, z = d * sqrt(n)): Ruben–Gambino edges, Pelz–Good, Smirnov's series, the underflow cut-off,
# scipy's approximation above n = 1,000,000 and the Durbin-matrix branches handed to scipy
CASES = [(n, z) for n in (150, 3_000, 20_000, 100_000, 100_001, 500_000, 1_000_000, 2_000_000)
         for z in (0.02, 0.5, 1.0, 1.4, 1.48, 1.6, 2.0, 3.0, 5.0, 12.0, 19.5, 30.0)]


@pytest.mark.parametrize("n,z", CASES)
def test_kstwo_sf_matches_scipy(n, z):
    d = z / math.sqrt(n)
    assert ksdist.kstwo_sf(d, n) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("n,d", [(200, 0.004), (200, 0.9), (10, 0.3), (5_000, 0.6), (400_000, 1.0), (400_000, 0.0)])
def test_kstwo_sf_edges(n, d):
    assert ksdist.kstwo_sf(d, n) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("n,x", [(5_000, 0.03), (80_000, 0.008), (500_000, 0.003), (999_999, 0.004)])
def test_smirnov_series_matches_scipy_special(n, x):
    assert ksdist.smirnov_series(n, x) == pytest.approx(float(special.smirnov(n, x)), rel=1e-8)
