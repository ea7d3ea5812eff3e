"""Demo 2: a recommender's CTR falls 15% after a model version changed a feature transform.

No application errors: the logs stay clean. The planted cause is model version 42
of ``recs-ranker``, promoted to ``champion`` 30 minutes before the onset, whose
``user_tenure_days`` transform went from ``log1p`` to ``identity``. Distractors:
an unrelated checkout-service deploy the day before, and a marketing campaign on
another day (which lifts CTR in every segment).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.bundle import write_bundle
from core.demo.common import random_times, daily_cycle, event, hourly_pipeline_runs, log, log_stream, merge_logs, minutes, ramp, series, t, z

ID = "demo-ctr-drop"
SEED = 20260312
DATA_START = t("2026-03-08T00:00")
DATA_END = t("2026-03-14T12:00")
ONSET = t("2026-03-12T14:20")
DEPLOY = ONSET - timedelta(minutes=30)
BASELINE = (DATA_START, t("2026-03-11T12:00"))
WINDOW = (t("2026-03-11T12:00"), DATA_END)
CAMPAIGN = (t("2026-03-10T09:00"), t("2026-03-10T18:00"))
DISTRACTOR_DEPLOY = t("2026-03-11T16:05")
PLATFORMS = {"ios": (0.046, 1100), "android": (0.040, 1500), "web": (0.036, 700)}
DROP = {"ios": 0.16, "android": 0.155, "web": 0.13}


def _ctr(rng: np.random.Generator, idx: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cycle = daily_cycle(idx, 0.18, peak_hour=20.0)
    traffic_cycle = daily_cycle(idx, 0.55, peak_hour=19.0)
    in_campaign = np.asarray((idx >= pd.Timestamp(CAMPAIGN[0])) & (idx < pd.Timestamp(CAMPAIGN[1])))
    per_platform, clicks_total, imps_total = [], np.zeros(len(idx)), np.zeros(len(idx))
    for platform, (base, traffic) in PLATFORMS.items():
        p = base * cycle * (1 + 0.08 * in_campaign) * (1 - DROP[platform] * ramp(idx, ONSET, 90))
        imps = rng.poisson(traffic * traffic_cycle * (1 + 0.25 * in_campaign))
        clicks = rng.binomial(imps, np.clip(p, 0, 1))
        ctr = np.where(imps > 0, clicks / np.maximum(imps, 1), np.nan)
        per_platform.append(series(idx, ctr, platform=platform))
        clicks_total += clicks
        imps_total += imps
    ctr_all = series(idx, clicks_total / np.maximum(imps_total, 1))
    impressions = series(idx, imps_total)
    return ctr_all, pd.concat(per_platform, ignore_index=True), impressions


def _features(rng: np.random.Generator) -> pd.DataFrame:
    n = 24_000
    total = (DATA_END - DATA_START).total_seconds()
    ts = random_times(rng, DATA_START, DATA_END, n)
    platform = rng.choice(list(PLATFORMS), n, p=[0.33, 0.45, 0.22])
    country = rng.choice(["US", "DE", "BR", "IN", "GB", "FR"], n, p=[0.34, 0.14, 0.14, 0.18, 0.1, 0.1])
    tenure = rng.gamma(1.3, 260.0, n)
    after = np.asarray(ts >= pd.Timestamp(ONSET))
    tenure_t = np.where(after, tenure, np.log1p(tenure))  # v42 dropped the log1p transform
    popularity = rng.beta(2, 5, n)
    session = rng.lognormal(5.0, 0.7, n)
    recency = rng.exponential(4.0, n)
    logit = -3.1 + 1.6 * popularity + 0.15 * np.log1p(tenure) - 0.05 * recency
    score_logit = logit + np.where(after, -0.0009 * (tenure - 250), 0) + rng.normal(0, 0.3, n)
    score = 1 / (1 + np.exp(-score_logit))
    p_click = 1 / (1 + np.exp(-logit)) * np.where(after, 0.85, 1.0)
    clicked = rng.random(n) < p_click
    # background drift in an unimportant feature: a slow rise in session length
    session = session * (1 + 0.04 * (ts - ts[0]).total_seconds().to_numpy() / total)
    return pd.DataFrame({
        "timestamp": ts,
        "request_id": [f"req-{i:06d}" for i in range(n)],
        "platform": platform,
        "country": country,
        "user_tenure_days": np.round(tenure_t, 4),
        "item_popularity": np.round(popularity, 5),
        "session_length_s": np.round(session, 1),
        "days_since_last_visit": np.round(recency, 2),
        "score": np.round(score, 5),
        "clicked": clicked.astype(int),
    })


def _logs(rng: np.random.Generator) -> dict[str, list[dict]]:
    def api(when, r):
        version = 42 if when >= DEPLOY else 41
        roll = r.random()
        if roll < 0.86:
            return log(when, "INFO", "recs-api",
                       f"served {int(r.integers(20, 60))} recommendations user=u{int(r.integers(1, 90000))} "
                       f"latency_ms={int(r.gamma(4, 9))} model_version={version}", r)
        if roll < 0.95:
            return log(when, "DEBUG", "recs-api", f"candidate pool size={int(r.integers(400, 900))} "
                       f"filtered={int(r.integers(10, 80))}", r)
        if roll < 0.99:
            return log(when, "INFO", "recs-api", f"cache refresh completed in {int(r.gamma(3, 40))} ms", r)
        return log(when, "WARN", "recs-api", f"slow request user=u{int(r.integers(1, 90000))} "
                   f"latency_ms={int(r.integers(400, 900))} upstream=feature-store", r)

    def features(when, r):
        if r.random() < 0.9:
            return log(when, "INFO", "feature-store", f"lookup batch size={int(r.integers(50, 200))} "
                       f"p95_ms={int(r.gamma(3, 4))}", r)
        return log(when, "INFO", "feature-store", "compaction finished segments=" + str(int(r.integers(2, 9))), r)

    api_logs = log_stream(rng, DATA_START, DATA_END, 17.0, api)
    fs_logs = log_stream(rng, DATA_START, DATA_END, 45.0, features)
    marks = [
        log(DEPLOY + timedelta(seconds=40), "INFO", "recs-api", "loaded model recs-ranker version 42 (alias champion)", rng),
        log(DISTRACTOR_DEPLOY + timedelta(seconds=30), "INFO", "checkout-service", "checkout-service 3.2.0 started", rng),
    ]
    return {"recs-api.jsonl": merge_logs(api_logs, marks), "feature-store.jsonl": fs_logs}


def _events() -> list[dict]:
    evs = [
        event(t("2026-03-08T11:30"), "deploy", "recs-api 5.14.0 deployed", "argo-cd", service="recs-api",
              version="5.14.0", commit="4be1d9a"),
        event(CAMPAIGN[0], "external", "Spring sale e-mail campaign (marketing)", "marketing-calendar", end=CAMPAIGN[1],
              audience="all users"),
        event(DISTRACTOR_DEPLOY, "deploy", "checkout-service 3.2.0 deployed", "argo-cd", service="checkout-service",
              version="3.2.0", commit="91c0e2f"),
        event(t("2026-03-12T09:00"), "config_change", "recs-api: candidate pool size 800 → 850", "config-repo",
              service="recs-api", key="candidate_pool_size", old=800, new=850),
        event(DEPLOY, "model_version", "recs-ranker v42 promoted to champion", "mlflow", model="recs-ranker",
              version=42, alias="champion", previous_version=41, run_name="ranker-train-2026-03-12"),
        event(t("2026-03-14T06:10"), "alert", "CTR below 48-hour forecast band for 6 h", "grafana",
              rule="ctr_forecast_band", severity="warning"),
        event(t("2026-03-14T06:10"), "milestone", "detected", "incident", milestone="detected"),
        event(t("2026-03-14T06:25"), "milestone", "acknowledged", "incident", milestone="acknowledged"),
    ]
    evs += hourly_pipeline_runs(DATA_START, DATA_END, "user-features-daily", every_hours=24, minute=30)
    return sorted(evs, key=lambda e: e["timestamp"])


def build(target: Path) -> Path:
    rng = np.random.default_rng(SEED)
    idx = minutes(DATA_START, DATA_END)
    ctr, ctr_by_platform, impressions = _ctr(rng, idx)
    latency = series(idx, rng.gamma(9, 6, len(idx)) * daily_cycle(idx, 0.2, 19))
    errors = series(idx, np.clip(rng.normal(0.0021, 0.0004, len(idx)), 0, None))
    manifest = {
        "id": ID,
        "title": "Recommendation CTR down 15% over 48 h, no errors",
        "summary": "Home-feed click-through rate fell about 15% across platforms; the recs-api logs show no errors.",
        "service": "recs-ranker",
        "severity": "SEV2",
        "status": "investigating",
        "kpi": {"metric": "ctr", "direction": "higher_is_better"},
        "baseline": {"start": z(BASELINE[0]), "end": z(BASELINE[1])},
        "window": {"start": z(WINDOW[0]), "end": z(WINDOW[1])},
        "datasets": {"features": {"file": "datasets/ranker_requests.parquet", "timestamp": "timestamp",
                                  "prediction": "score", "label": "clicked"}},
        "model": {"name": "recs-ranker"},
    }
    truth = {"root_cause": "code_regression", "onset": z(ONSET),
             "planted_event": {"kind": "model_version", "title": "recs-ranker v42 promoted to champion"},
             "changed_feature": "user_tenure_days",
             "distractors": ["checkout-service 3.2.0 deployed", "Spring sale e-mail campaign (marketing)"]}
    return write_bundle(
        target, manifest,
        metrics={"ctr": ctr, "ctr_by_platform": ctr_by_platform, "impressions": impressions,
                 "latency_p95_ms": latency, "error_rate": errors},
        logs=_logs(rng), events=_events(),
        datasets={"ranker_requests.parquet": _features(rng)},
        ground_truth=truth,
    )
