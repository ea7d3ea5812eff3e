"""Bundle import is all or nothing, safe under races and interruptions, on SQLite and PostgreSQL.

Every test runs against the real stores (a SQLite file, a fresh PostgreSQL database), and the
interruption and race tests run real processes: ``python -m core bundle import`` killed with
SIGKILL mid-import, two imports of the same id started at the same instant, and two
"replicas" building the demo incidents into one fresh workbench home at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.bundle import validate_bundle
from core.demo.large import write_large_bundle
from core.errors import BundleError
from core.store import open_store
from core.flows.import_bundle import IncidentExistsError, import_bundle
from core.store.incidents import find_incident, get_incident
from core.store.tables import incidents, timeline_events
from core.store.timeline import list_events

ROOT = Path(__file__).resolve().parents[2]
KILL_EVENTS = 150_000


def _count(store, table, **where) -> int:
    q = select(func.count()).select_from(table)
    for col, value in where.items():
        q = q.where(table.c[col] == value)
    with store.engine.connect() as conn:
        return conn.execute(q).scalar_one()


def _env(home: Path, url: str | None = None) -> dict[str, str]:
    env = dict(os.environ, WORKBENCH_HOME=str(home), PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    return env


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A store URL of either backend (a fresh database each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory) -> Path:
    return write_large_bundle(tmp_path_factory.mktemp("big") / "big", KILL_EVENTS, incident_id="big-import")


def _staging(home: Path) -> list[Path]:
    d = home / "bundles" / ".staging"
    return sorted(d.iterdir()) if d.is_dir() else []


# ---------------------------------------------------------------- interrupted imports

def test_killed_import_leaves_nothing_and_a_retry_succeeds(store_url, big_bundle, home):
    open_store(store_url).dispose()  # migrate first, so the kill lands in the import itself
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "bundle", "import", str(big_bundle), "--database", store_url, "--progress"],
        cwd=ROOT, env=_env(home), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            m = re.search(r"importing events: ([\d,]+) of", line)
            if m and int(m.group(1).replace(",", "")) > 0:
                break
        else:
            pytest.fail(f"no progress before the import ended: {''.join(seen)}")
        proc.send_signal(signal.SIGKILL)  # mid-import: events are being inserted
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = open_store(store_url)
    try:
        assert find_incident(store, "big-import") is None
        assert _count(store, timeline_events) == 0
        assert not (home / "bundles" / "big-import").exists()

        assert import_bundle(store, big_bundle) == "big-import"  # the retry is not refused as a duplicate
        assert _count(store, timeline_events, incident_id="big-import") == KILL_EVENTS
        inc = get_incident(store, "big-import")
        assert Path(inc.bundle_path) == (home / "bundles" / "big-import").resolve()
        assert (home / "bundles" / "big-import" / "bundle.json").is_file()
        assert set(inc.milestones) == {"started", "detected"}
        assert _staging(home) == []  # the killed import's staging folder was removed
    finally:
        store.dispose()


def test_cli_reports_progress_and_result(tmp_path, home):
    bundle = write_large_bundle(tmp_path / "b", 12_000, incident_id="cli-progress")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "core", "bundle", "import", str(bundle), "--database", url,
                          "--progress", "--json"], cwd=ROOT, env=_env(home), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"incident": "cli-progress"}
    assert "importing events:" in out.stderr and "imported 12,002 of 12,002 event lines (100%)" in out.stderr
    again = subprocess.run([sys.executable, "-m", "core", "bundle", "import", str(bundle), "--database", url],
                           cwd=ROOT, env=_env(home), capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr.strip().startswith("error: an incident with id 'cli-progress' already exists")
    assert "Traceback" not in again.stderr and again.stderr.count("\n") == 1


# ---------------------------------------------------------------- data no store can hold

@pytest.mark.parametrize("title, what", [("deploy \\ud800 api", "surrogate"), ("nul \\u0000 byte", "NUL")])
def test_text_no_store_can_hold_is_refused_with_its_line(store, tmp_path, home, title, what):
    bad = '{"timestamp": "2024-05-01T10:00:00Z", "kind": "deploy", "title": "' + title + '"}'
    bundle = write_large_bundle(tmp_path / "bad", 12_000, incident_id="bad-text", extra_lines=[bad])
    with pytest.raises(BundleError, match=rf"events\.jsonl:12003: .*{what}"):
        import_bundle(store, bundle)
    assert find_incident(store, "bad-text") is None  # nothing, though 12,000 rows were inserted first
    assert _count(store, timeline_events) == 0
    assert not (home / "bundles" / "bad-text").exists() and _staging(home) == []
    good = write_large_bundle(tmp_path / "good", 10, incident_id="bad-text")
    assert import_bundle(store, good) == "bad-text"
    assert len(list_events(store, "bad-text")) == 10


def test_surrogate_in_an_attribute_names_the_field(store, tmp_path, home):
    bad = '{"timestamp": "2024-05-01T10:00:00Z", "kind": "alert", "title": "ok", "attributes": {"host": "\\udc80x"}}'
    bundle = write_large_bundle(tmp_path / "bad", 3, incident_id="bad-attr", extra_lines=[bad])
    with pytest.raises(BundleError, match=r"events\.jsonl:6: .*surrogate"):
        import_bundle(store, bundle)
    assert find_incident(store, "bad-attr") is None


def test_nan_and_infinite_attributes_are_stored_as_null(store, tmp_path, home):
    line = ('{"timestamp": "2024-05-01T10:00:00Z", "kind": "alert", "title": "nan", "attributes": '
            '{"x": NaN, "y": Infinity, "z": -Infinity, "big": 1e999, "ok": 1.5, "nested": {"a": [NaN, 2]}}}')
    bundle = write_large_bundle(tmp_path / "nan", 2, incident_id="nan-attrs", extra_lines=[line])
    assert import_bundle(store, bundle) == "nan-attrs"
    (ev,) = [e for e in list_events(store, "nan-attrs") if e.title == "nan"]
    assert ev.details == {"x": None, "y": None, "z": None, "big": None, "ok": 1.5, "nested": {"a": [None, 2]}}
    assert len(list_events(store, "nan-attrs")) == 3


def test_bulk_rows_read_back_like_single_inserts(store, tmp_path, home):
    line = ('{"timestamp": "2024-05-01T10:00:00.123456+02:00", "end": "2024-05-01T11:00:00Z", "kind": "deploy", '
            '"title": "  tab\\there, new\\nline, back\\\\slash  ", "source": "ci", "attributes": {"k": "v\\u00e9"}}')
    bundle = write_large_bundle(tmp_path / "esc", 1, incident_id="escapes", extra_lines=[line])
    import_bundle(store, bundle)
    (ev,) = [e for e in list_events(store, "escapes") if e.source == "ci"]
    assert ev.title == "tab\there, new\nline, back\\slash"
    assert ev.timestamp.isoformat() == "2024-05-01T08:00:00.123456+00:00"
    assert ev.end.isoformat() == "2024-05-01T11:00:00+00:00"
    assert ev.details == {"k": "vé"} and ev.author == "bundle import" and ev.version == 1 and not ev.pinned
    # the stored time compares correctly with times written by the ORM
    from datetime import datetime, timezone

    assert [e.title for e in list_events(store, "escapes", start=datetime(2024, 5, 1, 8, tzinfo=timezone.utc),
                                         end=datetime(2024, 5, 1, 9, tzinfo=timezone.utc))] == [ev.title]


# ---------------------------------------------------------------- ids and paths

def test_rename_imports_under_the_next_free_id_with_its_own_folder(store, tmp_path, home):
    bundle = write_large_bundle(tmp_path / "r", 5, incident_id="renamed")
    assert import_bundle(store, bundle, if_exists="rename") == "renamed"
    assert import_bundle(store, bundle, if_exists="rename") == "renamed-2"
    assert import_bundle(store, bundle, if_exists="skip") == "renamed"
    with pytest.raises(IncidentExistsError, match="'renamed' already exists"):
        import_bundle(store, bundle)
    assert get_incident(store, "renamed-2").bundle_path == str((home / "bundles" / "renamed-2").resolve())
    assert _count(store, timeline_events, incident_id="renamed-2") == 5
    assert _count(store, incidents) == 2


def test_path_like_id_is_refused_before_any_file_operation(sqlite_store, tmp_path, home):
    (home / "keep.txt").write_text("precious")
    bundle = write_large_bundle(tmp_path / "evil", 3, incident_id="..")
    with pytest.raises(BundleError, match="incident id"):
        import_bundle(sqlite_store, bundle)
    assert (home / "keep.txt").read_text() == "precious"
    assert not (home / "bundles").exists() or list((home / "bundles").iterdir()) in ([], [home / "bundles" / ".staging"])


# ---------------------------------------------------------------- races between processes

_RACE = """
import sys, time
from core.store import open_store
from core.flows.import_bundle import import_bundle
from core.errors import WorkbenchError
store = open_store(sys.argv[2])
start_together(sys.argv[3])
try:
    print(import_bundle(store, sys.argv[1]))
except WorkbenchError as exc:
    print(exc, file=sys.stderr)
    sys.exit(exc.exit_code)
"""


_BARRIER = """
import os, time
def start_together(folder):
    open(os.path.join(folder, "ready-%d" % os.getpid()), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.002)
"""


def _start_together(argvs: list[list[str]], env: dict[str, str], script: str, timeout: float = 300.0):
    """Start one process per argv; each gets ready (imports, opens its store), then all start their
    real work at the same instant: when every one is ready, the parent says go."""
    barrier = Path(tempfile.mkdtemp(prefix="race-"))
    procs = [subprocess.Popen([sys.executable, "-c", _BARRIER + script, *argv, str(barrier)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for argv in argvs]
    try:
        deadline = time.monotonic() + timeout
        while len(list(barrier.glob("ready-*"))) < len(procs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                break  # the results below say what went wrong
            time.sleep(0.01)
        (barrier / "go").touch()
        return [(p.wait(timeout=600), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(barrier, ignore_errors=True)


def test_concurrent_imports_of_one_id_keep_row_and_files_together(store_url, tmp_path, home):
    a = write_large_bundle(tmp_path / "a", 20_000, incident_id="same-id", title="Bundle A", seed=1)
    b = write_large_bundle(tmp_path / "b", 200, incident_id="same-id", title="Bundle B", seed=2)
    open_store(store_url).dispose()
    results = _start_together([[str(a), store_url], [str(b), store_url]], _env(home), _RACE)
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert "already exists" in loser[2]
    store = open_store(store_url)
    try:
        inc = get_incident(store, "same-id")
        on_disk = json.loads((home / "bundles" / "same-id" / "bundle.json").read_text())
        assert on_disk["title"] == inc.title  # row and files come from the same bundle
        expected = 20_000 if inc.title == "Bundle A" else 200
        assert _count(store, timeline_events, incident_id="same-id") == expected
        assert _staging(home) == []
    finally:
        store.dispose()


_REPLICA = """
import sys, time
from core.store import open_store
from core.demo import ensure_demo_incidents
store = open_store()
start_together(sys.argv[1])
print(ensure_demo_incidents(store, registry=False))
"""


def test_two_replicas_build_the_demos_into_one_fresh_home(store_url, tmp_path):
    from core.demo import DEMO_IDS

    home = tmp_path / "fresh-home"
    url = None if store_url.startswith("sqlite") else store_url
    env = _env(home, url)
    if url is None:
        env.pop("DATABASE_URL", None)
    results = _start_together([[], []], env, _REPLICA)
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err
    store = open_store(url or f"sqlite:///{home / 'workbench.db'}")
    try:
        assert sorted(i for (i,) in store.engine.connect().execute(select(incidents.c.id))) == sorted(DEMO_IDS)
        for demo_id in DEMO_IDS:
            assert len(list_events(store, demo_id)) > 0
            folder = home / "demo-bundles" / demo_id
            assert validate_bundle(folder) == []
            assert get_incident(store, demo_id).bundle_path == str(folder.resolve())
        leftovers = [p.name for p in (home / "demo-bundles").iterdir() if p.name not in DEMO_IDS]
        assert all(name.startswith(".lock") or name == ".lock" for name in leftovers), leftovers
    finally:
        store.dispose()
