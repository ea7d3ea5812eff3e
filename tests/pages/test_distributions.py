"""AppTest of the Distributions page: the planted problems come first, views switch, pins land."""

from __future__ import annotations

from core.store import open_store
from core.store.evidence import list_evidence

PAGE = "app_pages/distributions.py"


def _expander_labels(at) -> list[str]:
    return [e.label for e in at.expander]


def test_schema_change_demo_shows_rename_and_scale_first(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    assert not at.exception
    assert at.title[0].value == "Distributions"
    labels = _expander_labels(at)
    findings = [label for label in labels if "CRITICAL]" in label]
    assert any("renamed" in label and "radius\\_mean" in label for label in findings[:2])
    assert any("scale change" in label and "×10" in label for label in findings[:2])
    assert at.metric[2].value.startswith("3 /")


def test_ctr_demo_shows_the_changed_feature_first(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    columns = [label for label in _expander_labels(at) if label.startswith((":red-badge[DRIFTED]", ":green-badge"))]
    assert "user\\_tenure\\_days" in columns[0] and columns[0].startswith(":red-badge")
    drifted = [label.split("**")[1] for label in columns if label.startswith(":red-badge")]
    assert set(drifted) <= {"user\\_tenure\\_days", "score"}  # the feature, and the scores it moved
    assert any("detected KPI change point" in c.value for c in at.caption)
    first = next(label for label in _expander_labels(at) if "CRITICAL]" in label)
    assert "transform change" in first and "user\\_tenure\\_days" in first and "log1p" in first


def test_views_split_modes_and_pinning(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.radio(key="distributions_view_col_0").set_value("ECDF").run()
    assert not at.exception
    at.radio(key="distributions_split_mode").set_value("Shared time range").run()
    assert not at.exception and any("rows in 2026-03-11T12:00:00Z" in c.value for c in at.caption)
    at.radio(key="distributions_split_mode").set_value("Custom time").run()
    at.text_input(key="distributions_split_text").input("2030-01-01T00:00:00Z").run()
    assert not at.exception
    assert any("outside the data" in e.value for e in at.error)
    at.text_input(key="distributions_split_text").input("2026-03-12T14:20:00Z").run()
    assert not at.error
    at.text_input(key="distributions_author").input("ana").run()
    at.button(key="distributions_pin_col_0").click().run()
    assert not at.exception
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    pinned = list_evidence(store, "demo-ctr-drop")
    store.dispose()
    ev = next(e for e in pinned if e.kind == "drift")
    assert ev.result["column"] == "user_tenure_days" and ev.result["drifted"]
    assert ev.query["split_at"] == "2026-03-12T14:20:00Z" and ev.author == "ana"
    assert ev.window is not None


def test_fraud_demo_collapsed_prediction_first(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    first = next(label for label in _expander_labels(at) if "CRITICAL]" in label)
    assert "collapsed" in first and "fraud\\_score" in first


def test_local_paths_bad_file_is_a_message(app_test, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.radio(key="distributions_source").set_value("Local paths").run()
    at.text_input(key="distributions_path_ref").input(str(bad))
    at.text_input(key="distributions_path_cur").input(str(bad)).run()
    assert not at.exception
    assert any("cannot be read as PARQUET" in e.value for e in at.error)


def test_time_columns_show_dates_and_a_freshness_lag(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale")
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    quantiles = [f for f in frames if "reference (UTC)" in f.columns]
    assert quantiles, "no time column shows its quantiles as dates"
    assert quantiles[0].loc["median", "reference (UTC)"].startswith("2026-")
    lag = next(f for f in frames if f.index.name and "features_updated_at" in f.index.name)
    assert lag.loc["median", "reference"] == "30m" and lag.loc["median", "current"].startswith("11h")


def test_a_cancelled_comparison_waits_for_compare_now(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    drifted = at.metric[2].value
    # what the Cancel button's callback records when the user stops a running comparison
    at.session_state["distributions_reports"] = {}
    at.session_state["distributions_cancelled"] = True
    at.run()
    assert not at.exception
    assert any("comparison was cancelled" in i.value for i in at.info)
    assert not at.metric  # nothing is computed again until asked
    at.button(key="distributions_compare_again").click().run()
    assert not at.exception
    assert at.metric[2].value == drifted
    assert not any("comparison was cancelled" in i.value for i in at.info)
