"""Run diffs and regression verdicts: did the model or its code change before the onset?

* :func:`diff_runs` compares two runs: params, metrics (with relative change), tags (git
  commit, source, user), input dataset digests and schemas, and the artifact list.
* :func:`choose_runs` picks the "last good" and the "incident" model version from the
  registry history and the onset.
* :func:`regression_verdict` turns a diff plus deployment time into a finding: a changed
  parameter, code version or training-data digest deployed within X hours before the onset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.errors import InvalidInputError
from core.models import format_duration, iso, utc
from core.sources.mlflow_runs import (
    GIT_COMMIT_TAG, ArtifactRef, DatasetRef, ModelVersionRecord, RegistryHistory, RunRecord,
)

# Tags that change on every run and say nothing about what was trained.
VOLATILE_TAGS = frozenset({"mlflow.runName", "mlflow.log-model.history", "mlflow.loggedArtifacts",
                           "mlflow.rootRunId"})
# Tags shown first, in this order, because they name the code and who ran it.
KEY_TAGS = (GIT_COMMIT_TAG, "mlflow.source.git.branch", "mlflow.source.git.repoURL", "mlflow.source.name",
            "mlflow.source.type", "mlflow.user")
ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"


@dataclass(frozen=True)
class ValueChange:
    """A param or tag in run A and run B; ``status`` is added/removed/changed/same."""

    key: str
    a: str | None
    b: str | None
    status: str


@dataclass(frozen=True)
class MetricChange:
    """A metric in both runs; ``relative`` is (b - a) / |a| (None when a is 0 or missing)."""

    key: str
    a: float | None
    b: float | None
    delta: float | None
    relative: float | None
    status: str


@dataclass(frozen=True)
class DatasetChange:
    """One input dataset (matched by name and context) in both runs."""

    name: str
    context: str
    digest_a: str | None
    digest_b: str | None
    status: str
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    type_changes: tuple[tuple[str, str, str], ...] = ()
    rows_a: int | None = None
    rows_b: int | None = None


@dataclass(frozen=True)
class ArtifactChange:
    path: str
    size_a: int | None
    size_b: int | None
    status: str


@dataclass(frozen=True)
class RunDiff:
    """Differences between run A (last good) and run B (incident); ``*_all`` keep unchanged rows too."""

    run_a: str
    run_b: str
    label_a: str
    label_b: str
    params: tuple[ValueChange, ...]
    metrics: tuple[MetricChange, ...]
    tags: tuple[ValueChange, ...]
    datasets: tuple[DatasetChange, ...]
    artifacts: tuple[ArtifactChange, ...]
    warnings: tuple[str, ...] = ()

    @property
    def changed_params(self) -> tuple[ValueChange, ...]:
        return tuple(p for p in self.params if p.status != SAME)

    @property
    def changed_metrics(self) -> tuple[MetricChange, ...]:
        return tuple(m for m in self.metrics if m.status != SAME)

    @property
    def changed_tags(self) -> tuple[ValueChange, ...]:
        return tuple(t for t in self.tags if t.status != SAME)

    @property
    def changed_datasets(self) -> tuple[DatasetChange, ...]:
        return tuple(d for d in self.datasets if d.status != SAME)

    @property
    def changed_artifacts(self) -> tuple[ArtifactChange, ...]:
        return tuple(a for a in self.artifacts if a.status != SAME)

    @property
    def code_change(self) -> ValueChange | None:
        """The git commit change, if the commit differs."""
        for t in self.tags:
            if t.key == GIT_COMMIT_TAG and t.status != SAME:
                return t
        return None

    @property
    def identical(self) -> bool:
        return not (self.changed_params or self.changed_metrics or self.changed_tags
                    or self.changed_datasets or self.changed_artifacts)

    def counts(self) -> dict[str, int]:
        return {"params": len(self.changed_params), "metrics": len(self.changed_metrics),
                "tags": len(self.changed_tags), "datasets": len(self.changed_datasets),
                "artifacts": len(self.changed_artifacts)}

    def to_dict(self, *, only_changes: bool = True) -> dict[str, Any]:
        """JSON-ready; ``only_changes`` drops rows that are the same in both runs."""

        def keep(rows: tuple[Any, ...]) -> list[dict[str, Any]]:
            return [_row_dict(r) for r in rows if not only_changes or r.status != SAME]

        return {"run_a": self.run_a, "run_b": self.run_b, "label_a": self.label_a, "label_b": self.label_b,
                "counts": self.counts(), "params": keep(self.params), "metrics": keep(self.metrics),
                "tags": keep(self.tags), "datasets": keep(self.datasets), "artifacts": keep(self.artifacts),
                "warnings": list(self.warnings)}


def _row_dict(row: Any) -> dict[str, Any]:
    out = {}
    for k, v in row.__dict__.items():
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            v = None
        out[k] = [list(x) for x in v] if k == "type_changes" else (list(v) if isinstance(v, tuple) else v)
    return out


def _status(a: Any, b: Any) -> str:
    if a is None:
        return ADDED
    if b is None:
        return REMOVED
    return SAME if a == b else CHANGED


def _diff_values(a: dict[str, str], b: dict[str, str], order: tuple[str, ...] = ()) -> tuple[ValueChange, ...]:
    keys = set(a) | set(b)
    first = [k for k in order if k in keys]
    rest = sorted(keys - set(first))
    return tuple(ValueChange(k, a.get(k), b.get(k), _status(a.get(k), b.get(k))) for k in first + rest)


def _same_float(x: float, y: float) -> bool:
    if math.isnan(x) and math.isnan(y):
        return True
    return x == y or math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0)


def _diff_metrics(a: dict[str, float], b: dict[str, float]) -> tuple[MetricChange, ...]:
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None or y is None:
            out.append(MetricChange(k, x, y, None, None, _status(x, y)))
            continue
        same = _same_float(x, y)
        delta = y - x if not (math.isnan(x) or math.isnan(y)) else None
        rel = delta / abs(x) if (delta is not None and x != 0 and not math.isinf(x)) else None
        out.append(MetricChange(k, x, y, delta, rel, SAME if same else CHANGED))
    return tuple(out)


def _diff_datasets(a: tuple[DatasetRef, ...], b: tuple[DatasetRef, ...]) -> tuple[DatasetChange, ...]:
    da = {(d.name, d.context): d for d in a}
    db = {(d.name, d.context): d for d in b}
    out = []
    for key in sorted(set(da) | set(db)):
        x, y = da.get(key), db.get(key)
        if x is None or y is None:
            only = x or y
            out.append(DatasetChange(key[0], key[1], x.digest if x else None, y.digest if y else None,
                                     ADDED if x is None else REMOVED,
                                     rows_a=x.num_rows if x else None, rows_b=y.num_rows if y else None,
                                     columns_added=tuple(only.schema) if x is None else (),
                                     columns_removed=tuple(only.schema) if y is None else ()))
            continue
        added = tuple(c for c in y.schema if c not in x.schema)
        removed = tuple(c for c in x.schema if c not in y.schema)
        types = tuple((c, x.schema[c], y.schema[c]) for c in x.schema if c in y.schema and x.schema[c] != y.schema[c])
        status = SAME if (x.digest == y.digest and not added and not removed and not types) else CHANGED
        out.append(DatasetChange(key[0], key[1], x.digest, y.digest, status, added, removed, types,
                                 x.num_rows, y.num_rows))
    return tuple(out)


def _diff_artifacts(a: tuple[ArtifactRef, ...], b: tuple[ArtifactRef, ...]) -> tuple[ArtifactChange, ...]:
    sa = {x.path: x.size for x in a}
    sb = {x.path: x.size for x in b}
    out = []
    for p in sorted(set(sa) | set(sb)):
        if p not in sa:
            out.append(ArtifactChange(p, None, sb[p], ADDED))
        elif p not in sb:
            out.append(ArtifactChange(p, sa[p], None, REMOVED))
        else:
            out.append(ArtifactChange(p, sa[p], sb[p], SAME if sa[p] == sb[p] else CHANGED))
    return tuple(out)


def diff_runs(a: RunRecord, b: RunRecord, *, ignore_tags: frozenset[str] = VOLATILE_TAGS) -> RunDiff:
    """Compare run ``a`` (usually the last good) with run ``b`` (usually the incident's).

    Args:
        a: the reference run.
        b: the run under suspicion.
        ignore_tags: tag keys left out of the tag diff (they change on every run).

    Returns:
        A :class:`RunDiff` with every key of either run; ``warnings`` mention deleted or
        unfinished runs and truncated artifact lists.
    """
    warnings = []
    for run in (a, b):
        if run.deleted:
            warnings.append(f"run {run.label} is deleted; it is compared as it was when deleted")
        if run.status not in ("FINISHED", ""):
            warnings.append(f"run {run.label} is {run.status}, not FINISHED; its metrics may be partial")
        if run.artifacts_truncated:
            warnings.append(f"run {run.label} has more artifacts than were listed; the artifact diff is partial")
    if a.run_id == b.run_id:
        warnings.append("both sides are the same run; pick two different runs")
    tags_a = {k: v for k, v in a.tags.items() if k not in ignore_tags}
    tags_b = {k: v for k, v in b.tags.items() if k not in ignore_tags}
    return RunDiff(
        run_a=a.run_id, run_b=b.run_id, label_a=a.label, label_b=b.label,
        params=_diff_values(a.params, b.params), metrics=_diff_metrics(a.metrics, b.metrics),
        tags=_diff_values(tags_a, tags_b, KEY_TAGS), datasets=_diff_datasets(a.datasets, b.datasets),
        artifacts=_diff_artifacts(a.artifacts, b.artifacts), warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------------------------
# Which two versions to compare


@dataclass(frozen=True)
class RunChoice:
    """The version serving at the onset ("incident") and the one it replaced ("last good")."""

    incident: ModelVersionRecord | None
    last_good: ModelVersionRecord | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident.to_dict() if self.incident else None,
                "last_good": self.last_good.to_dict() if self.last_good else None, "reason": self.reason}


def choose_runs(history: RegistryHistory, onset: datetime) -> RunChoice:
    """Pick "incident" = the last version in effect at ``onset`` and "last good" = the one before it.

    Versions are ordered by their effective time (``deployed_at`` tag, else registration);
    versions without a run are skipped because there is nothing to diff.

    Raises:
        InvalidInputError: ``onset`` is not an aware time.
    """
    onset = utc(onset)
    usable = sorted((v for v in history.versions if v.run_id and v.effective_at is not None),
                    key=lambda v: (v.effective_at, v.version))
    if not usable:
        return RunChoice(None, None, f"model '{history.model}' has no versions with a run to compare")
    before = [v for v in usable if v.effective_at <= onset]
    if not before:
        first = usable[0]
        return RunChoice(first, None, (
            f"every version of '{history.model}' came after the onset ({iso(onset)}); "
            f"showing the first, v{first.version}, with nothing before it to compare"))
    incident = before[-1]
    last_good = before[-2] if len(before) > 1 else None
    lead = format_duration(onset - incident.effective_at)
    reason = (f"v{incident.version} was {incident.time_basis} {lead} before the onset ({iso(onset)}) "
              f"and was the latest version then")
    if last_good is not None:
        reason += f"; v{last_good.version} is the version it replaced"
    else:
        reason += "; there is no earlier version to compare"
    return RunChoice(incident, last_good, reason)


# ---------------------------------------------------------------------------------------------
# Verdict


@dataclass(frozen=True)
class RegressionVerdict:
    """Whether a changed param, code version or data digest was deployed shortly before the onset."""

    finding: bool
    title: str
    explanation: str
    model: str
    version: int | None
    effective_at: datetime | None
    onset: datetime
    within_hours: float
    lead_time: timedelta | None
    changed_params: tuple[ValueChange, ...] = ()
    code_change: ValueChange | None = None
    changed_datasets: tuple[DatasetChange, ...] = ()
    run_a: str = ""
    run_b: str = ""

    def to_result(self) -> dict[str, Any]:
        """A compact dict for ``pin_evidence(result=...)``."""
        return {
            "finding": self.finding, "title": self.title, "explanation": self.explanation,
            "model": self.model, "version": self.version, "effective_at": iso(self.effective_at),
            "onset": iso(self.onset), "within_hours": self.within_hours,
            "lead_time_s": self.lead_time.total_seconds() if self.lead_time is not None else None,
            "changed_params": [_row_dict(p) for p in self.changed_params[:50]],
            "changed_params_total": len(self.changed_params),
            "code_change": _row_dict(self.code_change) if self.code_change else None,
            "changed_datasets": [_row_dict(d) for d in self.changed_datasets[:20]],
            "run_a": self.run_a, "run_b": self.run_b, "root_cause": "code_regression",
        }


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def regression_verdict(diff: RunDiff, incident: ModelVersionRecord, onset: datetime, *,
                       within_hours: float = 24.0) -> RegressionVerdict:
    """A finding when ``incident`` took effect within ``within_hours`` before ``onset`` and changed
    a parameter, the code version (git commit) or a training-data digest.

    Raises:
        InvalidInputError: ``within_hours`` is not positive or ``onset`` is not an aware time.
    """
    onset = utc(onset)
    if not (isinstance(within_hours, (int, float)) and within_hours > 0):
        raise InvalidInputError(f"within_hours must be a positive number of hours, got {within_hours!r}")
    at = incident.effective_at
    lead = (onset - at) if at is not None else None
    in_window = lead is not None and timedelta(0) <= lead <= timedelta(hours=within_hours)
    params, code, data = diff.changed_params, diff.code_change, diff.changed_datasets
    what, kinds = [], []
    if params:
        kinds.append("parameters" if len(params) > 1 else "a parameter")
        shown = ", ".join(f"{p.key}: {p.a} → {p.b}" for p in params[:3])
        more = f" (+{len(params) - 3} more)" if len(params) > 3 else ""
        what.append(f"parameter{'s' if len(params) > 1 else ''} {shown}{more}")
    if code:
        kinds.append("the code version")
        what.append(f"code version {(code.a or '—')[:10]} → {(code.b or '—')[:10]}")
    if data:
        kinds.append("training data")
        what.append("training data " + ", ".join(d.name for d in data[:3]))
    name = f"{incident.model} v{incident.version}"
    when = f"{format_duration(lead)} before the onset" if lead is not None else "at an unknown time"
    if at is not None and lead is not None and lead < timedelta(0):
        when = f"{format_duration(-lead)} after the onset"
    if what and in_window:
        title = f"{name} changed {_and(kinds)} {when}"
        explanation = f"{name} was {incident.time_basis} {when} and changed " + "; ".join(what) + "."
        finding = True
    elif what:
        title = f"{name} changed the model, but not within {within_hours:g} h before the onset"
        explanation = (f"{name} was {incident.time_basis} {when}, outside the {within_hours:g} h window; "
                       f"it changed " + "; ".join(what) + ".")
        finding = False
    else:
        title = f"{name}: no parameter, code or training-data change"
        explanation = (f"{name} was {incident.time_basis} {when}; against {diff.label_a} it changed no "
                       "parameter, git commit or input dataset digest.")
        finding = False
    return RegressionVerdict(
        finding=finding, title=title, explanation=explanation, model=incident.model, version=incident.version,
        effective_at=at, onset=onset, within_hours=float(within_hours), lead_time=lead,
        changed_params=params, code_change=code, changed_datasets=data, run_a=diff.run_a, run_b=diff.run_b,
    )
