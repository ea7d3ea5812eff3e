"""The drift report: per-column drift, nulls, the joint check, bad input, the demo incidents, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.__main__ import main
from core.analysis.drift import compare_distributions
from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.models import utc
from core.sources.datasets import pair_from_bundle, read_dataset, read_upload, split_by_time


def _frames(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({
        "stable": rng.normal(size=n), "shifted": rng.normal(size=n), "nulls": rng.normal(size=n),
        "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]), "id": [f"id-{i}" for i in range(n)],
    })
    cur = pd.DataFrame({
        "stable": rng.normal(size=n), "shifted": rng.normal(0.8, 1, size=n), "nulls": rng.normal(size=n),
        "city": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5]), "id": [f"id-{n + i}" for i in range(n)],
    })
    cur.loc[: n // 5, "nulls"] = np.nan
    return ref, cur


def test_report_flags_the_shifted_columns_and_not_the_stable_one():
    ref, cur = _frames()
    report = compare_distributions(ref, cur)
    by = {c.column: c for c in report.columns}
    assert by["shifted"].drifted and by["city"].drifted
    assert not by["stable"].drifted
    ks = by["shifted"].tests["ks"]
    assert ks.statistic == pytest.approx(stats.ks_2samp(ref["shifted"], cur["shifted"]).statistic, abs=1e-9)
    assert ks.p_adjusted >= ks.p_value and ks.threshold == 0.05
    chi = by["city"].tests["chi2"]
    table = pd.crosstab(np.r_[np.zeros(len(ref)), np.ones(len(cur))], np.r_[ref["city"], cur["city"]])
    assert chi.p_value == pytest.approx(stats.chi2_contingency(table.to_numpy()).pvalue, rel=1e-6, abs=1e-300)
    ranked = [c.column for c in report.ranked_columns()]
    assert set(ranked[:3]) == {"shifted", "city", "nulls"}
    assert by["id"].type == "identifier" and not by["id"].drifted
    assert report.drift_share == pytest.approx(3 / 5)


def test_nulls_are_counted_not_dropped():
    ref, cur = _frames()
    report = compare_distributions(ref, cur, multivariate=False)
    col = report.column("nulls")
    assert col.null_current == len(cur) // 5 + 1 and col.null_reference == 0
    assert col.drifted  # a 20-point null jump is drift even though the values did not move
    assert col.tests["psi"].statistic > 0.2  # PSI carries the null bin
    assert any(f.kind == "null_jump" and f.columns == ("nulls",) for f in report.schema)
    assert report.to_dict()["columns"][0]["null_rate"].keys() == {"reference", "current"}


def test_multivariate_sees_a_joint_shift_that_no_column_shows():
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.normal(size=n)
    ref = pd.DataFrame({"a": x, "b": x + rng.normal(0, 0.1, n)})
    y = rng.normal(size=n)
    cur = pd.DataFrame({"a": y, "b": -y + rng.normal(0, 0.1, n)})  # same marginals, opposite correlation
    report = compare_distributions(ref, cur)
    assert not any(c.drifted for c in report.columns)
    assert report.multivariate.drifted and report.multivariate.auc > 0.8
    same = compare_distributions(ref, ref.sample(frac=1, random_state=1).reset_index(drop=True))
    assert not same.multivariate.drifted


def test_json_shape():
    ref, cur = _frames(500)
    out = compare_distributions(ref, cur, multivariate=False).to_dict()
    assert {"n_reference", "n_current", "schema", "columns", "drift_share"} <= set(out)
    col = next(c for c in out["columns"] if c["column"] == "shifted")
    assert set(col["tests"]) == {"wasserstein", "psi", "ks"}
    assert set(col["tests"]["ks"]) == {"statistic", "p_value", "p_adjusted", "threshold", "drifted"}
    assert set(col["tests"]["psi"]) == {"statistic", "threshold", "drifted"}
    assert {"column", "type", "tests", "null_rate", "drifted"} <= set(col)
    json.dumps(out, allow_nan=False)


def test_sampling_reports_the_error_bound():
    ref, cur = _frames(5000)
    report = compare_distributions(ref, cur, max_rows=1000, multivariate=False)
    assert report.sampled and report.n_reference == 5000 and report.ks_error_bound == pytest.approx(
        2 * np.sqrt(np.log(2 / 0.025) / 2000), rel=1e-9)
    full = compare_distributions(ref, cur, multivariate=False)
    for name in ("stable", "shifted"):
        d_full = full.column(name).tests["ks"].statistic
        assert abs(report.column(name).tests["ks"].statistic - d_full) <= report.ks_error_bound


@pytest.mark.parametrize("ref,cur,message", [
    (pd.DataFrame(), pd.DataFrame({"a": [1, 2]}), "no columns"),
    (pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1, 2]}), "1 row"),
    (pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]), pd.DataFrame({"a": [1, 2]}), "duplicate column names: a"),
])
def test_bad_frames_are_refused(ref, cur, message):
    with pytest.raises(InvalidInputError, match=message):
        compare_distributions(ref, cur)


def test_odd_columns_do_not_crash():
    ref = pd.DataFrame({"empty": [None] * 50, "const": [1.0] * 50, "mixed": [1, "a"] * 25,
                        "flag": [True, False] * 25, "when": pd.date_range("2024-01-01", periods=50, tz="UTC")})
    cur = pd.DataFrame({"empty": [None] * 50, "const": [1.0] * 50, "mixed": ["a", 2.5] * 25,
                        "flag": [True] * 50, "when": pd.date_range("2024-03-01", periods=50, tz="UTC")})
    report = compare_distributions(ref, cur)
    by = {c.column: c for c in report.columns}
    assert by["empty"].type == "empty" and "null" in by["empty"].note
    assert not by["const"].drifted
    assert by["mixed"].type == "categorical"
    assert by["flag"].drifted
    assert by["when"].type == "datetime" and by["when"].drifted
    json.dumps(report.to_dict(), allow_nan=False, default=str)


def test_numbers_as_text_and_nullable_floats_are_compared_without_touching_the_input():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": pd.array(rng.normal(size=500), dtype="Float64"),
                        "s": pd.array(rng.normal(size=500).round(3).astype(str), dtype="str")})
    cur = pd.DataFrame({"x": pd.array(rng.normal(1, 1, size=500), dtype="Float64"),
                        "s": pd.array(rng.normal(size=500).round(3).astype(str), dtype="str")})
    before = ref.copy()
    report = compare_distributions(ref, cur, multivariate=False)
    pd.testing.assert_frame_equal(ref, before)  # the values are sorted in a copy, never in the frame
    by = {c.column: c for c in report.columns}
    assert by["x"].type == "numeric" and by["x"].drifted
    assert by["s"].type == "numeric" and not by["s"].drifted  # numbers stored as text


# ---------------------------------------------------------------- files and splits

def test_split_by_time_and_its_errors():
    ts = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    frame = pd.DataFrame({"ts": ts, "x": range(10)})
    split = split_by_time(frame, "ts", "2024-01-01T05:00:00Z")
    assert split.reference["x"].tolist() == [0, 1, 2, 3, 4] and split.current["x"].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(InvalidInputError, match="outside the data"):
        split_by_time(frame, "ts", "2025-01-01T00:00:00Z")
    with pytest.raises(InvalidInputError, match="no time zone"):
        split_by_time(frame, "ts", "2024-01-01T05:00:00")
    with pytest.raises(InvalidInputError, match="'nope' is not in the data"):
        split_by_time(frame, "nope", "2024-01-01T05:00:00Z")
    mixed = pd.DataFrame({"ts": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00", "2024-01-01T02:00:00+02:00"],
                          "x": [1, 2, 3]})
    with pytest.raises(InvalidInputError, match="mixes times with and without a time zone"):
        split_by_time(mixed, "ts", "2024-01-01T00:30:00Z")
    with pytest.raises(InvalidInputError, match="current \\(after the split\\) side has 1 row"):
        split_by_time(frame, "ts", "2024-01-01T09:00:00Z")


def test_file_problems_give_clear_messages(tmp_path, monkeypatch):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidInputError, match="empty"):
        read_dataset(empty)
    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="cannot be read as PARQUET"):
        read_dataset(fake)
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a\n1,2\n")
    with pytest.raises(InvalidInputError, match="duplicate column names: a"):
        read_dataset(dup)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(InvalidInputError, match="no rows"):
        read_dataset(header_only)
    with pytest.raises(InvalidInputError, match="unsupported file type '.txt'"):
        read_upload("x.txt", b"a")
    monkeypatch.setenv("WORKBENCH_MAX_UPLOAD_MB", "0.000001")
    with pytest.raises(InvalidInputError, match="above the 0 MB limit"):
        read_upload("x.csv", b"a,b\n1,2\n")
    monkeypatch.delenv("WORKBENCH_MAX_UPLOAD_MB")
    assert read_upload("x.jsonl", b'{"a": 1}\n{"a": 2}\n')["a"].tolist() == [1, 2]


# ---------------------------------------------------------------- the demo incidents

def test_schema_change_demo_puts_its_planted_problems_first(demo_bundles):
    pair = pair_from_bundle(read_bundle(demo_bundles["demo-schema-change"]), "reference/current")
    report = compare_distributions(pair.reference, pair.current, prediction=pair.prediction,
                                   label=pair.label, exclude=(pair.timestamp,))
    top = {(f.kind, f.columns) for f in report.schema[:2]}
    assert top == {("renamed_column", ("mean radius", "radius_mean")), ("scale_change", ("mean area",))}
    scale = next(f for f in report.schema if f.kind == "scale_change")
    assert scale.details["factor"] == 10.0
    assert report.ranked_columns()[0].column == "mean area"


def test_ctr_demo_puts_the_changed_feature_first(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-ctr-drop"])
    pair = pair_from_bundle(bundle, "features")
    report = compare_distributions(pair.reference, pair.current, prediction=pair.prediction,
                                   label=pair.label, exclude=(pair.timestamp,))
    assert report.ranked_columns()[0].column == "user_tenure_days"
    assert [c.column for c in report.columns if c.drifted] == ["user_tenure_days"]
    assert report.schema[0].columns == ("user_tenure_days",)


def test_fraud_demo_shows_the_collapsed_prediction(demo_bundles):
    pair = pair_from_bundle(read_bundle(demo_bundles["demo-fraud-stale"]), "features",
                            split_at=utc("2026-02-04T03:10:00Z"))
    report = compare_distributions(pair.reference, pair.current, prediction=pair.prediction,
                                   label=pair.label, exclude=(pair.timestamp,), multivariate=False)
    first = report.schema[0]
    assert first.kind == "collapsed" and first.columns == ("fraud_score",) and first.details["value"] == 0.5


# ---------------------------------------------------------------- command line

def test_cli_json_on_a_split_file(demo_bundles, capsys):
    path = demo_bundles["demo-ctr-drop"] / "datasets" / "ranker_requests.parquet"
    code = main(["drift", str(path), "--timestamp", "timestamp", "--split", "2026-03-12T14:20:00Z", "--json",
                 "--no-multivariate"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["columns"][0]["column"] == "user_tenure_days" and out["columns"][0]["drifted"]
    assert out["n_reference"] + out["n_current"] == len(pd.read_parquet(path))
    assert 0 < out["drift_share"] < 1


def test_cli_two_files_text_and_no_drift_exit_zero(tmp_path, capsys):
    ref, _cur = _frames(300)
    ref.to_csv(tmp_path / "a.csv", index=False)
    ref.to_parquet(tmp_path / "b.parquet")
    assert main(["drift", str(tmp_path / "a.csv"), str(tmp_path / "b.parquet"), "--no-multivariate"]) == 0
    out = capsys.readouterr().out
    assert "drifted columns: 0/5" in out


@pytest.mark.parametrize("args,message", [
    (["drift", "missing.csv", "other.csv"], "file not found"),
    (["drift", "{csv}"], "give two files"),
    (["drift", "{csv}", "{csv}", "--threshold", "psi"], "not TEST=NUMBER"),
    (["drift", "{csv}", "--timestamp", "ts", "--split", "2030-01-01T00:00:00Z"], "outside the data"),
])
def test_cli_bad_input_is_one_line_on_stderr(tmp_path, capsys, args, message):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"ts": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"],
                  "x": [1, 2, 3]}).to_csv(csv, index=False)
    code = main([a.format(csv=csv) for a in args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("n", [500, 50_000])
def test_infinite_values_are_counted_apart_and_reported(n):
    """±inf (a division by zero upstream) is a finding, not a NaN in every statistic."""
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=n), rng.normal(size=n)
    b[: n // 10] = np.inf
    a[:2] = -np.inf
    report = compare_distributions(pd.DataFrame({"x": a}), pd.DataFrame({"x": b}))
    col = report.column("x")
    assert col.drifted and col.non_finite_current == n // 10 and col.non_finite_reference == 2
    assert all(np.isfinite(t.statistic) for t in col.tests.values())
    finding = next(f for f in report.schema if f.kind == "non_finite")
    assert finding.details["non_finite_rate_current"] == pytest.approx(0.1)
    out = report.to_dict()
    json.dumps(out, allow_nan=False)  # strict JSON: no NaN or Infinity
    assert out["columns"][0]["n"] == {"reference": n - 2, "current": n - n // 10}
