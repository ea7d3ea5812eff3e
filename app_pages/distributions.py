"""Distributions: did the data change, and how? Schema findings first, then the most drifted columns."""

import streamlit as st

from core.errors import WorkbenchError
from core.models import iso, utc
from ui import backends
from ui import distributions as dui
from ui import images as image_inputs
from ui import state
from ui import versions

st.title("Distributions")
incident = state.current_incident()
dark = state.presentation_mode()
if incident is not None:
    st.caption(f"{incident.id} · {incident.title}")
image_inputs.panel(incident)
versions.feature_store(incident)
backends.panel(incident)

bundled = incident is not None and incident.bundle_path
sources = (["Incident data", "Data versions", "Training data"] if bundled else ["Data versions"]) + ["Upload files", "Local paths"]
c1, c2 = st.columns([3, 2])
source = c1.radio("Compare", sources, horizontal=True, key="distributions_source", bind="query-params")
c2.text_input("Your name", key="distributions_author", placeholder="for pinned evidence")

pair = None
try:
    if source == "Incident data":
        roles = dui.roles(incident.bundle_path)
        r1, r2 = st.columns([2, 3])
        role = r1.selectbox("Dataset", roles, key="distributions_role", bind="query-params")
        split_at, window = None, None
        if role != "reference/current":
            at, origin = dui.onset(incident)
            rng = state.time_range()
            modes = ["Incident onset", "Shared time range", "Custom time"]
            mode = r2.radio("Split", modes, horizontal=True, key="distributions_split_mode", bind="query-params",
                            help="Reference: rows before the split. Current: rows after it (or inside the shared time range).")
            if mode == "Incident onset":
                split_at = at
                st.caption(f"Reference: rows before {iso(at)} ({origin}); current: rows at or after it.")
            elif mode == "Shared time range":
                split_at, window = rng.start, rng
                st.caption(f"Reference: rows before {iso(rng.start)}; current: rows in {iso(rng.start)} – {iso(rng.end)}.")
            else:
                text = r2.text_input("Split time (UTC, ISO 8601)", value=iso(at) or "", key="distributions_split_text",
                                     bind="query-params")
                split_at = utc(text)
        pair = dui.bundle_pair(incident.bundle_path, role, split_at, window)
    elif source == "Data versions":
        pair = versions.versions_pair(incident)
    elif source == "Training data":
        pair = versions.training_pair(incident)
    elif source == "Upload files":
        u1, u2 = st.columns(2)
        ref_file = u1.file_uploader("Reference (CSV, Parquet, JSONL)", type=["csv", "parquet", "jsonl"],
                                    key="distributions_upload_ref")
        cur_file = u2.file_uploader("Current (leave empty to split the reference by time)",
                                    type=["csv", "parquet", "jsonl"], key="distributions_upload_cur")
        t1, t2 = st.columns(2)
        ts_col = t1.text_input("Timestamp column", key="distributions_upload_ts") or None
        split_text = t2.text_input("Split time (ISO 8601, with offset)", key="distributions_upload_split")
        if ref_file is not None and (cur_file is not None or (ts_col and split_text)):
            pair = dui.upload_pair(ref_file.name, ref_file.getvalue(), cur_file.name if cur_file else None,
                                   cur_file.getvalue() if cur_file else None, ts_col,
                                   utc(split_text) if cur_file is None else None)
        else:
            st.info("Upload a reference and a current file, or one file with a timestamp column and a split time.")
    elif not (policy := dui.local_paths_policy()).enabled:
        st.warning(dui.md(policy.notice))
    else:
        st.caption(dui.md(policy.notice))
        p1, p2 = st.columns(2)
        ref_path = p1.text_input("Reference file path", key="distributions_path_ref")
        cur_path = p2.text_input("Current file path (empty: split the reference)", key="distributions_path_cur")
        t1, t2 = st.columns(2)
        ts_col = t1.text_input("Timestamp column", key="distributions_path_ts") or None
        split_text = t2.text_input("Split time (ISO 8601, with offset)", key="distributions_path_split")
        if ref_path and (cur_path or (ts_col and split_text)):
            pair = dui.path_pair(ref_path, cur_path or None, ts_col, utc(split_text) if not cur_path else None)
        else:
            st.info("Give a reference and a current path, or one path with a timestamp column and a split time.")
except WorkbenchError as exc:
    state.show_error(exc, "Cannot read the data.")
if pair is None:
    st.stop()

columns = [str(c) for c in pair.current.columns]
with st.expander("Options"):
    o1, o2, o3, o4 = st.columns(4)
    pred_choices = [None] + columns
    prediction = o1.selectbox("Prediction column", pred_choices, key="distributions_prediction",
                              index=pred_choices.index(pair.prediction) if pair.prediction in pred_choices else 0)
    label = o2.selectbox("Label column", pred_choices, key="distributions_label",
                         index=pred_choices.index(pair.label) if pair.label in pred_choices else 0)
    sample = o3.number_input("Sample rows per side (0 = all)", min_value=0, value=0, step=100_000,
                             key="distributions_sample")
    positional = o4.checkbox("Consumer reads columns by position", key="distributions_positional")
options = dui.Options(prediction, label, positional, int(sample) or None)

try:
    report = dui.run_report(pair, options)
except WorkbenchError as exc:
    state.show_error(exc, "Cannot compare the data.")
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("Reference rows", f"{report.n_reference:,}")
m2.metric("Current rows", f"{report.n_current:,}")
m3.metric("Drifted columns", f"{sum(c.drifted for c in report.columns)} / {len(report.columns)}")
mv = report.multivariate
m4.metric("Domain classifier AUC", f"{mv.auc:.2f}" if mv else "—",
          help="Held-out AUC of a classifier telling current rows from reference rows: 0.5 = same joint distribution.")
st.caption(dui.md(pair.description) + (f" · sampled {report.sample_rows:,} rows per side; KS within ±{report.ks_error_bound:.4f} (95%)"
                               if report.sampled else ""))
dui.pin_button(incident, pair, report, kind="drift", title=f"Drift report: {pair.description}",
               result=dui.summary_result(report), key="summary")

ranked = report.ranked_columns()
focused = state.focus("distributions_column")
if focused:
    hit = next((i for i, c in enumerate(ranked) if focused in (c.column, c.current_column, c.label)), None)
    if hit is None:
        st.warning(f"The link names column '{focused}', which is not in this data; the columns are listed below.")
    else:
        col = ranked[hit]
        st.subheader(f"Column from the link: {dui.md(col.label)}")
        st.markdown(f"{':red-badge[DRIFTED]' if col.drifted else ':green-badge[stable]'} · "
                    f"{dui.md(dui.column_summary(col))}")
        dui.comparison(pair, report, col.column, col.current_column, key="focus", dark=dark)
        st.dataframe(dui.tests_table(col), width="stretch", hide_index=True)
        if st.button("Show all columns", key="distributions_unfocus", icon=":material/close:"):
            state.set_focus("distributions_column", None)
            st.rerun()

dui.data_checks(pair, incident.bundle_path if source == "Incident data" else None)

st.subheader("Schema findings")
if not report.schema:
    st.success("No schema problems: same columns, types, scales, null rates and categories.")
for i, f in enumerate(report.schema):  # charts are built for the open findings only
    dui.schema_panel(incident, pair, report, f, i, expanded=i < 2 or focused in f.columns, dark=dark)

st.subheader("Columns, most drifted first")
show_all = st.toggle(f"Show all {len(ranked)} columns", key="distributions_all") if len(ranked) > 12 else True
for i, col in enumerate(ranked if show_all else ranked[:12]):  # charts for the open columns only
    dui.column_panel(incident, pair, report, col, i, expanded=i == 0 and col.drifted, dark=dark)

if mv is not None:
    st.subheader("Joint distribution")
    verdict = "moved" if mv.drifted else "did not move detectably"
    st.write(f"A classifier trained to tell current rows from reference rows reached AUC {mv.auc:.3f} "
             f"(± {mv.standard_error:.3f}, threshold {mv.threshold}) on {mv.n_reference:,} + {mv.n_current:,} "
             f"sampled rows: the joint distribution {verdict}. Most telling columns: "
             f"{dui.md(', '.join(mv.columns)) or '—'}.")
