"""Prometheus as a metric source: PromQL ``query_range`` over the HTTP API.

Configuration comes from the environment or from a secrets mapping (the
``[prometheus]`` table of ``.streamlit/secrets.toml``), never from code:

=========================  ==========================  =====================================
environment                secrets key                 meaning
=========================  ==========================  =====================================
``PROMETHEUS_URL``         ``url``                     base URL, e.g. http://prometheus:9090
``PROMETHEUS_TOKEN``       ``token``                   bearer token (optional)
``PROMETHEUS_USERNAME``    ``username``                basic-auth user (optional)
``PROMETHEUS_PASSWORD``    ``password``                basic-auth password (optional)
``PROMETHEUS_TIMEOUT``     ``timeout``                 seconds per request (default 10)
=========================  ==========================  =====================================

Errors: a server that cannot be reached, times out or refuses the credentials
raises :class:`SourceUnavailableError` naming the URL (never the credentials);
a query Prometheus rejects raises :class:`InvalidInputError` carrying
Prometheus's own message; a query with no data raises :class:`InvalidInputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

import pandas as pd
import requests

from core.config import (
    DEFAULT_PROMETHEUS_TIMEOUT_S, HIDDEN, SECRET, URL, HidesSecrets, PrometheusSettings, Section, Settings,
    display_url, prometheus_settings, settings,
)
from core.errors import InvalidInputError, SourceUnavailableError
from core.redact import redact, unparsable_url
from core.models import TimeWindow, iso
from core.sources.metrics import MetricSeries, clean_series

DEFAULT_TIMEOUT = DEFAULT_PROMETHEUS_TIMEOUT_S
DEFAULT_MAX_POINTS = 2000  # per series; Prometheus itself refuses more than 11,000
STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def step_for(window: TimeWindow, max_points: int = DEFAULT_MAX_POINTS) -> int:
    """The smallest 'nice' step (seconds) that keeps ``window`` within ``max_points`` samples."""
    seconds = window.duration.total_seconds()
    need = seconds / max(1, max_points)
    for s in STEPS:
        if s >= need:
            return s
    return int(math.ceil(need / 86400) * 86400)


def _safe_url(url: str) -> str:
    """The URL without user info or query, for messages; a URL that does not parse is redacted instead."""
    return display_url(url)


@dataclass(frozen=True, repr=False)
class PrometheusMetricSource(HidesSecrets):
    """Reads PromQL range queries from a Prometheus server.

    Args:
        url: base URL of the server (``http://host:9090``).
        token: bearer token, if the server sits behind an authenticating proxy.
        username: basic-auth user.
        password: basic-auth password.
        timeout: seconds for connecting and for reading each response.
        max_points: the step is chosen so that no series has more samples.
    """

    url: str = field(metadata=URL)
    token: str | None = field(default=None, metadata=SECRET)
    username: str | None = field(default=None, metadata=HIDDEN)
    password: str | None = field(default=None, metadata=SECRET)
    timeout: float = DEFAULT_TIMEOUT
    max_points: int = DEFAULT_MAX_POINTS

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url or "")
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:  # the parser's message quotes a piece of the URL: not shown
            raise InvalidInputError(
                f"the Prometheus URL ({unparsable_url(self.url)}) does not parse (a port that is not a number, "
                "or ambiguous punctuation); set PROMETHEUS_URL to http(s)://host:9090") from None
        if not self.url or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                f"'{_safe_url(self.url or '')}' is not a Prometheus URL; set PROMETHEUS_URL to http(s)://host:9090"
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))

    def _secrets(self) -> list[str]:
        """Every form of the configured credentials, for :func:`core.redact.redact`."""
        return self.secrets()

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> "PrometheusMetricSource":
        """The server of ``config``'s ``prometheus`` section (default: :func:`core.config.settings`).

        Raises:
            InvalidInputError: no URL is configured anywhere, or the timeout is not a number.
        """
        return cls._from((config or settings()).prometheus)

    @classmethod
    def from_env(cls, secrets: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> "PrometheusMetricSource":
        """Build from the ``PROMETHEUS_*`` variables of ``environ``, else the keys of ``secrets`` (a
        ``[prometheus]`` table); with neither given, from :func:`core.config.settings`.

        Raises:
            InvalidInputError: no URL is configured anywhere.
        """
        if secrets is None and environ is None:
            return cls.from_settings()
        return cls._from(prometheus_settings(Section("prometheus", "PROMETHEUS_", dict(secrets or {}),
                                                     dict(environ or {}))))

    @classmethod
    def _from(cls, conf: PrometheusSettings) -> "PrometheusMetricSource":
        if not conf.url:
            raise InvalidInputError(
                "no Prometheus server configured; set PROMETHEUS_URL (or url under [prometheus] "
                "in .streamlit/secrets.toml)"
            )
        return cls(url=conf.url, token=conf.token, username=conf.username, password=conf.password,
                   timeout=conf.timeout)

    @property
    def display_url(self) -> str:
        return _safe_url(self.url)

    def _auth(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        auth = (self.username, self.password or "") if self.username else None
        return headers, auth

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        headers, auth = self._auth()
        where = f"{self.display_url}{path}"
        try:
            resp = requests.get(f"{self.url}{path}", params=params, headers=headers, auth=auth,
                                timeout=(min(self.timeout, 5.0), self.timeout))
        except requests.Timeout:
            raise SourceUnavailableError(
                f"Prometheus at {self.display_url} did not answer within {self.timeout:g}s; "
                "check the server or narrow the time range"
            ) from None
        except requests.ConnectionError:
            raise SourceUnavailableError(
                f"cannot reach Prometheus at {self.display_url}; check PROMETHEUS_URL and that the server is up"
            ) from None
        except requests.RequestException as exc:
            raise SourceUnavailableError(f"request to {where} failed ({type(exc).__name__})") from None
        if resp.status_code in (401, 403):
            raise SourceUnavailableError(
                f"Prometheus at {self.display_url} refused the credentials (HTTP {resp.status_code}); "
                "set PROMETHEUS_TOKEN or PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD"
            )
        try:
            body = resp.json()
        except ValueError:
            raise SourceUnavailableError(
                f"{where} answered HTTP {resp.status_code} with a non-JSON body; is this a Prometheus server?"
            ) from None
        if not isinstance(body, dict):
            raise SourceUnavailableError(f"{where} answered an unexpected body; is this a Prometheus server?")
        if body.get("status") != "success":
            error = body.get("error") or f"HTTP {resp.status_code}"
            etype = body.get("errorType") or "error"
            error = redact(str(error)[:500], self._secrets())  # servers may echo the Authorization header
            etype = redact(str(etype)[:100], self._secrets())
            if resp.status_code in (400, 422) or etype in ("bad_data", "execution"):
                raise InvalidInputError(f"Prometheus rejected the query: {error} ({etype})")
            raise SourceUnavailableError(f"Prometheus at {self.display_url} failed: {error} ({etype})")
        return body

    def ready(self) -> bool:
        """True when ``/-/ready`` answers 200 within the timeout."""
        try:
            return requests.get(f"{self.url}/-/ready", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def query_range(self, query: str, window: TimeWindow, step: int | None = None) -> pd.DataFrame:
        """Raw ``query_range`` result as a long frame: timestamp, value and one column per label.

        Raises:
            InvalidInputError: empty query, or Prometheus rejected it (its message is included).
            SourceUnavailableError: the server is down, slow or refuses the credentials.
        """
        if not query or not query.strip():
            raise InvalidInputError("the PromQL query is empty; type a query such as rate(http_requests_total[5m])")
        step = step or step_for(window, self.max_points)
        body = self._get("/api/v1/query_range", {
            "query": query, "start": iso(window.start), "end": iso(window.end), "step": f"{step}s",
            "timeout": f"{int(self.timeout)}s",
        })
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            raise InvalidInputError(
                f"the query returned a {data.get('resultType')}, not a range vector; use an instant-vector expression"
            )
        rows: list[dict[str, Any]] = []
        for series in data.get("result") or []:
            labels = dict(series.get("metric") or {})
            for ts, value in series.get("values") or []:
                rows.append({"timestamp": float(ts), "value": float(value), **labels})
        if not rows:
            raise InvalidInputError(
                f"Prometheus returned no data for '{query}' between {iso(window.start)} and {iso(window.end)}; "
                "check the metric name, the label filters and the time range"
            )
        df = pd.DataFrame(rows)
        df["timestamp"] = pd.to_datetime(df["timestamp"], unit="s", utc=True)
        label_cols = [c for c in df.columns if c not in ("timestamp", "value")]
        df[label_cols] = df[label_cols].fillna("")
        return df

    def read(self, query: str, window: TimeWindow | None = None) -> MetricSeries:
        """The query as a :class:`MetricSeries` (labels kept as columns)."""
        if window is None:
            raise InvalidInputError("a Prometheus query needs a time window; pick a time range")
        df = self.query_range(query, window)
        return clean_series(df, name=query, source=self.display_url)
