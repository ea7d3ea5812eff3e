"""core.config: one reader of every setting, environment first, then the secrets file; secrets never shown."""

from __future__ import annotations

import os

import pytest

from core.config import load_settings, reset_settings, settings
from core.errors import InvalidInputError

TOKEN = "tok-5ecret-value"
PASSWORD = "pa55-word-value"


def _secrets(tmp_path, text: str):
    path = tmp_path / "secrets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_environment_first_then_the_secrets_table(tmp_path):
    path = _secrets(tmp_path, '[prometheus]\nurl = "http://from-file:9090"\ntoken = "file-token"\n'
                              '[mlflow]\ntracking_uri = "http://mlflow-file:5000"\ntoken = "file-tok"\n'
                              '[elasticsearch]\nurl = "https://es:9200"\nindex = "app-*"\n')
    s = load_settings({"PROMETHEUS_URL": "http://from-env:9090", "MLFLOW_TRACKING_TOKEN": "env-tok"},
                      secrets_path=path)
    assert s.prometheus.url == "http://from-env:9090" and s.prometheus.token == "file-token"
    assert s.mlflow.tracking_uri == "http://mlflow-file:5000" and s.mlflow.token == "env-tok"
    assert s.elasticsearch.url == "https://es:9200" and s.elasticsearch.index == "app-*"
    assert s.elasticsearch.timeout_s == 10.0 and s.mlflow.timeout is None and s.mlflow.max_retries is None


def test_defaults_without_anything(tmp_path):
    s = load_settings({}, secrets_path=tmp_path / "none.toml")
    assert s.store.database_url is None and s.store.home is None and not s.store.team_mode
    assert not s.elasticsearch.configured and not s.prometheus.configured
    assert s.mlflow.tracking_uri is None
    lim = s.limits
    assert (lim.log_memory_mb, lim.log_max_bytes, lim.max_upload_bytes) == (1024, 1_500_000_000, 500_000_000)
    assert (lim.bundle_max_mb, lim.zip_max_ratio, lim.query_limits) == (2048, 100, {})
    assert lim.data_dirs == () and lim.browser_path is None


@pytest.mark.parametrize("env, section, says", [
    ({"ES_TIMEOUT": "soon"}, "elasticsearch", "ES_TIMEOUT must be a number of seconds"),
    ({"PROMETHEUS_TIMEOUT": "soon"}, "prometheus", "PROMETHEUS_TIMEOUT 'soon' is not a number"),
    ({"MLFLOW_HTTP_REQUEST_TIMEOUT": "x"}, "mlflow", "MLFLOW_HTTP_REQUEST_TIMEOUT must be a whole number"),
])
def test_a_bad_value_stops_only_its_own_section(env, section, says, tmp_path):
    s = load_settings(env, secrets_path=tmp_path / "none.toml")
    with pytest.raises(InvalidInputError, match=says):
        getattr(s, section)
    others = {"elasticsearch", "prometheus", "mlflow"} - {section}
    for other in others:
        getattr(s, other)  # unaffected
    assert s.store.database_url is None


@pytest.mark.parametrize("var, raw, attr, says", [
    ("WORKBENCH_LOG_MEMORY_MB", "100", "log_memory_mb", "at least 256"),
    ("WORKBENCH_LOG_MAX_BYTES", "big", "log_max_bytes", "not a positive whole number"),
    ("WORKBENCH_MAX_UPLOAD_MB", "lots", "max_upload_bytes", "not a number"),
    ("WORKBENCH_BUNDLE_MAX_MB", "-1", "bundle_max_mb", "not a positive number"),
    ("WORKBENCH_ZIP_MAX_RATIO", "inf", "zip_max_ratio", "not a positive number"),
    ("WORKBENCH_QUERY_MAX_TERMS", "0", "query_limits", "not a positive whole number"),
])
def test_bad_limits_name_the_variable(var, raw, attr, says, tmp_path):
    lim = load_settings({var: raw}, secrets_path=tmp_path / "none.toml").limits
    with pytest.raises(InvalidInputError, match=says) as info:
        getattr(lim, attr)
    assert var in str(info.value)


def test_limits_and_store_from_the_environment(tmp_path):
    env = {"DATABASE_URL": "postgresql://u:p@db/x", "WORKBENCH_HOME": str(tmp_path),
           "WORKBENCH_DATA_DIRS": os.pathsep.join(["/a", "", "/b"]), "BROWSER_PATH": "/bin/chrome",
           "WORKBENCH_QUERY_MAX_TERMS": "3", "WORKBENCH_LOG_MEMORY_MB": "512"}
    s = load_settings(env, secrets_path=tmp_path / "none.toml")
    assert s.store.team_mode and s.store.home == tmp_path
    assert s.limits.data_dirs == ("/a", "/b") and s.limits.browser_path == "/bin/chrome"
    assert s.limits.query_limits == {"max_terms": 3} and s.limits.log_memory_mb == 512


def test_repr_hides_every_secret(tmp_path):
    path = _secrets(tmp_path, f'[sentry]\ndsn = "https://{TOKEN}@o1.ingest/2"\nenvironment = "prod"\n'
                              f'[mlflow]\npassword = "{PASSWORD}"\nusername = "bob"\n')
    env = {"ES_URL": f"https://elastic:{PASSWORD}@es:9200", "ES_API_KEY": TOKEN,
           "PROMETHEUS_URL": "http://prom:9090", "PROMETHEUS_TOKEN": TOKEN, "PROMETHEUS_PASSWORD": PASSWORD,
           "MLFLOW_TRACKING_TOKEN": TOKEN, "MLFLOW_TRACKING_URI": f"https://bob:{PASSWORD}@mlflow:5000",
           "DATABASE_URL": f"postgresql://app:{PASSWORD}@db/x", "SENTRY_AUTH_TOKEN": TOKEN}
    s = load_settings(env, secrets_path=path)
    shown = " ".join(repr(x) + str(x) for x in (s, s.store, s.elasticsearch, s.prometheus, s.mlflow,
                                                 s.section("sentry"), s.limits))
    assert TOKEN not in shown and PASSWORD not in shown and "bob" not in shown
    assert "es:9200" in shown and "prom:9090" in shown and "environment='prod'" in shown
    # the values are there for the code that needs them, and known to redaction
    assert s.elasticsearch.api_key == TOKEN and TOKEN in s.elasticsearch.secrets()
    assert PASSWORD in s.elasticsearch.secrets() and PASSWORD in s.mlflow.secrets()


def test_generic_section_for_a_new_connector(tmp_path):
    path = _secrets(tmp_path, '[grafana]\nurl = "http://grafana:3000"\ntimeout = "4"\n[great-expectations]\nroot = "gx"\n')
    s = load_settings({"GRAFANA_TIMEOUT": "2.5", "GREAT_EXPECTATIONS_ROOT": "/srv/gx"}, secrets_path=path)
    g = s.section("grafana")
    assert g.get("url") == "http://grafana:3000" and g.number("timeout", 10) == 2.5 and g.configured
    assert g.get("missing", "dflt") == "dflt"
    assert s.section("great-expectations").get("root") == "/srv/gx"
    assert not s.section("feast").configured
    with pytest.raises(InvalidInputError, match="GRAFANA_TIMEOUT must be a number"):
        load_settings({"GRAFANA_TIMEOUT": "soon"}, secrets_path=path).section("grafana").number("timeout", 10)


def test_a_broken_secrets_file_names_the_file_where_it_is_read(tmp_path):
    path = _secrets(tmp_path, "[prometheus\nurl = \n")
    s = load_settings({"WORKBENCH_LOG_MEMORY_MB": "512"}, secrets_path=path)
    assert s.limits.log_memory_mb == 512 and s.store.database_url is None  # environment-only settings still work
    with pytest.raises(InvalidInputError, match="not valid TOML.*fix the file"):
        s.prometheus


def test_settings_is_cached_and_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    reset_settings()
    monkeypatch.setenv("PROMETHEUS_URL", "http://one:9090")
    first = settings()
    assert settings() is first and first.prometheus.url == "http://one:9090"
    monkeypatch.setenv("PROMETHEUS_URL", "http://two:9090")
    assert settings().prometheus.url == "http://two:9090"
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[prometheus]\ntoken = "t"\n')
    assert settings().prometheus.token == "t"  # a new or edited secrets file is read again
    reset_settings()
    assert settings() is not first


# ------------------------------------------------------------------ MLflow credentials travel per client

class _RecordingMlflow:
    """A real HTTP server on loopback answering MLflow's REST API with empty lists, recording each
    request's path and Authorization header."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append((self.command, self.path.split("?")[0], self.headers.get("Authorization")))
                path = self.path.split("?")[0]
                body = {"registered_models": []} if "registered-models" in path else \
                    {"experiments": []} if "experiments" in path else {}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "_RecordingMlflow":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_mlflow_token_from_secrets_is_sent_and_never_put_in_the_environment(tmp_path, monkeypatch):
    from core.sources.mlflow_runs import MlflowRunSource

    for var in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                "MLFLOW_TRACKING_URI", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(var, raising=False)
    with _RecordingMlflow() as server:
        path = _secrets(tmp_path, f'[mlflow]\ntracking_uri = "{server.url}"\ntoken = "{TOKEN}"\n')
        config = load_settings(secrets_path=path)
        before = dict(os.environ)
        source = MlflowRunSource(config.mlflow.tracking_uri, settings=config.mlflow)
        source.check()
        assert source.list_models() == []
        assert dict(os.environ) == before  # nothing written: not the token, not the timeouts
        assert TOKEN not in repr(source) and TOKEN not in repr(config.mlflow)
    paths = {p for _m, p, _a in server.seen}
    assert "/api/2.0/mlflow/experiments/search" in paths and any("registered-models" in p for p in paths)
    assert {a for _m, _p, a in server.seen} == {f"Bearer {TOKEN}"}  # every request carried the token


def test_two_mlflow_sources_keep_their_own_credentials(tmp_path, monkeypatch):
    """One process serves several people: each source sends its own token, whatever the other has."""
    from core.config import MlflowSettings
    from core.sources.mlflow_runs import MlflowRunSource

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    with _RecordingMlflow() as server:
        a = MlflowRunSource(server.url, settings=MlflowSettings(token="token-of-a"))
        b = MlflowRunSource(server.url, settings=MlflowSettings(username="bob", password="pw-of-b"))
        a.check()
        b.check()
        a.check()
    import base64

    basic = "Basic " + base64.b64encode(b"bob:pw-of-b").decode()
    assert [h for _m, _p, h in server.seen] == ["Bearer token-of-a", basic, "Bearer token-of-a"]
