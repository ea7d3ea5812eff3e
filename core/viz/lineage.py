"""The lineage graph: from dbt sources through models to the model's input features (Plotly).

Only the nodes on a path to a traced feature are drawn; when that is more than
:data:`MAX_NODES`, only the shortest path from each flagged node (changed, failed, errored, late,
stale) to the features' models, those models and their direct parents are kept, and the page says
how many nodes it collapsed. Columns are layers (longest distance from a source), features on the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import plotly.graph_objects as go

MAX_NODES = 120
COLORS = {"ok": "#9aa0a6", "changed": "#f29900", "test_failed": "#d01884", "errored": "#b31412",
          "stale": "#8430ce", "late": "#f9ab00", "feature": "#1a73e8"}
LABELS = {"ok": "no finding", "changed": "changed", "test_failed": "failed a test", "errored": "errored",
          "stale": "stale", "late": "late", "feature": "feature"}
PRIORITY = ("errored", "stale", "test_failed", "changed", "late")  # the colour a node with several takes


@dataclass(frozen=True)
class LineageView:
    """What the figure draws: node ids (``feature:NAME`` for features), edges, status per node."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    status: Mapping[str, str]
    collapsed: int
    kinds: Mapping[str, tuple[str, ...]] = None  # every finding kind per node (for the hover)


def status_of(findings: Iterable) -> dict[str, str]:
    """``unique_id → kind`` of its most severe finding."""
    out: dict[str, str] = {}
    for f in findings:
        if f.node not in out or PRIORITY.index(f.kind) < PRIORITY.index(out[f.node]):
            out[f.node] = f.kind
    return out


def lineage_view(lineage, mapping: Mapping[str, tuple[str, str | None]], findings: Iterable,
                 max_nodes: int = MAX_NODES) -> LineageView:
    """The nodes and edges to draw for the features of ``mapping`` (feature → (model uid, column))."""
    findings = list(findings)
    status = status_of(findings)
    kinds: dict[str, tuple[str, ...]] = {}
    for f in findings:
        if f.kind not in kinds.get(f.node, ()):
            kinds[f.node] = (*kinds.get(f.node, ()), f.kind)
    targets = {uid for uid, _c in mapping.values()}
    keep = lineage.path_subgraph(targets) if targets else set()
    total = len(keep)
    if len(keep) > max_nodes:  # the shortest path from each flagged node to each feature model it feeds
        from core.sources.lineage_dbt import path_between

        flagged = sorted(u for u in status if u in keep)
        paths = {u for f in flagged for t in targets for u in path_between(lineage, f, t)}
        parents = {p for t in targets for p in lineage.nodes[t].depends_on if p in keep}
        keep = targets | parents | paths
    edges = [(p, uid) for uid in keep for p in lineage.nodes[uid].depends_on if p in keep]
    features = [f"feature:{name}" for name in mapping]
    edges += [(uid, f"feature:{name}") for name, (uid, _c) in mapping.items()]
    nodes = tuple(sorted(keep)) + tuple(features)
    st = {n: status.get(n, "ok") for n in keep}
    st.update({f: "feature" for f in features})
    return LineageView(nodes, tuple(edges), st, total - len(keep), kinds)


def _layers(view: LineageView) -> dict[str, int]:
    """Longest distance from a node without parents (Kahn's order); features in the last column."""
    indeg = {n: 0 for n in view.nodes}
    children: dict[str, list[str]] = {n: [] for n in view.nodes}
    for a, b in view.edges:
        indeg[b] += 1
        children[a].append(b)
    layer = {n: 0 for n in view.nodes}
    queue = [n for n, d in indeg.items() if d == 0]
    while queue:
        n = queue.pop()
        for c in children[n]:
            layer[c] = max(layer[c], layer[n] + 1)
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    top = max(layer.values(), default=0)
    for n in view.nodes:
        if n.startswith("feature:"):
            layer[n] = top
    return layer


def lineage_figure(lineage, view: LineageView, *, dark: bool = False) -> go.Figure:
    """The layered graph; each node's ``customdata`` is its unique_id (features: ``feature:NAME``)."""
    layer = _layers(view)
    columns: dict[int, list[str]] = {}
    for n in view.nodes:
        columns.setdefault(layer[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for x, members in columns.items():
        members.sort(key=lambda n: (view.status[n] == "ok", n))
        for i, n in enumerate(members):
            pos[n] = (x, (len(members) - 1) / 2 - i)
    ex, ey = [], []
    for a, b in view.edges:
        ex += [pos[a][0], pos[b][0], None]
        ey += [pos[a][1], pos[b][1], None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", hoverinfo="skip", showlegend=False,
                             line={"width": 1, "color": "#5f6368" if dark else "#bdc1c6"}))
    for kind in ("ok", *PRIORITY, "feature"):
        members = [n for n in view.nodes if view.status[n] == kind]
        if not members:
            continue
        names, hovers = [], []
        for n in members:
            if n.startswith("feature:"):
                names.append(n.split(":", 1)[1])
                hovers.append(f"feature {names[-1]}")
            else:
                node = lineage.nodes[n]
                names.append(node.label)
                found = (view.kinds or {}).get(n) or (kind,)
                hovers.append(f"{node.resource_type} {node.label}<br>{', '.join(LABELS[k] for k in found)}")
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in members], y=[pos[n][1] for n in members], mode="markers+text",
            text=names, textposition="top center", customdata=list(members), hovertext=hovers, hoverinfo="text",
            name=LABELS[kind], marker={"size": 16 if kind != "ok" else 11, "color": COLORS[kind],
                                       "symbol": "diamond" if kind == "feature" else "circle",
                                       "line": {"width": 1, "color": "#202124" if not dark else "#e8eaed"}}))
    fig.update_layout(
        height=max(320, 60 * max((len(m) for m in columns.values()), default=1)),
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, clickmode="event+select",
        xaxis={"visible": False}, yaxis={"visible": False}, legend={"orientation": "h", "y": -0.05},
        template="plotly_dark" if dark else "plotly_white")
    return fig
