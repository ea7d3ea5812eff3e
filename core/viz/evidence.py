"""The charts of pinned evidence: a series over time, a before/after level, ranked bars.

The evidence kinds (:mod:`core.evidence.kinds`) pick one of these for their typed payload;
the post-mortem, its exports and the walkthrough draw what the kind's renderer returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import pandas as pd
import plotly.graph_objects as go

MAX_BARS = 12


def _layout(dark: bool) -> dict[str, Any]:
    return dict(template="plotly_dark" if dark else "plotly_white", height=300, width=760,
                margin=dict(l=60, r=20, t=40, b=50), title=dict(text=None), font=dict(size=16 if dark else 12),
                showlegend=False)


def series_figure(times: Sequence[str | datetime | None], values: Sequence[float | None], *, name: str,
                  dark: bool = False) -> go.Figure:
    """A line with markers of ``values`` over ``times`` (ISO text or datetimes, read as UTC)."""
    xs = pd.to_datetime(list(times), utc=True, errors="coerce")
    fig = go.Figure(go.Scatter(x=xs, y=list(values), mode="lines+markers", name=name))
    fig.update_layout(**_layout(dark), yaxis_title=name)
    return fig


def levels_figure(before: float, after: float, *, axis: str = "level", dark: bool = False) -> go.Figure:
    """Two bars: the level before and after a change."""
    fig = go.Figure(go.Bar(x=["before", "after"], y=[before, after], marker_color=["#4C78A8", "#D62728"],
                           text=[f"{before:.4g}", f"{after:.4g}"], textposition="auto"))
    fig.update_layout(**_layout(dark), yaxis_title=axis)
    return fig


def ranked_bars_figure(rows: Sequence[tuple[str, float]], *, axis: str, dark: bool = False,
                       limit: int = MAX_BARS) -> go.Figure | None:
    """Horizontal bars of ``(label, value)``, the ``limit`` largest ``|value|`` with the largest on top.

    Labels are cut at 40 characters. None when there is no row.
    """
    shown = sorted(((str(label)[:40], float(v)) for label, v in rows), key=lambda x: abs(x[1]), reverse=True)
    shown = shown[:limit][::-1]
    if not shown:
        return None
    fig = go.Figure(go.Bar(x=[v for _, v in shown], y=[label for label, _ in shown], orientation="h",
                           marker_color="#4C78A8"))
    fig.update_layout(**{**_layout(dark), "height": max(220, 40 + 28 * len(shown))}, xaxis_title=axis)
    return fig
