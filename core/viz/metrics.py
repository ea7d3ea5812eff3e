"""Plotly figures of the Metrics page: the KPI with its onset, and segment small multiples.

* :func:`kpi_figure` draws the analysed series (SVG, thinned past 5,000 points: :mod:`core.viz.lines`), the fitted level
  (with the daily profile put back), the main onset as a shaded band from the
  start of the change to the new level, the levels before and after as dashed
  lines, the other change points as thin lines, and the incident's milestones
  as labelled vertical lines.
* :func:`segments_figure` draws one small panel per segment (platform,
  country...) on a shared time axis, each titled with its change and whether it
  moved at the onset.

``dark=True`` gives the presentation-mode look (dark template, larger type).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.changepoint import OnsetResult, SegmentBreakdown
from core.viz.lines import line_trace

COLORS = {"series": "#4C78A8", "fitted": "#F58518", "bad": "#D62728", "good": "#2CA02C",
          "neutral": "#7F7F7F", "milestone": "#9467BD"}
MILESTONE_DASH = {"started": "solid", "detected": "dash", "acknowledged": "dot", "mitigated": "dashdot",
                  "resolved": "longdash"}


def _layout(fig: go.Figure, *, dark: bool, height: int, title: str | None) -> go.Figure:
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white", height=height,
        font={"size": 17 if dark else 13}, margin={"l": 60, "r": 20, "t": 60 if title else 30, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="x unified", title={"text": title} if title else None,
    )
    return fig


def _fmt_rel(rel: float | None) -> str:
    return "n/a" if rel is None or not math.isfinite(rel) else f"{rel:+.1%}"


def kpi_figure(
    result: OnsetResult,
    *,
    milestones: Mapping[str, datetime | None] | None = None,
    unit: str = "",
    dark: bool = False,
    height: int = 460,
) -> go.Figure:
    """The KPI chart: series, fitted level, onset band, before/after levels, milestones.

    Args:
        result: the output of ``detect_onset`` (its ``grid`` is what is drawn).
        milestones: the incident's milestones (name -> UTC time); None values are skipped.
        unit: appended to the y-axis title.
        dark: presentation-mode styling.
        height: figure height in pixels.
    """
    grid = result.grid
    fig = go.Figure()
    fig.add_trace(line_trace(grid["timestamp"], grid["value"], name=result.metric,
                       line={"color": COLORS["series"], "width": 1}, opacity=0.8))
    fig.add_trace(line_trace(grid["timestamp"], grid["fitted"], name="fitted level",
                       line={"color": COLORS["fitted"], "width": 2}))
    for cp in result.change_points:
        if cp is result.onset:
            continue
        fig.add_vline(x=cp.time, line={"color": COLORS[cp.effect], "width": 1, "dash": "dot"}, opacity=0.6)
    o = result.onset
    if o is not None:
        color = COLORS[o.effect]
        end = o.settled or o.time
        if end > o.time:
            fig.add_vrect(x0=o.time, x1=end, fillcolor=color, opacity=0.15, line_width=0)
        fig.add_vline(x=o.time, line={"color": color, "width": 2})
        fig.add_annotation(x=o.time, y=1, yref="paper", yanchor="bottom", showarrow=False, xanchor="left",
                           text=f"onset {o.time:%m-%d %H:%M} UTC ({_fmt_rel(o.relative_change)})",
                           font={"color": color})
        for x0, x1, level, name in ((o.before_start, o.time, o.level_before, "level before"),
                                    (end, o.after_end, o.level_after, "level after")):
            fig.add_trace(go.Scatter(x=[x0, x1], y=[level, level], mode="lines", name=f"{name}: {level:.4g}",
                                     line={"color": color if name == "level after" else COLORS["neutral"],
                                           "dash": "dash", "width": 2}))
    shown = sorted(((when, name) for name, when in (milestones or {}).items() if when is not None))
    for i, (when, name) in enumerate(shown):
        fig.add_vline(x=when, line={"color": COLORS["milestone"], "width": 1.5,
                                    "dash": MILESTONE_DASH.get(name, "dash")})
        # labels of close milestones are stacked so they never overlap
        fig.add_annotation(x=when, y=0.02 + 0.09 * (i % 5), yref="paper", yanchor="bottom", showarrow=False,
                           xanchor="right", text=name, font={"color": COLORS["milestone"]},
                           bgcolor="rgba(0,0,0,0.55)" if dark else "rgba(255,255,255,0.8)")
    fig.update_yaxes(title_text=f"{result.metric}{f' ({unit})' if unit else ''}")
    fig.update_xaxes(title_text="time (UTC)")
    return _layout(fig, dark=dark, height=height, title=None)


def segments_figure(
    frame: pd.DataFrame,
    breakdown: SegmentBreakdown,
    *,
    dark: bool = False,
    columns: int = 3,
    max_points: int = 600,
) -> go.Figure:
    """Small multiples: one panel per segment with the onset line, titled with its change.

    Args:
        frame: the labelled series (``timestamp``, ``value``, ``breakdown.label``).
        breakdown: the output of ``break_down_segments``.
        dark: presentation-mode styling.
        columns: panels per row.
        max_points: each panel is averaged down to about this many points.
    """
    segs = list(breakdown.segments)
    cols = max(1, min(columns, len(segs)))
    rows = max(1, math.ceil(len(segs) / cols))
    titles = [f"{s.segment}: {_fmt_rel(s.relative_change)} · {'moved' if s.moved else 'steady'}" for s in segs]
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, subplot_titles=titles,
                        vertical_spacing=0.18 / rows if rows > 1 else 0.1, horizontal_spacing=0.06)
    for i, s in enumerate(segs):
        part = frame[frame[breakdown.label].astype(str) == s.segment][["timestamp", "value"]]
        part = part.sort_values("timestamp")
        if len(part) > max_points:
            span = (part["timestamp"].iloc[-1] - part["timestamp"].iloc[0]).total_seconds()
            rule = f"{max(1, int(span / max_points))}s"
            part = part.set_index("timestamp")["value"].resample(rule).mean().dropna().reset_index()
        r, c = i // cols + 1, i % cols + 1
        color = COLORS["series"] if s.moved else COLORS["neutral"]
        fig.add_trace(line_trace(part["timestamp"], part["value"], name=s.segment,
                           line={"color": color, "width": 1}, opacity=0.7, showlegend=False),
                      row=r, col=c)
        if breakdown.before_start is not None:
            level_color = COLORS[s.effect] if s.moved else COLORS["neutral"]
            for x0, x1, level in ((breakdown.before_start, breakdown.onset_time, s.level_before),
                                  (breakdown.settled, breakdown.after_end, s.level_after)):
                fig.add_trace(go.Scatter(x=[x0, x1], y=[level, level], mode="lines", showlegend=False,
                                         hovertemplate=f"{s.segment}: %{{y:.4g}}<extra></extra>",
                                         line={"color": level_color, "dash": "dash", "width": 2.5}),
                              row=r, col=c)
        fig.add_vline(x=breakdown.onset_time, line={"color": "#DDDDDD" if dark else "#333333", "width": 1.5},
                      row=r, col=c)
    height = 230 * rows + 60
    return _layout(fig, dark=dark, height=height, title=None)
