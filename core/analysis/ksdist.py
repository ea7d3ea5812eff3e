"""Survival function of the two-sided one-sample Kolmogorov–Smirnov distribution for large n.

``kstwo_sf(d, n)`` returns what ``scipy.stats.kstwo.sf(d, n)`` returns (scipy's
``_kolmogn`` method, Simard & L'Ecuyer 2011), without two costs scipy has for the
sample sizes of a drift report:

* importing ``scipy.stats`` takes about 0.6 s, more than comparing a million-row column;
* for ``2.2 <= n d² < 370`` scipy sums Smirnov's one-sided series term by term in C,
  about 0.6 s per p-value at n = 500,000. Here the same series is summed as one
  vectorised log-sum-exp (about 25 ms). Above n = 1,000,000 scipy itself switches to an
  approximation, and so does this function (by calling scipy there).

Still pays with the command line's lazy imports (``tests/bench/bench_ports.py``, one run
on a shared 2-core machine): 4 p-values at n = 500,000 (1M rows per side) take 0.22 s
here against 3.5 s in ``scipy.stats.kstwo.sf``, at n = 50,000 0.015 s against 0.37 s,
agreeing to 2e-13; and ``import scipy.stats`` adds 1.1 s to the 1.7 s that
``python -m core drift`` imports anyway.

The branches follow scipy's ``_kolmogn`` for ``n > 140``; the Pelz–Good expansion is a
port of scipy's ``_kolmogn_PelzGood`` (BSD-3-Clause). The two branches that need a
Durbin matrix (``n <= 140``, or ``n <= 100,000`` with a small ``n d^1.5``) call scipy.
``tests/core/test_ksdist.py`` checks every branch against scipy.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special

_PI_SQUARED = math.pi ** 2
_PI_FOUR = math.pi ** 4
_PI_SIX = math.pi ** 6
_SQRT2PI = math.sqrt(2 * math.pi)
_SQRT3 = math.sqrt(3)
_LOG_2PI = math.log(2 * math.pi)
_MIN_LOG = -708
_STIRLING_COEFFS = [-2.955065359477124183e-2, 6.4102564102564102564e-3,
                    -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                    -5.952380952380952381e-4, 7.9365079365079365079e-4,
                    -2.7777777777777777778e-3, 8.3333333333333333333e-2]
SMIRNOV_SERIES_MIN_N = 5_000  # below this, scipy.special.smirnov is already fast
SMIRNOV_MAX_COMPUTE_N = 1_000_000  # above this, scipy.special.smirnov switches to a fast approximation


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _log_nfactorial_div_n_pow_n(n: int) -> float:
    rn = 1.0 / n
    return math.log(n) / 2 - n + _LOG_2PI / 2 + rn * float(np.polyval(_STIRLING_COEFFS, rn / n))


def smirnov_series(n: int, x: float) -> float:
    """One-sided ``P(D_n^+ >= x)`` by Smirnov's exact finite series, summed in log space.

    ``P = x * sum_{j=0}^{floor(n(1-x))} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)``.
    """
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    nx = n * x
    j = np.arange(0, math.floor(n - nx) + 1, dtype=float)
    rest = (n - j) - nx  # n(1 - x - j/n), with little cancellation near the end of the range
    with np.errstate(divide="ignore", invalid="ignore"):
        log_terms = (scipy.special.gammaln(n + 1.0) - scipy.special.gammaln(j + 1.0)
                     - scipy.special.gammaln(n - j + 1.0)
                     + (n - j) * np.log(rest / n) + (j - 1.0) * np.log((nx + j) / n))
    log_terms[rest <= 0] = -np.inf
    top = float(log_terms.max())
    if not math.isfinite(top):
        return 0.0
    return _clip(x * math.exp(top) * float(np.exp(log_terms - top).sum()))


def _smirnov(n: int, x: float) -> float:
    if SMIRNOV_SERIES_MIN_N <= n <= SMIRNOV_MAX_COMPUTE_N and 0.0 < x < 0.5:
        return smirnov_series(n, x)
    return float(scipy.special.smirnov(n, x))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz–Good approximation to ``P(D_n <= x)`` (port of scipy's ``_kolmogn_PelzGood``)."""
    z = math.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    k0to3 = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array([1.0,
                           k1a + k1b * msquared,
                           k2a + k2b * msquared + k2c * mfour,
                           k3a + k3b * msquared + k3c * mfour + k3d * msix])
        k0to3 *= qpower
        k0to3 += coeffs
    k0to3 *= q
    k0to3 *= _SQRT2PI
    k0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks ** 2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q ** ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    k0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    k0to3[3] += k3extra
    powers_of_n = np.power(n * 1.0, np.arange(len(k0to3)) / 2.0)
    k0to3 /= powers_of_n
    return float(sum(k0to3))


def kstwo_sf(d: float, n: int) -> float:
    """``P(D_n >= d)`` for the two-sided one-sample KS statistic (equals ``scipy.stats.kstwo.sf``)."""
    n = int(n)
    x = float(d)
    if n <= 0 or math.isnan(x):
        return math.nan
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben–Gambino
        if t <= 0.5:
            return 1.0
        if n <= 140:
            prob = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            prob = math.exp(_log_nfactorial_div_n_pow_n(n) + n * math.log(2 * t - 1))
        return _clip(1.0 - prob)
    if t >= n - 1:  # Ruben–Gambino
        return _clip(2 * (1.0 - x) ** n)
    if x >= 0.5:
        return _clip(2 * _smirnov(n, x))
    nxsquared = t * x
    if n > 140:
        if nxsquared >= 370.0:
            return 0.0
        if nxsquared >= 2.2:
            return _clip(2 * _smirnov(n, x))
        if not (n <= 100_000 and n * x**1.5 <= 1.4):
            return _clip(1.0 - _pelz_good_cdf(n, x))
    from scipy import stats  # Durbin's matrix method: rare at drift-report sizes, so scipy is imported late

    return _clip(float(stats.kstwo.sf(x, n)))
