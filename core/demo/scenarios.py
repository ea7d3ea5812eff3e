"""Seeded incident scenarios for evaluating triage: one planted root cause, noise and distractors.

``generate_scenario(ScenarioSpec(root_cause=..., seed=...), target)`` writes a small
incident bundle (four days of a scoring service: a KPI every 5 minutes, latency,
error-rate and traffic metrics, about 4,000 scored requests, about 10,000 log
lines and the change events) plus a ``ground_truth.json`` naming the planted class.

Parameters:

* ``root_cause`` — one of the six classes; how each is planted:

  - ``data_drift``: an important input feature shifts (scale or shape) at the onset;
    no change event explains it.
  - ``schema_change``: the upstream export renames, removes, retypes or rescales a
    column (often with a ``data_pipeline`` release event and warning logs).
  - ``stale_data``: the hourly feature refresh stops; feature timestamps freeze and
    features fall back to defaults or stay frozen (often with cache-miss logs).
  - ``code_regression``: a model version or deploy of the service shortly before the
    onset shifts the predictions (sometimes a feature transform, sometimes exceptions).
  - ``infrastructure``: timeouts / connection errors / restarts in the logs, latency and
    error-rate up, fewer scored rows (sometimes an infrastructure change event).
  - ``external_event``: an external event (holiday, partner outage, competitor
    promotion) spans the onset; traffic and the user mix change, no errors.

* ``severity`` (0..1) — size of the fault (KPI drop, shift size, error rate).
* ``noise`` (0..1) — point-to-point noise of the metrics.
* ``seasonality`` — a daily cycle in the KPI and traffic.
* ``hardships`` — beyond the distractors: ``close_unrelated_deploy`` (another
  service deploys 10-60 min before the onset) and ``unlogged_change`` (the planted change
  event is missing, as when nobody recorded it); and the harder incidents of
  :data:`HARD_MIX` (see :func:`hard_specs`):

  - ``slow_impact``: the KPI falls by only 6-12 % and ramps in over 2-6 hours (as do the
    infrastructure and traffic symptoms); the metrics stay at 5-minute resolution;
  - ``early_data_change``: the data changes 1.5-8 hours before the KPI starts to fall (data
    classes only); the incident window opens an hour before the KPI onset, so the change
    falls inside the baseline, and the reference snapshot is the 24 hours before the KPI
    onset: the reference already holds changed rows;
  - ``no_logs`` / ``no_datasets``: the bundle lacks that modality;
  - ``coincident_deploy``: a service that is not on the model's path deploys 1-15 minutes
    before the KPI onset;
  - ``external_no_mix``: the external event changes traffic but not the user mix.
* ``distractors`` — any of ``unrelated_deploy`` (another service, hours earlier),
  ``external_other_day`` (an external event that ended a day before),
  ``background_drift`` (a slow drift of the unimportant ``session_length_s``),
  ``noisy_warnings`` (bursty warnings in both windows).

The bundles are deterministic for a seed; analyses never read ``ground_truth.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.bundle import write_bundle
from core.demo.common import UTC, daily_cycle, event, log, random_times, ramp, series, z
from core.errors import InvalidInputError
from core.models import RootCause

CLASSES = tuple(c.value for c in RootCause)
DISTRACTORS = ("unrelated_deploy", "external_other_day", "background_drift", "noisy_warnings")
#: Harder conditions beyond the distractors: another service deploys shortly before the onset,
#: and the planted change itself is missing from the events (nobody logged it).
HARDSHIPS = ("close_unrelated_deploy", "unlogged_change", "slow_impact", "early_data_change", "no_logs",
             "no_datasets", "coincident_deploy", "external_no_mix")
#: The hardships of the hard mix (:func:`hard_specs`).
HARD_MIX = ("slow_impact", "early_data_change", "no_logs", "no_datasets", "coincident_deploy", "external_no_mix")
DATA_CLASSES = ("data_drift", "schema_change", "stale_data")
SERVICE = "scoring-service"
DAYS = 4
STEP = timedelta(minutes=5)
N_ROWS = 4000
COUNTRIES = ["US", "DE", "BR", "IN", "GB", "FR"]
COUNTRY_P = np.array([0.34, 0.14, 0.14, 0.18, 0.1, 0.1])
DEVICES = ["ios", "android", "web"]
DEVICE_P = np.array([0.35, 0.45, 0.2])


@dataclass(frozen=True)
class ScenarioSpec:
    """What to plant. ``severity`` and ``noise`` are in [0, 1]."""

    root_cause: str
    seed: int
    severity: float = 0.6
    noise: float = 0.4
    seasonality: bool = True
    distractors: tuple[str, ...] = DISTRACTORS
    snapshots: bool | None = None  # reference/current snapshot roles instead of one time-split table (None: by seed)
    hardships: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.root_cause not in CLASSES:
            raise InvalidInputError(f"root cause '{self.root_cause}' is not one of {', '.join(CLASSES)}")
        for name, v in (("severity", self.severity), ("noise", self.noise)):
            if not 0.0 <= float(v) <= 1.0:
                raise InvalidInputError(f"{name} must be between 0 and 1, got {v}")
        bad = [d for d in self.distractors if d not in DISTRACTORS]
        if bad:
            raise InvalidInputError(f"unknown distractor(s) {', '.join(bad)}; use {', '.join(DISTRACTORS)}")
        bad = [d for d in self.hardships if d not in HARDSHIPS]
        if bad:
            raise InvalidInputError(f"unknown hardship(s) {', '.join(bad)}; use {', '.join(HARDSHIPS)}")

    @property
    def id(self) -> str:
        return f"scenario-{self.root_cause.replace('_', '-')}-{self.seed}"


@dataclass
class _World:
    """Mutable scratch space of one generation run (never escapes ``generate_scenario``)."""

    spec: ScenarioSpec
    rng: np.random.Generator
    start: datetime
    end: datetime
    onset: datetime
    data_onset: datetime | None = None  # when the data changed (the KPI onset unless the data changed earlier)
    variant: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(0, len(items)))]


# ---------------------------------------------------------------- metrics

def _metrics(w: _World) -> dict[str, pd.DataFrame]:
    spec, rng = w.spec, w.rng
    idx = pd.date_range(w.start, w.end, freq=STEP, inclusive="left", tz="UTC")
    n = len(idx)
    season = daily_cycle(idx, 0.15, 15.0) if spec.seasonality else np.ones(n)
    traffic_season = daily_cycle(idx, 0.45, 16.0) if spec.seasonality else np.ones(n)
    drop = 0.05 + 0.22 * spec.severity
    ramp_min = float(rng.choice([5, 20, 60]))
    if "slow_impact" in spec.hardships:
        drop = 0.06 + 0.06 * float(rng.random())
        ramp_min = float(rng.uniform(120, 360))
    hit = ramp(idx, w.onset, ramp_min)
    base = 0.12
    sd = base * (0.006 + 0.03 * spec.noise)
    kpi = base * season * (1 - drop * hit) + rng.normal(0, sd, n)
    if "external_other_day" in spec.distractors and w.truth.get("other_day"):
        a, b = w.truth["other_day"]
        inside = np.asarray((idx >= pd.Timestamp(a)) & (idx < pd.Timestamp(b)))
        kpi = kpi * (1 + 0.04 * inside)
    latency = rng.gamma(30, 4.0, n) * (1 + 0.1 * (traffic_season - 1))
    errors = np.clip(rng.normal(0.002, 0.0004 + 0.0006 * spec.noise, n), 0, None)
    requests = rng.poisson(1200 * traffic_season).astype(float)
    if spec.root_cause == "infrastructure":
        latency = latency * (1 + (1.0 + 3.0 * spec.severity) * hit)
        errors = errors + (0.01 + 0.08 * spec.severity) * hit
    if spec.root_cause == "external_event":
        sign = w.truth.get("traffic_sign", 1)
        requests = requests * (1 + sign * (0.25 + 0.5 * spec.severity) * hit)
    return {
        "conversion_rate": series(idx, np.clip(kpi, 0, 1)),
        "latency_p95_ms": series(idx, latency),
        "error_rate": series(idx, errors),
        "requests_per_min": series(idx, requests),
    }


# ---------------------------------------------------------------- data

def _features(w: _World) -> pd.DataFrame:
    spec, rng = w.spec, w.rng
    sev = spec.severity
    ts = random_times(rng, w.start, w.end, N_ROWS)
    after = np.asarray(ts >= pd.Timestamp(w.data_onset or w.onset))
    n = N_ROWS
    p_country = np.tile(COUNTRY_P, (n, 1))
    if spec.root_cause == "external_event" and "external_no_mix" not in spec.hardships:
        shifted = COUNTRY_P.copy()
        k = int(w.truth["mix_country"])
        shifted[k] += 0.25 + 0.35 * sev
        shifted /= shifted.sum()
        p_country[after] = shifted
    country = np.array([COUNTRIES[i] for i in (p_country.cumsum(1) > rng.random((n, 1))).argmax(1)])
    device = rng.choice(DEVICES, n, p=DEVICE_P)
    amount = rng.lognormal(3.5, 0.8, n)
    tenure = rng.gamma(1.5, 200.0, n)
    activity = rng.poisson(6, n).astype(float)
    price = rng.normal(50, 12, n)
    session = rng.lognormal(5.0, 0.6, n)
    if "background_drift" in spec.distractors:
        frac = (ts - ts[0]).total_seconds().to_numpy() / (w.end - w.start).total_seconds()
        session = session * (1 + 0.12 * frac)
    if spec.root_cause == "data_drift":
        if w.variant == "scale":
            amount = np.where(after, amount * (1.4 + 1.1 * sev), amount)
        elif w.variant == "shape":
            tenure = np.where(after, rng.gamma(0.6, 120.0 + 80 * (1 - sev), n), tenure)
        else:  # "location"
            price = np.where(after, price + (10 + 25 * sev), price)
    true_logit = (-1.2 + 0.8 * (np.log(amount) - 3.5) / 0.8 + 0.5 * (np.log1p(tenure) - 5.3)
                  - 0.15 * (activity - 6) + 0.02 * (price - 50) + 0.3 * (country == "US"))
    label = (rng.random(n) < _sigmoid(true_logit)).astype(int)
    model_logit = true_logit + rng.normal(0, 0.25, n)
    refreshed = ts.floor("h") + pd.Timedelta(minutes=5)
    refreshed = refreshed.where(refreshed <= ts, refreshed - pd.Timedelta(hours=1))
    frame = pd.DataFrame({
        "timestamp": ts,
        "request_id": [f"req-{int(v):07d}" for v in rng.integers(0, 9_999_999, n)],
        "country": country, "device": device,
        "amount": np.round(amount, 2), "tenure_days": np.round(tenure, 1), "activity_7d": activity,
        "price": np.round(price, 2), "session_length_s": np.round(session, 1),
    })
    if spec.root_cause == "stale_data":
        last = pd.Timestamp(w.truth["last_refresh"])
        stale = after
        refreshed = refreshed.where(~stale, last)
        if w.variant == "defaults":
            share = 0.6 + 0.4 * sev
            use_default = stale & (rng.random(n) < share)
            frame.loc[use_default, "tenure_days"] = 0.0
            frame.loc[use_default, "activity_7d"] = 0.0
            model_logit = np.where(use_default, 0.0, model_logit)
        else:  # frozen: values stop changing (one frozen snapshot per country), predictions go flat
            for c in COUNTRIES:
                m = stale & (country == c)
                if m.any():
                    frame.loc[m, "activity_7d"] = float(rng.poisson(6))
                    frame.loc[m, "tenure_days"] = round(float(rng.gamma(1.5, 200.0)), 1)
            model_logit = np.where(stale, model_logit * (0.6 - 0.4 * sev), model_logit)
    if spec.root_cause == "code_regression":
        if w.variant == "transform":
            frame.loc[after, "tenure_days"] = np.round(np.log1p(tenure[after]), 4)
        model_logit = np.where(after, model_logit * (0.5 - 0.3 * sev) + (0.8 + 1.2 * sev), model_logit)
    if spec.root_cause == "schema_change":
        model_logit = np.where(after, model_logit + rng.normal(0, 0.6 + sev, n), model_logit)
    frame["score"] = np.round(_sigmoid(model_logit), 5)
    frame["label"] = label
    if w.truth.get("freshness_column"):
        frame.insert(1, "features_updated_at", refreshed)
    if spec.root_cause == "infrastructure":
        lost = after & (rng.random(n) < 0.2 + 0.5 * sev)
        frame = frame[~lost]
    return frame.reset_index(drop=True)


def _apply_schema_change(w: _World, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Returns (time-split frame) or (reference, current) when snapshots are used."""
    after = (frame["timestamp"] >= pd.Timestamp(w.data_onset or w.onset)).to_numpy()
    ref, cur = frame[~after].copy(), frame[after].copy()
    v = w.variant
    if v == "rename":
        cur = cur.rename(columns={"tenure_days": "tenure_d"})
    elif v == "remove":
        cur = cur.drop(columns=["price"])
    elif v == "unit":
        cur["amount"] = cur["amount"] * 100.0
    elif v == "type":
        cur["activity_7d"] = cur["activity_7d"].map(lambda x: f"{x:.0f}")
    w.truth["schema_variant"] = v
    if w.truth["snapshots"]:
        if v != "type" and w.data_onset is not None and w.data_onset < w.onset:
            return _snapshots(w, pd.concat([ref, cur], ignore_index=True))
        return ref.reset_index(drop=True), cur.reset_index(drop=True)
    return pd.concat([ref, cur], ignore_index=True), None


def _snapshots(w: _World, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current snapshots split at the KPI onset; after an early data change the
    reference is the 24 hours before the KPI onset, so it already holds changed rows."""
    ts = frame["timestamp"]
    after = (ts >= pd.Timestamp(w.onset)).to_numpy()
    before = ~after
    if w.data_onset is not None and w.data_onset < w.onset:
        before &= (ts >= pd.Timestamp(w.onset - timedelta(hours=24))).to_numpy()
    return frame[before].reset_index(drop=True), frame[after].reset_index(drop=True)


# ---------------------------------------------------------------- logs

def _logs(w: _World) -> dict[str, list[dict[str, Any]]]:
    spec, rng = w.spec, w.rng
    total = (w.end - w.start).total_seconds()
    n = int(total / 40)
    times = pd.DatetimeIndex(pd.Timestamp(w.start) + pd.to_timedelta(np.sort(rng.uniform(0, total, n)), unit="s")).floor("ms")
    after = np.asarray(times >= pd.Timestamp(w.data_onset or w.onset))
    sev = spec.severity
    recs = []
    fault_rate = {"infrastructure": 0.05 + 0.25 * sev}.get(spec.root_cause, 0.0)
    fault_msg = None
    if spec.root_cause == "infrastructure":
        fault_msg = _pick(rng, [
            ("ERROR", "upstream timeout calling feature-store after {n} ms"),
            ("ERROR", "connection refused to db-primary:5432 attempt={n}"),
            ("ERROR", "pod scoring-service-{n} OOMKilled, restarting"),
            ("ERROR", "503 Service Unavailable from model-server replica {n}"),
        ])
    elif spec.root_cause == "stale_data" and w.truth.get("fault_logs"):
        fault_rate = 0.3 + 0.4 * sev
        fault_msg = ("WARN", "feature cache miss for user u{n}, using default features")
    elif spec.root_cause == "schema_change" and w.truth.get("fault_logs"):
        fault_rate = 0.1 + 0.2 * sev
        col = {"rename": "tenure_days", "remove": "price", "unit": "amount", "type": "activity_7d"}[w.variant]
        fault_msg = ("WARN", f"column '{col}' missing or malformed in request {{n}}, imputed training median")
    elif spec.root_cause == "code_regression" and w.truth.get("fault_logs"):
        fault_rate = 0.02 + 0.05 * sev
        fault_msg = ("ERROR", "ValueError in postprocess: NaN in score vector for request req-{n}")
    version = w.truth.get("model_version")
    noisy = "noisy_warnings" in spec.distractors
    burst = rng.gamma(0.5, 2.0, DAYS * 24 + 1) if noisy else None
    noisy_msg = _pick(rng, ["connection pool at {n}% capacity", "slow response from feature-store p99_ms={n}",
                            "deprecated API parameter 'limit' used by client sdk-{n}"])
    for i, (when, late) in enumerate(zip(times, after)):
        when = when.to_pydatetime()
        r = rng.random()
        if late and fault_msg is not None and r < fault_rate:
            level, msg = fault_msg
            recs.append(log(when, level, SERVICE, msg.format(n=int(rng.integers(1, 99999))), rng))
            continue
        hour = int((when - w.start).total_seconds() // 3600)
        if noisy and rng.random() < 0.04 * burst[min(hour, len(burst) - 1)]:
            recs.append(log(when, "WARN", SERVICE, noisy_msg.format(n=int(rng.integers(50, 99))), rng))
            continue
        if r < 0.85:
            v = version if (version and late) else (version - 1 if version else 7)
            recs.append(log(when, "INFO", SERVICE, f"scored request req-{int(rng.integers(0, 9999999)):07d} "
                            f"latency_ms={int(rng.gamma(4, 8))} model_version={v}", rng))
        elif r < 0.97:
            recs.append(log(when, "DEBUG", SERVICE, f"batch flush size={int(rng.integers(5, 60))}", rng))
        else:
            recs.append(log(when, "WARN", SERVICE, f"request req-{int(rng.integers(0, 9999999)):07d} "
                            f"took {int(rng.integers(400, 900))} ms", rng))
    restarts = [w.start + timedelta(hours=float(h)) for h in rng.uniform(2, 40, 2)]
    if w.truth.get("deploy"):
        restarts.append(w.truth["deploy"][0])
    for when in restarts:
        ver = w.truth["deploy"][1] if w.truth.get("deploy") and when == w.truth["deploy"][0] else "4.0.0"
        recs.append(log(when + timedelta(seconds=20), "INFO", SERVICE, f"{SERVICE} {ver} started", rng))
    recs.sort(key=lambda r: r["@timestamp"])
    feed = []
    at = w.start.replace(minute=5)
    last = w.truth.get("last_refresh_dt")
    while at < w.end:
        if last is None or at <= last:
            feed.append(log(at, "INFO", "feature-refresh", f"refresh completed rows={int(rng.integers(9e4, 1.1e5))} "
                            f"partition={at:%Y%m%d%H}", rng))
        at += timedelta(hours=1)
    return {f"{SERVICE}.jsonl": recs, "feature-refresh.jsonl": feed}


# ---------------------------------------------------------------- events

def _routine_events(w: _World) -> list[dict[str, Any]]:
    out = []
    at = w.start.replace(minute=5)
    n = 5000
    last = w.truth.get("last_refresh_dt")
    while at < w.end:
        if last is None or at <= last:
            out.append(event(at, "data_pipeline", f"user-features-refresh run #{n} succeeded", "airflow",
                             end=at + timedelta(minutes=6), job="user-features-refresh", run=n, state="success"))
        n += 1
        at += timedelta(hours=1)
    return out


def _fault_events(w: _World) -> list[dict[str, Any]]:
    spec, rng = w.spec, w.rng
    out = []
    lead = timedelta(minutes=float(rng.uniform(8, 100)))
    if w.data_onset is not None and w.data_onset < w.onset:
        lead += w.onset - w.data_onset  # the pipeline change comes before the data change, not the KPI onset
    if spec.root_cause == "code_regression":
        if rng.random() < 0.6:
            v = int(rng.integers(10, 60))
            w.truth["model_version"] = v
            out.append(event(w.onset - lead, "model_version", f"scoring-model v{v} promoted to champion", "mlflow",
                             model="scoring-model", service=SERVICE, version=v, previous_version=v - 1))
        else:
            ver = f"4.{int(rng.integers(1, 30))}.{int(rng.integers(0, 9))}"
            out.append(event(w.onset - lead, "deploy", f"{SERVICE} {ver} deployed", "argo-cd", service=SERVICE,
                             version=ver, commit=f"{int(rng.integers(0, 2**28)):07x}"))
            w.truth["deploy"] = (w.onset - lead, ver)
    elif spec.root_cause == "schema_change" and rng.random() < 0.75:
        out.append(event(w.onset - lead, "data_pipeline", _pick(rng, [
            "Upstream partner export v3 released (columns normalised)",
            "Feature table schema migration applied", "Upstream events export format change"]),
            "data-platform", dataset="user_features"))
    elif spec.root_cause == "infrastructure" and rng.random() < 0.5:
        out.append(event(w.onset - timedelta(minutes=float(rng.uniform(2, 40))), "config_change", _pick(rng, [
            "db-primary failover to replica in eu-west-1", "Kubernetes node pool upgrade (scoring cluster)",
            "Load balancer certificate rotation"]), "infra", component="platform"))
    elif spec.root_cause == "external_event":
        start = w.onset - timedelta(minutes=float(rng.uniform(0, 90)))
        out.append(event(start, "external", _pick(rng, [
            "Public holiday in DE", "Payment partner outage reported", "Competitor launched a nationwide promotion",
            "Major sports final broadcast"]), "calendar", end=start + timedelta(hours=float(rng.uniform(8, 30)))))
    return out


def _distractor_events(w: _World) -> list[dict[str, Any]]:
    spec, rng = w.spec, w.rng
    out = []
    if "unrelated_deploy" in spec.distractors:
        at = w.onset - timedelta(hours=float(rng.uniform(5, 30)))
        svc = _pick(rng, ["checkout-service", "search-api", "notifications"])
        out.append(event(at, "deploy", f"{svc} {int(rng.integers(1, 9))}.{int(rng.integers(0, 20))}.0 deployed",
                         "argo-cd", service=svc))
    if "close_unrelated_deploy" in spec.hardships:
        at = w.onset - timedelta(minutes=float(rng.uniform(10, 60)))
        svc = _pick(rng, ["payments-gateway", "search-api", "email-sender"])
        out.append(event(at, "deploy", f"{svc} {int(rng.integers(1, 9))}.{int(rng.integers(0, 20))}.1 deployed",
                         "argo-cd", service=svc))
    if "coincident_deploy" in spec.hardships:
        at = w.onset - timedelta(minutes=float(rng.uniform(1, 15)))
        svc = _pick(rng, ["checkout-web", "email-sender", "search-api", "payments-gateway", "notifications"])
        ver = f"{int(rng.integers(1, 9))}.{int(rng.integers(0, 20))}.{int(rng.integers(0, 9))}"
        details = {"service": svc} if rng.random() < 0.4 else {}  # often only the title names it
        out.append(event(at, "deploy", f"{svc} {ver} deployed", "argo-cd", **details))
    if "external_other_day" in spec.distractors:
        end = w.onset - timedelta(hours=float(rng.uniform(14, 30)))
        start = end - timedelta(hours=float(rng.uniform(4, 10)))
        if start > w.start:
            out.append(event(start, "external", "Spring sale e-mail campaign (marketing)", "marketing-calendar",
                             end=end))
            w.truth["other_day"] = (start, end)
    return out


# ---------------------------------------------------------------- assembly

VARIANTS = {
    "data_drift": ["scale", "shape", "location"],
    "schema_change": ["rename", "remove", "unit", "type"],
    "stale_data": ["defaults", "frozen"],
    "code_regression": ["plain", "plain", "transform"],
    "infrastructure": ["plain"],
    "external_event": ["plain"],
}


def generate_scenario(spec: ScenarioSpec, target: Path | str, *, as_zip: bool = False) -> Path:
    """Write the bundle of ``spec`` to ``target`` and return its path."""
    rng = np.random.default_rng([spec.seed, CLASSES.index(spec.root_cause)])
    start = datetime(2026, 4, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 60)))
    end = start + timedelta(days=DAYS)
    onset = start + timedelta(days=2, hours=6) + timedelta(minutes=5 * int(rng.integers(0, 288)))
    data_onset = None
    if "early_data_change" in spec.hardships and spec.root_cause in DATA_CLASSES:
        onset = start + timedelta(days=2, hours=2) + timedelta(minutes=5 * int(rng.integers(0, 96)))
        data_onset = onset - timedelta(minutes=5 * int(rng.integers(18, 96)))
    w = _World(spec, rng, start, end, onset, data_onset)
    w.variant = _pick(rng, VARIANTS[spec.root_cause])
    snapshots = spec.snapshots if spec.snapshots is not None else bool(rng.random() < 0.4)
    if w.variant == "type":
        snapshots = True  # one table cannot hold a column as numbers before and as text after
    w.truth.update(snapshots=snapshots, freshness_column=bool(rng.random() < 0.8 or spec.root_cause == "stale_data"
                                                               and rng.random() < 0.5),
                   fault_logs=bool(rng.random() < 0.5), mix_country=int(rng.integers(1, len(COUNTRIES))),
                   traffic_sign=int(rng.choice([-1, 1])))
    if spec.root_cause == "stale_data":
        last = (data_onset or onset) - timedelta(minutes=float(rng.uniform(40, 120)))
        last = last.replace(minute=5, second=0, microsecond=0)
        w.truth["last_refresh"] = z(last)
        w.truth["last_refresh_dt"] = last if rng.random() < 0.85 else None  # the job sometimes keeps "succeeding"
    fault_events = _fault_events(w)
    if "unlogged_change" in spec.hardships:
        w.truth["unlogged"] = [e["title"] for e in fault_events]
        fault_events = []
    events = _distractor_events(w) + fault_events + _routine_events(w)
    metrics = _metrics(w)
    frame = _features(w)
    datasets_manifest: dict[str, Any]
    if spec.root_cause == "schema_change":
        a, b = _apply_schema_change(w, frame)
    elif snapshots:
        a, b = _snapshots(w, frame)
    else:
        a, b = frame, None
    spec_cols = {"timestamp": "timestamp", "prediction": "score", "label": "label"}
    if b is not None:
        datasets = {"reference.parquet": a, "current.parquet": b}
        datasets_manifest = {"reference": {"file": "datasets/reference.parquet", **spec_cols},
                             "current": {"file": "datasets/current.parquet", **spec_cols}}
    else:
        datasets = {"requests.parquet": a}
        datasets_manifest = {"features": {"file": "datasets/requests.parquet", **spec_cols}}
    logs = {} if "no_logs" in spec.hardships else _logs(w)
    if "no_datasets" in spec.hardships:
        datasets, datasets_manifest = {}, {}
    baseline = (start, start + timedelta(days=2))
    if data_onset is not None:  # the incident window opens an hour before the KPI onset, after the data changed
        baseline = (onset - timedelta(days=2, hours=1), onset - timedelta(hours=1))
    manifest = {
        "id": spec.id, "title": f"Conversion drop ({spec.root_cause.replace('_', ' ')} scenario {spec.seed})",
        "summary": "Generated triage scenario.", "service": SERVICE, "severity": "SEV3",
        "kpi": {"metric": "conversion_rate", "direction": "higher_is_better"},
        "baseline": {"start": z(baseline[0]), "end": z(baseline[1])},
        "window": {"start": z(baseline[1]), "end": z(end)},
        "model": {"name": "scoring-model"},
    }
    if datasets_manifest:
        manifest["datasets"] = datasets_manifest
    truth = {"root_cause": spec.root_cause, "onset": z(onset), "variant": w.variant, "seed": spec.seed,
             "severity": spec.severity, "noise": spec.noise, "seasonality": spec.seasonality,
             "distractors": list(spec.distractors), "hardships": list(spec.hardships),
             "data_onset": z(data_onset) if data_onset else None,
             **{k: v for k, v in w.truth.items() if k not in ("last_refresh_dt", "other_day", "deploy")}}
    return write_bundle(target, manifest, metrics=metrics, logs=logs or None,
                        events=sorted(events, key=lambda e: e["timestamp"]), datasets=datasets,
                        ground_truth=truth, as_zip=as_zip)


def scenario_specs(seeds: list[int] | range, *, classes: tuple[str, ...] = CLASSES,
                   severity: tuple[float, float] = (0.25, 1.0), noise: tuple[float, float] = (0.1, 0.9),
                   distractor_rate: float = 0.7, hardship_rate: float = 0.0) -> list[ScenarioSpec]:
    """One spec per (class, seed) with severity and noise drawn uniformly from the given ranges, daily
    seasonality in 70 % of them, and each distractor present with probability ``distractor_rate``."""
    out = []
    for cls in classes:
        for seed in seeds:
            r = np.random.default_rng([seed, 7, CLASSES.index(cls)])
            dis = tuple(d for d in DISTRACTORS if r.random() < distractor_rate)
            hard = tuple(h for h in HARDSHIPS if r.random() < hardship_rate)
            out.append(ScenarioSpec(root_cause=cls, seed=int(seed), severity=float(r.uniform(*severity)),
                                    noise=float(r.uniform(*noise)), seasonality=bool(r.random() < 0.7),
                                    distractors=dis, hardships=hard))
    return out


def hard_specs(seeds: list[int] | range, *, classes: tuple[str, ...] = CLASSES) -> list[ScenarioSpec]:
    """The hard mix: one spec per (class, seed) with the hardships of :data:`HARD_MIX` drawn per seed.

    Slow, small impacts (60 %); for the data classes a data change well before the KPI onset
    (70 %, with reference/current snapshots half the time); a missing modality (40 %: no logs,
    or — for the classes whose key evidence is not in the data — no datasets); an unrelated
    service deploying minutes before the onset (60 %); external events without a user-mix shift
    (50 %); and their combinations. Severity 0.15-0.8, noise 0.3-0.9, each distractor with
    probability 0.7.
    """
    out = []
    for cls in classes:
        for seed in seeds:
            r = np.random.default_rng([seed, 11, CLASSES.index(cls)])
            dis = tuple(d for d in DISTRACTORS if r.random() < 0.7)
            hard = []
            if r.random() < 0.6:
                hard.append("slow_impact")
            early = cls in DATA_CLASSES and r.random() < 0.7
            if early:
                hard.append("early_data_change")
            if r.random() < 0.4:
                hard.append("no_logs" if cls in DATA_CLASSES or r.random() < 0.5 else "no_datasets")
            if r.random() < 0.6:
                hard.append("coincident_deploy")
            if cls == "external_event" and r.random() < 0.5:
                hard.append("external_no_mix")
            out.append(ScenarioSpec(root_cause=cls, seed=int(seed), severity=float(r.uniform(0.15, 0.8)),
                                    noise=float(r.uniform(0.3, 0.9)), seasonality=bool(r.random() < 0.7),
                                    distractors=dis, hardships=tuple(hard),
                                    snapshots=bool(r.random() < 0.5) if early else None))
    return out


def generate_scenarios(target_dir: Path | str, specs: list[ScenarioSpec]) -> dict[str, Path]:
    """Write every spec's bundle under ``target_dir``; returns id -> path."""
    target_dir = Path(target_dir)
    return {s.id: generate_scenario(s, target_dir / s.id) for s in specs}
