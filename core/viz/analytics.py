"""Figures of incident analytics: counts per period (stacked bars) and duration distributions.

Durations are drawn as one row per measure with every incident as a point, a box
for the spread, and the median and p90 marked and written out — the mean alone
misleads on skewed durations, so it is only given in the hover.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd
import plotly.graph_objects as go

from core.analysis.incident_analytics import DurationDistribution
from core.models import ROOT_CAUSE_LABELS, RootCause, format_duration

PALETTE = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D",
           "#BAB0AC")
GROUP_TITLES = {"root_cause": "Root-cause class", "service": "Service", "severity": "Severity"}


def _layout(fig: go.Figure, *, dark: bool, height: int, title: str) -> go.Figure:
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white", height=height, title=dict(text=title, x=0.01),
        font=dict(size=18 if dark else 13), margin=dict(l=70, r=30, t=60, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0.3),
    )
    return fig


def _label(by: str, key: str) -> str:
    if by == "root_cause" and key in {r.value for r in RootCause}:
        return ROOT_CAUSE_LABELS[RootCause(key)]
    return key


def counts_figure(counts: pd.DataFrame, by: str = "root_cause", *, dark: bool = False, height: int = 360) -> go.Figure:
    """Stacked bars: incidents per period, one colour per key."""
    fig = go.Figure()
    keys = sorted(counts["key"].unique()) if len(counts) else []
    for n, key in enumerate(keys):
        sub = counts[counts["key"] == key]
        fig.add_trace(go.Bar(x=sub["period"], y=sub["count"], name=_label(by, key),
                             marker_color=PALETTE[n % len(PALETTE)],
                             hovertemplate="%{x|%Y-%m-%d}: %{y} incident(s)<extra>" + _label(by, key) + "</extra>"))
    fig.update_layout(barmode="stack", yaxis_title="incidents", xaxis_title="period start (UTC)",
                      yaxis=dict(rangemode="tozero", tickformat="d"),
                      xaxis=dict(tickformat="%Y-%m-%d" if len(counts) and counts["period"].nunique() > 12 else "%b %Y"))
    if not keys:
        fig.add_annotation(text="No incidents yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return _layout(fig, dark=dark, height=height, title=f"Incidents by {GROUP_TITLES.get(by, by).lower()}")


def durations_figure(durations: Mapping[str, DurationDistribution], *, dark: bool = False,
                     height: int | None = None) -> go.Figure:
    """One row per measure (TTD, TTM, TTR): every incident as a point, box, median and p90 marked (hours)."""
    fig = go.Figure()
    names = list(durations)
    for n, name in enumerate(names):
        d = durations[name]
        hours = [v.total_seconds() / 3600 for v in d.values]
        color = PALETTE[n % len(PALETTE)]
        fig.add_trace(go.Box(
            x=hours, y=[name] * len(hours), name=name, orientation="h", boxpoints="all", jitter=0.4, pointpos=0,
            marker=dict(color=color, size=9 if dark else 7), line=dict(color=color), fillcolor="rgba(0,0,0,0)",
            text=list(d.incidents), hovertemplate="%{text}: %{x:.2f} h<extra>" + name + "</extra>",
            showlegend=False, boxmean=False,
        ))
        for q, value, symbol, where in (("median", d.median, "line-ns", "top center"),
                                        ("p90", d.p90, "diamond-tall", "bottom center")):
            if value is None:
                continue
            h = value.total_seconds() / 3600
            fig.add_trace(go.Scatter(
                x=[h], y=[name], mode="markers+text", text=[f"{q} {format_duration(value)}"],
                textposition=where, marker=dict(symbol=symbol, size=18, color=color,
                                                       line=dict(width=3, color=color)),
                hovertemplate=f"{name} {q}: {format_duration(value)}"
                              + (f"<br>mean {format_duration(d.mean)} (n={d.n})" if d.mean else "") + "<extra></extra>",
                showlegend=False,
            ))
    fig.update_layout(xaxis_title="hours from impact start", yaxis=dict(categoryorder="array",
                                                                        categoryarray=names[::-1]))
    if not any(durations[n].n for n in names):
        fig.add_annotation(text="No durations yet: incidents need started and detected/mitigated/resolved milestones",
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return _layout(fig, dark=dark, height=height or 140 + 90 * max(1, len(names)),
                   title="Time to detect, mitigate and resolve (median and p90)")
