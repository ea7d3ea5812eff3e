"""The incident bundle, format ``incident-bundle/1`` (see docs/bundle-format.md).

A bundle is a directory or a zip file holding one incident's raw material::

    bundle.json            manifest: id, title, service, kpi, window, baseline, datasets
    metrics/NAME.csv       timestamp,value[,label columns]
    logs/*.jsonl           one ECS-style object per line (@timestamp, message, ...)
    events.jsonl           change events (timestamp, kind, title, ...)
    datasets/*             Parquet or CSV snapshots
    ground_truth.json      optional; for evaluation only, never read by analyses

``read_bundle`` validates and returns a :class:`Bundle`; ``validate_bundle``
returns every :class:`Problem` with its file and line; ``write_bundle`` writes one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

from core.errors import BundleError, InvalidInputError
from core.sources.tables import read_table, table_columns  # the one table reader
from core.models import BUNDLE_EVENT_KINDS, Milestone, RootCause, Severity, Status, TimeWindow, utc

FORMAT = "incident-bundle/1"
MANIFEST = "bundle.json"
DIRECTIONS = ("higher_is_better", "lower_is_better")
DATASET_SUFFIXES = (".parquet", ".csv", ".jsonl")
MAX_PROBLEMS_PER_FILE = 50

# One rule for incident ids, shared by validate, import, the store and the app: the id
# becomes a folder name under the workbench home, so it must be a plain, portable name.
INCIDENT_ID_MAX = 64
INCIDENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
ID_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_incident_id(value: Any) -> str | None:
    """The problem with ``value`` as an incident id, or None when it is a valid id."""
    if not isinstance(value, str):
        return f"{_short(value)} is not a valid incident id: it is of type {type(value).__name__}; use {ID_RULE}"
    shown = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if not value:
        reason = "it is empty"
    elif len(value) > INCIDENT_ID_MAX:
        reason = f"it is {len(value)} characters long"
    elif "/" in value or "\\" in value or value in (".", ".."):
        reason = "it is a path"
    elif not INCIDENT_ID_PATTERN.fullmatch(value):
        reason = "it holds other characters"
    elif value.split(".", 1)[0].lower() in _RESERVED_NAMES:
        reason = "it is a reserved device name on Windows"
    else:
        return None
    return f"'{shown}' is not a valid incident id: {reason}; use {ID_RULE}"


def require_incident_id(value: Any) -> str:
    """``value`` when it is a valid incident id.

    Raises:
        BundleError: it is not; the message names the id and the rule.
    """
    problem = check_incident_id(value)
    if problem:
        raise BundleError(problem, [Problem(MANIFEST, None, problem)])
    return value


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class DatasetSpec:
    role: str
    file: str
    timestamp: str | None = None
    prediction: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict[str, Any]
    window: TimeWindow
    baseline: TimeWindow | None
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def title(self) -> str:
        return self.manifest["title"]

    @property
    def service(self) -> str:
        return self.manifest.get("service", "")

    @property
    def summary(self) -> str:
        return self.manifest.get("summary", "")

    @property
    def kpi_metric(self) -> str:
        return self.manifest["kpi"]["metric"]

    @property
    def kpi_direction(self) -> str:
        return self.manifest["kpi"]["direction"]

    def metric_names(self) -> list[str]:
        d = self.path / "metrics"
        return sorted(p.stem for p in d.glob("*.csv")) if d.is_dir() else []

    def metric_path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise InvalidInputError(f"'{name}' is not a metric name; pick one of {', '.join(self.metric_names())}")
        p = self.path / "metrics" / f"{name}.csv"
        if not p.is_file():
            raise InvalidInputError(f"bundle {self.id} has no metric '{name}' (metrics/{name}.csv)")
        return p

    def read_metric(self, name: str) -> pd.DataFrame:
        """The metric as a frame with a UTC ``timestamp`` column, ``value`` and any label columns."""
        df = pd.read_csv(self.metric_path(name))
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
        return df

    def log_files(self) -> list[Path]:
        d = self.path / "logs"
        return sorted(d.glob("*.jsonl")) if d.is_dir() else []

    def events(self) -> list[dict[str, Any]]:
        """Change events with ``timestamp``/``end`` parsed to UTC datetimes."""
        p = self.path / "events.jsonl"
        if not p.is_file():
            return []
        out = []
        for obj in _jsonl(p):
            ev = dict(obj)
            ev["timestamp"] = utc(ev["timestamp"])
            ev["end"] = utc(ev.get("end"))
            ev.setdefault("source", "bundle")
            ev.setdefault("attributes", {})
            out.append(ev)
        return out

    def dataset_path(self, role: str) -> Path:
        if role not in self.datasets:
            raise InvalidInputError(
                f"bundle {self.id} has no dataset role '{role}'; roles: {', '.join(self.datasets) or 'none'}"
            )
        return self.path / self.datasets[role].file

    def read_dataset(self, role: str) -> pd.DataFrame:
        return read_table(self.dataset_path(role))

    def has_ground_truth(self) -> bool:
        return (self.path / "ground_truth.json").is_file()


MAX_JSON_DEPTH = 64


class _JsonRefused(ValueError):
    """JSON that parses but that the workbench will not store (message says why and what to do)."""


_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")  # an escaped surrogate or NUL in raw JSON text


def unstorable_text(value: Any, where: str = "") -> tuple[str, str] | None:
    """(field, problem) of the first string in parsed JSON that no store can hold, or None.

    Lone UTF-16 surrogates and NUL characters are refused by PostgreSQL (and are not UTF-8);
    the import refuses them with the same words, so validation and import agree.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return where, "a NUL character (\\u0000)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return where, f"a lone UTF-16 surrogate ({value[exc.start]!r})"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_text(key, where) or unstorable_text(item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = unstorable_text(item, f"{where}[{i}]")
            if found:
                return found
    return None


def _json_depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (a scalar is 0, ``{}`` is 1)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            children = o.values()
        elif isinstance(o, list):
            children = o
        else:
            continue
        deepest = max(deepest, d)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((c, d + 1) for c in children)
    return deepest


def _load_json(text: str, *, stored: bool = False, fix: str = "remove it") -> Any:
    """``json.loads`` that refuses nesting deeper than ``MAX_JSON_DEPTH`` levels.

    With ``stored`` (values that go into the incident store) strings no store can hold
    (lone UTF-16 surrogates, NUL) are refused as well. NaN and infinities are accepted:
    the import stores them as null.

    Raises:
        json.JSONDecodeError: not JSON.
        _JsonRefused: parsed but refused; the message names the problem.
    """
    too_deep = f"nested deeper than {MAX_JSON_DEPTH} levels; flatten it"
    try:
        obj = json.loads(text)
    except RecursionError:
        raise _JsonRefused(too_deep) from None
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and _json_depth(obj) > MAX_JSON_DEPTH:
        raise _JsonRefused(too_deep)
    if stored and _SUSPECT_ESCAPE.search(text):
        found = unstorable_text(obj)
        if found:
            raise _JsonRefused(f"'{found[0]}' holds {found[1]}, which cannot be stored; {fix}")
    return obj


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


# ---------------------------------------------------------------- opening

MAX_MB_ENV = "WORKBENCH_BUNDLE_MAX_MB"
MAX_RATIO_ENV = "WORKBENCH_ZIP_MAX_RATIO"
DEFAULT_MAX_MB = 2048
DEFAULT_MAX_RATIO = 100
MAX_ZIP_ENTRIES = 100_000
RATIO_MIN_BYTES = 1 << 20  # entries (and archives) smaller than this are never refused for their ratio
CACHE_KEEP = 8  # extracted zips kept in the cache, most recently used first
_STALE_EXTRACT_SECONDS = 3600
_CHUNK = 1 << 20


def _positive_setting(name: str, default: float) -> float:
    from core.config import settings

    return settings().limits.positive(name, default)


def zip_limits() -> tuple[int, float]:
    """(largest total uncompressed size in bytes, largest compression ratio) of a bundle zip."""
    max_mb = _positive_setting(MAX_MB_ENV, DEFAULT_MAX_MB)
    return int(max_mb * (1 << 20)), _positive_setting(MAX_RATIO_ENV, DEFAULT_MAX_RATIO)


CACHE_PARTS = ("cache", "bundles")  # under the workbench home
# Caches of older versions in the system temp folder, with the names of their entries
# (content hashes of 16 or 24 hex digits, and ".extract-" temp folders): swept once.
LEGACY_CACHES = {
    "workbench-bundles": re.compile(r"[0-9a-f]{16}"),
    "workbench-bundle-cache": re.compile(r"[0-9a-f]{24}|\.extract-[A-Za-z0-9_]{1,32}"),
}


def bundle_cache_dir() -> Path:
    """Where zip bundles are extracted once, keyed by their content hash: ``WORKBENCH_HOME/cache/bundles``."""
    from core.paths import home_path

    return home_path(*CACHE_PARTS)


def _sweep_legacy_caches(keep: Path) -> None:
    """Remove the extraction caches older versions left in the system temp folder.

    Only entries whose names match that cache's hash pattern are removed, each proven
    inside its cache folder; a cache folder that is a symbolic link, belongs to another
    user, or holds ``keep`` (the current cache or home) is left alone, and so is anything
    else in it. The folder itself goes once it is empty.
    """
    from core.paths import inside

    temp = Path(tempfile.gettempdir())
    for name, pattern in LEGACY_CACHES.items():
        legacy = temp / name
        try:
            info = legacy.lstat()
            if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                continue
            base = legacy.resolve()
            if keep.resolve().is_relative_to(base):
                continue
            for entry in list(base.iterdir()):
                if not pattern.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
                    continue
                try:
                    shutil.rmtree(inside(base, entry.name))
                except (OSError, InvalidInputError):
                    continue
            base.rmdir()  # only when nothing else is left in it
        except OSError:
            continue


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB"


def _refuse(path: Path, problems: list[Problem]) -> BundleError:
    head = "; ".join(str(p) for p in problems[:2])
    return BundleError(f"{path}: zip refused: {head}", problems)


def _zip_entry_problem(info: zipfile.ZipInfo) -> Problem | None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in parts[0]
            or "\x00" in name):
        return Problem(name, None, "unsafe path in zip; entries must be relative paths inside the bundle")
    if stat.S_ISLNK(info.external_attr >> 16):
        return Problem(name, None, SYMLINK_REFUSED)
    if info.flag_bits & 0x1:
        return Problem(name, None, "encrypted zip entries are not supported; zip the bundle without a password")
    return None


def _check_zip_directory(path: Path, infos: list[zipfile.ZipInfo], max_bytes: int, max_ratio: float) -> None:
    """Refuse unsafe names, links and bombs from the zip's directory, before anything is extracted."""
    if len(infos) > MAX_ZIP_ENTRIES:
        raise _refuse(path, [Problem(path.name, None, f"{len(infos):,} entries; a bundle zip holds at most "
                                                      f"{MAX_ZIP_ENTRIES:,}")])
    problems: list[Problem] = []
    total = 0
    for info in infos:
        problem = _zip_entry_problem(info)
        if problem is None and info.file_size > RATIO_MIN_BYTES and \
                info.file_size > max_ratio * max(info.compress_size, 1):
            problem = Problem(info.filename, None, (
                f"compressed {info.file_size / max(info.compress_size, 1):,.0f}:1, over the limit of "
                f"{max_ratio:g}:1 ({MAX_RATIO_ENV}); a zip bomb is refused"))
        if problem is not None:
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS_PER_FILE:
                break
        total += info.file_size
    size = path.stat().st_size
    if total > max_bytes:
        problems.append(Problem(path.name, None, (
            f"expands to {_mb(total)}, over the limit of {_mb(max_bytes)} ({MAX_MB_ENV})")))
    elif not problems and total > RATIO_MIN_BYTES and total > max_ratio * max(size, 1):
        problems.append(Problem(path.name, None, (
            f"compressed {total / max(size, 1):,.0f}:1 overall, over the limit of {max_ratio:g}:1 "
            f"({MAX_RATIO_ENV}); a zip bomb is refused")))
    if problems:
        raise _refuse(path, problems)


def _extract(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], dest: Path, max_bytes: int) -> None:
    """Extract with a running count of the bytes really written (headers are not trusted)."""
    from core.paths import inside

    total = 0
    for info in infos:
        out_path = inside(dest, info.filename.rstrip("/"))
        if info.is_dir():
            out_path.mkdir(parents=True, exist_ok=True)
            continue
        out_path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, out_path.open("wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                total += len(chunk)
                if written > info.file_size or total > max_bytes:
                    raise _refuse(path, [Problem(info.filename, None, (
                        f"expands beyond {_mb(min(max_bytes, total))} while the zip directory declares "
                        f"{_mb(info.file_size)}; the limit is {_mb(max_bytes)} ({MAX_MB_ENV})"))])
                out.write(chunk)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:24]


def _prune_cache(cache: Path, keep: Path) -> None:
    """Keep the ``CACHE_KEEP`` most recently used extractions; drop abandoned temp folders."""
    now = time.time()
    entries = []
    for p in cache.iterdir():
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        if p.name.startswith(".extract-"):
            if now - mtime > _STALE_EXTRACT_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        elif p.is_dir() and p != keep:
            entries.append((mtime, p))
    for _, p in sorted(entries, reverse=True)[CACHE_KEEP - 1:]:
        shutil.rmtree(p, ignore_errors=True)


def _unpack(path: Path) -> Path:
    """A bundle directory for ``path``; a zip is extracted once into a cache keyed by its content hash.

    The zip's directory is checked first (unsafe names, symbolic links, total size and
    compression ratio, see :func:`zip_limits`), then entries are streamed with a running
    count into a temp folder beside the cache entry, which is renamed into place only when
    complete: readers never see a half-written folder, and every refused, broken or
    interrupted extraction leaves nothing behind. A zip that extracts to an invalid
    bundle is cached as it is, so it is not extracted again on the next run.
    """
    if path.is_dir():
        return path
    if not path.exists():
        raise BundleError(f"{path}: no such bundle (a directory or .zip)", [Problem(str(path), None, "not found")])
    if not zipfile.is_zipfile(path):
        raise BundleError(
            f"{path}: not a bundle; give a directory containing bundle.json or a .zip of one",
            [Problem(str(path), None, "neither a directory nor a zip file")],
        )
    max_bytes, max_ratio = zip_limits()
    cache: Path | str = "the workbench home (WORKBENCH_HOME)"
    tmp: Path | None = None
    try:
        cache = bundle_cache_dir()
        if not cache.is_dir():  # first use of this home's cache: drop older versions' temp caches once
            cache.mkdir(parents=True, exist_ok=True)
            _sweep_legacy_caches(keep=cache)
        target = cache / _digest(path)
        if target.is_dir():
            os.utime(target)  # most recently used: kept longest by _prune_cache
            return target
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_zip_directory(path, infos, max_bytes, max_ratio)
            tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache))
            _extract(path, zf, infos, tmp, max_bytes)
        root = tmp
        if not (root / MANIFEST).is_file():
            subdirs = [p for p in root.iterdir() if p.is_dir()]
            if len(subdirs) == 1 and (subdirs[0] / MANIFEST).is_file():
                root = subdirs[0]
        try:
            os.rename(root, target)
        except OSError:
            if not target.is_dir():  # not a concurrent extraction of the same zip: a real failure
                raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _refuse(path, [Problem(path.name, None, f"corrupt zip ({exc}); re-create the archive")]) from None
    except NotImplementedError as exc:
        raise _refuse(path, [Problem(path.name, None, f"unsupported zip ({exc}); use deflate or store")]) from None
    except RuntimeError as exc:  # zipfile raises it for encrypted entries
        raise _refuse(path, [Problem(path.name, None, f"unreadable zip ({exc})")]) from None
    except OSError as exc:
        raise BundleError(
            f"{path}: cannot extract into {cache} ({exc.strerror or exc}); free disk space or check permissions",
            [Problem(path.name, None, f"cannot extract ({exc.strerror or exc})")],
        ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _prune_cache(cache, keep=target)
    return target


def read_bundle(path: Path | str) -> Bundle:
    """Open and validate a bundle.

    Raises:
        BundleError: the bundle is invalid; ``.problems`` lists every problem found.
    """
    root = _unpack(Path(path))
    problems = _validated(root, Path(path).name)
    if problems:
        head = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BundleError(f"invalid bundle {path}: {head}{more}", problems)
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    return _bundle_from(root, manifest)


_VALIDATED: dict[tuple[str, str, tuple], list[Problem]] = {}
_VALIDATED_MAX = 64


def files_stamp(root: Path) -> tuple:
    """Path, kind, size and modification time of every entry under ``root`` (links not followed)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files) + dirs:
            full = os.path.join(folder, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            out.append((os.path.relpath(full, root), st.st_mode, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _validated(root: Path, label: str) -> list[Problem]:
    """The problems of the bundle directory ``root``, validated once per version of its files.

    Every page that reads a bundle used to re-check each log line on its first visit (0.5-1 s
    for a demo bundle); the same files, with the same sizes and modification times, give the
    same answer, so the result is kept for the life of the process (the last 64 bundles).
    """
    key = (str(root.resolve()), label, files_stamp(root))
    found = _VALIDATED.get(key)
    if found is None:
        found = list(_validate_dir(root, label))
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.pop(next(iter(_VALIDATED)), None)
        _VALIDATED[key] = found
    return list(found)


def _bundle_from(root: Path, manifest: dict[str, Any]) -> Bundle:
    w = manifest["window"]
    b = manifest.get("baseline")
    datasets = {
        role: DatasetSpec(role=role, file=spec["file"], timestamp=spec.get("timestamp"),
                          prediction=spec.get("prediction"), label=spec.get("label"))
        for role, spec in (manifest.get("datasets") or {}).items()
    }
    return Bundle(
        path=root, manifest=manifest, window=TimeWindow(w["start"], w["end"]),
        baseline=TimeWindow(b["start"], b["end"]) if b else None, datasets=datasets,
    )


def validate_bundle(path: Path | str) -> list[Problem]:
    """Every problem of the bundle at ``path`` (empty when it is valid)."""
    try:
        root = _unpack(Path(path))
    except BundleError as exc:
        return exc.problems
    return list(_validate_dir(root, Path(path).name))


# Times the analyses can hold (pandas' nanosecond range); a year 1 or 9999 would crash them later.
TIME_MIN = datetime(1677, 9, 22, tzinfo=timezone.utc)
TIME_MAX = datetime(2262, 4, 11, tzinfo=timezone.utc)
TIME_RANGE = "1677-09-22 to 2262-04-11 (UTC)"
# Same limits as the store: core/store/incidents.py refuses longer titles, and
# timeline_events.source is VARCHAR(100).
TITLE_MAX = 300
SOURCE_MAX = 100
MILESTONE_ORDER = tuple(m.value for m in Milestone)  # started, detected, acknowledged, mitigated, resolved
_ZONE_SUFFIX = r"[Tt ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)\s*$"


def _utc_in_range(value: str) -> datetime:
    """``utc(value)``, refusing times outside ``TIME_MIN``..``TIME_MAX``.

    Raises:
        InvalidInputError: not ISO 8601, no zone, or out of range.
    """
    try:
        t = utc(value)
    except OverflowError:
        t = None
    if t is None or not TIME_MIN <= t < TIME_MAX:
        raise InvalidInputError(f"'{value}' is outside the supported range {TIME_RANGE}")
    return t


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(value: Any, file: str, line: int | None, what: str, problems: list[Problem]) -> datetime | None:
    if not isinstance(value, str) or not value:
        problems.append(Problem(file, line, f"{what} is missing or not a string; use ISO 8601 with Z or an offset"))
        return None
    try:
        return _utc_in_range(value)
    except InvalidInputError as exc:
        problems.append(Problem(file, line, f"{what}: {exc}"))
        return None


def _validate_window(obj: Any, name: str, problems: list[Problem], required: bool) -> None:
    if obj is None:
        if required:
            problems.append(Problem(MANIFEST, None, f"'{name}' is required: {{\"start\": ISO, \"end\": ISO}}"))
        return
    if not isinstance(obj, dict):
        problems.append(Problem(MANIFEST, None, f"'{name}' must be an object with start and end"))
        return
    s = _time(obj.get("start"), MANIFEST, None, f"{name}.start", problems)
    e = _time(obj.get("end"), MANIFEST, None, f"{name}.end", problems)
    if s and e and e <= s:
        problems.append(Problem(MANIFEST, None, f"{name}.end is not after {name}.start"))


SYMLINK_REFUSED = "symbolic links are not allowed in a bundle; copy the file in"


def _symlinks(root: Path) -> list[Problem]:
    """A problem for every symbolic link under ``root``; links are never followed, so loops are harmless."""
    found: list[Problem] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                found.append(Problem(os.path.relpath(full, root), None, SYMLINK_REFUSED))
                if len(found) >= MAX_PROBLEMS_PER_FILE:
                    return found
    return found


def _files_size(root: Path) -> int:
    """Total size of the regular files under ``root``, never following links (a link counts 0)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def _validate_dir(root: Path, label: str | None = None) -> Iterator[Problem]:
    links = _symlinks(root)
    if links:  # nothing else is read: a link may point outside the bundle or loop
        yield from links
        return
    max_bytes = zip_limits()[0]
    total = _files_size(root)
    if total > max_bytes:  # nothing else is read: the cap exists so an oversized bundle is not scanned
        yield Problem(label or root.name, None, (
            f"holds {_mb(total)} of files, over the limit of {_mb(max_bytes)} ({MAX_MB_ENV})"))
        return
    problems: list[Problem] = []
    mpath = root / MANIFEST
    if not mpath.is_file():
        yield Problem(MANIFEST, None, f"missing; a bundle directory must contain {MANIFEST}")
        return
    try:
        manifest = _load_json(mpath.read_text(encoding="utf-8"), stored=True)
    except _JsonRefused as exc:
        yield Problem(MANIFEST, None, str(exc))
        return
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield Problem(MANIFEST, getattr(exc, "lineno", None), f"not valid JSON: {getattr(exc, 'msg', exc)}")
        return
    if not isinstance(manifest, dict):
        yield Problem(MANIFEST, None, "must be a JSON object")
        return
    if manifest.get("format") != FORMAT:
        problems.append(Problem(MANIFEST, None, f"'format' is {manifest.get('format')!r}; expected '{FORMAT}'"))
    for key in ("id", "title"):
        if not isinstance(manifest.get(key), str) or not manifest.get(key, "").strip():
            problems.append(Problem(MANIFEST, None, f"'{key}' is required and must be a non-empty string"))
    if isinstance(manifest.get("id"), str) and manifest["id"].strip():
        id_problem = check_incident_id(manifest["id"])
        if id_problem:
            problems.append(Problem(MANIFEST, None, id_problem))
    title = manifest.get("title")
    if isinstance(title, str) and len(title.strip()) > TITLE_MAX:
        problems.append(Problem(MANIFEST, None, f"'title' is {len(title.strip())} characters long; keep it under "
                                                f"{TITLE_MAX}"))
    for key in ("summary", "service"):
        if key in manifest and not isinstance(manifest[key], str):
            problems.append(Problem(MANIFEST, None, f"'{key}' must be a string"))
    for key, cls in (("severity", Severity), ("status", Status), ("root_cause", RootCause)):
        value = manifest.get(key)
        if value is not None and (not isinstance(value, str) or value not in {v.value for v in cls}):
            problems.append(Problem(MANIFEST, None, f"'{key}' is {_short(value)}; use one of "
                                                    f"{', '.join(v.value for v in cls)} or leave it out"))
    kpi = manifest.get("kpi")
    if not isinstance(kpi, dict) or not isinstance(kpi.get("metric"), str):
        problems.append(Problem(MANIFEST, None, "'kpi' must be {\"metric\": NAME, \"direction\": ...}"))
    elif not kpi["metric"].strip() or kpi["metric"] in (".", "..") or "/" in kpi["metric"] or "\\" in kpi["metric"]:
        problems.append(Problem(MANIFEST, None, f"kpi.metric {_short(kpi['metric'])} must be a plain file name "
                                                "under metrics/ (without .csv)"))
    elif kpi.get("direction") not in DIRECTIONS:
        problems.append(Problem(MANIFEST, None, f"kpi.direction must be one of {', '.join(DIRECTIONS)}"))
    elif not (root / "metrics" / f"{kpi['metric']}.csv").is_file():
        problems.append(Problem(MANIFEST, None, f"kpi.metric '{kpi['metric']}' has no file metrics/{kpi['metric']}.csv"))
    _validate_window(manifest.get("window"), "window", problems, required=True)
    _validate_window(manifest.get("baseline"), "baseline", problems, required=False)
    datasets = manifest.get("datasets", {})
    if not isinstance(datasets, dict):
        problems.append(Problem(MANIFEST, None, "'datasets' must be an object ROLE -> {\"file\": ...}"))
        datasets = {}
    for role, spec in datasets.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
            problems.append(Problem(MANIFEST, None, f"datasets.{role} needs a 'file'"))
            continue
        f = root / spec["file"]
        if Path(spec["file"]).is_absolute() or ".." in Path(spec["file"]).parts:
            problems.append(Problem(MANIFEST, None, f"datasets.{role}.file must be a relative path inside the bundle"))
        elif not f.is_file():
            problems.append(Problem(MANIFEST, None, f"datasets.{role}.file '{spec['file']}' does not exist"))
        elif f.suffix.lower() not in DATASET_SUFFIXES:
            problems.append(Problem(spec["file"], None, "datasets must be .parquet, .csv or .jsonl"))
        else:
            problems.extend(_validate_dataset(f, spec, root))
    yield from problems
    for p in sorted((root / "metrics").glob("*.csv")) if (root / "metrics").is_dir() else []:
        yield from _validate_metric(p, root)
    for p in sorted((root / "logs").glob("*.jsonl")) if (root / "logs").is_dir() else []:
        yield from _validate_logs(p, root)
    if (root / "events.jsonl").is_file():
        yield from _validate_events(root / "events.jsonl", root)


def _rel(p: Path, root: Path) -> str:
    return str(p.relative_to(root))


def _validate_dataset(f: Path, spec: dict[str, Any], root: Path) -> list[Problem]:
    try:
        cols = table_columns(f)
    except InvalidInputError as exc:
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "unreadable"
        return [Problem(_rel(f, root), None, f"unreadable ({cause}); is it really {f.suffix}?")]
    out = []
    for key in ("timestamp", "prediction", "label"):
        col = spec.get(key)
        if col is not None and col not in cols:
            out.append(Problem(_rel(f, root), None, f"{key} column '{col}' named in bundle.json is not in the file"))
    return out


def _validate_metric(p: Path, root: Path) -> Iterator[Problem]:
    rel = _rel(p, root)
    try:
        df = pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001
        yield Problem(rel, None, f"not a readable CSV ({type(exc).__name__})")
        return
    missing = {"timestamp", "value"} - set(df.columns)
    if missing:
        yield Problem(rel, 1, f"header lacks {', '.join(sorted(missing))}; expected timestamp,value[,labels]")
        return
    ts = pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601")
    bad = df.index[ts.isna()].tolist()
    for i in bad[:MAX_PROBLEMS_PER_FILE]:
        yield Problem(rel, i + 2, f"timestamp {df['timestamp'].iloc[i]!r} is not ISO 8601")
    parsed = ts.notna()
    naive = parsed & ~df["timestamp"].astype(str).str.contains(_ZONE_SUFFIX, regex=True)
    for i in df.index[naive].tolist()[:MAX_PROBLEMS_PER_FILE]:
        yield Problem(rel, i + 2, f"timestamp {df['timestamp'].iloc[i]!r} has no time zone; add Z or an offset "
                                  "such as +00:00")
    outside = parsed & ~naive & ((ts < TIME_MIN) | (ts >= TIME_MAX))
    for i in df.index[outside].tolist()[:MAX_PROBLEMS_PER_FILE]:
        yield Problem(rel, i + 2, f"timestamp {df['timestamp'].iloc[i]!r} is outside the supported range "
                                  f"{TIME_RANGE}")
    vals = pd.to_numeric(df["value"], errors="coerce")
    bad_v = df.index[vals.isna() & df["value"].notna()].tolist()
    for i in bad_v[:MAX_PROBLEMS_PER_FILE]:
        yield Problem(rel, i + 2, f"value {df['value'].iloc[i]!r} is not a number")


def _validate_logs(p: Path, root: Path) -> Iterator[Problem]:
    from core.sources.local_logs import MAX_LINE_BYTES  # the longest record the log search reads

    rel = _rel(p, root)
    n = 0
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            msg = None
            try:
                obj = _load_json(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    msg = "not a JSON object"
                else:
                    ts = obj.get("@timestamp")
                    if ts is None and isinstance(obj.get("@timestamp"), dict):
                        ts = None
                    if not isinstance(ts, str):
                        msg = "missing '@timestamp'"
                    elif "message" not in obj:
                        msg = "missing 'message'"
                    else:
                        try:
                            _utc_in_range(ts)
                        except InvalidInputError as exc:
                            msg = f"@timestamp: {exc}"
            except UnicodeDecodeError:
                msg = "not UTF-8"
            except _JsonRefused as exc:
                msg = str(exc)
            except json.JSONDecodeError as exc:
                msg = f"not valid JSON ({exc.msg})"
            if not msg and len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                msg = f"the line has {len(raw) / 2**20:,.1f} MiB, more than the {MAX_LINE_BYTES // 2**20} MiB of one log record"
            if msg:
                n += 1
                if n <= MAX_PROBLEMS_PER_FILE:
                    yield Problem(rel, lineno, msg)
    if n > MAX_PROBLEMS_PER_FILE:
        yield Problem(rel, None, f"{n - MAX_PROBLEMS_PER_FILE} more bad lines not listed")


def _milestone_name(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    """(milestone name, problem) of a milestone event, the way import reads it."""
    attrs = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
    named = attrs.get("milestone")
    if named is not None and not isinstance(named, str):
        return None, f"attributes.milestone is {_short(named)}; use one of {', '.join(MILESTONE_ORDER)}"
    name = named or (obj["title"].strip().lower() if isinstance(obj.get("title"), str) else "")
    if name not in MILESTONE_ORDER:
        return None, (f"milestone event names {_short(name)}; set attributes.milestone (or the title) to one of "
                      f"{', '.join(MILESTONE_ORDER)}, or use kind 'annotation'")
    return name, None


def _milestone_order(milestones: dict[str, tuple[datetime, int]], rel: str) -> Iterator[Problem]:
    seen: list[tuple[str, datetime]] = []
    for name in MILESTONE_ORDER:
        if name not in milestones:
            continue
        when, lineno = milestones[name]
        later = [(n, t) for n, t in seen if t > when]
        if later:
            n, t = later[-1]
            yield Problem(rel, lineno, (
                f"milestone '{name}' ({when.isoformat()}) is before '{n}' ({t.isoformat()}); milestones must run "
                f"{' <= '.join(MILESTONE_ORDER)}"))
        seen.append((name, when))


def _validate_events(p: Path, root: Path) -> Iterator[Problem]:
    rel = _rel(p, root)
    milestones: dict[str, tuple[datetime, int]] = {}
    yield from _validate_event_lines(p, rel, milestones)
    yield from _milestone_order(milestones, rel)


def _validate_event_lines(p: Path, rel: str, milestones: dict[str, tuple[datetime, int]]) -> Iterator[Problem]:
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = _load_json(raw.decode("utf-8"), stored=True, fix="fix or remove that text")
            except _JsonRefused as exc:
                yield Problem(rel, lineno, str(exc))
                continue
            except (UnicodeDecodeError, json.JSONDecodeError):
                yield Problem(rel, lineno, "not valid UTF-8 JSON")
                continue
            if not isinstance(obj, dict):
                yield Problem(rel, lineno, "not a JSON object")
                continue
            problems: list[Problem] = []
            start = _time(obj.get("timestamp"), rel, lineno, "timestamp", problems)
            if obj.get("end") is not None:
                end = _time(obj.get("end"), rel, lineno, "end", problems)
                if start and end and end < start:
                    problems.append(Problem(rel, lineno, "end is before timestamp"))
            if obj.get("kind") not in BUNDLE_EVENT_KINDS:
                problems.append(Problem(rel, lineno, f"kind {obj.get('kind')!r} is not one of {', '.join(BUNDLE_EVENT_KINDS)}"))
            if not isinstance(obj.get("title"), str) or not obj["title"].strip():
                problems.append(Problem(rel, lineno, "title is required"))
            if "attributes" in obj and not isinstance(obj["attributes"], dict):
                problems.append(Problem(rel, lineno, "attributes must be an object"))
            source = obj.get("source") or "bundle"  # as import stores it
            source = source if isinstance(source, str) else json.dumps(source)
            if len(source) > SOURCE_MAX and obj.get("kind") != "milestone":
                problems.append(Problem(rel, lineno, f"'source' is {len(source)} characters long; keep it under "
                                                     f"{SOURCE_MAX + 1}"))
            if obj.get("kind") == "milestone":
                name, problem = _milestone_name(obj)
                if problem:
                    problems.append(Problem(rel, lineno, problem))
                elif start is not None:
                    milestones[name] = (start, lineno)
            yield from problems


# ---------------------------------------------------------------- writing

def write_bundle(
    path: Path | str,
    manifest: dict[str, Any],
    *,
    metrics: dict[str, pd.DataFrame] | None = None,
    logs: dict[str, Iterable[dict[str, Any]]] | None = None,
    events: Iterable[dict[str, Any]] = (),
    datasets: dict[str, pd.DataFrame] | None = None,
    ground_truth: dict[str, Any] | None = None,
    as_zip: bool = False,
) -> Path:
    """Write a bundle directory (or ``.zip`` when ``as_zip``) and return its path.

    ``datasets`` maps a file name under ``datasets/`` (``features.parquet``) to a frame;
    the manifest's ``datasets`` section must refer to them as ``datasets/NAME``.
    """
    path = Path(path)
    root = Path(tempfile.mkdtemp(prefix="bundle-w-")) if as_zip else path
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, **manifest}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    if metrics:
        (root / "metrics").mkdir(exist_ok=True)
        for name, df in metrics.items():
            out = df.copy()
            out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            out.to_csv(root / "metrics" / f"{name}.csv", index=False)
    if logs:
        (root / "logs").mkdir(exist_ok=True)
        for name, records in logs.items():
            with (root / "logs" / name).open("w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, default=str) + "\n")
    events = list(events)
    if events:
        with (root / "events.jsonl").open("w", encoding="utf-8") as fh:
            for ev in events:
                fh.write(json.dumps(ev, default=str) + "\n")
    if datasets:
        (root / "datasets").mkdir(exist_ok=True)
        for name, df in datasets.items():
            target = root / "datasets" / name
            if name.endswith(".parquet"):
                df.to_parquet(target, index=False)
            elif name.endswith(".csv"):
                df.to_csv(target, index=False)
            else:
                df.to_json(target, orient="records", lines=True, date_format="iso")
    if ground_truth is not None:
        (root / "ground_truth.json").write_text(json.dumps(ground_truth, indent=2, default=str), encoding="utf-8")
    if as_zip:
        zpath = path if path.suffix == ".zip" else path.with_suffix(".zip")
        zpath.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(root))
        shutil.rmtree(root, ignore_errors=True)
        return zpath
    return path
