"""Timeline: one curated time line of everything that happened, beside the KPI."""

import streamlit as st

from core.errors import WorkbenchError
from core.models import EventKind, format_duration, iso
from core.store.timeline import list_events
from core.flows.timeline_io import export_events
from core.viz.timeline import KIND_LABELS, build_timeline_figure
from ui import state
from ui import timeline as tl
from ui.presentation import present
from ui import grafana as gf

st.title("Timeline")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to see its timeline.")
    st.stop()
store = state.get_store()
st.caption(f"{incident.id} · {tl.md_text(incident.title)}")

window = state.time_range()
all_events = list_events(store, incident.id)
c1, c2, c3, c4 = st.columns([4, 2, 2, 2])
kinds = c1.multiselect("Kinds", [k.value for k in EventKind], default=[k.value for k in EventKind], key="timeline_kinds",
                       format_func=lambda k: KIND_LABELS.get(k, k), bind="query-params")
lanes = c2.radio("Lanes by", ["kind", "source"], horizontal=True, key="timeline_lanes", bind="query-params")
tz = c3.selectbox("Time zone", tl.zones(), key="timeline_tz")
author = c4.text_input("Your name", key="timeline_author", placeholder="for edits and entries")

visible = tl.in_window(all_events, window, kinds)
try:
    onset = tl.onset_for(incident)
except WorkbenchError:
    onset = None
ranking = tl.rank(all_events, onset, st.session_state.get("timeline_lookback", 72.0)) if onset else None
top_ids = [c.event.id for c in ranking.changes[:3]] if ranking else []

tl.changes_summary(all_events, ranking, tz)

kpi = tl.load_kpi(incident.bundle_path, incident.kpi_metric) if incident.bundle_path and incident.kpi_metric else None
if kpi is not None:
    kpi = kpi[(kpi["timestamp"] >= window.start) & (kpi["timestamp"] < window.end)]
lines = dict(incident.milestones)
if onset is not None and not incident.milestone("started"):
    lines["onset (detected)"] = onset.at
fig = build_timeline_figure(  # masked before layout in presentation mode (hover titles are cut at 140 characters)
    present(visible), kpi=kpi, kpi_name=incident.kpi_metric or "KPI", milestones=lines,
    window=(window.start, window.end), lane_by=lanes, tz=tz, dark=state.presentation_mode(), highlight=top_ids,
)
# a crosshair: the hovered time as a line across the KPI and the lanes (events keep their own hover)
fig.update_layout(spikedistance=-1)
fig.update_xaxes(showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1, spikedash="dot")
chart = st.plotly_chart(fig, key="timeline_chart", on_select="rerun", selection_mode="box", theme=None,
                        width="stretch", config={"displaylogo": False})
chosen = tl.selected_window(chart, tz)
if chosen is not None and chosen != window:
    state.set_time_range(chosen)
    st.rerun()
counts = {lane["lane"]: lane for lane in fig.layout.meta["lanes"]}
dense = [KIND_LABELS.get(k, k) for k, v in counts.items() if v["mode"] == "counts"]
st.caption(
    f"{len(visible):,} of {len(all_events):,} events in {iso(window.start)} – {iso(window.end)}. "
    "Draw a box (box-select tool) to make that span the shared time range."
    + (f" Dense lanes shown as counts: {', '.join(dense)}; narrow the range to see single events." if dense else "")
)
known = {k: v for k, v in incident.durations().items() if v is not None}
if known:
    st.caption("Measured from impact start: " + " · ".join(f"{k} {format_duration(v)}" for k, v in known.items()))

changed, add, edit, imp, exp = st.tabs(["What changed before the onset", "Add entry", "Edit & history",
                                         "Import", "Export"])
with changed:
    st.number_input("Look-back (hours)", 1.0, 24.0 * 30, 72.0, step=12.0, key="timeline_lookback")
    if ranking is None:
        st.info("No onset known: set the incident's 'started' milestone or give it a bundle with a KPI.")
    elif not ranking.changes:
        st.info(f"No change events in the {ranking.lookback} before the onset ({iso(ranking.onset)}).")
    else:
        st.markdown(f"Onset **{iso(ranking.onset)}** ({ranking.onset_source}). "
                    "Ranked by closeness to the onset and how often such changes cause incidents "
                    "(kind priors, see docs/timeline.md).")
        st.dataframe(tl.ranking_table(ranking, tz), hide_index=True, width="stretch",
                     key="timeline_changes")
        if st.button("Pin this list as evidence", key="timeline_pin_changes"):
            tl.pin_ranking(store, incident, ranking, author)
with add:
    tl.add_form(store, incident, tz, author)
with edit:
    tl.edit_panel(store, visible, tz, author)
with imp:
    tl.import_panel(store, incident, all_events, author)
with exp:
    gf.push_annotations_button(store, incident)  # only when GRAFANA_URL is set
    e1, e2, e3 = st.columns(3)
    e1.download_button("CSV", export_events(visible, "csv"), f"{incident.id}-timeline.csv", "text/csv",
                       key="timeline_export_csv")
    e2.download_button("JSONL", export_events(visible, "jsonl"), f"{incident.id}-timeline.jsonl",
                       "application/x-ndjson", key="timeline_export_jsonl")
    if e3.button("Render PNG", key="timeline_png"):
        try:
            e3.download_button("Download PNG", tl.png_bytes(fig.to_json()), f"{incident.id}-timeline.png",
                               "image/png", key="timeline_export_png")
        except (RuntimeError, ValueError, OSError) as exc:  # kaleido needs a working Chromium
            st.error(f"The image could not be rendered ({exc}); export CSV instead or check Chromium.")
