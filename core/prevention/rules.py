"""Prometheus alerting rules generated from a confirmed root cause and the incident's own series.

For the incident's root-cause class the guard rails that bear on it are chosen from
:data:`GUARDS` (the KPI guard bears on every class). Each guard looks for a metric of the
bundle whose name matches its pattern; when one exists, a rule is written on it with a
threshold chosen from the baseline, else a commented template says what series is missing.

Naming rule: a bundle metric ``metrics/NAME.csv`` is the Prometheus metric
:func:`prom_name` ``(NAME)`` (lower case, every character outside ``[a-z0-9_:]`` replaced by
``_``, a leading digit prefixed with ``_``); its label columns become labels, and a rule
averages them away (``avg(...)``, the same averaging :func:`core.onset.load_kpi` does).

Threshold rule: the series is resampled to the evaluation interval (1 minute, mean) and
smoothed with ``avg_over_time`` over a window ``W``; over the baseline the smoothed series
has a range, and the threshold lies a margin (:data:`MARGIN` of the baseline's spread from its
median to its extreme) beyond the extreme the baseline reached, so the rule never fires on
the baseline. ``W`` is the shortest of :data:`WINDOWS` with which the rule fires earliest on
the incident; a baseline with fewer than :data:`MIN_BASELINE_POINTS` points (or fewer than
two windows) is too short to choose a threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from core.errors import InvalidInputError
from core.models import ROOT_CAUSE_LABELS, RootCause

INTERVAL_MIN = 1
FOR_MIN = 5
WINDOWS = (15, 30, 60, 120)
MARGIN = 0.1
MIN_BASELINE_POINTS = 60
ABOVE, BELOW, SHIFT = "above", "below", "shift"
ALL_CAUSES = tuple(RootCause)


@dataclass(frozen=True)
class Guard:
    """One kind of guard rail: which classes it bears on and which metric names it reads."""

    kind: str
    title: str
    causes: tuple[RootCause, ...]
    pattern: str  # regular expression on the metric name
    direction: str  # above | below | shift
    expected: str  # the series a team should export when the bundle has none


GUARDS: tuple[Guard, ...] = (
    Guard("feature_freshness", "Feature feed freshness", (RootCause.STALE_DATA,),
          r"(age|fresh|stale|lag)", ABOVE,
          "feature_age_seconds{feature_view=\"...\"}: seconds since the feature feed last refreshed"),
    Guard("default_predictions", "Share of default or constant predictions",
          (RootCause.STALE_DATA, RootCause.SCHEMA_CHANGE),
          r"(default|constant|fallback)", ABOVE,
          "model_default_prediction_ratio{model=\"...\"}: share of predictions served from the default value"),
    Guard("drift_score", "Feature drift score", (RootCause.DATA_DRIFT,),
          r"(drift|psi)", ABOVE,
          "feature_drift_score{feature=\"...\"}: a drift statistic (PSI, KS) of the live inputs against the reference"),
    Guard("prediction_shift", "Prediction distribution shift",
          (RootCause.DATA_DRIFT, RootCause.STALE_DATA, RootCause.SCHEMA_CHANGE, RootCause.CODE_REGRESSION),
          r"(prediction|score)", SHIFT,
          "model_prediction_mean{model=\"...\"}: the mean prediction per scrape"),
    Guard("error_rate", "Error rate", (RootCause.INFRASTRUCTURE,),
          r"(error|fail|5xx)", ABOVE, "http_request_error_ratio{service=\"...\"}: share of failed requests"),
    Guard("latency", "Latency", (RootCause.INFRASTRUCTURE,),
          r"(latency|duration)", ABOVE, "http_request_duration_p95_seconds{service=\"...\"}: p95 latency"),
)
KPI_GUARD = Guard("kpi", "KPI", ALL_CAUSES, "", BELOW, "the incident's KPI")


def prom_name(name: str) -> str:
    """The Prometheus metric name of a bundle metric (see the module's naming rule)."""
    out = re.sub(r"[^a-z0-9_:]", "_", name.strip().lower())
    if not out or out[0].isdigit():
        out = "_" + out
    return out


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


@dataclass(frozen=True)
class SeriesData:
    """A bundle metric on the evaluation grid: per label set, values every minute from ``origin``."""

    metric: str
    labels: tuple[str, ...]
    per_series: dict[tuple[tuple[str, str], ...], pd.Series]  # label pairs -> 1-minute means

    def smoothed(self, window_min: int) -> pd.Series:
        """``avg(avg_over_time(m[W]))`` at each minute, as Prometheus evaluates it."""
        parts = [s.rolling(f"{window_min}min", min_periods=1, closed="both").mean() for s in self.per_series.values()]
        return pd.concat(parts, axis=1).mean(axis=1)


def load_series(bundle: Any, metric: str, origin: datetime, end: datetime) -> SeriesData | None:
    """A bundle metric resampled to the 1-minute grid between ``origin`` and ``end`` (None when absent)."""
    try:
        frame = bundle.read_metric(metric)
    except Exception:  # noqa: BLE001 - a missing or unreadable metric is reported as missing
        return None
    if frame.empty:
        return None
    labels = tuple(c for c in frame.columns if c not in ("timestamp", "value"))
    frame = frame[(frame["timestamp"] >= origin) & (frame["timestamp"] <= end)]
    frame = frame.assign(value=pd.to_numeric(frame["value"], errors="coerce"))
    grid = pd.date_range(origin, end, freq=f"{INTERVAL_MIN}min")
    per: dict[tuple[tuple[str, str], ...], pd.Series] = {}
    groups = frame.groupby(list(labels), dropna=False) if labels else [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        s = part.set_index("timestamp")["value"].resample(f"{INTERVAL_MIN}min", origin=origin).mean()
        per[tuple(zip(labels, (str(k) for k in key)))] = s.reindex(grid)
    if not per or all(s.isna().all() for s in per.values()):
        return None
    return SeriesData(metric, labels, per)


@dataclass(frozen=True)
class AlertRule:
    """One generated alerting rule, its threshold and how it behaves on the incident's series."""

    alert: str
    guard: str
    title: str
    metric: str  # the bundle metric
    prom_metric: str
    direction: str
    window_min: int
    threshold: float
    center: float  # the baseline median (the reference of a shift rule)
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    baseline_extreme: float
    baseline_extreme_at: datetime | None
    fires_at: datetime | None
    series: SeriesData = field(repr=False, compare=False)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "guard": self.guard, "metric": self.metric, "prom_metric": self.prom_metric,
                "direction": self.direction, "window": f"{self.window_min}m", "for": f"{FOR_MIN}m",
                "threshold": self.threshold, "baseline_median": self.center,
                "baseline_extreme": self.baseline_extreme, "expr": self.expr, "labels": self.labels,
                "fires_at": self.fires_at.isoformat().replace("+00:00", "Z") if self.fires_at else None,
                "note": self.note}


@dataclass(frozen=True)
class Template:
    """A guard rail the bundle cannot fill: what is missing, and a commented rule to start from."""

    guard: str
    title: str
    missing: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"guard": self.guard, "title": self.title, "missing": self.missing}


@dataclass(frozen=True)
class RuleSet:
    incident: str
    service: str
    cause: RootCause
    onset: datetime
    origin: datetime  # time 0 of the unit tests: the start of the baseline
    end: datetime
    baseline_end: datetime
    rules: tuple[AlertRule, ...]
    templates: tuple[Template, ...]
    notes: tuple[str, ...] = ()
    team: str = ""

    @property
    def group(self) -> str:
        return f"{self.incident}-guard-rails"

    def to_yaml(self) -> str:
        return rules_yaml(self)

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident, "root_cause": self.cause.value,
                "onset": self.onset.isoformat().replace("+00:00", "Z"),
                "rules": [r.to_dict() for r in self.rules], "templates": [t.to_dict() for t in self.templates],
                "notes": list(self.notes)}


def _fires(values: pd.Series, threshold: float, direction: str, center: float) -> pd.Series:
    if direction == ABOVE:
        return values > threshold
    if direction == BELOW:
        return values < threshold
    return (values - center).abs() > threshold


def first_firing(cond: pd.Series, start: datetime | None = None) -> datetime | None:
    """The first evaluation at which an alert with ``for: FOR_MIN`` fires (its condition held that long)."""
    run_start = None
    for t, ok in cond.items():
        if not ok or pd.isna(ok):
            run_start = None
            continue
        if run_start is None:
            run_start = t
        if t - run_start >= timedelta(minutes=FOR_MIN) and (start is None or t >= start):
            return t.to_pydatetime()
    return None


def _threshold(base: pd.Series, direction: str) -> tuple[float, float, float, datetime | None]:
    """(threshold, baseline median, baseline extreme, when the extreme was reached)."""
    median = float(base.median())
    if direction == ABOVE:
        ext_at = base.idxmax()
        ext = float(base.max())
        spread = ext - median
        thr = ext + MARGIN * spread if spread > 0 else ext + MARGIN * max(abs(ext), 1e-9)
    elif direction == BELOW:
        ext_at = base.idxmin()
        ext = float(base.min())
        spread = median - ext
        thr = ext - MARGIN * spread if spread > 0 else ext - MARGIN * max(abs(ext), 1e-9)
    else:
        dev = (base - median).abs()
        ext_at = dev.idxmax()
        ext = float(dev.max())
        thr = ext * (1 + MARGIN) if ext > 0 else MARGIN * max(abs(median), 1e-9)
    return thr, median, ext, ext_at.to_pydatetime() if ext_at is not None else None


def _expr(prom: str, window: int, direction: str, threshold: float, center: float) -> str:
    inner = f"avg(avg_over_time({prom}[{window}m]))"
    if direction == ABOVE:
        return f"{inner} > {_fmt(threshold)}"
    if direction == BELOW:
        return f"{inner} < {_fmt(threshold)}"
    return f"abs({inner} - {_fmt(center)}) > {_fmt(threshold)}"


class SeriesTooShort(InvalidInputError):
    """The baseline has too few points to choose a threshold."""


def build_rule(guard: Guard, series: SeriesData, *, baseline: tuple[datetime, datetime], onset: datetime,
               direction: str | None = None, incident: str = "", service: str = "",
               cause: RootCause | None = None, team: str = "") -> AlertRule:
    """The rule of ``guard`` on ``series``: the window and threshold that fire earliest on the incident.

    Raises:
        SeriesTooShort: the baseline has too few points for any window.
    """
    direction = direction or guard.direction
    b0, b1 = baseline
    points = sum(int(s[(s.index >= b0) & (s.index < b1)].notna().sum()) for s in series.per_series.values())
    points //= max(1, len(series.per_series))
    best = None
    for w in WINDOWS:
        if points < max(MIN_BASELINE_POINTS, 2 * w // INTERVAL_MIN):
            continue
        sm = series.smoothed(w)
        # skip the first window of the baseline: avg_over_time has not filled yet
        base = sm[(sm.index >= b0 + timedelta(minutes=w)) & (sm.index < b1)].dropna()
        if base.empty:
            continue
        thr, center, ext, ext_at = _threshold(base, direction)
        fires = first_firing(_fires(sm, thr, direction, center), start=b1)
        cand = (w, thr, center, ext, ext_at, fires)
        if best is None or (fires is not None and (best[5] is None or fires < best[5])):
            best = cand
    if best is None:
        raise SeriesTooShort(
            f"metric '{series.metric}' has {points} point(s) in the baseline; at least "
            f"{max(MIN_BASELINE_POINTS, 2 * WINDOWS[0])} one-minute points are needed to choose a threshold")
    w, thr, center, ext, ext_at, fires = best
    prom = prom_name(series.metric)
    word = {ABOVE: "High", BELOW: "Low", SHIFT: "Shift"}[direction]
    alert = _camel(series.metric) + word
    cmp = {ABOVE: "above", BELOW: "below", SHIFT: "more than"}[direction]
    ref = f" away from the baseline median {_fmt(center)}" if direction == SHIFT else ""
    summary = (f"{series.metric} ({w}m average) {cmp} {_fmt(thr)}{ref} for {FOR_MIN}m")
    description = (f"{guard.title} guard from incident {incident}: the baseline's {w}m average "
                   f"{'ranged' if direction != SHIFT else 'deviated'} up to {_fmt(ext)}"
                   f"{'' if direction != SHIFT else ' from its median'}; threshold = that extreme "
                   f"with a {int(MARGIN * 100)}% margin.")
    labels = {"severity": "page", "guard": guard.kind}
    if team:
        labels["team"] = team
    if service:
        labels["service"] = service
    if cause is not None:
        labels["root_cause"] = cause.value
    note = "" if fires is not None else "would not have fired on this incident's series"
    return AlertRule(alert=alert, guard=guard.kind, title=guard.title, metric=series.metric, prom_metric=prom,
                     direction=direction, window_min=w, threshold=thr, center=center,
                     expr=_expr(prom, w, direction, thr, center), labels=labels,
                     annotations={"summary": summary, "description": description},
                     baseline_extreme=ext, baseline_extreme_at=ext_at, fires_at=fires, series=series, note=note)


def team_of(bundle: Any) -> str:
    """The ``team`` label of the rules: the bundle's ``team``, else its service, else its id (a placeholder to rename)."""
    return prom_label_value(str(bundle.manifest.get("team") or bundle.service or bundle.id))


def prom_label_value(text: str) -> str:
    """A label value safe in amtool matchers and receiver names: ``[A-Za-z0-9_.-]``, others as ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-") or "team"


def guards_for(cause: RootCause) -> list[Guard]:
    return [g for g in GUARDS if cause in g.causes]


def _template(guard: Guard, missing: str, cause: RootCause) -> Template:
    alert = _camel(guard.kind)
    op = {ABOVE: "> THRESHOLD", BELOW: "< THRESHOLD", SHIFT: "- BASELINE_MEDIAN) > THRESHOLD"}[guard.direction]
    metric = guard.expected.split(":")[0]
    expr = (f"abs(avg(avg_over_time({metric}[15m])) {op}" if guard.direction == SHIFT
            else f"avg(avg_over_time({metric}[15m])) {op}")
    text = "\n".join([
        f"# {guard.title} ({ROOT_CAUSE_LABELS[cause]}): not generated - {missing}",
        f"# Export {guard.expected}, then fill THRESHOLD from its baseline and uncomment:",
        f"# - alert: {alert}",
        f"#   expr: {expr}",
        f"#   for: {FOR_MIN}m",
        "#   labels:",
        "#     severity: page",
        f"#     guard: {guard.kind}",
    ])
    return Template(guard.kind, guard.title, missing, text)


def generate_rules(bundle: Any, cause: RootCause | str, onset: datetime) -> RuleSet:
    """The guard-rail rules of ``bundle`` for root cause ``cause``, the incident starting at ``onset``."""
    cause = RootCause(cause)
    team = team_of(bundle)
    window = bundle.window
    if bundle.baseline is not None:
        b0, b1 = bundle.baseline.start, bundle.baseline.end
    else:
        b0, b1 = window.start, onset
    origin = pd.Timestamp(b0).floor(f"{INTERVAL_MIN}min").to_pydatetime()
    end = pd.Timestamp(window.end).floor(f"{INTERVAL_MIN}min").to_pydatetime()
    names = bundle.metric_names()
    rules: list[AlertRule] = []
    templates: list[Template] = []
    notes: list[str] = []
    wanted = [(KPI_GUARD, bundle.kpi_metric)]
    for g in guards_for(cause):
        hits = [n for n in names if n != bundle.kpi_metric and re.search(g.pattern, n.lower())]
        if not hits:
            templates.append(_template(g, f"the bundle has no metric matching /{g.pattern}/ "
                                          f"(metrics: {', '.join(names) or 'none'})", cause))
        wanted.extend((g, n) for n in hits)
    seen: set[str] = set()
    for g, name in wanted:
        series = load_series(bundle, name, origin, end)
        if series is None:
            templates.append(_template(g, f"the bundle has no usable series '{name}'", cause))
            continue
        direction = None
        if g is KPI_GUARD:
            direction = BELOW if bundle.kpi_direction == "higher_is_better" else ABOVE
        try:
            rule = build_rule(g, series, baseline=(b0, b1), onset=onset, direction=direction,
                              incident=bundle.id, service=bundle.service, cause=cause, team=team)
        except SeriesTooShort as exc:
            templates.append(_template(g, str(exc), cause))
            notes.append(str(exc))
            continue
        if rule.alert in seen:
            continue
        seen.add(rule.alert)
        rules.append(rule)
    return RuleSet(incident=bundle.id, service=bundle.service, cause=cause, onset=onset, origin=origin, end=end,
                   baseline_end=b1, rules=tuple(rules), templates=tuple(templates), notes=tuple(notes), team=team)


def rules_yaml(ruleset: RuleSet) -> str:
    """The Prometheus rules file: one group, the generated rules, then the templates as comments."""
    import yaml

    doc = {"groups": [{"name": ruleset.group, "interval": f"{INTERVAL_MIN}m", "rules": [
        {"alert": r.alert, "expr": r.expr, "for": f"{FOR_MIN}m", "labels": dict(r.labels),
         "annotations": dict(r.annotations)} for r in ruleset.rules]}]}
    head = (f"# Guard rails for incident {ruleset.incident} (root cause: {ruleset.cause.value}).\n"
            f"# Generated from the incident's baseline series; metric names are the bundle's metric files.\n")
    body = yaml.safe_dump(doc, sort_keys=False, width=200)
    tail = "".join("\n" + t.text + "\n" for t in ruleset.templates)
    return head + body + tail
