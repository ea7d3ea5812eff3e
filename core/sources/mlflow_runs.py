"""MLflow tracking and model registry as a run source (see docs/mlflow.md).

:class:`MlflowRunSource` reads runs and the model registry of any tracking URI:

* a local ``mlruns`` folder (a path or ``file://`` URI; it must exist),
* a SQLite database ``sqlite:///path/mlflow.db`` (or any SQLAlchemy URI MLflow accepts),
* an ``http(s)://`` tracking server; a token comes from ``MLFLOW_TRACKING_TOKEN``
  (or ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``) or the ``[mlflow]`` table of
  ``.streamlit/secrets.toml`` (``token``, ``username``, ``password``), through
  :mod:`core.config`, never from code. The credentials travel with this source's own client
  (:mod:`core.sources.mlflow_rest`); no credential is written to ``os.environ``.

Remote calls are bounded: ``MLFLOW_HTTP_REQUEST_TIMEOUT`` (seconds per request) and
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (or ``timeout``/``max_retries`` under ``[mlflow]``), else the
source's own short values, are passed to each request, so an unreachable server fails fast with
:class:`SourceUnavailableError` naming the URI without its credentials.

Registry times: MLflow stamps a model version with the time it was *registered*;
it keeps no history of alias or stage assignments. A version tagged
``deployed_at`` (ISO 8601, set by a deployment pipeline) is placed at that time
instead; :attr:`ModelVersionRecord.effective_at` is the time used everywhere.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import pandas as pd

from core.config import MlflowSettings
from core.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from core.models import EventKind, TimeWindow, iso, utc
from core.redact import redact, redact_url, unparsable_url, url_secrets
from core.sources.mlflow_rest import attach_rest_stores, list_artifacts as rest_list_artifacts

DEFAULT_TIMEOUT_S = 10
DEFAULT_MAX_RETRIES = 0
DEPLOYED_AT_TAG = "deployed_at"
SERVICE_TAG = "service"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SEARCH_PAGE_SIZE = 500
MAX_ARTIFACTS = 2000
_REMOTE_SCHEMES = ("http://", "https://")
_DB_SCHEMES = ("sqlite:", "postgresql", "mysql", "mssql")
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}
_BAD_INPUT_CODES = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"}


def redact_uri(uri: str) -> str:
    """The URI without a password or token in it (``https://user:***@host``): :func:`core.redact.redact_url`."""
    return redact_url(uri)


def default_tracking_uri() -> str:
    """The embedded tracking store: ``sqlite:///<WORKBENCH_HOME>/mlflow.db``."""
    from core.store import workbench_home

    return f"sqlite:///{workbench_home() / 'mlflow.db'}"


def configured_tracking_uri() -> str | None:
    """The registry to consult without being told: ``MLFLOW_TRACKING_URI``, else the embedded store
    when it exists (the app creates it on first start), else None."""
    from core.config import settings

    config = settings()
    if config.mlflow.tracking_uri:
        return config.mlflow.tracking_uri
    home = config.store.home or Path.cwd() / ".workbench"
    return f"sqlite:///{home / 'mlflow.db'}" if (home / "mlflow.db").is_file() else None


def default_artifact_root() -> Path:
    """Where the embedded store keeps artifacts: ``<WORKBENCH_HOME>/mlartifacts``."""
    from core.store import workbench_home

    return workbench_home() / "mlartifacts"


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class DatasetRef:
    """One input dataset of a run: its name, digest, schema ({column: type}) and context."""

    name: str
    digest: str
    context: str = ""
    source_type: str = ""
    source: str = ""
    schema: dict[str, str] = field(default_factory=dict)
    num_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": self.digest, "context": self.context,
                "source_type": self.source_type, "source": self.source, "schema": dict(self.schema),
                "num_rows": self.num_rows}


@dataclass(frozen=True)
class ArtifactRef:
    path: str
    size: int | None


@dataclass(frozen=True)
class RunRecord:
    """Everything the diff needs about one run."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    lifecycle_stage: str
    start_time: datetime | None
    end_time: datetime | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: tuple[DatasetRef, ...] = ()
    artifacts: tuple[ArtifactRef, ...] = ()
    artifacts_truncated: bool = False

    @property
    def deleted(self) -> bool:
        return self.lifecycle_stage == "deleted"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.run_id[:8]})" if self.name else self.run_id


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered model version; ``effective_at`` is ``deployed_at`` if tagged, else registration."""

    model: str
    version: int
    run_id: str | None
    registered_at: datetime | None
    deployed_at: datetime | None
    aliases: tuple[str, ...] = ()
    stage: str = ""
    status: str = ""
    source: str = ""
    description: str = ""
    user: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def effective_at(self) -> datetime | None:
        return self.deployed_at or self.registered_at

    @property
    def git_commit(self) -> str:
        """The version's ``git_commit`` (or ``mlflow.source.git.commit``) tag, if any."""
        return self.tags.get("git_commit") or self.tags.get(GIT_COMMIT_TAG, "")

    @property
    def time_basis(self) -> str:
        return "deployed" if self.deployed_at else "registered"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "version": self.version, "run_id": self.run_id,
            "registered_at": iso(self.registered_at), "deployed_at": iso(self.deployed_at),
            "effective_at": iso(self.effective_at), "aliases": list(self.aliases), "stage": self.stage,
            "status": self.status, "source": self.source, "description": self.description,
            "user": self.user, "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class RegistryHistory:
    """A registered model with its versions in version order and its current aliases."""

    model: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: tuple[ModelVersionRecord, ...]

    def version(self, number: int) -> ModelVersionRecord:
        for v in self.versions:
            if v.version == int(number):
                return v
        known = ", ".join(str(v.version) for v in self.versions) or "none"
        raise NotFoundError(f"model '{self.model}' has no version {number}; versions: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "description": self.description, "tags": dict(self.tags),
                "aliases": dict(self.aliases), "versions": [v.to_dict() for v in self.versions]}

    def frame(self) -> pd.DataFrame:
        """One row per version, newest first (for tables)."""
        cols = ["version", "aliases", "effective_at", "basis", "git_commit", "description", "stage",
                "run_id", "registered_at"]
        rows = [{
            "version": v.version, "aliases": ", ".join(v.aliases), "effective_at": v.effective_at,
            "basis": v.time_basis, "git_commit": v.git_commit, "description": v.description, "stage": v.stage,
            "run_id": v.run_id or "", "registered_at": v.registered_at,
        } for v in sorted(self.versions, key=lambda x: x.version, reverse=True)]
        return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# Conversions


def _ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)


def parse_schema(text: str | None) -> dict[str, str]:
    """MLflow's dataset schema JSON (``{"mlflow_colspec": [...]}``) as ``{column: type}``."""
    if not text:
        return {}
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return {}
    cols = obj.get("mlflow_colspec") if isinstance(obj, dict) else obj
    if isinstance(obj, dict) and cols is None:
        cols = obj.get("fields") or obj.get("columns") or []
    out: dict[str, str] = {}
    for i, col in enumerate(cols if isinstance(cols, list) else []):
        if isinstance(col, dict):
            out[str(col.get("name", f"col{i}"))] = str(col.get("type", ""))
    return out


def _dataset_ref(dataset_input: Any) -> DatasetRef:
    ds = dataset_input.dataset
    context = ""
    for tag in dataset_input.tags or []:
        if tag.key == "mlflow.data.context":
            context = tag.value
    num_rows = None
    try:
        profile = json.loads(ds.profile) if ds.profile else {}
        num_rows = profile.get("num_rows") if isinstance(profile, dict) else None
    except (TypeError, ValueError):
        pass
    return DatasetRef(name=ds.name, digest=ds.digest, context=context, source_type=ds.source_type or "",
                      source=ds.source or "", schema=parse_schema(ds.schema),
                      num_rows=int(num_rows) if isinstance(num_rows, (int, float)) else None)


def _version_record(mv: Any, aliases: Iterable[str] = ()) -> ModelVersionRecord:
    tags = dict(mv.tags or {})
    deployed = None
    if tags.get(DEPLOYED_AT_TAG):
        try:
            deployed = utc(tags[DEPLOYED_AT_TAG])
        except InvalidInputError:
            deployed = None  # a malformed tag falls back to the registration time
    return ModelVersionRecord(
        model=mv.name, version=int(mv.version), run_id=mv.run_id or None,
        registered_at=_ms(mv.creation_timestamp), deployed_at=deployed,
        aliases=tuple(sorted(set(aliases) | set(getattr(mv, "aliases", None) or []))),
        stage=mv.current_stage if mv.current_stage and mv.current_stage != "None" else "",
        status=str(mv.status or ""), source=str(mv.source or ""), description=mv.description or "",
        user=mv.user_id or "", tags=tags,
    )


# ---------------------------------------------------------------------------------------------
# The source


class MlflowRunSource:
    """Runs and model registry of one MLflow tracking URI.

    Args:
        tracking_uri: a folder, ``file://``, ``sqlite:///…`` or ``http(s)://`` URI; None for the
            embedded store under ``WORKBENCH_HOME``.
        registry_uri: the model registry URI (default: the tracking URI).
        create: create a missing local store (the embedded default always may); otherwise a
            missing folder or SQLite file is an error rather than a silently created empty store.
        timeout: seconds per HTTP request, unless ``MLFLOW_HTTP_REQUEST_TIMEOUT`` is set.
        max_retries: HTTP retries, unless ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` is set.
        settings: the MLflow settings (credentials, bounds); default: :func:`core.config.settings`.

    Raises:
        InvalidInputError: the URI is malformed or names a store that does not exist.
    """

    def __init__(self, tracking_uri: str | None = None, *, registry_uri: str | None = None,
                 create: bool = False, timeout: int = DEFAULT_TIMEOUT_S,
                 max_retries: int = DEFAULT_MAX_RETRIES, settings: MlflowSettings | None = None) -> None:
        if settings is None:
            from core.config import settings as current

            settings = current().mlflow
        self._settings = settings
        embedded = not tracking_uri
        uri = (tracking_uri or default_tracking_uri()).strip()
        self.display_uri = redact_uri(uri)
        self._uri_secrets = url_secrets(uri) + (url_secrets(registry_uri) if registry_uri else [])
        self.uri = _normalise(uri, create=create or embedded)
        self.registry_uri = _normalise(registry_uri.strip(), create=create or embedded) if registry_uri else self.uri
        self.display_uri = redact_uri(self.uri)
        self._timeout = int(settings.timeout if settings.timeout is not None else timeout)
        self._max_retries = int(settings.max_retries if settings.max_retries is not None else max_retries)
        if _is_file_store(self.uri):
            # MLflow 3 refuses the file backend unless this is set, and only the environment can say it:
            # FileStore.__init__ reads MLFLOW_ALLOW_FILE_STORE itself and takes no argument for it. It is
            # no credential, and reading an mlruns folder is supported.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            with _sqlite_tuned(self.uri):
                self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.registry_uri)
                attach_rest_stores(self._client, self.uri, self.registry_uri, settings,
                                   timeout=self._timeout, max_retries=self._max_retries)
                if self.registry_uri.startswith("sqlite:"):
                    self._client._get_registry_client()  # open (and migrate) the registry store now
        except MlflowException as exc:
            raise self._translate(exc, "open the tracking store") from exc
        except ImportError as exc:  # mysql://, mssql://: the database driver is not installed
            raise SourceUnavailableError(redact(
                f"MLflow store {self.display_uri}: its database driver is not installed ({exc}); install it "
                "(e.g. pip install mysqlclient for mysql://) or use sqlite:///path/mlflow.db or http(s)://host",
                self._secrets())) from None
        except ValueError:  # a URI MLflow cannot parse; its message quotes a piece of the URI: not shown
            raise SourceUnavailableError(
                f"the MLflow tracking URI ({unparsable_url(uri)}) does not parse (a port that is not a number, "
                "or ambiguous punctuation); write a folder, sqlite:///path/mlflow.db or http(s)://host:port"
            ) from None

    def __repr__(self) -> str:
        return f"MlflowRunSource(uri={self.display_uri!r})"

    def _secrets(self) -> list[str]:
        """The credentials that must never appear in a message: URI password, token and password settings."""
        return self._uri_secrets + [v for v in self._settings.secrets() if len(v) >= 4]

    @property
    def client(self) -> Any:
        """The underlying ``mlflow.MlflowClient`` (for seeding and tests)."""
        return self._client

    # -- errors ---------------------------------------------------------------------------

    def _translate(self, exc: Exception, what: str) -> Exception:
        """Turn an MLflow exception into a WorkbenchError whose message names the redacted URI."""
        code = str(getattr(exc, "error_code", "") or "")
        text = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self._secrets())
        where = f"MLflow at {self.display_uri}"
        if code in _NOT_FOUND_CODES or "not found" in text.lower() or "does not exist" in text.lower():
            return NotFoundError(f"{where}: cannot {what}: {text}")
        if "unsupported URI" in text or "Could not find a registered" in text:
            return InvalidInputError(
                f"'{self.display_uri}' is not a tracking URI MLflow understands; use a folder, "
                "sqlite:///path/mlflow.db or http(s)://host:port"
            )
        if code in _BAD_INPUT_CODES:
            return InvalidInputError(f"{where}: cannot {what}: {text}")
        return SourceUnavailableError(
            f"{where} is unavailable (cannot {what}: {_short_reason(text)}). Check that the server is "
            "running and reachable, the URI and MLFLOW_TRACKING_TOKEN; timeouts: "
            "MLFLOW_HTTP_REQUEST_TIMEOUT / MLFLOW_HTTP_REQUEST_MAX_RETRIES."
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException
        from requests.exceptions import RequestException

        try:
            with self._global_uri():
                return fn(*args, **kwargs)
        except MlflowException as exc:
            raise self._translate(exc, what) from exc
        except (RequestException, OSError) as exc:
            raise self._translate(exc, what) from exc

    def _global_uri(self) -> Any:
        """For a file registry, MLflow's global tracking URI set to this store during a call.

        MLflow's file registry reads each model version through ``MlflowClient()`` with the
        *global* tracking URI (a TODO in MLflow itself); left unset, that creates an empty
        ``./mlflow.db`` in the working directory. Other stores need nothing.
        """
        if not _is_file_store(self.registry_uri):
            return nullcontext()
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri

        return _use_tracking_uri(self.uri)

    # -- runs -----------------------------------------------------------------------------

    def check(self) -> None:
        """Make one cheap call; raises SourceUnavailableError when the store cannot be reached."""
        self._call("list experiments", self._client.search_experiments, max_results=1)

    def get_run(self, run_id: str, *, artifacts: bool = True, max_artifacts: int = MAX_ARTIFACTS) -> RunRecord:
        """One run with params, metrics (latest values), tags, input datasets and artifact list.

        Raises:
            InvalidInputError: ``run_id`` is empty.
            NotFoundError: no such run (a deleted run is returned, with ``lifecycle_stage='deleted'``).
            SourceUnavailableError: the store cannot be reached.
        """
        run_id = str(run_id or "").strip()
        if not run_id:
            raise InvalidInputError("give a run id (32 hex characters, as shown in the MLflow UI)")
        run = self._call(f"read run {run_id}", self._client.get_run, run_id)
        info, data = run.info, run.data
        inputs = getattr(run, "inputs", None)
        datasets = tuple(_dataset_ref(d) for d in (inputs.dataset_inputs if inputs else []) or [])
        arts: list[ArtifactRef] = []
        truncated = False
        if artifacts:
            arts, truncated = self._list_artifacts(run_id, max_artifacts)
        tags = dict(data.tags or {})
        return RunRecord(
            run_id=info.run_id, experiment_id=str(info.experiment_id),
            name=info.run_name or tags.get("mlflow.runName", ""), status=str(info.status),
            lifecycle_stage=str(info.lifecycle_stage), start_time=_ms(info.start_time),
            end_time=_ms(info.end_time), params=dict(data.params or {}),
            metrics={k: float(v) for k, v in (data.metrics or {}).items()}, tags=tags,
            datasets=datasets, artifacts=tuple(arts), artifacts_truncated=truncated,
        )

    def _list_artifact_page(self, run_id: str, path: str | None) -> list[Any]:
        if self.uri.startswith(_REMOTE_SCHEMES):  # the server lists them, with this source's credentials
            return rest_list_artifacts(self._client, run_id, path)
        return self._client.list_artifacts(run_id, path)

    def _list_artifacts(self, run_id: str, limit: int) -> tuple[list[ArtifactRef], bool]:
        out: list[ArtifactRef] = []
        pending: list[str | None] = [None]
        while pending:
            path = pending.pop(0)
            try:
                items = self._call(f"list artifacts of run {run_id}", self._list_artifact_page, run_id, path)
            except NotFoundError:
                items = []  # the artifact folder is gone (e.g. cleaned up); the run itself still exists
            for item in items:
                if item.is_dir:
                    pending.append(item.path)
                else:
                    out.append(ArtifactRef(item.path, item.file_size))
                if len(out) >= limit:
                    return sorted(out, key=lambda a: a.path), True
        return sorted(out, key=lambda a: a.path), False

    def experiment_ids(self, names: Iterable[str] | None = None) -> list[str]:
        """Ids of the named experiments (all active ones when ``names`` is None).

        Raises:
            NotFoundError: a named experiment does not exist.
        """
        if names is None:
            exps = self._call("list experiments", self._client.search_experiments, max_results=1000)
            return [e.experiment_id for e in exps]
        ids = []
        for name in names:
            exp = self._call(f"find experiment '{name}'", self._client.get_experiment_by_name, name)
            if exp is None:
                raise NotFoundError(f"MLflow at {self.display_uri} has no experiment '{name}'")
            ids.append(exp.experiment_id)
        return ids

    def search_runs(self, experiment_ids: Iterable[str] | None = None, *, filter_string: str = "",
                    params: Iterable[str] = (), metrics: Iterable[str] = (), tags: Iterable[str] = (),
                    max_runs: int = 500, page_size: int = SEARCH_PAGE_SIZE,
                    include_deleted: bool = False) -> pd.DataFrame:
        """Runs newest first as a compact frame with only the requested columns.

        The search is paged (``page_size`` runs per request, at most ``max_runs``); each row keeps
        ``run_id, name, status, start_time, end_time, user`` plus ``param:<k>``, ``metric:<k>`` and
        ``tag:<k>`` columns for the requested keys only, so thousands of params stay out of the table.
        """
        from mlflow.entities import ViewType

        exp_ids = list(experiment_ids) if experiment_ids is not None else self.experiment_ids()
        params, metrics, tags = list(params), list(metrics), list(tags)
        columns = (["run_id", "name", "status", "start_time", "end_time", "user", "deleted"]
                   + [f"param:{k}" for k in params] + [f"metric:{k}" for k in metrics]
                   + [f"tag:{k}" for k in tags])
        if not exp_ids:
            return pd.DataFrame(columns=columns)
        if not filter_string:
            fast = self._search_runs_sql(exp_ids, params, metrics, tags, max_runs, page_size, include_deleted)
            if fast is not None:
                return fast.reindex(columns=columns)
        rows: list[dict[str, Any]] = []
        token = None
        view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
        while len(rows) < max_runs:
            page = self._call(
                "search runs", self._client.search_runs, exp_ids, filter_string=filter_string,
                run_view_type=view, max_results=min(page_size, max_runs - len(rows)),
                order_by=["attributes.start_time DESC"], page_token=token,
            )
            for run in page:
                d = run.data
                row = {"run_id": run.info.run_id, "name": run.info.run_name or "",
                       "status": str(run.info.status), "start_time": _ms(run.info.start_time),
                       "end_time": _ms(run.info.end_time), "user": d.tags.get("mlflow.user", ""),
                       "deleted": run.info.lifecycle_stage == "deleted"}
                for k in params:
                    row[f"param:{k}"] = d.params.get(k)
                for k in metrics:
                    row[f"metric:{k}"] = d.metrics.get(k)
                for k in tags:
                    row[f"tag:{k}"] = d.tags.get(k)
                rows.append(row)
            token = page.token
            if not token:
                break
        return pd.DataFrame(rows, columns=columns)

    def _search_runs_sql(self, exp_ids: list[str], params: list[str], metrics: list[str], tags: list[str],
                         max_runs: int, page_size: int, include_deleted: bool) -> pd.DataFrame | None:
        """The run table straight from a database-backed store, fetching only the requested keys.

        MLflow's own search loads every param, metric and tag of every run (seconds for 500 wide
        runs); this reads MLflow's ``runs``, ``params``, ``latest_metrics`` and ``tags`` tables
        for the wanted keys only. Returns None (the caller then uses the client) when the store
        is not database-backed or its tables do not look as expected.
        """
        from sqlalchemy import bindparam, text
        from sqlalchemy.exc import SQLAlchemyError

        store = getattr(getattr(self._client, "_tracking_client", None), "store", None)
        engine = getattr(store, "engine", None)
        if engine is None:
            return None
        stage = "" if include_deleted else "AND lifecycle_stage = 'active'"
        run_q = text(
            "SELECT run_uuid, name, status, start_time, end_time, user_id, lifecycle_stage FROM runs "
            f"WHERE experiment_id IN :exps {stage} ORDER BY start_time DESC, run_uuid LIMIT :lim OFFSET :off"
        ).bindparams(bindparam("exps", expanding=True))
        try:
            with engine.connect() as conn:
                runs: list[Any] = []
                while len(runs) < max_runs:
                    lim = min(page_size, max_runs - len(runs))
                    page = conn.execute(run_q, {"exps": [int(e) for e in exp_ids], "lim": lim,
                                                "off": len(runs)}).fetchall()
                    runs.extend(page)
                    if len(page) < lim:
                        break
                ids = [r[0] for r in runs]
                values: dict[str, dict[str, Any]] = {rid: {} for rid in ids}
                for table, prefix, keys in (("params", "param:", params), ("latest_metrics", "metric:", metrics),
                                            ("tags", "tag:", tags + ["mlflow.user", "mlflow.runName"])):
                    if not keys or not ids:
                        continue
                    cols = "run_uuid, key, value, is_nan" if table == "latest_metrics" else "run_uuid, key, value"
                    q = text(f"SELECT {cols} FROM {table} WHERE key IN :keys AND run_uuid IN :ids").bindparams(
                        bindparam("keys", expanding=True), bindparam("ids", expanding=True))
                    for i in range(0, len(ids), 500):
                        for row in conn.execute(q, {"keys": keys, "ids": ids[i:i + 500]}):
                            value = float("nan") if (table == "latest_metrics" and row[3]) else row[2]
                            values[row[0]][prefix + row[1]] = float(value) if table == "latest_metrics" else value
        except (SQLAlchemyError, ValueError):
            return None  # not MLflow's schema as expected (or non-numeric experiment ids): use the client
        out = []
        for r in runs:
            v = values[r[0]]
            row = {"run_id": r[0], "name": r[1] or v.get("tag:mlflow.runName", ""), "status": r[2],
                   "start_time": _ms(r[3]), "end_time": _ms(r[4]),
                   "user": v.get("tag:mlflow.user") or r[5] or "", "deleted": r[6] == "deleted"}
            row.update({f"param:{k}": v.get(f"param:{k}") for k in params})
            row.update({f"metric:{k}": v.get(f"metric:{k}") for k in metrics})
            row.update({f"tag:{k}": v.get(f"tag:{k}") for k in tags})
            out.append(row)
        return pd.DataFrame(out, columns=list(out[0]) if out else None)

    # -- registry -------------------------------------------------------------------------

    def list_models(self, *, service: str | None = None) -> list[str]:
        """Registered model names, optionally only those tagged ``service=<service>``."""
        names: list[str] = []
        token = None
        while True:
            page = self._call("list registered models", self._client.search_registered_models,
                              max_results=200, page_token=token)
            for m in page:
                if service is None or (m.tags or {}).get(SERVICE_TAG) == service:
                    names.append(m.name)
            token = page.token
            if not token:
                return sorted(names)

    def registry_history(self, model: str) -> RegistryHistory:
        """All versions of ``model`` with aliases, stage, tags, run and times.

        Raises:
            InvalidInputError: ``model`` is empty.
            NotFoundError: the model is not registered (the message lists a few that are).
            SourceUnavailableError: the registry cannot be reached.
        """
        model = str(model or "").strip()
        if not model:
            raise InvalidInputError("give a registered model name")
        try:
            rm = self._call(f"read registered model '{model}'", self._client.get_registered_model, model)
        except NotFoundError:
            known = self.list_models()[:10]
            raise NotFoundError(
                f"model '{model}' is not registered in MLflow at {self.display_uri}; "
                f"registered: {', '.join(known) or 'none'}"
            ) from None
        aliases = {str(a): int(v) for a, v in (getattr(rm, "aliases", None) or {}).items()}
        by_version: dict[int, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(v, []).append(alias)
        versions: list[ModelVersionRecord] = []
        token = None
        escaped = model.replace("'", "\\'")
        while True:
            page = self._call(f"list versions of '{model}'", self._client.search_model_versions,
                              filter_string=f"name='{escaped}'", max_results=200, page_token=token)
            for mv in page:
                versions.append(_version_record(mv, by_version.get(int(mv.version), [])))
            token = page.token
            if not token:
                break
        versions.sort(key=lambda v: v.version)
        return RegistryHistory(model=rm.name, description=rm.description or "", tags=dict(rm.tags or {}),
                               aliases=aliases, versions=tuple(versions))


@contextmanager
def _sqlite_tuned(uri: str) -> Iterator[None]:
    """Open a local SQLite tracking store in WAL mode with ``synchronous=NORMAL``.

    MLflow commits every call separately; with SQLite's default rollback journal each commit
    waits for several disk flushes (about 20 ms each here), which makes the first migration and
    the demo seeding take tens of seconds. WAL with NORMAL sync is SQLite's recommended setting
    for this: crash-safe for the application, it can lose only the last commits on power loss.
    The connect hook is installed only while the client opens and only touches this file.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    path = str(Path(uri.split("///", 1)[1]).resolve())
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # persistent in the file
    finally:
        conn.close()

    def tune(dbapi_connection: Any, _record: Any) -> None:
        row = dbapi_connection.execute("PRAGMA database_list").fetchone()
        if row and row[2] and str(Path(row[2]).resolve()) == path:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

    event.listen(Engine, "connect", tune)
    try:
        yield
    finally:
        event.remove(Engine, "connect", tune)
    # MLflow caches its stores per URI; later pooled connections of their engines get the same setting.
    for engine in _store_engines(uri):
        if not event.contains(engine, "connect", tune):
            event.listen(engine, "connect", tune)


def _store_engines(uri: str) -> list[Any]:
    from mlflow.tracking._model_registry.utils import _get_store as registry_store
    from mlflow.tracking._tracking_service.utils import _get_store as tracking_store

    engines = []
    for get in (tracking_store, registry_store):
        engine = getattr(get(uri), "engine", None)
        if engine is not None and engine not in engines:
            engines.append(engine)
    return engines


def _short_reason(text: str) -> str:
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return "request timed out"
    if "connection refused" in low or "failed to establish" in low or "max retries exceeded" in low:
        return "connection refused or host unreachable"
    # a status code, not digits of a port or an id (":34035" once read as "403")
    if re.search(r"(?<![\w.:%/@=-])40[13](?!\w)", text) or "unauthorized" in low or "permission" in low:
        return "not authorised; check MLFLOW_TRACKING_TOKEN"
    return text[:200]


def _is_file_store(uri: str) -> bool:
    return uri.startswith("file:") or "://" not in uri and not uri.startswith(_DB_SCHEMES)


def _normalise(uri: str, *, create: bool) -> str:
    """Validate a tracking URI; local stores must exist unless ``create``."""
    if not uri:
        raise InvalidInputError("the tracking URI is empty; use a folder, sqlite:///path or http(s)://host")
    if "://" in uri:
        try:
            urlsplit(uri).port  # noqa: B018 - raises ValueError for a bad port or bracket
        except ValueError:  # the parser's message quotes a piece of the URI: not shown
            raise SourceUnavailableError(
                f"the MLflow tracking URI ({unparsable_url(uri)}) does not parse (a port that is not a number, "
                "or ambiguous punctuation); write a folder, sqlite:///path/mlflow.db or http(s)://host:port"
            ) from None
    if uri.startswith(_REMOTE_SCHEMES):
        host = uri.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        if not host or host.startswith(":"):
            raise InvalidInputError(f"'{redact_uri(uri)}' has no host; write http://host:port")
        return uri.rstrip("/")
    if uri.startswith("sqlite:"):
        path = uri.split("///", 1)[-1] if "///" in uri else ""
        if not path or path == ":memory:":
            raise InvalidInputError(f"'{uri}' names no database file; write sqlite:///path/to/mlflow.db")
        p = Path(path)
        if not p.exists():
            if not create:
                raise InvalidInputError(f"MLflow database {p} does not exist; check the path")
            p.parent.mkdir(parents=True, exist_ok=True)
        return uri
    if uri.startswith(_DB_SCHEMES):
        return uri
    if "://" in uri and not uri.startswith("file:"):
        raise InvalidInputError(
            f"'{redact_uri(uri)}' is not a tracking URI MLflow understands; use a folder, "
            "sqlite:///path/mlflow.db or http(s)://host:port"
        )
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri[5:] if uri.startswith("file:") else uri)
    if not path.exists():
        if not create:
            raise InvalidInputError(f"MLflow folder {path} does not exist; check the path (e.g. ./mlruns)")
        path.mkdir(parents=True, exist_ok=True)
    elif not path.is_dir():
        raise InvalidInputError(f"{path} is a file, not an mlruns folder; for a database write sqlite:///{path}")
    return path.resolve().as_uri()


# ---------------------------------------------------------------------------------------------
# Registry history on the timeline


def model_version_events(history: RegistryHistory, window: TimeWindow | None = None) -> list[dict[str, Any]]:
    """The versions of ``history`` as timeline event dicts for ``core.store.timeline.add_events``.

    Each dict has ``timestamp`` (the effective time), ``kind="model_version"``, ``title``,
    ``source="mlflow"`` and ``details`` with ``model``, ``version``, ``run_id``, ``aliases``,
    ``basis`` (deployed/registered) and ``git_commit``; ``window`` keeps only versions inside it.
    Use :func:`missing_model_version_events` to skip versions already on the timeline.
    """
    out = []
    for v in history.versions:
        at = v.effective_at
        if at is None or (window is not None and not (window.start <= at < window.end)):
            continue
        verb = "deployed" if v.deployed_at else "registered"
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        out.append({
            "timestamp": at, "kind": EventKind.MODEL_VERSION.value, "source": "mlflow",
            "title": f"{v.model} v{v.version} {verb}{aliases}",
            "details": {"model": v.model, "version": v.version, "run_id": v.run_id,
                        "aliases": list(v.aliases), "basis": v.time_basis, "stage": v.stage,
                        "registered_at": iso(v.registered_at), "git_commit": v.git_commit,
                        "description": v.description},
        })
    return out


_VERSION_IN_TITLE = re.compile(r"(?:\bv|version\s*)(\d+)\b", re.IGNORECASE)


def event_model_version(event: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(model, version) named by a model_version event: from details/attributes, else its title."""
    for key in ("details", "attributes"):
        d = event.get(key) or {}
        if isinstance(d, Mapping) and d.get("version") is not None:
            try:
                return (d.get("model") or d.get("model_name")), int(d["version"])
            except (TypeError, ValueError):
                pass
    m = _VERSION_IN_TITLE.search(str(event.get("title", "")))
    return None, (int(m.group(1)) if m else None)


def missing_model_version_events(history: RegistryHistory, existing: Iterable[Any],
                                 window: TimeWindow | None = None) -> list[dict[str, Any]]:
    """:func:`model_version_events` minus versions an existing model_version event already names.

    ``existing`` holds timeline events (``TimelineEvent`` or dicts with kind/title/details); an event
    matches when it names the same version and either the same model or no model but the model's
    name appears in its title.
    """
    seen: set[int] = set()
    for ev in existing:
        e = ev if isinstance(ev, Mapping) else {"kind": str(ev.kind), "title": ev.title, "details": ev.details}
        if str(e.get("kind")) != EventKind.MODEL_VERSION.value:
            continue
        model, version = event_model_version(e)
        if version is None:
            continue
        if model == history.model or (model is None and history.model in str(e.get("title", ""))):
            seen.add(version)
    return [e for e in model_version_events(history, window) if e["details"]["version"] not in seen]
