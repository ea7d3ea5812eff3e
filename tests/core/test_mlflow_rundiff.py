"""Run diffs, last-good/incident choice and the regression verdict on hand-built runs (no MLflow)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from core.analysis.rundiff import choose_runs, diff_runs, regression_verdict
from core.errors import InvalidInputError
from core.sources.mlflow_runs import (
    ArtifactRef, DatasetRef, ModelVersionRecord, RegistryHistory, RunRecord, parse_schema,
)

ONSET = datetime(2026, 3, 12, 14, 20, tzinfo=timezone.utc)


def _run(run_id="a" * 32, **kw) -> RunRecord:
    base = dict(run_id=run_id, experiment_id="1", name="train", status="FINISHED", lifecycle_stage="active",
                start_time=None, end_time=None)
    base.update(kw)
    return RunRecord(**base)


def _version(v, at, run_id="r", **kw) -> ModelVersionRecord:
    return ModelVersionRecord(model="m", version=v, run_id=run_id and f"{run_id}{v}", registered_at=at,
                              deployed_at=kw.pop("deployed_at", None), **kw)


def _history(*versions) -> RegistryHistory:
    return RegistryHistory(model="m", description="", tags={}, aliases={}, versions=tuple(versions))


def test_metric_relative_change_and_edge_values():
    a = _run(metrics={"auc": 0.8, "zero": 0.0, "nan": math.nan, "gone": 1.0, "same": 0.5})
    b = _run("b" * 32, metrics={"auc": 0.72, "zero": 0.1, "nan": math.nan, "new": 2.0, "same": 0.5})
    m = {x.key: x for x in diff_runs(a, b).metrics}
    assert m["auc"].relative == pytest.approx(-0.1) and m["auc"].delta == pytest.approx(-0.08)
    assert m["zero"].relative is None and m["zero"].status == "changed"
    assert m["nan"].status == "same"
    assert (m["gone"].status, m["new"].status, m["same"].status) == ("removed", "added", "same")
    assert diff_runs(a, b).to_dict()["metrics"][0]["key"] == "auc"  # same rows left out by default


def test_dataset_schema_and_digest_changes():
    sa = {"x": "double", "country": "string", "old": "long"}
    sb = {"x": "long", "country": "string", "new": "double"}
    a = _run(datasets=(DatasetRef("feats", "d1", "training", schema=sa, num_rows=10),
                       DatasetRef("eval", "e1", "eval")))
    b = _run("b" * 32, datasets=(DatasetRef("feats", "d2", "training", schema=sb, num_rows=12),))
    ds = {d.name: d for d in diff_runs(a, b).datasets}
    f = ds["feats"]
    assert (f.status, f.columns_added, f.columns_removed, f.type_changes) == (
        "changed", ("new",), ("old",), (("x", "double", "long"),))
    assert (f.rows_a, f.rows_b) == (10, 12)
    assert ds["eval"].status == "removed"


def test_tags_put_code_first_and_ignore_run_bookkeeping():
    a = _run(tags={"mlflow.runName": "x", "zeta": "1", "mlflow.source.git.commit": "aaa", "mlflow.user": "u"})
    b = _run("b" * 32, tags={"mlflow.runName": "y", "zeta": "1", "mlflow.source.git.commit": "bbb",
                             "mlflow.user": "u"})
    d = diff_runs(a, b)
    assert [t.key for t in d.tags] == ["mlflow.source.git.commit", "mlflow.user", "zeta"]
    assert d.code_change.b == "bbb" and [t.key for t in d.changed_tags] == ["mlflow.source.git.commit"]


def test_artifacts_added_removed_resized_and_warnings():
    a = _run(artifacts=(ArtifactRef("model/a", 5), ArtifactRef("model/b", 7)), lifecycle_stage="deleted")
    b = _run(artifacts=(ArtifactRef("model/a", 6), ArtifactRef("model/c", 1)), status="RUNNING",
             artifacts_truncated=True)
    d = diff_runs(a, b)
    assert [(x.path, x.status) for x in d.artifacts] == [("model/a", "changed"), ("model/b", "removed"),
                                                          ("model/c", "added")]
    text = " ".join(d.warnings)
    assert "deleted" in text and "RUNNING" in text and "partial" in text and "same run" in text


def test_identical_runs():
    a = _run(params={"p": "1"}, metrics={"m": 1.0})
    d = diff_runs(a, _run("b" * 32, params={"p": "1"}, metrics={"m": 1.0}))
    assert d.identical and d.counts() == {"params": 0, "metrics": 0, "tags": 0, "datasets": 0, "artifacts": 0}


def test_choose_runs_uses_deployed_at_over_registration():
    t = ONSET - timedelta(days=30)
    h = _history(
        _version(1, t),
        _version(2, t + timedelta(days=1), deployed_at=ONSET - timedelta(hours=1)),
        _version(3, t + timedelta(days=2)),  # registered later but never deployed: effective at registration
        _version(4, ONSET + timedelta(hours=2)),  # after the onset
        _version(5, t, run_id=None),  # no run: skipped
    )
    c = choose_runs(h, ONSET)
    assert (c.incident.version, c.last_good.version) == (2, 3)
    assert "deployed 1h 00m before the onset" in c.reason
    assert choose_runs(h, t - timedelta(days=1)).last_good is None
    assert choose_runs(_history(), ONSET).incident is None
    with pytest.raises(InvalidInputError):
        choose_runs(h, datetime(2026, 1, 1))


def test_verdict_inside_outside_and_without_change():
    v = _version(2, ONSET - timedelta(minutes=30))
    changed = diff_runs(_run(params={"t": "log1p"}), _run("b" * 32, params={"t": "identity"}))
    yes = regression_verdict(changed, v, ONSET, within_hours=1)
    assert yes.finding and yes.title == "m v2 changed a parameter 30m before the onset"
    assert yes.to_result()["lead_time_s"] == 1800
    late = regression_verdict(changed, _version(2, ONSET - timedelta(hours=30)), ONSET, within_hours=24)
    assert not late.finding and "not within 24 h" in late.title
    after = regression_verdict(changed, _version(2, ONSET + timedelta(hours=1)), ONSET)
    assert not after.finding and "after the onset" in after.explanation
    same = regression_verdict(diff_runs(_run(), _run("b" * 32)), v, ONSET)
    assert not same.finding and "no parameter, code or training-data change" in same.title
    for bad in (0, -1, "x"):
        with pytest.raises(InvalidInputError, match="within_hours"):
            regression_verdict(changed, v, ONSET, within_hours=bad)


def test_parse_schema_tolerates_other_shapes():
    assert parse_schema('{"mlflow_colspec": [{"type": "double", "name": "x"}]}') == {"x": "double"}
    assert parse_schema("not json") == {} and parse_schema(None) == {}
    assert parse_schema('[{"name": "y", "type": "long"}]') == {"y": "long"}
