"""Every setting of the workbench, read in one place: the environment first, then ``.streamlit/secrets.toml``.

:func:`load_settings` reads the environment and the secrets file once and returns a frozen
:class:`Settings`; :func:`settings` is the same, cached until the environment or the file
changes (:func:`reset_settings` empties the cache). Core never imports streamlit: the secrets
file is read as plain TOML (``~/.streamlit/secrets.toml``, then the project's
``.streamlit/secrets.toml``, whose tables win, as Streamlit merges them).

Sections (the typed ones are built on first use, so a bad value of one system never breaks
another; their errors name the variable and the fix):

* ``store``: ``DATABASE_URL``, ``WORKBENCH_HOME`` (environment only);
* ``elasticsearch``: ``ES_*`` or the ``[elasticsearch]`` table (see :mod:`core.sources.elastic`);
* ``prometheus``: ``PROMETHEUS_*`` or ``[prometheus]`` (see :mod:`core.sources.prometheus`);
* ``mlflow``: ``MLFLOW_TRACKING_URI``/``_TOKEN``/``_USERNAME``/``_PASSWORD``, ``MLFLOW_REGISTRY_URI``,
  ``MLFLOW_HTTP_REQUEST_TIMEOUT``/``_MAX_RETRIES`` or ``[mlflow]`` (see :mod:`core.sources.mlflow_runs`);
* ``limits``: the ``WORKBENCH_*`` size and query limits, ``WORKBENCH_DATA_DIRS``, ``BROWSER_PATH``
  (environment only: they are the server operator's, not an analyst's);
* :meth:`Settings.section`: any other system by name (``section("sentry")`` reads ``SENTRY_*``
  and ``[sentry]``), so a new connector needs no reader of its own.

``repr`` of every settings object hides credentials (one mechanism, :class:`HidesSecrets`):
a secret shows as ``***`` and a URL without its password.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from core.errors import InvalidInputError
from core.redact import REDACTED, auth_secrets, redact_url, unparsable_url, url_secrets

__all__ = [
    "ElasticSettings", "HidesSecrets", "LimitSettings", "MlflowSettings", "PrometheusSettings", "Section",
    "Settings", "StoreSettings", "load_settings", "reset_settings", "secrets_paths", "settings",
]

SECRETS_FILE = Path(".streamlit") / "secrets.toml"
#: Key names whose values are credentials in any section (compared lower-case, as substrings).
SECRET_WORDS = ("password", "token", "api_key", "apikey", "secret", "dsn", "private_key", "credentials")

DEFAULT_ES_INDEX = "logs-*"
DEFAULT_ES_TIME_FIELD = "@timestamp"
DEFAULT_ES_TIMEOUT_S = 10.0
DEFAULT_PROMETHEUS_TIMEOUT_S = 10.0
DEFAULT_MLFLOW_TIMEOUT_S = 10
DEFAULT_MLFLOW_MAX_RETRIES = 0
DEFAULT_LOG_MEMORY_MB = 1024
MIN_LOG_MEMORY_MB = 256
DEFAULT_LOG_MAX_BYTES = 1_500_000_000
DEFAULT_MAX_UPLOAD_MB = 500
DEFAULT_BUNDLE_MAX_MB = 2048
DEFAULT_ZIP_MAX_RATIO = 100
DEFAULT_QUERY_MAX_CHARS = 10_000
DEFAULT_QUERY_MAX_TERMS = 1_000
DEFAULT_QUERY_MAX_DEPTH = 30
QUERY_LIMIT_VARS = {"max_chars": "WORKBENCH_QUERY_MAX_CHARS", "max_terms": "WORKBENCH_QUERY_MAX_TERMS",
                    "max_depth": "WORKBENCH_QUERY_MAX_DEPTH"}
DATA_DIRS_VAR = "WORKBENCH_DATA_DIRS"

SECRET = {"secret": True}
#: Not a credential, but not shown either (a user name).
HIDDEN = {"hidden": True}
URL = {"url": True}


def _is_secret_key(key: str) -> bool:
    low = key.lower()
    return any(w in low for w in SECRET_WORDS)


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment, for messages and ``repr``; a URL that does not
    parse (a bad port) is named by its scheme only."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return unparsable_url(url)
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _shown(value: Any, *, secret: bool = False, url: bool = False) -> str:
    """How a setting appears in a ``repr``: a secret as ``***`` (None stays None), a URL without user info."""
    if value is None or value == "":
        return repr(value)
    if secret:
        return REDACTED
    if url:
        return repr(display_url(str(value)) if "://" in str(value) else redact_url(value))
    return repr(value)


class HidesSecrets:
    """Mixin of the settings dataclasses: ``repr`` shows secret fields as ``***`` and URL fields redacted.

    A field is secret when its metadata says ``secret`` (``field(metadata=SECRET)``) and a URL when it
    says ``url``; :meth:`secrets` lists every form of the credentials, for :func:`core.redact.redact`.
    """

    def __repr__(self) -> str:
        parts = [f"{f.name}={_shown(getattr(self, f.name), secret=bool(f.metadata.get('secret') or f.metadata.get('hidden')), url=bool(f.metadata.get('url')))}"
                 for f in fields(self) if f.repr]  # type: ignore[arg-type]
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """Every configured credential in every form a server could echo (raw, URL-encoded, Basic base64)."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        out = auth_secrets(token=found.get("token"), username=found.get("username"),
                           password=found.get("password"), api_key=found.get("api_key"))
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value and f.metadata.get("url"):
                out += url_secrets(str(value))
            elif value and f.metadata.get("secret") and f.name not in ("token", "password", "api_key"):
                out.append(str(value))
        return list(dict.fromkeys(out))


# ------------------------------------------------------------------ the generic section

@dataclass(frozen=True, repr=False)
class Section:
    """One system's settings: ``<PREFIX>_<KEY>`` in the environment, else ``key`` in its secrets table.

    ``section("sentry").get("dsn")`` reads ``SENTRY_DSN``, else ``dsn`` under ``[sentry]``. ``repr``
    hides every value whose key names a credential (``token``, ``password``, ``api_key``, ``dsn`` …).
    """

    name: str
    env_prefix: str
    table: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)

    def env_name(self, key: str) -> str:
        return f"{self.env_prefix}{key.upper()}"

    def get(self, key: str, default: Any = None, *, env: str | None = None) -> Any:
        """The environment variable (``env``, default ``<PREFIX><KEY>``), else the table's ``key``, else ``default``.

        Empty values count as unset.
        """
        value = self.environ.get(env or self.env_name(key))
        if value not in (None, ""):
            return value
        value = self.table.get(key)
        return default if value in (None, "") else value

    def text(self, key: str, *, env: str | None = None) -> str | None:
        value = self.get(key, env=env)
        return None if value is None else str(value)

    def number(self, key: str, default: float, *, env: str | None = None, message: str | None = None) -> float:
        """A number of ``key``; a value that is not one raises :class:`InvalidInputError` with ``message``."""
        raw = self.get(key, env=env)
        if raw is None:
            return default
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                (message or "{var} must be a number, not '{raw}'").format(var=env or self.env_name(key), raw=raw)
            ) from None

    @property
    def configured(self) -> bool:
        """True when any key of this section is set (in the table or the environment)."""
        return bool(self.table) or any(k.startswith(self.env_prefix) and v for k, v in self.environ.items())

    def items(self) -> dict[str, Any]:
        """The effective values: the table's keys overridden by the matching environment variables."""
        out = dict(self.table)
        for k, v in self.environ.items():
            if k.startswith(self.env_prefix) and v:
                out[k[len(self.env_prefix):].lower()] = v
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={_shown(v, secret=_is_secret_key(k) or k in ('user', 'username'), url=k.endswith(('url', 'uri')))}"
                          for k, v in sorted(self.items().items()))
        return f"Section({self.name!r}, {shown})"

    __str__ = __repr__


# ------------------------------------------------------------------ typed sections

@dataclass(frozen=True, repr=False)
class StoreSettings(HidesSecrets):
    """Where the workbench keeps its data: ``DATABASE_URL`` (None: SQLite in the home) and ``WORKBENCH_HOME``."""

    database_url: str | None = field(default=None, metadata=URL)
    home: Path | None = None

    @property
    def team_mode(self) -> bool:
        """True when the store is PostgreSQL, i.e. the app is shared by a team."""
        url = (self.database_url or "").strip().lower()
        return url.startswith(("postgres://", "postgresql://", "postgresql+"))


@dataclass(frozen=True, repr=False)
class ElasticSettings(HidesSecrets):
    """``ES_*`` / ``[elasticsearch]``: the cluster the Logs page and ``logs … es`` query."""

    url: str = field(default="", metadata=URL)
    index: str = DEFAULT_ES_INDEX
    time_field: str = DEFAULT_ES_TIME_FIELD
    api_key: str | None = field(default=None, metadata=SECRET)
    username: str | None = field(default=None, metadata=HIDDEN)
    password: str | None = field(default=None, metadata=SECRET)
    ca_certs: str | None = None
    timeout_s: float = DEFAULT_ES_TIMEOUT_S

    @property
    def configured(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True, repr=False)
class PrometheusSettings(HidesSecrets):
    """``PROMETHEUS_*`` / ``[prometheus]``: the server of the Metrics page's PromQL box."""

    url: str | None = field(default=None, metadata=URL)
    token: str | None = field(default=None, metadata=SECRET)
    username: str | None = field(default=None, metadata=HIDDEN)
    password: str | None = field(default=None, metadata=SECRET)
    timeout: float = DEFAULT_PROMETHEUS_TIMEOUT_S

    @property
    def configured(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True, repr=False)
class MlflowSettings(HidesSecrets):
    """``MLFLOW_*`` / ``[mlflow]``: tracking and registry URIs, credentials, request bounds."""

    tracking_uri: str | None = field(default=None, metadata=URL)
    registry_uri: str | None = field(default=None, metadata=URL)
    token: str | None = field(default=None, metadata=SECRET)
    username: str | None = field(default=None, metadata=HIDDEN)
    password: str | None = field(default=None, metadata=SECRET)
    timeout: int | None = None  # None: not configured (the source's own short default applies)
    max_retries: int | None = None


@dataclass(frozen=True, repr=False)
class LimitSettings(HidesSecrets):
    """The operator's limits. Each value is checked when it is read, so one bad variable only stops its feature."""

    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def _raw(self, var: str) -> str:
        return (self.environ.get(var) or "").strip()

    @property
    def log_memory_mb(self) -> int:
        """DuckDB's memory per local log source: ``WORKBENCH_LOG_MEMORY_MB`` (default 1024, at least 256)."""
        raw = self._raw("WORKBENCH_LOG_MEMORY_MB")
        if not raw:
            return DEFAULT_LOG_MEMORY_MB
        return check_log_memory_mb(raw)

    @property
    def log_max_bytes(self) -> int:
        """The largest total of log files a local source loads: ``WORKBENCH_LOG_MAX_BYTES`` (default 1.5 GB)."""
        raw = self._raw("WORKBENCH_LOG_MAX_BYTES")
        if not raw:
            return DEFAULT_LOG_MAX_BYTES
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise InvalidInputError(f"WORKBENCH_LOG_MAX_BYTES={raw!r} is not a positive whole number of bytes; "
                                    f"set it like WORKBENCH_LOG_MAX_BYTES={DEFAULT_LOG_MAX_BYTES} or unset it")
        return value

    @property
    def max_upload_bytes(self) -> int:
        """The size limit of one dataset file: ``WORKBENCH_MAX_UPLOAD_MB`` megabytes (default 500)."""
        raw = self.environ.get("WORKBENCH_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
        try:
            mb = float(raw)
        except ValueError:
            raise InvalidInputError(
                f"WORKBENCH_MAX_UPLOAD_MB is '{raw}', not a number; set it to a size in megabytes such as 500"
            ) from None
        return int(mb * 1_000_000)

    def positive(self, var: str, default: float) -> float:
        """A positive number from ``var`` (unset: ``default``)."""
        raw = self._raw(var)
        if not raw:
            return float(default)
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == math.inf:
            raise InvalidInputError(f"{var}={raw!r} is not a positive number; set it like {var}={default} or unset it")
        return value

    @property
    def bundle_max_mb(self) -> float:
        """``WORKBENCH_BUNDLE_MAX_MB``: the largest uncompressed bundle (default 2048)."""
        return self.positive("WORKBENCH_BUNDLE_MAX_MB", DEFAULT_BUNDLE_MAX_MB)

    @property
    def zip_max_ratio(self) -> float:
        """``WORKBENCH_ZIP_MAX_RATIO``: the largest compression ratio of a bundle zip (default 100)."""
        return self.positive("WORKBENCH_ZIP_MAX_RATIO", DEFAULT_ZIP_MAX_RATIO)

    @property
    def query_limits(self) -> dict[str, int]:
        """The ``WORKBENCH_QUERY_MAX_*`` values that are set, by attribute (``max_chars``, ``max_terms``, ``max_depth``)."""
        defaults = {"max_chars": DEFAULT_QUERY_MAX_CHARS, "max_terms": DEFAULT_QUERY_MAX_TERMS,
                    "max_depth": DEFAULT_QUERY_MAX_DEPTH}
        values: dict[str, int] = {}
        for attr, var in QUERY_LIMIT_VARS.items():
            raw = self._raw(var)
            if not raw:
                continue
            try:
                values[attr] = int(raw.replace("_", ""))
            except ValueError:
                values[attr] = 0
            if values[attr] < 1:
                raise InvalidInputError(f"{var}={raw!r} is not a positive whole number; set it to e.g. "
                                        f"{defaults[attr]} or unset it")
        return values

    @property
    def data_dirs(self) -> tuple[str, ...]:
        """``WORKBENCH_DATA_DIRS``: the folders app users may read by path (``os.pathsep``-separated), as given."""
        return tuple(p for p in self.environ.get(DATA_DIRS_VAR, "").split(os.pathsep) if p.strip())

    @property
    def browser_path(self) -> str | None:
        """``BROWSER_PATH``: the Chrome-family browser that renders images, when set."""
        return self.environ.get("BROWSER_PATH") or None


def check_log_memory_mb(raw: Any) -> int:
    """``raw`` as DuckDB's memory limit in MB (a whole number, at least 256)."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < MIN_LOG_MEMORY_MB:
        raise InvalidInputError(f"WORKBENCH_LOG_MEMORY_MB={str(raw).strip()!r} must be a whole number of MB, at least "
                                f"{MIN_LOG_MEMORY_MB} (default {DEFAULT_LOG_MEMORY_MB})")
    return value


# ------------------------------------------------------------------ the settings

@dataclass(frozen=True, repr=False)
class Settings:
    """Everything configurable, read once: ``environ`` (a copy) and the secrets tables.

    Typed sections are properties built on first use; a section with a bad value raises
    :class:`InvalidInputError` naming the variable, and only where that section is used.
    """

    environ: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    secrets_path: Path = SECRETS_FILE
    secrets_error: str | None = None

    def __repr__(self) -> str:
        return (f"Settings(secrets_path={str(self.secrets_path)!r}, tables={sorted(self.secrets)!r}, "
                f"store={self.store!r})")

    __str__ = __repr__

    def table(self, name: str) -> Mapping[str, Any]:
        """The ``[name]`` table of the secrets file ({} when absent).

        Raises:
            InvalidInputError: the secrets file is not valid TOML.
        """
        if self.secrets_error:
            raise InvalidInputError(self.secrets_error)
        value = self.secrets.get(name, {})
        return value if isinstance(value, Mapping) else {}

    def section(self, name: str, env_prefix: str | None = None) -> Section:
        """Settings of the system ``name``: ``<NAME>_*`` variables (or ``env_prefix``), then ``[name]``."""
        prefix = env_prefix if env_prefix is not None else name.upper().replace("-", "_") + "_"
        return Section(name=name, env_prefix=prefix, table=dict(self.table(name)), environ=self.environ)

    @cached_property
    def store(self) -> StoreSettings:
        home = self.environ.get("WORKBENCH_HOME") or None
        return StoreSettings(database_url=self.environ.get("DATABASE_URL") or None,
                             home=Path(home) if home else None)

    @cached_property
    def limits(self) -> LimitSettings:
        return LimitSettings(environ=self.environ)

    @cached_property
    def elasticsearch(self) -> ElasticSettings:
        """Raises InvalidInputError for a timeout that is not a number (an unset URL is :attr:`configured` False)."""
        s = self.section("elasticsearch", "ES_")
        timeout_s = s.number("timeout", DEFAULT_ES_TIMEOUT_S,
                             message="ES_TIMEOUT must be a number of seconds, not '{raw}'")
        return ElasticSettings(
            url=s.text("url") or "", index=s.text("index") or DEFAULT_ES_INDEX,
            time_field=s.text("time_field") or DEFAULT_ES_TIME_FIELD, api_key=s.text("api_key"),
            username=s.text("username"), password=s.text("password"), ca_certs=s.text("ca_certs", env="ES_CA_CERT"),
            timeout_s=timeout_s)

    @cached_property
    def prometheus(self) -> PrometheusSettings:
        return prometheus_settings(self.section("prometheus"))

    @cached_property
    def mlflow(self) -> MlflowSettings:
        s = self.section("mlflow", "MLFLOW_")
        timeout = s.number("timeout", math.nan, env="MLFLOW_HTTP_REQUEST_TIMEOUT",
                           message="{var} must be a whole number of seconds, not '{raw}'")
        retries = s.number("max_retries", math.nan, env="MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                           message="{var} must be a whole number of retries, not '{raw}'")
        return MlflowSettings(
            tracking_uri=s.text("tracking_uri"), registry_uri=s.text("registry_uri"),
            token=s.text("token", env="MLFLOW_TRACKING_TOKEN"),
            username=s.text("username", env="MLFLOW_TRACKING_USERNAME"),
            password=s.text("password", env="MLFLOW_TRACKING_PASSWORD"),
            timeout=None if math.isnan(timeout) else max(1, int(timeout)),
            max_retries=None if math.isnan(retries) else max(0, int(retries)))


def prometheus_settings(section: Section) -> PrometheusSettings:
    """The typed Prometheus settings of a ``PROMETHEUS_*``/``[prometheus]`` section."""
    timeout = section.get("timeout")
    try:
        timeout_s = float(timeout) if timeout else DEFAULT_PROMETHEUS_TIMEOUT_S
    except (TypeError, ValueError):
        raise InvalidInputError(f"PROMETHEUS_TIMEOUT '{timeout}' is not a number of seconds") from None
    return PrometheusSettings(url=section.text("url"), token=section.text("token"),
                              username=section.text("username"), password=section.text("password"),
                              timeout=timeout_s)


# ------------------------------------------------------------------ reading

def secrets_paths(secrets_path: Path | str | None = None) -> tuple[Path, ...]:
    """The secrets files read, lowest precedence first: ``secrets_path`` alone when given, else
    ``~/.streamlit/secrets.toml`` and ``./.streamlit/secrets.toml`` (as Streamlit reads them)."""
    if secrets_path is not None:
        return (Path(secrets_path),)
    return (Path.home() / SECRETS_FILE, SECRETS_FILE)


def _read_secrets(paths: tuple[Path, ...]) -> tuple[dict[str, Any], str | None]:
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            if not path.is_file():
                continue
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            return {}, f"{path} is not valid TOML ({exc}); fix the file"
        except (OSError, UnicodeDecodeError) as exc:
            return {}, f"{path} cannot be read ({type(exc).__name__}); fix its permissions or encoding"
        merged.update(data)
    return merged, None


def load_settings(environ: Mapping[str, str] | None = None,
                  secrets_path: Path | str | None = None) -> Settings:
    """Read the environment (default: the process's) and the secrets file(s) once.

    A secrets file that is not valid TOML does not raise here: every section that reads a secrets
    table raises :class:`InvalidInputError` naming the file instead.
    """
    env = dict(os.environ if environ is None else environ)
    paths = secrets_paths(secrets_path)
    secrets, error = _read_secrets(paths)
    return Settings(environ=env, secrets=secrets, secrets_path=paths[-1], secrets_error=error)


def _stamp(paths: tuple[Path, ...]) -> tuple[Any, ...]:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p.resolve()), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


@lru_cache(maxsize=4)
def _cached(env_items: tuple[tuple[str, str], ...], stamp: tuple[Any, ...]) -> Settings:
    return load_settings(dict(env_items))


def settings() -> Settings:
    """The process's settings, cached until the environment or a secrets file changes."""
    return _cached(tuple(sorted(os.environ.items())), _stamp(secrets_paths()))


def reset_settings() -> None:
    """Forget the cached settings (tests; a long-running process after changing the secrets file)."""
    _cached.cache_clear()
