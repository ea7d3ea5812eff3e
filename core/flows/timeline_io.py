"""Import and export of timeline events (CSV, JSONL, chat exports).

Importing is two steps so that nothing is half-imported:

1. :func:`preview_import` reads the rows through a :class:`ColumnMapping`,
   parses every time (naive times need an explicit zone; ambiguous or
   non-existent local times and day/month-ambiguous dates are refused),
   checks kinds, titles, ends and ids, and merges duplicates (same kind, same
   title, times within a tolerance), both within the file and against the
   events already on the timeline. It writes nothing.
2. :func:`apply_import` writes the preview's new events in one transaction,
   and only when the preview has no errors.

:func:`export_events` writes events as CSV or JSONL that the default mapping
reads back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from core.errors import InvalidInputError
from core.models import EventKind, TimelineEvent, iso

MAX_IMPORT_ROWS = 50_000
MAX_IMPORT_BYTES = 50_000_000
MAX_TITLE = 300
DEFAULT_TOLERANCE = timedelta(minutes=5)
EXPORT_COLUMNS = ("id", "timestamp", "end", "kind", "source", "title", "author", "link", "pinned", "details")

_SLASH_DATE = re.compile(
    r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})(?:[,\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$"
)
_EPOCH = re.compile(r"^\s*\d{9,13}(?:\.\d+)?\s*$")


@dataclass(frozen=True)
class ColumnMapping:
    """Which file column feeds which event field; unset fields take the defaults given here.

    Attributes:
        timestamp: column with the event time (required).
        title: column with the title; for chat exports use ``text`` instead.
        text: chat message column; becomes the title (shortened) and ``details.text``.
        kind: column with the event kind; else every row gets ``default_kind``.
        end: column with the end time of a span.
        author, source, link, id: optional columns.
        default_kind: kind for rows without a kind column (chat messages: ``annotation``).
        default_source: source for rows without a source column (e.g. ``slack``).
        timezone: IANA zone (``Europe/Berlin``) for times written without an offset; required
            when the file has such times.
        date_order: ``DMY`` or ``MDY`` for dates like 03/04/2024; inferred only when a day > 12 shows it.
    """

    timestamp: str
    title: str | None = None
    text: str | None = None
    kind: str | None = None
    end: str | None = None
    author: str | None = None
    source: str | None = None
    link: str | None = None
    id: str | None = None
    default_kind: str = EventKind.ANNOTATION.value
    default_source: str = "import"
    timezone: str | None = None
    date_order: str | None = None

    def columns(self) -> dict[str, str]:
        fields = ("timestamp", "title", "text", "kind", "end", "author", "source", "link", "id")
        return {f: getattr(self, f) for f in fields if getattr(self, f)}


def guess_mapping(columns: Sequence[str]) -> ColumnMapping:
    """A best-guess mapping from column names (``timestamp``/``time``/``ts``, ``title``, ``text``/``message``…).

    Raises:
        InvalidInputError: no column looks like a time.
    """
    lower = {c.lower().strip(): c for c in columns}

    def pick(*names: str) -> str | None:
        for n in names:
            if n in lower:
                return lower[n]
        return None

    ts = pick("timestamp", "time", "ts", "date", "datetime", "@timestamp", "created_at", "start")
    if ts is None:
        raise InvalidInputError(
            f"no time column among {', '.join(columns) or 'no columns'}; map one to 'timestamp'"
        )
    title = pick("title", "summary", "event", "name")
    text = pick("text", "message", "msg", "content", "body") if title is None else None
    return ColumnMapping(
        timestamp=ts, title=title, text=text, kind=pick("kind", "type", "category"),
        end=pick("end", "end_time", "until", "finished_at"), author=pick("author", "user", "from", "who", "sender"),
        source=pick("source", "system", "channel"), link=pick("link", "url"), id=pick("id", "event_id", "uid"),
    )


def read_event_table(data: bytes | str | Path, *, name: str = "") -> pd.DataFrame:
    """Read a CSV or JSONL file (path or bytes) as a frame of strings, keeping blanks as missing.

    Raises:
        InvalidInputError: unknown format, too large, or not parseable.
    """
    if isinstance(data, (str, Path)) and not isinstance(data, bytes):
        path = Path(data)
        name = name or path.name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInputError(f"{path}: file not found") from None
    else:
        raw = data
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidInputError(
            f"{name or 'the file'} is {len(raw) // 1_000_000} MB; the import takes at most "
            f"{MAX_IMPORT_BYTES // 1_000_000} MB — split the file"
        )
    suffix = Path(name).suffix.lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{name or 'the file'} is not UTF-8 text; save it as UTF-8 and retry") from None
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{name} line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InvalidInputError(f"{name} line {lineno}: expected one JSON object per line")
            rows.append({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in obj.items()})
        df = pd.DataFrame(rows)
    elif suffix in (".csv", ".txt", ""):
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInputError(f"{name or 'the file'}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    else:
        raise InvalidInputError(f"{name}: unsupported file type '{suffix}'; import .csv or .jsonl")
    df = df.astype(object).where(df.notna(), None)
    return df


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row (CSV header not counted)
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True)
class ImportRow:
    """One parsed row and what the import will do with it: ``new``, ``merged`` (into another row) or ``exists``."""

    row: int
    event: Mapping[str, Any]
    action: str
    note: str = ""


@dataclass(frozen=True)
class ImportPreview:
    """What an import would write; nothing is written until :func:`apply_import`."""

    rows: tuple[ImportRow, ...]
    problems: tuple[RowProblem, ...]
    mapping: ColumnMapping
    total_rows: int

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def new_events(self) -> list[dict[str, Any]]:
        return [dict(r.event) for r in self.rows if r.action == "new"]

    def counts(self) -> dict[str, int]:
        out = {"rows": self.total_rows, "new": 0, "merged": 0, "exists": 0, "problems": len(self.problems)}
        for r in self.rows:
            out[r.action] += 1
        return out

    def table(self) -> list[dict[str, Any]]:
        """Rows for display: action, time (UTC), kind, title, author, note."""
        return [
            {"row": r.row, "action": r.action, "timestamp": iso(r.event["timestamp"]), "end": iso(r.event.get("end")),
             "kind": r.event["kind"], "title": r.event["title"], "author": r.event.get("author", ""), "note": r.note}
            for r in self.rows
        ]

    def summary(self) -> str:
        c = self.counts()
        text = (f"{c['rows']} rows: {c['new']} new, {c['merged']} merged as duplicates, "
                f"{c['exists']} already on the timeline")
        if self.problems:
            text += f"; {len(self.problems)} problem(s) — fix them, nothing was imported"
        return text


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"'{name}' is not a time zone; use an IANA name like UTC or Europe/Berlin") from None


def _localize(naive: datetime, zone: ZoneInfo | None, raw: str) -> datetime:
    if zone is None:
        raise InvalidInputError(
            f"'{raw}' has no time zone; choose the zone the file was written in (or add an offset like +02:00)"
        )
    a = naive.replace(tzinfo=zone, fold=0)
    b = naive.replace(tzinfo=zone, fold=1)
    if a.utcoffset() != b.utcoffset():
        # fold 0 and 1 give different offsets: either a repeated hour or a skipped one.
        back = a.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        if back != naive:
            raise InvalidInputError(f"'{raw}' does not exist in {zone.key} (clocks skipped it); check the time")
        raise InvalidInputError(
            f"'{raw}' is ambiguous in {zone.key} (the hour repeats when clocks go back); "
            "add an offset such as +01:00 or +02:00"
        )
    return a.astimezone(timezone.utc)


def _infer_date_order(values: Iterable[str]) -> str | None:
    first_big = second_big = False
    for v in values:
        m = _SLASH_DATE.match(v or "")
        if m:
            first_big |= int(m.group(1)) > 12
            second_big |= int(m.group(2)) > 12
    if first_big and not second_big:
        return "DMY"
    if second_big and not first_big:
        return "MDY"
    return None


def parse_time(value: Any, *, zone: ZoneInfo | None = None, date_order: str | None = None) -> datetime:
    """Parse one time to aware UTC.

    Accepts ISO 8601 (with or without an offset), Unix epoch seconds or milliseconds,
    and ``dd/mm/yyyy[, HH:MM[:SS] [AM|PM]]`` style dates given a ``date_order``.

    Raises:
        InvalidInputError: missing, unparsable, naive without a zone, ambiguous or non-existent.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        raise InvalidInputError("no timestamp; every event needs a time")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else _localize(value, zone, value.isoformat())
    raw = str(value).strip()
    if _EPOCH.match(raw):
        number = float(raw)
        if number > 1e11:
            number /= 1000.0
        return datetime.fromtimestamp(number, tz=timezone.utc)
    text = raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None:
        m = _SLASH_DATE.match(raw)
        if not m:
            raise InvalidInputError(f"'{raw}' is not a time I can read; use ISO 8601 like 2024-05-01T12:00:00Z")
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000
        if date_order is None:
            if a <= 12 and b <= 12 and a != b:
                raise InvalidInputError(
                    f"'{raw}' is ambiguous (day/month or month/day?); choose the date order DMY or MDY"
                )
            date_order = "MDY" if b > 12 else "DMY"
        day, month = (a, b) if date_order.upper() == "DMY" else (b, a)
        hour, minute, second = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
        ampm = (m.group(7) or "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                raise InvalidInputError(f"'{raw}': hour {hour} with {ampm.upper()}; check the time")
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        try:
            parsed = datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise InvalidInputError(f"'{raw}' is not a valid date ({exc})") from None
    if parsed.tzinfo is None:
        return _localize(parsed, zone, raw)
    return parsed.astimezone(timezone.utc)


def _norm_title(title: str) -> str:
    return " ".join(title.casefold().split())


def _norm_kind(value: Any, default: str) -> str:
    if value is None or str(value).strip() == "":
        return default
    kind = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return EventKind(kind).value
    except ValueError:
        raise InvalidInputError(
            f"kind '{value}' is not an event kind; use one of {', '.join(k.value for k in EventKind)}"
        ) from None


def same_event(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: timedelta = DEFAULT_TOLERANCE) -> bool:
    """True when two events describe the same thing: same kind, same title (case and spacing aside), close times."""
    return (
        str(a["kind"]) == str(b["kind"])
        and _norm_title(str(a["title"])) == _norm_title(str(b["title"]))
        and abs(a["timestamp"] - b["timestamp"]) <= tolerance
    )


def merge_events(
    events: Iterable[Mapping[str, Any]], tolerance: timedelta = DEFAULT_TOLERANCE
) -> list[dict[str, Any]]:
    """Collapse events that describe the same thing into one (the earliest), listing every source.

    The merged event keeps the earliest time, the latest end, the first non-empty
    author and link, the union of details, and ``details["merged_sources"]``.
    """
    ordered = sorted((dict(e) for e in events), key=lambda e: e["timestamp"])
    out: list[dict[str, Any]] = []
    open_by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ev in ordered:
        key = (str(ev["kind"]), _norm_title(str(ev["title"])))
        target = next((o for o in open_by_key.get(key, []) if ev["timestamp"] - o["timestamp"] <= tolerance), None)
        if target is None:
            ev = {**ev, "details": dict(ev.get("details") or {})}
            open_by_key.setdefault(key, []).append(ev)
            out.append(ev)
            continue
        details = target["details"]
        sources = details.setdefault("merged_sources", [target.get("source", "")])
        if ev.get("source", "") not in sources:
            sources.append(ev.get("source", ""))
        for k, v in (ev.get("details") or {}).items():
            details.setdefault(k, v)
        if ev.get("end") and (not target.get("end") or ev["end"] > target["end"]):
            target["end"] = ev["end"]
        for k in ("author", "link"):
            if not target.get(k) and ev.get(k):
                target[k] = ev[k]
    return out


def preview_import(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    existing: Iterable[TimelineEvent | Mapping[str, Any]] = (),
    tolerance: timedelta = DEFAULT_TOLERANCE,
    author: str = "",
    max_rows: int = MAX_IMPORT_ROWS,
) -> ImportPreview:
    """Parse, validate and de-duplicate rows; write nothing.

    Args:
        frame: rows as read by :func:`read_event_table`.
        mapping: which column is which field, the zone for naive times and the date order.
        existing: events already on the timeline (duplicates of them are not imported again).
        tolerance: how close two times must be for same-kind, same-title events to merge.
        author: author for rows without an author column (the person importing).
        max_rows: refuse larger files.

    Returns:
        An :class:`ImportPreview`; check ``ok`` and ``problems`` before applying it.

    Raises:
        InvalidInputError: the mapping names a missing column, the zone is unknown, or the file is too large.
    """
    if len(frame) > max_rows:
        raise InvalidInputError(
            f"the file has {len(frame):,} rows; an import takes at most {max_rows:,} — split it into smaller files"
        )
    missing = [f"{f} → '{c}'" for f, c in mapping.columns().items() if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the mapping names columns that are not in the file: {', '.join(missing)}; "
            f"the file has {', '.join(map(str, frame.columns))}"
        )
    if not (mapping.title or mapping.text):
        raise InvalidInputError("map a column to 'title' (or to 'text' for chat messages)")
    if mapping.date_order and mapping.date_order.upper() not in ("DMY", "MDY"):
        raise InvalidInputError(f"date order '{mapping.date_order}' must be DMY or MDY")
    zone = _zone(mapping.timezone)
    default_kind = _norm_kind(mapping.default_kind, EventKind.ANNOTATION.value)
    records = frame.to_dict("records")
    order = mapping.date_order
    if order is None:
        cols = [mapping.timestamp] + ([mapping.end] if mapping.end else [])
        order = _infer_date_order(str(r.get(c) or "") for r in records for c in cols)
    problems: list[RowProblem] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen_ids: dict[str, int] = {}

    def cell(rec: dict[str, Any], col: str | None) -> Any:
        if not col:
            return None
        v = rec.get(col)
        return None if v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() == "" else v

    for i, rec in enumerate(records, 1):
        row_problems: list[str] = []
        ev: dict[str, Any] = {}
        try:
            ev["timestamp"] = parse_time(cell(rec, mapping.timestamp), zone=zone, date_order=order)
        except InvalidInputError as exc:
            row_problems.append(f"{mapping.timestamp}: {exc}")
        end_raw = cell(rec, mapping.end)
        if end_raw is not None:
            try:
                ev["end"] = parse_time(end_raw, zone=zone, date_order=order)
            except InvalidInputError as exc:
                row_problems.append(f"{mapping.end}: {exc}")
        if "timestamp" in ev and ev.get("end") is not None and ev["end"] < ev["timestamp"]:
            row_problems.append(f"ends ({iso(ev['end'])}) before it starts ({iso(ev['timestamp'])}); swap or fix the times")
        try:
            ev["kind"] = _norm_kind(cell(rec, mapping.kind), default_kind)
        except InvalidInputError as exc:
            row_problems.append(str(exc))
        details: dict[str, Any] = {}
        text = cell(rec, mapping.text)
        title = cell(rec, mapping.title)
        if title is None and text is not None:
            flat = " ".join(str(text).split())
            title = flat if len(flat) <= 120 else flat[:119] + "…"
        if text is not None:
            details["text"] = str(text)
        if title is None or not str(title).strip():
            row_problems.append("no title" + (" or text" if mapping.text else "") + "; every event needs one")
        else:
            title = " ".join(str(title).split())
            if len(title) > MAX_TITLE:
                title = title[: MAX_TITLE - 1] + "…"
            ev["title"] = title
        ext_id = cell(rec, mapping.id)
        if ext_id is not None:
            ext_id = str(ext_id).strip()
            if ext_id in seen_ids:
                row_problems.append(f"id '{ext_id}' repeats row {seen_ids[ext_id]}; ids must be unique")
            else:
                seen_ids[ext_id] = i
            details["external_id"] = ext_id
        ev["author"] = str(cell(rec, mapping.author) or author)
        ev["source"] = str(cell(rec, mapping.source) or mapping.default_source)
        link = cell(rec, mapping.link)
        ev["link"] = str(link) if link is not None else None
        ev["details"] = details
        if row_problems:
            problems.extend(RowProblem(i, p) for p in row_problems)
        else:
            parsed.append((i, ev))

    existing_dicts = []
    for e in existing:
        if isinstance(e, TimelineEvent):
            existing_dicts.append({"kind": e.kind.value, "title": e.title, "timestamp": e.timestamp, "id": e.id,
                                   "external_id": (e.details or {}).get("external_id"), "source": e.source})
        else:
            existing_dicts.append(dict(e))
    rows: list[ImportRow] = []
    kept: list[tuple[int, dict[str, Any]]] = []
    for i, ev in parsed:
        ext = ev["details"].get("external_id")
        dup = next((x for x in existing_dicts
                    if (ext and x.get("external_id") == ext and x.get("source") == ev["source"])
                    or same_event(x, ev, tolerance)), None)
        if dup is not None:
            rows.append(ImportRow(i, ev, "exists", f"already on the timeline as '{dup['title']}'"))
            continue
        twin = next((k for k in kept if same_event(k[1], ev, tolerance)), None)
        if twin is not None:
            rows.append(ImportRow(i, ev, "merged", f"same as row {twin[0]}"))
            merged = merge_events([twin[1], ev], tolerance)[0]
            twin[1].clear()
            twin[1].update(merged)
            continue
        kept.append((i, ev))
    rows.extend(ImportRow(i, ev, "new") for i, ev in kept)
    rows.sort(key=lambda r: r.row)
    return ImportPreview(rows=tuple(rows), problems=tuple(problems), mapping=mapping, total_rows=len(records))


def apply_import(store: Any, incident_id: str, preview: ImportPreview) -> list[int]:
    """Write the preview's new events in one transaction; refuse a preview with problems.

    Raises:
        InvalidInputError: the preview has problems (the first few are named); nothing is written.
    """
    from core.store.timeline import add_events

    if not preview.ok:
        head = "; ".join(str(p) for p in preview.problems[:5])
        more = f" (and {len(preview.problems) - 5} more)" if len(preview.problems) > 5 else ""
        raise InvalidInputError(f"nothing imported: {head}{more}")
    return add_events(store, incident_id, preview.new_events)


def add_source_events(database: str | None, incident_id: str, events: Iterable[Mapping[str, Any]]) -> int:
    """Add a tool's timeline events (the ``events.jsonl`` shape: ``attributes`` for details) to a stored
    incident, all or nothing; the count added. Used by the commands that read Sentry and Grafana.

    Raises:
        NotFoundError: no such incident. StoreError: the store cannot be opened.
    """
    from core.store import open_store
    from core.store.incidents import get_incident
    from core.store.timeline import add_events

    rows = [{**{k: v for k, v in e.items() if k != "attributes"}, "details": e.get("attributes") or {}}
            for e in events]
    store = open_store(database)
    try:
        incident = get_incident(store, incident_id)
        add_events(store, incident.id, rows)
    finally:
        store.dispose()
    return len(rows)


def export_events(events: Iterable[TimelineEvent], fmt: str) -> bytes:
    """Events as ``csv`` or ``jsonl`` bytes (UTC ISO times; details as JSON)."""
    fmt = fmt.lower()
    rows = [
        {"id": e.id, "timestamp": iso(e.timestamp), "end": iso(e.end), "kind": e.kind.value, "source": e.source,
         "title": e.title, "author": e.author, "link": e.link, "pinned": e.pinned, "details": dict(e.details)}
        for e in events
    ]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode("utf-8")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "end": r["end"] or "", "link": r["link"] or "",
                             "details": json.dumps(r["details"], ensure_ascii=False, default=str)})
        return buf.getvalue().encode("utf-8")
    raise InvalidInputError(f"export format '{fmt}' is not supported; use csv or jsonl")
