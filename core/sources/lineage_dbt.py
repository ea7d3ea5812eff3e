"""dbt lineage from the artifacts a dbt run leaves in ``target/`` (or in a bundle's ``dbt/`` folder).

Reads plain JSON, no dbt import: ``manifest.json`` (required: the graph, SQL, columns, checksums,
tests), and when present ``run_results.json`` (status, times, failures of the last run),
``sources.json`` (``dbt source freshness``) and ``catalog.json`` (the columns the warehouse really
has). A ``previous/manifest.json`` (or ``--previous``) is the manifest before the change: nodes whose
checksum differs between the two are *changed*.

Supported schema versions (``metadata.dbt_schema_version``): manifest v7–v12 (dbt 1.3 to 1.11),
run results v4–v6, sources v1–v3, catalog v1. Anything else, malformed or partial JSON, or a folder
without a manifest is an :class:`~core.errors.InvalidInputError` naming the file and the problem;
nothing is half-read.

Feature → dbt mapping (docs/lineage.md): a feature maps to the column of the same name
(case-insensitive) of the most downstream model that has it (columns from ``catalog.json``, else
the ``columns`` the manifest documents); a feature no model has maps, at model level, to the
*feature model*: the model whose ``meta`` says ``feature_table: true``, else the only model that no
other model reads (when there is exactly one), else none.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from core.errors import InvalidInputError
from core.models import TimeWindow

__all__ = [
    "ARTIFACTS", "SUPPORTED", "DbtLineage", "DbtNode", "Freshness", "LineageFinding", "NodeRun",
    "changed_between", "dbt_folder", "findings", "load_lineage", "open_lineage", "timeline_events",
]

ARTIFACTS = ("manifest.json", "run_results.json", "sources.json", "catalog.json")
#: artifact → supported ``dbt_schema_version`` numbers
SUPPORTED = {"manifest.json": range(7, 13), "run_results.json": range(4, 7),
             "sources.json": range(1, 4), "catalog.json": range(1, 2)}
_SCHEMA_KIND = {"manifest.json": "manifest", "run_results.json": "run-results",
                "sources.json": "sources", "catalog.json": "catalog"}
GRAPH_TYPES = ("model", "source", "seed", "snapshot", "exposure")
FAILED = ("error", "fail", "runtime error")


@dataclass(frozen=True)
class NodeRun:
    """One node's result in ``run_results.json``."""

    status: str
    started: datetime | None
    finished: datetime | None
    seconds: float
    message: str = ""
    failures: int | None = None


@dataclass(frozen=True)
class Freshness:
    """One source's result in ``sources.json``."""

    status: str  # pass, warn, error, runtime error
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_seconds: float | None
    criteria: str = ""


@dataclass(frozen=True)
class DbtNode:
    unique_id: str
    resource_type: str
    name: str
    label: str  # ``raw.events`` for a source, the model name otherwise
    relation: str = ""
    sql: str = ""
    compiled_sql: str = ""
    checksum: str = ""
    columns: tuple[str, ...] = ()
    column_types: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    test_name: str = ""  # tests: not_null, unique, accepted_values, …
    test_column: str = ""  # tests: the column the test checks
    attached: str = ""  # tests: the node the test checks

    def to_dict(self) -> dict[str, Any]:
        return {"unique_id": self.unique_id, "resource_type": self.resource_type, "name": self.name,
                "label": self.label, "relation": self.relation, "checksum": self.checksum,
                "columns": list(self.columns), "depends_on": list(self.depends_on),
                "test_name": self.test_name, "test_column": self.test_column, "attached": self.attached}


@dataclass(frozen=True)
class LineageFinding:
    """A node that changed, failed a test, errored, ran late or went stale, with its time."""

    kind: str  # changed, test_failed, errored, late, stale
    node: str  # unique_id
    label: str
    at: datetime | None
    detail: str
    test_name: str = ""
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "label": self.label,
                "at": self.at.isoformat().replace("+00:00", "Z") if self.at else None,
                "detail": self.detail, "test_name": self.test_name, "columns": list(self.columns)}


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _read(path: Path) -> dict[str, Any]:
    """One artifact, checked: JSON object, ``metadata.dbt_schema_version`` supported, its main keys present."""
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                                "copy the file again from dbt's target/ folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise InvalidInputError(f"{path}: not a dbt {_SCHEMA_KIND[name]} artifact (no 'metadata' object)")
    version = str(data["metadata"].get("dbt_schema_version") or "")
    m = re.search(rf"/{_SCHEMA_KIND[name]}/v(\d+)\.json$", version)
    if not m:
        raise InvalidInputError(f"{path}: metadata.dbt_schema_version '{version or 'missing'}' is not a dbt "
                                f"{_SCHEMA_KIND[name]} schema")
    number = int(m.group(1))
    supported = SUPPORTED[name]
    if number not in supported:
        raise InvalidInputError(f"{path}: {_SCHEMA_KIND[name]} v{number} "
                                f"(dbt {data['metadata'].get('dbt_version', '?')}) is not supported; "
                                f"supported are v{supported.start}–v{supported.stop - 1}")
    need = {"manifest.json": ("nodes", "sources"), "run_results.json": ("results",),
            "sources.json": ("results",), "catalog.json": ("nodes",)}[name]
    for key in need:
        if not isinstance(data.get(key), (dict if key in ("nodes", "sources") else list)):
            raise InvalidInputError(f"{path}: partial artifact: '{key}' is missing or not "
                                    f"{'an object' if key in ('nodes', 'sources') else 'a list'}")
    return data


def _timing(result: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    starts, ends = [], []
    for t in result.get("timing") or ():
        if isinstance(t, dict):
            starts.append(_time(t.get("started_at")))
            ends.append(_time(t.get("completed_at")))
    starts = [s for s in starts if s]
    ends = [e for e in ends if e]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _columns(entry: Mapping[str, Any]) -> dict[str, str]:
    cols = entry.get("columns") or {}
    if not isinstance(cols, dict):
        return {}
    return {str(c.get("name") or k): str(c.get("data_type") or c.get("type") or "")
            for k, c in cols.items() if isinstance(c, dict)}


class DbtLineage:
    """The dbt graph with run results, freshness and catalog columns (see the module docstring)."""

    def events(self) -> list[dict[str, Any]]:
        """The findings that have a time, as timeline events (what a bundle import adds)."""
        return timeline_events(findings(self))

    def __init__(self, manifest: Mapping[str, Any], *, run_results: Mapping[str, Any] | None = None,
                 sources: Mapping[str, Any] | None = None, catalog: Mapping[str, Any] | None = None,
                 previous: Mapping[str, Any] | None = None, name: str = "dbt"):
        self.name = name
        self.generated_at = _time(manifest["metadata"].get("generated_at"))
        self.dbt_version = str(manifest["metadata"].get("dbt_version") or "")
        cat_cols: dict[str, dict[str, str]] = {}
        for part in ("nodes", "sources"):
            for uid, entry in ((catalog or {}).get(part) or {}).items():
                if isinstance(entry, dict):
                    cat_cols[uid] = {str(c.get("name") or k): str(c.get("type") or "")
                                     for k, c in (entry.get("columns") or {}).items() if isinstance(c, dict)}
        self.nodes: dict[str, DbtNode] = {}
        entries = [*manifest["nodes"].items(), *manifest["sources"].items(),
                   *(manifest.get("exposures") or {}).items()]
        for uid, e in entries:
            if not isinstance(e, dict):
                continue
            rtype = str(e.get("resource_type") or uid.split(".", 1)[0])
            name = str(e.get("name") or uid)
            label = f"{e.get('source_name')}.{name}" if rtype == "source" else name
            cols = cat_cols.get(uid) or _columns(e)
            meta = e.get("meta") if isinstance(e.get("meta"), dict) else {}
            config = e.get("config") if isinstance(e.get("config"), dict) else {}
            meta = {**(config.get("meta") or {}), **meta}
            tm = e.get("test_metadata") if isinstance(e.get("test_metadata"), dict) else {}
            deps = (e.get("depends_on") or {}).get("nodes") or []
            self.nodes[uid] = DbtNode(
                unique_id=uid, resource_type=rtype, name=name, label=label,
                relation=str(e.get("relation_name") or ""),
                sql=str(e.get("raw_code") or e.get("raw_sql") or ""),
                compiled_sql=str(e.get("compiled_code") or e.get("compiled_sql") or ""),
                checksum=str((e.get("checksum") or {}).get("checksum") or ""),
                columns=tuple(cols), column_types=cols, depends_on=tuple(str(d) for d in deps), meta=meta,
                test_name=str(tm.get("name") or ("singular" if rtype == "test" else "")),
                test_column=str(e.get("column_name") or ""),
                attached=str(e.get("attached_node") or (deps[0] if rtype == "test" and len(deps) == 1 else "")))
        self.children: dict[str, list[str]] = {uid: [] for uid in self.nodes}
        self.tests: dict[str, list[str]] = {}
        for uid, n in self.nodes.items():
            for d in n.depends_on:
                if n.resource_type == "test":
                    self.tests.setdefault(d, []).append(uid)
                elif d in self.children:
                    self.children[d].append(uid)
        self.results: dict[str, NodeRun] = {}
        self.run_command = ""
        if run_results:
            self.run_command = str((run_results.get("args") or {}).get("which") or "")
            for r in run_results["results"]:
                if not isinstance(r, dict) or not r.get("unique_id"):
                    continue
                started, finished = _timing(r)
                self.results[str(r["unique_id"])] = NodeRun(
                    status=str(r.get("status") or ""), started=started, finished=finished,
                    seconds=float(r.get("execution_time") or 0.0), message=str(r.get("message") or ""),
                    failures=r.get("failures") if isinstance(r.get("failures"), int) else None)
        self.freshness: dict[str, Freshness] = {}
        for r in (sources or {}).get("results") or ():
            if not isinstance(r, dict) or not r.get("unique_id"):
                continue
            crit = r.get("criteria") or {}
            words = [f"{k.split('_')[0]} after {v.get('count')} {v.get('period')}(s)" for k, v in crit.items()
                     if isinstance(v, dict) and v.get("count")]
            age = r.get("max_loaded_at_time_ago_in_s")
            self.freshness[str(r["unique_id"])] = Freshness(
                status=str(r.get("status") or ""), max_loaded_at=_time(r.get("max_loaded_at")),
                snapshotted_at=_time(r.get("snapshotted_at")),
                age_seconds=float(age) if isinstance(age, (int, float)) else None, criteria=", ".join(words))
        self.changed: dict[str, str] = changed_between(previous, manifest) if previous else {}
        self.previous_columns: dict[str, tuple[str, ...]] = {}
        if previous:
            for part in ("nodes", "sources"):
                for uid, e in (previous.get(part) or {}).items():
                    if isinstance(e, dict):
                        self.previous_columns[uid] = tuple(_columns(e))

    # -- the graph ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def find(self, name: str) -> DbtNode:
        """A node by unique_id, name, ``source.table`` label or relation name."""
        if name in self.nodes:
            return self.nodes[name]
        low = name.lower().strip('"')
        for n in self.nodes.values():
            if n.resource_type != "test" and low in (n.name.lower(), n.label.lower(),
                                                    n.relation.replace('"', "").lower()):
                return n
        raise InvalidInputError(f"{self.name}: no dbt model, source or seed named '{name}'")

    def upstream_of(self, node: str, *, depth: int | None = None) -> list[str]:
        """The nodes ``node`` reads from, nearest first (tests excluded), up to ``depth`` hops."""
        start = self.find(node).unique_id
        seen, out, queue = {start}, [], deque([(start, 0)])
        while queue:
            uid, d = queue.popleft()
            if depth is not None and d >= depth:
                continue
            for parent in self.nodes[uid].depends_on if uid in self.nodes else ():
                if parent not in seen and parent in self.nodes and self.nodes[parent].resource_type != "test":
                    seen.add(parent)
                    out.append(parent)
                    queue.append((parent, d + 1))
        return out

    def path_subgraph(self, targets: Iterable[str]) -> set[str]:
        """Every node on a path from a source to one of ``targets`` (the targets included)."""
        keep: set[str] = set()
        for t in targets:
            uid = self.find(t).unique_id
            keep.add(uid)
            keep.update(self.upstream_of(uid))
        return keep

    def tests_of(self, node: str) -> list[DbtNode]:
        return [self.nodes[t] for t in self.tests.get(self.find(node).unique_id, ())]

    def leaf_models(self) -> list[str]:
        return [uid for uid, n in self.nodes.items() if n.resource_type == "model"
                and not any(self.nodes[c].resource_type == "model" for c in self.children.get(uid, ()))]

    def feature_model(self) -> str | None:
        """The model that produces the feature table (see the mapping rule in the module docstring)."""
        flagged = [uid for uid, n in self.nodes.items() if n.resource_type == "model" and n.meta.get("feature_table")]
        if flagged:
            return flagged[0]
        leaves = self.leaf_models()
        return leaves[0] if len(leaves) == 1 else None

    def map_features(self, features: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """``feature → (unique_id, column or None)``: column-level where a model has the column, else
        the feature model (model level); a feature neither finds is left out."""
        by_col: dict[str, list[str]] = {}
        for uid, n in self.nodes.items():
            if n.resource_type in ("model", "seed", "snapshot"):
                for c in n.columns:
                    by_col.setdefault(c.lower(), []).append(uid)
        fallback = self.feature_model()
        out: dict[str, tuple[str, str | None]] = {}
        for f in features:
            holders = by_col.get(str(f).lower(), [])
            if holders:
                # the most downstream holder: one no other holder reads from
                ups = {u for h in holders for u in self.upstream_of(h)}
                best = sorted(h for h in holders if h not in ups)[0]
                col = next(c for c in self.nodes[best].columns if c.lower() == str(f).lower())
                out[str(f)] = (best, col)
            elif fallback:
                out[str(f)] = (fallback, None)
        return out

    # -- LineageSource protocol ----------------------------------------------------------------------
    def upstream(self, asset: str, *, depth: int = 3) -> pd.DataFrame:
        start = self.find(asset).unique_id
        rows, seen, queue = [], {start}, deque([(start, 0)])
        while queue:
            uid, d = queue.popleft()
            if d >= depth:
                continue
            for p in self.nodes[uid].depends_on:
                if p in self.nodes and p not in seen and self.nodes[p].resource_type != "test":
                    seen.add(p)
                    rows.append({"name": self.nodes[p].label, "kind": self.nodes[p].resource_type, "depth": d + 1,
                                 "unique_id": p})
                    queue.append((p, d + 1))
        return pd.DataFrame(rows, columns=["name", "kind", "depth", "unique_id"])

    def runs_frame(self, window: TimeWindow | None = None) -> pd.DataFrame:
        rows = []
        for uid, r in self.results.items():
            if window is not None and r.finished is not None and not (window.start <= r.finished <= window.end):
                continue
            n = self.nodes.get(uid)
            rows.append({"name": n.label if n else uid, "status": r.status, "started": r.started,
                         "finished": r.finished, "rows": None, "unique_id": uid})
        return pd.DataFrame(rows, columns=["name", "status", "started", "finished", "rows", "unique_id"])

    def runs(self, window: TimeWindow) -> pd.DataFrame:
        """The node runs that finished in ``window`` (``name, status, started, finished, rows``)."""
        return self.runs_frame(window)


def changed_between(old_manifest: Mapping[str, Any], new_manifest: Mapping[str, Any]) -> dict[str, str]:
    """``unique_id → "modified" | "added" | "removed"`` for models, sources, seeds and snapshots whose
    checksum (or, for sources, columns) differs between the two manifests."""
    def graph(m: Mapping[str, Any]) -> dict[str, str]:
        out = {}
        for part in ("nodes", "sources"):
            for uid, e in (m.get(part) or {}).items():
                if isinstance(e, dict) and str(e.get("resource_type") or "") in GRAPH_TYPES:
                    check = str((e.get("checksum") or {}).get("checksum") or "")
                    out[uid] = check or json.dumps(sorted(_columns(e)))
        return out

    old, new = graph(old_manifest), graph(new_manifest)
    out = {uid: "modified" for uid in new if uid in old and old[uid] != new[uid]}
    out.update({uid: "added" for uid in new if uid not in old})
    out.update({uid: "removed" for uid in old if uid not in new})
    return out


# -- findings -------------------------------------------------------------------------------------
def _first_line(text: str, limit: int = 300) -> str:
    """A run message on one line (dbt's first line only names the node; the cause follows)."""
    line = " ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _hm(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M}Z" if t else "an unknown time"


def findings(lineage: DbtLineage) -> list[LineageFinding]:
    """Nodes that changed (checksum against the previous manifest), errored, failed a test, ran late
    (freshness ``warn``) or went stale (freshness ``error``), oldest first (no time last)."""
    out: list[LineageFinding] = []
    nodes, results = lineage.nodes, lineage.results
    for uid, change in lineage.changed.items():
        n = nodes.get(uid)
        if n is None or change == "removed":
            continue
        run = results.get(uid)
        before = lineage.previous_columns.get(uid, ())
        gone = [c for c in before if c.lower() not in {x.lower() for x in n.columns}] if n.columns else []
        new = [c for c in n.columns if c.lower() not in {x.lower() for x in before}] if before else []
        detail = f"{n.resource_type} `{n.label}` {'was added' if change == 'added' else 'changed (checksum)'}"
        if gone:
            detail += f"; columns gone: {', '.join(gone)}"
        if new and change != "added":
            detail += f"; new columns: {', '.join(new)}"
        out.append(LineageFinding("changed", uid, n.label, (run.finished if run else None) or lineage.generated_at,
                                  detail,
                                  columns=tuple(gone)))
    for uid, run in results.items():
        n = nodes.get(uid)
        if n is None or run.status not in (*FAILED, *(("warn",) if n.resource_type == "test" else ())):
            continue
        if n.resource_type == "test":
            target = nodes.get(n.attached)
            where = f"{target.label}.{n.test_column}" if target and n.test_column else (target.label if target else "?")
            what = (f"failed ({run.failures} row(s))" if run.status == "fail"
                    else f"warned ({run.failures} row(s))" if run.status == "warn"
                    else f"errored: {_first_line(run.message)}")
            out.append(LineageFinding("test_failed", n.attached or uid, target.label if target else n.name,
                                      run.finished, f"test {n.test_name} on `{where}` {what}",
                                      test_name=n.test_name if run.status != "error" else "error",
                                      columns=(n.test_column,) if n.test_column else ()))
        else:
            out.append(LineageFinding("errored", uid, n.label, run.finished,
                                      f"{n.resource_type} `{n.label}` errored: {_first_line(run.message)}"))
    for uid, f in lineage.freshness.items():
        n = nodes.get(uid)
        label = n.label if n else uid
        if f.status == "warn":
            out.append(LineageFinding("late", uid, label, f.max_loaded_at,
                                      f"source `{label}` late: last loaded {_hm(f.max_loaded_at)} ({f.criteria})"))
        elif f.status in ("error", "runtime error"):
            since = f.max_loaded_at or f.snapshotted_at
            why = f"stale since {_hm(since)}" if f.status == "error" else "freshness check errored"
            out.append(LineageFinding("stale", uid, label, since, f"source `{label}` {why} ({f.criteria})"))
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(out, key=lambda x: (x.at or far, x.kind, x.label))


def path_between(lineage: DbtLineage, start: str, end: str) -> list[str]:
    """The shortest path of unique_ids from ``start`` down to ``end`` (both included), else []."""
    if start == end:
        return [start]
    prev: dict[str, str] = {}
    queue, seen = deque([start]), {start}
    while queue:
        uid = queue.popleft()
        for c in lineage.children.get(uid, ()):
            if c not in seen:
                seen.add(c)
                prev[c] = uid
                if c == end:
                    path = [end]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1]
                queue.append(c)
    return []


def path_text(lineage: DbtLineage, finding: LineageFinding, feature: str, model: str) -> str:
    """"source `raw.events` stale since 03:10 → `stg_events` → `fct_features` → feature `amount_7d`"."""
    path = path_between(lineage, finding.node, model)
    what = {"stale": f"stale since {finding.at:%H:%M}" if finding.at else "stale",
            "late": f"late since {finding.at:%H:%M}" if finding.at else "late",
            "changed": f"changed at {finding.at:%H:%M}" if finding.at else "changed",
            "errored": f"errored at {finding.at:%H:%M}" if finding.at else "errored",
            "test_failed": f"failed test {finding.test_name}"}.get(finding.kind, finding.kind)
    head = lineage.nodes[finding.node]
    parts = [f"{head.resource_type} `{head.label}` {what}"]
    parts += [f"`{lineage.nodes[u].label}`" for u in path[1:]]
    return " → ".join([*parts, f"feature `{feature}`"])


def timeline_events(found: Iterable[LineageFinding]) -> list[dict[str, Any]]:
    """Findings with a time as timeline events (the ``events.jsonl`` shape): changed or errored nodes as
    ``data_pipeline`` changes, failed tests and late or stale sources as ``alert``."""
    titles = {"changed": "dbt: {label} changed", "errored": "dbt: {label} errored",
              "test_failed": "dbt: test failed on {label}", "late": "dbt: source {label} late",
              "stale": "dbt: source {label} stale"}
    # a changed or errored node is a pipeline change; a failed test, a late or stale source is monitoring
    kinds = {"test_failed": "alert", "late": "alert", "stale": "alert"}
    return [{"timestamp": f.at.isoformat().replace("+00:00", "Z"), "kind": kinds.get(f.kind, "data_pipeline"),
             "title": titles[f.kind].format(label=f.label), "source": "dbt",
             "attributes": {"finding": f.kind, "node": f.node, "detail": f.detail}}
            for f in found if f.at is not None]


# -- opening ----------------------------------------------------------------------------------------
def dbt_folder(spec: Any) -> Path:
    """The folder holding the artifacts: a ``target/`` folder, a dbt project (its ``target/``), a bundle
    (its ``dbt/``; a ``Bundle`` object or a directory/.zip), or a ``manifest.json`` path's folder."""
    if hasattr(spec, "path") and hasattr(spec, "manifest"):
        base = Path(spec.path)
        if not (base / "dbt").is_dir():
            raise InvalidInputError(f"bundle {getattr(spec, 'id', base)} has no dbt/ folder (dbt artifacts)")
        return base / "dbt"
    path = Path(str(spec)).expanduser()
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder; give a dbt target/ folder or a bundle")
    if path.is_file() and path.suffix.lower() == ".zip":
        from core.bundle import read_bundle

        return dbt_folder(read_bundle(path))
    if path.is_file():
        if path.name != "manifest.json":
            raise InvalidInputError(f"{path}: not a dbt artifact folder; give target/ or the folder of manifest.json")
        return path.parent
    for candidate in (path, path / "dbt", path / "target"):
        if (candidate / "manifest.json").is_file():
            return candidate
    if (path / "bundle.json").is_file():
        raise InvalidInputError(f"{path}: the bundle has no dbt/ folder with a manifest.json")
    raise InvalidInputError(f"{path}: no manifest.json here (nor in dbt/ or target/); run dbt "
                            "(build, docs generate) and give its target/ folder")


def load_lineage(spec: Any, *, previous: Any = None) -> DbtLineage:
    """Read every artifact of the folder ``spec`` names (:func:`dbt_folder`) into a :class:`DbtLineage`.

    ``previous``: a manifest (path or folder) from before the change; default ``previous/manifest.json``
    inside the folder when it exists.
    """
    folder = dbt_folder(spec)
    found = {name: _read(folder / name) for name in ARTIFACTS if (folder / name).is_file()}
    if "manifest.json" not in found:
        raise InvalidInputError(f"{folder}: no manifest.json")
    old = None
    if previous is not None:
        p = Path(str(previous))
        p = p / "manifest.json" if p.is_dir() else p
        if p.name != "manifest.json":
            raise InvalidInputError(f"{p}: the previous manifest must be a manifest.json (or its folder)")
        if not p.is_file():
            raise InvalidInputError(f"{p}: no such file")
        old = _read(p)
    elif (folder / "previous" / "manifest.json").is_file():
        old = _read(folder / "previous" / "manifest.json")
    return DbtLineage(found["manifest.json"], run_results=found.get("run_results.json"),
                      sources=found.get("sources.json"), catalog=found.get("catalog.json"), previous=old,
                      name=str(folder))


def open_lineage(spec: Any, _settings: Any = None) -> DbtLineage:
    """The factory's opener for kind ``lineage`` (``open_source("lineage", PATH_OR_BUNDLE)``)."""
    return load_lineage(spec)
