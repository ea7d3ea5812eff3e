"""Weights & Biases runs as a run source (see docs/wandb.md).

Two ways in, one result type (the :mod:`core.sources.mlflow_runs` records, so
:mod:`core.analysis.rundiff` and the Models page need nothing else):

* **run folders** (:class:`WandbFolderSource`): what ``wandb`` writes on disk. An offline run
  (``WANDB_MODE=offline``) is ``wandb/offline-run-DATE-ID/run-ID.wandb``, W&B's record log (read
  with the protobuf classes of the ``wandb`` package, ``requirements-wandb.txt``); an online or
  exported run folder has ``files/config.yaml``, ``files/wandb-summary.json``,
  ``files/wandb-metadata.json`` (git commit) and, when exported, ``files/wandb-history.jsonl``
  (read as plain YAML/JSON, no ``wandb`` install needed). A path may name one run folder, a ``wandb/``
  folder of them, a folder holding ``wandb/``, or an incident bundle (its ``wandb/`` folder).
* **the W&B public API** (:class:`WandbApiSource`): when ``WANDB_API_KEY`` and ``WANDB_ENTITY`` /
  ``WANDB_PROJECT`` (or ``[wandb]`` ``api_key``, ``entity``, ``project``, ``base_url`` in
  ``.streamlit/secrets.toml``) are configured; spec ``wandb``. The key travels with this source's own
  ``wandb.Api`` object, never through ``os.environ``.

Mapping to the MLflow records: config → params (nested keys joined with ``.``), numeric summary
values → metrics, the git commit → the ``mlflow.source.git.commit`` tag (so the diff's code-change
rule applies), used dataset artifacts → input datasets (name, digest), logged model artifacts →
artifacts and, across runs, the versions of a "registered model" (``v0, v1, …`` in logging order,
aliases as W&B keeps them: one version per alias; a ``deployed_at`` metadata key places a version at
its deployment time).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from core.errors import InvalidInputError, MissingPackageError, NotFoundError, SourceUnavailableError
from core.models import EventKind, TimeWindow, iso, utc
from core.redact import redact as redact_text
from core.sources.mlflow_runs import (
    GIT_COMMIT_TAG, ArtifactRef, DatasetRef, ModelVersionRecord, RegistryHistory, RunRecord,
)

__all__ = ["WandbApiSource", "WandbFolderSource", "WandbRun", "open_wandb", "read_record_file", "run_folders"]

RECORD_SUFFIX = ".wandb"
BLOCK = 32768
HEADER = b":W&B"
SUMMARY_SKIP = ("_wandb", "_runtime", "_timestamp", "_step")
MODEL_TYPE = "model"
DATASET_TYPES = ("dataset", "data", "raw_data", "training_data")
MAX_HISTORY_ROWS = 100_000
LAYOUT_HINT = ("a W&B run folder (offline-run-…/run-ID.wandb, or files/config.yaml, files/wandb-summary.json, "
               "files/wandb-metadata.json), a wandb/ folder of them, or a bundle with a wandb/ folder")


@dataclass(frozen=True)
class WandbArtifact:
    """One artifact a run logged (``logged``) or used."""

    name: str
    type: str
    digest: str
    aliases: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    files: tuple[tuple[str, int | None], ...] = ()
    logged: bool = True
    version_index: int | None = None  # W&B's own ``vN`` (the API gives it; an offline record log does not)


@dataclass(frozen=True)
class WandbRun:
    """One W&B run as read from a folder or the API."""

    run_id: str
    project: str
    entity: str
    name: str
    state: str
    start_time: datetime | None
    end_time: datetime | None
    config: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    git_commit: str
    tags: tuple[str, ...] = ()
    artifacts: tuple[WandbArtifact, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    folder: str = ""
    warnings: tuple[str, ...] = ()

    def record(self, *, artifacts: bool = True) -> RunRecord:
        """The run as the :class:`RunRecord` the diff reads."""
        params = {k: _text(v) for k, v in _flatten(self.config).items()}
        metrics = {k: float(v) for k, v in _flatten(self.summary).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        tags = {"wandb.project": self.project, "wandb.entity": self.entity}
        if self.git_commit:
            tags[GIT_COMMIT_TAG] = self.git_commit
        if self.tags:
            tags["wandb.tags"] = ", ".join(self.tags)
        for key in ("program", "host", "python"):
            if self.metadata.get(key):
                tags[f"wandb.{key}"] = str(self.metadata[key])
        remote = (self.metadata.get("git") or {}).get("remote") if isinstance(self.metadata.get("git"), dict) else None
        if remote:
            tags["wandb.git.remote"] = str(remote)
        datasets = tuple(DatasetRef(a.name, a.digest, context="input" if not a.logged else "logged",
                                    source_type="wandb-artifact", source=f"{a.type}:{a.name}")
                         for a in self.artifacts if a.type in DATASET_TYPES)
        files = tuple(ArtifactRef(f"{a.name}/{p}", s) for a in self.artifacts if a.logged and a.type not in DATASET_TYPES
                      for p, s in a.files) if artifacts else ()
        status = {"finished": "FINISHED", "crashed": "FAILED", "failed": "FAILED", "running": "RUNNING",
                  "killed": "KILLED"}.get(self.state, self.state.upper())
        return RunRecord(run_id=self.run_id, experiment_id=self.project, name=self.name, status=status,
                         lifecycle_stage="active", start_time=self.start_time, end_time=self.end_time, params=params,
                         metrics=metrics, tags=tags, datasets=datasets, artifacts=files)


class WandbNotInstalledError(MissingPackageError):
    """A ``.wandb`` record log needs the ``wandb`` package, which is not installed."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not prefix and k in SUMMARY_SKIP:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict) and set(v) != {"value", "desc"}:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v["value"] if isinstance(v, dict) else v
    return out


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def _set(target: dict[str, Any], item: Any) -> None:
    keys = list(item.nested_key) or [item.key]
    node = target
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node.get(k, {}), dict) else node
    node[keys[-1]] = _json(item.value_json)


def _time(seconds: float | None) -> datetime | None:
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# ------------------------------------------------------------------ the record log (offline runs)

def _record_chunks(data: bytes) -> tuple[list[bytes], str]:
    """The records of W&B's log format (LevelDB-style 32 KiB blocks of crc, length, type, data), and a
    warning when the file ends in a damaged or unfinished record (the records before it are kept)."""
    if len(data) < 7 or data[:4] != HEADER:
        raise InvalidInputError("not a W&B record file: it does not start with ':W&B'")
    pos, out, pending = 7, [], None
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:  # block padding
            pos += left
            continue
        if kind not in (1, 2, 3, 4) or pos + 7 + length > len(data) or length > left - 7:
            return out, f"the record log is damaged or unfinished at byte {pos:,}; later records are left out"
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3 and pending is not None:
            pending += chunk
        elif kind == 4 and pending is not None:
            out.append(pending + chunk)
            pending = None
    if pending is not None:
        return out, "the record log ends in the middle of a record (the run may still be writing)"
    return out, ""


def read_record_file(path: Path | str) -> WandbRun:
    """One run from a ``run-ID.wandb`` record file (offline or synced run).

    Raises:
        InvalidInputError: the file is not a W&B record log, holds no run record, or the ``wandb``
            package (which has the record classes) is not installed.
    """
    path = Path(path)
    try:
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError:
        raise WandbNotInstalledError(f"{path.name}: reading W&B record files needs the wandb package; "
                                     "pip install -r requirements-wandb.txt") from None
    from google.protobuf.message import DecodeError

    try:
        chunks, warning = _record_chunks(path.read_bytes())
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path}: {exc}") from None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    artifacts: list[WandbArtifact] = []
    meta: dict[str, Any] = {}
    run = None
    exit_code, runtime, last_ts = None, None, None
    for chunk in chunks:
        rec = pb.Record()
        try:
            rec.ParseFromString(chunk)
        except DecodeError:
            warning = warning or "a record could not be decoded; it is left out"
            continue
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run = rec.run
            for item in rec.run.config.update:
                _set(config, item)
            if rec.run.git.commit:
                meta.setdefault("git", {})["commit"] = rec.run.git.commit
            if rec.run.git.remote_url:
                meta.setdefault("git", {})["remote"] = rec.run.git.remote_url
            meta["host"] = rec.run.host
        elif kind == "config":
            for item in rec.config.update:
                _set(config, item)
        elif kind == "summary":
            for item in rec.summary.update:
                _set(summary, item)
        elif kind == "history" and len(history) < MAX_HISTORY_ROWS:
            row: dict[str, Any] = {}
            for item in rec.history.item:
                _set(row, item)
            history.append(row)
            if isinstance(row.get("_timestamp"), (int, float)):
                last_ts = float(row["_timestamp"])
        elif kind == "environment":
            env = rec.environment
            for key in ("os", "python", "program", "host", "root"):
                if getattr(env, key, ""):
                    meta[key] = getattr(env, key)
            if env.HasField("git") and env.git.commit:
                meta.setdefault("git", {}).update({"commit": env.git.commit, "remote": env.git.remote_url})
        elif kind == "artifact":
            a = rec.artifact
            artifacts.append(WandbArtifact(
                name=a.name, type=a.type, digest=a.digest, aliases=tuple(x for x in a.aliases),
                metadata=_json(a.metadata) if a.metadata else {},
                files=tuple((c.path, int(c.size) if c.size else None) for c in a.manifest.contents), logged=True))
        elif kind == "use_artifact":
            u = rec.use_artifact
            name = u.partial.artifact_name if u.HasField("partial") and u.partial.artifact_name else u.name
            artifacts.append(WandbArtifact(name=name.split(":")[0], type=u.type, digest=u.id, logged=False))
        elif kind == "exit":
            exit_code, runtime = rec.exit.exit_code, rec.exit.runtime
    if run is None:
        raise InvalidInputError(f"{path}: the record file holds no run record; is it a W&B run?")
    start = _time(run.start_time.seconds + run.start_time.nanos / 1e9) if run.HasField("start_time") else None
    end = start + timedelta(seconds=runtime) if (start and runtime) else _time(last_ts)
    state = "running" if exit_code is None else ("finished" if exit_code == 0 else "failed")
    return WandbRun(run_id=run.run_id, project=run.project, entity=run.entity, name=run.display_name or run.run_id,
                    state=state, start_time=start, end_time=end, config=config, summary=summary, metadata=meta,
                    git_commit=(meta.get("git") or {}).get("commit", ""), tags=tuple(run.tags),
                    artifacts=tuple(artifacts), history=tuple(history), folder=str(path.parent),
                    warnings=(f"run {run.run_id}: {warning}",) if warning else ())


# ------------------------------------------------------------------ exported / online run folders

def _read_files_folder(folder: Path) -> WandbRun:
    files = folder / "files"
    config: dict[str, Any] = {}
    if (files / "config.yaml").is_file():
        import yaml

        try:
            loaded = yaml.safe_load((files / "config.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{files / 'config.yaml'}: not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(loaded, dict):
            raise InvalidInputError(f"{files / 'config.yaml'}: expected a mapping of config keys")
        config = {k: v for k, v in loaded.items() if k != "wandb_version"}

    def load(name: str) -> dict[str, Any]:
        p = files / name
        if not p.is_file():
            return {}
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{p}: not valid JSON (line {exc.lineno}); re-export the run") from None
        if not isinstance(data, dict):
            raise InvalidInputError(f"{p}: expected a JSON object")
        return data

    summary, meta = load("wandb-summary.json"), load("wandb-metadata.json")
    history = []
    if (files / "wandb-history.jsonl").is_file():
        for n, line in enumerate((files / "wandb-history.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    history.append(json.loads(line))
                except json.JSONDecodeError:
                    raise InvalidInputError(f"{files / 'wandb-history.jsonl'} line {n}: not valid JSON") from None
    run_id = str(meta.get("run_id") or folder.name.rsplit("-", 1)[-1])
    start = utc(meta["startedAt"]) if isinstance(meta.get("startedAt"), str) else None
    runtime = summary.get("_runtime") or (summary.get("_wandb") or {}).get("runtime")
    end = start + timedelta(seconds=float(runtime)) if start and isinstance(runtime, (int, float)) else None
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    return WandbRun(run_id=run_id, project=str(meta.get("project") or ""), entity=str(meta.get("entity") or ""),
                    name=str(meta.get("name") or meta.get("display_name") or run_id),
                    state=str(meta.get("state") or "finished"), start_time=start, end_time=end, config=config,
                    summary=summary, metadata=meta, git_commit=str(git.get("commit") or ""),
                    tags=tuple(meta.get("tags") or ()), history=tuple(history), folder=str(folder))


def _is_run_folder(p: Path) -> bool:
    return p.is_dir() and (any(p.glob(f"run-*{RECORD_SUFFIX}")) or (p / "files" / "wandb-metadata.json").is_file()
                           or (p / "files" / "config.yaml").is_file() and (p / "files" / "wandb-summary.json").is_file())


def run_folders(path: Path | str) -> list[Path]:
    """The run folders under ``path`` (see the module docstring); empty when there are none."""
    path = Path(path)
    if _is_run_folder(path):
        return [path]
    for root in (path, path / "wandb"):
        if root.is_dir():
            found = sorted(p for p in root.iterdir() if not p.is_symlink() and _is_run_folder(p))
            if found:
                return found
    return []


def read_run_folder(folder: Path) -> WandbRun:
    """One run folder: the record log when there is one, with the ``files/`` folder's values on top."""
    logs = sorted(folder.glob(f"run-*{RECORD_SUFFIX}"))
    if logs:
        run = read_record_file(logs[0])
        if (folder / "files" / "wandb-summary.json").is_file() or (folder / "files" / "config.yaml").is_file():
            exported = _read_files_folder(folder)
            run = WandbRun(**{**run.__dict__, "config": exported.config or run.config,
                              "summary": exported.summary or run.summary,
                              "git_commit": run.git_commit or exported.git_commit})
        return run
    return _read_files_folder(folder)


# ------------------------------------------------------------------ shared behaviour

class _RunsMixin:
    """Everything a run source answers from a list of :class:`WandbRun` (and their model artifacts)."""

    display_uri: str

    def runs(self) -> list[WandbRun]:  # pragma: no cover - overridden
        raise NotImplementedError

    def check(self) -> None:
        self.runs()

    def run(self, run_id: str) -> WandbRun:
        for r in self.runs():
            if run_id in (r.run_id, f"{r.entity}/{r.project}/{r.run_id}"):
                return r
        known = ", ".join(r.run_id for r in self.runs()[:10]) or "none"
        raise NotFoundError(f"W&B run '{run_id}' not found in {self.display_uri}; runs: {known}")

    def get_run(self, run_id: str, *, artifacts: bool = True) -> RunRecord:
        return self.run(run_id).record(artifacts=artifacts)

    def history(self, run_id: str) -> pd.DataFrame:
        """The run's logged history, one row per step (empty when none was kept)."""
        rows = [{k: v for k, v in row.items() if not isinstance(v, dict)} for row in self.run(run_id).history]
        return pd.DataFrame(rows)

    def search_runs(self, experiment_ids: Iterable[str] | None = None, *, params: Iterable[str] = (),
                    metrics: Iterable[str] = (), tags: Iterable[str] = (), max_runs: int = 500,
                    **_ignored: Any) -> pd.DataFrame:
        """Runs newest first, as :meth:`MlflowRunSource.search_runs` (projects stand for experiments)."""
        params, metrics, tags = list(params), list(metrics), list(tags)
        columns = (["run_id", "name", "status", "start_time", "end_time", "user", "deleted"]
                   + [f"param:{k}" for k in params] + [f"metric:{k}" for k in metrics] + [f"tag:{k}" for k in tags])
        wanted = set(experiment_ids) if experiment_ids is not None else None
        rows = []
        for r in sorted(self.runs(), key=lambda r: r.start_time or datetime.min.replace(tzinfo=timezone.utc),
                        reverse=True):
            if wanted is not None and r.project not in wanted:
                continue
            rec = r.record(artifacts=False)
            row = {"run_id": r.run_id, "name": r.name, "status": rec.status, "start_time": r.start_time,
                   "end_time": r.end_time, "user": r.entity, "deleted": False}
            row.update({f"param:{k}": rec.params.get(k) for k in params})
            row.update({f"metric:{k}": rec.metrics.get(k) for k in metrics})
            row.update({f"tag:{k}": rec.tags.get(k) for k in tags})
            rows.append(row)
            if len(rows) >= max_runs:
                break
        return pd.DataFrame(rows, columns=columns)

    def list_models(self, *, service: str | None = None) -> list[str]:
        """Names of the model artifacts the runs logged (``service`` matches a ``service`` metadata key)."""
        names = []
        for r in self.runs():
            for a in r.artifacts:
                if a.logged and a.type == MODEL_TYPE and a.name not in names:
                    if service is None or a.metadata.get("service") in (None, service):
                        names.append(a.name)
        return sorted(names)

    def registry_history(self, model: str) -> RegistryHistory:
        """The model artifact's versions in logging order (``v0, v1, …``; the same digest is one version)."""
        logged = []
        for r in self.runs():
            for a in r.artifacts:
                if a.logged and a.type == MODEL_TYPE and a.name == model:
                    logged.append((r.end_time or r.start_time, r, a))
        if not logged:
            raise NotFoundError(f"no W&B model artifact named '{model}' in {self.display_uri}; "
                                f"models: {', '.join(self.list_models()) or 'none'}")
        indexed = all(a.version_index is not None for _, _, a in logged)
        # W&B numbers versions itself; the API says which is which. Run folders carry no number, so logging
        # order (the run's end) stands in for it. The API's run times are whole seconds, too coarse to order by.
        logged.sort(key=lambda x: (x[2].version_index if indexed else 0,
                                   x[0] or datetime.min.replace(tzinfo=timezone.utc), x[1].run_id))
        versions: list[ModelVersionRecord] = []
        by_digest: dict[str, int] = {}
        alias_at: dict[str, int] = {}
        for at, r, a in logged:
            if a.digest in by_digest:
                number = by_digest[a.digest]
            else:
                number = a.version_index if indexed else len(by_digest)
                by_digest[a.digest] = number
                deployed = a.metadata.get("deployed_at") if isinstance(a.metadata, dict) else None
                tags = {"git_commit": r.git_commit, "digest": a.digest, "wandb.run": r.name}
                versions.append(ModelVersionRecord(
                    model=model, version=number, run_id=r.run_id, registered_at=at,
                    deployed_at=utc(deployed) if isinstance(deployed, str) else None, status="READY",
                    source=f"wandb-artifact:{model}:v{number}", description=str(a.metadata.get("description", ""))
                    if isinstance(a.metadata, dict) else "", user=r.entity, tags=tags))
            for alias in a.aliases:
                alias_at[alias] = number  # an alias names one version: the last run that set it wins
        aliases = {k: v for k, v in alias_at.items()}
        aliases["latest"] = versions[-1].version
        with_aliases = tuple(ModelVersionRecord(**{**v.__dict__, "aliases": tuple(sorted(
            k for k, n in aliases.items() if n == v.version))}) for v in versions)
        return RegistryHistory(model=model, description=f"W&B model artifact in {self.display_uri}", tags={},
                               aliases=aliases, versions=with_aliases)

    def events(self) -> list[dict[str, Any]]:
        """Timeline events: each run that finished (annotation) and each model version logged (model_version)."""
        out = []
        for r in self.runs():
            at = r.end_time or r.start_time
            if at is None:
                continue
            rec = r.record(artifacts=False)
            shown = ", ".join(f"{k} {v:.4g}" for k, v in list(rec.metrics.items())[:3])
            out.append({"timestamp": iso(at), "kind": EventKind.ANNOTATION.value, "source": "wandb",
                        "title": f"W&B run {r.name} {r.state}" + (f": {shown}" if shown else ""),
                        "attributes": {"run_id": r.run_id, "project": r.project, "git_commit": r.git_commit,
                                       "start": iso(r.start_time)}})
        for model in self.list_models():
            for v in self.registry_history(model).versions:
                aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
                verb = "deployed" if v.deployed_at else "logged"
                out.append({"timestamp": iso(v.effective_at), "kind": EventKind.MODEL_VERSION.value, "source": "wandb",
                            "title": f"{model} v{v.version} {verb} (W&B){aliases}",
                            "attributes": {"model": model, "version": v.version, "run_id": v.run_id,
                                           "aliases": list(v.aliases), "git_commit": v.git_commit}})
        return sorted(out, key=lambda e: e["timestamp"])

    def warnings(self) -> list[str]:
        return [w for r in self.runs() for w in r.warnings]


class WandbFolderSource(_RunsMixin):
    """Runs read from W&B run folders on disk (offline runs, synced or exported run folders)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        folders = run_folders(self.path)
        if not folders:
            raise InvalidInputError(f"'{self.path}' holds no W&B run; give {LAYOUT_HINT}")
        self.display_uri = f"W&B runs in {self.path}"
        self._runs, self.not_read = [], []
        for f in folders:
            try:
                self._runs.append(read_run_folder(f))
            except WandbNotInstalledError as exc:  # the app runs without the optional wandb package
                self.not_read.append(str(exc))

    def runs(self) -> list[WandbRun]:
        if not self._runs and self.not_read:
            raise WandbNotInstalledError(f"{len(self.not_read)} W&B run(s) in {self.path} are record logs: "
                                         f"{self.not_read[0]}")
        return self._runs

    def events(self) -> list[dict[str, Any]]:
        """As :meth:`_RunsMixin.events`; none (rather than an error) when only record logs that need the
        missing wandb package are there, so a bundle still imports without it."""
        if not self._runs and self.not_read:
            return []
        return super().events()

    def warnings(self) -> list[str]:
        return [*super().warnings(), *(f"not read: {m}" for m in self.not_read)]


# ------------------------------------------------------------------ the public API

class WandbApiSource(_RunsMixin):
    """Runs of one W&B project through the public API (``wandb.Api``), bounded by a timeout."""

    def __init__(self, *, api_key: str, entity: str, project: str, base_url: str | None = None,
                 timeout: float = 15.0, max_runs: int = 200) -> None:
        if not api_key:
            raise InvalidInputError("WANDB_API_KEY is not set; set it (or [wandb] api_key in secrets.toml)")
        if not (entity and project):
            raise InvalidInputError("set WANDB_ENTITY and WANDB_PROJECT (or [wandb] entity and project) to read "
                                    "runs from the W&B API")
        self.entity, self.project, self.base_url = entity, project, (base_url or "https://api.wandb.ai").rstrip("/")
        self.display_uri = f"W&B {entity}/{project} at {self.base_url}"
        self._key, self._timeout, self._max_runs = api_key, timeout, max_runs
        self._cache: list[WandbRun] | None = None

    def __repr__(self) -> str:
        return f"WandbApiSource({self.display_uri}, api_key=***)"

    def _api(self) -> Any:
        try:
            import wandb
        except ImportError:
            raise InvalidInputError("reading the W&B API needs the wandb package; "
                                    "pip install -r requirements-wandb.txt") from None
        return wandb.Api(api_key=self._key, timeout=int(self._timeout),
                         overrides={"base_url": self.base_url, "entity": self.entity, "project": self.project})

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import requests
        from wandb.errors import AuthenticationError, CommError, UsageError

        try:
            return fn(*args, **kwargs)
        except (AuthenticationError, UsageError):
            raise SourceUnavailableError(f"W&B at {self.base_url} refused the API key while reading {what}; "
                                         "check WANDB_API_KEY") from None
        except (CommError, requests.exceptions.RequestException) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                raise SourceUnavailableError(f"W&B at {self.base_url} refused the API key ({status}) while "
                                             f"reading {what}; check WANDB_API_KEY") from None
            raise SourceUnavailableError(f"W&B at {self.base_url} cannot be reached while reading {what} "
                                         f"({type(exc).__name__})") from None
        except ValueError as exc:  # wandb raises ValueError for a missing project or run
            if type(exc).__name__ == "ValidationError":  # pydantic: an answer of another shape
                raise SourceUnavailableError(f"W&B at {self.base_url} answered {what} in a shape this wandb client "
                                             "does not read; check WANDB_BASE_URL points at a W&B server") from None
            raise NotFoundError(f"W&B at {self.base_url}: {what}: {redact_text(str(exc))[:200]}") from None

    def runs(self) -> list[WandbRun]:
        if self._cache is None:
            api = self._call("the API", self._api)
            path = f"{self.entity}/{self.project}"
            listed = self._call(f"runs of {path}", lambda: list(api.runs(path, per_page=50))[: self._max_runs])
            self._cache = [self._call(f"run {r.id}", self._convert, r) for r in listed]
        return self._cache

    def _convert(self, r: Any) -> WandbRun:
        meta: dict[str, Any] = {}  # run.metadata would download a file per run; the commit comes with the run
        git: dict[str, Any] = {}
        start = utc(r.created_at if r.created_at.endswith("Z") or "+" in r.created_at else r.created_at + "Z")
        summary = dict(r.summary._json_dict) if hasattr(r.summary, "_json_dict") else dict(r.summary)
        runtime = summary.get("_runtime")
        end = start + timedelta(seconds=float(runtime)) if isinstance(runtime, (int, float)) else None
        arts = []
        for a in r.logged_artifacts():
            arts.append(WandbArtifact(name=a.name.split(":")[0], type=a.type, digest=a.digest,
                                      aliases=tuple(x for x in a.aliases), metadata=dict(a.metadata or {}), logged=True,
                                      version_index=_version_index(a)))
        for a in r.used_artifacts():
            arts.append(WandbArtifact(name=a.name.split(":")[0], type=a.type, digest=a.digest, logged=False))
        return WandbRun(run_id=r.id, project=self.project, entity=self.entity, name=r.name or r.id, state=r.state,
                        start_time=start, end_time=end, config={k: v for k, v in r.config.items() if k != "_wandb"},
                        summary=summary, metadata=meta, git_commit=str(r.commit or git.get("commit") or ""),
                        tags=tuple(r.tags or ()), artifacts=tuple(arts))


def _version_index(artifact: Any) -> int | None:
    """The ``N`` of an API artifact's ``vN`` (``None`` when the client does not say)."""
    raw = getattr(artifact, "version", None)
    text = str(raw or "")
    return int(text[1:]) if text[:1] == "v" and text[1:].isdigit() else None


# ------------------------------------------------------------------ opening

def open_wandb(spec: Any, config: Any) -> _RunsMixin:
    """The W&B source a spec names: ``wandb`` (the configured API), ``wandb:PATH`` or a path (run folders),
    or a bundle (its ``wandb/`` folder).

    Raises:
        InvalidInputError: nothing configured, or the path holds no W&B run.
    """
    if hasattr(spec, "manifest") and hasattr(spec, "path"):  # a Bundle already read
        folder = Path(spec.path) / "wandb"
        if not folder.is_dir():
            raise InvalidInputError(f"bundle {spec.id} has no wandb/ folder of W&B runs")
        return WandbFolderSource(folder)
    text = "" if spec is None else str(spec).strip()
    if text.lower().startswith("wandb:"):
        text = text[len("wandb:"):]
    if text and text.lower() != "wandb":
        path = Path(text).expanduser()
        if not path.exists():
            raise InvalidInputError(f"W&B runs '{text}' not found; give {LAYOUT_HINT}, or 'wandb' for the W&B API")
        if (path / "bundle.json").is_file() or path.suffix.lower() == ".zip":
            from core.bundle import read_bundle

            return open_wandb(read_bundle(path), config)
        return WandbFolderSource(path)
    s = config.section("wandb")
    timeout = s.number("timeout", 15.0, message="WANDB_TIMEOUT must be a number of seconds, not '{raw}'")
    return WandbApiSource(api_key=s.text("api_key") or "", entity=s.text("entity") or "",
                          project=s.text("project") or "", base_url=s.text("base_url"), timeout=timeout)


def window_events(source: _RunsMixin, window: TimeWindow) -> list[dict[str, Any]]:
    """The source's events inside ``window``."""
    return [e for e in source.events() if window.start <= utc(e["timestamp"]) < window.end]
