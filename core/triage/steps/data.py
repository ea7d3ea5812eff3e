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
                             "schema_cols": set(), "drift_cols": [], "top_drift_categorical": False}
    rep = d.report
    if rep is None:
        return out, facts
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
                keep(signal("schema_finding", f.score, f.message, title=f"Schema: {f.kind.replace('_', ' ')}",
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
        keep(signal("feature_drift", s, f"{len(inputs)} input column(s) drifted: {shown}",
                     title=f"Input drift: {top.label}",
                     data={"columns": facts["drift_cols"][:10], "top_score": round(top.score, 2)}, **view))
        cats = [c for c in inputs if c.type == "categorical"]
        if cats:
            ct = max(cats, key=lambda c: c.score)
            keep(signal("mix_shift", strength(ct.score),
                         f"the mix of '{ct.label}' changed ({ct.score:.1f}× threshold)",
                         title=f"Mix shift: {ct.label}", data={"column": ct.label}, **view))
    if preds:
        p = max(preds, key=lambda c: c.score)
        facts["prediction_drift"] = strength(p.score)
    return list(best.values()), facts


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


class DataStep:
    """Compare the baseline and incident data of the bundle."""

    name = NAME
    title = TITLE
    relevance = {RootCause.DATA_DRIFT: 1.0, RootCause.SCHEMA_CHANGE: 1.0, RootCause.STALE_DATA: 0.8,
                 RootCause.CODE_REGRESSION: 0.4, RootCause.EXTERNAL_EVENT: 0.2}

    def run(self, context: TriageContext) -> StepOutcome:
        try:
            pair = data_pair(context.bundle, context.at)
            found = analyse_data(pair.pop("reference", None), pair.pop("current", None),
                                 window_end=context.data_end, **pair)
        except InvalidInputError as exc:
            found = analyse_data(None, None, skip_reason=f"datasets could not be compared: {exc}")
        sigs, facts = data_signals(found, context.at)
        return StepOutcome(found.step, tuple(sigs), facts=facts, finding=found)
