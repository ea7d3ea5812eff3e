"""Logs: Lucene queries over the incident's log files or Elasticsearch, with a histogram, facets and patterns."""

import streamlit as st

from core.errors import WorkbenchError
from core.models import TimeWindow, iso
from ui import grafana as gf
from ui import logs as lg
from ui import state

st.title("Logs")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to search its logs.")
    st.stop()
store = state.get_store()
st.caption(lg.md(f"{incident.id} · {incident.title}"))

choices = ([incident.bundle_path] if incident.bundle_path else []) + ([lg.ES_SOURCE] if lg.es_configured() else [])
if not choices:
    st.info("This incident has no bundle logs and Elasticsearch is not configured: set ES_URL (see "
            "docs/query-syntax.md) or attach a bundle with logs/*.jsonl.")
    st.stop()
spec = st.radio("Source", choices, horizontal=True, key="logs_source",
                format_func=lambda s: "Elasticsearch" if s == lg.ES_SOURCE else "Incident bundle logs")
try:
    source = lg.get_source(spec)
except WorkbenchError as exc:
    lg.show_error(exc, "The log source cannot be opened.")
    st.stop()
for warning in source.info.warnings:
    st.warning(lg.md(warning))

window = state.time_range()
if "q" in st.query_params and "logs_query" not in st.query_params:  # links made before the query was bound
    st.session_state["logs_query"] = st.query_params.pop("q")
query = st.text_input("Query (Lucene syntax)", key="logs_query", bind="query-params",
                      placeholder='e.g. log.level:ERROR AND service.name:txn-* AND NOT "health check"',
                      help="Terms, \"phrases\", field:value, wildcards * ?, ranges [a TO b], AND/OR/NOT, "
                           "( ), _exists_:field. See docs/query-syntax.md.")
lg.sync_filters_with_url()
pills = lg.filters()
if pills:
    cols = st.columns(min(len(pills), 6))
    for i, (field, value, include) in enumerate(pills):
        if cols[i % len(cols)].button(lg.pill_label(field, value, include), key=f"logs_pill_{i}",
                                      help="Remove this filter"):
            lg.remove_filter(i)
            st.rerun()
full_query = lg.effective_query(query)
st.caption(f"{lg.md(source.info.name)} · {iso(window.start)} – {iso(window.end)} (UTC)")
gf.explore_link("elasticsearch", full_query or "*", window)  # only when Grafana is configured

search_tab, patterns_tab = st.tabs(["Search", "Patterns"])
with search_tab:
    if st.session_state.get("logs_cursor_for") != (spec, full_query, window):
        st.session_state["logs_cursor_for"] = (spec, full_query, window)
        st.session_state[lg.CURSORS_KEY] = [None]
    cursors = st.session_state.setdefault(lg.CURSORS_KEY, [None])
    try:
        page = lg.search(spec, full_query, window, 50, cursors[-1])
        hist = lg.histogram(spec, full_query, window)
    except WorkbenchError as exc:
        lg.show_error(exc, "The query cannot run.")
        page = hist = None
    if page is not None:
        c1, c2, c3 = st.columns([3, 2, 1])
        c1.metric("Hits", f"{page.total:,}")
        author = c2.text_input("Your name", key="logs_author", placeholder="for the pin")
        if c3.button("Pin", key="logs_pin", help="Store this query, window, count and sample hits as evidence"):
            try:
                lg.pin_query(store, incident, source_name=source.info.name, query=full_query, window=window,
                             page=page, hist=hist, author=author)
                st.success("Pinned as evidence and added to the timeline.")
            except WorkbenchError as exc:
                lg.show_error(exc, "Could not pin.")
        if hist.buckets:
            chart = st.plotly_chart(lg.histogram_figure(hist, window, state.presentation_mode()), key="logs_hist",
                                    on_select="rerun", selection_mode="box", theme=None, width="stretch",
                                    config={"displaylogo": False})
            chosen = lg.selected_window(chart)
            if chosen is not None and chosen != window:
                state.set_time_range(chosen)
                st.session_state[lg.CURSORS_KEY] = [None]
                st.rerun()
            st.caption(f"Hits per {hist.interval_seconds // 60 or hist.interval_seconds}"
                       f"{' min' if hist.interval_seconds >= 60 else ' s'} by log.level. Drag a box over the "
                       "chart to zoom: it sets the shared time range.")
        left, right = st.columns([3, 7])
        with left:
            st.subheader("Top values")
            try:
                for facet in lg.facets(spec, full_query, window):
                    with st.expander(lg.md(facet.field), expanded=facet.field in ("log.level", "service.name")):
                        for j, (value, n) in enumerate(facet.values):
                            a, b, c = st.columns([4, 1.3, 1.3], vertical_alignment="center")
                            a.text(f"{value} · {n:,}")
                            if b.button("+", key=f"logs_inc_{facet.field}_{j}", help=lg.md(f"Only {facet.field}: {value}")):
                                lg.add_filter(facet.field, value, True)
                                st.rerun()
                            if c.button("−", key=f"logs_exc_{facet.field}_{j}", help=lg.md(f"Exclude {facet.field}: {value}")):
                                lg.add_filter(facet.field, value, False)
                                st.rerun()
            except WorkbenchError as exc:
                lg.show_error(exc, "Top values are unavailable.")
        with right:
            st.subheader(f"Hits {(len(cursors) - 1) * 50 + 1:,}–{(len(cursors) - 1) * 50 + len(page.hits):,}"
                         if page.hits else "No hits")
            table = st.dataframe(lg.hits_frame(page), hide_index=True, width="stretch", key="logs_table",
                                 on_select="rerun", selection_mode="single-row")
            p1, p2 = st.columns(2)
            if p1.button("← Newer", key="logs_newer", disabled=len(cursors) == 1):
                cursors.pop()
                st.rerun()
            if p2.button("Older →", key="logs_older", disabled=page.cursor is None):
                cursors.append(page.cursor)
                st.rerun()
            rows = table.selection.rows if table is not None else []
            hit = lg.focused_hit(page, rows)
            if hit is not None:
                st.markdown("**Document**")
                st.json(hit.to_dict(), expanded=True)
                n = st.slider("Surrounding lines (same service)", 1, 50, 5, key="logs_context_n")
                try:
                    st.dataframe(lg.context_frame(source.surrounding(hit, n=n), hit.id), hide_index=True,
                                 width="stretch", key="logs_context")
                except WorkbenchError as exc:
                    lg.show_error(exc, "Surrounding lines are unavailable.")

with patterns_tab:
    default_base = incident.baseline or TimeWindow(window.start - window.duration, window.start)
    st.session_state.setdefault("logs_baseline", f"{iso(default_base.start)}/{iso(default_base.end)}")
    base_text = st.text_input("Baseline (START/END, UTC)", key="logs_baseline")
    st.caption(f"Compared with the shared time range {iso(window.start)} – {iso(window.end)}; counts are tested "
               "against the baseline rate scaled to the window length; a change is flagged at q < 0.01 (Benjamini–Hochberg) and at least 1.5× in rate.")
    try:
        diff = lg.patterns(spec, full_query, TimeWindow.parse(base_text), window)
    except WorkbenchError as exc:
        lg.show_error(exc, "Patterns cannot be mined.")
        diff = None
    if diff is not None:
        s = diff.to_dict()["summary"]
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("New", s["new"])
        m2.metric("Increased", s["increased"])
        m3.metric("Vanished", s["vanished"])
        m4.metric("Decreased", s["decreased"])
        st.dataframe(lg.patterns_frame(diff), hide_index=True, width="stretch", key="logs_patterns_table",
                     column_config={"q": st.column_config.NumberColumn(format="%.2g")})
        st.caption(f"{diff.baseline_lines:,} baseline lines, {diff.window_lines:,} window lines, "
                   f"{diff.unique_lines:,} distinct after masking"
                   + (f" (tree trained on a sample of {diff.trained_lines:,})" if diff.sampled else "")
                   + (f"; read as a server-side sample of {diff.read_fraction:.1%} of each window, at one rate"
                      if diff.read_fraction < 1 else "") + ".")
        if st.button("Pin pattern diff", key="logs_pin_patterns"):
            try:
                lg.pin_patterns(store, incident, source_name=source.info.name, query=full_query, diff=diff,
                                author=st.session_state.get("logs_author", ""))
                st.success("Pinned as evidence and added to the timeline.")
            except WorkbenchError as exc:
                lg.show_error(exc, "Could not pin.")
