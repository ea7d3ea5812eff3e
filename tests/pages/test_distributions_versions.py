"""AppTest of the Distributions page's historical states: Delta versions, the feature store, training data."""

from __future__ import annotations

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


def test_the_fraud_demo_shows_its_stale_feature_view(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    panel = next(e for e in at.expander if e.label.startswith("Feature store"))
    assert "1 of 2 feature view(s) stale" in panel.label
    table = next(d.value for d in at.dataframe if "feature view" in d.value.columns)
    row = table[table["feature view"] == "account_features"].iloc[0]
    assert row["state"] == "STALE since 2026-02-04T03:05:00Z" and row["TTL (h)"] == 1


def test_training_data_waits_for_a_click_and_names_a_bad_run(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    at.radio(key="distributions_source").set_value("Training data").run()
    assert not at.exception and any("Give the model's MLflow run" in i.value for i in at.info)
    at.text_input(key="distributions_training_run").input("0123456789abcdef0123456789abcdef").run()
    at.button(key="distributions_training_go").click().run()
    assert not at.exception
    assert at.error, "an unknown run is a message"
