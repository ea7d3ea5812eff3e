"""The "Large data" panel of the Distributions page: the drift report computed by DuckDB or Spark.

The user names where the data is (a folder, a glob, a Delta table, a Spark table or an ``sc://`` /
``spark://`` address) and an engine (``auto`` picks from the location); the comparison runs on a button
click through :func:`core.compute.run_drift`, and the panel says which engine ran, how long it took and
the error bounds, with every column whose verdict the bounds leave open. Local paths follow the Local
paths policy (``WORKBENCH_DATA_DIRS``; off in team mode).
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.analysis.drift import ColumnDrift, DriftReport
from core.compute import AUTO, DriftOptions, EngineChoice, choose_engine, run_drift
from core.compute.spark_engine import looks_like_table
from core.data_dirs import local_paths_policy
from core.errors import InvalidInputError, WorkbenchError
from core.models import Incident, utc
from ui import state
from ui.distributions import md

RESULT_KEY = "backends_result"
ENGINES = [AUTO, "memory", "duckdb", "spark"]
ENGINE_NAMES = {"memory": "in-process (exact)", "duckdb": "DuckDB (out of core)", "spark": "Spark"}


def _is_spark(location: str) -> bool:
    low = location.lower()
    return low.startswith(("sc://", "spark://", "spark:")) or looks_like_table(location)


def _check_paths(*locations: str) -> None:
    """Local paths must be allowed by the Local paths policy; Spark tables and addresses go to Spark."""
    for loc in locations:
        if not loc or _is_spark(loc):
            continue
        base = loc.split("*", 1)[0] if "*" in loc else loc
        local_paths_policy().check(base or ".")


def _fmt(value: float | None, bound: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" + (f" ± {bound:.2g}" if bound else "")


def columns_table(report: DriftReport) -> pd.DataFrame:
    """One row per column: verdict, the main effect sizes with their bounds, the corrected p-value."""
    rows = []
    for c in report.ranked_columns():
        tests = c.tests
        effect = tests.get("wasserstein") or tests.get("jensen_shannon")
        test = tests.get("ks") or tests.get("chi2")
        rows.append({
            "column": c.label, "type": c.type,
            "verdict": ("drifted" if c.drifted else "stable") + (" (undecided)" if c.uncertain else ""),
            "effect size": f"{effect.name} {_fmt(effect.statistic, effect.error_bound)}" if effect else c.note,
            "psi": _fmt(tests["psi"].statistic) if "psi" in tests else "—",
            "test": f"{test.name} {_fmt(test.statistic, test.error_bound)}" if test else "—",
            "p adj.": f"{test.p_adjusted:.2g}" if test is not None and test.p_adjusted is not None else "—",
            "nulls ref → cur": f"{c.null_rate_reference:.1%} → {c.null_rate_current:.1%}",
        })
    return pd.DataFrame(rows)


def panel(incident: Incident | None) -> None:
    """The panel (an expander, closed until used)."""
    has_result = RESULT_KEY in st.session_state
    with st.expander("Large data: compare on DuckDB or Spark", expanded=has_result, icon=":material/dns:"):
        st.caption("For data larger than memory or already in a data lake or Spark: only summaries come back. "
                   "Give a folder, a glob, a Delta table, a Spark table (db.table) or an sc:// or spark:// address.")
        l1, l2 = st.columns(2)
        ref = l1.text_input("Reference location", key="backends_ref", placeholder="/data/requests/ or db.requests")
        cur = l2.text_input("Current location (empty: split the reference by time)", key="backends_cur")
        t1, t2, t3 = st.columns([2, 3, 2])
        ts = t1.text_input("Timestamp column", key="backends_ts") or None
        split_text = t2.text_input("Split time (ISO 8601, with offset)", key="backends_split")
        engine = t3.selectbox("Engine", ENGINES, key="backends_engine",
                              format_func=lambda e: "auto (from the location)" if e == AUTO else ENGINE_NAMES[e])
        prediction = st.text_input("Prediction column (optional)", key="backends_prediction") or None
        if ref and engine == AUTO:
            try:
                choice = choose_engine(ref)
                st.caption(md(f"auto will run on {ENGINE_NAMES[choice.name]}: {choice.reason}."))
            except WorkbenchError:
                pass
        if st.button("Compare", key="backends_run", type="primary", icon=":material/play_arrow:"):
            try:
                _run(ref.strip(), cur.strip() or None, ts, split_text.strip(), engine, prediction)
            except WorkbenchError as exc:
                st.session_state.pop(RESULT_KEY, None)
                state.show_error(exc, "The comparison did not run.")
                return
        result = st.session_state.get(RESULT_KEY)
        if result is not None:
            show(*result)


def _run(ref: str, cur: str | None, ts: str | None, split_text: str, engine: str, prediction: str | None) -> None:
    if not ref:
        raise InvalidInputError("give the reference location")
    if cur is None and not (ts and split_text):
        raise InvalidInputError("give a current location, or a timestamp column and a split time")
    _check_paths(ref, cur or "")
    split = utc(split_text) if cur is None else None
    exclude = (ts,) if ts else ()
    with st.status("Comparing where the data lives…", expanded=False) as status:
        bar = st.progress(0.0)
        started = time.perf_counter()
        report, choice = run_drift(ref, cur, engine=engine, timestamp=ts, split=split,
                                   options=DriftOptions(prediction=prediction, exclude=exclude, multivariate=True),
                                   progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        status.update(label=f"Done in {time.perf_counter() - started:.1f} s", state="complete")
    st.session_state[RESULT_KEY] = (report, choice, time.perf_counter() - started)


def show(report: DriftReport, choice: EngineChoice, seconds: float) -> None:
    """Which engine ran and why, its bounds, the undecided columns, the findings and the columns."""
    info = report.engine or {}
    name = ENGINE_NAMES.get(choice.name, choice.name)
    where = info.get("master") or info.get("remote") or (f"memory limit {info['memory_limit']}" if info.get("memory_limit") else "")
    exact = info.get("exact", True)
    st.success(md(f"Ran on {name}{f' ({where})' if where else ''} in {seconds:.1f} s — {choice.reason}."))
    if not exact:
        st.info(md(f"Figures from exact counts on a grid: KS within ±{info.get('ks_error_bound', 0.0):.4f}, each "
                   "effect size within the ± shown (deterministic bounds)."))
    m1, m2, m3 = st.columns(3)
    m1.metric("Reference rows", f"{report.n_reference:,}")
    m2.metric("Current rows", f"{report.n_current:,}")
    m3.metric("Drifted columns", f"{sum(c.drifted for c in report.columns)} / {len(report.columns)}")
    undecided: list[ColumnDrift] = [c for c in report.columns if c.uncertain]
    for c in undecided:
        st.warning(md(f"{c.label}: {c.uncertain}"))
    for f in report.schema[:8]:
        st.markdown(f"**{f.severity}** · {md(f.message)}")
    st.dataframe(columns_table(report), width="stretch", hide_index=True)

