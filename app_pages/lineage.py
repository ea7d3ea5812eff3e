"""Lineage: from the model's input features back through dbt models to sources, with what changed there."""

import streamlit as st

from core.errors import WorkbenchError
from ui import lineage as lv
from ui import state
from ui.incidents import md_text

st.title("Lineage")
incident = state.current_incident()
if incident is None:
    st.info("No incident selected: pick one in the sidebar or create one on the Incidents page.")
    st.stop()
st.caption(f"{incident.id} · {md_text(incident.title)}")
folder = lv.dbt_folder_of(incident)
if folder is None:
    st.info("This incident has no dbt artifacts: the Lineage view reads a `dbt/` folder in the incident bundle "
            "(`manifest.json`, and `run_results.json`, `sources.json`, `catalog.json` when present; a "
            "`previous/manifest.json` to find changed models). Copy dbt's `target/` files there, or run "
            "`python -m core lineage TARGET --feature NAME` on a dbt `target/` folder.")
    st.stop()
try:
    lineage, found = lv.load(folder)
except WorkbenchError as exc:
    state.show_error(exc, "The dbt artifacts of this bundle cannot be read.")
    st.stop()

features = lv.bundle_features(incident.bundle_path)
mapping_all = lineage.map_features(features)
column_level = [f for f, (_uid, col) in mapping_all.items() if col]
options = sorted(mapping_all) or ([lineage.nodes[lineage.feature_model()].label] if lineage.feature_model() else [])
if not options:
    st.info("No input feature of this bundle maps to a dbt model, and no model is marked as the feature table "
            "(`meta: {feature_table: true}`); see docs/lineage.md for the mapping rule.")
    st.stop()
chosen = st.multiselect("Features to trace", options, default=(column_level or options)[:8], key="lineage_features",
                        help="A feature maps to the dbt column of the same name, else to the model that produces "
                             "the feature table (docs/lineage.md).")
mapping = {f: mapping_all[f] for f in chosen if f in mapping_all}
if not mapping and lineage.feature_model():
    uid = lineage.feature_model()
    mapping = {lineage.nodes[uid].label: (uid, None)}
if not mapping:
    st.info("Choose at least one feature to trace.")
    st.stop()

on_path = set().union(*(lineage.path_subgraph([uid]) for uid, _c in mapping.values()))
flagged = [f for f in found if f.node in on_path]
c1, c2, c3 = st.columns(3)
c1.metric("Nodes on the path", len(on_path))
c2.metric("Findings on the path", len(flagged))
c3.metric("dbt", lineage.dbt_version or "?", lineage.run_command or None, delta_color="off")

clicked = lv.graph(lineage, mapping, found, dark=state.presentation_mode())
if flagged:
    st.subheader("Changed, failed, errored, late or stale")
    st.dataframe(lv.findings_frame(lineage, flagged, mapping), hide_index=True, width="stretch")
else:
    st.success("Nothing on the path to these features changed, failed a test, errored, ran late or went stale.")

st.subheader("Node")
choices = sorted((u for u in on_path if u in lineage.nodes), key=lambda u: lineage.nodes[u].label)
if clicked in choices:
    st.session_state[lv.NODE_KEY] = clicked
elif st.session_state.get(lv.NODE_KEY) not in choices:  # first the most telling node: a flagged one
    st.session_state[lv.NODE_KEY] = flagged[0].node if flagged else next(iter(mapping.values()))[0]
picked = st.selectbox("Node (or click one in the graph)", choices, key=lv.NODE_KEY,
                      format_func=lambda u: f"{lineage.nodes[u].label} ({lineage.nodes[u].resource_type})")
if picked:
    lv.node_details(lineage, picked)
