"""The ``LogSource`` protocol and the result shapes every log source returns.

Two sources implement it: :class:`core.sources.local_logs.LocalLogSource` (JSONL,
CSV and plain-text files through DuckDB) and
:class:`core.sources.elastic.ElasticsearchLogSource`. Both take Lucene-syntax
queries (:mod:`core.logquery`) and absolute UTC windows, and return the frozen
dataclasses below, so pages, the command line and the analyses never care which
one answered.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.errors import InvalidInputError
from core.jsonsafe import jsonable
from core.logquery import FieldKind
from core.models import TimeWindow, iso

TIME_FIELD = "@timestamp"
LEVEL_FIELD = "log.level"
SERVICE_FIELD = "service.name"
MESSAGE_FIELD = "message"
NO_VALUE = "(none)"

# The most hits one search returns (Elasticsearch's default index.max_result_window is 10,000).
MAX_PAGE_SIZE = 10_000


def check_page_size(size: object) -> int:
    """``size`` if it is a whole number of hits from 1 to :data:`MAX_PAGE_SIZE`.

    Raises:
        InvalidInputError: naming the allowed range.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"the page size must be a whole number of hits from 1 to {MAX_PAGE_SIZE:,}, "
                                f"not {size!r}; page with the cursor for more")
    return size


# Histogram intervals, in seconds; the first that gives at most the wanted number of buckets is used.
NICE_INTERVALS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


@dataclass(frozen=True)
class LogHit:
    """One log record: its source id, UTC time and flat dotted fields (``message``, ``log.level``, ...)."""

    id: str
    timestamp: datetime | None
    fields: dict[str, Any]
    sort: tuple[Any, ...] = ()

    @property
    def message(self) -> str:
        return str(self.fields.get(MESSAGE_FIELD) or "")

    @property
    def level(self) -> str:
        return str(self.fields.get(LEVEL_FIELD) or "")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "timestamp": iso(self.timestamp), "fields": jsonable(self.fields)}


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, newest first; ``cursor`` fetches the next page (None when there is none)."""

    query: str
    window: TimeWindow
    total: int
    hits: tuple[LogHit, ...]
    cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "window": self.window.to_dict(), "total": self.total,
                "hits": [h.to_dict() for h in self.hits], "cursor": self.cursor}


@dataclass(frozen=True)
class HistogramBucket:
    start: datetime
    key: str
    count: int


@dataclass(frozen=True)
class Histogram:
    """Hit counts per fixed interval (UTC, aligned to the epoch), split by ``split_field``."""

    interval_seconds: int
    split_field: str
    buckets: tuple[HistogramBucket, ...]

    @property
    def total(self) -> int:
        return sum(b.count for b in self.buckets)

    def keys(self) -> list[str]:
        return sorted({b.key for b in self.buckets})


@dataclass(frozen=True)
class FieldFacet:
    """The most frequent values of one field among the hits."""

    field: str
    values: tuple[tuple[Any, int], ...]
    other: int = 0


@dataclass(frozen=True)
class SourceInfo:
    """What a source is: its name (never credentials), kind, fields and any load warnings."""

    name: str
    kind: str
    fields: dict[str, FieldKind]
    time_field: str = TIME_FIELD
    records: int | None = None
    span: TimeWindow | None = None
    warnings: tuple[str, ...] = ()


@runtime_checkable
class LogSource(Protocol):
    """What the Logs page, the command line and the analyses need from a log store."""

    @property
    def info(self) -> SourceInfo: ...

    def count(self, query: str, window: TimeWindow) -> int: ...

    def search(self, query: str, window: TimeWindow, *, size: int = 50, cursor: str | None = None) -> SearchPage: ...

    def histogram(self, query: str, window: TimeWindow, *, buckets: int = 60,
                  split_field: str = LEVEL_FIELD) -> Histogram: ...

    def top_values(self, query: str, window: TimeWindow, fields: list[str] | None = None, *,
                   size: int = 8) -> tuple[FieldFacet, ...]: ...

    def surrounding(self, hit: LogHit, *, n: int = 5, same_field: str = SERVICE_FIELD) -> tuple[LogHit, ...]: ...

    def messages(self, query: str, window: TimeWindow, *, limit: int | None = None) -> list[str]: ...


def pick_interval(window: TimeWindow, buckets: int = 60) -> int:
    """The smallest nice interval (seconds) giving at most ``buckets`` buckets over ``window``."""
    seconds = window.duration.total_seconds()
    for step in NICE_INTERVALS:
        if seconds / step <= buckets:
            return step
    return int(math.ceil(seconds / buckets / 86400)) * 86400


def encode_cursor(values: tuple[Any, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def decode_cursor(cursor: str) -> list[Any]:
    from core.errors import InvalidInputError

    try:
        values = json.loads(cursor)
    except (TypeError, ValueError):
        raise InvalidInputError("the page cursor is damaged; start again from the first page") from None
    if not isinstance(values, list):
        raise InvalidInputError("the page cursor is damaged; start again from the first page")
    return values


def pattern_messages(source: Any, query: str, baseline: TimeWindow, window: TimeWindow, *,
                     limit: int | None = None) -> tuple[list[str], list[str], float]:
    """Messages of both windows for the pattern diff, and the share of each window that was read.

    A source that can sample on its server (Elasticsearch: ``sampled_messages``) sends at most a
    bounded sample of each window, drawn at one shared rate so template rates stay comparable;
    any other source returns every message (share 1.0). ``limit``: the sample's size per window
    (default: the source's own).
    """
    sampled = getattr(source, "sampled_messages", None)
    if callable(sampled):
        return sampled(query, baseline, window) if limit is None else sampled(query, baseline, window, limit=limit)
    return source.messages(query, baseline), source.messages(query, window), 1.0
