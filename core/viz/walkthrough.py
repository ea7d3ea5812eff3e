"""The walkthrough's per-moment chart: the KPI around one moment of the timeline."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from core.models import TimeWindow


def moment_figure(kpi: pd.DataFrame, window: TimeWindow, at: datetime, *, metric: str = "KPI", label: str = "",
                  dark: bool = False, height: int = 280) -> go.Figure | None:
    """The KPI series (``timestamp``, ``value``) inside ``window`` with a line at the moment ``at``.

    Returns None when the series has no point in the window.
    """
    shown = kpi[(kpi["timestamp"] >= window.start) & (kpi["timestamp"] < window.end)]
    if shown.empty:
        return None
    accent = "#ffd166" if dark else "#c2410c"
    fig = go.Figure(go.Scatter(x=shown["timestamp"], y=shown["value"], mode="lines", name=metric,
                               line={"color": "#8fd3ff" if dark else "#1f77b4", "width": 2}))
    fig.add_vline(x=at, line={"color": accent, "width": 2, "dash": "dash"})
    fig.add_annotation(x=at, y=1, yref="paper", yanchor="bottom", xanchor="left", showarrow=False,
                       text=label or f"{at:%H:%M} UTC", font={"color": accent, "size": 16 if dark else 12})
    fig.update_layout(template="plotly_dark" if dark else "plotly_white", height=height, showlegend=False,
                      margin={"l": 60, "r": 20, "t": 36, "b": 40}, font={"size": 16 if dark else 12},
                      paper_bgcolor="#05070c" if dark else None, plot_bgcolor="#05070c" if dark else None)
    fig.update_yaxes(title_text=metric)
    fig.update_xaxes(title_text="time (UTC)", range=[window.start, window.end])
    return fig
