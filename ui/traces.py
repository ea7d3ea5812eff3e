"""Streamlit helpers of the Traces page: the incident's traces, cached by folder and file times; the figures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.analysis import traces as ta
from core.models import Incident, TimeWindow, iso
from core.sources.traces_otel import SUFFIXES, OtelTraceSource

CHANGE_COLOURS = {"new": "#e8590c", "worse": "#e03131", "gone": "#868e96", "better": "#2f9e44", "same": "#adb5bd",
                  None: "#4c6ef5"}

_RATE = st.column_config.NumberColumn(format="percent")
_MS = st.column_config.NumberColumn(format="%.1f ms")
_PER_MIN = st.column_config.NumberColumn(format="%.2f")
NUMBER_COLUMNS = {
    **{f"error_rate{p}": _RATE for p in ("", "_base", "_window", "_change")},
    **{f"{c}{p}": _MS for c in ("p50_ms", "p95_ms") for p in ("", "_base", "_window")},
    "p95_change_ms": _MS, "duration_ms": _MS,
    **{f"rate_per_min{p}": _PER_MIN for p in ("", "_base", "_window")}, "rate_change": _PER_MIN,
}


def traces_folder_of(incident: Incident) -> Path | None:
    """The bundle's ``traces/`` folder, or None when the incident has no bundle or the bundle no traces."""
    if not incident.bundle_path:
        return None
    folder = Path(incident.bundle_path) / "traces"
    return folder if folder.is_dir() else None


def _stamp(folder: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")
                        if p.is_file() and p.suffix.lower() in SUFFIXES))


@st.cache_resource(show_spinner="Reading the traces…", max_entries=4)
def _open(folder: str, _stamp: tuple) -> OtelTraceSource:
    from core.sources.factory import open_source

    return open_source("traces", folder)


def load(folder: Path) -> OtelTraceSource:
    """The traces of ``folder``, read once per version of its files."""
    return _open(str(folder), _stamp(folder))


API_LABELS = {"jaeger": "Jaeger", "tempo": "Tempo"}


def configured_apis() -> list[str]:
    """The trace query APIs with a URL in the settings (``JAEGER_URL``/``[jaeger]``, ``TEMPO_URL``/``[tempo]``)."""
    from core.config import settings

    config = settings()
    return [name for name in API_LABELS if config.section(name).text("url")]


@st.cache_resource(show_spinner="Reading the traces from the query API…", max_entries=4, ttl=300)
def _open_api(spec: str) -> OtelTraceSource:
    from core.sources.factory import open_source

    return open_source("traces", spec)


def load_api(system: str, start: datetime, end: datetime) -> OtelTraceSource:
    """The spans of ``start``–``end`` from a configured Jaeger or Tempo (kept five minutes)."""
    return _open_api(f"{system}:{iso(start)}/{iso(end)}")


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={OtelTraceSource: id})
def edges(src: OtelTraceSource, baseline: TimeWindow | None, window: TimeWindow | None) -> pd.DataFrame:
    if baseline is not None and window is not None:
        return ta.service_map_diff(src, baseline, window)
    return ta.service_map(src, window)


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={OtelTraceSource: id})
def operations(src: OtelTraceSource, baseline: TimeWindow, window: TimeWindow) -> pd.DataFrame:
    return ta.span_diff(src, baseline, window)


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={OtelTraceSource: id})
def ranking(src: OtelTraceSource, window: TimeWindow | None, baseline: TimeWindow | None) -> list:
    return ta.cascade_ranking(src, window, baseline)


def ranking_frame(ranks: list) -> pd.DataFrame:
    rows = [{"rank": r.rank, "service": r.service, "kind": r.category, "degraded": r.degraded,
             "first own error (UTC)": f"{r.first_own_error:%Y-%m-%d %H:%M:%S}" if r.first_own_error else "—",
             "own errors": r.own_errors, "inherited errors": r.inherited_errors,
             "inherited share": f"{r.inherited_share:.0%}",
             "downstream affected": ", ".join(r.downstream_affected) or "—", "first own error": r.sample or "—"}
            for r in ranks]
    return pd.DataFrame(rows)


def _levels(frame: pd.DataFrame) -> dict[str, int]:
    """Depth of each service from the callers that nobody calls (callers left, callees right)."""
    services = sorted(set(frame["caller"]) | set(frame["callee"]))
    level = {s: 0 for s in services}
    for _ in range(len(services)):
        changed = False
        for a, b in zip(frame["caller"], frame["callee"]):
            if level[b] < level[a] + 1 and level[a] + 1 < len(services):
                level[b] = level[a] + 1
                changed = True
        if not changed:
            break
    return level


def map_figure(frame: pd.DataFrame, *, origin: str | None = None, dark: bool = False) -> go.Figure:
    """The service map: services as nodes by call depth, edges coloured by their change between the windows."""
    fig = go.Figure()
    if frame.empty:
        return fig
    level = _levels(frame)
    by_level: dict[int, list[str]] = {}
    for s, lv in sorted(level.items()):
        by_level.setdefault(lv, []).append(s)
    pos = {s: (lv, -i + (len(names) - 1) / 2) for lv, names in by_level.items() for i, s in enumerate(names)}
    diff = "change" in frame
    for row in frame.to_dict(orient="records"):
        (x0, y0), (x1, y1) = pos[row["caller"]], pos[row["callee"]]
        colour = CHANGE_COLOURS.get(row.get("change"), CHANGE_COLOURS[None])
        if diff:
            text = (f"{row['caller']} → {row['callee']} ({row['change']})<br>"
                    f"calls/min {row['rate_per_min_base']:.1f} → {row['rate_per_min_window']:.1f}<br>"
                    f"error rate {_pct(row['error_rate_base'])} → {_pct(row['error_rate_window'])}<br>"
                    f"p95 {_ms(row['p95_ms_base'])} → {_ms(row['p95_ms_window'])}")
            width = 2 + 6 * min(1.0, max(0.0, float(row["error_rate_window"] or 0)))
        else:
            text = (f"{row['caller']} → {row['callee']}<br>calls/min {row['rate_per_min']:.1f}<br>"
                    f"error rate {_pct(row['error_rate'])}<br>p50 {_ms(row['p50_ms'])}, p95 {_ms(row['p95_ms'])}")
            width = 2 + 6 * min(1.0, float(row["error_rate"] or 0))
        fig.add_trace(go.Scatter(x=[x0, (x0 + x1) / 2, x1], y=[y0, (y0 + y1) / 2, y1], mode="lines",
                                 line={"color": colour, "width": width}, hoverinfo="text",
                                 hovertext=[text] * 3, showlegend=False))
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=3, arrowsize=1.2, arrowwidth=1.5, arrowcolor=colour, standoff=18, text="")
    names = list(pos)
    fig.add_trace(go.Scatter(x=[pos[s][0] for s in names], y=[pos[s][1] for s in names], mode="markers+text",
                             text=names, textposition="top center", hoverinfo="text", hovertext=names,
                             marker={"size": 22, "color": ["#e03131" if s == origin else "#4c6ef5" for s in names],
                                     "line": {"width": 1, "color": "#fff"}}, showlegend=False))
    fig.update_layout(height=360, margin={"l": 20, "r": 20, "t": 30, "b": 20},
                      xaxis={"visible": False}, yaxis={"visible": False},
                      template="plotly_dark" if dark else "plotly_white")
    return fig


def waterfall_figure(wf: pd.DataFrame, *, dark: bool = False) -> go.Figure:
    """One trace as horizontal bars: offset from the trace start and duration, errors in red."""
    labels = [f"{'  ' * d}{s}: {n}" for d, s, n in zip(wf["depth"], wf["service"], wf["name"])]
    colours = ["#e03131" if st_ == "error" else ("#f08c00" if skew else "#4c6ef5")
               for st_, skew in zip(wf["status_code"], wf["skew"])]
    hover = [f"{s} · {n}<br>{d:.1f} ms from +{o:.1f} ms<br>status {c}{(': ' + m) if m else ''}"
             + ("<br>starts before its parent (clock skew)" if k else "")
             for s, n, d, o, c, m, k in zip(wf["service"], wf["name"], wf["duration_ms"], wf["offset_ms"],
                                            wf["status_code"], wf["status_message"], wf["skew"])]
    fig = go.Figure(go.Bar(x=wf["duration_ms"].clip(lower=0.05), base=wf["offset_ms"], y=labels, orientation="h",
                           marker_color=colours, hoverinfo="text", hovertext=hover))
    fig.update_layout(height=max(200, 28 * len(wf) + 60), margin={"l": 10, "r": 10, "t": 20, "b": 30},
                      yaxis={"autorange": "reversed"}, xaxis_title="ms from the trace start",
                      template="plotly_dark" if dark else "plotly_white")
    return fig


def _pct(v: Any) -> str:
    return "—" if v is None or v != v else f"{v:.1%}"


def _ms(v: Any) -> str:
    return "—" if v is None or v != v else f"{v:.1f} ms"
