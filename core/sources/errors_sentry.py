"""Application errors from Sentry: the REST API and Sentry event JSON exports (:class:`ErrorSource`).

Two sources, one shape (:class:`ErrorData`: issues, events, releases as DataFrames):

* :class:`SentryApiSource`: the Sentry REST API of one organisation and project
  (``GET /api/0/projects/{org}/{project}/issues/``, ``…/events/`` and ``…/releases/``), with a
  bearer token, a timeout and pagination through the ``Link`` header (``rel="next"; results="true";
  cursor="…"``). Settings: ``section("sentry")`` — ``SENTRY_URL`` (default ``https://sentry.io``),
  ``SENTRY_ORG``, ``SENTRY_PROJECT``, ``SENTRY_AUTH_TOKEN`` (or ``SENTRY_TOKEN``), ``SENTRY_TIMEOUT``,
  or the ``[sentry]`` table of ``.streamlit/secrets.toml``. An unreachable server, a timeout,
  401 and 403 are :class:`~core.errors.SourceUnavailableError` (CLI exit 4) naming the URL, never the token.
* :class:`SentryExportSource`: a file or folder (a bundle's ``errors/`` folder) of events as the
  ``sentry-sdk`` sends them (envelopes: a header line, then item header and payload lines) or as
  JSON (one event, a list of events, or one event per line), in the SDK's shape (``event_id``,
  ``timestamp``, ``exception.values``) or the API's (``eventID``, ``dateCreated``, ``groupID``).
  Events are grouped into issues by ``groupID``, else ``fingerprint``, else exception type and
  culprit, else the message. Anything else is an :class:`~core.errors.InvalidInputError` naming
  the file and line.

:func:`timeline_events` turns new issues, regressions and releases into timeline events (the shape
of a bundle's change events); :func:`findings` finds "new issue first seen N minutes after release
R" (evidence for ``code_regression``) and surges of issues that existed before the onset
(evidence for ``infrastructure``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

from core.errors import InvalidInputError, SourceUnavailableError
from core.models import TimeWindow, utc

__all__ = [
    "ErrorData", "ErrorFinding", "SentryApiSource", "SentryExportSource", "findings", "open_errors",
    "parse_link_header", "timeline_events",
]

DEFAULT_URL = "https://sentry.io"
DEFAULT_TIMEOUT_S = 10.0
PAGE_LIMIT = 50  # pages followed at most per listing
ISSUE_COLUMNS = ["id", "title", "culprit", "level", "count", "first_seen", "last_seen", "release", "link", "status"]
EVENT_COLUMNS = ["event_id", "issue_id", "timestamp", "release", "level", "title", "file"]
RELEASE_COLUMNS = ["version", "at"]
#: a new issue first seen within this time after a release counts as that release's
RELEASE_WINDOW = timedelta(hours=6)
#: an existing issue surges when its event rate after the onset is at least this many times its rate before
SURGE_RATIO = 3.0
SURGE_MIN_EVENTS = 5
EXPORT_SUFFIXES = (".json", ".jsonl", ".envelope", ".ndjson")


# ------------------------------------------------------------------ the common shape

@dataclass(frozen=True)
class ErrorData:
    """What an error source holds: ``issues`` (:data:`ISSUE_COLUMNS`), ``events``, ``releases``."""

    issues: pd.DataFrame
    events: pd.DataFrame
    releases: pd.DataFrame
    name: str = ""


@dataclass(frozen=True)
class ErrorFinding:
    """A finding of :func:`findings`: ``kind`` is ``new_after_release`` or ``surge``."""

    kind: str
    at: datetime
    issue_id: str
    title: str
    detail: str
    release: str | None = None
    minutes: float | None = None
    ratio: float | None = None
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at.isoformat(), "issue_id": self.issue_id, "title": self.title,
                "detail": self.detail, "release": self.release, "minutes": self.minutes, "ratio": self.ratio}


def _frame(rows: list[dict[str, Any]], columns: list[str], times: Iterable[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for c in times:
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def _in_window(issues: pd.DataFrame, window: TimeWindow | None, query: str, limit: int) -> pd.DataFrame:
    df = issues
    if window is not None and len(df):
        df = df[(df["last_seen"] >= window.start) & (df["first_seen"] < window.end)]
    if query:
        q = query.lower()
        df = df[df["title"].str.lower().str.contains(q, regex=False) | df["culprit"].fillna("").str.lower()
                .str.contains(q, regex=False)]
    return df.sort_values("last_seen", ascending=False).head(limit).reset_index(drop=True)


# ------------------------------------------------------------------ REST API

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[\w-]+="?[^";,]*"?\s*)*)')


def parse_link_header(value: str | None) -> dict[str, dict[str, str]]:
    """Sentry's ``Link`` header as ``{rel: {"url": …, "results": …, "cursor": …}}``."""
    out: dict[str, dict[str, str]] = {}
    for m in _LINK.finditer(value or ""):
        attrs = dict(re.findall(r'([\w-]+)="?([^";,]*)"?', m.group(2)))
        attrs["url"] = m.group(1)
        if "rel" in attrs:
            out[attrs["rel"]] = attrs
    return out


class SentryApiSource:
    """Issues, events and releases of one Sentry project through the REST API (``/api/0/``)."""

    def __init__(self, url: str, org: str, project: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT_S):
        if not org or not project:
            raise InvalidInputError("Sentry needs an organisation and a project: set SENTRY_ORG and SENTRY_PROJECT "
                                    "(or org and project under [sentry] in .streamlit/secrets.toml)")
        self.url = (url or DEFAULT_URL).rstrip("/")
        self.org, self.project = str(org), str(project)
        self._token = token
        self.timeout = timeout
        from core.config import display_url

        self.display_url = display_url(self.url)
        self.name = f"Sentry {self.org}/{self.project} at {self.display_url}"

    @classmethod
    def from_settings(cls, config: Any) -> "SentryApiSource":
        sec = config.section("sentry")
        return cls(sec.text("url") or DEFAULT_URL, sec.text("org") or "", sec.text("project") or "",
                   sec.text("auth_token") or sec.text("token"),
                   timeout=sec.number("timeout", DEFAULT_TIMEOUT_S))

    def __repr__(self) -> str:
        return f"SentryApiSource({self.display_url!r}, org={self.org!r}, project={self.project!r}, token=***)"

    def _request(self, url: str, params: dict[str, Any] | None) -> tuple[Any, dict[str, dict[str, str]]]:
        from core.sources.http_json import request_json

        where = f"Sentry at {self.display_url}"
        body, resp = request_json(
            "GET", url, params=params, where=where, url_setting="SENTRY_URL", timeout=self.timeout,
            headers={"Authorization": f"Bearer {self._token}"} if self._token else None,
            timeout_hint="raise SENTRY_TIMEOUT or check the server",
            not_json_hint="is SENTRY_URL a Sentry server?",
            status_messages={
                401: "refused the token (HTTP 401); set a valid SENTRY_AUTH_TOKEN",
                403: f"denied access to {self.org}/{self.project} (HTTP 403); the token "
                     "needs the project:read, event:read and project:releases scopes",
                404: f"has no project {self.org}/{self.project} (HTTP 404); check SENTRY_ORG and SENTRY_PROJECT",
                429: lambda r: "is rate-limiting this token (HTTP 429)" + (
                    f"; retry after {r.headers['Retry-After']} s" if r.headers.get("Retry-After") else "; retry later"),
            })
        if not isinstance(body, list):
            raise SourceUnavailableError(f"{where} answered an unexpected body (not a list)")
        return body, parse_link_header(resp.headers.get("Link"))

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self.url}/api/0/projects/{self.org}/{self.project}/{path}/"
        for _ in range(PAGE_LIMIT):
            if url is None:
                return
            body, links = self._request(url, params)
            yield from (x for x in body if isinstance(x, dict))
            nxt = links.get("next")
            if not nxt or nxt.get("results") != "true":
                return
            url, params = nxt["url"], None  # the next URL carries the cursor and the query

    def check(self) -> None:
        """One cheap call; raises SourceUnavailableError when Sentry cannot be reached or refuses the token."""
        self._request(f"{self.url}/api/0/projects/{self.org}/{self.project}/issues/", {"limit": 1, "query": ""})

    def _issue_rows(self, since: datetime | None) -> list[dict[str, Any]]:
        rows = []
        for it in self._pages("issues", {"query": "", "statsPeriod": "", "sort": "date"}):
            last = utc(it.get("lastSeen"))
            rows.append({"id": str(it.get("id")), "title": it.get("title") or "", "culprit": it.get("culprit") or "",
                         "level": it.get("level") or "error", "count": int(it.get("count") or 0),
                         "first_seen": utc(it.get("firstSeen")), "last_seen": last,
                         "release": ((it.get("firstRelease") or {}).get("version")
                                     if isinstance(it.get("firstRelease"), dict) else None),
                         "link": it.get("permalink"),
                         "status": it.get("substatus") or it.get("status") or ""})
            if since is not None and last is not None and last < since:
                break  # sorted by last seen, newest first: the rest are older
        return rows

    def issues(self, window: TimeWindow | None = None, *, query: str = "", limit: int = 100) -> pd.DataFrame:
        df = _frame(self._issue_rows(window.start if window else None), ISSUE_COLUMNS, ("first_seen", "last_seen"))
        return _in_window(df, window, query, limit)

    def data(self, window: TimeWindow | None = None) -> ErrorData:
        since = window.start if window else None
        issues = _frame(self._issue_rows(since), ISSUE_COLUMNS, ("first_seen", "last_seen"))
        events = []
        for ev in self._pages("events", {"full": "false"}):
            at = utc(ev.get("dateCreated"))
            tags = {t.get("key"): t.get("value") for t in ev.get("tags") or [] if isinstance(t, dict)}
            events.append({"event_id": ev.get("eventID") or ev.get("id"), "issue_id": str(ev.get("groupID")),
                           "timestamp": at, "release": tags.get("release"), "level": tags.get("level"),
                           "title": ev.get("title") or ev.get("message") or "", "file": ""})
            if since is not None and at is not None and at < since:
                break
        releases = [{"version": r.get("version"), "at": utc(r.get("dateReleased") or r.get("dateCreated"))}
                    for r in self._pages("releases")]
        return ErrorData(issues, _frame(events, EVENT_COLUMNS, ("timestamp",)),
                         _frame(releases, RELEASE_COLUMNS, ("at",)).sort_values("at").reset_index(drop=True),
                         self.name)


# ------------------------------------------------------------------ exports

def _bad(file: str, line: int | None, what: str) -> InvalidInputError:
    where = f"{file} line {line}" if line else file
    return InvalidInputError(f"{where}: {what}")


def _event_time(ev: dict[str, Any], file: str, line: int | None) -> datetime:
    raw = ev.get("timestamp", ev.get("dateCreated", ev.get("datetime")))
    try:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return datetime.fromtimestamp(float(raw), tz=timezone.utc)
        at = utc(raw)
    except Exception:  # noqa: BLE001 - any unparsable time is the same user error
        at = None
    if at is None:
        raise _bad(file, line, "a Sentry event without a readable timestamp (timestamp or dateCreated)")
    return at


def _is_event(obj: Any) -> bool:
    return isinstance(obj, dict) and bool({"event_id", "eventID"} & set(obj)) and \
        bool({"timestamp", "dateCreated", "datetime"} & set(obj))


def _exception(ev: dict[str, Any]) -> dict[str, Any] | None:
    exc = ev.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc if isinstance(exc, list) else None
    if not values:
        for entry in ev.get("entries") or []:  # the API's event JSON
            if isinstance(entry, dict) and entry.get("type") == "exception":
                values = (entry.get("data") or {}).get("values")
    return values[-1] if values and isinstance(values[-1], dict) else None


def _culprit(ev: dict[str, Any], exc: dict[str, Any] | None) -> str:
    if ev.get("culprit"):
        return str(ev["culprit"])
    frames = ((exc or {}).get("stacktrace") or {}).get("frames") or []
    for fr in reversed(frames):
        if isinstance(fr, dict) and fr.get("in_app", True) is not False:
            return f"{fr.get('module') or fr.get('filename') or '?'} in {fr.get('function') or '?'}"
    return str(ev.get("transaction") or "")


def _message(ev: dict[str, Any]) -> str:
    log = ev.get("logentry") or {}
    msg = ev.get("message")
    if isinstance(msg, dict):
        msg = msg.get("formatted") or msg.get("message")
    return str(log.get("formatted") or log.get("message") or msg or "")


def _row(ev: dict[str, Any], file: str, line: int | None) -> dict[str, Any]:
    exc = _exception(ev)
    culprit = _culprit(ev, exc)
    if exc:
        title = f"{exc.get('type') or 'Error'}: {exc.get('value') or ''}".rstrip(": ")
    else:
        title = str(ev.get("title") or _message(ev) or "(no message)")
    fp = ev.get("fingerprint")
    if ev.get("groupID") is not None:
        group = str(ev["groupID"])
    elif isinstance(fp, list) and fp and fp != ["{{ default }}"]:
        group = "fp:" + "|".join(map(str, fp))
    elif exc:
        group = f"exc:{exc.get('type')}|{culprit}"
    else:
        group = f"msg:{title}"
    tags = ev.get("tags") or {}
    if isinstance(tags, list):  # [["release", "1.2"]] (SDK) or [{"key":…, "value":…}] (API)
        tags = dict((t.get("key"), t.get("value")) if isinstance(t, dict) else tuple(t[:2]) for t in tags
                    if isinstance(t, (dict, list, tuple)))
    return {"event_id": str(ev.get("event_id") or ev.get("eventID")), "issue_id": group,
            "timestamp": _event_time(ev, file, line), "release": ev.get("release") or tags.get("release"),
            "level": ev.get("level") or tags.get("level") or "error", "title": title, "culprit": culprit,
            "file": f"{file}:{line}" if line else file}


def _parse_envelope(text: str, file: str) -> list[tuple[dict[str, Any], int]]:
    """The event items of an envelope (the SDK's wire format: header line, then item header and payload)."""
    lines = text.split("\n")
    out = []
    i = 1  # line 0 is the envelope header
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            header = json.loads(lines[i])
        except ValueError:
            raise _bad(file, i + 1, "an envelope item header that is not JSON") from None
        if not isinstance(header, dict):
            raise _bad(file, i + 1, "an envelope item header that is not a JSON object")
        length = header.get("length")
        if isinstance(length, int):  # the payload is the next `length` bytes
            rest = "\n".join(lines[i + 1:]).encode()
            payload_text = rest[:length].decode(errors="replace")
            consumed = payload_text.count("\n") + 1
        else:
            payload_text, consumed = (lines[i + 1] if i + 1 < len(lines) else ""), 1
        if header.get("type") == "event":
            try:
                payload = json.loads(payload_text)
            except ValueError:
                raise _bad(file, i + 2, "an envelope event payload that is not JSON (truncated?)") from None
            if not isinstance(payload, dict):
                raise _bad(file, i + 2, "an envelope event payload that is not a JSON object")
            out.append((payload, i + 2))
        i += 1 + consumed
    return out


def read_export(path: Path, label: str | None = None) -> list[dict[str, Any]]:
    """The event rows of one export file (see the module docstring); raises naming the file and line."""
    file = label or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _bad(file, None, "not a UTF-8 text file; a Sentry export is JSON") from None
    stripped = text.strip()
    if not stripped:
        return []
    first = stripped.split("\n", 1)[0]
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    if isinstance(head, dict) and ("dsn" in head or "sent_at" in head or "sdk" in head) and not _is_event(head):
        return [_row(ev, file, line) for ev, line in _parse_envelope(stripped, file)]
    try:
        whole = json.loads(stripped)
        items: list[tuple[Any, int | None]] = [(x, None) for x in (whole if isinstance(whole, list) else [whole])]
    except ValueError as exc:
        if "\n" not in stripped:
            raise _bad(file, exc.lineno if hasattr(exc, "lineno") else None, f"not JSON ({exc.msg})") from None  # type: ignore[attr-defined]
        items = []
        for n, raw in enumerate(text.split("\n"), start=1):
            if not raw.strip():
                continue
            try:
                items.append((json.loads(raw), n))
            except ValueError:
                raise _bad(file, n, "not JSON (a truncated line?)") from None
    rows = []
    for obj, line in items:
        if isinstance(obj, dict) and isinstance(obj.get("events"), list):  # {"events": [...]}
            rows += [_row(e, file, line) for e in obj["events"] if _is_event(e)]
            continue
        if not _is_event(obj):
            keys = ", ".join(list(obj)[:5]) if isinstance(obj, dict) else type(obj).__name__
            raise _bad(file, line, f"not a Sentry event (no event_id/eventID with a timestamp; found {keys}); "
                                   "export events as the sentry-sdk sends them or as the API's event JSON")
        rows.append(_row(obj, file, line))
    return rows


def _issues_from_events(events: pd.DataFrame, culprits: dict[str, str]) -> pd.DataFrame:
    rows = []
    for gid, g in events.groupby("issue_id", sort=False):
        g = g.sort_values("timestamp")
        rows.append({"id": gid, "title": g["title"].iloc[0], "culprit": culprits.get(gid, ""),
                     "level": g["level"].iloc[0], "count": len(g), "first_seen": g["timestamp"].iloc[0],
                     "last_seen": g["timestamp"].iloc[-1], "release": g["release"].iloc[0], "link": None,
                     "status": ""})
    return _frame(rows, ISSUE_COLUMNS, ("first_seen", "last_seen"))


def export_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES)


class SentryExportSource:
    """Sentry events from export files: one file or a folder of them (a bundle's ``errors/``)."""

    def __init__(self, path: Path | str, *, label: str | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise InvalidInputError(f"error export '{path}' not found; give a file or folder of Sentry events")
        files = [self.path] if self.path.is_file() else export_files(self.path)
        if not files:
            raise InvalidInputError(f"{label or self.path}: no Sentry event files (*.json, *.jsonl, *.envelope)")
        self.name = label or str(self.path)
        base = self.path.parent if self.path.is_file() else self.path
        rows: list[dict[str, Any]] = []
        for f in files:
            rows += read_export(f, str(f.relative_to(base)))
        culprits = {r["issue_id"]: r.pop("culprit") for r in rows}
        self._events = _frame(rows, EVENT_COLUMNS, ("timestamp",)).sort_values("timestamp").reset_index(drop=True)
        self._issues = _issues_from_events(self._events, culprits)
        rel = (self._events.dropna(subset=["release"]).groupby("release")["timestamp"].min()
               .reset_index().rename(columns={"release": "version", "timestamp": "at"}))
        self._releases = rel.sort_values("at").reset_index(drop=True)[RELEASE_COLUMNS]

    def __repr__(self) -> str:
        return f"SentryExportSource({self.name!r})"

    def issues(self, window: TimeWindow | None = None, *, query: str = "", limit: int = 100) -> pd.DataFrame:
        return _in_window(self._issues, window, query, limit)

    def data(self, window: TimeWindow | None = None) -> ErrorData:
        return ErrorData(self._issues, self._events, self._releases, self.name)

    def events(self) -> list[dict[str, Any]]:
        """Releases, new and regressed issues as timeline events (what a bundle import adds)."""
        return timeline_events(self.data())


def open_errors(spec: Any, config: Any) -> Any:
    """The factory's opener: ``sentry`` → the API of the settings; a bundle → its ``errors/``; else a path."""
    from core.sources.factory import _is_bundle, _is_bundle_object, scheme_of

    if scheme_of(spec) == "sentry":
        return SentryApiSource.from_settings(config)
    bundle = spec if _is_bundle_object(spec) else None
    path = Path(str(spec)).expanduser() if bundle is None else bundle.path
    if bundle is None and path.exists() and _is_bundle(path):
        from core.bundle import read_bundle

        bundle = read_bundle(path)
    if bundle is not None:
        if not (bundle.path / "errors").is_dir():
            raise InvalidInputError(f"bundle {bundle.id} has no errors/ folder (Sentry events); give an export "
                                    "file or folder, or 'sentry' for the Sentry API")
        return SentryExportSource(bundle.path / "errors", label=f"bundle {bundle.id} errors/")
    if not path.exists():
        raise InvalidInputError(f"errors source '{spec}' not found; give a bundle, a Sentry export file or folder, "
                                "or 'sentry' (the API from SENTRY_*)")
    return SentryExportSource(path)


# ------------------------------------------------------------------ timeline and findings

def timeline_events(data: ErrorData, window: TimeWindow | None = None) -> list[dict[str, Any]]:
    """New issues, regressions and releases as timeline events (``timestamp``, ``kind``, ``title``, …)."""
    out = []

    def keep(at: datetime) -> bool:
        return window is None or window.start <= at < window.end

    for r in data.releases.itertuples():
        if r.at is not None and not pd.isna(r.at) and keep(r.at.to_pydatetime()):
            out.append({"timestamp": r.at.to_pydatetime(), "end": None, "kind": "deploy", "source": "sentry",
                        "title": f"Sentry release {r.version}", "attributes": {"release": r.version}})
    for i in data.issues.itertuples():
        first = i.first_seen.to_pydatetime()
        if i.status == "regressed":
            ev = data.events[data.events["issue_id"] == i.id]
            at = (ev["timestamp"].min() if len(ev) else i.last_seen).to_pydatetime()
            if keep(at):
                out.append({"timestamp": at, "end": None, "kind": "alert", "source": "sentry",
                            "title": f"Sentry issue regressed: {i.title}", "link": i.link,
                            "attributes": {"issue": i.id, "culprit": i.culprit, "count": int(i.count)}})
        if keep(first):
            out.append({"timestamp": first, "end": None, "kind": "alert", "source": "sentry",
                        "title": f"New Sentry issue: {i.title}", "link": i.link,
                        "attributes": {"issue": i.id, "culprit": i.culprit, "count": int(i.count),
                                       "level": i.level, "release": i.release}})
    return sorted(out, key=lambda e: e["timestamp"])


def _release_before(data: ErrorData, issue: Any) -> tuple[str, datetime] | None:
    rel = data.releases.dropna(subset=["at"])
    first = issue.first_seen
    if issue.release and not pd.isna(issue.release):
        mine = rel[rel["version"] == issue.release]
        if len(mine) and mine["at"].iloc[0] < first:
            return str(issue.release), mine["at"].iloc[0].to_pydatetime()
    before = rel[rel["at"] < first]
    if len(before):
        return str(before["version"].iloc[-1]), before["at"].iloc[-1].to_pydatetime()
    return None


def findings(data: ErrorData, at: datetime, *, baseline: TimeWindow | None = None,
             after: timedelta = timedelta(hours=6), surge_window: timedelta = timedelta(hours=1)) -> list[ErrorFinding]:
    """New issues after a release and surges of existing issues around the onset ``at``.

    * ``new_after_release``: an issue first seen from 48 h before to ``after`` after the onset, within
      :data:`RELEASE_WINDOW` of the release it was first seen in (else the latest release before it);
    * ``surge``: an issue first seen before the onset whose hourly event rate in ``[at, at + surge_window)``
      is at least :data:`SURGE_RATIO` times its baseline rate,
      its rate in the baseline (default: the 6 h before the onset), with at least :data:`SURGE_MIN_EVENTS`
      events.
    """
    at = utc(at)
    out: list[ErrorFinding] = []
    for i in data.issues.itertuples():
        first = i.first_seen.to_pydatetime()
        if not (at - timedelta(hours=48) <= first < at + after):
            continue
        rel = _release_before(data, i)
        if rel is None or first - rel[1] > RELEASE_WINDOW or first <= rel[1]:
            continue  # no release before it (an issue that opens a release's events says nothing)
        minutes = round((first - rel[1]).total_seconds() / 60, 1)
        out.append(ErrorFinding("new_after_release", first, i.id, i.title,
                                f"new issue '{i.title}' first seen {minutes:g} minutes after release {rel[0]}",
                                release=rel[0], minutes=minutes, data={"culprit": i.culprit, "count": int(i.count)}))
    base = baseline or TimeWindow(at - timedelta(hours=6), at)
    ev = data.events
    for i in data.issues.itertuples():
        if i.first_seen >= at:
            continue  # not an existing issue
        mine = ev[ev["issue_id"] == i.id]["timestamp"]
        before = int(((mine >= base.start) & (mine < base.end)).sum())
        during = int(((mine >= at) & (mine < at + surge_window)).sum())
        rate_b = before / (base.duration.total_seconds() / 3600)
        rate_d = during / (surge_window.total_seconds() / 3600)
        ratio = rate_d / rate_b if rate_b else float("inf")
        if during >= SURGE_MIN_EVENTS and ratio >= SURGE_RATIO:
            first_during = mine[mine >= at].min().to_pydatetime()
            shown = "from none" if not rate_b else f"{ratio:.1f}x"
            out.append(ErrorFinding("surge", first_during, i.id, i.title,
                                    f"existing issue '{i.title}' surged {shown} after the onset "
                                    f"({before} events in the baseline, {during} in the {surge_window.total_seconds() / 60:g} minutes "
                                    "after)",
                                    ratio=None if not rate_b else round(ratio, 2),
                                    data={"before": before, "during": during}))
    return sorted(out, key=lambda f: f.at)
