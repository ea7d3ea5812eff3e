"""CSV/Parquet/bundle series readers and the series checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.models import TimeWindow
from core.sources.metrics import (
    BundleMetricSource,
    FileMetricSource,
    MetricSource,
    check_series,
    clean_series,
    read_series_file,
)

START = pd.Timestamp("2024-05-01", tz="UTC")


def frame(n=120, freq="min", **extra):
    t = pd.date_range(START, periods=n, freq=freq)
    return pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": np.linspace(1, 2, n), **extra})


def test_csv_and_parquet_read_the_same(tmp_path):
    df = frame()
    df.to_csv(tmp_path / "kpi.csv", index=False)
    df.assign(timestamp=pd.to_datetime(df["timestamp"], utc=True)).to_parquet(tmp_path / "kpi2.parquet")
    a = read_series_file(tmp_path / "kpi.csv")
    b = read_series_file(tmp_path / "kpi2.parquet")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert str(a.frame["timestamp"].dt.tz) == "UTC"
    assert a.check.step_seconds == 60 and a.notes == ()
    src = FileMetricSource(tmp_path)
    assert isinstance(src, MetricSource)
    assert len(src.read("kpi").frame) == 120
    window = TimeWindow(START, START + pd.Timedelta(minutes=30))
    assert len(src.read("kpi", window).frame) == 30
    with pytest.raises(InvalidInputError, match="no series 'nope'"):
        src.read("nope")


def test_custom_column_names_and_naive_times(tmp_path):
    t = pd.date_range("2024-05-01", periods=20, freq="h")
    pd.DataFrame({"ts": t, "ctr": np.arange(20.0)}).to_csv(tmp_path / "x.csv", index=False)
    s = read_series_file(tmp_path / "x.csv", timestamp="ts", value="ctr")
    assert s.frame["timestamp"].iloc[0] == START
    t2 = pd.date_range("2024-05-01", periods=20, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": t2, "value": 0.0, "ctr": np.arange(20.0)}).to_csv(tmp_path / "y.csv", index=False)
    picked = read_series_file(tmp_path / "y.csv", value="ctr")
    assert list(picked.frame.columns) == ["timestamp", "value"] and picked.frame["value"].iloc[-1] == 19.0
    with pytest.raises(InvalidInputError, match="no value column 'clicks'; columns are ts, ctr"):
        read_series_file(tmp_path / "x.csv", timestamp="ts", value="clicks")


def test_duplicates_are_averaged_per_label():
    df = frame(n=20, platform="ios")
    df = pd.concat([df, df.assign(platform="web"), df.iloc[:3].assign(value=9.0)], ignore_index=True)
    s = clean_series(df, name="ctr")
    assert s.labels == ("platform",)
    assert s.check.n_duplicates == 3
    assert any("3 duplicate timestamp(s)" in n for n in s.notes)
    first = s.frame[(s.frame["platform"] == "ios")]["value"].iloc[0]
    assert first == pytest.approx((1.0 + 9.0) / 2)
    assert len(s.total()) == 20


def test_nan_and_inf_are_dropped_with_a_note():
    df = frame(n=30)
    df.loc[[2, 4], "value"] = np.nan
    df["value"] = df["value"].astype(object)
    df.loc[6, "value"] = "inf"
    s = clean_series(df, name="ctr")
    assert len(s.frame) == 27
    assert np.isfinite(s.frame["value"]).all()
    assert any("3 NaN or infinite" in n for n in s.notes)


def test_gaps_and_irregular_sampling_are_reported():
    df = frame(n=300)
    df = df.drop(index=range(100, 160))
    s = clean_series(df, name="ctr")
    assert s.check.n_gaps == 1 and s.check.largest_gap_seconds == 61 * 60
    assert any("1 gap(s)" in n and "1h 01m" in n for n in s.notes)
    rng = np.random.default_rng(0)
    t = START + pd.to_timedelta(np.sort(rng.uniform(0, 86400, 200)), unit="s")
    irregular = check_series(pd.DataFrame({"timestamp": t, "value": rng.normal(size=200)}))
    assert irregular.irregular
    assert any("irregular sampling" in n for n in irregular.notes)


def test_constant_series_is_flagged():
    c = check_series(pd.DataFrame({"timestamp": pd.date_range(START, periods=20, freq="h"), "value": 0.5}))
    assert c.constant
    assert any("every value is 0.5" in n for n in c.notes)


@pytest.mark.parametrize("df, message", [
    (pd.DataFrame({"timestamp": ["2024-05-01T00:00:00Z"] * 3, "value": [1, 2, 3]}), "only 1 usable point"),
    (pd.DataFrame({"time": [1], "value": [1]}), "missing column"),
    (pd.DataFrame({"timestamp": ["yesterday", "2024-05-01T00:00:00Z"], "value": [1, 2]}), "not ISO 8601, first 'yesterday'"),
    (pd.DataFrame({"timestamp": ["2024-05-01T00:00:00Z"], "value": ["high"]}), "not numbers, first 'high'"),
])
def test_unusable_frames(df, message):
    with pytest.raises(InvalidInputError, match=message):
        clean_series(df, name="kpi")


def test_unreadable_files(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        read_series_file(tmp_path / "missing.csv")
    (tmp_path / "a.xlsx").write_text("x")
    with pytest.raises(InvalidInputError, match="unknown series format '.xlsx'"):
        read_series_file(tmp_path / "a.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InvalidInputError, match="cannot be read as PARQUET"):
        read_series_file(tmp_path / "bad.parquet")
    (tmp_path / "empty.csv").write_text("timestamp,value\n")
    with pytest.raises(InvalidInputError, match="the file has no rows"):
        read_series_file(tmp_path / "empty.csv")


def test_window_with_too_few_points_says_so(tmp_path):
    frame().to_csv(tmp_path / "kpi.csv", index=False)
    window = TimeWindow(START, START + pd.Timedelta(minutes=5))
    with pytest.raises(InvalidInputError, match="only 5 usable point.*widen the time range"):
        read_series_file(tmp_path / "kpi.csv", window=window)


def test_bundle_metrics(demo_bundles):
    src = BundleMetricSource(read_bundle(demo_bundles["demo-ctr-drop"]))
    assert isinstance(src, MetricSource)
    assert {"ctr", "ctr_by_platform"} <= set(src.metric_names())
    by_platform = src.read("ctr_by_platform")
    assert by_platform.labels == ("platform",)
    assert sorted(by_platform.frame["platform"].unique()) == ["android", "ios", "web"]
    assert by_platform.source == "bundle demo-ctr-drop"
    with pytest.raises(InvalidInputError, match="has no metric 'nope'"):
        src.read("nope")
