"""The one place that decides which source class opens a spec.

``open_source(kind, spec, settings=None)`` returns a source for a signal kind (``logs``,
``metrics``, ``runs``, and the coming kinds of :mod:`core.sources.protocols`) from a spec:

==========================  =====================================================================
spec                        opens
==========================  =====================================================================
``bundle:PATH`` or a path   an incident bundle (directory or ``.zip``) or, for logs and metrics,
                            a log/series file or a directory of them
a ``Bundle`` already read   logs and metrics: that bundle's (not read or validated again)
``es``                      logs: the Elasticsearch cluster of the settings (``ES_*``)
``prometheus``              metrics: the Prometheus of the settings (``PROMETHEUS_*``)
``http(s)://…``             metrics: a Prometheus at that URL; runs: an MLflow tracking server
``sqlite:///…``, …          runs: any tracking URI MLflow reads (``file:``, ``postgresql://``, …)
``mlflow`` or None          runs: the configured tracking URI, else the embedded store
==========================  =====================================================================

A spec's *scheme* is the word before ``:`` (``bundle``, ``http``, ``sqlite``, …), the whole spec
when it is a bare word that names a system (``es``, ``prometheus``, ``mlflow``, or a scheme an
extension registered), ``""`` for None, else ``path``.
Openers are registered per (kind, scheme) with :func:`register_source`; the built-ins below
register through that same call, one line each, as an extension would. Settings (credentials,
limits) come from :mod:`core.config`. Caching of open sources belongs to the caller (``ui/``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from core.config import Settings, settings as current_settings
from core.errors import InvalidInputError

__all__ = ["Opener", "bundle_of", "open_source", "register_source", "registered", "scheme_of"]

#: ``opener(spec, settings)``: ``spec`` as given (``bundle:`` stripped), ``settings`` never None.
Opener = Callable[[Any, Settings], Any]

WORDS = ("es", "prometheus", "mlflow")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_OPENERS: dict[tuple[str, str], Opener] = {}


def register_source(kind: str, scheme: str, opener: Opener) -> None:
    """Make ``open_source(kind, spec)`` call ``opener(spec, settings)`` for specs of ``scheme``.

    Args:
        kind: a signal kind (``logs``, ``metrics``, ``runs``, ``traces``, …).
        scheme: ``path`` (a file or folder), ``""`` (no spec), a bare word (``es``) or a URL scheme
            (``http``, ``sqlite``; for ``postgresql+psycopg2://`` the part before ``+``); ``*`` takes
            every other URI scheme of that kind.
        opener: builds the source; raises :class:`~core.errors.WorkbenchError` subclasses.
    """
    _OPENERS[(kind, scheme.lower())] = opener


def registered(kind: str | None = None) -> dict[str, list[str]]:
    """The schemes registered per kind (for messages, docs and tests)."""
    out: dict[str, list[str]] = {}
    for k, s in _OPENERS:
        if kind is None or k == kind:
            out.setdefault(k, []).append(s)
    return out


def scheme_of(spec: Any) -> str:
    """The scheme that selects an opener for ``spec`` (see the module docstring)."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return ""
    if _is_bundle_object(spec):
        return "bundle"
    text = str(spec).strip()
    if text.lower() in WORDS or (text.isidentifier() and any(s == text.lower() for _k, s in _OPENERS)):
        return text.lower()  # a bare word: a configured system (es, prometheus, mlflow, sentry, …)
    m = _SCHEME.match(text)
    if m and not re.match(r"^[A-Za-z]:[\\/]", text):  # not a Windows drive letter
        return m.group(1).lower().split("+", 1)[0]
    return "path"


def _is_bundle_object(spec: Any) -> bool:
    """A :class:`core.bundle.Bundle` already read (callers that hold one pass it, not its path)."""
    return not isinstance(spec, (str, Path)) and hasattr(spec, "log_files") and hasattr(spec, "manifest")


def _strip_bundle(spec: Any) -> Any:
    if isinstance(spec, str) and spec.lower().startswith("bundle:"):
        return spec[len("bundle:"):]
    return spec


def open_source(kind: str, spec: Any = None, settings: Settings | None = None) -> Any:
    """The source of signal ``kind`` named by ``spec`` (see the module docstring).

    Raises:
        InvalidInputError: no opener for this kind and spec (the message names the spec and what
            would work), or the spec names a file that does not exist.
        SourceUnavailableError, NotFoundError: from the source itself.
    """
    scheme = scheme_of(spec)
    if scheme == "bundle":
        spec, scheme = _strip_bundle(spec), "path"
        if not _is_bundle_object(spec) and not str(spec).strip():
            raise InvalidInputError("'bundle:' names no bundle; write bundle:PATH (a directory or .zip)")
    opener = _OPENERS.get((kind, scheme))
    if opener is None and scheme not in ("", "path") and Path(str(spec)).exists():
        opener = _OPENERS.get((kind, "path"))  # a file whose name holds a colon
    if opener is None and scheme not in ("", "path"):
        opener = _OPENERS.get((kind, "*"))  # the kind's catch-all for other URI schemes
    if opener is None:
        kinds = registered()
        if kind not in kinds:
            raise InvalidInputError(f"'{kind}' is not a kind of source; use one of {', '.join(sorted(kinds))}")
        raise InvalidInputError(f"{kind} source '{_shown(spec)}' is not understood; give {_accepted(kind)}")
    return opener(spec, settings or current_settings())


def _shown(spec: Any) -> str:
    from core.redact import redact_url

    return redact_url("" if spec is None else str(spec))


_ACCEPTED = {
    "path": "a bundle (directory or .zip), a file or a directory", "": "nothing (the default)",
    "es": "'es' (Elasticsearch from ES_URL)", "prometheus": "'prometheus' (from PROMETHEUS_URL)",
    "mlflow": "'mlflow' (the configured tracking URI)", "http": "an http(s):// URL",
}


def _accepted(kind: str) -> str:
    schemes = registered(kind).get(kind, [])
    words = [_ACCEPTED.get(s, f"a {s}: URI") for s in schemes if s not in ("https", "*")]
    return ", ".join(dict.fromkeys(words))


def _path(spec: Any, kind: str, what: str) -> Path:
    path = Path(str(spec)).expanduser()
    if not path.exists():
        raise InvalidInputError(f"{kind} source '{spec}' not found; give {what}")
    return path


def _is_bundle(path: Path) -> bool:
    return (path.is_dir() and (path / "bundle.json").is_file()) or path.suffix.lower() == ".zip"


def bundle_of(spec: Any) -> Any | None:
    """The :class:`core.bundle.Bundle` that ``spec`` names (``bundle:PATH`` or a bundle path), else None."""
    if _is_bundle_object(spec):
        return spec
    if scheme_of(spec) not in ("bundle", "path"):
        return None
    path = Path(str(_strip_bundle(spec))).expanduser()
    if not path.exists() or not _is_bundle(path):
        return None
    from core.bundle import read_bundle

    return read_bundle(path)


# ------------------------------------------------------------------ built-in openers

def _local_logs(spec: Any, _settings: Settings) -> Any:
    from core.sources.local_logs import LocalLogSource

    if _is_bundle_object(spec):
        files = spec.log_files()
        if not files:
            raise InvalidInputError(f"bundle {spec.id} has no logs (logs/*.jsonl)")
        return LocalLogSource(files, name=f"bundle {spec.id}")
    path = _path(spec, "log", "a bundle, a log file, a directory, or 'es'")
    return LocalLogSource.from_path(path)


def _elasticsearch(_spec: Any, config: Settings) -> Any:
    from core.sources.elastic import ElasticsearchLogSource

    return ElasticsearchLogSource.from_settings(config)


def _series(spec: Any, _settings: Settings) -> Any:
    from core.sources.metrics import BundleMetricSource, FileMetricSource, SeriesFileSource

    if _is_bundle_object(spec):
        return BundleMetricSource(spec)
    path = _path(spec, "metric", "a bundle, a series file (.csv, .parquet), a directory of them, or 'prometheus'")
    if _is_bundle(path):
        from core.bundle import read_bundle

        return BundleMetricSource(read_bundle(path))
    return FileMetricSource(path) if path.is_dir() else SeriesFileSource(path)


def _prometheus(spec: Any, config: Settings) -> Any:
    from core.sources.prometheus import PrometheusMetricSource

    if scheme_of(spec) in ("http", "https"):
        conf = config.prometheus  # the configured credentials go with the configured server only
        same = conf.url and conf.url.rstrip("/") == str(spec).rstrip("/")
        return PrometheusMetricSource(str(spec), token=conf.token if same else None,
                                      username=conf.username if same else None,
                                      password=conf.password if same else None,
                                      timeout=conf.timeout)
    return PrometheusMetricSource.from_settings(config)


def _mlflow(spec: Any, config: Settings) -> Any:
    from core.sources.mlflow_runs import MlflowRunSource

    uri = None if scheme_of(spec) in ("", "mlflow") else str(spec).strip()
    return MlflowRunSource(uri or config.mlflow.tracking_uri or None,
                           registry_uri=config.mlflow.registry_uri if not uri else None, settings=config.mlflow)


# One line per built-in, through the same call an extension uses.
register_source("logs", "path", _local_logs)
register_source("logs", "es", _elasticsearch)
register_source("metrics", "path", _series)
register_source("metrics", "prometheus", _prometheus)
register_source("metrics", "http", _prometheus)
register_source("metrics", "https", _prometheus)
register_source("runs", "", _mlflow)
register_source("runs", "mlflow", _mlflow)
for _scheme in ("http", "https", "sqlite", "file", "path", "postgresql", "postgres", "mysql", "mssql"):
    register_source("runs", _scheme, _mlflow)
register_source("runs", "*", _mlflow)  # any other tracking URI MLflow may know (databricks, plugins)
register_source("quality", "path", lambda spec, config: __import__("core.sources.quality_gx", fromlist=["x"]).open_quality(spec, config))  # noqa: E501 - GX validation results
register_source("lineage", "path", lambda spec, config: __import__("core.sources.lineage_dbt", fromlist=["open_lineage"]).open_lineage(spec, config))
for _scheme in ("path", "sentry"):  # Sentry event exports (a bundle's errors/) and the Sentry REST API
    register_source("errors", _scheme, lambda spec, config: __import__("core.sources.errors_sentry", fromlist=["x"]).open_errors(spec, config))  # noqa: E501
register_source("traces", "path", lambda spec, config: __import__("core.sources.traces_otel", fromlist=["open_traces"]).open_traces(spec, config))  # OTLP JSON
register_source("traces", "jaeger", lambda spec, config: __import__("core.sources.traces_api", fromlist=["x"]).open_api_traces(spec, config))  # noqa: E501 - Jaeger query API
register_source("traces", "tempo", lambda spec, config: __import__("core.sources.traces_api", fromlist=["x"]).open_api_traces(spec, config))  # noqa: E501 - Tempo HTTP API
register_source("data_versions", "path", lambda spec, config: __import__("core.sources.datasets_delta", fromlist=["x"]).open_versions(spec, config))  # noqa: E501 - Delta tables, dt= partitions
for _kind, _scheme in (("runs", "wandb"), ("wandb", "path"), ("wandb", "wandb"), ("wandb", "")):  # W&B run folders and API
    register_source(_kind, _scheme, lambda spec, config: __import__("core.sources.runs_wandb", fromlist=["x"]).open_wandb(spec, config))  # noqa: E501
register_source("features", "path", lambda spec, config: __import__("core.sources.features_feast", fromlist=["x"]).open_features(spec, config))  # noqa: E501 - Feast repo or snapshot
