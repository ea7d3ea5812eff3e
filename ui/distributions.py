"""Streamlit helpers of the Distributions page: cached loading, the report run with progress, panels."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.drift import ColumnDrift, DriftReport, compare_distributions
from core.analysis.schema import SchemaFinding
from core.bundle import read_bundle
from core.data_dirs import local_paths_policy
from core.errors import WorkbenchError
from core.models import Incident, TimeWindow, iso
from core.sources.datasets import DatasetPair, bundle_roles, pair_from_bundle, read_dataset, read_upload, split_by_time
from core.flows.pin import pin_drift
from core.viz import distributions as viz
from ui import progress as cancelling, state

REPORTS_KEY = "distributions_reports"
MAX_KEPT_REPORTS = 4
CANCELLED_KEY = "distributions_cancelled_for"
CANCELLABLE_ROWS = 200_000  # above this many rows in all, the comparison shows its steps and a Cancel button
SEVERITY_BADGES = {"critical": ":red-badge[CRITICAL]", "high": ":orange-badge[HIGH]",
                   "medium": ":yellow-badge[MEDIUM]", "low": ":gray-badge[LOW]"}
SEVERITY_ICONS = {"critical": ":material/error:", "high": ":material/warning:", "medium": ":material/info:",
                  "low": ":material/check_circle:"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: str) -> str:
    """User text (column names, values) escaped for Markdown, so it shows literally."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(show_spinner=False, max_entries=8)
def roles(bundle_path: str) -> list[str]:
    return bundle_roles(read_bundle(bundle_path))


def onset(incident: Incident) -> tuple[datetime | None, str]:
    """The incident's impact start and where it comes from: the one onset policy (core.onset), as every view."""
    from ui.timeline import onset_for

    try:
        found = onset_for(incident)
    except WorkbenchError:
        return None, ""
    return found.at, found.source


@st.cache_data(show_spinner="Reading the incident's data…", max_entries=8)
def bundle_pair(bundle_path: str, role: str, split_at: datetime | None,
                current: TimeWindow | None) -> DatasetPair:
    return pair_from_bundle(read_bundle(bundle_path), role, split_at=split_at, current=current)


@st.cache_data(show_spinner="Reading the files…", max_entries=4)
def upload_pair(ref_name: str, ref_bytes: bytes, cur_name: str | None, cur_bytes: bytes | None,
                timestamp: str | None, split_at: datetime | None) -> DatasetPair:
    ref = read_upload(ref_name, ref_bytes)
    if cur_bytes is None:
        split = split_by_time(ref, timestamp or "", split_at)
        return DatasetPair(split.reference, split.current, f"upload {ref_name} split at {iso(split_at)}",
                           split.reference_window, split.current_window, timestamp=timestamp, split_at=split_at)
    cur = read_upload(cur_name or "current", cur_bytes)
    return DatasetPair(ref, cur, f"uploads {ref_name} vs {cur_name}", timestamp=timestamp)


def path_pair(ref_path: str, cur_path: str | None, timestamp: str | None, split_at: datetime | None) -> DatasetPair:
    """Two server files (or one split by time), if the Local paths policy lets app users read them."""
    policy = local_paths_policy()
    policy.check(ref_path)
    if cur_path:
        policy.check(cur_path)
    return _path_pair(ref_path, cur_path, timestamp, split_at)


@st.cache_data(show_spinner="Reading the files…", max_entries=4)
def _path_pair(ref_path: str, cur_path: str | None, timestamp: str | None, split_at: datetime | None) -> DatasetPair:
    ref = read_dataset(ref_path)
    if not cur_path:
        split = split_by_time(ref, timestamp or "", split_at)
        return DatasetPair(split.reference, split.current, f"{ref_path} split at {iso(split_at)}",
                           split.reference_window, split.current_window, timestamp=timestamp, split_at=split_at)
    return DatasetPair(ref, read_dataset(cur_path), f"{ref_path} vs {cur_path}", timestamp=timestamp)


@dataclass(frozen=True)
class Options:
    prediction: str | None
    label: str | None
    positional: bool
    max_rows: int | None


def _signature(pair: DatasetPair, options: Options) -> str:
    parts = [pair.description, str(len(pair.reference)), str(len(pair.current)), repr(options),
             repr(pair.current_window), ",".join(map(str, pair.reference.columns)), ",".join(map(str, pair.current.columns))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def run_report(pair: DatasetPair, options: Options) -> DriftReport:
    """The report for these inputs: reused from this session, else computed with a progress bar."""
    reports: dict[str, DriftReport] = st.session_state.setdefault(REPORTS_KEY, {})
    key = _signature(pair, options)
    if key in reports:
        return reports[key]
    big = len(pair.reference) + len(pair.current) > CANCELLABLE_ROWS
    if cancelling.take_cancelled("distributions"):
        st.session_state[CANCELLED_KEY] = key
    if st.session_state.get(CANCELLED_KEY) == key:
        asked = st.empty()
        with asked.container():
            st.info("The comparison was cancelled. Narrow the range or set a row sample above, or start it again.")
            if not st.button("Compare now", key="distributions_compare_again", type="primary"):
                st.stop()
        asked.empty()
        st.session_state.pop(CANCELLED_KEY, None)
    cancel = cancelling.cancel_button("distributions", "comparison") if big else None
    with st.status("Comparing reference and current data…", expanded=big) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        report = compare_distributions(
            pair.reference, pair.current, prediction=options.prediction, label=options.label,
            exclude=(pair.timestamp,) if pair.timestamp else (), positional=options.positional,
            max_rows=options.max_rows, progress=progress,
        )
        status.update(label=f"Compared {len(report.columns)} columns", state="complete", expanded=False)
    if cancel is not None:
        cancel.empty()
    while len(reports) >= MAX_KEPT_REPORTS:
        reports.pop(next(iter(reports)))
    reports[key] = report
    return report


# ---------------------------------------------------------------- panels

def column_summary(col: ColumnDrift) -> str:
    """One line: the effect sizes, the corrected test and n."""
    effects = ", ".join(f"{name.replace('_', ' ')} {t.statistic:.3g}" for name, t in col.tests.items()
                        if t.p_value is None and t.statistic is not None)
    tests = ", ".join(f"{name} p adj. {t.p_adjusted:.2g}" for name, t in col.tests.items() if t.p_adjusted is not None)
    n = f"n {col.n_reference - col.null_reference:,} → {col.n_current - col.null_current:,}"
    nulls = (f", nulls {col.null_rate_reference:.1%} → {col.null_rate_current:.1%}"
             if col.null_reference or col.null_current else "")
    return " · ".join(p for p in (effects or col.note, tests, n + nulls) if p)


def comparison(pair: DatasetPair, report: DriftReport, column: str, current_column: str | None,
               key: str, dark: bool, log_first: bool = False) -> None:
    """The Plotly comparison and quantile table of one column (reference name, current name)."""
    cur_name = current_column or column
    if column not in pair.reference.columns or cur_name not in pair.current.columns:
        side = "reference" if column not in pair.reference.columns else "current"
        st.caption(f"No {side} values to plot: the column exists on one side only.")
        return
    ref, cur = pair.reference[column], pair.current[cur_name]
    try:
        col = report.column(column)
        ctype = col.type
    except WorkbenchError:
        ctype = "numeric" if pd.api.types.is_numeric_dtype(ref.dtype) and pd.api.types.is_numeric_dtype(cur.dtype) else "categorical"
    if ctype in ("numeric", "datetime"):
        views = ["Histogram", "Histogram (log scale)", "ECDF"]
        view = st.radio("View", views, horizontal=True, index=1 if log_first else 0,
                        key=f"distributions_view_{key}", label_visibility="collapsed")
        if view == "ECDF":
            fig = viz.ecdf_figure(ref, cur, title=f"{column}: cumulative distribution", dark=dark)
        else:
            fig = viz.histogram_figure(ref, cur, title=f"{column}: distribution", log_x=view != "Histogram", dark=dark)
        st.plotly_chart(fig, key=f"distributions_fig_{key}", theme=None, width="stretch",
                        config={"displaylogo": False})
        st.dataframe(viz.quantile_table(ref, cur), width="stretch")
        if ctype == "datetime" or pd.api.types.is_datetime64_any_dtype(ref.dtype):
            _freshness(pair, column, cur_name)
    elif ctype in ("categorical", "identifier"):
        st.plotly_chart(viz.category_figure(ref, cur, title=f"{column}: share of each value", dark=dark),
                        key=f"distributions_fig_{key}", theme=None, width="stretch", config={"displaylogo": False})
        st.dataframe(viz.category_shares(ref, cur), width="stretch")
    else:
        st.caption("All values are null on one side: nothing to plot.")


def _freshness(pair: DatasetPair, column: str, cur_name: str) -> None:
    """For an event-time column, how far it lags the row time (another time column of both samples)."""
    ref, cur = pair.reference, pair.current
    others = [c for c in ref.columns if c != column and c in cur.columns
              and pd.api.types.is_datetime64_any_dtype(ref[c].dtype) and pd.api.types.is_datetime64_any_dtype(cur[c].dtype)]
    if not others or column not in cur.columns:
        return
    # the row time is the other time column that is latest on average (events happen after their inputs)
    row_time = max(others, key=lambda c: pd.to_datetime(ref[c], utc=True).median())
    lag = viz.freshness_lag(ref, cur, column, row_time)
    st.markdown(f"**Freshness lag** — how far `{column}` trails the row time `{row_time}`:")
    st.dataframe(lag, width="stretch")


def tests_table(col: ColumnDrift) -> pd.DataFrame:
    rows = [{"test": name, "statistic": t.statistic, "p-value": t.p_value, "p adj. (BH)": t.p_adjusted,
             "threshold": t.threshold, "drifted": t.drifted} for name, t in col.tests.items()]
    return pd.DataFrame(rows)


def pin_button(incident: Incident | None, pair: DatasetPair, report: DriftReport, *, kind: str, title: str,
               result: dict, key: str) -> None:
    """A "Pin as evidence" button that freezes ``result`` with the inputs and windows."""
    if incident is None:
        return
    if st.button("Pin as evidence", key=f"distributions_pin_{key}", icon=":material/push_pin:",
                 help="Freeze this finding, its inputs and windows onto the incident (timeline and post-mortem)."):
        try:
            ev = pin_drift(state.get_store(), incident, pair, report, kind=kind, title=title, result=result,
                           author=st.session_state.get("distributions_author", ""))
        except WorkbenchError as exc:
            state.show_error(exc, "Not pinned.")
            return
        st.success(f"Pinned as evidence #{ev.id}; it is on the timeline and will appear in the post-mortem.")


@st.fragment
def schema_panel(incident: Incident | None, pair: DatasetPair, report: DriftReport, f: SchemaFinding, i: int, *,
                 expanded: bool, dark: bool) -> None:
    """One schema finding in an expander whose chart and tables are built only while it is open.

    Opening or closing it, switching its view or pinning it reruns this panel alone (a fragment)."""
    with st.expander(finding_title(f), expanded=expanded, icon=SEVERITY_ICONS.get(f.severity),
                     key=f"distributions_open_schema_{i}", on_change="rerun") as box:
        if not box.open:
            return
        if f.kind in ("column_order",):
            st.json(f.details)
        else:
            comparison(pair, report, f.columns[0], f.columns[1] if len(f.columns) > 1 else None,
                       key=f"schema_{i}", dark=dark, log_first=f.kind in ("scale_change", "transform_change", "range_shift"))
            st.json(f.details, expanded=False)
        pin_button(incident, pair, report, kind="schema", title=f"Schema: {f.message}",
                   result=f.to_dict(), key=f"schema_{i}")


@st.fragment
def column_panel(incident: Incident | None, pair: DatasetPair, report: DriftReport, col: ColumnDrift, i: int, *,
                 expanded: bool, dark: bool) -> None:
    """One column's drift in an expander whose chart and tables are built only while it is open
    (a fragment, like :func:`schema_panel`)."""
    verdict = ":red-badge[DRIFTED]" if col.drifted else ":green-badge[stable]"
    role = f" ({col.role})" if col.role != "feature" else ""
    with st.expander(f"{verdict} **{md(col.label)}**{role} · {md(column_summary(col))}", expanded=expanded,
                     icon=":material/trending_up:" if col.drifted else ":material/check:",
                     key=f"distributions_open_col_{i}", on_change="rerun") as box:
        if not box.open:
            return
        comparison(pair, report, col.column, col.current_column, key=f"col_{i}", dark=dark)
        st.dataframe(tests_table(col), width="stretch", hide_index=True)
        pin_button(incident, pair, report, kind="drift", title=f"Drift of {col.label}: {column_summary(col)}",
                   result=col.to_dict(), key=f"col_{i}")


def finding_title(f: SchemaFinding) -> str:
    return f"{SEVERITY_BADGES.get(f.severity, '')} **{f.kind.replace('_', ' ')}** · {md(f.message)}"


def summary_result(report: DriftReport) -> dict:
    """A compact copy of the whole report for pinning: schema findings and drifted columns."""
    out = report.to_dict()
    out["columns"] = [c for c in out["columns"] if c["drifted"]][:30]
    return out


# ------------------------------------------------------------------ data checks (Great Expectations)

GX_KEY = "distributions_gx_checks"
GENERATED = "Generated from the reference"




@st.cache_data(show_spinner="Running the data checks with Great Expectations…", max_entries=8)
def _run_checks(_pair: DatasetPair, signature: str, suite_text: str | None) -> tuple[str, Any]:
    from core.analysis.expectations import suggest_suite, suite_json, validate_frame

    suite = json.loads(suite_text) if suite_text else suggest_suite(_pair.reference, "reference")
    return suite_json(suite), validate_frame(_pair.current, suite)


def _observed_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:119] + "…"


def data_checks(pair: DatasetPair, bundle_path: str | None) -> None:
    """The expander "Data checks (Great Expectations)": the current data validated against a suite
    generated from the reference (or one stored in the bundle's quality/ folder), on request."""
    from core.sources.quality_gx import stored_suites

    with st.expander("Data checks (Great Expectations)", icon=":material/rule:", key="distributions_gx_panel"):
        stored = stored_suites(f"{bundle_path}/quality") if bundle_path else {}
        c1, c2 = st.columns([3, 1])
        choice = c1.selectbox("Suite", [GENERATED, *stored], key="distributions_gx_suite",
                              help="A suite generated from the reference data (column set, types, null rates, "
                                   "ranges, categories, with tolerances), or one stored in the bundle's quality/ folder.")
        suite_text = json.dumps(stored[choice]) if choice in stored else None
        signature = _signature(pair, Options(None, None, False, None)) + "|" + choice  # cheap: no data hashed
        results = st.session_state.setdefault(GX_KEY, {})
        if c2.button("Run checks", key="distributions_gx_run", icon=":material/play_arrow:"):
            try:
                results[signature] = _run_checks(pair, signature, suite_text)
            except WorkbenchError as exc:
                st.info(str(exc))
                return
        if signature not in results:
            st.caption("Validates the current data against the suite with Great Expectations; "
                       "runs when you click Run checks.")
            return
        text, report = results[signature]
        failed = len(report.failed)
        (st.warning if failed else st.success)(
            f"{failed} of {len(report.results)} check(s) failed on {report.rows:,} current rows.")
        st.dataframe(pd.DataFrame([{"result": "pass" if r.success else "FAIL", "expectation": r.expectation,
                                    "column": r.column or "(table)", "category": r.category,
                                    "observed": _observed_text(r.to_dict()["observed"])}
                                   for r in sorted(report.results, key=lambda r: r.success)]),
                     width="stretch", hide_index=True)
        st.download_button("Save as GX suite", text, file_name=f"{json.loads(text).get('name', 'suite')}.json",
                           mime="application/json", key="distributions_gx_save", icon=":material/download:",
                           help="The suite as Great Expectations writes it (gx/expectations/NAME.json).")
