"""The workbench's own error reporting: the real sentry-sdk sends masked envelopes to a local HTTP endpoint."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.config import load_settings
from tests.conftest import reset_sentry

sentry_sdk = pytest.importorskip("sentry_sdk")

CARD = "4111 1111 1111 1111"
EMAIL = "alice@example.com"


class _Envelopes(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # only when the SDK chose brotli (it does when brotli is installed)

            body = brotli.decompress(body)
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture()
def endpoint():
    _Envelopes.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Envelopes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture()
def telemetry():
    import core.telemetry as tel

    tel._started = None
    yield tel
    reset_sentry()
    tel._started = None


def _events(received) -> list[dict]:
    out = []
    for _path, body in received:
        lines = body.decode().split("\n")
        for i, line in enumerate(lines[1:], start=1):
            try:
                header = json.loads(line)
            except ValueError:
                continue
            if isinstance(header, dict) and header.get("type") == "event":
                out.append(json.loads(lines[i + 1]))
    return out


def test_unexpected_error_arrives_masked(endpoint, telemetry):
    settings = load_settings({"SENTRY_DSN": f"http://publickey@127.0.0.1:{endpoint}/1",
                              "SENTRY_ENVIRONMENT": "test"}, secrets_path=Path("/nonexistent.toml"))
    assert telemetry.start(settings) is True
    assert telemetry.start(settings) is True  # a second call (every app rerun) does not init again

    def score(customer):
        raise ValueError(f"cannot score card {CARD} of {EMAIL}")

    sentry_sdk.add_breadcrumb(category="lookup", message=f"looked up {EMAIL}", data={"who": EMAIL})
    try:
        score({"email": EMAIL})
    except ValueError as exc:
        # what Streamlit does with an uncaught page exception (streamlit.error_util)
        logging.getLogger("streamlit.error_util").error("Uncaught app execution", exc_info=exc)
    sentry_sdk.flush(timeout=10)
    assert _Envelopes.received and _Envelopes.received[0][0] == "/api/1/envelope/"
    raw = b"".join(body for _p, body in _Envelopes.received).decode()
    assert CARD not in raw and EMAIL not in raw
    events = _events(_Envelopes.received)
    assert len(events) == 1
    event = events[0]
    assert event["environment"] == "test"
    value = event["exception"]["values"][-1]
    assert value["type"] == "ValueError" and value["value"] == "cannot score card [card] of [email]"
    crumb = next(c for c in event["breadcrumbs"]["values"] if c.get("category") == "lookup")
    assert crumb["message"] == "looked up [email]" and crumb["data"] == {"who": "[email]"}


def test_no_dsn_means_nothing_is_started(telemetry):
    assert telemetry.start(load_settings({}, secrets_path=Path("/nonexistent.toml"))) is False
    assert telemetry._started is None


def test_dsn_without_the_sdk_says_what_to_install(telemetry, monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # as if requirements-sentry.txt were not installed
    monkeypatch.setattr(telemetry, "_warned", False)
    settings = load_settings({"SENTRY_DSN": "http://k@127.0.0.1:9/1"}, secrets_path=Path("/nonexistent.toml"))
    with caplog.at_level(logging.WARNING, logger="core.telemetry"):
        assert telemetry.start(settings) is False
    assert "install requirements-sentry.txt" in caplog.text


def test_an_uncaught_page_exception_in_streamlit_is_reported_masked(endpoint, telemetry, tmp_path, monkeypatch):
    """A page that raises, run by Streamlit itself (AppTest): Streamlit logs it, the SDK sends it masked."""
    from streamlit.testing.v1 import AppTest

    from core.config import reset_settings

    script = tmp_path / "page.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "__import__('core.telemetry', fromlist=['start']).start()\n"
        f"raise RuntimeError('scoring failed for {EMAIL}')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTRY_DSN", f"http://publickey@127.0.0.1:{endpoint}/1")
    reset_settings()
    try:
        at = AppTest.from_file(str(script)).run(timeout=60)
        assert at.exception  # Streamlit shows it on the page as usual
        sentry_sdk.flush(timeout=10)
    finally:
        monkeypatch.undo()
        reset_settings()
    events = _events(_Envelopes.received)
    assert len(events) == 1
    value = events[0]["exception"]["values"][-1]
    assert value["type"] == "RuntimeError" and value["value"] == "scoring failed for [email]"
    assert EMAIL not in b"".join(body for _p, body in _Envelopes.received).decode()
