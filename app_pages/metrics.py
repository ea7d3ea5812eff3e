"""Metrics: the KPI with its change points, when the impact began, and which segments moved."""

import pandas as pd
import streamlit as st

from core.analysis.changepoint import DEFAULT_PENALTY_SCALE, METHODS, SEASONALITY
from core.errors import WorkbenchError
from core.models import format_duration, iso
from core.viz.metrics import kpi_figure, segments_figure
from ui import grafana as gf
from ui import metrics as mx
from ui import state

st.title("Metrics")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to see its KPI.")
    st.stop()
store = state.get_store()
st.caption(f"{incident.id} · {incident.title}")

window = state.time_range()
sources = (["Incident bundle"] if incident.bundle_path else []) + ["Prometheus"]
c1, c2, c3 = st.columns([2, 3, 2])
source = c1.radio("Source", sources, horizontal=True, key="metrics_source")
direction = c3.selectbox("Direction", ["higher_is_better", "lower_is_better"], key="metrics_direction",
                         index=0 if incident.kpi_direction != "lower_is_better" else 1,
                         format_func=lambda d: d.replace("_", " "))
if source == "Incident bundle":
    kind, ref = "bundle", incident.bundle_path
    try:
        names = mx.bundle_metric_names(ref)
    except WorkbenchError as exc:
        state.show_error(exc, "The incident's bundle cannot be read.")
        st.stop()
    default = names.index(incident.kpi_metric) if incident.kpi_metric in names else 0
    name = c2.selectbox("Metric", names, index=default, key="metrics_metric")
else:
    kind, ref = "prometheus", ""
    name = c2.text_input("PromQL query", key="metrics_query", placeholder="avg(rate(clicks_total[5m]))")
    if not name.strip():
        st.info("Type a PromQL query. The server comes from PROMETHEUS_URL or [prometheus] in secrets.toml.")
        st.stop()

with st.expander("Detector settings"):
    d1, d2, d3, d4, d5 = st.columns(5)
    method = d1.selectbox("Method", METHODS, key="metrics_method")
    penalty = d2.number_input("Penalty scale (× log n)", 0.5, 50.0, DEFAULT_PENALTY_SCALE, 0.5,
                              key="metrics_penalty", help="Larger finds fewer, bigger changes.")
    seasonality = d3.selectbox("Daily seasonality", SEASONALITY, key="metrics_seasonality",
                               help="auto removes the daily profile when it explains ≥15% of the variance.")
    max_cps = int(d4.number_input("Max change points", 1, 20, 5, key="metrics_max_cps"))
    with_baseline = d5.checkbox("Include baseline", value=incident.baseline is not None, key="metrics_baseline",
                                help="Start the analysis at the baseline so normal days give the reference.")
start = min(window.start, incident.baseline.start) if (with_baseline and incident.baseline) else window.start

try:
    series = mx.load_series(kind, ref, name, start, window.end)
    result = mx.onset_of(kind, ref, name, start, window.end, direction, method, penalty, seasonality, max_cps)
except WorkbenchError as exc:
    state.show_error(exc, f"No change points for '{name}'.")
    st.stop()

o = result.onset
m1, m2, m3, m4 = st.columns(4)
if o is None:
    st.info("No change point: the series stays within its normal variation over this range.")
else:
    m1.metric("Onset (UTC)", f"{o.time:%Y-%m-%d %H:%M}", help=f"new level reached {iso(o.settled)}")
    m2.metric("Level before → after", f"{o.level_before:.4g} → {o.level_after:.4g}",
              help=f"mean level {iso(o.before_start)} – {iso(o.time)} against {iso(o.settled or o.time)} – {iso(o.after_end)}")
    m3.metric(f"Change ({o.effect})", "n/a" if o.relative_change is None else f"{o.relative_change:+.1%}",
              help="the level shift at the onset (after against before), the figure Triage and the Timeline show; "
                   "the post-mortem also gives the mean over the whole impact against the baseline mean")
    m4.metric("Confidence", f"{o.confidence:.0%}", help="1 − p of Welch's test, damped for shifts small next "
              "to the point-to-point noise")
st.plotly_chart(kpi_figure(result, milestones=incident.milestones, dark=state.presentation_mode()),
                key="metrics_chart", width="stretch", theme=None, config={"displaylogo": False})
gf.explore_link("prometheus", name, (start, window.end))  # only when Grafana is configured
if start < window.start:
    st.caption(f"Shown from {iso(start)}, the start of the baseline, not from the shared range's start "
               f"({iso(window.start)}): normal days give the change-point detector its reference. Untick "
               "'Include baseline' under Detector settings to analyse the shared range only.")
else:
    st.caption(f"Over the shared range {iso(window.start)} – {iso(window.end)} (UTC).")
for note in (*series.notes, *result.notes):
    st.caption(f"Note: {note}")

if o is not None:
    started = incident.milestone("started")
    b1, b2, b3 = st.columns([2, 2, 3])
    if started:
        b3.caption(f"Impact start is {iso(started)} ({format_duration(abs(o.time - started))} "
                   f"{'before' if started < o.time else 'after'} this onset).")
    if b1.button("Set as impact start", key="metrics_set_started", type="primary",
                 help="Writes the 'started' milestone, so TTD and TTR are measured from it."):
        if mx.set_impact_start(store, incident, o.time) is not None:
            state.note(f"Impact start set to {iso(o.time)}.")
            st.rerun()
    author = b3.text_input("Your name", key="metrics_author", placeholder="for the evidence record")
    pin = b2.button("Pin as evidence", key="metrics_pin", help="Freezes this change point onto the incident "
                    "and its timeline.")

table = pd.DataFrame([{
    "time (UTC)": f"{c.time:%Y-%m-%d %H:%M}", "settled": f"{c.settled:%H:%M}", "before": c.level_before,
    "after": c.level_after, "change": "n/a" if c.relative_change is None else f"{c.relative_change:+.1%}",
    "effect": c.effect, "confidence": f"{c.confidence:.0%}", "main onset": "yes" if c is o else "",
} for c in result.change_points])
if not table.empty:
    st.dataframe(table, hide_index=True, width="stretch", key="metrics_table")

breakdown = None
st.subheader("Segments")
label_sources = [(name, series)] if series.labels else []
if kind == "bundle":
    for other in mx.bundle_metric_names(ref):
        if other != name and other.startswith(f"{name}_by_"):
            try:
                label_sources.append((other, mx.load_series(kind, ref, other, start, window.end)))
            except WorkbenchError:
                continue
# a label with one value (job="recs") cannot split anything
choices = [(m, lab) for m, s in label_sources for lab in s.labels
           if lab != "__name__" and s.frame[lab].nunique() > 1]
if o is None or not choices:
    st.caption("No labelled series (for example ctr_by_platform) to break the change down by segment.")
else:
    seg_metric, label = st.selectbox("Break down by", choices, key="metrics_segments",
                                     format_func=lambda c: f"{c[1]} ({c[0]})")
    try:
        breakdown = mx.segments_of(kind, ref, seg_metric, start, window.end, label, o.time, o.before_start,
                                   o.settled, o.after_end, direction, seasonality)
        st.markdown(f"**{breakdown.summary.capitalize()}.**")
        seg_frame = mx.load_series(kind, ref, seg_metric, start, window.end).frame
        st.plotly_chart(segments_figure(seg_frame, breakdown, dark=state.presentation_mode()),
                        key="metrics_segments_chart", width="stretch", theme=None)
    except WorkbenchError as exc:
        state.show_error(exc, "No segment breakdown.")

if o is not None and pin:
    query = {"source": kind, "metric": name, "direction": direction, "method": method, "penalty_scale": penalty,
             "seasonality": seasonality, "range": {"start": iso(start), "end": iso(window.end)}}
    evidence_id = mx.pin_change_point(store, incident, series, result, breakdown, query, author)
    if evidence_id is not None:
        st.success(f"Pinned as evidence #{evidence_id}; it is on the timeline at {iso(o.time)}.")
