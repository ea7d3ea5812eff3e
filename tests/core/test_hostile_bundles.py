"""Hostile and broken bundles: ids that are paths, symbolic links, zip bombs, deep nesting,
and values that import would refuse. ``bundle validate`` and import must agree on each,
with one clear message and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.bundle import check_incident_id, read_bundle, require_incident_id, validate_bundle, write_bundle
from core.errors import BundleError, InvalidInputError
from core.paths import home_path, inside

ROOT = Path(__file__).resolve().parents[2]


def _bundle(path: Path, *, events: list | None = None, metrics: dict | None = None, **overrides) -> Path:
    """A small valid bundle at ``path``, with manifest keys replaced by ``overrides``."""
    manifest = {
        "id": "hostile-1", "title": "Small", "service": "svc",
        "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        **overrides,
    }
    if metrics is None:
        metrics = {"kpi": pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"),
                                        "value": [1.0, 2.0, 3.0]})}
    if events is None:
        events = [{"timestamp": "2026-01-01T01:00:00Z", "kind": "deploy", "title": "v2"}]
    logs = {"app.jsonl": [{"@timestamp": "2026-01-01T00:00:00Z", "message": "hello"}]}
    return write_bundle(path, manifest, metrics=metrics, logs=logs, events=events)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})


def _one_line_error(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr)


# ---------------------------------------------------------------- ids and paths

BAD_IDS = ["..", ".", "../../x", "/abs", "a/b", "a\\b", "", "x" * 65, "-lead", "a\nb", "CON", "nul.txt"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_are_refused_by_the_one_rule(bad):
    problem = check_incident_id(bad)
    assert problem and "\n" not in problem
    with pytest.raises(BundleError, match="incident id"):
        require_incident_id(bad)


@pytest.mark.parametrize("good", ["demo-ctr-drop", "INC.2026_03-1", "a", "x" * 64])
def test_good_ids_pass(good):
    assert check_incident_id(good) is None and require_incident_id(good) == good


@pytest.mark.parametrize("bad", ["..", "../../x", "/abs", "a/b", "x" * 65])
def test_validate_rejects_path_ids(tmp_path, bad):
    b = _bundle(tmp_path / "b", id=bad)
    problems = validate_bundle(b)
    assert any(p.file == "bundle.json" and "incident id" in p.message for p in problems), problems
    with pytest.raises(BundleError, match="incident id"):
        read_bundle(b)


def test_cli_validate_rejects_a_path_id(tmp_path):
    proc = _cli("bundle", "validate", str(_bundle(tmp_path / "b", id="../../x")))
    _one_line_error(proc)
    assert proc.returncode == 1 and "incident id '../../x' is a path" in proc.stderr


def test_inside_refuses_to_leave_its_base(tmp_path):
    base = tmp_path / "home"
    base.mkdir()
    assert inside(base, "bundles", "x") == (base / "bundles" / "x").resolve()
    for parts in ((".."), ("bundles", "..", ".."), ("/etc",), ("",), ("a/../..",)):
        with pytest.raises(InvalidInputError):
            inside(base, *parts)
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidInputError, match="outside"):
        inside(base, "link", "x")


def test_home_path_uses_workbench_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "wh"))
    assert home_path("bundles", "a") == (tmp_path / "wh" / "bundles" / "a").resolve()
    with pytest.raises(InvalidInputError):
        home_path("bundles", "..", "..")


@pytest.mark.parametrize("bad", ["..", "../outside"])
def test_importing_a_path_id_deletes_nothing(tmp_path, bad):
    """The real CLI and store: a '..' id must leave the home, the store and its neighbours intact."""
    home = tmp_path / "home"
    (home / "bundles" / "keep").mkdir(parents=True)
    (home / "bundles" / "keep" / "f.txt").write_text("keep")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious.txt").write_text("precious")
    env = {"WORKBENCH_HOME": str(home), "DATABASE_URL": ""}
    good = _bundle(tmp_path / "good", id="good-1")
    assert _cli("bundle", "import", str(good), env=env).returncode == 0
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if "src" not in p.parts)
    proc = _cli("bundle", "import", str(_bundle(tmp_path / "src", id=bad)), env=env)
    _one_line_error(proc)
    assert "incident id" in proc.stderr
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if "src" not in p.parts)
    assert [p for p in after if not p.endswith(("-wal", "-shm", "-journal"))] == \
        [p for p in before if not p.endswith(("-wal", "-shm", "-journal"))]
    assert (tmp_path / "outside" / "precious.txt").read_text() == "precious"
    assert (home / "bundles" / "keep" / "f.txt").read_text() == "keep"
    assert (home / "workbench.db").is_file()


# ---------------------------------------------------------------- symbolic links

def test_symlink_to_a_file_outside_is_refused_and_not_copied(tmp_path, sqlite_store, monkeypatch):
    from core.store.imports import import_bundle

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    secret = tmp_path / "secret.csv"
    secret.write_text("timestamp,value\n2026-01-01T00:00:00Z,42\n")
    b = _bundle(tmp_path / "b")
    (b / "metrics" / "stolen.csv").symlink_to(secret)
    problems = validate_bundle(b)
    assert [str(p) for p in problems] == [
        "metrics/stolen.csv: symbolic links are not allowed in a bundle; copy the file in"]
    with pytest.raises(BundleError, match="symbolic links are not allowed"):
        import_bundle(sqlite_store, b)
    assert not list((tmp_path / "home").rglob("stolen.csv"))


def test_symlink_loop_is_reported_not_crashed(tmp_path):
    b = _bundle(tmp_path / "b")
    (b / "logs" / "loop").symlink_to(b / "logs" / "loop")
    (b / "datasets").mkdir()
    (b / "datasets" / "up").symlink_to(b)
    problems = validate_bundle(b)
    assert {p.file for p in problems} == {"logs/loop", "datasets/up"}
    assert all("symbolic links are not allowed" in p.message for p in problems)
    with pytest.raises(BundleError, match="symbolic links"):
        read_bundle(b)


def test_cli_reports_symlinks_in_one_line(tmp_path):
    b = _bundle(tmp_path / "b")
    (b / "events2.jsonl").symlink_to("/etc/passwd")
    proc = _cli("bundle", "validate", str(b))
    _one_line_error(proc)
    assert "events2.jsonl: symbolic links are not allowed in a bundle; copy the file in" in proc.stderr
