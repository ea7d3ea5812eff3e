"""Triage step ``data``: baseline against incident data.

Schema findings (renamed, removed, retyped, rescaled columns; null jumps; collapsed
predictions), per-column drift, frozen features, the freshness of timestamp-like columns
and data that stopped arriving, from the bundle's datasets (snapshot roles, or one table
split at the onset) compared by :func:`core.analysis.drift.compare_distributions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

import pandas as pd

from core.analysis import schema as sch
from core.analysis.datachange import ColumnChange, locate_column_changes
from core.analysis.drift import DriftReport, compare_distributions
from core.errors import InvalidInputError
from core.models import RootCause, TimeWindow, format_duration
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import TIMESTAMP_NAME, around, clip

NAME = "data"
TITLE = "Baseline against incident data"


@dataclass(frozen=True)
class FreshnessFinding:
    """How far a timestamp-like column lags behind the row time, before and after."""

    column: str
    lag_reference: timedelta
    lag_current: timedelta

    @property
    def ratio(self) -> float:
        ref = max(self.lag_reference.total_seconds(), 60.0)
        return self.lag_current.total_seconds() / ref


@dataclass(frozen=True)
class DataFinding:
    report: DriftReport | None
    freshness: tuple[FreshnessFinding, ...]
    arrival_gap: float | None  # share of the incident window after the last current row
    step: StepResult
    reference_window: TimeWindow | None = None
    current_window: TimeWindow | None = None
    changes: tuple[ColumnChange, ...] = ()  # each changed column's own change point (strong ones)
    data_onset: datetime | None = None  # when the data changed, when well before the KPI onset
    kpi_text: str = ""  # "KPI fell from 09:40 to 14:00"
    model_onset: datetime | None = None  # when the predictions changed, when well before the KPI onset


def _timestamp_like(frame: pd.DataFrame, exclude: str | None) -> list[str]:
    out = []
    for col in frame.columns:
        if col == exclude:
            continue
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out.append(str(col))
        elif s.dtype == object and TIMESTAMP_NAME.search(str(col)):
            out.append(str(col))
    return out


def _as_utc(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.tz_localize("UTC") if getattr(series.dt, "tz", None) is None else series.dt.tz_convert("UTC")
    return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")


def data_freshness(reference: pd.DataFrame, current: pd.DataFrame, timestamp: str | None) -> list[FreshnessFinding]:
    """Median lag of every timestamp-like column behind the row timestamp, in both samples."""
    if not timestamp or timestamp not in reference.columns or timestamp not in current.columns:
        return []
    out = []
    ref_ts, cur_ts = _as_utc(reference[timestamp]), _as_utc(current[timestamp])
    for col in _timestamp_like(current, timestamp):
        if col not in reference.columns:
            continue
        ref_lag = (ref_ts - _as_utc(reference[col])).dropna()
        cur_lag = (cur_ts - _as_utc(current[col])).dropna()
        if len(ref_lag) < 5 or len(cur_lag) < 5:
            continue
        out.append(FreshnessFinding(col, ref_lag.median().to_pytimedelta(), cur_lag.median().to_pytimedelta()))
    return out


def _drop_absent_columns(reference: pd.DataFrame, current: pd.DataFrame
                         ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A column that is entirely null on one side only is treated as absent there.

    In a table logged over time, a column the upstream stopped sending (removed or
    renamed) is null for every row after the change; dropping it on that side lets
    the schema diff report it as removed, added or renamed instead of as a null jump.
    """
    notes = []
    ref_null = {c for c in reference.columns if len(reference) and reference[c].isna().all()}
    cur_null = {c for c in current.columns if len(current) and current[c].isna().all()}
    only_cur = [c for c in cur_null - ref_null if c in reference.columns]
    only_ref = [c for c in ref_null - cur_null if c in current.columns]
    if only_cur:
        current = current.drop(columns=only_cur)
        notes.append(f"absent after the onset (all null): {', '.join(map(str, only_cur))}")
    if only_ref:
        reference = reference.drop(columns=only_ref)
        notes.append(f"absent before the onset (all null): {', '.join(map(str, only_ref))}")
    return reference, current, notes


def analyse_data(reference: pd.DataFrame | None, current: pd.DataFrame | None, *, timestamp: str | None = None,
                 prediction: str | None = None, label: str | None = None, window_end: datetime | None = None,
                 description: str = "", reference_window: TimeWindow | None = None,
                 current_window: TimeWindow | None = None, skip_reason: str = "") -> DataFinding:
    """Compare baseline and incident data: schema findings, drift, collapse, freshness, arrival."""
    title = TITLE
    if reference is None or current is None:
        return DataFinding(None, (), None, StepResult(
            NAME, title, "skipped", skip_reason or "the bundle has no datasets: data could not be checked"))
    exclude = tuple(c for c in (timestamp,) if c)
    reference, current, absent = _drop_absent_columns(reference, current)
    report = compare_distributions(reference, current, prediction=prediction, label=label, exclude=exclude,
                                   multivariate=False, max_rows=50_000, workers=1)
    fresh = tuple(data_freshness(reference, current, timestamp))
    gap = None
    if timestamp and window_end is not None and current_window is not None and timestamp in current.columns:
        last = _as_utc(current[timestamp]).max()
        if pd.notna(last):
            span = (window_end - current_window.start).total_seconds()
            if span > 0:
                gap = clip((window_end - last.floor("us").to_pydatetime()).total_seconds() / span)
    drifted = [c for c in report.columns if c.drifted and c.role == "feature"]
    summary = (f"{len(report.schema)} schema finding(s), {len(drifted)} of {len(report.columns)} column(s) "
               f"drifted ({description or 'reference vs current'}; {report.n_reference} vs {report.n_current} rows)")
    if absent:
        summary += "; " + "; ".join(absent)
    stale = [f for f in fresh if f.ratio >= 3]
    if stale:
        summary += "; stale: " + ", ".join(f"{f.column} lag {format_duration(f.lag_reference)} → "
                                           f"{format_duration(f.lag_current)}" for f in stale)
    return DataFinding(report, fresh, gap, StepResult(
        NAME, title, "ok", summary,
        {"schema": [f.to_dict() for f in report.schema[:10]],
         "drifted": [c.label for c in drifted][:20],
         "freshness": [{"column": f.column, "lag_reference_s": f.lag_reference.total_seconds(),
                        "lag_current_s": f.lag_current.total_seconds()} for f in fresh]}),
        reference_window, current_window)



def data_signals(d: DataFinding, onset: datetime) -> tuple[list[Signal], dict[str, Any]]:
    """Signals from the data step, plus facts the cross-checks need."""
    out: list[Signal] = []
    facts: dict[str, Any] = {"input_drift": 0.0, "prediction_drift": 0.0, "schema": 0.0, "stale_cols": set(),
                             "schema_cols": set(), "drift_cols": [], "top_drift_categorical": False,
                             "data_onset": d.data_onset, "data_onset_text": _onset_text(d)}
    rep = d.report
    if rep is None:
        return out, facts
    changed = {c.column: c for c in reversed(d.changes)}  # the strongest change per column

    def when(cols: Any, message: str) -> str:
        """``message`` prefixed with the data onset of the first column that has one, and the KPI's."""
        for c in cols:
            ch = changed.get(c)
            if ch is not None and ch.time <= onset + CHANGE_SLACK:
                head = ch.describe() + (f", {d.kpi_text}" if d.kpi_text else "")
                return f"{head}: {message[0].lower() + message[1:]}" if message else head
        return message
    win = TimeWindow(d.reference_window.start, d.current_window.end) if (d.reference_window and d.current_window) \
        else around(onset, timedelta(days=1), timedelta(days=1))
    view = dict(step=NAME, view="distributions", window=win)
    roles = {c.column: c.role for c in rep.columns}
    for c in rep.columns:
        if c.current_column:
            roles[c.current_column] = c.role
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.rule not in best or sig.contribution > best[sig.rule].contribution:
            best[sig.rule] = sig

    for f in rep.schema:
        cols = set(f.columns)
        is_pred = any(roles.get(c) in ("prediction", "label") for c in cols)
        data = {"finding": f.kind, "columns": list(f.columns), "score": round(f.score, 3)}
        if f.kind in ("renamed_column", "removed_column", "type_change", "scale_change"):
            if not is_pred:
                keep(signal("schema_finding", f.score, when(f.columns, f.message), title=f"Schema: {f.kind.replace('_', ' ')}",
                             data=data, **view))
                facts["schema_cols"] |= cols
                facts["schema"] = max(facts["schema"], f.score)
        elif f.kind == "added_column":
            keep(signal("schema_finding", 0.5 * f.score, f.message, title="Schema: added column", data=data, **view))
            facts["schema_cols"] |= cols
        elif f.kind == "column_order":
            keep(signal("schema_finding", 0.4 * f.score, f.message, title="Schema: column order", data=data, **view))
        elif f.kind in ("new_categories", "vanished_categories"):
            share = float(f.details.get("share", 0.0))
            if share >= 0.5 or f.kind == "vanished_categories" and share >= 0.9:
                keep(signal("category_change", f.score, f.message, title="Categories changed", data=data, **view))
        elif f.kind == "null_jump":
            keep(signal("null_jump_schema", f.score, f.message, title="Null rate jumped", data=data, **view))
            keep(signal("null_jump_stale", f.score, f.message, title="Null rate jumped", data=data, **view))
            facts["stale_cols"] |= cols
        elif f.kind == "collapsed":
            pred = bool(f.details.get("prediction"))
            keep(signal("collapse", 1.0 if pred else 0.85, f.message,
                         title="Prediction collapsed" if pred else "Column collapsed", data=data, **view))
            if pred:
                keep(signal("collapse_code", 1.0, f.message, title="Prediction collapsed", data=data, **view))
            facts["stale_cols"] |= cols
    for ch in d.changes:
        if (ch.measure == "scale" and ch.clean_factor is not None and roles.get(ch.column) == "feature"
                and ch.column not in facts["schema_cols"] and ch.time <= onset + CHANGE_SLACK):
            f_txt = f"×{ch.clean_factor:g}" if ch.clean_factor >= 1 else f"÷{1 / ch.clean_factor:g}"
            msg = (f"{ch.describe()}{', ' + d.kpi_text if d.kpi_text else ''}: column '{ch.column}' changed scale "
                   f"by {f_txt} at its own change point (measured ×{ch.factor:.3g}, {ch.z:.0f}× the bin-to-bin "
                   "noise); a clean factor is a unit change, not drift")
            keep(signal("schema_finding", 0.9, msg, title="Schema: scale change",
                         data={"finding": "scale_change", "columns": [ch.column], **ch.to_dict()}, **view))
            facts["schema_cols"].add(ch.column)
            facts["schema"] = max(facts["schema"], 0.9)
    for fr in d.freshness:
        if fr.ratio >= 3 and fr.lag_current - fr.lag_reference >= timedelta(minutes=30):
            strength = clip(math.log10(fr.ratio) / 1.0)
            keep(signal("freshness", strength,
                         f"'{fr.column}' lagged the row time by {format_duration(fr.lag_reference)} (median) before and "
                         f"{format_duration(fr.lag_current)} after: the data stopped being refreshed",
                         title=f"Stale column: {fr.column}",
                         data={"column": fr.column, "lag_reference_s": fr.lag_reference.total_seconds(),
                               "lag_current_s": fr.lag_current.total_seconds(), "ratio": round(fr.ratio, 2)}, **view))
            facts["stale_cols"].add(fr.column)
    frozen = _frozen_columns(rep, roles)
    if frozen:
        names = [f"{c} ({r} → {k} distinct values)" for c, r, k in frozen]
        keep(signal("frozen_values", 0.9, "columns stopped varying: " + ", ".join(names[:4]),
                     title=f"Frozen values: {frozen[0][0]}", data={"columns": [c for c, _r, _k in frozen]}, **view))
        facts["stale_cols"] |= {c for c, _r, _k in frozen}
    for col, value, share_ref, share_cur in _default_filled(rep, roles):
        if any(f.kind == "collapsed" and col in f.columns for f in rep.schema):
            continue
        shown = f"{value:.4g}" if isinstance(value, float) else repr(value)
        keep(signal("collapse", 0.85 * clip((share_cur - 0.1) / 0.5),
                     f"'{col}' is {shown} in {share_cur:.0%} of current rows ({share_ref:.0%} before): "
                     "a default or stale value is served for most requests",
                     title=f"Default values: {col}",
                     data={"column": col, "value": value, "share_reference": share_ref, "share_current": share_cur},
                     **view))
        facts["stale_cols"].add(col)
    if d.arrival_gap is not None and d.arrival_gap >= 0.3:
        keep(signal("data_arrival", d.arrival_gap,
                     f"the incident data ends {d.arrival_gap:.0%} of the window before the window does",
                     title="Data stopped arriving", data={"share": d.arrival_gap}, **view))
    excluded = facts["schema_cols"] | facts["stale_cols"]
    inputs = [c for c in rep.columns if c.drifted and c.role == "feature" and c.type in ("numeric", "categorical")
              and not ({c.column, c.current_column} & excluded)]
    preds = [c for c in rep.columns if c.drifted and c.role == "prediction"]

    def strength(score: float) -> float:
        return clip((score - 1.0) / 4.0)

    if inputs:
        top = max(inputs, key=lambda c: c.score)
        s = clip(strength(top.score) + 0.1 * (len(inputs) - 1))
        facts["input_drift"] = s
        facts["drift_cols"] = [c.label for c in sorted(inputs, key=lambda c: -c.score)]
        facts["top_drift_categorical"] = top.type == "categorical"
        shown = ", ".join(f"{c.label} ({c.score:.1f}× threshold)" for c in sorted(inputs, key=lambda c: -c.score)[:4])
        keep(signal("feature_drift", s, when([c.column for c in sorted(inputs, key=lambda c: -c.score)][:1],
                                             f"{len(inputs)} input column(s) drifted: {shown}"),
                     title=f"Input drift: {top.label}",
                     data={"columns": facts["drift_cols"][:10], "top_score": round(top.score, 2)}, **view))
        cats = [c for c in inputs if c.type == "categorical"]
        if cats:
            ct = max(cats, key=lambda c: c.score)
            keep(signal("mix_shift", strength(ct.score),
                         f"the mix of '{ct.label}' changed ({ct.score:.1f}× threshold)"
                         + segment_moves(rep, ct.column, ct.current_column),
                         title=f"Mix shift: {ct.label}", data={"column": ct.label}, **view))
    if preds:
        p = max(preds, key=lambda c: c.score)
        facts["prediction_drift"] = strength(p.score)
    return list(best.values()), facts


def _onset_text(d: DataFinding) -> str:
    if d.data_onset is None:
        return ""
    first = min((c for c in d.changes if c.time <= d.data_onset + CHANGE_SLACK), key=lambda c: c.time, default=None)
    head = first.describe() if first is not None else f"the data changed from {d.data_onset:%H:%M}"
    return head + (f", {d.kpi_text}" if d.kpi_text else "")


def segment_moves(rep: DriftReport, column: str, current_column: str | None = None) -> str:
    """``: DE 14% → 38% (up), the other segments fell proportionally`` — which segments moved, and how."""
    r = rep.profiles.get("reference", {}).get(column)
    c = rep.profiles.get("current", {}).get(current_column or column)
    if r is None or c is None or not r.counts or not c.counts:
        return ""
    nr, nc = sum(r.counts.values()), sum(c.counts.values())
    if not nr or not nc:
        return ""
    keys = set(r.counts) | set(c.counts)
    share = {k: (r.counts.get(k, 0) / nr, c.counts.get(k, 0) / nc) for k in keys}
    moved = sorted((k for k, (a, b) in share.items() if abs(b - a) >= 0.05), key=lambda k: -abs(share[k][1] - share[k][0]))
    if not moved:
        return ""
    up = [k for k in moved if share[k][1] > share[k][0]]
    rest = [k for k in keys if k not in up and share[k][0] > 0]
    ratios = [share[k][1] / share[k][0] for k in rest]
    proportional = len(ratios) >= 2 and max(ratios) - min(ratios) <= 0.4 * max(max(ratios), 1e-9)
    text = ": " + ", ".join(f"{k} {share[k][0]:.0%} → {share[k][1]:.0%}" for k in moved[:3])
    if up and proportional:
        text += " (the other segments fell proportionally: a surge in " + ", ".join(map(str, up[:2])) + ")"
    elif up:
        text += " (the other segments moved unevenly)"
    return text


def _default_filled(rep: DriftReport, roles: Mapping[str, str]) -> list[tuple[str, Any, float, float]]:
    """Numeric feature columns where one value went from rare to filling a large share of rows
    (a default or a stale value served for many requests, short of a full collapse)."""
    ref_p, cur_p = rep.profiles.get("reference", {}), rep.profiles.get("current", {})
    out = []
    for col, r in ref_p.items():
        c = cur_p.get(col)
        if c is None or roles.get(col) != "feature" or r.kind != sch.NUMERIC or c.kind != sch.NUMERIC:
            continue
        if r.top_share is None or c.top_share is None or c.n - c.n_null < 50 or r.n_unique < 12:
            continue
        if c.top_share >= 0.4 and r.top_share <= 0.2 and c.top_share - r.top_share >= 0.3:
            out.append((col, c.top_value, float(r.top_share), float(c.top_share)))
    return out


def _frozen_columns(rep: DriftReport, roles: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """Numeric feature columns whose distinct values collapsed from many to a handful."""
    ref_p, cur_p = rep.profiles.get("reference", {}), rep.profiles.get("current", {})
    out = []
    for col, r in ref_p.items():
        c = cur_p.get(col)
        if c is None or roles.get(col) != "feature" or r.kind != sch.NUMERIC:
            continue
        rn, cn = r.n - r.n_null, c.n - c.n_null
        if rn < 50 or cn < 50 or r.n_unique < 12:
            continue
        if c.n_unique <= max(8, 0.02 * cn) and c.n_unique <= r.n_unique / 2:
            out.append((col, r.n_unique, c.n_unique))
    return out



def data_pair(bundle: Any, onset: datetime) -> dict:
    """The reference/current frames (snapshot roles or one role split at the onset), or a skip reason."""
    from core.sources.datasets import bundle_roles, pair_from_bundle

    roles = bundle_roles(bundle)
    if not roles:
        return {"skip_reason": "the bundle has no datasets: data could not be checked"}
    errors = []
    for role in roles:
        try:
            pair = pair_from_bundle(bundle, role, split_at=None if role == "reference/current" else onset,
                                    reference=bundle.baseline if role != "reference/current" else None)
        except InvalidInputError as exc:
            errors.append(f"{role}: {exc}")
            continue
        return dict(reference=pair.reference, current=pair.current, timestamp=pair.timestamp,
                    prediction=pair.prediction, label=pair.label, description=pair.description,
                    reference_window=pair.reference_window, current_window=pair.current_window)
    return {"skip_reason": "datasets could not be compared: " + "; ".join(errors)}


#: A column's change point counts as the data onset when it is this much before the KPI onset...
EARLY = timedelta(minutes=30)
#: ...and no more than this.
LOOKBACK = timedelta(hours=24)
#: A change point this close after the KPI onset still counts as "at the onset".
CHANGE_SLACK = timedelta(minutes=30)
#: Column change points are located on at most this many rows (a seeded sample) and columns.
MAX_CHANGE_ROWS = 50_000
MAX_CHANGE_COLUMNS = 60


def strong_change(ch: ColumnChange) -> bool:
    """A column change clear enough to split the data at."""
    if ch.confidence < 0.99 or ch.z < 3:
        return False
    if ch.measure == "null rate":
        return abs(ch.after - ch.before) >= 0.3
    if ch.measure == "scale":
        return abs(ch.after - ch.before) >= 0.1  # ×1.26 or more
    return True


def column_changes(full: pd.DataFrame | None, timestamp: str | None, exclude: set[str], at: datetime
                   ) -> list[ColumnChange]:
    """The strong change points of the input columns in the 24 h before (and just after) the onset."""
    if full is None or not timestamp or timestamp not in full.columns:
        return []
    cols = [c for c in full.columns if c not in exclude and c != timestamp][:MAX_CHANGE_COLUMNS]
    if len(full) > MAX_CHANGE_ROWS:
        full = full.sample(MAX_CHANGE_ROWS, random_state=0)
    found = locate_column_changes(full, timestamp, cols, search=TimeWindow(at - LOOKBACK, at + CHANGE_SLACK))
    return [c for c in found if strong_change(c)]


def kpi_text(change: Any) -> str:
    """``KPI fell from 09:40 to 14:00`` (or ``KPI changed at 09:40``) from the KPI's change point."""
    if change is None:
        return ""
    verb = "fell" if (change.absolute_change or 0) < 0 else "rose"
    settled = getattr(change, "settled", None)
    if settled is not None and settled - change.time >= timedelta(minutes=10):
        return f"KPI {verb} from {change.time:%H:%M} to {settled:%H:%M}"
    return f"KPI {verb} at {change.time:%H:%M}"


def _full_frame(bundle: Any, pair: Mapping[str, Any]) -> pd.DataFrame | None:
    """Every row of the compared data, reference and current together (the whole table when split by time)."""
    ref, cur = pair.get("reference"), pair.get("current")
    if ref is None or cur is None:
        return None
    if "reference" in getattr(bundle, "datasets", {}) and "current" in bundle.datasets:
        return pd.concat([ref, cur], ignore_index=True)
    for role, spec in getattr(bundle, "datasets", {}).items():
        if spec.timestamp == pair.get("timestamp"):
            try:
                return bundle.read_dataset(role)
            except InvalidInputError:
                break
    return pd.concat([ref, cur], ignore_index=True)


def resplit(full: pd.DataFrame, timestamp: str, at: datetime, reference_window: TimeWindow | None,
            end: datetime) -> tuple[pd.DataFrame, pd.DataFrame, TimeWindow, TimeWindow] | None:
    """Rows before ``at`` (from the reference window's start) and from ``at`` to ``end``, or None when a side is thin."""
    ts = _as_utc(full[timestamp])
    start = reference_window.start if reference_window is not None else ts.min().to_pydatetime()
    before = ((ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(at))).to_numpy()
    after = ((ts >= pd.Timestamp(at)) & (ts < pd.Timestamp(end))).to_numpy()
    if before.sum() < 50 or after.sum() < 50:
        return None
    return (full[before].reset_index(drop=True), full[after].reset_index(drop=True), TimeWindow(start, at),
            TimeWindow(at, end))


class DataStep:
    """Compare the baseline and incident data of the bundle."""

    name = NAME
    title = TITLE
    relevance = {RootCause.DATA_DRIFT: 1.0, RootCause.SCHEMA_CHANGE: 1.0, RootCause.STALE_DATA: 0.8,
                 RootCause.CODE_REGRESSION: 0.4, RootCause.EXTERNAL_EVENT: 0.2}

    def run(self, context: TriageContext) -> StepOutcome:
        try:
            pair = data_pair(context.bundle, context.at)
            full = _full_frame(context.bundle, pair)
            found = analyse_data(pair.pop("reference", None), pair.pop("current", None),
                                 window_end=context.data_end, **pair)
            if found.report is not None:
                found = self._at_data_onset(found, full, pair, context)
        except InvalidInputError as exc:
            found = analyse_data(None, None, skip_reason=f"datasets could not be compared: {exc}")
        sigs, facts = data_signals(found, context.at)
        from core.triage.steps.changes import DATA_RULES, MODEL_RULES, changes_at_data_onset

        if found.data_onset is not None:
            sigs += changes_at_data_onset(context, found.data_onset,
                                          f"the data changed ({facts['data_onset_text']})", DATA_RULES)
        if found.model_onset is not None:
            sigs += changes_at_data_onset(context, found.model_onset,
                                          f"the predictions changed (from {found.model_onset:%H:%M})", MODEL_RULES)
            facts["model_onset"] = found.model_onset
        return StepOutcome(found.step, tuple(sigs), facts=facts, finding=found)

    @staticmethod
    def _at_data_onset(found: DataFinding, full: pd.DataFrame | None, pair: Mapping[str, Any],
                       context: TriageContext) -> DataFinding:
        """Locate each input column's own change point; when the data changed well before the KPI
        onset, compare the data split there instead (the reference then holds no changed rows)."""
        ts = pair.get("timestamp")
        exclude = {c for c in (pair.get("prediction"), pair.get("label")) if c}
        ref_cols = found.report.profiles.get("reference", {})
        cur_cols = found.report.profiles.get("current", {})
        # a column retyped between the snapshots is a type change, not a change over time
        exclude |= {c for c, p in ref_cols.items() if c in cur_cols and cur_cols[c].kind != p.kind}
        changes = column_changes(full, ts, exclude, context.at)
        text = kpi_text(getattr(context.onset, "change", None))
        pred = pair.get("prediction")
        model_onset = None
        if pred and ts and full is not None and pred in full.columns:
            moved = column_changes(full, ts, set(full.columns) - {pred, ts}, context.at)
            early_pred = [c for c in moved if context.at - LOOKBACK <= c.time <= context.at - EARLY]
            model_onset = min((c.time for c in early_pred), default=None)
        early = [c for c in changes if context.at - LOOKBACK <= c.time <= context.at - EARLY]
        if not early or full is None:
            return DataFinding(found.report, found.freshness, found.arrival_gap, found.step, found.reference_window,
                               found.current_window, tuple(changes), None, text, model_onset)
        data_onset = min(c.time for c in early)
        cut = resplit(full, ts, data_onset, found.reference_window, context.data_end)
        if cut is None:
            return DataFinding(found.report, found.freshness, found.arrival_gap, found.step, found.reference_window,
                               found.current_window, tuple(changes), None, text, model_onset)
        ref, cur, rw, cw = cut
        again = analyse_data(ref, cur, timestamp=ts, prediction=pair.get("prediction"), label=pair.get("label"),
                             window_end=context.data_end, reference_window=rw, current_window=cw,
                             description=f"split at the data change point {data_onset:%Y-%m-%d %H:%M}")
        first = min(early, key=lambda c: c.time)
        note = (f"the data changed before the KPI: {first.describe()}"
                + (f", {text}" if text else "") + f"; compared at the data change point instead of the KPI onset")
        step = StepResult(again.step.name, again.step.title, again.step.status, f"{again.step.summary}; {note}",
                          {**again.step.details, "data_onset": data_onset.isoformat(),
                           "column_changes": [c.to_dict() for c in changes[:10]]})
        return DataFinding(again.report, again.freshness, again.arrival_gap, step, rw, cw, tuple(changes),
                           data_onset, text, model_onset)
