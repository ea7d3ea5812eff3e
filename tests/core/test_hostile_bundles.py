"""Hostile and broken bundles: ids that are paths, symbolic links, zip bombs, deep nesting,
and values that import would refuse. ``bundle validate`` and import must agree on each,
with one clear message and never a traceback."""

from __future__ import annotations

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
    assert proc.returncode == 1 and "'../../x' is not a valid incident id: it is a path" in proc.stderr


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
    from core.flows.import_bundle import import_bundle

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


# ---------------------------------------------------------------- zips: bombs, links, cache

@pytest.fixture
def tmpdir_only(tmp_path, monkeypatch) -> Path:
    """A private workbench home (which holds the zip cache) and a private system temp folder
    beside it, so leftovers in either can be counted exactly. Returns the home."""
    import tempfile

    t = tmp_path / "tmp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


def _zip_dir(src: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(src))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out


def _leftovers(home: Path) -> list[str]:
    """Everything in the home except the cache's finished entries, and everything in the temp folder."""
    out = [f"tmp/{p.relative_to(home.parent / 'tmp')}" for p in (home.parent / "tmp").rglob("*")]
    for p in home.rglob("*") if home.is_dir() else []:
        rel = p.relative_to(home)
        if rel.parts[:2] == ("cache", "bundles") and len(rel.parts) > 2 and not rel.parts[2].startswith("."):
            continue
        if rel.parts in (("cache",), ("cache", "bundles")):
            continue
        out.append(str(rel))
    return out


def _cache_entries(home: Path) -> list[Path]:
    cache = home / "cache" / "bundles"
    return sorted(p for p in cache.iterdir() if not p.name.startswith(".")) if cache.is_dir() else []


def test_zip_bomb_is_refused_by_ratio_before_extracting(tmp_path, tmpdir_only):
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "bomb.zip", {"logs/zeros.jsonl": b"\0" * (4 << 20)})
    assert z.stat().st_size < 100_000
    problems = validate_bundle(z)
    assert len(problems) == 1 and problems[0].file == "logs/zeros.jsonl", problems
    assert "over the limit of 100:1 (WORKBENCH_ZIP_MAX_RATIO)" in problems[0].message
    with pytest.raises(BundleError, match="zip refused: logs/zeros.jsonl: compressed"):
        read_bundle(z)
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []


def test_zip_ratio_limit_is_configurable(tmp_path, tmpdir_only, monkeypatch):
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip", {"logs/zeros.jsonl": b"\0" * (4 << 20)})
    monkeypatch.setenv("WORKBENCH_ZIP_MAX_RATIO", "100000")
    assert not any("ratio" in p.message or "compressed" in p.message for p in validate_bundle(z))
    monkeypatch.setenv("WORKBENCH_ZIP_MAX_RATIO", "lots")
    with pytest.raises(InvalidInputError, match="WORKBENCH_ZIP_MAX_RATIO='lots' is not a positive number"):
        validate_bundle(z)


def test_total_size_cap_from_environment(tmp_path, tmpdir_only, monkeypatch):
    rng = __import__("numpy").random.default_rng(7)
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "big.zip", {"datasets/noise.bin": rng.bytes(3 << 20)})
    assert validate_bundle(z) == []  # 3 MB of noise is fine by default
    cached = _cache_entries(tmpdir_only)
    for p in cached:
        __import__("shutil").rmtree(p)
    monkeypatch.setenv("WORKBENCH_BUNDLE_MAX_MB", "2")
    problems = validate_bundle(z)
    assert [p.message for p in problems] == [
        "expands to 3.0 MB, over the limit of 2.0 MB (WORKBENCH_BUNDLE_MAX_MB)"]
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []
    proc = _cli("bundle", "validate", str(z), env={"WORKBENCH_BUNDLE_MAX_MB": "2", "WORKBENCH_HOME": str(tmpdir_only),
                                                          "TMPDIR": str(tmpdir_only.parent / "tmp")})
    _one_line_error(proc)
    assert "over the limit of 2.0 MB" in proc.stderr


def test_declared_sizes_are_not_trusted(tmp_path, tmpdir_only):
    """A zip whose directory claims a tiny size for a large entry is refused and leaves nothing."""
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "liar.zip", {"logs/zeros.jsonl": b"\0" * (4 << 20)})
    data = bytearray(z.read_bytes())
    name = b"logs/zeros.jsonl"
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")  # uncompressed size: 1000 bytes
    z.write_bytes(bytes(data))
    problems = validate_bundle(z)
    assert problems and problems[0].file in ("liar.zip", "logs/zeros.jsonl"), problems
    with pytest.raises(BundleError, match="zip refused"):
        read_bundle(z)
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []


def test_symlink_entry_in_zip_is_refused(tmp_path, tmpdir_only):
    import stat
    import zipfile

    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "link.zip")
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo("metrics/passwd.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    assert [str(p) for p in validate_bundle(z)] == [
        "metrics/passwd.csv: symbolic links are not allowed in a bundle; copy the file in"]
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []


def test_unsafe_zip_path_is_refused_and_leaves_no_temp_folder(tmp_path, tmpdir_only):
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "evil.zip", {"../evil.txt": b"x"})
    assert any(p.file == "../evil.txt" and "unsafe path" in p.message for p in validate_bundle(z))
    assert not (tmp_path / "evil.txt").exists()
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []


def test_invalid_zip_is_extracted_once_and_never_nested(tmp_path, tmpdir_only):
    src = tmp_path / "notabundle"
    src.mkdir()
    (src / "readme.txt").write_text("hello")
    (src / "a").mkdir()
    (src / "b").mkdir()
    (src / "a" / "x.txt").write_text("x")
    z = _zip_dir(src, tmp_path / "invalid.zip")
    first = validate_bundle(z)
    (entry,) = _cache_entries(tmpdir_only)
    inode = (entry / "readme.txt").stat().st_ino
    listing = sorted(str(p.relative_to(entry)) for p in entry.rglob("*"))
    assert validate_bundle(z) == first and "bundle.json" in first[0].file
    assert _cache_entries(tmpdir_only) == [entry]
    assert sorted(str(p.relative_to(entry)) for p in entry.rglob("*")) == listing
    assert (entry / "readme.txt").stat().st_ino == inode  # not extracted again
    assert _leftovers(tmpdir_only) == []


def test_cache_is_bounded(tmp_path, tmpdir_only):
    from core.bundle import CACHE_KEEP

    src = _bundle(tmp_path / "b")
    for i in range(CACHE_KEEP + 3):
        z = _zip_dir(src, tmp_path / f"z{i}.zip", {"extra.txt": str(i).encode()})
        assert validate_bundle(z) == []
    assert len(_cache_entries(tmpdir_only)) == CACHE_KEEP
    assert _leftovers(tmpdir_only) == []


def test_concurrent_readers_share_one_complete_extraction(tmp_path, tmpdir_only):
    from concurrent.futures import ThreadPoolExecutor

    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: read_bundle(z), range(4)))
    assert {r.path for r in results} == {_cache_entries(tmpdir_only)[0]}
    assert all(r.id == "hostile-1" and r.events() for r in results)
    assert _leftovers(tmpdir_only) == []


def test_interrupted_extraction_leaves_nothing(tmp_path, tmpdir_only, monkeypatch):
    """Ctrl-C in the middle of extracting (raised from the real reader) leaves no folder behind."""
    import zipfile

    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip")
    real_read = zipfile.ZipExtFile.read
    calls = {"n": 0}

    def read_then_interrupt(self, n=-1):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        read_bundle(z)
    monkeypatch.setattr(zipfile.ZipExtFile, "read", real_read)
    assert _leftovers(tmpdir_only) == [] and _cache_entries(tmpdir_only) == []
    assert read_bundle(z).id == "hostile-1"  # and the next run works


def test_zip_cache_lives_in_the_workbench_home(tmp_path, tmpdir_only):
    z = _zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip")
    bundle = read_bundle(z)
    assert bundle.path.parent == (tmpdir_only / "cache" / "bundles").resolve()
    assert bundle.events() and _cache_entries(tmpdir_only) == [bundle.path]
    assert _leftovers(tmpdir_only) == []  # nothing in the system temp folder either


def test_legacy_temp_caches_are_swept_once_and_only_their_hash_entries(tmp_path, tmpdir_only):
    temp = tmpdir_only.parent / "tmp"
    old16, old24 = temp / "workbench-bundles", temp / "workbench-bundle-cache"
    (old16 / "0123456789abcdef" / "nested").mkdir(parents=True)
    (old16 / "0123456789abcdef" / "bundle.json").write_text("{}")
    (old24 / ("a" * 24)).mkdir(parents=True)
    (old24 / ".extract-k2j4_x").mkdir()
    (old24 / "notes").mkdir()  # not a cache entry's name: kept
    (old24 / ("b" * 23)).mkdir()  # one digit short: kept
    outside = tmp_path / "precious"
    (outside / "data").mkdir(parents=True)
    (old24 / ("c" * 24)).symlink_to(outside, target_is_directory=True)  # a link: neither followed nor removed

    assert validate_bundle(_zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip")) == []
    assert not old16.exists()  # emptied, so removed
    assert sorted(p.name for p in old24.iterdir()) == ["b" * 23, "c" * 24, "notes"]
    assert (outside / "data").is_dir()

    (old16 / "fedcba9876543210").mkdir(parents=True)  # the home's cache exists now: not swept again
    assert validate_bundle(_zip_dir(_bundle(tmp_path / "b2"), tmp_path / "z2.zip")) == []
    assert (old16 / "fedcba9876543210").is_dir()


def test_legacy_cache_that_is_a_link_is_left_alone(tmp_path, tmpdir_only):
    victim = tmp_path / "victim"
    (victim / ("d" * 24)).mkdir(parents=True)
    (tmpdir_only.parent / "tmp" / "workbench-bundle-cache").symlink_to(victim, target_is_directory=True)
    assert validate_bundle(_zip_dir(_bundle(tmp_path / "b"), tmp_path / "z.zip")) == []
    assert (victim / ("d" * 24)).is_dir()


# ---------------------------------------------------------------- directory bundles: size cap

def test_directory_bundle_size_cap_from_environment(tmp_path, sqlite_store, monkeypatch):
    from core.flows.import_bundle import import_bundle

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    b = _bundle(tmp_path / "big")
    (b / "datasets").mkdir(exist_ok=True)
    (b / "datasets" / "noise.bin").write_bytes(b"\1" * (3 << 20))
    assert validate_bundle(b) == []  # 3 MB is fine by default
    monkeypatch.setenv("WORKBENCH_BUNDLE_MAX_MB", "2")
    assert [str(p) for p in validate_bundle(b)] == [
        "big: holds 3.0 MB of files, over the limit of 2.0 MB (WORKBENCH_BUNDLE_MAX_MB)"]
    with pytest.raises(BundleError, match=r"over the limit of 2\.0 MB \(WORKBENCH_BUNDLE_MAX_MB\)"):
        import_bundle(sqlite_store, b)
    assert not (tmp_path / "home" / "bundles" / "hostile-1").exists()
    proc = _cli("bundle", "validate", str(b), env={"WORKBENCH_BUNDLE_MAX_MB": "2"})
    _one_line_error(proc)
    assert "big: holds 3.0 MB of files, over the limit of 2.0 MB (WORKBENCH_BUNDLE_MAX_MB)" in proc.stderr


def test_directory_size_cap_counts_regular_files_only(tmp_path, monkeypatch):
    """A sparse file counts by its size; a link is refused as a link, never measured through."""
    b = _bundle(tmp_path / "b")
    monkeypatch.setenv("WORKBENCH_BUNDLE_MAX_MB", "1")
    big = tmp_path / "outside.bin"
    with big.open("wb") as fh:
        fh.truncate(50 << 20)
    (b / "datasets").mkdir(exist_ok=True)
    (b / "datasets" / "big.bin").symlink_to(big)
    assert [p.message for p in validate_bundle(b)] == [
        "symbolic links are not allowed in a bundle; copy the file in"]
    (b / "datasets" / "big.bin").unlink()
    with (b / "datasets" / "sparse.bin").open("wb") as fh:
        fh.truncate(2 << 20)
    assert [p.message for p in validate_bundle(b)] == [
        "holds 2.0 MB of files, over the limit of 1.0 MB (WORKBENCH_BUNDLE_MAX_MB)"]


# ---------------------------------------------------------------- nesting depth

def test_deep_bundle_json_is_a_bundle_error_naming_the_file(tmp_path):
    b = _bundle(tmp_path / "b")
    (b / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)
    problems = validate_bundle(b)
    assert [str(p) for p in problems] == ["bundle.json: nested deeper than 64 levels; flatten it"]
    with pytest.raises(BundleError, match="bundle.json: nested deeper than 64 levels"):
        read_bundle(b)


def test_deep_event_and_log_lines_are_reported_with_their_line(tmp_path):
    b = _bundle(tmp_path / "b")
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    with (b / "events.jsonl").open("a") as fh:
        fh.write('{"timestamp": "2026-01-01T02:00:00Z", "kind": "deploy", "title": "x", "attributes": '
                 + deep + "}\n")
    with (b / "logs" / "app.jsonl").open("a") as fh:
        fh.write('{"@timestamp": "2026-01-01T00:00:00Z", "message": "m", "x": ' + "[" * 70 + "]" * 70 + "}\n")
    assert sorted(str(p) for p in validate_bundle(b)) == [
        "events.jsonl:2: nested deeper than 64 levels; flatten it",
        "logs/app.jsonl:2: nested deeper than 64 levels; flatten it",
    ]


def test_cli_deep_manifest_is_one_line(tmp_path):
    b = _bundle(tmp_path / "b")
    (b / "bundle.json").write_text("{\"a\":" * 100_000 + "1" + "}" * 100_000)
    for action in ("validate", "import"):
        proc = _cli("bundle", action, str(b), env={"WORKBENCH_HOME": str(tmp_path / "home"), "DATABASE_URL": ""})
        _one_line_error(proc)
        assert "bundle.json: nested deeper than 64 levels" in proc.stderr


# ---------------------------------------------------------------- validation agrees with import

def _ev(ts: str, kind: str = "deploy", title: str = "v2", **extra) -> dict:
    return {"timestamp": ts, "kind": kind, "title": title, **extra}


def _metric_csv(*rows: str) -> dict:
    return {"kpi": "timestamp,value\n" + "".join(r + "\n" for r in rows)}


# (case id, manifest overrides, events, raw metric files, expected problem as printed by validate)
AGREE_CASES = [
    ("long-title", {"title": "t" * 301}, None, None,
     "bundle.json: 'title' is 301 characters long; keep it under 300"),
    ("root-cause-list", {"root_cause": ["data_drift"]}, None, None,
     "bundle.json: 'root_cause' is ['data_drift']; use one of data_drift"),
    ("severity-dict", {"severity": {"level": 1}}, None, None,
     "bundle.json: 'severity' is {'level': 1}; use one of SEV1"),
    ("status-list", {"status": ["resolved"]}, None, None, "bundle.json: 'status' is ['resolved']; use one of"),
    ("kpi-path", {"kpi": {"metric": "../../x", "direction": "higher_is_better"}}, None, None,
     "bundle.json: kpi.metric '../../x' must be a plain file name"),
    ("milestones-out-of-order", {}, [
        _ev("2026-01-01T03:00:00Z", "milestone", "started"),
        _ev("2026-01-01T02:00:00Z", "milestone", "detected"),
    ], None, "events.jsonl:2: milestone 'detected' (2026-01-01T02:00:00+00:00) is before 'started'"),
    ("mitigated-before-acknowledged", {}, [
        _ev("2026-01-01T05:00:00Z", "milestone", "x", attributes={"milestone": "acknowledged"}),
        _ev("2026-01-01T04:00:00Z", "milestone", "y", attributes={"milestone": "mitigated"}),
    ], None, "events.jsonl:2: milestone 'mitigated' (2026-01-01T04:00:00+00:00) is before 'acknowledged'"),
    ("milestone-attribute-list", {}, [
        _ev("2026-01-01T05:00:00Z", "milestone", "started", attributes={"milestone": ["started"]}),
    ], None, "events.jsonl:1: attributes.milestone is ['started']; use one of started"),
    ("event-source-too-long", {}, [_ev("2026-01-01T05:00:00Z", source="s" * 101)], None,
     "events.jsonl:1: 'source' is 101 characters long; keep it under 101"),
    ("event-year-9999-overflow", {}, [_ev("9999-12-31T23:00:00-05:00")], None,
     "events.jsonl:1: timestamp: '9999-12-31T23:00:00-05:00' is outside the supported range"),
    ("event-lone-surrogate", {}, ['{"timestamp": "2026-01-01T05:00:00Z", "kind": "deploy", "title": "v\\ud800"}'],
     None, "events.jsonl:1: 'title' holds a lone UTF-16 surrogate ('\\ud800'), which cannot be stored"),
    ("attribute-nul", {}, ['{"timestamp": "2026-01-01T05:00:00Z", "kind": "deploy", "title": "v",'
                           ' "attributes": {"host": "a\\u0000b"}}'],
     None, "events.jsonl:1: 'attributes.host' holds a NUL character (\\u0000), which cannot be stored"),
    ("manifest-surrogate", {"service": "svc\udc80"}, None, None,
     "bundle.json: 'service' holds a lone UTF-16 surrogate ('\\udc80'), which cannot be stored"),
    ("metric-year-1", {}, None, _metric_csv("0001-01-01T00:00:00Z,1.0", "2026-01-01T00:00:00Z,2.0"),
     "metrics/kpi.csv:2: timestamp '0001-01-01T00:00:00Z' is outside the supported range"),
    ("metric-year-9999", {}, None, _metric_csv("2026-01-01T00:00:00Z,1.0", "9999-12-31T00:00:00Z,2.0"),
     "metrics/kpi.csv:3: timestamp '9999-12-31T00:00:00Z' is outside the supported range"),
    ("metric-no-zone", {}, None, _metric_csv("2026-01-01T00:00:00Z,1.0", "2026-01-01T01:00:00,2.0"),
     "metrics/kpi.csv:3: timestamp '2026-01-01T01:00:00' has no time zone; add Z or an offset"),
]


def _agree_bundle(tmp_path: Path, overrides, events, metric_files) -> Path:
    raw_events = [e for e in (events or []) if isinstance(e, str)]
    b = _bundle(tmp_path / "b", events=[e for e in (events or []) if isinstance(e, dict)] or None, **overrides)
    if raw_events:
        (b / "events.jsonl").write_text("".join(e + "\n" for e in raw_events))
    for name, text in (metric_files or {}).items():
        (b / "metrics" / f"{name}.csv").write_text(text)
    return b


@pytest.mark.parametrize("case", AGREE_CASES, ids=[c[0] for c in AGREE_CASES])
def test_validate_and_import_agree(case, tmp_path, monkeypatch, capsys):
    from core.__main__ import main

    _, overrides, events, metric_files, expected = case
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    b = _agree_bundle(tmp_path, overrides, events, metric_files)
    problems = [str(p) for p in validate_bundle(b)]
    assert any(expected in p for p in problems), problems
    with pytest.raises(BundleError) as refused:
        read_bundle(b)
    assert expected in str(refused.value)

    assert main(["bundle", "validate", str(b)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["bundle", "import", str(b), "--database", db]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    from core.store import open_store
    from core.store.incidents import list_incidents

    store = open_store(db)
    try:
        assert list_incidents(store) == []  # never imported, not even partly
    finally:
        store.dispose()
    assert not (tmp_path / "home" / "bundles").exists() or not any((tmp_path / "home" / "bundles").iterdir())


def test_title_and_source_limits_are_the_stores(sqlite_store):
    """The validator's limits are the ones the store enforces."""
    from core.bundle import SOURCE_MAX, TITLE_MAX
    from core.store.incidents import create_incident
    from core.store.tables import timeline_events

    assert timeline_events.c.source.type.length == SOURCE_MAX

    create_incident(sqlite_store, id="ok", title="t" * TITLE_MAX)
    with pytest.raises(InvalidInputError, match="characters long"):
        create_incident(sqlite_store, id="too-long", title="t" * (TITLE_MAX + 1))


def test_cli_import_of_a_hostile_case_is_one_line(tmp_path):
    b = _agree_bundle(tmp_path, {"root_cause": ["data_drift"]}, None, None)
    proc = _cli("bundle", "import", str(b), env={"WORKBENCH_HOME": str(tmp_path / "home"), "DATABASE_URL": ""})
    _one_line_error(proc)
    assert proc.returncode == 2 and "'root_cause' is ['data_drift']" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["abc\n", "..", "CON", "x" * 65])
def test_the_store_uses_the_same_id_rule(sqlite_store, bad):
    from core.store.incidents import create_incident

    with pytest.raises(InvalidInputError, match="incident id"):
        create_incident(sqlite_store, id=bad, title="t")


def test_metric_names_cannot_leave_the_bundle(tmp_path):
    (tmp_path / "outside.csv").write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n")
    b = read_bundle(_bundle(tmp_path / "b"))
    with pytest.raises(InvalidInputError, match="is not a metric name"):
        b.read_metric("../../outside")
