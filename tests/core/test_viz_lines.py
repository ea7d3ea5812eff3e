"""Line traces drawn as SVG, thinned for the view without losing spikes, dips or gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.viz.lines import MAX_LINE_POINTS, line_trace, thin


def test_a_short_series_is_drawn_whole_as_svg():
    x = pd.date_range("2026-03-12", periods=4320, freq="min", tz="UTC")
    y = np.arange(4320.0)
    trace = line_trace(x, y, name="ctr")
    assert trace.type == "scatter" and trace.mode == "lines" and len(trace.x) == 4320 and trace.name == "ctr"


def test_a_long_series_keeps_its_envelope_spikes_and_order():
    n = 200_000
    x = np.arange(n)
    y = np.sin(x / 5000.0)
    y[123_457] = 50.0  # one spike
    y[7] = -40.0  # one dip
    tx, ty = thin(x, y, 2_000)
    assert len(tx) <= 2_000 and np.all(np.diff(tx) > 0)
    assert ty.max() == 50.0 and ty.min() == -40.0 and 123_457 in tx and 7 in tx
    assert tx[0] == 0 and tx[-1] == n - 1
    np.testing.assert_allclose(ty, y[tx])  # every drawn point is a real point of the series


def test_gaps_stay_gaps():
    y = np.ones(40_000)
    y[10_000:20_000] = np.nan
    tx, ty = thin(np.arange(len(y)), y, 1_000)
    assert np.isnan(ty).any()
    assert not np.isnan(ty[tx < 10_000]).any()


def test_the_default_limit_thins_a_day_of_seconds():
    x = pd.date_range("2026-03-12", periods=86_400, freq="s", tz="UTC")
    trace = line_trace(pd.Series(x), pd.Series(np.random.default_rng(1).normal(size=len(x))))
    assert trace.type == "scatter" and len(trace.x) <= MAX_LINE_POINTS
