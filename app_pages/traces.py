"""Traces: the service map (baseline against incident window), where the cascade started, search, one trace."""

import streamlit as st

from core.analysis.traces import parse_search, search, waterfall
from core.errors import WorkbenchError
from ui import state
from ui import traces as tv
from ui.incidents import md_text

st.title("Traces")
incident = state.current_incident()
if incident is None:
    st.info("No incident selected: pick one in the sidebar or create one on the Incidents page.")
    st.stop()
st.caption(f"{incident.id} · {md_text(incident.title)}")
folder = tv.traces_folder_of(incident)
apis = tv.configured_apis()
choices = (["bundle"] if folder is not None else []) + apis
if not choices:
    st.info("This incident has no traces: the Traces view reads OTLP JSON in a `traces/` folder of the incident "
            "bundle (the OpenTelemetry collector's file exporter output, one export request per line, or plain OTLP "
            "JSON exports), or a Jaeger or Tempo query API set with JAEGER_URL / TEMPO_URL (docs/traces.md). Copy "
            "the files there, or run `python -m core traces FOLDER` on a folder of them.")
    st.stop()
picked = choices[0] if len(choices) == 1 else st.radio(
    "Source", choices, horizontal=True, key="traces_source",
    format_func=lambda c: "Incident bundle traces" if c == "bundle" else tv.API_LABELS[c])
try:
    if picked == "bundle":
        src = tv.load(folder)
    else:  # the incident's baseline and window (or the shared range) from the query API
        shown = state.time_range()
        start = min(w.start for w in (incident.baseline, incident.window, shown) if w is not None)
        end = max(w.end for w in (incident.baseline, incident.window, shown) if w is not None)
        src = tv.load_api(picked, start, end)
except WorkbenchError as exc:
    state.show_error(exc, "The traces cannot be read." if picked != "bundle"
                     else "The traces of this bundle cannot be read.")
    st.stop()

info = src.info
baseline, window = incident.baseline, incident.window
c1, c2, c3 = st.columns(3)
c1.metric("Spans", f"{info.spans:,}")
c2.metric("Traces", f"{info.traces:,}")
c3.metric("Services", len(info.services))
if info.warnings:
    with st.expander(f"{len(info.warnings)} problem(s) reading the traces", expanded=False):
        for w in info.warnings:
            st.text(w)

ranks = tv.ranking(src, window, baseline)
origin = ranks[0].service if ranks and ranks[0].degraded else None
st.subheader("Service map" + (" · baseline → incident window" if baseline and window else ""))
frame = tv.edges(src, baseline, window)
if frame.empty:
    st.info("No calls between services in this window (every span's parent is in its own service).")
else:
    st.plotly_chart(tv.map_figure(frame, origin=origin, dark=state.presentation_mode()), key="traces_map")
    st.caption("Edges caller → callee; colour: red worse, orange new, green better, grey unchanged or gone; "
               "width: the window's error rate. The red node is the cascade origin.")
    with st.expander("Edges as a table"):
        st.dataframe(frame, hide_index=True, width="stretch", column_config=tv.NUMBER_COLUMNS)

st.subheader("Cascade origin")
if not ranks:
    st.success("No error spans in the window: no cascade.")
else:
    if origin:
        top = ranks[0]
        st.markdown(f"The cascade most likely started in **{md_text(top.service)}** ({top.category}): "
                    f"{md_text(top.reason)}.")
    else:
        st.info("Errors, but no service's own errors rose above its baseline.")
    st.dataframe(tv.ranking_frame(ranks), hide_index=True, width="stretch")

if baseline and window:
    st.subheader("Operations: latency and errors, baseline → window")
    ops = tv.operations(src, baseline, window)
    st.dataframe(ops[["service", "operation", "change", "calls_base", "calls_window", "error_rate_base",
                      "error_rate_window", "p95_ms_base", "p95_ms_window", "p95_change_ms"]],
                 hide_index=True, width="stretch", column_config=tv.NUMBER_COLUMNS)

st.subheader("Search")
query = st.text_input("Spans", value=f"service:{origin} status:error" if origin else "status:error",
                      key="traces_query",
                      help="service:NAME operation:NAME status:error duration>250ms trace:ID, or KEY:VALUE for an "
                           "attribute (db.system:redis)")
try:
    hits = search(src, window=window, limit=200, **parse_search(query))
except WorkbenchError as exc:
    state.show_error(exc)
    st.stop()
st.dataframe(hits[["start", "trace_id", "service", "name", "duration_ms", "status_code", "status_message"]],
             hide_index=True, width="stretch", column_config=tv.NUMBER_COLUMNS)

st.subheader("Trace")
choices = list(dict.fromkeys(hits["trace_id"]))
if not choices:
    st.info("No span matches the search: change it to pick a trace.")
    st.stop()
tid = st.selectbox("Trace", choices, key="traces_trace")
wf = waterfall(src, tid)
st.plotly_chart(tv.waterfall_figure(wf, dark=state.presentation_mode()), key="traces_waterfall")
if wf["skew"].any():
    st.warning("Some spans start before their parent: the two services' clocks disagree (clock skew).")
