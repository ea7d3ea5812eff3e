"""Untrusted content: exports fetch nothing remote, Markdown is escaped, unsafe links never survive.

A real HTTP server on 127.0.0.1 (random port) records every request; user text (summary,
cause, event title, an edited section) names images on it. The PDF and HTML exports must
cause no request and the HTML must hold no ``src=`` to it.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.markdown_text import md_escape, strip_unsafe_links
from core.report.postmortem import build_postmortem, gather_inputs
from core.report.render import export_postmortem, markdown_to_html, render_markdown
from core.store.fishbone import add_cause, ensure_fishbone, get_fishbone
from core.store.incidents import create_incident
from core.store.reports import save_section
from core.store.timeline import add_events

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")


class RecordingServer:
    """A real HTTP server on 127.0.0.1 that answers every GET with a 1-pixel PNG and records the path."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                recorded.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG_1PX)))
                self.end_headers()
                self.wfile.write(PNG_1PX)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def recorder():
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def hostile_incident(sqlite_store, recorder):
    """An incident whose summary, cause, event title and an edited section name images on the recorder."""
    u = recorder.url
    create_incident(sqlite_store, id="hostile", title=f"Scores fell ![t]({u}/title.png)",
                    summary=f"Summary ![s]({u}/summary.png) and <img src=\"{u}/raw.png\">", service="fraud")
    add_events(sqlite_store, "hostile", [{"timestamp": datetime(2024, 5, 1, 12, tzinfo=timezone.utc),
                                          "kind": "deploy", "title": f"deploy ![e]({u}/event.png)"}])
    ensure_fishbone(sqlite_store, "hostile")
    cat = get_fishbone(sqlite_store, "hostile").categories[0].id
    add_cause(sqlite_store, "hostile", category_id=cat, text=f"cause ![c]({u}/cause.png)", status="confirmed")
    save_section(sqlite_store, "hostile", "got_lucky",
                 f"Edited by hand: ![edited]({u}/edited.png) and [ref img][r]\n\n[r]: {u}/ref.png", version=0)
    return build_postmortem(gather_inputs(sqlite_store, "hostile"), charts=False)


def test_pdf_export_fetches_nothing_from_user_text(hostile_incident, recorder):
    data = export_postmortem(hostile_incident, "pdf")
    assert data.startswith(b"%PDF")
    assert recorder.requests == []
    # the recorder does record: the zero above is not for want of a working server
    urllib.request.urlopen(f"{recorder.url}/probe.png", timeout=5).read()
    assert recorder.requests == ["/probe.png"]


def test_pdf_fetcher_refuses_remote_and_local_files_but_serves_data_uris(sqlite_store, recorder, tmp_path):
    from core.report.render import TEMPLATES, _embedded_only_fetcher

    fetcher = _embedded_only_fetcher()
    with pytest.raises(ValueError, match="fetches no outside resource"):
        fetcher.fetch(f"{recorder.url}/direct.png")
    secret = tmp_path / "secret.txt"
    secret.write_text("server file")
    with pytest.raises(ValueError, match="fetches no outside resource"):
        fetcher.fetch(secret.as_uri())
    with pytest.raises(ValueError, match="fetches no outside resource"):
        fetcher.fetch((TEMPLATES / ".." / ".." / "errors.py").as_uri())
    assert recorder.requests == []
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    assert b"Post-mortem" in fetcher.fetch((TEMPLATES / "postmortem.md.j2").as_uri()).read()


def test_html_export_has_no_remote_resource(hostile_incident, recorder):
    html = export_postmortem(hostile_incident, "html").decode()
    assert recorder.requests == []
    assert not re.search(r"\bsrc\s*=\s*[\"']?" + re.escape(recorder.url), html)
    assert "<img src=\"http" not in html and "<iframe" not in html
    # the hand-edited image is still named, as a link that nothing loads
    assert f'href="{recorder.url}/edited.png"' in html and "[image: edited]" in html
    # escaped user text shows the Markdown literally
    assert f"![s]({recorder.url}/summary.png)" in html


def _unsafe_destinations(markdown: str) -> list[str]:
    """Every link or image destination a permissive Markdown renderer (raw HTML on) would follow, if unsafe."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True
    found = []
    for block in md.parse(markdown):
        for tok in [block, *(block.children or [])]:
            for attr in ("href", "src"):
                if tok.attrGet(attr):
                    found.append(tok.attrGet(attr))
            if tok.type in ("html_inline", "html_block"):
                found += re.findall(r"""(?:href|src)\s*=\s*["']?([^"'\s>]+)""", tok.content, flags=re.I)
    return [u for u in found if re.match(r"(?i)\s*(javascript|vbscript|data|file)\s*:", u)]


def test_markdown_images_render_as_links():
    html = markdown_to_html("![alt *text*](https://example.com/a.png \"t\") and ![x](data:image/png;base64,AAAA)")
    assert "<img" not in html
    assert '<a class="image-link" href="https://example.com/a.png"' in html and "[image: alt text]" in html


def test_markdown_title_line_is_escaped_and_unsafe_links_removed(sqlite_store):
    title = "Fell [click](javascript:alert(1)) ![t](http://x/t.png) *bold* <b>x</b> #1"
    create_incident(sqlite_store, id="md", title=title, summary="[s](javascript:alert(9))")
    save_section(sqlite_store, "md", "got_lucky", "\n".join([
        "[a](javascript:alert(1))", "[b]( JaVaScRiPt:alert(2) )", "[c](java&#115;cript:alert(3))",
        "<javascript:alert(4)>", "[d](data:text/html;base64,PHNjcmlwdD4=)", "[e](vbscript:msgbox(1))",
        "[f][ref]", "", "[ref]: javascript:alert(5)", "", '<a href="javascript:alert(6)">g</a>',
        "[fine](https://example.com/ok)"]), version=0)
    md = render_markdown(build_postmortem(gather_inputs(sqlite_store, "md"), charts=False))
    first = md.splitlines()[0]
    assert first == "# Post-mortem: " + md_escape(title)
    assert "\\[click\\]" in first and "<b>" not in first and "![t]" not in first
    assert not _unsafe_destinations(md), md
    assert len(re.findall(r"#unsafe-link-removed", md)) == 8
    assert "[fine](https://example.com/ok)" in md
    # the title line renders as plain text: no link, no image, no emphasis
    rendered = markdown_to_html(first)
    assert "<a " not in rendered and "<em>" not in rendered and "<img" not in rendered


def test_one_markdown_escaper():
    from core.report import fishbone_export, postmortem

    assert fishbone_export.md_escape is md_escape
    assert postmortem.md_text("a|b ![i](u)") == md_escape("a|b ![i](u)") == "a\\|b !\\[i\\](u)"
    assert strip_unsafe_links("[x](https://ok) [y](javascript:z)") == "[x](https://ok) [y](#unsafe-link-removed)"


# ---------------------------------------------------------------- Distributions "Local paths" allow-list


def test_local_paths_on_the_embedded_default_read_anything_and_say_so(tmp_path):
    from core.data_dirs import local_paths_policy

    policy = local_paths_policy({})
    assert policy.enabled and policy.folders == ()
    assert "server" in policy.notice and "WORKBENCH_DATA_DIRS" in policy.notice
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    assert policy.check(str(f)) == f.resolve()


@pytest.mark.parametrize("url", ["postgresql://u@db/wb", "postgres://u@db/wb", "postgresql+psycopg2://u@db/wb"])
def test_local_paths_are_off_in_team_mode_without_an_allow_list(url, tmp_path):
    from core.data_dirs import local_paths_policy
    from core.errors import InvalidInputError

    policy = local_paths_policy({"DATABASE_URL": url})
    assert not policy.enabled
    with pytest.raises(InvalidInputError, match="off in team mode.*WORKBENCH_DATA_DIRS"):
        policy.check(str(tmp_path / "x.csv"))
    assert local_paths_policy({"DATABASE_URL": "sqlite:////tmp/wb.db"}).enabled


def test_local_paths_allow_list_resolves_dots_and_links(tmp_path):
    import os

    from core.data_dirs import local_paths_policy
    from core.errors import InvalidInputError

    allowed, other, sibling = tmp_path / "allowed", tmp_path / "other", tmp_path / "allowed-evil"
    for d in (allowed / "sub", other, sibling):
        d.mkdir(parents=True)
    for d in (allowed / "sub", other, sibling):
        (d / "data.csv").write_text("a\n1\n")
    (allowed / "link.csv").symlink_to(other / "data.csv")
    (allowed / "linkdir").symlink_to(other)
    env = {"DATABASE_URL": "postgresql://u@db/wb",
           "WORKBENCH_DATA_DIRS": os.pathsep.join([str(allowed), "", str(tmp_path / "missing")])}
    policy = local_paths_policy(env)
    assert policy.enabled and policy.folders[0] == allowed.resolve()
    assert policy.check(str(allowed / "sub" / "data.csv")) == (allowed / "sub" / "data.csv").resolve()
    assert policy.check(str(allowed / "sub" / ".." / "sub" / "data.csv")).name == "data.csv"
    for bad in (other / "data.csv", allowed / ".." / "other" / "data.csv", allowed / "link.csv",
                allowed / "linkdir" / "data.csv", sibling / "data.csv", "/etc/passwd"):
        with pytest.raises(InvalidInputError, match="outside the folders app users may read"):
            policy.check(str(bad))
