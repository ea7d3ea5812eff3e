"""Triage: ranked root-cause hypotheses with their evidence, from one button."""

import streamlit as st

from core.errors import WorkbenchError
from core.models import iso
from ui import prevention, progress, runbooks, state
from ui import triage as tg

st.title("Triage")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to triage it.")
    st.stop()
st.caption(f"{incident.id} · {tg.md_escape(incident.title)}")
if not incident.bundle_path:
    st.info("Triage reads an incident bundle (metrics, logs, events, datasets). Import one on the Incidents page, "
            "or run `python -m core triage BUNDLE` on a bundle.")
    st.stop()
store = state.get_store()

st.write("Finds the KPI onset, ranks the changes before it, compares the data, diffs logs and metrics, checks "
         "the model registry when one is configured, and scores six root-cause classes — data first, then "
         "environment and code, then infrastructure.")
if progress.take_cancelled("triage"):
    st.warning("Triage was cancelled; nothing was stored. Press **Run triage** to start it again.")
if st.button("Run triage", type="primary", key="triage_run", icon=":material/troubleshoot:"):
    cancel = progress.cancel_button("triage", "triage")
    try:
        tg.store_result(incident.id, tg.run_triage(incident))
    except WorkbenchError as exc:
        state.show_error(exc, "Triage could not run on this bundle.")
    finally:
        cancel.empty()
result = tg.stored_result(incident.id)
if result is None:
    st.stop()

c1, c2, c3 = st.columns([2, 3, 1])
if result.onset is not None:
    rel = result.onset.relative_change
    red_when_down = (result.onset.effect == "bad") == ((rel or 0) < 0)
    c1.metric("Onset", f"{(result.onset_at or result.onset.time):%Y-%m-%d %H:%M} UTC",
              f"{rel:+.1%} {result.kpi}" if rel is not None else None,
              delta_color="normal" if red_when_down else "inverse",
              help="the KPI's level shift at the onset (after against before, change-point fit over the baseline "
                   "and incident windows), as on the Metrics page")
else:
    c1.metric("Onset", "no change detected")
    st.warning("No detectable KPI change: nothing is confirmed. " + result.onset_note)
top = result.top
c2.metric("Most likely", top.label if top else "—",
          " · ".join(x for x in (f"score {top.score:.2f}", tg.probability_text(top)) if x) if top else None,
          delta_color="off", delta_arrow="off", help=tg.PROBABILITY_HELP)
c3.metric("Triage time", f"{result.seconds:.1f} s")
for step in result.skipped:
    st.warning(f"Not checked — {step.title}: {step.summary}", icon=":material/block:")
if result.not_configured:
    st.caption("Not used by this incident (no cost to confidence): "
               + "; ".join(f"{s.title} — {s.summary}" for s in result.not_configured))

author = st.text_input("Your name (for accepted causes and pinned evidence)", key="triage_author")
if st.button("Pin this triage result as evidence", key="triage_pin", icon=":material/push_pin:"):
    try:
        st.success(f"Pinned as evidence #{tg.pin(store, incident, result, author)}.")
    except WorkbenchError as exc:
        state.show_error(exc, "The triage result could not be pinned.")

st.subheader("Hypotheses, most likely first")
for h in result.hypotheses:
    with st.container(border=True):
        head, actions = st.columns([5, 1])
        head.markdown(tg.hypothesis_line(h), help=tg.PROBABILITY_HELP)
        head.progress(min(max(h.score, 0.0), 1.0))
        head.text(h.explanation)
        runbooks.hypothesis_link(actions, incident, h.root_cause)
        if h.signals and actions.button("Accept", key=f"triage_accept_{h.root_cause.value}",
                                        help="Add a suspected cause on the fishbone and a first Five Whys chain"):
            try:
                if not author.strip():
                    actions.warning("Type your name above first: the cause records who accepted it.")
                else:
                    got = tg.accept(store, incident.id, h, author)
                    actions.success("Added to the fishbone" if got.created else "Already on the fishbone")
                    actions.page_link(tg.page_path_fishbone(), label="Open the fishbone",
                                      query_params=tg.link_params(incident.id, state.time_range()))
            except WorkbenchError as exc:
                state.show_error(exc, "The hypothesis could not be accepted.")
        if not h.signals:
            continue
        with st.expander(f"Evidence ({len(h.signals)}) and the arithmetic", expanded=h.rank == 1):
            st.code(h.arithmetic(), language=None)
            for f in h.factors:
                st.text(f"× {f.value:g}: {f.reason}")
            for s in h.signals:
                with st.container(border=True):
                    a, b = st.columns([4, 1])
                    a.markdown(f"**{tg.md_escape(s.evidence.title)}**")
                    a.text(s.evidence.detail)
                    a.caption(f"{s.reason} · weight {s.weight:g} × strength {s.strength:.2f} = {s.contribution:.2f}")
                    if s.evidence.view in tg.VIEW_PAGES:
                        label, hint = tg.link_label(s.evidence.view, s.evidence.window, state.time_range())
                        b.page_link(tg.page_path(s.evidence.view), label=label, help=hint,
                                    icon=":material/open_in_new:",
                                    query_params=tg.link_params(incident.id, s.evidence.window, s.evidence.view,
                                                                dict(s.evidence.data)))

with st.expander("What each step found"):
    for step in result.steps:
        st.markdown(f"{tg.STATUS_ICONS.get(step.status, '')} **{step.title}** ({step.status})")
        st.text(step.summary)

runbooks.triage_panel(store, incident, top.root_cause if top else None, author)
prevention.show(incident, result)
