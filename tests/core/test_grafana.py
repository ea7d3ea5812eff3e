"""Grafana: Explore URLs, annotation push and import, against recorded answers on a local HTTP server."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from core.config import load_settings
from core.errors import InvalidInputError, SourceUnavailableError
from core.models import Incident, TimelineEvent, TimeWindow
from core.sources.grafana import GrafanaClient, annotations_for, configured, explore_url, read_annotations

RECORDED = Path(__file__).parent / "recorded" / "grafana"
TOKEN = "glsa_secret_token_456"
WINDOW = TimeWindow(datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc), datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))


def _settings(**env):
    return load_settings({f"GRAFANA_{k.upper()}": v for k, v in env.items()}, secrets_path=Path("/nonexistent.toml"))


def _state(url: str, key: str) -> dict:
    return json.loads(parse_qs(urlsplit(url).query)[key][0])


def test_explore_url_for_prometheus_uses_the_panes_state_and_absolute_range():
    config = _settings(url="https://grafana.example.com/", prometheus_datasource="prom-uid", org_id="3")
    assert configured(config, "prometheus") and not configured(config, "elasticsearch")
    url = explore_url(config, "prometheus", 'rate(http_requests_total{job="scorer"}[5m])', WINDOW)
    assert url.startswith("https://grafana.example.com/explore?schemaVersion=1&panes=")
    q = parse_qs(urlsplit(url).query)
    assert q["orgId"] == ["3"]
    pane = _state(url, "panes")["wb"]
    assert pane["datasource"] == "prom-uid"
    assert pane["range"] == {"from": "1714557600000", "to": "1714564800000"}
    assert pane["queries"][0]["expr"] == 'rate(http_requests_total{job="scorer"}[5m])'
    assert pane["queries"][0]["datasource"] == {"type": "prometheus", "uid": "prom-uid"}
    assert " " not in url and '"' not in url  # fully encoded


def test_explore_url_for_elasticsearch_and_the_grafana_9_format():
    config = _settings(url="https://g.example.com", elasticsearch_datasource="Logs ES", explore_format="left")
    url = explore_url(config, "es", 'service.name:scorer AND log.level:ERROR', WINDOW)
    assert "/explore?orgId=1&left=" in url
    left = _state(url, "left")
    assert left["datasource"] == "Logs ES" and left["range"]["from"] == "1714557600000"
    assert left["queries"][0]["query"] == "service.name:scorer AND log.level:ERROR"
    assert left["queries"][0]["metrics"] == [{"id": "1", "type": "logs"}]


def test_explore_url_needs_its_settings():
    with pytest.raises(InvalidInputError, match="GRAFANA_URL and GRAFANA_PROMETHEUS_DATASOURCE"):
        explore_url(_settings(), "prometheus", "up", WINDOW)
    with pytest.raises(InvalidInputError, match="not a Grafana data source kind"):
        explore_url(_settings(url="http://g"), "loki", "{}", WINDOW)


# ------------------------------------------------------------------ the HTTP API

class _Grafana(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, dict, object, str | None]] = []
    stored: list[dict] = []

    def log_message(self, *args):
        pass

    def _auth(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"message": "invalid API key"})
            return False
        return True

    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        type(self).calls.append(("GET", parts.path, query, None, self.headers.get("Authorization")))
        if not self._auth():
            return
        if parts.path == "/api/annotations":
            tags = set(query.get("tags", []))
            return self._send(200, [a for a in type(self).stored if tags <= set(a.get("tags", []))])
        self._send(404, {"message": "Not found"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        type(self).calls.append(("POST", self.path, {}, body, self.headers.get("Authorization")))
        if not self._auth():
            return
        new = {**body, "id": 2000 + len(type(self).stored)}
        type(self).stored.append(new)
        self._send(200, {"message": "Annotation added", "id": new["id"]})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def grafana():
    _Grafana.calls = []
    _Grafana.stored = json.loads((RECORDED / "annotations.json").read_text())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Grafana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _incident():
    at = lambda h, m=0: datetime(2024, 5, 1, h, m, tzinfo=timezone.utc)  # noqa: E731
    inc = Incident("INC-7", "Scorer returns defaults", milestones={"started": at(10, 5), "detected": at(10, 30),
                                                                   "resolved": None})
    events = [TimelineEvent(1, "INC-7", at(9, 55), "deploy", "scorer 2.4.0", pinned=True),
              TimelineEvent(2, "INC-7", at(10, 40), "log", "a log line nobody pinned"),
              TimelineEvent(3, "INC-7", at(10, 50), "finding", "feature lag", end=at(11, 20), pinned=True)]
    return inc, events


def test_annotations_for_milestones_and_pinned_events():
    inc, events = _incident()
    items = annotations_for(inc, events)
    assert [i["text"] for i in items] == ["INC-7: started", "INC-7: detected", "INC-7: scorer 2.4.0",
                                          "INC-7: feature lag"]
    assert all("incident:INC-7" in i["tags"] for i in items)
    assert items[3]["timeEnd"] - items[3]["time"] == 30 * 60 * 1000


def test_push_posts_annotations_once(grafana):
    inc, events = _incident()
    client = GrafanaClient.from_settings(_settings(url=grafana, token=TOKEN, org_id="2"))
    assert TOKEN not in repr(client)
    first = client.push(inc, events)
    assert len(first["added"]) == 4 and first["skipped"] == 0
    posts = [c for c in _Grafana.calls if c[0] == "POST"]
    assert all(c[1] == "/api/annotations" and c[4] == f"Bearer {TOKEN}" for c in posts)
    assert posts[0][3] == {"time": 1714557900000, "tags": ["incident:INC-7", "milestone", "started"],
                           "text": "INC-7: started"}
    again = client.push(inc, events)
    assert again == {"added": [], "skipped": 4}
    got = client.annotations(tags=["incident:INC-7"])
    assert len(got) == 4


def test_refused_and_unreachable_grafana_are_exit_4(grafana):
    from tests.servers import free_port

    with pytest.raises(SourceUnavailableError, match="refused the token") as err:
        GrafanaClient(grafana, "wrong").annotations()
    assert err.value.exit_code == 4 and "wrong" not in str(err.value)
    with pytest.raises(SourceUnavailableError, match="cannot be reached"):
        GrafanaClient(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2).annotations()


def test_recorded_annotations_and_alert_history_become_timeline_events(grafana):
    events = read_annotations(RECORDED / "annotations.json")
    assert [e["kind"] for e in events] == ["annotation", "alert"]
    assert events[0]["title"] == "scorer 2.4.0 deployed" and events[0]["end"] is None
    assert events[1]["title"] == "Grafana alert Scorer default rate high: ok → alerting"
    history = read_annotations(RECORDED / "alert_history.json")
    assert [e["attributes"]["state"] for e in history] == ["Alerting", "Normal"]
    assert history[0]["timestamp"] == datetime(2024, 5, 1, 10, 25, tzinfo=timezone.utc)
    served = GrafanaClient(grafana, TOKEN).annotations(window=WINDOW)
    assert read_annotations(served)[0]["title"] == "scorer 2.4.0 deployed"


def test_other_json_is_refused_naming_the_file(tmp_path):
    (tmp_path / "spans.json").write_text('{"resourceSpans": []}')
    with pytest.raises(InvalidInputError, match=r"spans.json: neither Grafana annotations"):
        read_annotations(tmp_path / "spans.json")
    (tmp_path / "cut.json").write_text('[{"time": 17')
    with pytest.raises(InvalidInputError, match=r"cut.json: not JSON"):
        read_annotations(tmp_path / "cut.json")


def test_page_helper_gives_a_link_only_when_configured(monkeypatch, tmp_path):
    from core.config import reset_settings
    from ui.grafana import grafana_url

    monkeypatch.chdir(tmp_path)  # no secrets file
    for var in ("GRAFANA_URL", "GRAFANA_PROMETHEUS_DATASOURCE", "GRAFANA_ELASTICSEARCH_DATASOURCE"):
        monkeypatch.delenv(var, raising=False)
    reset_settings()
    assert grafana_url("prometheus", "up", WINDOW) is None
    monkeypatch.setenv("GRAFANA_URL", "https://grafana.example.com")
    monkeypatch.setenv("GRAFANA_PROMETHEUS_DATASOURCE", "prom")
    reset_settings()
    try:
        url = grafana_url("prometheus", "up", WINDOW)
        assert url and _state(url, "panes")["wb"]["queries"][0]["expr"] == "up"
        assert grafana_url("elasticsearch", "level:ERROR", WINDOW) is None
        assert grafana_url("prometheus", "up", (WINDOW.start, WINDOW.end)) == url
    finally:
        monkeypatch.undo()
        reset_settings()


# ------------------------------------------------------------------ the command line

def _cli(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    full = {k: v for k, v in os.environ.items() if not k.startswith("GRAFANA_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "core", "grafana", *args], cwd=root, capture_output=True,
                          text=True, timeout=120, env=full)


def test_cli_link_import_and_push(grafana, tmp_path):
    from core.store import open_store
    from core.store.incidents import create_incident
    from core.store.timeline import add_event

    env = {"GRAFANA_URL": grafana, "GRAFANA_TOKEN": TOKEN, "GRAFANA_PROMETHEUS_DATASOURCE": "prom"}
    link = _cli("link", "--datasource", "prometheus", "--query", "up", "--window",
                "2024-05-01T10:00Z/2024-05-01T12:00Z", env=env)
    assert link.returncode == 0, link.stderr
    assert _state(link.stdout.strip(), "panes")["wb"]["range"] == {"from": "1714557600000", "to": "1714564800000"}
    imported = _cli("import", str(RECORDED / "alert_history.json"), "--json")
    assert imported.returncode == 0 and [e["attributes"]["state"] for e in json.loads(imported.stdout)] == [
        "Alerting", "Normal"]
    (tmp_path / "x.json").write_text('{"resourceSpans": []}')
    bad = _cli("import", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and "x.json: neither Grafana annotations" in bad.stderr

    db = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(db)
    try:
        create_incident(store, id="INC-9", title="Scorer defaults",
                        milestones={"started": "2024-05-01T10:05:00Z"})
        add_event(store, "INC-9", timestamp="2024-05-01T09:55:00Z", kind="deploy", title="scorer 2.4.0", pinned=True)
        add_event(store, "INC-9", timestamp="2024-05-01T10:40:00Z", kind="log", title="not pinned")
    finally:
        store.dispose()
    pushed = _cli("push", "INC-9", "--database", db, "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert len(json.loads(pushed.stdout)["added"]) == 2
    added = _cli("import", str(RECORDED / "annotations.json"), "--incident", "INC-9", "--database", db)
    assert added.returncode == 0 and "2 event(s) added to the timeline of INC-9" in added.stdout, added.stderr
    from core.store.timeline import list_events

    store = open_store(db)
    try:
        titles = [e.title for e in list_events(store, "INC-9")]
    finally:
        store.dispose()
    assert "Grafana alert Scorer default rate high: ok → alerting" in titles
    refused = _cli("push", "INC-9", "--database", db, env={**env, "GRAFANA_TOKEN": "nope"})
    assert refused.returncode == 4 and "refused the token" in refused.stderr


def test_page_buttons_open_explore_and_push_annotations(grafana, tmp_path, monkeypatch):
    """The two page helpers in a real Streamlit run (AppTest): the link, and the push button."""
    from streamlit.testing.v1 import AppTest

    from core.config import reset_settings
    from core.store import open_store
    from core.store.incidents import create_incident
    from core.store.timeline import add_event

    db = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(db)
    create_incident(store, id="INC-3", title="Scorer defaults", milestones={"started": "2024-05-01T10:05:00Z"})
    add_event(store, "INC-3", timestamp="2024-05-01T09:55:00Z", kind="deploy", title="scorer 2.4.0", pinned=True)
    store.dispose()
    script = tmp_path / "page.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from datetime import datetime, timezone\n"
        "from core.models import TimeWindow\n"
        "from core.store import open_store\n"
        "from core.store.incidents import get_incident\n"
        "from ui.grafana import explore_link, push_annotations_button\n"
        "w = TimeWindow(datetime(2024, 5, 1, 10, tzinfo=timezone.utc), datetime(2024, 5, 1, 12, tzinfo=timezone.utc))\n"
        "explore_link('prometheus', 'up', w)\n"
        "explore_link('elasticsearch', 'level:ERROR', w)\n"
        f"store = open_store({db!r})\n"
        "push_annotations_button(store, get_incident(store, 'INC-3'))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRAFANA_URL", grafana)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    monkeypatch.setenv("GRAFANA_PROMETHEUS_DATASOURCE", "prom")
    monkeypatch.delenv("GRAFANA_ELASTICSEARCH_DATASOURCE", raising=False)
    reset_settings()
    try:
        at = AppTest.from_file(str(script)).run(timeout=60)
        assert not at.exception
        links = at.get("link_button")
        assert len(links) == 1 and links[0].proto.url.startswith(f"{grafana}/explore?schemaVersion=1&panes=")
        at.button[0].click().run(timeout=60)
        assert [s.value for s in at.success] == ["2 annotation(s) added to Grafana, 0 already there."]
        assert len([c for c in _Grafana.calls if c[0] == "POST"]) == 2
    finally:
        monkeypatch.undo()
        reset_settings()
