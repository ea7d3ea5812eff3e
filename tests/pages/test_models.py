"""AppTest of the Models page over the demo incidents and their seeded MLflow registry."""

from __future__ import annotations

from core.store import open_store
from core.store.evidence import list_evidence
from core.store.timeline import list_events

PAGE = "app_pages/models.py"


def _store(home):
    return open_store(f"sqlite:///{home / 'workbench.db'}")


def _frame(at, column: str):
    """The first dataframe with ``column`` (params come before tags; the runs table has ``name``)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _text(at) -> str:
    parts = [e.value for e in list(at.markdown) + list(at.error) + list(at.info) + list(at.caption)]
    return "\n".join(str(p) for p in parts)


def test_ctr_demo_shows_v42_as_incident_with_the_changed_transform(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    assert at.selectbox(key="models_model").value == "recs-ranker"
    assert at.selectbox(key="models_version_b").value == 42
    assert at.selectbox(key="models_version_a").value == 41
    verdict = at.error[0].value
    assert "v42 changed a parameter and the code version" in verdict
    assert "user_tenure_days_transform: log1p → identity" in _text(at)
    params = _frame(at, "key")
    assert list(params["key"]) == ["user_tenure_days_transform"]
    assert (params["last good"].iloc[0], params["incident"].iloc[0]) == ("log1p", "identity")
    runs = _frame(at, "name")
    assert len(runs) == 42 and "param:user_tenure_days_transform" in runs.columns


def _flat(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _flat(child)


def test_the_verdict_is_the_first_thing_on_the_page(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    order = list(_flat(at.main))
    verdict = next(i for i, e in enumerate(order) if type(e).__name__ == "Error")
    model = next(i for i, e in enumerate(order) if getattr(e, "key", None) == "models_model")
    history = next(i for i, e in enumerate(order) if getattr(e, "value", None) == "Registry history")
    assert verdict < model < history


def test_a_service_without_registry_does_not_show_another_services_history(app_test, workbench_home):
    from core.store.incidents import create_incident

    store = _store(workbench_home)
    inc = create_incident(store, title="Checkout latency", service="checkout-web")
    store.dispose()
    at = app_test(PAGE, incident=inc.id)
    assert not at.exception
    assert any("No registered model belongs to the service 'checkout-web'" in i.value for i in at.info)
    assert not [s for s in at.selectbox if s.key == "models_model"]
    at.toggle(key="models_other_services").set_value(True).run()
    assert not at.exception
    assert "recs-ranker" in at.selectbox(key="models_model").options


def test_show_all_rows_lists_unchanged_params_too(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert len(_frame(at, "key")) == 1
    at.toggle(key="models_show_all").set_value(True).run()
    assert not at.exception
    params = _frame(at, "key")
    assert len(params) > 5 and set(params["change"]) == {"same", "changed"}


def test_pin_verdict_as_run_diff_evidence_on_the_timeline(app_test, workbench_home):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.button(key="models_pin").click().run()
    assert not at.exception
    store = _store(workbench_home)
    (ev,) = list_evidence(store, "demo-ctr-drop", kind="run_diff")
    assert ev.result["finding"] is True and ev.result["version"] == 42
    assert ev.result["changed_params"][0]["key"] == "user_tenure_days_transform"
    pinned = [e for e in list_events(store, "demo-ctr-drop") if e.evidence_id == ev.id]
    assert pinned and pinned[0].timestamp.isoformat().startswith("2026-03-12T13:50")


def test_registry_versions_are_not_duplicated_on_the_timeline(app_test, workbench_home):
    app_test(PAGE, incident="demo-ctr-drop")
    app_test(PAGE, incident="demo-ctr-drop")
    events = [e for e in list_events(_store(workbench_home), "demo-ctr-drop") if e.kind == "model_version"]
    assert [e.title for e in events] == ["recs-ranker v42 promoted to champion"]


def test_schema_change_demo_has_no_model_finding(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    assert not at.exception
    assert at.selectbox(key="models_model").value == "lab-classifier"
    assert not at.error
    assert any("no parameter, code or training-data change" in i.value or "not within" in i.value
               for i in at.info)


def test_earlier_onset_picks_the_earlier_version(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.text_input(key="models_onset").set_value("2026-03-10 00:00").run()
    assert not at.exception
    assert at.selectbox(key="models_version_b").value == 41
    assert at.selectbox(key="models_version_a").value == 40


def test_bad_tracking_uri_shows_the_fix_and_keeps_the_page(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.text_input(key="models_uri").set_value("foo://nowhere").run()
    assert not at.exception
    assert any("not a tracking URI" in e.value for e in at.error)
    at.text_input(key="models_uri").set_value("").run()
    assert not at.exception and at.selectbox(key="models_version_b").value == 42


def test_a_link_keeps_its_version_pair_and_a_new_onset_drops_it(app_test):
    at = app_test(PAGE, incident="demo-ctr-drop")
    label = next(o for o in at.selectbox(key="models_version_a").options if o.startswith("v39 "))
    # a fresh session opened from a link naming v39 shows that pair, not the default 41 → 42
    fresh = app_test(PAGE, incident="demo-ctr-drop", models_version_a=label)
    assert not fresh.exception
    assert (fresh.selectbox(key="models_version_a").value, fresh.selectbox(key="models_version_b").value) == (39, 42)
    # a new onset gives a new default pair, and the address no longer names the old pick
    fresh.text_input(key="models_onset").set_value("2026-03-10 00:00").run()
    assert not fresh.exception
    assert (fresh.selectbox(key="models_version_a").value, fresh.selectbox(key="models_version_b").value) == (40, 41)
    shown = fresh.query_params.get("models_version_a")
    assert not shown or str(shown[0] if isinstance(shown, list) else shown).startswith("v40 ")
