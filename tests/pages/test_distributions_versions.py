"""AppTest of the Distributions page's historical states: Delta versions, the feature store, training data."""

from __future__ import annotations

import pytest

PAGE = "app_pages/distributions.py"


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def test_data_versions_show_the_history_and_compare_two_versions(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    at.radio(key="distributions_source").set_value("Data versions").run()
    assert not at.exception
    assert at.selectbox(key="distributions_versions_table").value == "lab_results"
    history = at.dataframe[0].value
    assert list(history["version"]) == ["3", "2", "1", "0"]
    assert "added radius_mean" in history.loc[history["version"] == "2", "change"].iloc[0]
    assert any("4 version(s), 1 with a schema change" in c.value for c in at.caption)
    # the default pair straddles the schema change: the version before it and the latest
    assert at.selectbox(key="distributions_versions_a").value == "1"
    assert at.selectbox(key="distributions_versions_b").value == "3"
    assert any("Declared schema change from 1 to 3" in w and "radius_mean" in w for w in _warnings(at))
    assert at.metric[0].value == "400" and at.metric[1].value == "400"  # 0+1 appended; 2 overwrote, 3 appended
    assert any("renamed" in e.label for e in at.expander)


def test_two_versions_before_the_change_show_no_schema_change(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    at.radio(key="distributions_source").set_value("Data versions").run()
    at.selectbox(key="distributions_versions_a").set_value("0").run()
    at.selectbox(key="distributions_versions_b").set_value("1").run()
    assert not at.exception
    assert not any("Declared schema change" in w for w in _warnings(at))
    at.selectbox(key="distributions_versions_b").set_value("0").run()
    assert any("Pick two different versions" in i.value for i in at.info)


def test_a_bundle_without_versioned_tables_says_so(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.radio(key="distributions_source").set_value("Data versions").run()
    assert not at.exception
    assert any("no Delta table" in i.value for i in at.info)


def _feature_panel(at):
    return next(e for e in at.expander if e.label.startswith("Feature store"))


def test_the_fraud_demo_shows_its_stale_feature_view(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    panel = _feature_panel(at)
    assert "1 of 2 feature view(s) stale" in panel.label
    table = next(d.value for d in panel.dataframe if "feature view" in d.value.columns)
    row = table[table["feature view"] == "account_features"].iloc[0]
    # times in words, against the incident's onset (03:10, the one onset policy), never raw ISO text
    assert row["state"] == "STALE since 2026-02-04 03:05 UTC (5m before the onset)"
    assert row["last materialised to"] == "2026-02-04 02:05 UTC (1h 05m before the onset)"
    assert row["TTL"] == "1h" and table.set_index("feature view").loc["merchant_risk", "TTL"] == "1d"
    assert any("2026-02-05 00:00 UTC (20h 50m after the onset)" in c.value for c in panel.caption)


def _feast_available() -> str | None:
    from core.errors import WorkbenchError
    from core.sources.features_feast import feast_python

    try:
        return feast_python()
    except WorkbenchError:
        return None


@pytest.mark.skipif(_feast_available() is None, reason="feast lives in its own venv (.venv/feast), not made here; "
                                                       "see README, Feature store (Feast)")
def test_the_fraud_demo_compares_the_stale_views_values_at_two_times_in_feast(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", timeout=400)
    panel = _feature_panel(at)
    assert at.selectbox(key="distributions_feast_view").value == "account_features"  # the stale view first
    assert at.text_input(key="distributions_feast_a").value == "2026-02-03 12:00"  # the baseline's end
    assert at.text_input(key="distributions_feast_b").value == "2026-02-05 00:00"  # the window's end
    assert not panel.metric  # nothing runs before the click
    at.button(key="distributions_feast_go").click().run()
    assert not at.exception
    panel = _feature_panel(at)
    metrics = {m.label: m.value for m in panel.metric}
    assert metrics == {"Entities": "40", "No values before": "0", "No values after": "40",
                       "Drifted features": "3 / 3"}
    errors = [e.value.replace("\\", "") for e in panel.error]
    assert any("Null rate of 'txn_count_1h' went from 0.0% to 100.0%" in e for e in errors), errors
    table = next(d.value for d in panel.dataframe if "feature" in d.value.columns)
    assert set(table["empty after"]) == {"100%"} and set(table["empty before"]) == {"0%"}
    # two times when every account still had values: the same distribution, nothing empty
    at.text_input(key="distributions_feast_b").input("2026-02-04 02:30").run()
    at.button(key="distributions_feast_go").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in _feature_panel(at).metric}
    assert metrics["No values after"] == "0" and not _feature_panel(at).error


def test_without_feast_the_panel_says_how_to_install_it(app_test, monkeypatch, tmp_path):
    import importlib.util

    import core.sources.features_feast as ff

    real = importlib.util.find_spec
    monkeypatch.setattr(ff, "VENV_PYTHON", tmp_path / "no-venv" / "python")
    monkeypatch.setattr(ff.importlib.util, "find_spec", lambda name, *a: None if name == "feast" else real(name, *a))
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    notes = [i.value for i in _feature_panel(at).info]
    assert any("requirements-feast.txt" in n and "Feature store (Feast)" in n for n in notes), notes
    monkeypatch.setenv("WORKBENCH_FEAST_PYTHON", str(tmp_path / "missing-python"))
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    assert any("WORKBENCH_FEAST_PYTHON" in e.value and "not an executable file" in e.value
               for e in _feature_panel(at).error)


def test_training_data_waits_for_a_click_and_names_a_bad_run(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    at.radio(key="distributions_source").set_value("Training data").run()
    assert not at.exception and any("Pick the model's run and click Compare" in i.value for i in at.info)
    picks = [s for s in at.selectbox if s.key == "distributions_training_pick"]
    if picks:  # the registry knows the bundle's model: its versions' runs are offered
        picks[0].set_value("Another run (type its id)…").run()
    at.text_input(key="distributions_training_run").input("0123456789abcdef0123456789abcdef").run()
    at.button(key="distributions_training_go").click().run()
    assert not at.exception
    assert at.error, "an unknown run is a message"


def test_the_models_runs_are_offered_and_a_click_compares_with_the_training_data(app_test, tmp_path, demo_bundles):
    """A real MLflow store (SQLite) where fraud-scorer v1's run logged its training data as a dataset input."""
    import warnings

    import mlflow.data
    import pandas as pd
    from mlflow.entities import DatasetInput, InputTag

    from core.sources.mlflow_runs import MlflowRunSource

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowRunSource(uri, create=True).client
    scored = pd.read_parquet(demo_bundles["demo-fraud-stale"] / "datasets" / "scored_transactions.parquet")
    train = scored[scored["timestamp"] < pd.Timestamp("2026-02-03T00:00:00Z")].drop(columns=["timestamp"])
    path = tmp_path / "train.parquet"
    train.to_parquet(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = mlflow.data.from_pandas(train, source=str(path), name="fraud-train")
    run = client.create_run(client.create_experiment("fraud")).info.run_id
    client.log_inputs(run, datasets=[DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "training")])])
    client.create_registered_model("fraud-scorer")
    client.create_model_version("fraud-scorer", f"runs:/{run}/model", run_id=run)

    at = app_test(PAGE, incident="demo-fraud-stale")
    at.session_state["models_uri"] = uri
    at.radio(key="distributions_source").set_value("Training data").run()
    pick = at.selectbox(key="distributions_training_pick")
    assert pick.options[0].startswith("fraud-scorer v1 · run " + run[:8])
    at.button(key="distributions_training_go").click().run()
    assert not at.exception
    assert any("fraud-train" in c.value and "digest matches the run's record" in c.value for c in at.caption)
    assert at.metric[0].value == "{:,}".format(len(train))  # the training rows are the reference
    assert any(e.label.startswith(":red-badge[DRIFTED]") and "fraud\\_score" in e.label for e in at.expander)
