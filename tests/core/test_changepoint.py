"""Change-point detection: plain arrays, KPI onsets with daily seasonality, segments, the demos, the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.__main__ import main
from core.analysis.changepoint import (
    break_down_segments,
    detect_onset,
    find_change_points,
    fit_ramp,
    onset_window,
)
from core.bundle import read_bundle
from core.errors import InvalidInputError

START = pd.Timestamp("2024-05-01", tz="UTC")
ONSET = pd.Timestamp("2024-05-04 13:37", tz="UTC")


def ctr_series(seed: int = 0, drop: float = 0.2, days: int = 5, onset=ONSET, noise: float = 0.003,
               ramp_minutes: int = 0) -> pd.DataFrame:
    """Per-minute CTR with a strong daily cycle (night dip) and a drop at ``onset``."""
    rng = np.random.default_rng(seed)
    t = pd.date_range(START, periods=days * 1440, freq="min")
    hours = (t.hour + t.minute / 60).to_numpy()
    base = 0.05 * (1 + 0.4 * np.sin(2 * np.pi * (hours - 6) / 24))
    minutes = ((t - onset).total_seconds() / 60).to_numpy()
    frac = np.clip(minutes / ramp_minutes, 0, 1) if ramp_minutes else (minutes >= 0).astype(float)
    value = base * (1 - drop * frac) + rng.normal(0, noise, len(t))
    return pd.DataFrame({"timestamp": t, "value": value})


# ---------------------------------------------------------------- arrays

def test_single_mean_shift_is_found_exactly():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 200), rng.normal(3, 1, 150)]
    assert find_change_points(x) == (200,)
    assert find_change_points(x, method="pelt") == (200,)


def test_no_change_in_white_noise():
    rng = np.random.default_rng(2)
    assert find_change_points(rng.normal(5, 2, 500)) == ()


def test_penalty_scale_controls_how_many_changes():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(m, 1, 100) for m in (0, 1.2, 0, 1.2, 0)])
    many = find_change_points(x, penalty_scale=1.0)
    few = find_change_points(x, penalty_scale=40.0)
    assert len(many) >= 4
    assert len(few) < len(many)
    assert len(find_change_points(x, penalty_scale=0.5, max_change_points=2)) == 2
    assert find_change_points(x, max_change_points=0) == ()


def test_multivariate_and_missing_values():
    rng = np.random.default_rng(4)
    x = np.c_[np.r_[rng.normal(0, 1, 100), rng.normal(4, 1, 100)], rng.normal(0, 1, 200)]
    x[[5, 50, 150], 0] = np.nan
    assert find_change_points(x) == (100,)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "bocpd"}, "unknown change-point method 'bocpd'"),
    ({"penalty_scale": 0}, "penalty scale must be positive"),
    ({"penalty": -1.0}, "penalty must be positive"),
    ({"max_change_points": -1}, "max_change_points must be 0 or more"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        find_change_points(np.arange(20.0), **kwargs)


def test_too_short_and_all_nan():
    with pytest.raises(InvalidInputError, match="too short"):
        find_change_points([1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match="every value of the series is NaN"):
        find_change_points([np.nan] * 10)


def test_fit_ramp_finds_a_gradual_change():
    x = np.r_[np.zeros(50), np.linspace(0, 1, 21)[1:-1], np.ones(50)]
    s, e = fit_ramp(x, 60, 0.0, 1.0, 30)
    assert s == pytest.approx(50, abs=1)
    assert e == pytest.approx(70, abs=1)
    assert fit_ramp(np.r_[np.zeros(20), np.ones(20)], 20, 0.0, 1.0, 10) == (20, 20)


# ---------------------------------------------------------------- KPI onsets

def test_ctr_drop_with_daily_seasonality():
    result = detect_onset(ctr_series(), direction="higher_is_better", metric="ctr")
    o = result.onset
    assert result.seasonality == "daily"
    assert len(result.change_points) == 1
    assert abs((o.time - ONSET).total_seconds()) <= 15 * 60
    assert o.effect == "bad"
    assert o.relative_change == pytest.approx(-0.2, abs=0.03)
    assert o.level_before == pytest.approx(0.05, rel=0.05)
    assert o.confidence == pytest.approx(1.0, abs=0.01)
    assert result.resolution_seconds == 300
    assert any("daily profile" in n for n in result.notes)
    assert set(result.grid.columns) >= {"timestamp", "value", "adjusted", "fitted"}


def test_night_dip_is_not_an_incident():
    result = detect_onset(ctr_series(drop=0.0), metric="ctr")
    assert result.change_points == ()
    assert result.onset is None
    assert any("no change point" in n for n in result.notes)


def test_without_seasonal_removal_the_night_dips_are_changes():
    result = detect_onset(ctr_series(drop=0.0), metric="ctr", seasonality="none")
    assert len(result.change_points) >= 3


def test_gradual_drop_reports_start_and_settled():
    result = detect_onset(ctr_series(ramp_minutes=90), metric="ctr")
    o = result.onset
    assert abs((o.time - ONSET).total_seconds()) <= 30 * 60
    assert (o.settled - o.time) >= timedelta(minutes=45)


def test_direction_decides_good_and_bad():
    rising = ctr_series(drop=-0.3)
    higher = detect_onset(rising, direction="higher_is_better")
    lower = detect_onset(rising, direction="lower_is_better")
    neutral = detect_onset(rising, direction=None)
    assert higher.onset.effect == "good"
    assert lower.onset.effect == "bad"
    assert neutral.onset.effect == "neutral"
    assert any("no change made the KPI worse" in n for n in higher.notes)


def test_main_onset_is_the_largest_bad_change():
    df = ctr_series(drop=0.25)
    recovery = df["timestamp"] >= ONSET + pd.Timedelta(hours=20)
    df.loc[recovery, "value"] = df.loc[recovery, "value"] / 0.75
    result = detect_onset(df, direction="higher_is_better")
    effects = sorted(c.effect for c in result.change_points)
    assert effects == ["bad", "good"]
    assert result.onset.effect == "bad"
    assert abs((result.onset.time - ONSET).total_seconds()) <= 15 * 60
    assert onset_window(result).start == result.onset.before_start


def test_small_shift_has_lower_confidence_than_large_one():
    rng = np.random.default_rng(9)
    t = pd.date_range(START, periods=400, freq="h")
    small = pd.DataFrame({"timestamp": t, "value": 10 + np.r_[np.zeros(200), np.full(200, 0.35)]
                          + rng.normal(0, 1, 400)})
    large = small.assign(value=small["value"] + np.r_[np.zeros(200), np.full(200, 3.0)])
    r_small = detect_onset(small, penalty_scale=1.0)
    r_large = detect_onset(large)
    assert r_large.onset.confidence == pytest.approx(1.0, abs=0.01)
    assert r_small.onset is None or r_small.onset.confidence < r_large.onset.confidence


def test_irregular_sampling_gaps_duplicates_and_non_finite_values():
    df = ctr_series(days=3, onset=START + pd.Timedelta(days=2, hours=3))
    rng = np.random.default_rng(5)
    df = df.sample(frac=0.7, random_state=5).sort_values("timestamp")  # irregular, with gaps
    df = df[~((df["timestamp"] > START + pd.Timedelta(hours=30)) & (df["timestamp"] < START + pd.Timedelta(hours=34)))]
    dup = df.iloc[:50].assign(value=df["value"].iloc[:50] + rng.normal(0, 0.001, 50))
    df = pd.concat([df, dup])
    df.loc[df.index[::97], "value"] = np.nan
    df.loc[df.index[5], "value"] = np.inf
    result = detect_onset(df, metric="ctr")
    assert abs((result.onset.time - (START + pd.Timedelta(days=2, hours=3))).total_seconds()) <= 20 * 60
    assert any("NaN or infinite" in n for n in result.notes)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"timestamp": pd.date_range(START, periods=5, freq="h"), "value": range(5)}),
     "only 5 usable point"),
    (pd.DataFrame({"timestamp": pd.date_range(START, periods=50, freq="h"), "value": [0.5] * 50}),
     "every value is 0.5"),
    (pd.DataFrame({"time": [1], "v": [2]}), "needs 'timestamp' and 'value'"),
])
def test_unusable_series(frame, message):
    with pytest.raises(InvalidInputError, match=message):
        detect_onset(frame, metric="kpi")


def test_bad_options():
    with pytest.raises(InvalidInputError, match="direction 'up'"):
        detect_onset(ctr_series(days=1), direction="up")
    with pytest.raises(InvalidInputError, match="seasonality 'weekly'"):
        detect_onset(ctr_series(days=1), seasonality="weekly")


def test_to_dict_is_json_ready():
    d = detect_onset(ctr_series(days=3, onset=START + pd.Timedelta(days=2)), metric="ctr").to_dict()
    text = json.dumps(d)
    assert d["onset"]["time"].endswith("Z") and "grid" not in text


# ---------------------------------------------------------------- segments

def labelled(drops: dict[str, float]) -> pd.DataFrame:
    parts = []
    for i, (segment, drop) in enumerate(drops.items()):
        parts.append(ctr_series(seed=10 + i, drop=drop).assign(platform=segment))
    return pd.concat(parts, ignore_index=True)


def test_only_the_broken_segment_moved():
    frame = labelled({"ios": 0.35, "android": 0.0, "web": 0.0})
    onset = detect_onset(frame.groupby("timestamp", as_index=False)["value"].mean()).onset
    b = break_down_segments(frame, "platform", onset)
    assert b.moved == ("ios",)
    assert b.unmoved == ("android", "web")
    assert b.summary.startswith("only ios moved")
    ios = next(s for s in b.segments if s.segment == "ios")
    assert ios.relative_change == pytest.approx(-0.35, abs=0.04)
    assert ios.effect == "bad"


def test_an_external_event_moves_every_segment():
    frame = labelled({"ios": 0.2, "android": 0.18, "web": 0.22})
    onset = detect_onset(frame.groupby("timestamp", as_index=False)["value"].mean()).onset
    b = break_down_segments(frame, "platform", onset)
    assert set(b.moved) == {"ios", "android", "web"}
    assert b.summary.startswith("all 3 values of platform moved together")
    assert b.to_dict()["moved"] == list(b.moved)


def test_unknown_label_column():
    frame = labelled({"ios": 0.2})
    onset = detect_onset(frame.drop(columns="platform")).onset
    with pytest.raises(InvalidInputError, match="no label column 'country' in the series; label columns are platform"):
        break_down_segments(frame, "country", onset)


# ---------------------------------------------------------------- demos and CLI

def _truth(path):
    return datetime.fromisoformat(json.loads((path / "ground_truth.json").read_text())["onset"].replace("Z", "+00:00"))


@pytest.mark.parametrize("bundle_id", ["demo-ctr-drop", "demo-fraud-stale"])
def test_demo_onset_within_an_hour_of_the_planted_start(demo_bundles, bundle_id):
    bundle = read_bundle(demo_bundles[bundle_id])
    result = detect_onset(bundle.read_metric(bundle.kpi_metric), direction=bundle.kpi_direction,
                          metric=bundle.kpi_metric)
    planted = _truth(demo_bundles[bundle_id])  # the test may read the ground truth; the analysis did not
    assert result.onset is not None and result.onset.effect == "bad"
    assert abs((result.onset.time - planted).total_seconds()) <= 3600


def test_ctr_demo_segments_all_moved(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-ctr-drop"])
    onset = detect_onset(bundle.read_metric("ctr")).onset
    b = break_down_segments(bundle.read_metric("ctr_by_platform"), "platform", onset)
    assert set(b.moved) == {"ios", "android", "web"}


def test_cli_text_and_json(demo_bundles, capsys):
    path = demo_bundles["demo-ctr-drop"]
    assert main(["onset", str(path / "metrics" / "ctr.csv"), "--direction", "higher_is_better"]) == 0
    out = capsys.readouterr().out
    assert "main onset: 2026-03-12T14:" in out and "bad for a higher_is_better KPI" in out
    assert main(["onset", str(path), "--metric", "ctr_by_platform", "--label", "platform", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metric"] == "ctr_by_platform" and data["direction"] == "higher_is_better"
    assert abs((datetime.fromisoformat(data["onset"]["time"].replace("Z", "+00:00")) - _truth(path))
               .total_seconds()) <= 3600
    assert data["segments"]["label"] == "platform" and len(data["segments"]["segments"]) == 3


def test_cli_custom_columns(tmp_path, capsys):
    df = ctr_series(days=3, onset=START + pd.Timedelta(days=2, hours=5)).rename(columns={"timestamp": "ts",
                                                                                        "value": "ctr"})
    df.to_parquet(tmp_path / "ctr.parquet")
    assert main(["onset", str(tmp_path / "ctr.parquet"), "--time-column", "ts", "--value-column", "ctr",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metric"] == "ctr" and data["onset"]["time"].startswith("2024-05-03T0")


def test_cli_bad_input(tmp_path, capsys):
    f = tmp_path / "flat.csv"
    pd.DataFrame({"timestamp": pd.date_range(START, periods=30, freq="h").strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "value": 1.0}).to_csv(f, index=False)
    assert main(["onset", str(f)]) == 2
    assert "constant series has no change point" in capsys.readouterr().err
    assert main(["onset", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["onset", str(f), "--label", "platform"]) == 2
    assert "--label platform: no such column" in capsys.readouterr().err
