"""Streamlit helpers of the Lineage page: the incident's dbt artifacts, cached, and the node details."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.markdown_text import md_escape
from core.models import Incident
from core.sources.factory import open_source
from core.sources.lineage_dbt import ARTIFACTS, DbtLineage, LineageFinding, findings, path_text
from core.viz.lineage import lineage_figure, lineage_view

GRAPH_KEY = "lineage_graph"
NODE_KEY = "lineage_node"


def dbt_folder_of(incident: Incident) -> Path | None:
    """The bundle's ``dbt/`` folder, or None when the incident has no bundle or the bundle no dbt artifacts."""
    if not incident.bundle_path:
        return None
    folder = Path(incident.bundle_path) / "dbt"
    return folder if folder.is_dir() else None


def _stamp(folder: Path) -> tuple:
    files = [folder / n for n in ARTIFACTS] + [folder / "previous" / "manifest.json"]
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file())


@st.cache_resource(show_spinner="Reading the dbt artifacts…", max_entries=8)
def _open(folder: str, _stamp: tuple) -> tuple[DbtLineage, tuple[LineageFinding, ...]]:
    lineage = open_source("lineage", folder)
    return lineage, tuple(findings(lineage))


def load(folder: Path) -> tuple[DbtLineage, tuple[LineageFinding, ...]]:
    """The lineage and its findings, read once per version of the artifacts."""
    return _open(str(folder), _stamp(folder))


@st.cache_data(show_spinner=False, max_entries=16)
def bundle_features(bundle_path: str) -> list[str]:
    """The columns of the bundle's datasets (the model's input features), read from the file headers only."""
    from core.bundle import read_bundle

    bundle = read_bundle(bundle_path)
    out: list[str] = []
    skip = set()
    for role, spec in bundle.datasets.items():
        skip.update(v for v in (getattr(spec, "timestamp", None), getattr(spec, "prediction", None),
                                getattr(spec, "label", None)) if v)
        path = bundle.dataset_path(role)
        try:
            if path.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                cols = pq.read_schema(path).names
            elif path.suffix.lower() == ".csv":
                cols = list(pd.read_csv(path, nrows=0).columns)
            else:
                cols = list(pd.read_json(path, lines=True, nrows=1).columns)
        except Exception:  # noqa: BLE001 - an unreadable dataset only leaves its features out of the list
            continue
        out += [c for c in cols if c not in out]
    return [c for c in out if c not in skip]


def findings_frame(lineage: DbtLineage, found: list[LineageFinding], mapping: dict) -> pd.DataFrame:
    rows = []
    for f in found:
        feats = [name for name, (uid, _c) in mapping.items() if f.node in lineage.path_subgraph([uid])]
        rows.append({"time (UTC)": f"{f.at:%Y-%m-%d %H:%M}" if f.at else "—", "finding": f.kind.replace("_", " "),
                     "node": f.label, "detail": f.detail,
                     "path": path_text(lineage, f, feats[0], mapping[feats[0]][0]) if feats else ""})
    return pd.DataFrame(rows, columns=["time (UTC)", "finding", "node", "detail", "path"])


def graph(lineage: DbtLineage, mapping: dict, found: tuple[LineageFinding, ...], dark: bool = False) -> str | None:
    """Draw the path graph; returns the unique_id of the node clicked, if any."""
    view = lineage_view(lineage, mapping, found)
    if view.collapsed:
        st.caption(f"{view.collapsed} node(s) upstream but not on a path from a flagged node are collapsed.")
    event: Any = st.plotly_chart(lineage_figure(lineage, view, dark=dark), key=GRAPH_KEY, on_select="rerun",
                                 selection_mode="points", width="stretch")
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        points = []
    for p in points:
        uid = p.get("customdata")
        if isinstance(uid, list):
            uid = uid[0] if uid else None
        if uid and uid in lineage.nodes:
            return uid
    return None


def node_details(lineage: DbtLineage, uid: str) -> None:
    """The node's SQL, columns, run result and tests with their results."""
    node = lineage.nodes[uid]
    run = lineage.results.get(uid)
    fresh = lineage.freshness.get(uid)
    # names, messages and columns come from the team's dbt project: shown as text, never as Markdown
    st.markdown(f"**{md_escape(node.resource_type)} {md_escape(node.label)}** · {md_escape(node.relation or uid)}")
    facts = []
    if run:
        facts.append(f"last run: {run.status}" + (f", ended {run.finished:%Y-%m-%d %H:%M} UTC" if run.finished else "")
                     + (f" — {run.message}" if run.status in ("error", "fail") and run.message else ""))
    if fresh:
        facts.append(f"freshness: {fresh.status}" + (f", last loaded {fresh.max_loaded_at:%Y-%m-%d %H:%M} UTC"
                                                      if fresh.max_loaded_at else ""))
    if uid in lineage.changed:
        facts.append(f"{lineage.changed[uid]} since the previous manifest")
    for line in facts:
        st.markdown(md_escape(line))
    if node.columns:
        st.caption("Columns: " + md_escape(", ".join(node.columns)))
    if node.sql:
        st.code(node.sql, language="sql")
    if node.compiled_sql and node.compiled_sql != node.sql:
        with st.expander("Compiled SQL"):
            st.code(node.compiled_sql, language="sql")
    tests = lineage.tests_of(uid)
    if tests:
        rows = []
        for t in tests:
            r = lineage.results.get(t.unique_id)
            rows.append({"test": t.test_name, "column": t.test_column or "—", "status": r.status if r else "not run",
                         "failures": r.failures if r and r.failures is not None else "",
                         "ended (UTC)": f"{r.finished:%Y-%m-%d %H:%M}" if r and r.finished else ""})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption("No dbt tests on this node.")
