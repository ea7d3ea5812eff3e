"""AppTest: log and user text never becomes Markdown (images, links) on the Logs page; Local paths is guarded."""

from __future__ import annotations

import json
import re
from pathlib import Path

from markdown_it import MarkdownIt

from core.store import open_store
from core.store.incidents import get_incident

LOGS = "app_pages/logs.py"
HOST = "127.0.0.1:9"


def _rendered_markdown(at) -> list[str]:
    """Every string the page hands to a Markdown renderer: bodies, captions, alerts, labels and tooltips."""
    out = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success") for e in getattr(at, kind)]
    out += [e.label for e in at.expander]
    out += [b.label for b in at.button] + [b.help or "" for b in at.button]
    return [str(x) for x in out]


def _links_to_host(texts: list[str]) -> list[str]:
    md = MarkdownIt("commonmark")
    return [t for t in texts if re.search(r"""(src|href)="[^"]*""" + re.escape(HOST), md.render(t))]


def _plant_hostile_logs(home: Path, incident_id: str) -> None:
    store = open_store(f"sqlite:///{home / 'workbench.db'}")
    try:
        bundle = Path(get_incident(store, incident_id).bundle_path)
    finally:
        store.dispose()
    window = json.loads((bundle / "bundle.json").read_text())["window"]
    start = window["start"] if isinstance(window, dict) else window.split("/")[0]
    log = sorted((bundle / "logs").glob("*.jsonl"))[0]
    rows = [{"@timestamp": start.replace("Z", "").split("+")[0][:19] + f".00{i}Z", "log.level": "ERROR",
             "service.name": f"![svc](http://{HOST}/svc.png)", f"![f](http://{HOST}/field.png)": "v",
             "message": f"hostile [link](http://{HOST}/msg) ![m](http://{HOST}/msg.png)"} for i in range(3)]
    with log.open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def test_log_field_values_render_as_text(app_test, workbench_home):
    _plant_hostile_logs(workbench_home, "demo-fraud-stale")
    at = app_test(LOGS, incident="demo-fraud-stale", q="hostile")
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Hits") == "3"
    texts = _rendered_markdown(at)
    # the hostile values are on the page (as text), and no Markdown element turns them into an image or link
    assert any("svc.png" in t for t in texts) and any("field.png" in t for t in texts)
    assert _links_to_host(texts) == []
    assert any("svc.png" in t.value for t in at.text)  # facet values are plain text
    # a pill built from the hostile value is escaped too
    at.button(key="logs_inc_service.name_0").click().run()
    assert not at.exception
    assert any(b.key == "logs_pill_0" and "svc.png" in b.label for b in at.button)
    assert _links_to_host(_rendered_markdown(at)) == []


def test_query_errors_quote_the_query_as_text(app_test):
    at = app_test(LOGS, incident="demo-fraud-stale", q="evil\\[x\\]\\(http\\://" + HOST.replace(":", "\\:") + "/q.png\\):1")
    assert not at.exception
    assert any("unknown field" in e.value and "q.png" in e.value for e in at.error)
    assert _links_to_host(_rendered_markdown(at)) == []


# ---------------------------------------------------------------- Distributions "Local paths"

DISTRIBUTIONS = "app_pages/distributions.py"


def test_local_paths_are_off_in_team_mode_without_an_allow_list(app_test, pg_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.delenv("WORKBENCH_DATA_DIRS", raising=False)
    at = app_test(DISTRIBUTIONS, timeout=300)  # the first start seeds the demo incidents into PostgreSQL
    at.radio(key="distributions_source").set_value("Local paths").run()
    assert not at.exception
    assert any("off in team mode" in w.value and "WORKBENCH\\_DATA\\_DIRS" in w.value for w in at.warning)
    assert not [t for t in at.text_input if t.key == "distributions_path_ref"]


def test_local_paths_allow_list_refuses_files_outside(app_test, tmp_path, monkeypatch):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n2\n")
    (allowed / "link.csv").symlink_to(outside / "secret.csv")
    monkeypatch.setenv("WORKBENCH_DATA_DIRS", str(allowed))
    at = app_test(DISTRIBUTIONS, incident="demo-ctr-drop")
    at.radio(key="distributions_source").set_value("Local paths").run()
    assert any("only inside" in c.value for c in at.caption)
    for path in (outside / "secret.csv", allowed / "link.csv"):
        at.text_input(key="distributions_path_ref").input(str(path))
        at.text_input(key="distributions_path_cur").input(str(path)).run()
        assert not at.exception
        assert any("outside the folders app users may read" in e.value for e in at.error)
