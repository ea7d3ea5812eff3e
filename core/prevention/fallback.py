"""A circuit breaker that switches serving to a fallback, with thresholds chosen from the incident's data.

The policy trips when any of its conditions holds over a sliding window of recent predictions:

- ``feature_age``: the mean age of the features used (prediction time minus a dataset column
  such as ``features_updated_at``) is over its budget;
- ``default_share``: the share of predictions equal to the default value (the value the
  incident's predictions collapsed to, when one repeats) is over X;
- ``prediction_shift``: the mean prediction moved further from the baseline median than the
  baseline ever did;
- ``upstream_errors``: the upstream error rate (a bundle metric matching ``error``) is over its limit.

Each threshold is the baseline's extreme over the same window plus a margin
(:data:`core.prevention.rules.MARGIN`), so the breaker never trips on the baseline. A condition
the incident has no data for is listed as disabled with the reason. ``replay`` runs the
policy minute by minute over the incident and reports when it would have tripped and how
many predictions served during the impact it would have kept from the model.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import InvalidInputError
from core.prevention.rules import MARGIN, load_series

DATA_WINDOWS = (15, 30, 60, 120, 240)
MIN_ROWS_PER_WINDOW = 20
MIN_DEFAULT_SHARE = 0.05
MAX_FEATURE_CONDITIONS = 3
FEATURE_PREFIX = "feature:"
AGE_COLUMN = re.compile(r"(updated_at|refreshed_at|feature.*(time|ts)|as_of)", re.I)


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    threshold: float | None  # None: disabled
    window_min: int = 15
    unit: str = ""
    reason: str = ""  # why it is disabled
    default_value: float | None = None
    center: float | None = None

    @property
    def enabled(self) -> bool:
        return self.threshold is not None


@dataclass(frozen=True)
class Policy:
    incident: str
    service: str
    conditions: tuple[Condition, ...]
    fallback: str = "serve the previous model version or a rules-based score, and page the model owner"

    def to_dict(self) -> dict[str, Any]:
        return {"circuit_breaker": {
            "incident": self.incident, "service": self.service, "fallback": self.fallback,
            "conditions": [{k: v for k, v in asdict(c).items() if v not in (None, "")} | {"enabled": c.enabled}
                           for c in self.conditions]}}

    def to_yaml(self) -> str:
        import yaml

        head = (f"# Circuit breaker for {self.service or self.incident}, thresholds from incident {self.incident}.\n"
                "# Trip (switch to the fallback) when any enabled condition holds over its window.\n")
        return head + yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_python(self) -> str:
        return policy_python(self)


@dataclass(frozen=True)
class Replay:
    tripped_at: datetime | None
    condition: str | None
    onset: datetime
    impact_end: datetime
    false_trips_before_onset: int  # minutes the breaker would have been open on the baseline
    bad_predictions: int  # predictions served between the onset and the end of the impact
    prevented: int  # of those, served after the trip
    sentence: str
    per_condition: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None
        return {"tripped_at": iso(self.tripped_at), "condition": self.condition, "onset": iso(self.onset),
                "impact_end": iso(self.impact_end), "false_trips_before_onset": self.false_trips_before_onset,
                "bad_predictions": self.bad_predictions, "prevented": self.prevented, "sentence": self.sentence,
                "first_trip_per_condition": self.per_condition}


@dataclass(frozen=True)
class ServingData:
    """Per-prediction rows of the bundle's datasets: time, prediction and feature age in seconds."""

    frame: pd.DataFrame  # timestamp, prediction, age_s (may be NaN)
    age_column: str | None
    error_metric: str | None


def serving_data(bundle: Any) -> ServingData:
    """The bundle's predictions over time (every dataset role with a timestamp and a prediction column)."""
    parts = []
    age_col = None
    for role, spec in bundle.datasets.items():
        if not spec.timestamp or not spec.prediction:
            continue
        df = bundle.read_dataset(role)
        if spec.timestamp not in df.columns or spec.prediction not in df.columns:
            continue
        out = pd.DataFrame({"timestamp": pd.to_datetime(df[spec.timestamp], utc=True),
                            "prediction": pd.to_numeric(df[spec.prediction], errors="coerce")})
        skip = {spec.timestamp, spec.prediction, spec.label}
        for c in df.columns:
            if c not in skip and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                out[f"{FEATURE_PREFIX}{c}"] = pd.to_numeric(df[c], errors="coerce")
        ages = [c for c in df.columns if c != spec.timestamp and AGE_COLUMN.search(str(c))
                and pd.api.types.is_datetime64_any_dtype(df[c])]
        if ages:
            age_col = ages[0]
            out["age_s"] = (out["timestamp"] - pd.to_datetime(df[age_col], utc=True)).dt.total_seconds()
        else:
            out["age_s"] = float("nan")
        parts.append(out)
    frame = (pd.concat(parts, ignore_index=True).sort_values("timestamp").reset_index(drop=True) if parts
             else pd.DataFrame(columns=["timestamp", "prediction", "age_s"]))
    err = next((n for n in bundle.metric_names() if re.search(r"error", n.lower())), None)
    return ServingData(frame, age_col, err)


def _grid(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start).floor("1min"), pd.Timestamp(end).floor("1min"), freq="1min")


def _rolling(frame: pd.DataFrame, column: str, grid: pd.DatetimeIndex, window: int) -> tuple[pd.Series, pd.Series]:
    """(rolling sum of ``column``, rolling row count) over ``window`` minutes at each grid minute."""
    s = frame.set_index("timestamp")[column]
    per_sum = s.resample("1min").sum().reindex(grid, fill_value=0)
    per_cnt = s.notna().astype(int).resample("1min").sum().reindex(grid, fill_value=0)
    return (per_sum.rolling(window, min_periods=1).sum(), per_cnt.rolling(window, min_periods=1).sum())


def _window_for(frame: pd.DataFrame, grid: pd.DatetimeIndex, base: pd.Series) -> int | None:
    for w in DATA_WINDOWS:
        _s, cnt = _rolling(frame.assign(one=1.0), "one", grid, w)
        if float(cnt[base].median()) >= MIN_ROWS_PER_WINDOW:
            return w
    return None


def _limit(values: pd.Series, *, above: bool = True) -> tuple[float, float]:
    """(threshold, baseline extreme): the extreme plus the margin of its spread from the median."""
    med = float(values.median())
    ext = float(values.max())
    spread = ext - med
    return (ext + MARGIN * spread if spread > 0 else ext + MARGIN * max(abs(ext), 1e-9)), ext


@dataclass(frozen=True)
class _Signals:
    grid: pd.DatetimeIndex
    values: dict[str, pd.Series]


def _signals(bundle: Any, data: ServingData, start: datetime, end: datetime, baseline: tuple[datetime, datetime],
             onset: datetime) -> tuple[list[Condition], _Signals]:
    grid = _grid(start, end)
    b0, b1 = baseline
    base = (grid >= pd.Timestamp(b0)) & (grid < pd.Timestamp(b1))
    conds: list[Condition] = []
    values: dict[str, pd.Series] = {}
    frame = data.frame.dropna(subset=["timestamp"])
    w = _window_for(frame, grid, base) if not frame.empty else None
    if w is None:
        why = ("the bundle has no dataset with a timestamp and a prediction column" if frame.empty else
               f"fewer than {MIN_ROWS_PER_WINDOW} predictions per {DATA_WINDOWS[-1]}m window in the baseline")
        for n in ("feature_age", "default_share", "prediction_shift"):
            conds.append(Condition(n, "", None, reason=why))
    else:
        # feature age
        if data.age_column and frame["age_s"].notna().any():
            s, c = _rolling(frame, "age_s", grid, w)
            v = s / c.where(c >= MIN_ROWS_PER_WINDOW // 2)
            thr, ext = _limit(v[base].dropna())
            conds.append(Condition("feature_age", f"mean age of the features ({data.age_column}) over {w}m "
                                   f"above {thr / 60:.0f} min (baseline up to {ext / 60:.0f} min)",
                                   round(thr, 1), w, "seconds"))
            values["feature_age"] = v
        else:
            conds.append(Condition("feature_age", "", None, reason="no feature timestamp column "
                                   "(such as features_updated_at) in the datasets, so feature age is unknown"))
        # default share: the value the impact's predictions repeat most
        impact = frame[frame["timestamp"] >= pd.Timestamp(onset)]
        before = frame[(frame["timestamp"] >= pd.Timestamp(b0)) & (frame["timestamp"] < pd.Timestamp(b1))]
        mode = impact["prediction"].round(6).mode()
        share = float((impact["prediction"].round(6) == mode.iloc[0]).mean()) if len(mode) else 0.0
        usual = float((before["prediction"].round(6) == mode.iloc[0]).mean()) if len(mode) and len(before) else 0.0
        if len(mode) and share >= MIN_DEFAULT_SHARE and usual >= MIN_DEFAULT_SHARE:
            conds.append(Condition("default_share", "", None, reason=f"the impact's most common prediction "
                                   f"{float(mode.iloc[0]):g} is a usual value ({usual:.0%} of the baseline), "
                                   "not a default"))
        elif len(mode) and share >= MIN_DEFAULT_SHARE:
            default = float(mode.iloc[0])
            s, c = _rolling(frame.assign(d=(frame["prediction"].round(6) == default).astype(float)), "d", grid, w)
            v = s / c.where(c >= MIN_ROWS_PER_WINDOW // 2)
            thr, ext = _limit(v[base].dropna())
            thr = max(thr, MIN_DEFAULT_SHARE)
            conds.append(Condition("default_share", f"share of predictions equal to {default:g} over {w}m above "
                                   f"{thr:.1%} (baseline up to {ext:.1%})", round(thr, 4), w, "ratio",
                                   default_value=default))
            values["default_share"] = v
        else:
            conds.append(Condition("default_share", "", None, reason="no prediction value repeats in the impact "
                                   f"(the most common one is {share:.1%} of predictions, under "
                                   f"{MIN_DEFAULT_SHARE:.0%})"))
        s, c = _rolling(frame, "prediction", grid, w)
        mean = s / c.where(c >= MIN_ROWS_PER_WINDOW // 2)
        center = float(mean[base].median())
        dev = (mean - center).abs()
        thr, ext = _limit(dev[base].dropna())
        conds.append(Condition("prediction_shift", f"mean prediction over {w}m more than {thr:.4g} from the "
                               f"baseline median {center:.4g} (baseline up to {ext:.4g})", round(thr, 6), w,
                               center=round(center, 6)))
        values["prediction_shift"] = dev
        conds_f, values_f = _feature_shifts(frame, grid, base, w, onset)
        conds += conds_f
        values.update(values_f)
    if data.error_metric:
        series = load_series(bundle, data.error_metric, pd.Timestamp(grid[0]).to_pydatetime(),
                             pd.Timestamp(grid[-1]).to_pydatetime())
        if series is None:
            conds.append(Condition("upstream_errors", "", None, reason=f"metric '{data.error_metric}' is empty"))
        else:
            v = series.smoothed(15).reindex(grid)
            thr, ext = _limit(v[base].dropna())
            conds.append(Condition("upstream_errors", f"{data.error_metric} over 15m above {thr:.4g} "
                                   f"(baseline up to {ext:.4g})", round(thr, 6), 15, "ratio"))
            values["upstream_errors"] = v
    else:
        conds.append(Condition("upstream_errors", "", None, reason="the bundle has no error-rate metric"))
    return conds, _Signals(grid, values)


def _feature_shifts(frame: pd.DataFrame, grid: pd.DatetimeIndex, base: Any, w: int,
                    onset: datetime) -> tuple[list[Condition], dict[str, pd.Series]]:
    """Input-range conditions on the features that moved most after the onset (at most a few)."""
    found = []
    after = grid >= pd.Timestamp(onset)
    for col in (c for c in frame.columns if str(c).startswith(FEATURE_PREFIX)):
        s, c = _rolling(frame, col, grid, w)
        mean = s / c.where(c >= MIN_ROWS_PER_WINDOW // 2)
        ref = mean[base].dropna()
        if len(ref) < 2 * w:
            continue
        center = float(ref.median())
        dev = (mean - center).abs()
        thr, ext = _limit(dev[base].dropna())
        if thr <= 0:
            continue
        worst = float((dev[after] / thr).max()) if after.any() else 0.0
        if worst > 1:
            found.append((worst, col, center, thr, ext, dev))
    found.sort(key=lambda x: -x[0])
    conds, values = [], {}
    for _worst, col, center, thr, ext, dev in found[:MAX_FEATURE_CONDITIONS]:
        name = f"feature_shift:{col[len(FEATURE_PREFIX):]}"
        conds.append(Condition(name, f"mean of {col[len(FEATURE_PREFIX):]} over {w}m more than {thr:.4g} from "
                               f"the baseline median {center:.4g} (baseline up to {ext:.4g})", round(thr, 6), w,
                               center=round(center, 6)))
        values[name] = dev
    return conds, values


def build_policy(bundle: Any, onset: datetime) -> tuple[Policy, _Signals]:
    """The breaker's conditions and thresholds from ``bundle``'s baseline, and its signals for :func:`replay`."""
    b0, b1 = ((bundle.baseline.start, bundle.baseline.end) if bundle.baseline is not None
              else (bundle.window.start, onset))
    if (pd.Timestamp(b1) - pd.Timestamp(b0)) < pd.Timedelta(minutes=2 * DATA_WINDOWS[0]):
        raise InvalidInputError(f"the baseline ({b0} to {b1}) is too short to choose breaker thresholds: "
                                f"at least {2 * DATA_WINDOWS[0]} minutes are needed")
    data = serving_data(bundle)
    # the healthy reference is everything before the onset (the baseline and the window's quiet start)
    conds, sig = _signals(bundle, data, b0, bundle.window.end, (b0, max(b1, onset)), onset)
    return Policy(bundle.id, bundle.service, tuple(conds)), sig


def _trips(c: Condition, v: pd.Series) -> pd.Series:
    return v > c.threshold


def replay(policy: Policy, signals: _Signals, *, data: pd.DataFrame, onset: datetime,
           impact_end: datetime) -> Replay:
    """Run the breaker minute by minute: when it would have tripped, and the predictions it would have stopped."""
    grid = signals.grid
    tripped = pd.Series(False, index=grid)
    first: dict[str, datetime | None] = {}
    for c in policy.conditions:
        if not c.enabled or c.name not in signals.values:
            continue
        t = _trips(c, signals.values[c.name]).fillna(False)
        tripped |= t
        after = t[grid >= pd.Timestamp(onset)]
        first[c.name] = after.idxmax().to_pydatetime() if after.any() else None
    before = int(tripped[grid < pd.Timestamp(onset)].sum())
    after = tripped[grid >= pd.Timestamp(onset)]
    at = after.idxmax().to_pydatetime() if after.any() else None
    which = min((n for n, t in first.items() if t is not None and t == at), default=None)
    ts = data["timestamp"]
    bad = int(((ts >= pd.Timestamp(onset)) & (ts < pd.Timestamp(impact_end))).sum())
    # the minute ``at`` covers predictions up to its end: the breaker acts from the next minute
    stop = pd.Timestamp(at) + pd.Timedelta(minutes=1) if at else None
    prevented = int(((ts >= stop) & (ts < pd.Timestamp(impact_end))).sum()) if at else 0
    if at is None:
        sentence = "the breaker would not have tripped on this incident"
    else:
        mins = (at - onset).total_seconds() / 60
        sentence = (f"the breaker would have tripped at {at:%Y-%m-%d %H:%M} UTC on {which}, {mins:.0f} min after "
                    f"the onset, keeping {prevented} of {bad} predictions served during the impact from the model")
    if before:
        sentence += f"; it would also have tripped for {before} minute(s) before the onset"
    return Replay(at, which, onset, impact_end, before, bad, prevented, sentence,
                  {n: (t.isoformat().replace("+00:00", "Z") if t else None) for n, t in first.items()})


def policy_python(policy: Policy) -> str:
    """A self-contained Python function a serving team can drop in front of the model."""
    enabled = {c.name: c for c in policy.conditions if c.enabled}
    lines = [
        f'"""Circuit breaker for {policy.service or policy.incident}; thresholds from incident {policy.incident}.',
        "",
        "Call should_fall_back(...) with statistics over the recent window of predictions; when it",
        f"returns a reason, {policy.fallback}.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "",
    ]
    for c in policy.conditions:
        if c.name.startswith("feature_shift:"):
            continue
        const = c.name.upper()
        if c.enabled:
            lines.append(f"{const}_LIMIT = {c.threshold!r}  # {c.description}")
        else:
            lines.append(f"{const}_LIMIT = None  # disabled: {c.reason}")
    d = enabled.get("default_share")
    p = enabled.get("prediction_shift")
    lines.append(f"DEFAULT_PREDICTION = {d.default_value!r}" if d else "DEFAULT_PREDICTION = None")
    lines.append(f"PREDICTION_CENTER = {p.center!r}" if p else "PREDICTION_CENTER = None")
    feats = {c.name.split(":", 1)[1]: (c.center, c.threshold) for c in enabled.values()
             if c.name.startswith("feature_shift:")}
    lines.append(f"FEATURE_LIMITS = {feats!r}  # feature: (baseline median, largest allowed distance of the mean)")
    lines += [
        "",
        "",
        "def should_fall_back(*, feature_age_s: float | None = None, predictions: list[float] | None = None,",
        "                     upstream_error_rate: float | None = None,",
        "                     feature_means: dict[str, float] | None = None) -> str | None:",
        '    """The reason to switch to the fallback, or None to keep serving the model.',
        "",
        "    feature_age_s: mean age of the features used over the window, in seconds;",
        "    predictions: the predictions served over the window;",
        "    upstream_error_rate: the upstream error ratio over the window;",
        "    feature_means: the mean of each input feature over the window.",
        '    """',
        "    if FEATURE_AGE_LIMIT is not None and feature_age_s is not None and feature_age_s > FEATURE_AGE_LIMIT:",
        '        return f"feature age {feature_age_s:.0f} s over the budget of {FEATURE_AGE_LIMIT:.0f} s"',
        "    if predictions:",
        "        if DEFAULT_SHARE_LIMIT is not None and DEFAULT_PREDICTION is not None:",
        "            share = sum(1 for p in predictions if round(p, 6) == DEFAULT_PREDICTION) / len(predictions)",
        "            if share > DEFAULT_SHARE_LIMIT:",
        '                return f"{share:.0%} of predictions are the default {DEFAULT_PREDICTION}"',
        "        if PREDICTION_SHIFT_LIMIT is not None and PREDICTION_CENTER is not None:",
        "            mean = sum(predictions) / len(predictions)",
        "            if abs(mean - PREDICTION_CENTER) > PREDICTION_SHIFT_LIMIT:",
        '                return f"mean prediction {mean:.4g} is off the usual {PREDICTION_CENTER:.4g}"',
        "    if UPSTREAM_ERRORS_LIMIT is not None and upstream_error_rate is not None \\",
        "            and upstream_error_rate > UPSTREAM_ERRORS_LIMIT:",
        '        return f"upstream error rate {upstream_error_rate:.2%} over {UPSTREAM_ERRORS_LIMIT:.2%}"',
        "    for name, (center, limit) in FEATURE_LIMITS.items():",
        "        value = (feature_means or {}).get(name)",
        "        if value is not None and abs(value - center) > limit:",
        '            return f"mean of {name} is {value:.4g}, off its usual {center:.4g}"',
        "    return None",
        "",
    ]
    return "\n".join(lines)
