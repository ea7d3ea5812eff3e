"""Streamlit helpers of the Metrics page: cached series reads and detection, milestone and evidence writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from core.analysis.changepoint import (
    ChangePoint,
    OnsetResult,
    SegmentBreakdown,
    break_down_segments,
    detect_onset,
)
from core.errors import WorkbenchError
from core.models import Incident, TimeWindow
from core.flows import pin as flows_pin
from core.sources.factory import open_source
from core.sources.metrics import MetricSeries, MetricSource
from core.store import Store


@st.cache_data(show_spinner=False, max_entries=16)
def bundle_metric_names(bundle_path: str) -> list[str]:
    return open_source("metrics", bundle_path).metric_names()


@st.cache_data(show_spinner="Reading the series…", max_entries=16)
def _bundle_series(bundle_path: str, metric: str, start: datetime, end: datetime) -> MetricSeries:
    return open_source("metrics", bundle_path).read(metric, TimeWindow(start, end))


def prometheus_source() -> MetricSource:
    """The configured Prometheus (``PROMETHEUS_*`` variables, else ``[prometheus]`` in secrets; core.config)."""
    return open_source("metrics", "prometheus")


@st.cache_data(show_spinner="Querying Prometheus…", ttl=60, max_entries=16)
def _prometheus_series(query: str, start: datetime, end: datetime) -> MetricSeries:
    return prometheus_source().read(query, TimeWindow(start, end))


def load_series(kind: str, ref: str, name: str, start: datetime, end: datetime) -> MetricSeries:
    """A bundle metric (``kind="bundle"``, ``ref`` the bundle path) or a PromQL query (``kind="prometheus"``)."""
    if kind == "bundle":
        return _bundle_series(ref, name, start, end)
    return _prometheus_series(name, start, end)


@st.cache_data(show_spinner="Finding change points…", max_entries=16)
def onset_of(kind: str, ref: str, name: str, start: datetime, end: datetime, direction: str, method: str,
             penalty_scale: float, seasonality: str, max_change_points: int) -> OnsetResult:
    series = load_series(kind, ref, name, start, end)
    return detect_onset(series.total(), direction=direction, metric=series.name, method=method,
                        penalty_scale=penalty_scale, seasonality=seasonality,
                        max_change_points=max_change_points)


@st.cache_data(show_spinner="Comparing segments…", max_entries=16)
def segments_of(kind: str, ref: str, name: str, start: datetime, end: datetime, label: str,
                onset_time: datetime, before_start: datetime, settled: datetime, after_end: datetime,
                direction: str, seasonality: str) -> SegmentBreakdown:
    """Segment breakdown of series ``name`` around an onset given by its four times."""
    series = load_series(kind, ref, name, start, end)
    onset = ChangePoint(time=onset_time, settled=settled, before_start=before_start, after_end=after_end,
                        level_before=0.0, level_after=0.0, absolute_change=0.0, relative_change=None,
                        effect="neutral", confidence=0.0, z=0.0)
    return break_down_segments(series.frame, label, onset, direction=direction, seasonality=seasonality)


def set_impact_start(store: Store, incident: Incident, when: datetime) -> Incident | None:
    """Write the ``started`` milestone; shows the error and returns None when it cannot be saved."""
    try:
        return flows_pin.set_impact_start(store, incident, when)
    except WorkbenchError as exc:  # ConcurrentEditError (someone saved first) or a milestone-order problem
        st.error(f"Impact start not saved. {exc}")
        return None


def pin_change_point(store: Store, incident: Incident, series: MetricSeries, result: OnsetResult,
                     breakdown: SegmentBreakdown | None, query: dict[str, Any], author: str = "") -> int | None:
    """Pin the main onset (and segment breakdown) as ``changepoint`` evidence; returns its id."""
    try:
        ev = flows_pin.pin_change_point(store, incident, series, result, breakdown, query, author)
    except WorkbenchError as exc:
        st.error(f"Not pinned. {exc}")
        return None
    return ev.id if ev is not None else None
