"""Feature store: a Feast repository (local provider, file offline store) and its snapshots.

Two ways in, one result (:class:`FeatureRepo`):

* a Feast repository folder (``feature_store.yaml`` plus the registry ``feast apply`` wrote), read with
  the real ``feast`` package: feature views with their entities, features, batch source and TTL, and
  the materialisation intervals the registry records. ``feast`` pins ``pandas<3``, so it lives in a venv
  of its own (``requirements-feast.txt``; README); it is imported only here, only when a repository is
  read, and its absence is a message saying how to install it;
* a snapshot JSON (``python -m core features REPO --export FILE``; a bundle's ``features/`` folder):
  the same description as plain JSON, read without Feast. That is what triage and a bundle import read.

:func:`freshness` compares, per feature view, the end of its last materialised interval with its TTL
at a given time: a view whose online values are older than its TTL serves stale (or no) features.
:func:`historical_values` asks Feast for the same entities' feature values at two points in time
(point-in-time joins over the offline store) for the drift engine.

A folder without ``feature_store.yaml``, a repository whose registry does not exist (``feast apply``
never ran), a malformed snapshot or an unknown feature view is an :class:`~core.errors.InvalidInputError`
naming the path and the fix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InvalidInputError, SourceUnavailableError
from core.models import iso, utc

__all__ = [
    "FORMAT", "FeastMissingError", "FeatureRepo", "FeatureViewInfo", "Staleness", "compare_in_feast", "feast_python",
    "freshness", "historical_values", "open_features", "read_repo", "read_snapshot", "repository_of", "ttl_text",
]

FORMAT = "feast-snapshot/1"
INSTALL = ("reading a Feast repository needs the feast package, which pins pandas<3: create its venv with "
           "bash scripts/install_test_deps.sh (or python -m venv --system-site-packages .venv/feast && "
           ".venv/feast/bin/pip install -r requirements-feast.txt) and run the command with .venv/feast/bin/python; "
           "a snapshot JSON (--export) needs no Feast")
ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "feast" / "bin" / "python"
FEAST_TIMEOUT_S = 240.0  # importing Feast alone takes 10-30 s on a busy machine
INSTALL_FOR_APP = ("Comparing feature values at two times asks Feast, which is not installed for the app. Install it "
                   "in its own venv (it pins pandas<3): python3 -m venv --system-site-packages .venv/feast && "
                   ".venv/feast/bin/pip install -r requirements-feast.txt (or bash scripts/install_test_deps.sh), "
                   "or set WORKBENCH_FEAST_PYTHON to a Python that has feast. See README, \"Feature store (Feast)\".")


class FeastMissingError(InvalidInputError):
    """No Python with the ``feast`` package is at hand (the message says how to install one)."""


@dataclass(frozen=True)
class FeatureViewInfo:
    """One feature view as the registry describes it."""

    name: str
    entities: tuple[str, ...]
    features: dict[str, str]
    source: str
    source_path: str
    ttl: timedelta | None
    online: bool = True
    intervals: tuple[tuple[datetime, datetime], ...] = ()

    @property
    def last_materialized(self) -> tuple[datetime, datetime] | None:
        return max(self.intervals, key=lambda i: i[1]) if self.intervals else None

    def to_dict(self) -> dict[str, Any]:
        last = self.last_materialized
        return {"name": self.name, "entities": list(self.entities), "features": dict(self.features),
                "source": self.source, "source_path": self.source_path,
                "ttl_seconds": self.ttl.total_seconds() if self.ttl else None, "online": self.online,
                "intervals": [[iso(a), iso(b)] for a, b in self.intervals],
                "last_materialized": [iso(last[0]), iso(last[1])] if last else None}


@dataclass(frozen=True)
class FeatureRepo:
    """A Feast project: its feature views and entities (join keys), and where it was read from."""

    project: str
    views: tuple[FeatureViewInfo, ...]
    entities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: str = ""
    read_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"Feast project {self.project}"

    def view(self, name: str) -> FeatureViewInfo:
        for v in self.views:
            if v.name == name:
                return v
        raise InvalidInputError(f"{self.label} has no feature view '{name}'; views: "
                                f"{', '.join(v.name for v in self.views) or 'none'}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "project": self.project, "path": self.path, "read_at": iso(self.read_at),
                "entities": {k: list(v) for k, v in self.entities.items()},
                "feature_views": [v.to_dict() for v in self.views]}

    def events(self) -> list[dict[str, Any]]:
        """Each view's last materialisation as a ``data_pipeline`` event (what a bundle import adds)."""
        out = []
        for v in self.views:
            last = v.last_materialized
            if last is None:
                continue
            out.append({"timestamp": iso(last[1]), "kind": "data_pipeline", "source": f"feast {self.project}"[:60],
                        "title": f"Feature view {v.name} last materialised ({iso(last[0])} → {iso(last[1])})",
                        "attributes": {"feature_view": v.name, "start": iso(last[0]), "end": iso(last[1]),
                                       "ttl_seconds": v.ttl.total_seconds() if v.ttl else None}})
        return out


@dataclass(frozen=True)
class Staleness:
    """A feature view's freshness at ``at``: how old its newest materialised values are against its TTL."""

    view: str
    at: datetime
    last_end: datetime | None
    ttl: timedelta | None
    age: timedelta | None
    stale: bool
    since: datetime | None  # when it went stale: last end + TTL

    def text(self) -> str:
        if self.last_end is None:
            return f"feature view {self.view} was never materialised"
        state = f"stale since {iso(self.since)}" if self.stale else "fresh"
        ttl = f"TTL {_td(self.ttl)}" if self.ttl else "no TTL"
        return f"feature view {self.view}: last materialised to {iso(self.last_end)}, {_td(self.age)} old, {ttl}, {state}"

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "at": iso(self.at), "last_end": iso(self.last_end),
                "ttl_seconds": self.ttl.total_seconds() if self.ttl else None,
                "age_seconds": self.age.total_seconds() if self.age is not None else None,
                "stale": self.stale, "since": iso(self.since)}


def _td(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds // 60}min"


def ttl_text(value: timedelta | None) -> str:
    """A TTL or age in words: '1h', '1d', '1.5h', '45min'; '-' for None."""
    return _td(value)


def freshness(repo: FeatureRepo, at: datetime) -> list[Staleness]:
    """Per online feature view: is its last materialised interval older than its TTL at ``at``?

    A view never materialised is stale; a view without a TTL (0 = forever in Feast) is never stale by age.
    """
    at = utc(at)
    out = []
    for v in repo.views:
        if not v.online:
            continue
        last = v.last_materialized
        if last is None:
            out.append(Staleness(v.name, at, None, v.ttl, None, True, None))
            continue
        end = last[1]
        age = at - end if at > end else timedelta(0)
        stale = bool(v.ttl) and age > v.ttl
        out.append(Staleness(v.name, at, end, v.ttl, age, stale, end + v.ttl if stale else None))
    return out


# ---------------------------------------------------------------- snapshots (no Feast needed)

def _time(value: Any, where: str) -> datetime:
    try:
        return utc(str(value))
    except (InvalidInputError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"{where}: '{value}' is not an ISO 8601 time with an offset") from exc


def from_dict(data: Any, where: str) -> FeatureRepo:
    """A :class:`FeatureRepo` from its snapshot JSON (see :meth:`FeatureRepo.to_dict`)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInputError(f"{where}: not a Feast snapshot (format '{FORMAT}'); write one with "
                                "python -m core features REPO --export FILE")
    views = []
    for i, v in enumerate(data.get("feature_views") or []):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            raise InvalidInputError(f"{where}: feature_views[{i}] needs a name")
        ttl = v.get("ttl_seconds")
        intervals = tuple((_time(a, where), _time(b, where)) for a, b in (v.get("intervals") or []))
        views.append(FeatureViewInfo(v["name"], tuple(map(str, v.get("entities") or [])),
                                     {str(k): str(t) for k, t in (v.get("features") or {}).items()},
                                     str(v.get("source") or ""), str(v.get("source_path") or ""),
                                     timedelta(seconds=float(ttl)) if ttl else None, bool(v.get("online", True)),
                                     intervals))
    read_at = _time(data["read_at"], where) if data.get("read_at") else None
    entities = {str(k): tuple(map(str, ks)) for k, ks in (data.get("entities") or {}).items()}
    return FeatureRepo(str(data.get("project") or "?"), tuple(views), entities, str(data.get("path") or ""), read_at)


def read_snapshot(path: Path | str) -> FeatureRepo:
    """Read a snapshot JSON file.

    Raises:
        InvalidInputError: missing, not JSON, or not a snapshot.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path.name}: not valid JSON ({str(exc).splitlines()[0][:120]})") from exc
    return from_dict(data, path.name)


# ---------------------------------------------------------------- a Feast repository (needs feast)

def _feast() -> Any:
    try:
        import feast
    except ImportError as exc:
        raise InvalidInputError(INSTALL) from exc
    return feast


def _registry_path(repo: Path) -> Path:
    import yaml

    try:
        config = yaml.safe_load((repo / "feature_store.yaml").read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{repo / 'feature_store.yaml'} is not valid YAML ({str(exc).splitlines()[0]})") from exc
    registry = config.get("registry") if isinstance(config, dict) else None
    text = registry.get("path") if isinstance(registry, dict) else registry
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{repo / 'feature_store.yaml'} names no registry; add registry: data/registry.db")
    if "://" in text:
        raise InvalidInputError(f"{repo.name}: the registry {text} is not a local file; this reader takes the local "
                                "provider's file registry")
    path = Path(text)
    return path if path.is_absolute() else repo / path


def _check_repo(repo: Path) -> None:
    if not repo.is_dir():
        raise InvalidInputError(f"{repo}: not found; give a Feast repository folder (with feature_store.yaml)")
    if not (repo / "feature_store.yaml").is_file():
        raise InvalidInputError(f"{repo} is not a Feast repository (no feature_store.yaml)")
    registry = _registry_path(repo)
    if not registry.is_file():
        raise InvalidInputError(f"{repo.name}: the Feast registry {registry} does not exist; run feast apply in "
                                f"{repo} first")


def _store(repo: Path) -> Any:
    _check_repo(repo)
    feast = _feast()
    from feast.errors import FeastError

    try:
        return feast.FeatureStore(repo_path=str(repo))
    except (FeastError, ValueError, OSError) as exc:  # a bad feature_store.yaml (pydantic: ValueError), registry
        raise InvalidInputError(f"{repo.name}: Feast cannot open the repository ({str(exc).splitlines()[0][:200]})") from exc


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def read_repo(path: Path | str) -> FeatureRepo:
    """Describe a Feast repository from its registry.

    Raises:
        InvalidInputError: not a repository, no registry, feast not installed.
    """
    repo = Path(path).expanduser()
    store = _store(repo)
    views = []
    for fv in sorted(store.list_feature_views(), key=lambda v: v.name):
        source = fv.batch_source
        ttl = fv.ttl if fv.ttl and fv.ttl.total_seconds() > 0 else None
        intervals = tuple((_aware(a), _aware(b)) for a, b in (fv.materialization_intervals or []))
        views.append(FeatureViewInfo(fv.name, tuple(fv.entities), {f.name: str(f.dtype) for f in fv.features},
                                     str(getattr(source, "name", "") or ""), str(getattr(source, "path", "") or ""),
                                     ttl, bool(fv.online), intervals))
    entities = {e.name: tuple(getattr(e, "join_keys", None) or [e.join_key])
                for e in sorted(store.list_entities(), key=lambda e: e.name)}
    return FeatureRepo(store.project, tuple(views), entities, str(repo), datetime.now(timezone.utc))


def historical_values(path: Path | str, view: str, entities: pd.DataFrame, at_a: datetime, at_b: datetime,
                      features: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature values of the same ``entities`` (join-key columns) as of ``at_a`` and as of ``at_b``.

    Raises:
        InvalidInputError: an unknown view or feature, entity columns that are not the view's join keys.
    """
    repo = Path(path).expanduser()
    store = _store(repo)
    described = read_repo(repo)
    info = described.view(view)
    names = features or list(info.features)
    unknown = [f for f in names if f not in info.features]
    if unknown:
        raise InvalidInputError(f"feature view {view} has no feature {', '.join(unknown)}; it has "
                                f"{', '.join(info.features)}")
    keys = [k for e in info.entities for k in described.entities.get(e, (e,))]
    missing = [k for k in keys if k not in entities.columns]
    if missing:
        raise InvalidInputError(f"the entity rows need the join key column(s) {', '.join(missing)} of {view}")
    refs = [f"{view}:{f}" for f in names]
    out = []
    for at in (utc(at_a), utc(at_b)):
        rows = entities[keys].drop_duplicates().assign(event_timestamp=at)
        frame = store.get_historical_features(entity_df=rows, features=refs).to_df()
        # the file offline store leaves out an entity with no value within the TTL: keep it, empty
        frame = rows[keys].merge(frame[keys + names].drop_duplicates(subset=keys), on=keys, how="left")
        out.append(frame.sort_values(keys).reset_index(drop=True)[keys + names])
    a, b = out
    for name in names:  # an integer feature with empty values on one side is float there: the same view, one type
        if a[name].dtype != b[name].dtype and all(pd.api.types.is_numeric_dtype(f[name]) for f in (a, b)):
            a[name], b[name] = a[name].astype("float64"), b[name].astype("float64")
    return a, b


# ---------------------------------------------------------------- Feast from the app (its own Python)

def feast_python() -> str:
    """The Python that runs Feast: ``WORKBENCH_FEAST_PYTHON`` (or ``[feast] python`` in secrets.toml), else
    this interpreter when it has feast, else the project's ``.venv/feast/bin/python``.

    Raises:
        FeastMissingError: none of them; the message says how to install Feast.
        InvalidInputError: the configured Python is not an executable file.
    """
    from core.config import settings

    configured = settings().section("feast", "WORKBENCH_FEAST_").text("python")
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise InvalidInputError(f"WORKBENCH_FEAST_PYTHON={configured} is not an executable file; point it at the "
                                    "python of a venv with feast (.venv/feast/bin/python)")
        return str(path)
    if importlib.util.find_spec("feast") is not None:
        return sys.executable
    if VENV_PYTHON.is_file():
        return str(VENV_PYTHON)
    raise FeastMissingError(INSTALL_FOR_APP)


def repository_of(snapshot_path: Path | str, repo: FeatureRepo) -> Path | None:
    """The Feast repository a snapshot was exported from, when it is at hand: the snapshot's ``path``,
    resolved against the snapshot's folder when relative (a bundle keeps it in ``features/``), holding a
    ``feature_store.yaml``; else None."""
    if not repo.path:
        return None
    path = Path(repo.path).expanduser()
    path = path if path.is_absolute() else Path(snapshot_path).parent / path
    return path if (path / "feature_store.yaml").is_file() else None


def compare_in_feast(repo: Path | str, view: str, at_a: datetime, at_b: datetime, *, python: str | None = None,
                     timeout: float = FEAST_TIMEOUT_S) -> dict[str, Any]:
    """The view's values for the same entities at two times, compared by the drift engine, asked of Feast in
    its own Python: ``python -m core features REPO --view V --a A --b B --json`` on a copy of the repository
    (Feast may write beside its registry; a bundle stays as it was).

    Returns:
        The command's JSON: ``{table, a, b, schema_change, drift, entities, missing_a, missing_b}``.

    Raises:
        FeastMissingError: no Python with feast (see :func:`feast_python`).
        InvalidInputError: what the command refused (an unknown view, no registry, …), in its words.
        SourceUnavailableError: Feast did not answer within ``timeout`` seconds, or failed.
    """
    python = python or feast_python()
    source = Path(repo)
    with tempfile.TemporaryDirectory(prefix="feast-compare-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("online_store.db", "__pycache__", ".*"))
        cmd = [python, "-m", "core", "features", str(copy), "--view", view, "--a", iso(utc(at_a)),
               "--b", iso(utc(at_b)), "--json"]
        try:
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        except subprocess.TimeoutExpired:
            raise SourceUnavailableError(f"Feast did not answer within {timeout:.0f} s ({python}); try again when "
                                         "the machine is less busy") from None
        except OSError as exc:
            raise InvalidInputError(f"cannot run {python} ({exc.strerror or exc}); see README, "
                                    "\"Feature store (Feast)\"") from None
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    said = next((ln[len("error: "):] for ln in reversed(lines) if ln.startswith("error: ")), "")
    if done.returncode == 2 and said:
        raise InvalidInputError(said.replace(str(copy), str(source)))
    if done.returncode not in (0, 1):
        last = (lines[-1] if lines else "no output")[:300]
        raise SourceUnavailableError(f"Feast's comparison failed (exit {done.returncode}): {last}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SourceUnavailableError("Feast's comparison printed no JSON result") from None


# ---------------------------------------------------------------- the source kind ``features``

def open_features(spec: Any, _settings: Any = None) -> FeatureRepo:
    """The feature store that ``spec`` names: a bundle (its ``features/*.json`` snapshot), a snapshot JSON
    file, or a Feast repository folder (needs feast).

    Raises:
        InvalidInputError: see :func:`read_repo` and :func:`read_snapshot`; a bundle without ``features/``.
    """
    if not isinstance(spec, (str, Path)) and hasattr(spec, "manifest"):
        return _bundle_snapshot(spec.path, f"bundle {spec.id}")
    path = Path(str(spec)).expanduser()
    if path.is_file() and path.suffix.lower() == ".json":
        return read_snapshot(path)
    if path.is_dir() and (path / "bundle.json").is_file():
        return _bundle_snapshot(path, f"bundle {path.name}")
    if path.suffix.lower() == ".zip":
        from core.bundle import read_bundle

        bundle = read_bundle(path)
        return _bundle_snapshot(bundle.path, f"bundle {bundle.id}")
    return read_repo(path)


def _bundle_snapshot(root: Path, label: str) -> FeatureRepo:
    files = sorted((root / "features").glob("*.json")) if (root / "features").is_dir() else []
    if not files:
        raise InvalidInputError(f"{label} has no features/*.json (a Feast snapshot: python -m core features REPO "
                                "--export FILE)")
    if len(files) > 1:
        raise InvalidInputError(f"{label} holds {len(files)} files in features/; keep one Feast snapshot")
    return read_snapshot(files[0])
