"""MlflowRunSource against a real ``mlflow server`` and the embedded SQLite and file stores."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.servers import free_port, http_ok, running
from core.analysis.rundiff import choose_runs, diff_runs, regression_verdict
from core.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from core.models import iso
from core.sources.mlflow_runs import (
    MlflowRunSource, missing_model_version_events, model_version_events, redact_uri,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
ONSET = T0 + timedelta(days=10)


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` (SQLite backend, temp artifact folder) on a free loopback port."""
    root = tmp_path_factory.mktemp("mlflow-server")
    # create and migrate the database here (WAL, fast commits) so the server only checks it
    MlflowRunSource(f"sqlite:///{root / 'mlflow.db'}", create=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
           "--artifacts-destination", str(root / "artifacts"), "--workers", "1"]
    with running(cmd, root / "server.log", lambda: http_ok(f"{url}/health"), what="mlflow server", cwd=root):
        yield url


def _seed(source: MlflowRunSource, model: str = "ranker", artifacts: Path | None = None) -> dict:
    """Three versions: v1 (old), v2 (last good), v3 (changes a param and commit, 30 min before ONSET).

    ``artifacts`` is the artifact folder for a SQLite store (MLflow's default is ./mlruns in the cwd).
    """
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

    c = source.client
    exp = c.create_experiment(f"{model}-train", artifact_location=artifacts.as_uri() if artifacts else None)
    schema = json.dumps({"mlflow_colspec": [{"type": "double", "name": "x", "required": True},
                                            {"type": "string", "name": "country", "required": True}]})
    runs, artifact_uris = [], []
    for v, (transform, commit, digest, at) in enumerate([
        ("log1p", "c0ffee1", "d1", T0),
        ("log1p", "c0ffee1", "d2", T0 + timedelta(days=7)),
        ("identity", "beef002", "d2", ONSET - timedelta(minutes=30)),
    ], start=1):
        ms = int((at - timedelta(hours=2)).timestamp() * 1000)
        run = c.create_run(exp, start_time=ms, run_name=f"train-{v}",
                           tags={"mlflow.source.git.commit": commit, "mlflow.user": "ci"})
        rid = run.info.run_id
        c.log_batch(rid, params=[Param("transform", transform), Param("lr", "0.1")],
                    metrics=[Metric("auc", 0.80 + 0.01 * v, ms, 0)])
        c.log_inputs(rid, [DatasetInput(Dataset("feats", digest, "local", "{}", schema, '{"num_rows": 100}'),
                                        [InputTag("mlflow.data.context", "training")])])
        c.log_text(rid, f"transform={transform}", "model/spec.txt")
        c.set_terminated(rid, "FINISHED", end_time=ms + 60_000)
        runs.append(rid)
        artifact_uris.append(run.info.artifact_uri)
    c.create_registered_model(model, tags={"service": "recs"})
    for v, (rid, art) in enumerate(zip(runs, artifact_uris), start=1):
        at = [T0, T0 + timedelta(days=7), ONSET - timedelta(minutes=30)][v - 1]
        # a direct artifact URI: "runs:/" sources are resolved through MLflow's global tracking URI
        c.create_model_version(model, source=f"{art}/model", run_id=rid, tags={"deployed_at": iso(at)})
    c.set_registered_model_alias(model, "champion", "3")
    return {"experiment_id": exp, "runs": runs}


@pytest.fixture(scope="module", params=["server", "sqlite", "file"])
def seeded(request, tmp_path_factory):
    """A tracking store of each kind holding the same three-version model."""
    root = tmp_path_factory.mktemp(f"store-{request.param}")
    if request.param == "server":
        uri = request.getfixturevalue("mlflow_server")
    elif request.param == "sqlite":
        uri = f"sqlite:///{root / 'mlflow.db'}"
    else:
        uri = str(root / "mlruns")
    source = MlflowRunSource(uri, create=True)
    with source._global_uri():  # see MlflowRunSource._global_uri: MLflow's file registry needs it
        info = _seed(source, artifacts=root / "artifacts" if request.param == "sqlite" else None)
    return source, info


def test_registry_history_has_versions_aliases_times_and_runs(seeded, tmp_path, monkeypatch):
    source, info = seeded
    monkeypatch.chdir(tmp_path)
    h = source.registry_history("ranker")
    assert [v.version for v in h.versions] == [1, 2, 3]
    assert h.aliases == {"champion": 3}
    assert h.versions[2].aliases == ("champion",)
    assert h.versions[2].deployed_at == ONSET - timedelta(minutes=30)
    assert h.versions[2].time_basis == "deployed"
    assert [v.run_id for v in h.versions] == info["runs"]
    assert source.list_models(service="recs") == ["ranker"]
    assert source.list_models(service="other") == []
    assert list(h.frame()["version"]) == [3, 2, 1]
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory (MLflow's default)


def test_incident_and_last_good_are_chosen_and_diffed(seeded):
    source, _ = seeded
    h = source.registry_history("ranker")
    choice = choose_runs(h, ONSET)
    assert (choice.incident.version, choice.last_good.version) == (3, 2)
    diff = diff_runs(source.get_run(choice.last_good.run_id), source.get_run(choice.incident.run_id))
    assert [(p.key, p.a, p.b) for p in diff.changed_params] == [("transform", "log1p", "identity")]
    assert diff.code_change.a == "c0ffee1" and diff.code_change.b == "beef002"
    assert diff.changed_datasets == ()  # same training data digest
    (auc,) = diff.changed_metrics
    assert auc.relative == pytest.approx(0.01 / 0.82)
    (art,) = diff.changed_artifacts
    assert art.path == "model/spec.txt" and art.size_a == len("transform=log1p")
    verdict = regression_verdict(diff, choice.incident, ONSET, within_hours=6)
    assert verdict.finding
    assert "30m before the onset" in verdict.title
    assert verdict.to_result()["changed_params"][0]["b"] == "identity"


def test_data_digest_change_between_older_versions(seeded):
    source, info = seeded
    diff = diff_runs(source.get_run(info["runs"][0]), source.get_run(info["runs"][1]))
    (ds,) = diff.changed_datasets
    assert (ds.digest_a, ds.digest_b) == ("d1", "d2")
    assert diff.changed_params == ()


def test_search_runs_returns_only_requested_columns(seeded):
    source, info = seeded
    df = source.search_runs([info["experiment_id"]], params=["transform"], metrics=["auc"], page_size=2)
    assert len(df) == 3  # two pages
    assert set(df.columns) == {"run_id", "name", "status", "start_time", "end_time", "user", "deleted",
                               "param:transform", "metric:auc"}
    assert list(df["name"]) == ["train-3", "train-2", "train-1"]
    assert list(df["param:transform"]) == ["identity", "log1p", "log1p"]
    assert list(df["metric:auc"]) == pytest.approx([0.83, 0.82, 0.81])
    assert set(df["user"]) == {"ci"} and not df["deleted"].any()
    # a filter goes through MLflow's own search; the same rows and values come back
    slow = source.search_runs([info["experiment_id"]], params=["transform"], metrics=["auc"],
                              filter_string="attributes.status = 'FINISHED'")
    assert slow.drop(columns=["start_time", "end_time"]).equals(df.drop(columns=["start_time", "end_time"]))
    assert list(slow["start_time"]) == list(df["start_time"])


def test_missing_model_and_run_are_not_found(seeded):
    source, _ = seeded
    with pytest.raises(NotFoundError, match="'nope' is not registered.*ranker"):
        source.registry_history("nope")
    with pytest.raises(NotFoundError, match="0123456789abcdef"):
        source.get_run("0123456789abcdef0123456789abcdef")
    with pytest.raises(InvalidInputError):
        source.get_run("  ")


def test_deleted_run_is_read_with_a_warning_and_left_out_of_search(tmp_path):
    source = MlflowRunSource(f"sqlite:///{tmp_path / 'm.db'}", create=True)
    info = _seed(source, artifacts=tmp_path / "artifacts")
    source.client.delete_run(info["runs"][0])
    run = source.get_run(info["runs"][0])
    assert run.deleted
    diff = diff_runs(run, source.get_run(info["runs"][1]))
    assert any("deleted" in w for w in diff.warnings)
    assert len(source.search_runs([info["experiment_id"]])) == 2
    assert source.search_runs([info["experiment_id"]], include_deleted=True)["deleted"].sum() == 1


def test_thousands_of_params_and_metrics(tmp_path):
    from mlflow.entities import Metric, Param

    source = MlflowRunSource(f"sqlite:///{tmp_path / 'm.db'}", create=True)
    c = source.client
    exp = c.create_experiment("wide", artifact_location=(tmp_path / "artifacts").as_uri())
    ids = []
    for shift in (0, 1):
        rid = c.create_run(exp).info.run_id
        for i in range(0, 2000, 100):
            c.log_batch(rid, params=[Param(f"p{j:04d}", str(j + (shift if j == 1234 else 0)))
                                     for j in range(i, i + 100)])
        for i in range(0, 2000, 1000):
            c.log_batch(rid, metrics=[Metric(f"m{j:04d}", float(j) + shift * (j == 7), 0, 0)
                                      for j in range(i, i + 1000)])
        ids.append(rid)
    t = time.perf_counter()
    diff = diff_runs(source.get_run(ids[0]), source.get_run(ids[1]))
    assert time.perf_counter() - t < 10
    assert len(diff.params) == 2000 and len(diff.metrics) == 2000
    assert [p.key for p in diff.changed_params] == ["p1234"]
    assert [m.key for m in diff.changed_metrics] == ["m0007"]
    assert diff.changed_metrics[0].relative == pytest.approx(1 / 7)
    df = source.search_runs([exp], params=["p0001"], metrics=["m0002"])
    assert df.shape == (2, 9)


@pytest.mark.parametrize("uri, message", [
    ("foo://bar", "not a tracking URI"),
    ("sqlite:///{tmp}/missing.db", "does not exist"),
    ("{tmp}/no-such-mlruns", "does not exist"),
    ("http://", "has no host"),
    ("", "empty"),
])
def test_bad_uris_are_refused_with_the_fix(tmp_path, uri, message):
    with pytest.raises(InvalidInputError, match=message):
        MlflowRunSource(uri.format(tmp=tmp_path) or " ")
    assert not (tmp_path / "no-such-mlruns").exists()


def test_unreachable_server_fails_fast_without_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-very-secret")
    port = free_port()
    source = MlflowRunSource(f"http://alice:hunter22@127.0.0.1:{port}")
    t = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as err:
        source.registry_history("ranker")
    assert time.perf_counter() - t < 5
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "connection refused" in text
    assert "hunter22" not in text and "tok-very-secret" not in text
    assert redact_uri("https://bob:pw@h:1/x") == "https://bob:***@h:1/x"


def test_slow_server_times_out(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        source = MlflowRunSource(f"http://127.0.0.1:{listener.getsockname()[1]}")
        t = time.perf_counter()
        with pytest.raises(SourceUnavailableError, match="timed out"):
            source.get_run("0123456789abcdef0123456789abcdef")
        assert time.perf_counter() - t < 4
    finally:
        listener.close()


class _TokenCheckingStandIn(BaseHTTPRequestHandler):
    """Stand-in HTTP endpoint (not MLflow): records the Authorization header and answers 401."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "UNAUTHENTICATED", "message": "bad token"}')

    def log_message(self, *args):
        pass


def test_token_is_sent_and_a_refusal_is_reported(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-abc-123")
    server = HTTPServer(("127.0.0.1", 0), _TokenCheckingStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        source = MlflowRunSource(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(SourceUnavailableError) as err:
            source.get_run("0123456789abcdef0123456789abcdef")
        assert "tok-abc-123" not in str(err.value)
        assert _TokenCheckingStandIn.seen[-1] == "Bearer tok-abc-123"
    finally:
        server.shutdown()
        server.server_close()


def test_model_version_events_skip_versions_the_bundle_already_has(seeded):
    source, _ = seeded
    h = source.registry_history("ranker")
    events = model_version_events(h)
    assert [e["details"]["version"] for e in events] == [1, 2, 3]
    assert events[2]["kind"] == "model_version" and events[2]["source"] == "mlflow"
    assert events[2]["title"] == "ranker v3 deployed [champion]"
    bundle_event = {"kind": "model_version", "title": "ranker v3 promoted to champion",
                    "attributes": {"model": "ranker", "version": 3}}
    title_only = {"kind": "model_version", "title": "ranker v1 rolled out"}
    missing = missing_model_version_events(h, [bundle_event, title_only])
    assert [e["details"]["version"] for e in missing] == [2]
    window_events = model_version_events(h, window=None)
    assert len(window_events) == 3


def test_demo_seed_plants_v42_and_is_idempotent(tmp_path, demo_bundles):
    from core.demo.mlflow_registry import seed_demo_registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seed_demo_registry(uri, demo_bundles)
    t = time.perf_counter()
    seed_demo_registry(uri, demo_bundles)
    assert time.perf_counter() - t < 5
    source = MlflowRunSource(uri)
    h = source.registry_history("recs-ranker")
    assert len(h.versions) == 42 and h.aliases == {"champion": 42}
    onset_event = [e for e in json.loads("[" + ",".join(
        (Path(demo_bundles["demo-ctr-drop"]) / "events.jsonl").read_text().splitlines()) + "]")
        if e["kind"] == "model_version"][0]
    assert iso(h.version(42).deployed_at) == onset_event["timestamp"]
    onset = h.version(42).deployed_at + timedelta(minutes=30)
    choice = choose_runs(h, onset)
    assert (choice.incident.version, choice.last_good.version) == (42, 41)
    diff = diff_runs(source.get_run(choice.last_good.run_id), source.get_run(choice.incident.run_id))
    assert [(p.key, p.a, p.b) for p in diff.changed_params] == [("user_tenure_days_transform", "log1p", "identity")]
    assert diff.code_change is not None and diff.changed_datasets == ()
    assert regression_verdict(diff, choice.incident, onset, within_hours=2).finding
    assert set(source.list_models()) == {"recs-ranker", "lab-classifier", "fraud-scorer"}
    lab = source.registry_history("lab-classifier")
    lab_choice = choose_runs(lab, datetime(2026, 1, 21, 9, 0, tzinfo=timezone.utc))
    lab_diff = diff_runs(source.get_run(lab_choice.last_good.run_id), source.get_run(lab_choice.incident.run_id))
    assert not regression_verdict(lab_diff, lab_choice.incident, datetime(2026, 1, 21, 9, tzinfo=timezone.utc)).finding


def test_cli_diff_and_history(seeded, capsys):
    from core.__main__ import main

    source, info = seeded
    a, b = info["runs"][1], info["runs"][2]
    assert main(["runs", "diff", a, b, "--tracking-uri", source.uri, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == [{"key": "transform", "a": "log1p", "b": "identity", "status": "changed"}]
    assert main(["runs", "diff", a, b, "--tracking-uri", source.uri]) == 0
    assert "transform: log1p → identity" in capsys.readouterr().out
    assert main(["runs", "history", "ranker", "--tracking-uri", source.uri, "--onset", iso(ONSET), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["choice"]["incident"]["version"] == 3 and out["aliases"] == {"champion": 3}
    assert main(["runs", "history", "nope", "--tracking-uri", source.uri]) == 2
    assert "not registered" in capsys.readouterr().err
    assert main(["runs", "history", "x", "--tracking-uri", "foo://bar"]) == 2


def test_every_runs_option_is_documented():
    import argparse

    from core.__main__ import build_parser

    doc = (Path(__file__).resolve().parents[2] / "docs" / "mlflow.md").read_text()
    runs = build_parser()._subparsers._group_actions[0].choices["runs"]
    sub = next(a for a in runs._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert f"runs {name}" in doc
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in doc, f"{flag} of 'runs {name}' is not in docs/mlflow.md"
