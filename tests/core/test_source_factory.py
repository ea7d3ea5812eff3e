"""core.sources.factory: one registry opens every source from a spec; protocols per signal kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import InvalidInputError, NotFoundError
from core.models import TimeWindow
from core.sources import factory
from core.sources.factory import bundle_of, open_source, register_source, registered, scheme_of
from core.sources.protocols import KINDS, LogSource, MetricSource, RunSource

DAY = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z")


@pytest.fixture
def no_settings(tmp_path):
    return load_settings({}, secrets_path=tmp_path / "none.toml")


@pytest.mark.parametrize("spec, scheme", [
    (None, ""), ("", ""), ("es", "es"), ("ES", "es"), ("prometheus", "prometheus"), ("mlflow", "mlflow"),
    ("http://prom:9090", "http"), ("https://mlflow.example", "https"), ("bundle:/b", "bundle"),
    ("/data/logs.jsonl", "path"), ("logs/app.log", "path"), ("sqlite:///x/mlflow.db", "sqlite"),
    ("postgresql+psycopg2://u@h/db", "postgresql"), ("file:///tmp/mlruns", "file"), (r"C:\logs\a.jsonl", "path"),
])
def test_scheme_of(spec, scheme):
    assert scheme_of(spec) == scheme


def test_every_builtin_is_registered_through_the_public_call():
    kinds = registered()
    assert set(kinds["logs"]) == {"path", "es"}
    assert {"path", "prometheus", "http", "https"} <= set(kinds["metrics"])
    assert {"", "mlflow", "http", "https", "sqlite", "file", "path"} <= set(kinds["runs"])
    src = Path(factory.__file__).read_text(encoding="utf-8")
    assert "_OPENERS[" not in src.split("# One line per built-in", 1)[1]  # only register_source below it


def test_logs_from_a_bundle_a_file_and_a_directory(demo_bundles, tmp_path, no_settings):
    bundle = next(iter(demo_bundles.values()))
    for spec in (str(bundle), f"bundle:{bundle}"):
        src = open_source("logs", spec, no_settings)
        assert isinstance(src, LogSource) and src.info.name.startswith("bundle ")
        assert bundle_of(spec).id == src.info.name.split(" ", 1)[1]
    log = tmp_path / "a.jsonl"
    log.write_text(json.dumps({"@timestamp": "2024-05-01T12:00:00Z", "message": "boom", "log.level": "ERROR"}) + "\n")
    assert open_source("logs", str(log), no_settings).count("boom", DAY) == 1
    assert open_source("logs", str(tmp_path), no_settings).count("log.level:ERROR", DAY) == 1
    assert bundle_of(str(log)) is None and bundle_of("es") is None


def test_metrics_from_a_bundle_a_folder_and_a_file(demo_bundles, tmp_path, no_settings):
    bundle = next(iter(demo_bundles.values()))
    src = open_source("metrics", str(bundle), no_settings)
    assert isinstance(src, MetricSource)
    name = src.metric_names()[0]
    assert len(src.read(name).frame) > 10
    (tmp_path / "kpi.csv").write_text("timestamp,value\n" + "".join(
        f"2024-05-01T{h:02d}:00:00Z,{h}\n" for h in range(24)))
    assert len(open_source("metrics", str(tmp_path), no_settings).read("kpi").frame) == 24
    assert open_source("metrics", str(tmp_path / "kpi.csv"), no_settings).read("ctr").name == "ctr"


def test_prometheus_from_settings_and_from_a_url(tmp_path):
    config = load_settings({"PROMETHEUS_URL": "http://prom.example:9090", "PROMETHEUS_TOKEN": "t0ken"},
                           secrets_path=tmp_path / "none.toml")
    src = open_source("metrics", "prometheus", config)
    assert src.url == "http://prom.example:9090" and src.token == "t0ken"
    assert open_source("metrics", "http://prom.example:9090/", config).token == "t0ken"
    other = open_source("metrics", "http://elsewhere:9090", config)
    assert other.url == "http://elsewhere:9090" and other.token is None  # credentials stay with their server
    with pytest.raises(InvalidInputError, match="set PROMETHEUS_URL"):
        open_source("metrics", "prometheus", load_settings({}, secrets_path=tmp_path / "none.toml"))


def test_elasticsearch_needs_settings(no_settings):
    with pytest.raises(InvalidInputError, match="Elasticsearch is not configured: set ES_URL"):
        open_source("logs", "es", no_settings)


def test_runs_default_to_the_configured_uri_else_the_embedded_store(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    embedded = open_source("runs", None, load_settings({}, secrets_path=tmp_path / "none.toml"))
    assert isinstance(embedded, RunSource) and embedded.uri.endswith("home/mlflow.db")
    db = f"sqlite:///{tmp_path / 'other.db'}"
    from core.sources.mlflow_runs import MlflowRunSource

    MlflowRunSource(db, create=True)
    config = load_settings({"MLFLOW_TRACKING_URI": db}, secrets_path=tmp_path / "none.toml")
    assert open_source("runs", "mlflow", config).uri == db
    assert open_source("runs", None, config).uri == db
    assert open_source("runs", db, load_settings({}, secrets_path=tmp_path / "none.toml")).uri == db
    with pytest.raises(InvalidInputError, match="does not exist"):  # a spec never creates a store
        open_source("runs", f"sqlite:///{tmp_path / 'third.db'}", config)
    with pytest.raises(InvalidInputError):
        open_source("runs", str(tmp_path / "no-such-mlruns"), config)


@pytest.mark.parametrize("kind, spec, says", [
    ("logs", "prometheus", "logs source 'prometheus' is not understood; give a bundle"),
    ("logs", "ftp://user:hunter2@host/x", "give a bundle"),
    ("metrics", "es", "metrics source 'es' is not understood"),
    ("logs", "/no/such/file.jsonl", "log source '/no/such/file.jsonl' not found; give a bundle, a log file"),
    ("metrics", "/no/such/dir", "metric source '/no/such/dir' not found"),
    ("logs", "bundle:", "names no bundle"),
    ("runs", "ftp://host/x", "'ftp://host/x' is not a tracking URI MLflow understands"),
    ("nonsense", "x", "'nonsense' is not a kind of source"),
])
def test_unknown_or_bad_specs_name_the_spec_and_the_fix(kind, spec, says, no_settings):
    with pytest.raises(InvalidInputError, match=says.replace("(", r"\(").replace(")", r"\)")) as info:
        open_source(kind, spec, no_settings)
    assert "hunter2" not in str(info.value)


def test_an_extension_registers_like_a_builtin(no_settings, tmp_path):
    class Errors:
        def __init__(self, spec, config):
            self.spec, self.dsn = spec, config.section("sentry").get("dsn")

        def issues(self, window, *, query="", limit=100):
            import pandas as pd

            return pd.DataFrame(columns=["id", "title", "count"])

    register_source("errors", "sentry", lambda spec, config: Errors(spec, config))
    try:
        config = load_settings({"SENTRY_DSN": "https://k@o.example/1"}, secrets_path=tmp_path / "none.toml")
        src = open_source("errors", "sentry", config)
        assert isinstance(src, KINDS["errors"]) and src.dsn == "https://k@o.example/1"
    finally:
        factory._OPENERS.pop(("errors", "sentry"))


def test_a_missing_bundle_log_folder_is_a_clear_error(tmp_path, no_settings):
    (tmp_path / "empty").mkdir()
    with pytest.raises((InvalidInputError, NotFoundError), match="no .jsonl, .csv or .log files"):
        open_source("logs", str(tmp_path / "empty"), no_settings)
