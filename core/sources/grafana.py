"""Grafana: Explore links for the same query and time range, incident annotations, and alert history import.

Settings (``section("grafana")``: ``GRAFANA_*`` in the environment, else ``[grafana]`` in
``.streamlit/secrets.toml``): ``url`` (the Grafana root, e.g. ``https://grafana.example.com``),
``token`` (a service-account token, sent as ``Authorization: Bearer``), ``org_id`` (default 1),
``prometheus_datasource`` and ``elasticsearch_datasource`` (the data source's UID or name as Grafana
shows it), ``explore_format`` (``panes``, the default, or ``left``) and ``timeout`` (seconds, default 10).

* :func:`explore_url` builds a Grafana Explore URL that opens the query (PromQL for a Prometheus data
  source, Lucene for an Elasticsearch one) on the same **absolute** range (epoch milliseconds). The
  default format is the ``panes`` URL state of Grafana 10.0 and later
  (``/explore?schemaVersion=1&panes={"wb":{"datasource":…,"queries":[…],"range":{"from":…,"to":…}}}&orgId=N``);
  ``explore_format = "left"`` gives the ``left={"datasource":…,"queries":[…],"range":{…}}`` state of
  Grafana 8.x and 9.x (Grafana 10+ still redirects it).
* :class:`GrafanaClient` pushes an incident's milestones and pinned timeline events as annotations
  (``POST /api/annotations`` with ``time``/``timeEnd`` in epoch ms, ``text`` and ``tags``
  ``["incident:<id>", "<kind>"]``; the HTTP API of Grafana 8 to 11), skipping those already there
  (``GET /api/annotations?tags=incident:<id>``), and reads annotations back.
* :func:`read_annotations` turns annotation JSON (the ``GET /api/annotations`` answer, legacy alert
  annotations with ``newState``) or unified-alerting state history (``GET /api/v1/rules/history``, a
  data frame of ``time``/``line``/``labels``) into timeline events.

Errors: an unreachable Grafana, a timeout, 401 and 403 are
:class:`~core.errors.SourceUnavailableError` (exit 4) naming the URL, never the token; a file that is
neither format is an :class:`~core.errors.InvalidInputError` naming the file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from core.errors import InvalidInputError, SourceUnavailableError
from core.models import TimeWindow, utc

__all__ = ["GrafanaClient", "annotations_for", "configured", "explore_url", "read_annotations"]

DEFAULT_TIMEOUT_S = 10.0
KINDS = {"prometheus": "prometheus", "elasticsearch": "elasticsearch", "es": "elasticsearch"}
ALERTING = ("alerting", "firing", "error", "nodata", "no_data")


def _ms(at: datetime) -> int:
    return int(utc(at).timestamp() * 1000)


def _from_ms(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value) / 1000, tz=timezone.utc)
    return utc(value)


def configured(config: Any, datasource: str | None = None) -> bool:
    """True when a Grafana URL (and, when ``datasource`` is given, that kind's data source) is configured."""
    sec = config.section("grafana")
    if not sec.text("url"):
        return False
    return datasource is None or bool(sec.text(f"{KINDS.get(datasource, datasource)}_datasource"))


def _query(kind: str, ds: dict[str, str], query: str, config_sec: Any) -> dict[str, Any]:
    if kind == "prometheus":
        return {"refId": "A", "datasource": ds, "expr": query, "range": True, "instant": False, "editorMode": "code"}
    return {"refId": "A", "datasource": ds, "query": query, "queryType": "logs",
            "metrics": [{"id": "1", "type": "logs"}], "bucketAggs": [],
            "timeField": config_sec.text("elasticsearch_time_field") or "@timestamp"}


def explore_url(config: Any, datasource: str, query: str, window: TimeWindow) -> str:
    """The Grafana Explore URL of ``query`` on data source kind ``datasource`` over ``window`` (absolute).

    Args:
        config: :class:`core.config.Settings`.
        datasource: ``prometheus`` or ``elasticsearch`` (``es``): which configured data source.
        query: PromQL or Lucene, as the workbench ran it.
        window: the absolute UTC range shown.

    Raises:
        InvalidInputError: Grafana or that data source is not configured, or an unknown kind.
    """
    kind = KINDS.get(str(datasource).lower())
    if kind is None:
        raise InvalidInputError(f"'{datasource}' is not a Grafana data source kind; use prometheus or elasticsearch")
    sec = config.section("grafana")
    base = (sec.text("url") or "").rstrip("/")
    name = sec.text(f"{kind}_datasource")
    if not base or not name:
        raise InvalidInputError(f"Grafana links need GRAFANA_URL and GRAFANA_{kind.upper()}_DATASOURCE "
                                "(or url and the data source under [grafana] in .streamlit/secrets.toml)")
    ds = {"type": kind, "uid": name}
    rng = {"from": str(_ms(window.start)), "to": str(_ms(window.end))}
    org = str(sec.text("org_id") or "1")
    fmt = (sec.text("explore_format") or "panes").lower()
    if fmt == "left":  # Grafana 8.x-9.x
        state = {"datasource": name, "queries": [_query(kind, ds, query, sec)], "range": rng}
        params = {"orgId": org, "left": json.dumps(state, separators=(",", ":"))}
    elif fmt == "panes":  # Grafana 10.0 and later
        panes = {"wb": {"datasource": name, "queries": [_query(kind, ds, query, sec)], "range": rng}}
        params = {"schemaVersion": "1", "panes": json.dumps(panes, separators=(",", ":")), "orgId": org}
    else:
        raise InvalidInputError(f"GRAFANA_EXPLORE_FORMAT must be panes (Grafana 10+) or left (8.x-9.x), not '{fmt}'")
    return f"{base}/explore?{urlencode(params, quote_via=quote)}"


# ------------------------------------------------------------------ annotations

def annotations_for(incident: Any, events: Iterable[Any]) -> list[dict[str, Any]]:
    """The annotations to push for ``incident``: its milestones and its pinned timeline events."""
    tag = f"incident:{incident.id}"
    out = []
    for name, at in sorted((incident.milestones or {}).items(), key=lambda kv: (kv[1] is None, kv[1] or 0)):
        if at is not None:
            out.append({"time": _ms(at), "tags": [tag, "milestone", str(name)],
                        "text": f"{incident.id}: {str(name).replace('_', ' ')}"})
    for ev in events:
        if not getattr(ev, "pinned", False) and str(getattr(ev, "kind", "")) != "milestone":
            continue
        item = {"time": _ms(ev.timestamp), "tags": [tag, str(ev.kind)], "text": f"{incident.id}: {ev.title}"}
        if ev.end is not None:
            item["timeEnd"] = _ms(ev.end)
        out.append(item)
    return out


class GrafanaClient:
    """The Grafana HTTP API (annotations) with a service-account token, timeouts and clear errors."""

    def __init__(self, url: str, token: str | None = None, *, org_id: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S):
        if not url:
            raise InvalidInputError("Grafana is not configured: set GRAFANA_URL (or url under [grafana])")
        from core.config import display_url

        self.url = url.rstrip("/")
        self._token = token
        self.org_id = org_id
        self.timeout = timeout
        self.display_url = display_url(self.url)

    @classmethod
    def from_settings(cls, config: Any) -> "GrafanaClient":
        sec = config.section("grafana")
        return cls(sec.text("url") or "", sec.text("token") or sec.text("api_key"), org_id=sec.text("org_id"),
                   timeout=sec.number("timeout", DEFAULT_TIMEOUT_S))

    def __repr__(self) -> str:
        return f"GrafanaClient({self.display_url!r}, token=***)"

    def _call(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        from core.sources.http_json import request_json

        headers = {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self.org_id:
            headers["X-Grafana-Org-Id"] = str(self.org_id)
        got, _ = request_json(
            method, f"{self.url}{path}", params=params, body=body, headers=headers,
            where=f"Grafana at {self.display_url}", url_setting="GRAFANA_URL", timeout=self.timeout,
            what=f"{method} {path}", not_json_hint="is GRAFANA_URL a Grafana?",
            status_messages={
                401: "refused the token (HTTP 401); set a valid GRAFANA_TOKEN",
                403: f"denied {method} {path} (HTTP 403); the service account needs "
                     "the annotations:read and annotations:write permissions (Editor)",
            })
        return got

    def annotations(self, *, tags: Iterable[str] = (), window: TimeWindow | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        tags = list(tags)
        if tags:
            params["tags"] = tags
            params["matchAny"] = "false"
        if window is not None:
            params["from"], params["to"] = _ms(window.start), _ms(window.end)
        got = self._call("GET", "/api/annotations", params=params)
        if not isinstance(got, list):
            raise SourceUnavailableError(f"Grafana at {self.display_url} answered an unexpected annotation list")
        return got

    def push(self, incident: Any, events: Iterable[Any]) -> dict[str, Any]:
        """Push the incident's milestones and pinned events; those already annotated are skipped.

        Returns ``{"added": [ids], "skipped": n}``.
        """
        wanted = annotations_for(incident, events)
        have = {(a.get("time"), a.get("text")) for a in self.annotations(tags=[f"incident:{incident.id}"])}
        added, skipped = [], 0
        for item in wanted:
            if (item["time"], item["text"]) in have:
                skipped += 1
                continue
            got = self._call("POST", "/api/annotations", body=item)
            added.append(got.get("id") if isinstance(got, dict) else None)
        return {"added": added, "skipped": skipped}


# ------------------------------------------------------------------ import as timeline events

def _annotation_event(a: dict[str, Any]) -> dict[str, Any] | None:
    at = _from_ms(a.get("time"))
    if at is None:
        return None
    end = _from_ms(a.get("timeEnd"))
    state = a.get("newState")
    if state:  # a legacy alert annotation
        name = a.get("alertName") or a.get("text") or "alert"
        return {"timestamp": at, "end": None, "kind": "alert", "source": "grafana",
                "title": f"Grafana alert {name}: {a.get('prevState') or '?'} → {state}",
                "attributes": {"alert": name, "state": state, "previous": a.get("prevState"),
                               "dashboard": a.get("dashboardUID"), "panel": a.get("panelId")}}
    return {"timestamp": at, "end": end if end and end != at else None, "kind": "annotation", "source": "grafana",
            "title": str(a.get("text") or "Grafana annotation")[:300],
            "attributes": {"tags": list(a.get("tags") or []), "dashboard": a.get("dashboardUID"),
                           "panel": a.get("panelId"), "id": a.get("id")}}


def _history_events(frame: dict[str, Any], file: str) -> list[dict[str, Any]]:
    fields = [f.get("name") for f in (frame.get("schema") or {}).get("fields") or []]
    values = (frame.get("data") or {}).get("values") or []
    if "time" not in fields or "line" not in fields or len(values) != len(fields):
        raise InvalidInputError(f"{file}: an alert state history frame without time and line columns")
    cols = dict(zip(fields, values))
    out = []
    for i, (t, line) in enumerate(zip(cols["time"], cols["line"])):
        if isinstance(line, str):
            try:
                line = json.loads(line)
            except ValueError:
                raise InvalidInputError(f"{file}: history entry {i + 1} is not JSON") from None
        labels = (cols.get("labels") or [{}] * len(cols["time"]))[i] or {}
        title = line.get("ruleTitle") or labels.get("alertname") or "alert"
        out.append({"timestamp": _from_ms(t), "end": None, "kind": "alert", "source": "grafana",
                    "title": f"Grafana alert {title}: {line.get('previous', '?')} → {line.get('current', '?')}",
                    "attributes": {"alert": title, "state": line.get("current"), "previous": line.get("previous"),
                                   "rule": line.get("ruleUID"), "labels": labels,
                                   "values": line.get("values")}})
    return out


def read_annotations(source: Any, *, label: str | None = None) -> list[dict[str, Any]]:
    """Timeline events from annotation JSON or alert state history (a path, JSON text or parsed JSON)."""
    file = label or "annotations"
    obj = source
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith(("[", "{"))):
        path = Path(source)
        file = label or path.name
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"{file}: no such file") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{file}: not JSON ({exc})") from None
    elif isinstance(source, str):
        try:
            obj = json.loads(source)
        except ValueError as exc:
            raise InvalidInputError(f"{file}: not JSON ({exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("data"), dict) and "schema" in obj:
        events = _history_events(obj, file)
    elif isinstance(obj, dict) and isinstance(obj.get("results"), dict):  # a query response: {results: {A: {frames}}}
        events = [e for r in obj["results"].values() for fr in (r or {}).get("frames") or []
                  for e in _history_events(fr, file)]
    elif isinstance(obj, list) and all(isinstance(a, dict) and "time" in a for a in obj):
        events = [e for e in (_annotation_event(a) for a in obj) if e is not None]
    else:
        raise InvalidInputError(f"{file}: neither Grafana annotations (a list with time, text, tags) nor alert "
                                "state history (a data frame with time, line, labels)")
    return sorted(events, key=lambda e: e["timestamp"])
