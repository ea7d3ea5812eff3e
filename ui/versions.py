"""Streamlit helpers of the Distributions page's historical states: data versions, training data, feature store.

``versions_pair`` renders the table picker (a bundle's Delta tables and partition folders, or a server
path when the Local paths policy allows), its history and the two-version picker, and returns the two
versions as a :class:`~core.sources.datasets.DatasetPair` for the page's drift and schema views.
``training_pair`` compares the incident's current data with the data an MLflow run trained on, after a
click. ``feature_store`` shows a bundle's Feast snapshot: views, TTLs and freshness. Reading is cached
by the table's path, the versions and a stamp of its log, so a rerun of the page reads nothing again.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.data_dirs import local_paths_policy
from core.errors import WorkbenchError
from core.models import Incident, iso, when_text
from core.sources.datasets import DatasetPair
from ui import state
from ui.distributions import md

OTHER = "Other path on the server…"


def _stamp(path: str) -> float:
    """Changes when the table does: the newest modification time of its log or partition folders."""
    p = Path(path)
    parts = [p / "_delta_log"] if (p / "_delta_log").is_dir() else [s for s in p.iterdir() if s.is_dir()]
    return max((s.stat().st_mtime for s in parts), default=p.stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=16)
def _tables(bundle_path: str) -> dict[str, str]:
    from core.sources.datasets_delta import bundle_tables

    return {name: str(t.path) for name, t in bundle_tables(Path(bundle_path)).items()}


def _open(path: str) -> Any:
    from core.sources.datasets_delta import open_versions

    return open_versions(path).table()


@st.cache_data(show_spinner=False, max_entries=16)
def _history(path: str, stamp: float) -> tuple[str, str, list[dict[str, Any]]]:
    table = _open(path)
    return table.label, table.kind, [h.to_dict() for h in table.history()]


@st.cache_data(show_spinner="Reading the two versions…", max_entries=6)
def _versions_pair(path: str, a: str, b: str, stamp: float) -> tuple[DatasetPair, dict[str, Any]]:
    from core.analysis.versions import diff_columns

    table = _open(path)
    change = diff_columns(table.columns_at(a), table.columns_at(b))
    pair = DatasetPair(table.read(version=a), table.read(version=b), f"{table.label}: version {a} vs {b}")
    return pair, change.to_dict() | {"text": change.text()}


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The history as a table to show: newest first."""
    return pd.DataFrame([{"version": str(r["version"]), "time (UTC)": (r["at"] or "").replace("T", " ")[:19],
                          "operation": f"{r['operation']} {r['mode']}".strip(), "rows": r["rows"],
                          "columns": len(r["columns"]),
                          "change": "; ".join(x for x in (
                              _change_text(r["schema_change"]),
                              "overwrite" if r["overwrite"] and r["schema_change"] is not None else "") if x)}
                         for r in reversed(rows)])


def _change_text(change: dict[str, Any] | None) -> str:
    if not change:
        return ""
    parts = [f"added {', '.join(change['added'])}" if change["added"] else "",
             f"removed {', '.join(change['removed'])}" if change["removed"] else "",
             ", ".join(f"{r['column']}: {r['before']} → {r['after']}" for r in change["retyped"])]
    return "; ".join(p for p in parts if p)


def versions_pair(incident: Incident | None) -> DatasetPair | None:
    """The table picker, its history and the two-version picker; the two versions' rows, or None."""
    tables = _tables(incident.bundle_path) if incident is not None and incident.bundle_path else {}
    policy = local_paths_policy()
    choices = list(tables) + ([OTHER] if policy.enabled else [])
    if not tables:
        st.info("This incident's bundle has no Delta table or dt=YYYY-MM-DD partition folder under datasets/. "
                + ("Open one on the server by path below." if policy.enabled else
                   "Set WORKBENCH_DATA_DIRS to open a table on the server by path."))
    if not choices:
        return None
    c1, c2 = st.columns([2, 3])
    name = c1.selectbox("Versioned table", choices, key="distributions_versions_table", bind="query-params")
    if name == OTHER:
        path = c2.text_input("Delta table or partitioned folder (path on the server)", key="distributions_versions_path")
        if not path:
            return None
        policy.check(path)
        path = str(Path(path).expanduser())
    else:
        path = tables[name]
    stamp = _stamp(path)
    label, kind, rows = _history(path, stamp)
    changed = sum(1 for r in rows if r["schema_change"])
    st.caption(f"{label}: {len(rows)} version(s), {changed} with a schema change")
    st.dataframe(history_frame(rows), width="stretch", hide_index=True, height=min(36 * (len(rows) + 1) + 3, 260))
    names = [str(r["version"]) for r in rows]
    if len(names) < 2:
        st.info("The table has one version: nothing to compare yet.")
        return None
    default_a = next((i - 1 for i, r in enumerate(rows) if r["schema_change"] and i > 0), len(names) - 2)
    v1, v2 = st.columns(2)
    help_text = "A version number; for partitions a date (pick a range by typing FROM..TO in the box below)."
    a = v1.selectbox("Reference version", names, index=max(default_a, 0), key="distributions_versions_a", help=help_text)
    b = v2.selectbox("Current version", names, index=len(names) - 1, key="distributions_versions_b")
    if kind == "partitions":
        r1, r2 = st.columns(2)
        a = r1.text_input("Reference range (FROM..TO, optional)", key="distributions_versions_range_a") or a
        b = r2.text_input("Current range (FROM..TO, optional)", key="distributions_versions_range_b") or b
    if a == b:
        st.info("Pick two different versions.")
        return None
    pair, change = _versions_pair(path, a, b, stamp)
    if change["text"] != "no change":
        st.warning(f"Declared schema change from {a} to {b}: {change['text']}", icon=":material/schema:")
    return pair


OTHER_RUN = "Another run (type its id)…"


@st.cache_data(show_spinner="Reading the run's training data…", max_entries=4)
def _training_pair(bundle_path: str, run_id: str, uri: str | None) -> tuple[DatasetPair, dict[str, Any]]:
    from core.bundle import read_bundle
    from core.sources.datasets import bundle_roles, pair_from_bundle
    from core.sources.training_baseline import read_training_data, training_inputs
    from ui.models import source

    training = read_training_data(training_inputs(source(uri).get_run(run_id, artifacts=False))[0])
    bundle = read_bundle(bundle_path)
    incident = pair_from_bundle(bundle, bundle_roles(bundle)[0])
    current = incident.current
    if incident.timestamp and incident.timestamp in current.columns and incident.timestamp not in training.frame.columns:
        current = current.drop(columns=[incident.timestamp])
    pair = DatasetPair(training.frame, current, f"{training.label} vs the incident window ({incident.description})",
                       prediction=incident.prediction, label=incident.label)
    return pair, training.to_dict()


def _model_runs(incident: Incident, uri: str | None) -> dict[str, str]:
    """The runs of the bundle's model versions, newest first (``{label: run id}``); empty when unknown."""
    from ui import models as mui

    model = mui.bundle_model(incident)
    if not model:
        return {}
    try:
        hist = mui.history(uri, model)
    except WorkbenchError:
        return {}
    return {f"{model} v{v.version} · run {v.run_id[:8]}" + (f" ({', '.join(v.aliases)})" if v.aliases else ""): v.run_id
            for v in reversed(hist.versions) if v.run_id}


def training_pair(incident: Incident | None) -> DatasetPair | None:
    """After a click: the data the model's MLflow run trained on (reference) vs the incident window (current)."""
    from ui.models import tracking_uri

    if incident is None or not incident.bundle_path:
        st.info("Open an incident with a bundle to compare its data with the training data.")
        return None
    uri = tracking_uri()
    runs = _model_runs(incident, uri)
    c1, c2 = st.columns([3, 2])
    picked = c1.selectbox("Model version", list(runs) + [OTHER_RUN], key="distributions_training_pick",
                          help="The runs of the incident's model in the registry; the run must record its "
                               "training data with mlflow.log_input(…, context='training').") if runs else OTHER_RUN
    if picked == OTHER_RUN:
        run_id = c1.text_input("MLflow run of the model", key="distributions_training_run").strip()
    else:
        run_id = runs[picked]
    asked = st.session_state.get("distributions_training_for")
    if c2.button("Compare with the training data", key="distributions_training_go", disabled=not run_id,
                 icon=":material/history:"):
        st.session_state["distributions_training_for"] = asked = run_id
    if not run_id or asked != run_id:
        st.info("Pick the model's run and click Compare: the incident window is compared with the data the model "
                "was trained on.")
        return None
    pair, info = _training_pair(incident.bundle_path, run_id, uri)
    matches = info["digest_matches"]
    note = ("digest matches the run's record" if matches else
            "digest differs from the run's record: the file changed since training" if matches is False else
            "digest not checked")
    st.caption(f"Training data: {info['dataset']['name']} at {info['location']} · {info['rows']:,} rows · {note}")
    return pair


@st.cache_data(show_spinner=False, max_entries=8)
def _feature_store(bundle_path: str, at_text: str) -> tuple[str, list[dict[str, Any]], str | None]:
    """(label, one row per view with times as datetimes, the repository at hand or None)."""
    from core.models import utc
    from core.sources.factory import open_source
    from core.sources.features_feast import freshness, repository_of

    repo = open_source("features", bundle_path)
    states = {s.view: s for s in freshness(repo, utc(at_text))}
    rows = []
    for v in repo.views:
        s = states.get(v.name)
        last = v.last_materialized
        rows.append({"view": v.name, "entities": ", ".join(v.entities), "features": len(v.features),
                     "source": v.source, "ttl": v.ttl, "last": last[1] if last else None,
                     "stale": bool(s and s.stale), "since": s.since if s else None, "online": s is not None})
    snapshot = next(iter(sorted((Path(bundle_path) / "features").glob("*.json"))), None)
    found = repository_of(snapshot, repo) if snapshot is not None else None
    return repo.label, rows, str(found) if found else None


def _onset(incident: Incident) -> datetime | None:
    """The incident's onset by the one policy (None when nothing decides one)."""
    from ui.timeline import onset_for

    try:
        return onset_for(incident).at
    except WorkbenchError:
        return None


def freshness_frame(rows: list[dict[str, Any]], onset: datetime | None) -> pd.DataFrame:
    """The views as shown: TTLs and times in words, each time against the onset."""
    from core.sources.features_feast import ttl_text

    def state(r: dict[str, Any]) -> str:
        if not r["online"]:
            return "offline only"
        if r["stale"]:
            return "STALE " + (f"since {when_text(r['since'], onset)}" if r["since"] else "(never materialised)")
        return "fresh"

    return pd.DataFrame([{"feature view": r["view"], "state": state(r), "TTL": ttl_text(r["ttl"]) if r["ttl"] else "none",
                          "last materialised to": when_text(r["last"], onset) if r["last"] else "never",
                          "entities": r["entities"], "features": r["features"], "source": r["source"]}
                         for r in rows])


def feature_store(incident: Incident | None) -> None:
    """A bundle's Feast snapshot: each feature view's TTL, last materialisation and freshness at the window end,
    and, when the snapshot's repository is at hand, the values of one view at two times compared."""
    if incident is None or not incident.bundle_path or not (Path(incident.bundle_path) / "features").is_dir():
        return
    end = incident.window.end if incident.window else None
    try:
        label, rows, repo = _feature_store(incident.bundle_path, iso(end) if end else "")
    except WorkbenchError as exc:
        state.show_error(exc, "Cannot read the feature store snapshot.")
        return
    stale = sum(r["stale"] for r in rows)
    onset = _onset(incident)
    with st.expander(f"Feature store: {label} · {stale} of {len(rows)} feature view(s) stale at the window end",
                     expanded=bool(stale), icon=":material/warning:" if stale else ":material/check:"):
        st.caption(f"Freshness judged at the end of the incident window, {when_text(end, onset)}: a view is stale "
                   "when its last materialised values are older than its TTL.")
        st.dataframe(freshness_frame(rows, onset), width="stretch", hide_index=True)
        _two_times(incident, rows, repo, onset)


@st.cache_data(show_spinner=False, max_entries=8)
def _feast_compare(repo: str, _stamp: float, view: str, a: datetime, b: datetime) -> dict[str, Any]:
    from core.sources.features_feast import compare_in_feast

    return compare_in_feast(repo, view, a, b)


def _default_times(incident: Incident, onset: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Before: the baseline's end (else an hour before the onset); after: the window's end."""
    before = incident.baseline.end if incident.baseline else (onset - timedelta(hours=1) if onset else None)
    after = incident.window.end if incident.window else (onset + timedelta(hours=1) if onset else None)
    return before, after


def _two_times(incident: Incident, rows: list[dict[str, Any]], repo: str | None, onset: datetime | None) -> None:
    """Compare one view's values for the same entities at two times, asked of Feast in its own Python."""
    from core.sources.features_feast import FeastMissingError, feast_python
    from core.timerange import parse_input

    st.markdown("**Values at two times** — the same entities' feature values as Feast served them "
                "(point-in-time joins), compared by the drift engine")
    if repo is None:
        st.info("The Feast repository of this snapshot is not on this server (a bundle carries it as "
                "features/feature_repo/ beside the snapshot). On a machine with the repository run "
                "python -m core features REPO --view VIEW --a TIME --b TIME.", icon=":material/info:")
        return
    try:
        feast_python()
    except FeastMissingError as exc:
        st.info(str(exc), icon=":material/download:")
        return
    except WorkbenchError as exc:
        state.show_error(exc, "Feast cannot run.")
        return
    views = [r["view"] for r in rows]
    default = next((i for i, r in enumerate(rows) if r["stale"]), 0)
    before, after = _default_times(incident, onset)
    c1, c2, c3 = st.columns([2, 2, 2])
    view = c1.selectbox("Feature view", views, index=default, key="distributions_feast_view")
    a_text = c2.text_input("Before (UTC, YYYY-MM-DD HH:MM)", value=_field(before), key="distributions_feast_a")
    b_text = c3.text_input("After (UTC, YYYY-MM-DD HH:MM)", value=_field(after), key="distributions_feast_b")
    try:
        a, b = parse_input(a_text, "Before"), parse_input(b_text, "After")
    except WorkbenchError as exc:
        state.show_error(exc, "Give both times.")
        return
    if a is None or b is None:
        st.info("Give both times.")
        return
    c2.caption(when_text(a, onset))
    c3.caption(when_text(b, onset))
    asked = (repo, view, a, b)
    if c1.button("Compare in Feast", key="distributions_feast_go", icon=":material/compare_arrows:",
                 help="Runs Feast in its own Python (.venv/feast); the first answer takes up to a minute."):
        st.session_state["distributions_feast_for"] = asked
    if st.session_state.get("distributions_feast_for") != asked:
        return
    try:
        with st.spinner("Asking Feast for the values at both times…"):
            data = _feast_compare(repo, _stamp(repo), view, a, b)
    except WorkbenchError as exc:
        state.show_error(exc, "Feast could not compare the values.")
        return
    _show_comparison(data, a, b, onset)


def _field(value: datetime | None) -> str:
    return f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M}" if value else ""


def _show_comparison(data: dict[str, Any], a: datetime, b: datetime, onset: datetime | None) -> None:
    drift = data.get("drift") or {}
    columns = drift.get("columns") or []
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Entities", f"{data.get('entities', 0):,}")
    m2.metric("No values before", f"{data.get('missing_a', 0):,}", help=f"at {when_text(a, onset)}")
    m3.metric("No values after", f"{data.get('missing_b', 0):,}", help=f"at {when_text(b, onset)}")
    m4.metric("Drifted features", f"{sum(bool(c.get('drifted')) for c in columns)} / {len(columns)}")
    findings = drift.get("schema") or []
    for f in findings:
        (st.error if f.get("severity") == "critical" else st.warning)(md(str(f.get("message", ""))))
    if not findings and not any(c.get("drifted") for c in columns):
        st.success(f"The values of {md(str(data.get('table', '')))} did not change between the two times.")
    st.dataframe(pd.DataFrame([{
        "feature": c.get("column"), "drifted": bool(c.get("drifted")), "score": None if c.get("type") == "empty" else round(float(c.get("score") or 0), 3),
        "empty before": f"{(c.get('null_rate') or {}).get('reference', 0):.0%}",
        "empty after": f"{(c.get('null_rate') or {}).get('current', 0):.0%}",
        "note": c.get("note") or ""} for c in columns]), width="stretch", hide_index=True)
