"""Line and marker traces that a browser draws fast.

Plotly's WebGL traces (``scattergl``) cost a WebGL context per chart: on a machine without a GPU
(a headless browser, a thin client, a remote desktop) mounting one takes 1.5–2 s, against
0.3–0.7 s for the same 4,320-point line drawn as SVG (measured in headless Chromium). A war-room
page is visited many times, so lines use SVG traces (markers too, up to
:data:`SVG_MAX_MARKERS` per trace), and a series longer than
:data:`MAX_LINE_POINTS` is thinned for the view by keeping each bucket's first, lowest, highest
and last point — the drawn envelope (spikes and dips included) is the same as the full series'
at screen resolution. Analyses never see thinned data: only the figure does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MAX_LINE_POINTS = 5_000
SVG_MAX_MARKERS = 1_000  # more markers than this in one trace are drawn with WebGL


def marker_trace_type(n: int) -> type:
    """``go.Scatter`` for up to :data:`SVG_MAX_MARKERS` markers, ``go.Scattergl`` beyond (many SVG nodes are slow)."""
    return go.Scatter if n <= SVG_MAX_MARKERS else go.Scattergl


def thin(x: Any, y: Any, max_points: int = MAX_LINE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` with at most about ``max_points`` points, keeping each bucket's first, min, max and last.

    ``x`` must be sorted. Missing values of ``y`` stay as gaps: a bucket with no value keeps one
    missing point. Shorter series come back unchanged.
    """
    xs = np.asarray(x.to_numpy() if isinstance(x, (pd.Series, pd.Index)) else x)
    ys = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else y, dtype=float)
    n = len(ys)
    if n <= max_points or max_points < 8:
        return xs, ys
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[np.ndarray] = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        seg = ys[a:b]
        finite = np.isfinite(seg)
        if not finite.any():
            keep.append(np.array([a]))
            continue
        idx = np.flatnonzero(finite)
        lo = idx[np.argmin(seg[idx])]
        hi = idx[np.argmax(seg[idx])]
        keep.append(np.unique(np.array([a, a + lo, a + hi, b - 1])))
    order = np.concatenate(keep)
    return xs[order], ys[order]


def line_trace(x: Any, y: Any, *, max_points: int = MAX_LINE_POINTS, **kwargs: Any) -> go.Scatter:
    """An SVG line trace of the (thinned) series; ``kwargs`` go to ``go.Scatter``."""
    kwargs.setdefault("mode", "lines")
    if len(y) <= max_points:
        return go.Scatter(x=x, y=y, **kwargs)
    tx, ty = thin(x, y, max_points)
    return go.Scatter(x=tx, y=ty, **kwargs)
