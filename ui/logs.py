"""Streamlit helpers of the Logs page: cached sources and queries, the histogram, facets, pins."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.analysis.logpatterns import PatternDiff, diff_patterns
from core.errors import InvalidInputError, WorkbenchError
from core.config import settings
from core.logquery import add_filters
from core.markdown_text import md_escape
from core.models import Incident, TimeWindow, iso
from core.sources.factory import open_source
from core.sources.logs import FieldFacet, Histogram, LogSource, SearchPage
from core.store import Store
from core.timerange import box_selection_window
from core.flows import pin as flows_pin

FILTERS_KEY = "logs_filters"
CURSORS_KEY = "logs_cursors"
LEVEL_COLORS = {"ERROR": "#d62728", "FATAL": "#7f0000", "CRITICAL": "#7f0000", "WARN": "#ff9f1c",
                "WARNING": "#ff9f1c", "INFO": "#1f77b4", "DEBUG": "#9aa0a6", "TRACE": "#c7c7c7"}
ES_SOURCE = "es"


def es_configured() -> bool:
    """True when ``ES_URL`` or an ``[elasticsearch]`` URL is set (core.config)."""
    try:
        return settings().elasticsearch.configured
    except InvalidInputError:  # a bad ES_* value or secrets file: offered, and opening it shows the fix
        return True


def _fingerprint(spec: str) -> str:
    if spec == ES_SOURCE:
        return ES_SOURCE
    p = Path(spec)
    files = sorted(p.rglob("*")) if p.is_dir() else [p]
    return ";".join(f"{f.name}:{f.stat().st_mtime_ns}:{f.stat().st_size}" for f in files if f.is_file()
                    and f.parent.name in ("logs", p.name))


@st.cache_resource(show_spinner="Loading the logs…", max_entries=4)
def _source(spec: str, _fingerprint: str) -> LogSource:
    return open_source("logs", spec)


def get_source(spec: str) -> LogSource:
    """The log source for a bundle path or ``es`` (cached; errors are not cached)."""
    return _source(spec, _fingerprint(spec))


@st.cache_data(show_spinner=False, max_entries=64, ttl=300)
def search(spec: str, query: str, window: TimeWindow, size: int, cursor: str | None) -> SearchPage:
    return get_source(spec).search(query, window, size=size, cursor=cursor)


@st.cache_data(show_spinner=False, max_entries=64, ttl=300)
def histogram(spec: str, query: str, window: TimeWindow) -> Histogram:
    return get_source(spec).histogram(query, window, buckets=80)


@st.cache_data(show_spinner=False, max_entries=64, ttl=300)
def facets(spec: str, query: str, window: TimeWindow) -> tuple[FieldFacet, ...]:
    found = get_source(spec).top_values(query, window, size=6)
    # identifiers (every value seen once) make useless facets
    return tuple(f for f in found if f.values and f.values[0][1] > 1)


@st.cache_data(show_spinner="Mining log templates…", max_entries=16, ttl=600)
def patterns(spec: str, query: str, baseline: TimeWindow, window: TimeWindow) -> PatternDiff:
    from dataclasses import replace

    from core.sources.logs import pattern_messages

    base_msgs, win_msgs, fraction = pattern_messages(get_source(spec), query, baseline, window)
    return replace(diff_patterns(base_msgs, win_msgs, baseline=baseline, window=window), read_fraction=fraction)


# ------------------------------------------------------------------ filters

def filters() -> list[tuple[str, Any, bool]]:
    return st.session_state.setdefault(FILTERS_KEY, [])


def add_filter(field: str, value: Any, include: bool) -> None:
    current = [f for f in filters() if f[:2] != (field, value)]
    st.session_state[FILTERS_KEY] = current + [(field, value, include)]
    st.session_state.pop(CURSORS_KEY, None)


def remove_filter(index: int) -> None:
    current = list(filters())
    if 0 <= index < len(current):
        current.pop(index)
    st.session_state[FILTERS_KEY] = current
    st.session_state.pop(CURSORS_KEY, None)


def sync_filters_with_url() -> None:
    """Keep the filter chips in the address (``logs_filters``, JSON); a changed address (a link) wins."""
    import json

    from ui import state

    mine = json.dumps(filters(), separators=(",", ":"), default=str) if filters() else None
    raw = state.sync_focus("logs_filters", mine)
    if raw == mine:
        return
    try:
        chips = [(str(f), v, bool(inc)) for f, v, inc in (json.loads(raw) if raw else [])]
    except (ValueError, TypeError):
        st.warning(f"The link's filter chips were ignored: '{raw}' is not a list like "
                   '[["log.level","ERROR",true]]. Add filters from Top values instead.')
        state.set_focus("logs_filters", mine)
        return
    st.session_state[FILTERS_KEY] = chips
    st.session_state.pop(CURSORS_KEY, None)


def focused_hit(page: SearchPage, rows: list[int]):
    """The document in focus: the selected row, else the one the address names (``logs_doc``)."""
    from ui import state

    selected = page.hits[rows[0]].id if rows and rows[0] < len(page.hits) else None
    if selected != st.session_state.get("logs_doc_selected"):
        st.session_state["logs_doc_selected"] = selected
        current = selected
    else:
        current = st.query_params.get("logs_doc") or None
    doc = state.sync_focus("logs_doc", current)
    found = next((h for h in page.hits if h.id == doc), None)
    if doc and found is None:
        st.caption(f"The linked document '{doc}' is not among these hits (change the query, range or page).")
    return found


def effective_query(query: str) -> str:
    return add_filters(query, filters())


def pill_label(field: str, value: Any, include: bool) -> str:
    """A filter pill's button label (field and value escaped: button labels render Markdown)."""
    return f"{'' if include else 'NOT '}{md(field)}: {md(value)}  ✕"


def md(text: Any) -> str:
    """Log or user text for a Streamlit Markdown element (caption, label, tooltip): shown literally."""
    return md_escape(text)


def show_error(exc: WorkbenchError, what: str = "") -> None:
    """An expected error with its fix; its text (which may quote the query or a log value) shown literally."""
    st.error((f"**{what}** " if what else "") + md_escape(str(exc)))


# ------------------------------------------------------------------ histogram

def histogram_figure(hist: Histogram, window: TimeWindow, dark: bool) -> go.Figure:
    df = pd.DataFrame([(b.start, b.key, b.count) for b in hist.buckets], columns=["start", "level", "count"])
    fig = go.Figure()
    order = sorted(df["level"].unique(), key=lambda k: (list(LEVEL_COLORS).index(k) if k in LEVEL_COLORS else 99, k))
    for level in order:
        part = df[df["level"] == level]
        fig.add_bar(x=[t.astimezone(timezone.utc).replace(tzinfo=None) for t in part["start"]], y=part["count"],
                    name=level, marker_color=LEVEL_COLORS.get(level), offset=0,
                    width=hist.interval_seconds * 1000, hovertemplate="%{x}<br>%{y} " + level + "<extra></extra>")
    fig.update_layout(
        barmode="stack", height=230, margin=dict(l=10, r=10, t=10, b=10), dragmode="select", selectdirection="h",
        hovermode="x unified",  # one hover time for every level of a bucket, as on Metrics
        legend=dict(orientation="h", y=1.12, x=0), template="plotly_dark" if dark else "plotly_white",
        font=dict(size=16 if dark else 12), xaxis=dict(range=[window.start.replace(tzinfo=None),
                                                             window.end.replace(tzinfo=None)], title=None),
        yaxis=dict(title="hits"),
    )
    return fig


def selected_window(selection: Any) -> TimeWindow | None:
    """The x span of a box selection on the histogram (UTC) as a window, or None."""
    return box_selection_window(selection)


# ------------------------------------------------------------------ tables

def hits_frame(page: SearchPage) -> pd.DataFrame:
    return pd.DataFrame([{
        "time (UTC)": iso(h.timestamp), "level": h.level, "service": h.fields.get("service.name", ""),
        "message": h.message,
    } for h in page.hits])


def context_frame(hits: tuple, focus_id: str) -> pd.DataFrame:
    return pd.DataFrame([{"": "▶" if h.id == focus_id else "", "time (UTC)": iso(h.timestamp), "level": h.level,
                          "message": h.message} for h in hits])


def patterns_frame(diff: PatternDiff) -> pd.DataFrame:
    return pd.DataFrame([{
        "status": c.status, "window": c.window_count, "baseline": c.baseline_count,
        "expected": round(c.expected, 1), "ratio": None if c.ratio is None else round(c.ratio, 2),
        "q": c.q_value, "template": c.template, "example": c.example,
    } for c in diff.changes])


# ------------------------------------------------------------------ pins

def pin_query(store: Store, incident: Incident, *, source_name: str, query: str, window: TimeWindow,
              page: SearchPage, hist: Histogram | None, author: str) -> int:
    """Freeze the query, window, count and sample hits as evidence and a timeline event."""
    return flows_pin.pin_log_query(store, incident, source_name=source_name, query=query, window=window,
                                   page=page, hist=hist, author=author).id


def pin_patterns(store: Store, incident: Incident, *, source_name: str, query: str, diff: PatternDiff,
                 author: str) -> int:
    """Freeze the changed templates of a pattern diff as evidence and a timeline event."""
    return flows_pin.pin_log_patterns(store, incident, source_name=source_name, query=query, diff=diff,
                                      author=author).id
