"""AppTest of the Models page over W&B runs: the image demo's bundle carries real offline W&B runs."""

from __future__ import annotations

from core.store import open_store
from core.store.timeline import list_events

PAGE = "app_pages/models.py"


def test_wandb_runs_of_the_incident_are_the_default_with_the_same_diff(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-image-downscale")
    assert not at.exception
    assert at.segmented_control(key="models_system").value == "W&B"
    assert any(c.value.startswith("W&B: ") and c.value.endswith("wandb") for c in at.caption)
    assert at.selectbox(key="models_model").value == "product-classifier"
    assert at.selectbox(key="models_version_b").value == 1 and at.selectbox(key="models_version_a").value == 0
    params = next(d.value for d in at.dataframe if "key" in d.value.columns and "last good" in d.value.columns)
    changed = dict(zip(params["key"], zip(params["last good"], params["incident"])))
    assert changed["lr"] == ("0.001", "0.0007") and changed["epochs"] == ("12", "16")
    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    try:
        titles = [e.title for e in list_events(store, "demo-image-downscale") if e.source == "wandb"]
    finally:
        store.dispose()
    assert any(t.startswith("product-classifier v1 deployed (W&B)") for t in titles), titles
    assert any(t.startswith("W&B run train-v2 finished") for t in titles), titles


def test_mlflow_stays_the_default_elsewhere_and_wandb_without_runs_says_how(app_test, monkeypatch):
    for var in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(var, raising=False)
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    assert at.segmented_control(key="models_system").value == "MLflow"
    at.segmented_control(key="models_system").set_value("W&B").run()
    assert not at.exception
    assert any("no W&B runs and no W&B project is configured" in i.value for i in at.info)
    at.text_input(key="models_wandb").input("/nonexistent/wandb-runs").run()
    assert not at.exception
    assert any("not found" in e.value for e in at.error)
