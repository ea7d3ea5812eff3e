"""Credentials never appear in errors, reprs or CLI output (issue 14), and bad URLs, missing drivers
and an early Ctrl-C give one line on stderr instead of a traceback.

Every error path is driven for real: the PostgreSQL and SQLite stores, the CLI in a subprocess,
and a local HTTP server that echoes the request's headers back in its error body, as some
proxies and misconfigured servers do (``EchoingErrorServer``, a stand-in: it is not Prometheus,
Elasticsearch or MLflow, it only answers their error format).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInputError, SourceUnavailableError, StoreError, WorkbenchError
from core.models import TimeWindow
from core.redact import auth_secrets, redact, redact_url, url_secrets

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cretPw9x"
TOKEN = "tok3nValue7Kq2Zr8Wm"
WINDOW = TimeWindow(datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 5, 1, 1, tzinfo=timezone.utc))


def _leaks(*texts: str, secrets: tuple[str, ...] = (SECRET, TOKEN)) -> list[str]:
    basic = base64.b64encode(f"bob:{SECRET}".encode()).decode()
    return [s for s in (*secrets, basic) for t in texts if s in t]


# ------------------------------------------------------------------ the one redaction function

@pytest.mark.parametrize("url, shown", [
    (f"postgresql://u@127.0.0.1/test?password={SECRET}", "postgresql://u@127.0.0.1/test?password=***"),
    (f"postgresql://u:p@{SECRET}@db:54x2/x", "postgresql://u:***@db:54x2/x"),
    (f"postgresql://u:{SECRET} x@db/x", "postgresql://u:***@db/x"),
    (f"postgresql://u:a/{SECRET}@db/x", "postgresql://u:***@db/x"),
    (f"http://bob:{SECRET}@[::1", "http://bob:***@[::1"),
    (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
    (f"https://acct.blob.core.windows.net/c?sv=2022&sig={SECRET}&se=1",
     "https://acct.blob.core.windows.net/c?sv=2022&sig=***&se=1"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("not a url", "not a url"),
])
def test_redact_url_removes_passwords_even_from_unparsable_urls(url, shown):
    assert redact_url(url) == shown
    assert SECRET not in redact_url(url)
    assert any(SECRET in s for s in url_secrets(url)) or SECRET not in url


def test_redact_removes_echoed_authorization_and_known_values():
    basic = base64.b64encode(f"bob:{SECRET}".encode()).decode()
    body = (f'upstream said: {{"Authorization": "Bearer {TOKEN}"}} and authorization: basic {basic}; '
            f"retry http://bob:{SECRET}@h:9090/x?token={TOKEN} raw {SECRET} encoded {SECRET}%21")
    out = redact(body, auth_secrets(token=TOKEN, username="bob", password=SECRET))
    assert _leaks(out) == [] and "Bearer ***" in out and "http://bob:***@h:9090/x?token=***" in out
    # without being told the values, the header, URL and query credentials still go
    unknown = redact(body.split(" raw ")[0])
    assert _leaks(unknown) == []
    assert "Bearer [token]" in unknown and "basic [token]" in unknown and "http://bob:***@h:9090/x?token=***" in unknown
    assert redact(None) == "" and redact("plain text, host 10.0.0.5") == "plain text, host 10.0.0.5"


# ------------------------------------------------------------------ the store

def test_store_errors_never_show_the_password(tmp_path):
    from core.store import open_store

    cases = [
        f"postgresql://nobody_here@127.0.0.1:5432/test?password={SECRET}",  # query-string password
        f"postgresql://u:p@{SECRET}@127.0.0.1:54x2/test",                   # unparsable port
        f"postgresql://u:{SECRET}@[::1/test",                               # unparsable host
        f"sqlite://u:{SECRET}@h/x",                                         # user info in a file URL
        f"mysql://root:{SECRET}@127.0.0.1/db",                              # driver not installed
        f"postgresql://user:p@ss:w{SECRET}@127.0.0.1/db",                   # the parser quotes 'w<secret>@…'
        f"postgresql://app:{SECRET}/db",                                    # no host: the password is the "port"
    ]
    for url in cases:
        with pytest.raises(StoreError) as info:
            open_store(url)
        assert _leaks(str(info.value), repr(info.value)) == [], url
        assert info.value.__cause__ is None or SECRET not in str(info.value.__cause__)
    with pytest.raises(StoreError, match="mysql database driver is not installed"):
        open_store(f"mysql://root:{SECRET}@127.0.0.1/db")


def test_store_repr_hides_the_password(pg_admin_url):
    from core.store import open_store

    head, tail = pg_admin_url.split("://", 1)
    user_host = tail.split("@", 1)
    url = f"{head}://{user_host[0].split(':')[0]}:{SECRET}@{user_host[1]}" if len(user_host) == 2 else pg_admin_url
    store = open_store(url, migrate=False)  # trust auth: the password is sent and ignored
    try:
        assert SECRET not in repr(store) and SECRET not in str(store)
    finally:
        store.dispose()


# ------------------------------------------------------------------ sources and an echoing server

class EchoingErrorServer:
    """A local HTTP server that answers every request with an error echoing the request headers.

    A stand-in (not Prometheus, Elasticsearch or MLflow): it speaks just enough of their error
    formats for each client to read the body and build its message from it.
    """

    def __init__(self, status: int = 500) -> None:
        status_code = status

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                headers = sorted(self.headers.items(), key=lambda kv: kv[0].lower() != "authorization")
                echoed = "; ".join(f"{k}: {v}" for k, v in headers)  # Authorization first
                if self.path.startswith("/api/v1/"):  # Prometheus
                    body = {"status": "error", "errorType": "internal", "error": f"proxy failed, request {echoed}"}
                elif self.path.startswith("/api/2.0/") or self.path.startswith("/ajax-api/"):  # MLflow
                    body = {"error_code": "INTERNAL_ERROR", "message": f"proxy failed, request {echoed}"}
                else:  # Elasticsearch
                    err = {"type": "proxy_exception", "reason": f"proxy failed, request {echoed}"}
                    body = {"error": {"root_cause": [err], **err}, "status": status_code}
                data = json.dumps(body).encode()
                self.send_response(status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> "EchoingErrorServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_prometheus_repr_and_bad_port_hide_credentials():
    from core.sources.prometheus import PrometheusMetricSource

    src = PrometheusMetricSource(url=f"http://bob:{SECRET}@localhost:9090", token=TOKEN, username="bob",
                                 password=SECRET)
    assert _leaks(repr(src), str(src), src.display_url) == []
    for bad in (f"http://bob:{SECRET}@localhost:90x0", f"http://bob:{SECRET}/api"):
        with pytest.raises(InvalidInputError) as info:
            PrometheusMetricSource(url=bad)
        assert "does not parse" in str(info.value) and _leaks(str(info.value), repr(info.value)) == []


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_prometheus_error_echoing_the_authorization_header_is_redacted(auth):
    from core.sources.prometheus import PrometheusMetricSource

    with EchoingErrorServer(500) as server:
        kw = {"token": TOKEN} if auth == "token" else {"username": "bob", "password": SECRET}
        src = PrometheusMetricSource(url=f"http://127.0.0.1:{server.port}", **kw)
        with pytest.raises(SourceUnavailableError) as info:
            src.query_range("up", WINDOW)
    msg = str(info.value)
    assert "proxy failed" in msg and "Authorization" in msg  # the echoed body really reached the message
    assert _leaks(msg, repr(info.value)) == []


def test_elasticsearch_bad_port_and_echoed_headers_are_redacted():
    from core.sources.elastic import ElasticConfig, ElasticsearchLogSource

    bad = ElasticConfig(url=f"http://elastic:{SECRET}@localhost:92x0", username="elastic", password=SECRET)
    with pytest.raises(InvalidInputError) as info:
        bad.client()
    assert _leaks(str(info.value), repr(bad)) == []
    with EchoingErrorServer(500) as server:
        cfg = ElasticConfig(url=f"http://127.0.0.1:{server.port}", username="bob", password=SECRET, timeout_s=5)
        with pytest.raises(WorkbenchError) as info:
            ElasticsearchLogSource(cfg)
    msg = str(info.value)
    assert "proxy failed" in msg and _leaks(msg, repr(cfg)) == []


def test_mlflow_error_echoing_basic_credentials_is_redacted(monkeypatch):
    from core.sources.mlflow_runs import MlflowRunSource

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")  # HTTP Basic: the server sees base64(bob:password)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SECRET)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")  # a loaded machine must not turn it into a timeout
    with EchoingErrorServer(400) as server:  # 400: answered at once, no retries
        src = MlflowRunSource(f"http://bob:{SECRET}@127.0.0.1:{server.port}")
        assert _leaks(repr(src), src.display_uri) == []
        with pytest.raises(WorkbenchError) as info:
            src.get_run("abc")
    msg = str(info.value)
    assert "proxy failed" in msg and "Authorization" in msg  # the echoed headers reached the message
    assert _leaks(msg, repr(info.value)) == []


def test_a_port_holding_401_or_403_is_not_read_as_a_refusal():
    from core.sources.mlflow_runs import _short_reason

    echoed = "400 Client Error: proxy failed for url: http://127.0.0.1:34035/api/2.0/mlflow/runs/get"
    assert _short_reason(echoed) == echoed  # the server's own words, not "not authorised"
    echoed_headers = "proxy failed, request baggage: sentry-release=scorer%401.0"  # a URL-encoded "@1.0"
    assert _short_reason(echoed_headers) == echoed_headers
    assert _short_reason("HTTP 401 Unauthorized").startswith("not authorised")
    assert _short_reason("API request failed with error code 403 != 200").startswith("not authorised")


# ------------------------------------------------------------------ the command line

def _cli(*args: str, env: dict[str, str] | None = None, tmp_path: Path) -> subprocess.CompletedProcess:
    full = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home"), **(env or {})}
    for k in ("DATABASE_URL", "MLFLOW_TRACKING_URI", "ES_URL", "PROMETHEUS_URL"):
        if k not in (env or {}):
            full.pop(k, None)
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full, timeout=240)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert err.startswith("error: ") and "\n" not in err, err
    assert _leaks(proc.stdout, proc.stderr) == []
    return err


@pytest.mark.parametrize("url, says", [
    (f"postgresql://u:p@{SECRET}@127.0.0.1:54x2/test", "does not parse"),
    (f"postgresql://u:{SECRET}@[::1/test", "does not parse"),
    (f"postgresql://app:{SECRET}/test", "does not parse"),  # no host: the password reads as the port
    (f"postgresql://nobody_here@127.0.0.1:5432/test?password={SECRET}", "cannot open the store"),
    (f"mysql://root:{SECRET}@127.0.0.1/db", "driver is not installed"),
])
def test_cli_bad_database_url_is_one_line_exit_4(url, says, tmp_path):
    proc = _cli("postmortem", "inc-1", env={"DATABASE_URL": url}, tmp_path=tmp_path)
    assert proc.returncode == 4
    assert says in _one_line_error(proc)


@pytest.mark.parametrize("uri, says", [
    (f"http://bob:{SECRET}@[::1", "does not parse"),
    (f"http://bob:{SECRET}@localhost:50x0", "does not parse"),
    (f"http://bob:{SECRET}/mlflow", "does not parse"),  # no host: the password reads as the port
    (f"mysql://root:{SECRET}@127.0.0.1/db", "driver is not installed"),
])
def test_cli_bad_tracking_uri_is_one_line_exit_4(uri, says, tmp_path):
    proc = _cli("runs", "diff", "a", "b", env={"MLFLOW_TRACKING_URI": uri}, tmp_path=tmp_path)
    assert proc.returncode == 4
    assert says in _one_line_error(proc)


def test_cli_elasticsearch_url_with_bad_port(tmp_path):
    proc = _cli("logs", "search", "es", "x", env={"ES_URL": f"http://elastic:{SECRET}@localhost:92x0"},
                tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "not usable" in _one_line_error(proc)


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_ctrl_c_while_the_cli_is_still_importing_is_one_line(delay, tmp_path):
    """SIGINT during start-up (the command modules import pandas, plotly, ruptures, ...)."""
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    # The delay counts from the moment the interpreter hands over to ``python -m core``: a
    # signal during the interpreter's own start-up (site packages) is outside the program.
    starter = ("import runpy, sys; print('started', flush=True); "
               "sys.argv = ['core', 'bundle', 'validate', sys.argv[1]]; "
               "runpy.run_module('core', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", starter, str(tmp_path)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err[-2000:]
    if proc.returncode == 130:
        assert err.strip() == "error: interrupted"
    else:  # the command finished before the signal arrived: exactly the answer of an uninterrupted run
        plain = subprocess.run([sys.executable, "-m", "core", "bundle", "validate", str(tmp_path)], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=60)
        assert (proc.returncode, err) == (plain.returncode, plain.stderr)
