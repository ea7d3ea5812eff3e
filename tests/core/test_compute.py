"""Compute engines for the drift report: DuckDB gives the in-process findings within its stated bounds.

The Spark engine is checked on the same data in ``test_compute_spark.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.__main__ import main
from core.analysis import stattests as st
from core.compute import (
    DriftOptions, EngineTimeoutError, EngineUnavailableError, SchemaMismatchError, TableNotFoundError, choose_engine,
    run_drift,
)
from core.compute import grid
from core.compute.duckdb_engine import DuckDBEngine

ROWS = 20_000
SPLIT = datetime(2026, 1, 2, tzinfo=timezone.utc)


def make_windows(rows: int = ROWS, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current rows with known changes: a shift, a ×1000 unit change, a null jump,
    a new category, ±inf values, a collapsed prediction, integers with ties, a datetime column."""
    rng = np.random.default_rng(seed)

    def side(late: bool) -> pd.DataFrame:
        n = rows
        start = pd.Timestamp("2026-01-02" if late else "2026-01-01", tz="UTC")
        amount = rng.lognormal(3, 1, n)
        frame = pd.DataFrame({
            "ts": start + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "shifted": rng.normal(0.6 if late else 0.0, 1, n),
            "steady": rng.normal(0, 1, n),
            "amount": amount * (1000 if late else 1),
            "sparse": np.where(rng.random(n) < (0.3 if late else 0.01), np.nan, rng.normal(5, 2, n)),
            "clicks": rng.poisson(3 if late else 2, n).astype("int64"),
            "ratio": np.where(rng.random(n) < (0.05 if late else 0.0), np.inf, rng.random(n)),
            "country": rng.choice(["us", "de", "fr", "br"] if late else ["us", "de", "fr"], n),
            "score": np.full(n, 0.5) if late else rng.random(n),
            "seen_at": pd.Timestamp("2025-12-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10 ** 6, n), unit="s"),
        })
        return frame

    return side(False), side(True)


def write_windows(folder: Path, rows: int = ROWS) -> dict[str, Path]:
    """Parquet: reference.parquet, current.parquet, and both in one folder of two files (split on ts)."""
    ref, cur = make_windows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(folder / "reference.parquet")
    cur.to_parquet(folder / "current.parquet")
    both = folder / "both"
    both.mkdir(exist_ok=True)
    ref.to_parquet(both / "part-0.parquet")
    cur.to_parquet(both / "part-1.parquet")
    return {"reference": folder / "reference.parquet", "current": folder / "current.parquet", "both": both}


OPTIONS = DriftOptions(prediction="score", exclude=("ts",), multivariate=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_windows(tmp_path_factory.mktemp("compute"))


@pytest.fixture(scope="module")
def exact(files):
    report, choice = run_drift(str(files["reference"]), str(files["current"]), engine="memory", options=OPTIONS)
    return report


@pytest.fixture(scope="module")
def duck(files):
    report, choice = run_drift(str(files["reference"]), str(files["current"]), engine="duckdb", options=OPTIONS)
    return report


def assert_same_within_bounds(exact, other) -> None:
    """The same drifted columns and finding kinds; every sketched figure's interval holds the exact one."""
    assert {c.column for c in other.columns if c.drifted} == {c.column for c in exact.columns if c.drifted}
    assert sorted((f.kind, f.columns) for f in other.schema) == sorted((f.kind, f.columns) for f in exact.schema)
    for col in exact.columns:
        mine = other.column(col.column)
        assert mine.type == col.type and mine.n_reference == col.n_reference
        assert (mine.null_reference, mine.null_current) == (col.null_reference, col.null_current)
        assert (mine.non_finite_reference, mine.non_finite_current) == (col.non_finite_reference, col.non_finite_current)
        for name in ("ks", "wasserstein"):
            if name in col.tests:
                t = mine.tests[name]
                assert t.low - 1e-9 <= col.tests[name].statistic <= t.high + 1e-9, (col.column, name)
                assert t.error_bound is not None
        if "psi" in col.tests and col.type == "numeric":
            assert mine.tests["psi"].statistic == pytest.approx(col.tests["psi"].statistic, abs=0.03)
        if col.type == "categorical":
            assert mine.tests["jensen_shannon"].statistic == pytest.approx(col.tests["jensen_shannon"].statistic)


def test_duckdb_gives_the_in_process_findings_within_its_bounds(exact, duck):
    assert_same_within_bounds(exact, duck)
    kinds = {f.kind for f in exact.schema}
    assert {"scale_change", "null_jump", "new_categories", "non_finite", "collapsed"} <= kinds
    assert duck.engine["name"] == "duckdb" and duck.engine["exact"] is False
    assert 0 < duck.engine["ks_error_bound"] < 0.01


def test_the_json_states_each_bound_and_which_engine_ran(duck, exact):
    out = duck.to_dict()
    ks = next(c for c in out["columns"] if c["column"] == "steady")["tests"]["ks"]
    assert ks["interval"][0] <= ks["statistic"] <= ks["interval"][1] and ks["error_bound"] > 0
    assert out["engine"]["name"] == "duckdb"
    assert exact.to_dict()["engine"] == {"name": "memory", "exact": True}
    assert "error_bound" not in json.dumps(exact.to_dict())


def test_a_bound_straddling_the_threshold_is_said(files, duck):
    w = duck.column("shifted").tests["wasserstein"]
    assert w.low < w.high
    options = DriftOptions(exclude=("ts",), multivariate=False,
                           thresholds={"wasserstein": (w.low + w.high) / 2, "psi": 100.0})
    report, _ = run_drift(str(files["reference"]), str(files["current"]), engine="duckdb", options=options)
    col = report.column("shifted")
    assert col.tests["wasserstein"].uncertain and "straddle the threshold" in col.uncertain
    assert "shifted" in report.engine["uncertain_columns"]
    assert col.to_dict()["uncertain"] == col.uncertain


@pytest.mark.parametrize("closed", ["right", "left"])
@pytest.mark.parametrize("kind", ["normal", "integers", "lognormal"])
def test_grid_bounds_hold_the_exact_statistics(kind, closed):
    rng = np.random.default_rng(3)
    make = {"normal": lambda s: rng.normal(s, 1, 30_000), "integers": lambda s: rng.poisson(2 + s, 30_000).astype(float),
            "lognormal": lambda s: rng.lognormal(s, 1.5, 30_000)}[kind]
    a, b = np.sort(make(0.0)), np.sort(make(0.1))
    probs = grid.probabilities()
    edges = grid.edges_for(grid.sample_quantiles(a[::7], probs), grid.sample_quantiles(b[::7], probs),
                           min(a[0], b[0]), max(a[-1], b[-1]))
    side = "right" if closed == "right" else "left"
    ha, hb = (grid.Histogram(edges, np.searchsorted(x, edges, side=side), x.size, closed) for x in (a, b))
    exact = st.compare_sorted(a, b)
    ks = grid.ks_bounds(ha, hb)
    w = grid.wasserstein_bounds(ha, hb, float(a.mean()), float(b.mean()))
    assert ks.low - 1e-12 <= exact.ks <= ks.high + 1e-12 and ks.error < 0.01
    assert w.low - 1e-9 <= exact.wasserstein <= w.high + 1e-9
    cuts = grid.decile_cuts(grid.sample_quantiles(a, probs), probs, edges)
    deciles = st.quantile_edges(a)
    assert st.psi(grid.bin_counts_at(ha, cuts), grid.bin_counts_at(hb, cuts)) == pytest.approx(
        st.psi(st.bin_counts(a, deciles), st.bin_counts(b, deciles)), abs=0.01)
    if kind == "integers":  # every value has a bin of its own: KS is exact
        value, share = grid.top_value(ha)
        values, counts = np.unique(a, return_counts=True)
        assert ks.low == pytest.approx(ks.high) and share == counts.max() / a.size and value in values[counts == counts.max()]


def test_auto_picks_the_engine_from_the_location(files, tmp_path):
    assert choose_engine(str(files["reference"])).name == "memory"
    assert choose_engine(str(files["both"])).name == "duckdb"
    assert choose_engine(str(files["both"]) + "/*.parquet").name == "duckdb"
    assert choose_engine("sales.requests").name == "spark"
    assert choose_engine("sc://spark.example:15002/sales.requests").name == "spark"
    assert choose_engine("spark://master:7077/sales.requests").name == "spark"


def test_cli_one_folder_split_by_time_on_duckdb(files, capsys):
    code = main(["drift", str(files["both"]), "--timestamp", "ts", "--split", "2026-01-02T00:00:00Z", "--engine",
                 "auto", "--json", "--no-multivariate", "--prediction", "score"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["engine"]["name"] == "duckdb" and out["engine"]["chosen"] == "auto" and "folder" in out["engine"]["reason"]
    assert out["n_reference"] == ROWS and out["n_current"] == ROWS
    assert out["schema"][0]["kind"] == "collapsed"


def test_cli_text_says_which_engine_ran(files, capsys):
    assert main(["drift", str(files["reference"]), str(files["current"]), "--engine", "duckdb",
                 "--no-multivariate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("engine: duckdb (asked for)")
    assert "deterministic bounds" in out and "±" in out


def test_missing_table_and_folder_are_exit_2(files, tmp_path, capsys):
    code = main(["drift", str(tmp_path / "nowhere"), str(files["current"]), "--engine", "duckdb"])
    err = capsys.readouterr().err
    assert code == 2 and "no such file, folder or table" in err and err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["drift", str(empty), str(files["current"]), "--engine", "duckdb"]) == 2
    assert "holds no .parquet" in capsys.readouterr().err


def test_schema_mismatch_is_exit_2(files, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    ref, cur = make_windows(200)
    ref.to_parquet(mixed / "a.parquet")
    cur.assign(clicks=cur["clicks"].astype(str)).to_parquet(mixed / "b.parquet")
    code = main(["drift", str(mixed), "--timestamp", "ts", "--split", "2026-01-02T00:00:00Z", "--engine", "duckdb"])
    err = capsys.readouterr().err
    assert code == 2 and "disagree on their schema" in err and "'clicks'" in err
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1.0, 2.0, 3.0]}).to_parquet(other)
    with pytest.raises(SchemaMismatchError, match="share no column"):
        run_drift(str(files["reference"]), str(other), engine="duckdb")


def test_a_column_whose_type_changed_is_a_finding_not_an_error(tmp_path):
    ref, cur = make_windows(500)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.assign(clicks=cur["clicks"].astype(str) + "x").to_parquet(tmp_path / "c.parquet")
    report, _ = run_drift(str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), engine="duckdb", options=OPTIONS)
    assert any(f.kind == "type_change" and f.columns == ("clicks",) for f in report.schema)
    assert report.column("clicks").type == "categorical"


def test_engine_timeout_is_its_own_error_with_exit_code_5():
    engine = DuckDBEngine(timeout=0.3)
    try:
        with pytest.raises(EngineTimeoutError, match="did not finish within 0.3 s"):
            engine.run("SELECT count(*) FROM range(100000000000) a")
    finally:
        engine.close()
    assert EngineTimeoutError.exit_code == 5 and EngineUnavailableError.exit_code == 4
    assert TableNotFoundError.exit_code == 2


def test_spark_without_java_says_how_to_install_it(files, monkeypatch, capsys):
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    code = main(["drift", str(files["reference"]), str(files["current"]), "--engine", "spark"])
    err = capsys.readouterr().err
    assert code == 4 and "apt-get install openjdk-17-jre-headless" in err and err.count("\n") == 1


def test_spark_without_pyspark_says_what_to_install(files, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "pyspark.sql", None)
    code = main(["drift", str(files["reference"]), str(files["current"]), "--engine", "spark"])
    err = capsys.readouterr().err
    assert code == 4 and "pip install -r requirements-spark.txt" in err


def test_in_process_refuses_what_would_not_fit(files, monkeypatch):
    from core.compute import memory
    from core.errors import InvalidInputError

    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    with pytest.raises(InvalidInputError, match="use --engine duckdb"):
        run_drift(str(files["reference"]), str(files["current"]), engine="memory")
    assert choose_engine(str(files["reference"])).name == "duckdb"
