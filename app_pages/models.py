"""Models: did the model or its code change? Registry history, last-good vs incident diff, verdict."""

import streamlit as st

from core.analysis.rundiff import choose_runs, regression_verdict
from core.errors import WorkbenchError
from core.models import TimeWindow, iso
from core.flows.pin import pin_run_diff
from ui import models as mx
from ui import state
from ui.incidents import parse_time_field

st.title("Models")
incident = state.current_incident()
if incident is None:
    st.info("Choose or create an incident to see its models.")
    st.stop()
store = state.get_store()
st.caption(f"{incident.id} · {mx.md_text(incident.title)}")
window = state.time_range()
verdict_slot = st.container()  # the verdict is the page's answer: drawn at the top once the runs are compared

system = st.segmented_control("Runs from", mx.systems(incident), key=mx.SYSTEM_KEY, bind="query-params",
                              default=mx.systems(incident)[0]) or mx.systems(incident)[0]
if system == mx.WANDB:
    with st.expander("W&B runs"):
        st.text_input("W&B run folders", key=mx.WANDB_KEY, placeholder="the incident's wandb/ folder (or a path, or 'wandb')",
                      help="A folder of offline or exported W&B runs, or 'wandb' for the W&B API "
                           "(WANDB_API_KEY, WANDB_ENTITY, WANDB_PROJECT or [wandb] in secrets.toml).")
    try:
        uri = mx.wandb_spec(incident)
    except WorkbenchError as exc:
        state.show_error(exc, "The W&B runs cannot be read.")
        st.stop()
    if uri is None:
        st.info("This incident has no W&B runs and no W&B project is configured. Give a folder of W&B runs above, "
                "or set WANDB_API_KEY, WANDB_ENTITY and WANDB_PROJECT.")
        st.stop()
else:
    with st.expander("MLflow tracking server"):
        st.text_input("Tracking URI", key=mx.URI_KEY, placeholder="embedded store (or http://host:5000, sqlite:///…, ./mlruns)",
                      help="Also from [mlflow] tracking_uri in secrets.toml or MLFLOW_TRACKING_URI; "
                           "the token comes from MLFLOW_TRACKING_TOKEN or [mlflow] token.")
    uri = mx.tracking_uri()
try:
    if uri is None and incident.bundle_path:
        mx.ensure_demo_registry(incident.id, incident.bundle_path)
    named = mx.bundle_model(incident)
    candidates = ([named] if named else []) + [m for m in mx.models(uri, incident.service or None) if m != named]
    if not candidates and incident.service:
        st.info(f"No registered model belongs to the service '{incident.service}' in this tracking store, so "
                "no registry history applies to this incident. Point the tracking URI at the service's MLflow "
                "server, or browse the other services' models below.")
        if st.toggle("Browse models of other services", key="models_other_services"):
            candidates = mx.models(uri, None)
        else:
            st.stop()
    elif not candidates:
        candidates = mx.models(uri, None)
except WorkbenchError as exc:
    state.show_error(exc, "The model registry cannot be read.")
    st.stop()
st.caption(mx.source_label(uri))
if not candidates:
    st.info("No registered models (MLflow) or model artifacts (W&B) in this store. Point the source at your runs.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
model = c1.selectbox("Model", candidates, key="models_model", bind="query-params")
onset_default, onset_basis = mx.default_onset(incident, window)
typed = c2.text_input("Onset (UTC)", key="models_onset", placeholder=onset_default.strftime("%Y-%m-%d %H:%M"),
                      help=f"Default from {onset_basis}.")
within = c3.number_input("Verdict window (h)", 1.0, 24.0 * 30, 24.0, 1.0, key="models_within")
try:
    onset = parse_time_field(typed, "Onset") or onset_default
    hist = mx.history(uri, model)
except WorkbenchError as exc:
    state.show_error(exc, f"No registry history for '{model}'.")
    st.stop()
st.caption(f"Onset {onset.strftime('%Y-%m-%d %H:%M')} UTC from {onset_basis if not typed else 'your input'}.")

st.subheader("Registry history")
events_window = TimeWindow(min(window.start, incident.baseline.start) if incident.baseline else window.start, window.end)
added_key = f"models_events_added_{incident.id}_{model}"
if added_key not in st.session_state:
    try:
        st.session_state[added_key] = mx.add_registry_events(store, incident, hist, events_window)
    except WorkbenchError as exc:
        st.session_state[added_key] = 0
        state.show_error(exc, "Registry versions could not be added to the timeline.")
if st.session_state[added_key]:
    st.caption(f"{st.session_state[added_key]} registry version(s) in the incident's range were added to the timeline.")
aliases = ", ".join(f"{a} → v{v}" for a, v in sorted(hist.aliases.items())) or "none"
st.markdown(f"**{len(hist.versions)}** versions · aliases: {aliases}")
history_frame = hist.frame()
if not history_frame["stage"].astype(bool).any():
    history_frame = history_frame.drop(columns=["stage"])
st.dataframe(history_frame, hide_index=True, height=240, key="models_history", column_config={
    "aliases": st.column_config.TextColumn("aliases", width="small"),
    "effective_at": st.column_config.DatetimeColumn("in effect from (UTC)", format="YYYY-MM-DD HH:mm"),
    "registered_at": st.column_config.DatetimeColumn("registered (UTC)", format="YYYY-MM-DD HH:mm"),
})

st.subheader("Last good vs incident")
choice = choose_runs(hist, onset)
with_runs = [v.version for v in hist.versions if v.run_id][::-1]
if len(with_runs) < 2:
    st.info(f"'{model}' has fewer than two versions with runs; nothing to compare. {choice.reason}")
    st.stop()
st.caption(choice.reason)
default_b = choice.incident.version if choice.incident else with_runs[0]
default_a = choice.last_good.version if choice.last_good else with_runs[min(1, len(with_runs) - 1)]
previous_choice = st.session_state.get("models_choice_for")
st.session_state["models_choice_for"] = (model, iso(onset))
if previous_choice is not None and previous_choice != (model, iso(onset)):
    # a new model or onset gives a new default pair, in the address too (a link opened in a fresh
    # session keeps the pair it names)
    st.session_state["models_version_a"], st.session_state["models_version_b"] = default_a, default_b
picked = {k: {} if k in st.session_state else {"index": with_runs.index(v)}
          for k, v in (("models_version_a", default_a), ("models_version_b", default_b))}
d1, d2, d3 = st.columns([2, 2, 1])
va = d1.selectbox("Last good", with_runs, key="models_version_a", bind="query-params",
                  format_func=lambda n: mx.version_label(hist, n), **picked["models_version_a"])
vb = d2.selectbox("Incident", with_runs, key="models_version_b", bind="query-params",
                  format_func=lambda n: mx.version_label(hist, n), **picked["models_version_b"])
show_all = d3.toggle("Show all rows", key="models_show_all", help="Off: only what differs.")
a, b = hist.version(va), hist.version(vb)
try:
    diff, experiment_id = mx.run_diff(uri, a.run_id, b.run_id)
except WorkbenchError as exc:
    state.show_error(exc, "The two runs cannot be compared.")
    st.stop()
for w in diff.warnings:
    st.warning(w)

verdict = regression_verdict(diff, b, onset, within_hours=float(within))
box = verdict_slot.container(border=True)
(box.error if verdict.finding else box.info)(f"**{verdict.title}**")
box.write(verdict.explanation)
if box.button("Pin as evidence", key="models_pin"):
    try:
        ev = pin_run_diff(store, incident, verdict=verdict, diff=diff, tracking_uri=uri, model=model,
                          version_a=va, version_b=vb, onset=onset, within_hours=float(within))
        when = verdict.effective_at or onset
        box.success(f"Pinned as evidence #{ev.id}; it is on the timeline at {iso(when)}.")
    except WorkbenchError as exc:
        state.show_error(exc, "The finding was not pinned.")

frames = mx.diff_frames(diff, show_all)
counts = diff.counts()
count_of = {"Params": "params", "Metrics": "metrics", "Tags": "tags", "Input datasets": "datasets",
            "Artifacts": "artifacts"}
labels = [f"{name} ({counts[count_of[name]]})" for name in frames]
# the link keeps the open tab; by default the first one with a change (where the evidence is)
changed_tab = next((lab for lab, name in zip(labels, frames) if counts[count_of[name]]), labels[0])
tabs = st.tabs(labels, default=changed_tab, key="models_tab", bind="query-params")
for tab, (name, frame) in zip(tabs, frames.items()):
    with tab:
        if frame.empty:
            st.caption("No differences." if not show_all else "Nothing recorded.")
        else:
            config = {"relative": st.column_config.NumberColumn("relative", format="percent")} if name == "Metrics" else None
            st.dataframe(frame, hide_index=True, column_config=config, key=f"models_diff_{name.split()[0].lower()}")

st.subheader("Runs of the experiment")
max_runs = st.segmented_control("Newest runs", [50, 200, 500, 1000], default=200, key="models_max_runs") or 200
params = tuple(p.key for p in diff.changed_params[:6])
metrics = tuple(m.key for m in (diff.changed_metrics or diff.metrics)[:6])
try:
    table = mx.runs_table(uri, experiment_id, params, metrics, int(max_runs))
except WorkbenchError as exc:
    state.show_error(exc, "The runs cannot be searched.")
    st.stop()
st.caption(f"{len(table)} most recent runs, newest first; columns: the changed params and the compared metrics.")
shown = [c for c in table.columns if c not in ("run_id", "end_time", "deleted")] + ["run_id"]
if table["deleted"].any():
    shown.insert(1, "deleted")
st.dataframe(table, hide_index=True, height=320, key="models_runs", column_order=shown, column_config={
    "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
})
