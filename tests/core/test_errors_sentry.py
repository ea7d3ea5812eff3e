"""Sentry: the REST client against recorded responses on a local HTTP server, the export reader against
events captured by the real sentry-sdk, findings, timeline events and bad input."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from core.config import load_settings
from core.errors import InvalidInputError, SourceUnavailableError
from core.models import TimeWindow
from core.sources.errors_sentry import (
    SentryApiSource, SentryExportSource, findings, parse_link_header, timeline_events,
)
from core.sources.factory import open_source
from core.sources.protocols import ErrorSource
from tests.conftest import reset_sentry

RECORDED = Path(__file__).parent / "recorded" / "sentry"
TOKEN = "sntrys_secret_token_123"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------------ a local stand-in serving recorded answers

class _Recorded(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict, str | None]] = []
    status = 200

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        if type(self).status == "slow":
            import time

            time.sleep(2)
        query = parse_qs(parts.query, keep_blank_values=True)
        type(self).requests.append((parts.path, query, self.headers.get("Authorization")))
        if type(self).status not in (200, "slow"):
            return self._send(type(self).status, {"detail": "Invalid token"})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"detail": "Authentication credentials were not provided."})
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}{parts.path}"
        if parts.path.endswith("/issues/"):
            if query.get("cursor") == ["0:100:0"]:
                link = (f'<{base}?cursor=0:0:1>; rel="previous"; results="true"; cursor="0:0:1", '
                        f'<{base}?cursor=0:200:0>; rel="next"; results="false"; cursor="0:200:0"')
                return self._send(200, json.loads((RECORDED / "issues_page2.json").read_text()), link)
            link = (f'<{base}?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
                    f'<{base}?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"')
            return self._send(200, json.loads((RECORDED / "issues_page1.json").read_text()), link)
        for name in ("events", "releases"):
            if parts.path.endswith(f"/{name}/"):
                return self._send(200, json.loads((RECORDED / f"{name}.json").read_text()))
        return self._send(404, {"detail": "The requested resource does not exist"})

    def _send(self, status, body, link=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def sentry_server():
    _Recorded.requests = []
    _Recorded.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _api(url: str, token: str | None = TOKEN) -> SentryApiSource:
    env = {"SENTRY_URL": url, "SENTRY_ORG": "acme", "SENTRY_PROJECT": "scorer", "SENTRY_TIMEOUT": "3"}
    if token:
        env["SENTRY_AUTH_TOKEN"] = token
    return open_source("errors", "sentry", load_settings(env, secrets_path=Path("/nonexistent.toml")))


def test_link_header_is_parsed_as_sentry_sends_it():
    links = parse_link_header('<https://s.io/api/0/x/?&cursor=1:0:1>; rel="previous"; results="false"; '
                              'cursor="1:0:1", <https://s.io/api/0/x/?&cursor=1:100:0>; rel="next"; '
                              'results="true"; cursor="1:100:0"')
    assert links["next"]["results"] == "true" and links["next"]["url"].endswith("cursor=1:100:0")
    assert links["previous"]["results"] == "false"


def test_api_follows_pages_and_sends_the_token(sentry_server):
    src = _api(sentry_server)
    assert isinstance(src, ErrorSource)
    issues = src.issues(TimeWindow(T0, T0 + timedelta(hours=8)))
    assert list(issues["id"]) == ["4001", "3001"]  # both pages, newest last seen first
    assert issues.loc[0, "count"] == 412 and issues.loc[0, "release"] == "scorer@2.4.0"
    paths = [p for p, _q, _a in _Recorded.requests]
    assert paths.count("/api/0/projects/acme/scorer/issues/") == 2
    assert all(a == f"Bearer {TOKEN}" for _p, _q, a in _Recorded.requests)
    assert TOKEN not in repr(src)
    assert src.issues(TimeWindow(T0, T0 + timedelta(hours=8)), query="timeout")["id"].tolist() == ["4001"]


def test_api_data_gives_findings_and_timeline(sentry_server):
    data = _api(sentry_server).data()
    assert data.releases["version"].tolist() == ["scorer@2.3.0", "scorer@2.4.0"]
    onset = datetime(2024, 5, 1, 10, 15, tzinfo=timezone.utc)
    found = findings(data, onset)
    new = [f for f in found if f.kind == "new_after_release"]
    assert len(new) == 1 and new[0].issue_id == "4001"
    assert new[0].detail == ("new issue 'TimeoutError: feature store read timed out' first seen 17 minutes "
                             "after release scorer@2.4.0")
    events = timeline_events(data, TimeWindow(T0, T0 + timedelta(hours=8)))
    titles = [e["title"] for e in events]
    assert "Sentry release scorer@2.4.0" in titles
    assert "New Sentry issue: TimeoutError: feature store read timed out" in titles
    assert any(t.startswith("Sentry issue regressed: ConnectionResetError") for t in titles)


@pytest.mark.parametrize("status, words", [(401, "refused the token"), (403, "denied access")])
def test_api_refusals_are_exit_4_without_the_token(sentry_server, status, words):
    _Recorded.status = status
    with pytest.raises(SourceUnavailableError) as err:
        _api(sentry_server).issues(TimeWindow(T0, T0 + timedelta(hours=1)))
    assert words in str(err.value) and TOKEN not in str(err.value) and err.value.exit_code == 4


def test_api_timeout_and_rate_limit_are_exit_4(sentry_server):
    _Recorded.status = "slow"
    src = SentryApiSource(sentry_server, "acme", "scorer", TOKEN, timeout=0.5)
    with pytest.raises(SourceUnavailableError, match="did not answer within 0.5 s"):
        src.check()
    _Recorded.status = 429
    with pytest.raises(SourceUnavailableError, match="rate-limiting"):
        src.check()


def test_api_unreachable_is_exit_4():
    from tests.servers import free_port

    with pytest.raises(SourceUnavailableError, match="cannot be reached"):
        _api(f"http://127.0.0.1:{free_port()}").issues(None)


def test_api_needs_org_and_project():
    with pytest.raises(InvalidInputError, match="SENTRY_ORG"):
        open_source("errors", "sentry", load_settings({"SENTRY_AUTH_TOKEN": TOKEN},
                                                      secrets_path=Path("/nonexistent.toml")))


# ------------------------------------------------------------------ exports captured by the real sentry-sdk

def capture_scenario(folder: Path) -> datetime:
    """Events of a scorer as the sentry-sdk sends them, written to files by a Transport of the SDK's API.

    Release 1.0: a connection error now and then. Release 2.0 at ``T0 + 3h``: a new KeyError 20 minutes
    later, and the connection error surges after the onset ``T0 + 3h30``. Returns the onset.
    """
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    folder.mkdir(parents=True, exist_ok=True)
    clock = [T0]
    written = []

    class FileTransport(Transport):
        def capture_envelope(self, envelope):
            path = folder / f"event-{len(written):04d}.envelope"
            path.write_bytes(envelope.serialize())
            written.append(path)

    def stamp(event, _hint):
        event["timestamp"] = clock[0].isoformat()
        return event

    def connection_error():
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            sentry_sdk.capture_exception()

    def missing_feature():
        try:
            {}["amount_7d"]
        except KeyError:
            sentry_sdk.capture_exception()

    def init(release):
        sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=FileTransport, release=release,
                        before_send=stamp, default_integrations=False)

    init("scorer@1.0")
    for minutes in (0, 70, 140):
        clock[0] = T0 + timedelta(minutes=minutes)
        connection_error()
    init("scorer@2.0")
    clock[0] = T0 + timedelta(hours=3)
    connection_error()
    clock[0] = T0 + timedelta(hours=3, minutes=20)
    missing_feature()
    onset = T0 + timedelta(hours=3, minutes=30)
    for k in range(8):
        clock[0] = onset + timedelta(minutes=5 * k + 1)
        connection_error()
    reset_sentry()
    return onset


def test_export_reader_reads_sdk_envelopes_and_finds_release_and_surge(tmp_path):
    onset = capture_scenario(tmp_path / "errors")
    src = open_source("errors", str(tmp_path / "errors"))
    assert isinstance(src, SentryExportSource) and isinstance(src, ErrorSource)
    data = src.data()
    assert len(data.events) == 13 and len(data.issues) == 2
    assert data.releases["version"].tolist() == ["scorer@1.0", "scorer@2.0"]
    key_error = data.issues[data.issues["title"].str.startswith("KeyError")].iloc[0]
    assert key_error["culprit"].endswith("in missing_feature")
    found = {f.kind: f for f in findings(data, onset, baseline=TimeWindow(T0, onset))}
    assert found["new_after_release"].minutes == 20 and found["new_after_release"].release == "scorer@2.0"
    assert "first seen 20 minutes after release scorer@2.0" in found["new_after_release"].detail
    surge = found["surge"]
    assert surge.title.startswith("ConnectionResetError") and surge.data == {"before": 4, "during": 8}
    kinds = [e["title"] for e in timeline_events(data)]
    assert kinds.count("Sentry release scorer@2.0") == 1 and any(k.startswith("New Sentry issue: KeyError") for k in kinds)


def test_export_reader_reads_api_event_json_lines(tmp_path):
    lines = [json.dumps({"eventID": f"e{i}", "groupID": "77", "title": "ValueError: bad", "dateCreated":
                         f"2024-05-01T10:0{i}:00Z", "tags": [{"key": "release", "value": "r1"}]}) for i in range(3)]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    issues = SentryExportSource(tmp_path).issues(None)
    assert issues["id"].tolist() == ["77"] and issues.loc[0, "count"] == 3


def test_export_of_another_format_names_file_and_line(tmp_path):
    (tmp_path / "spans.jsonl").write_text('{"event_id": "a", "timestamp": "2024-05-01T10:00:00Z"}\n'
                                          '{"resourceSpans": []}\n')
    with pytest.raises(InvalidInputError, match=r"spans.jsonl line 2: not a Sentry event"):
        SentryExportSource(tmp_path)
    (tmp_path / "spans.jsonl").unlink()
    (tmp_path / "cut.jsonl").write_text('{"event_id": "a", "timestamp": "2024-05-01T10:00:00Z"}\n{"event_id": "b", "ti')
    with pytest.raises(InvalidInputError, match=r"cut.jsonl line 2: not JSON"):
        SentryExportSource(tmp_path)


def test_truncated_envelope_names_the_file(tmp_path):
    capture_scenario(tmp_path / "errors")
    first = sorted((tmp_path / "errors").iterdir())[0]
    first.write_bytes(first.read_bytes()[:400])
    with pytest.raises(InvalidInputError, match=rf"{first.name} line 3: an envelope event payload that is not JSON"):
        SentryExportSource(tmp_path / "errors")


# ------------------------------------------------------------------ the triage step

def _bundle(path: Path, *, errors_from: Path | None = None) -> Path:
    import numpy as np
    import pandas as pd

    from core.bundle import write_bundle

    idx = pd.date_range(T0 - timedelta(hours=6), T0 + timedelta(hours=8), freq="5min", inclusive="left")
    kpi = pd.DataFrame({"timestamp": idx, "value": 0.1 + np.random.default_rng(1).normal(0, 0.002, len(idx))})
    z = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
    manifest = {"id": "sentry-case", "title": "Scorer errors", "kpi": {"metric": "ctr", "direction": "higher_is_better"},
                "baseline": {"start": z(T0 - timedelta(hours=6)), "end": z(T0 + timedelta(hours=3))},
                "window": {"start": z(T0 + timedelta(hours=3)), "end": z(T0 + timedelta(hours=8))}}
    out = write_bundle(path, manifest, metrics={"ctr": kpi})
    if errors_from is not None:
        import shutil

        shutil.copytree(errors_from, Path(out) / "errors")
    return Path(out)


def _context(bundle_path: Path, at: datetime):
    from core.bundle import read_bundle
    from core.triage.models import TriageContext

    return TriageContext(bundle=read_bundle(bundle_path), onset=None, at=at, data_end=at)


def test_triage_step_is_skipped_without_errors_or_sentry(tmp_path, monkeypatch):
    from core.config import reset_settings
    from core.triage.steps.errors import ErrorsStep

    for var in ("SENTRY_ORG", "SENTRY_PROJECT", "SENTRY_URL", "SENTRY_AUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    reset_settings()
    outcome = ErrorsStep().run(_context(_bundle(tmp_path / "b"), T0 + timedelta(hours=3, minutes=30)))
    assert outcome.result.status == "skipped" and "no errors/ folder" in outcome.result.summary
    assert outcome.signals == ()
    with pytest.raises(InvalidInputError, match="bundle sentry-case has no errors/ folder"):
        open_source("errors", str(tmp_path / "b"))


def test_triage_step_turns_sentry_findings_into_evidence(tmp_path):
    from core.triage.steps.errors import ErrorsStep

    onset = capture_scenario(tmp_path / "captured")
    outcome = ErrorsStep().run(_context(_bundle(tmp_path / "b", errors_from=tmp_path / "captured"), onset))
    assert outcome.result.status == "ok"
    rules = {s.rule: s for s in outcome.signals}
    assert rules["sentry_new_issue_after_release"].root_cause.value == "code_regression"
    assert rules["sentry_issue_surge"].root_cause.value == "infrastructure"
    assert "20 minutes after release scorer@2.0" in rules["sentry_new_issue_after_release"].evidence.detail
    assert 0 < rules["sentry_new_issue_after_release"].strength <= 1


def test_triage_step_reads_the_configured_sentry_api(tmp_path, sentry_server, monkeypatch):
    from core.config import reset_settings
    from core.triage.steps.errors import ErrorsStep

    monkeypatch.chdir(tmp_path)
    for k, v in {"SENTRY_URL": sentry_server, "SENTRY_ORG": "acme", "SENTRY_PROJECT": "scorer",
                 "SENTRY_AUTH_TOKEN": TOKEN}.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    try:
        at = datetime(2024, 5, 1, 10, 15, tzinfo=timezone.utc)
        outcome = ErrorsStep().run(_context(_bundle(tmp_path / "b"), at))
    finally:
        monkeypatch.undo()
        reset_settings()
    assert outcome.result.status == "ok"
    assert [s.rule for s in outcome.signals] == ["sentry_new_issue_after_release"]


# ------------------------------------------------------------------ the command line

def _cli(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "core", "errors", *args], cwd=root, capture_output=True,
                          text=True, timeout=120, env=full)


def test_cli_reads_an_export_and_exits_0_2_4(tmp_path, sentry_server):
    onset = capture_scenario(tmp_path / "errors")
    proc = _cli(str(tmp_path / "errors"), "--onset", onset.isoformat(), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {f["kind"] for f in out["findings"]} == {"new_after_release", "surge"}
    assert len(out["issues"]) == 2 and any(e["title"] == "Sentry release scorer@2.0" for e in out["timeline"])
    text = _cli(str(tmp_path / "errors"), "--onset", onset.isoformat())
    assert text.returncode == 0 and "first seen 20 minutes after release scorer@2.0" in text.stdout
    from core.store import open_store
    from core.store.incidents import create_incident
    from core.store.timeline import list_events

    db = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(db)
    create_incident(store, id="INC-5", title="Scorer errors")
    store.dispose()
    stored = _cli(str(tmp_path / "errors"), "--incident", "INC-5", "--database", db)
    assert stored.returncode == 0 and "event(s) added to the timeline of INC-5" in stored.stdout, stored.stderr
    store = open_store(db)
    try:
        titles = [e.title for e in list_events(store, "INC-5")]
    finally:
        store.dispose()
    assert "Sentry release scorer@2.0" in titles and any(t.startswith("New Sentry issue: KeyError") for t in titles)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.json").write_text('{"resourceSpans": []}')
    bad = _cli(str(tmp_path / "other"))
    assert bad.returncode == 2 and "x.json: not a Sentry event" in bad.stderr and "Traceback" not in bad.stderr
    env = {"SENTRY_URL": sentry_server, "SENTRY_ORG": "acme", "SENTRY_PROJECT": "scorer", "SENTRY_AUTH_TOKEN": "wrong"}
    refused = _cli("--sentry", "--json", env=env)
    assert refused.returncode == 4 and "refused the token" in refused.stderr and "wrong" not in refused.stderr
    ok = _cli("--sentry", "--onset", "2024-05-01T10:15:00Z", "--json", env={**env, "SENTRY_AUTH_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr
    assert [f["issue_id"] for f in json.loads(ok.stdout)["findings"]] == ["4001"]


def test_triage_uses_the_step_once_registered(tmp_path):
    from core import triage as tr
    from core.triage import triage_bundle
    from core.triage.steps.errors import NAME, ErrorsStep

    capture_scenario(tmp_path / "captured")
    bundle = _bundle(tmp_path / "b", errors_from=tmp_path / "captured")
    added = NAME not in dict(tr.STEPS)
    if added:
        tr.register(ErrorsStep())
    try:
        result = triage_bundle(bundle)
    finally:
        if added:
            tr.unregister(NAME)
    step = result.step(NAME)
    assert step is not None and step.status == "ok", step
    code = next(h for h in result.hypotheses if h.root_cause.value == "code_regression")
    infra = next(h for h in result.hypotheses if h.root_cause.value == "infrastructure")
    assert "sentry_new_issue_after_release" in {s.rule for s in code.signals}
    assert "sentry_issue_surge" in {s.rule for s in infra.signals}


def test_import_puts_releases_and_new_issues_on_the_timeline(tmp_path, sqlite_store):
    from core.flows.import_bundle import import_bundle
    from core.store.timeline import list_events

    capture_scenario(tmp_path / "captured")
    bundle = _bundle(tmp_path / "b", errors_from=tmp_path / "captured")
    import_bundle(sqlite_store, bundle, copy=False)
    events = [e for e in list_events(sqlite_store, "sentry-case") if e.source.startswith("sentry")]
    titles = " | ".join(e.title for e in events)
    assert events and "scorer@2.0" in titles, titles  # the release that preceded the new issue
    assert all(e.timestamp.tzinfo is not None for e in events)
