"""AppTest of the Traces page: no traces, then SDK-made traces in the bundle: map, cascade origin, search, waterfall."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

PAGE = "app_pages/traces.py"
ID = "demo-schema-change"


def _incident(home: Path):
    from core.store import open_store
    from core.store.incidents import get_incident

    store = open_store(f"sqlite:///{home / 'workbench.db'}")
    try:
        return get_incident(store, ID)
    finally:
        store.dispose()


def test_without_traces_the_page_says_so(app_test):
    at = app_test(PAGE, incident=ID)
    assert not at.exception
    assert at.title[0].value == "Traces"
    assert any("no traces" in i.value for i in at.info)


def test_map_cascade_search_and_waterfall(app_test, workbench_home, monkeypatch):
    from core.analysis import traces as ta

    from tests.core.test_traces_otel import Chain, write_collector_file

    incident = _incident(workbench_home)
    start = incident.window.start
    chain = Chain()
    for i in range(60):  # the feature store fails from the 20th request on
        at = start + timedelta(seconds=30 * i)
        chain.request(at, feature_fails=i >= 20)
    write_collector_file(Path(incident.bundle_path) / "traces" / "spans.jsonl", chain.spans())
    at = app_test(PAGE, incident=ID)
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The cascade most likely started in **feature\\-store** (data)" in text
    frames = [d.value for d in at.dataframe]
    ranking = next(f for f in frames if "rank" in f)
    assert list(ranking["service"])[0] == "feature-store" and ranking.iloc[0]["inherited share"] == "0%"
    assert set(frames[-1]["name"]) == {"get_features"}  # the search opens on the origin's errors
    assert any(str(e.value).startswith("Edges caller") for e in at.caption)
    assert at.selectbox(key="traces_trace").value
    at.text_input(key="traces_query").set_value("service:scorer").run()
    assert not at.exception
    assert set(at.dataframe[-1].value["service"]) == {"scorer"}
    calls = []
    for name in ("service_map", "service_map_diff", "span_diff", "cascade_ranking"):
        real = getattr(ta, name)
        monkeypatch.setattr(ta, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    at.run()  # a rerun (a click elsewhere on the page) answers from the cache: no analysis runs again
    assert not at.exception
    assert calls == []


def test_a_configured_jaeger_feeds_the_page(app_test, workbench_home, monkeypatch):
    """An incident without a traces/ folder reads its baseline and window from a Jaeger query API
    (a local server answering with recorded responses: no Jaeger server runs here)."""
    import threading
    from http.server import ThreadingHTTPServer

    from core.store import open_store
    from core.store.incidents import create_incident
    from tests.core.test_traces_api import TOKEN, Recorded, _Server
    from tests.core.test_traces_otel import BASELINE, WINDOW, fraud_chain

    store = open_store(f"sqlite:///{workbench_home / 'workbench.db'}")
    try:
        create_incident(store, id="traces-from-jaeger", title="Fraud scorer cascade", window=WINDOW,
                        baseline=BASELINE)
    finally:
        store.dispose()
    _Server.recorded, _Server.requests, _Server.mode = Recorded(fraud_chain().spans()), [], "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("JAEGER_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
        monkeypatch.setenv("JAEGER_TOKEN", TOKEN)
        at = app_test(PAGE, incident="traces-from-jaeger")
        assert not at.exception, at.exception
        assert not at.radio  # one source: nothing to choose
        text = " ".join(m.value for m in at.markdown)
        assert "The cascade most likely started in **feature\\-store**" in text
        assert any(path.startswith("/api/traces") for path, _q, _h in _Server.requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
