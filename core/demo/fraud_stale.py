"""Demo 3: a fraud model silently returns default predictions after its feature feed goes stale.

The hourly feature-feed refresh stops after 03:05 (no failure is reported: the
job simply never completes again). From then on the scorer misses its feature
cache and falls back to default features, so every score collapses to 0.5; all
transactions are routed to manual review, the review queue explodes and the
downstream transaction processor times out.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.bundle import write_bundle
from core.demo.traces import write_cascade_traces
from core.demo.common import random_times, daily_cycle, event, hourly_pipeline_runs, log, log_stream, merge_logs, minutes, ramp, series, t, z

ID = "demo-fraud-stale"
SEED = 20260204
DATA_START = t("2026-02-01T12:00")
DATA_END = t("2026-02-05T00:00")
LAST_REFRESH = t("2026-02-04T02:05")
ONSET = t("2026-02-04T03:10")  # features older than 1 h start missing the cache
BASELINE = (DATA_START, t("2026-02-03T12:00"))
WINDOW = (t("2026-02-03T12:00"), DATA_END)
DEFAULT_SCORE = 0.5
FEATURES = Path(__file__).resolve().parent / "data" / "fraud_stale" / "features"  # scripts/make_version_artifacts.py


def _metrics(rng: np.random.Generator, idx: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    stale = ramp(idx, ONSET, 25)
    traffic = daily_cycle(idx, 0.45, 15.0)
    catch = 0.86 * (1 - stale) + 0.04 * stale + rng.normal(0, 0.025, len(idx))
    pred_mean = 0.071 * (1 - stale) + DEFAULT_SCORE * stale + rng.normal(0, 0.004, len(idx))
    queue = np.cumsum(np.where(stale > 0.5, rng.poisson(38, len(idx)), 0)) * (stale > 0)
    queue = np.minimum(queue, 9000) + rng.poisson(14, len(idx))
    latency = (rng.gamma(8, 14, len(idx)) * traffic) * (1 + 9 * np.clip(queue / 6000, 0, 1))
    errors = np.clip(0.0015 + 0.06 * np.clip(queue / 6000, 0, 1) + rng.normal(0, 0.0006, len(idx)), 0, 1)
    tps = rng.poisson(210 * traffic)
    return {
        "fraud_catch_rate": series(idx, np.clip(catch, 0, 1)),
        "prediction_mean": series(idx, np.clip(pred_mean, 0, 1)),
        "manual_review_queue": series(idx, queue),
        "txn_latency_p95_ms": series(idx, latency),
        "txn_error_rate": series(idx, errors),
        "transactions_per_min": series(idx, tps),
    }


def _features(rng: np.random.Generator) -> pd.DataFrame:
    n = 18_000
    ts = random_times(rng, DATA_START, DATA_END, n)
    stale = np.asarray(ts >= pd.Timestamp(ONSET))
    amount = np.round(rng.lognormal(3.6, 1.1, n), 2)
    is_fraud = rng.random(n) < 0.012
    amount = np.where(is_fraud, amount * rng.uniform(2, 6, n), amount)
    txn_24h = rng.poisson(np.where(is_fraud, 9, 3), n).astype(float)
    avg_30d = np.round(rng.lognormal(3.6, 0.6, n), 2)
    refreshed = ts.floor("h") + pd.Timedelta(minutes=5)
    refreshed = refreshed.where(refreshed <= ts, refreshed - pd.Timedelta(hours=1))
    refreshed = refreshed.where(~stale, pd.Timestamp(LAST_REFRESH))
    # after the feed went stale the cache misses and defaults are used
    txn_24h = np.where(stale, 0.0, txn_24h)
    avg_30d = np.where(stale, 0.0, avg_30d)
    logit = -5.2 + 0.55 * txn_24h + 0.9 * np.log(amount / np.maximum(avg_30d, 1)) + rng.normal(0, 0.5, n)
    score = 1 / (1 + np.exp(-logit))
    score = np.where(stale, DEFAULT_SCORE, np.round(score, 5))
    mcc = rng.choice(["5411", "5812", "5999", "4829", "7995", "5732"], n, p=[0.3, 0.2, 0.2, 0.1, 0.05, 0.15])
    return pd.DataFrame({
        "timestamp": ts,
        "txn_id": [f"txn-{i:07d}" for i in range(n)],
        "account_id": [f"acc-{v}" for v in rng.integers(10000, 99999, n)],
        "amount": amount,
        "merchant_category": mcc,
        "txn_count_24h": txn_24h,
        "avg_amount_30d": avg_30d,
        "features_updated_at": refreshed,
        "fraud_score": score,
        "is_fraud": is_fraud.astype(int),
    })


def _logs(rng: np.random.Generator) -> dict[str, list[dict]]:
    def scorer(when, r):
        if when >= ONSET and r.random() < 0.8:
            return log(when, "WARN", "fraud-scorer",
                       f"feature cache miss for account acc-{int(r.integers(10000, 99999))}, using default", r)
        if r.random() < 0.92:
            score = DEFAULT_SCORE if when >= ONSET else round(float(r.beta(1, 12)), 4)
            return log(when, "INFO", "fraud-scorer", f"scored txn txn-{int(r.integers(0, 9999999)):07d} "
                       f"score={score} in {int(r.gamma(3, 3))} ms", r)
        return log(when, "INFO", "fraud-scorer", f"feature cache hit ratio {r.uniform(0.97, 0.999):.3f}"
                   if when < ONSET else "feature cache hit ratio 0.000", r)

    def processor(when, r):
        late = when >= ONSET + timedelta(minutes=40)
        roll = r.random()
        if late and roll < 0.35:
            return log(when, "ERROR", "txn-processor",
                       f"timeout waiting for fraud decision txn=txn-{int(r.integers(0, 9999999)):07d} after 3000 ms", r)
        if late and roll < 0.55:
            return log(when, "WARN", "txn-processor",
                       f"manual review queue depth {int(r.integers(2000, 9000))} above threshold 500", r)
        if roll < 0.97:
            return log(when, "INFO", "txn-processor", f"processed txn txn-{int(r.integers(0, 9999999)):07d} "
                       f"decision={'review' if when >= ONSET else r.choice(['approve'] * 30 + ['review', 'block'])} "
                       f"in {int(r.gamma(4, 20))} ms", r)
        return log(when, "WARN", "txn-processor", f"retrying ledger write attempt={int(r.integers(1, 3))}", r)

    feed = []
    at = DATA_START.replace(minute=5)
    while at < DATA_END:
        if at <= LAST_REFRESH:
            feed.append(log(at, "INFO", "feature-feed", f"refresh started partition={at:%Y%m%d%H}", rng))
            feed.append(log(at + timedelta(minutes=7), "INFO", "feature-feed",
                            f"refresh completed rows={int(rng.integers(180000, 220000))} partition={at:%Y%m%d%H}", rng))
        elif at <= LAST_REFRESH + timedelta(hours=1):
            feed.append(log(at, "INFO", "feature-feed", f"refresh started partition={at:%Y%m%d%H}", rng))
            feed.append(log(at + timedelta(seconds=20), "DEBUG", "feature-feed",
                            "waiting for upstream partition accounts_agg/dt=2026-02-04/hr=03", rng))
        at += timedelta(hours=1)
    return {
        "fraud-scorer.jsonl": log_stream(rng, DATA_START, DATA_END, 9.0, scorer),
        "txn-processor.jsonl": log_stream(rng, DATA_START, DATA_END, 12.0, processor),
        "feature-feed.jsonl": merge_logs(feed),
    }


def _events() -> list[dict]:
    evs = hourly_pipeline_runs(DATA_START, DATA_END, "account-features-refresh", stop_at=LAST_REFRESH + timedelta(minutes=1))
    evs += [
        event(t("2026-02-02T14:20"), "deploy", "txn-processor 2.7.1 deployed", "spinnaker", service="txn-processor",
              version="2.7.1", commit="c0ffee1"),
        event(t("2026-02-03T10:00"), "config_change", "fraud-scorer: block threshold 0.80 → 0.82", "config-repo",
              service="fraud-scorer", key="block_threshold", old=0.80, new=0.82),
        event(t("2026-02-04T04:02"), "alert", "txn-processor p95 latency > 1 s", "prometheus-alertmanager",
              rule="TxnLatencyHigh", severity="critical"),
        event(ONSET, "milestone", "started", "incident", milestone="started"),
        event(t("2026-02-04T04:02"), "milestone", "detected", "incident", milestone="detected"),
        event(t("2026-02-04T04:09"), "milestone", "acknowledged", "incident", milestone="acknowledged"),
        event(t("2026-02-04T05:30"), "annotation", "Failover of txn-processor to the secondary region did not help",
              "war-room"),
        event(t("2026-02-04T06:45"), "milestone", "mitigated", "incident", milestone="mitigated"),
        event(t("2026-02-04T11:20"), "milestone", "resolved", "incident", milestone="resolved"),
    ]
    return sorted(evs, key=lambda e: e["timestamp"])


def build(target: Path) -> Path:
    rng = np.random.default_rng(SEED)
    idx = minutes(DATA_START, DATA_END)
    manifest = {
        "id": ID,
        "title": "Fraud model returns default scores; transaction processing backs up",
        "summary": "Fraud scores collapsed to a constant 0.5; every transaction went to manual review and the "
                   "transaction processor timed out.",
        "service": "fraud-scorer",
        "severity": "SEV1",
        "status": "resolved",
        "root_cause": "stale_data",
        "kpi": {"metric": "fraud_catch_rate", "direction": "higher_is_better"},
        "baseline": {"start": z(BASELINE[0]), "end": z(BASELINE[1])},
        "window": {"start": z(WINDOW[0]), "end": z(WINDOW[1])},
        "datasets": {"features": {"file": "datasets/scored_transactions.parquet", "timestamp": "timestamp",
                                  "prediction": "fraud_score", "label": "is_fraud"}},
        "model": {"name": "fraud-scorer"},
    }
    truth = {"root_cause": "stale_data", "onset": z(ONSET),
             "planted_event": {"kind": "data_pipeline", "title": "account-features-refresh stopped after 02:05"},
             "new_log_template": "feature cache miss for account <*>, using default"}
    bundle = write_bundle(target, manifest, metrics=_metrics(rng, idx), logs=_logs(rng), events=_events(),
                          datasets={"scored_transactions.parquet": _features(rng)}, ground_truth=truth)
    # the cascade as OpenTelemetry traces: feature store stale -> scorer on defaults -> transactions back up
    write_cascade_traces(Path(bundle) / "traces", DATA_START, DATA_END, ONSET)
    shutil.copytree(FEATURES, Path(bundle) / "features")  # the Feast snapshot: account_features stale since 03:05
    return bundle
