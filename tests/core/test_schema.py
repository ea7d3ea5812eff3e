"""Schema findings: each kind on a small seeded example, with its numbers, ranked by severity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis.schema import diff_schema, name_similarity

N = 2000


@pytest.fixture
def ref() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "user_age": rng.normal(40, 10, N),
        "amount": rng.lognormal(3, 0.5, N),
        "weight_kg": rng.normal(70, 8, N),
        "country": rng.choice(["US", "DE", "FR", "BR"], N, p=[0.4, 0.3, 0.2, 0.1]),
        "score": rng.uniform(size=N),
        "clicks": rng.poisson(3, N).astype(float),
        "price": rng.normal(100, 5, N),
    })


def _kinds(findings):
    return {(f.kind, f.columns) for f in findings}


def test_identical_frames_have_no_findings(ref):
    assert diff_schema(ref, ref.copy()) == []


def test_added_removed_and_renamed(ref):
    cur = ref.rename(columns={"user_age": "age_user"}).drop(columns=["clicks"])
    cur["device"] = "ios"
    findings = diff_schema(ref, cur)
    kinds = _kinds(findings)
    assert ("renamed_column", ("user_age", "age_user")) in kinds
    assert ("removed_column", ("clicks",)) in kinds
    assert ("added_column", ("device",)) in kinds
    rename = next(f for f in findings if f.kind == "renamed_column")
    assert rename.details["name_similarity"] == 1.0 and rename.details["distribution_similarity"] > 0.9
    assert findings[0].kind == "renamed_column"  # a rename outranks a plain addition


def test_numbers_arriving_as_strings(ref):
    cur = ref.copy()
    cur["amount"] = cur["amount"].map(lambda v: f"{v:.2f}").astype(object)
    f = next(f for f in diff_schema(ref, cur) if f.kind == "type_change")
    assert f.columns == ("amount",) and "text holding numbers" in f.message
    assert f.severity == "critical"


@pytest.mark.parametrize("factor", [1000.0, 0.01, 10.0])
def test_scale_change_reports_the_factor(ref, factor):
    cur = ref.copy()
    cur["weight_kg"] = cur["weight_kg"] * factor
    scale = [f for f in diff_schema(ref, cur) if f.kind == "scale_change"]
    assert len(scale) == 1 and scale[0].columns == ("weight_kg",)
    assert scale[0].details["factor"] == pytest.approx(factor)
    assert scale[0].details["measured_factor"] == pytest.approx(factor, rel=0.05)


def test_small_shift_is_not_a_scale_change(ref):
    cur = ref.copy()
    cur["weight_kg"] = cur["weight_kg"] * 1.3
    assert not [f for f in diff_schema(ref, cur) if f.kind == "scale_change"]


def test_null_jump_categories_range_and_collapse(ref):
    rng = np.random.default_rng(8)
    cur = ref.copy()
    cur.loc[: N // 4, "user_age"] = np.nan
    cur["country"] = rng.choice(["US", "DE", "FR", "MX"], N, p=[0.4, 0.3, 0.2, 0.1])
    cur["price"] = np.r_[rng.normal(100, 5, N - 200), rng.normal(300, 5, 200)]
    cur["score"] = np.where(rng.uniform(size=N) < 0.97, 0.5, rng.uniform(size=N))
    findings = diff_schema(ref, cur, prediction="score")
    by = {f.kind: f for f in findings}
    assert findings[0].kind == "collapsed" and findings[0].columns == ("score",)
    assert by["collapsed"].details["value"] == 0.5 and by["collapsed"].details["share_current"] > 0.95
    assert by["null_jump"].details["null_rate_current"] == pytest.approx((N // 4 + 1) / N)
    assert list(by["new_categories"].details["values"]) == ["MX"]
    assert list(by["vanished_categories"].details["values"]) == ["BR"]
    assert by["out_of_range"].columns == ("price",) and by["out_of_range"].details["above"] >= 190
    scores = [f.score for f in findings]
    assert scores == sorted(scores, reverse=True)


def test_column_order_matters_when_positional(ref):
    cur = ref[list(reversed(ref.columns))]
    loose = diff_schema(ref, cur)
    strict = diff_schema(ref, cur, positional=True)
    assert [f.kind for f in loose] == ["column_order"] and loose[0].severity == "low"
    assert strict[0].severity == "high"
    assert strict[0].details["current_order"][0] == "price"


def test_name_similarity():
    assert name_similarity("mean radius", "radius_mean") == 1.0
    assert name_similarity("userId", "user_id") == 1.0
    assert name_similarity("amount", "country") < 0.5


def test_dropped_log_transform_and_range_shift():
    rng = np.random.default_rng(9)
    raw = rng.gamma(1.3, 260.0, N)
    before = pd.DataFrame({"tenure": np.log1p(raw), "temp": rng.normal(20, 2, N)})
    after = pd.DataFrame({"tenure": rng.gamma(1.3, 260.0, N), "temp": rng.normal(68, 3.6, N)})
    by = {f.kind: f for f in diff_schema(before, after)}
    assert by["transform_change"].columns == ("tenure",) and by["transform_change"].details["transform"] == "log1p"
    assert by["range_shift"].columns == ("temp",)  # °C → °F: not a power of ten, but disjoint
    assert "out_of_range" not in by
