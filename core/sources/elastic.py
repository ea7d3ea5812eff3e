"""``ElasticsearchLogSource``: logs in an Elasticsearch cluster, through the official client.

Configuration comes from environment variables, or from the ``[elasticsearch]``
table of ``.streamlit/secrets.toml`` (read as a plain TOML file; core never
imports streamlit):

=================  =========================  =====================================
variable           secrets.toml key           meaning
=================  =========================  =====================================
ES_URL             url                        cluster URL, e.g. https://es:9200
ES_API_KEY         api_key                    API key (preferred), base64 or id:key
ES_USERNAME        username                   basic auth user
ES_PASSWORD        password                   basic auth password
ES_CA_CERT         ca_certs                   path of the CA certificate (PEM)
ES_INDEX           index                      index pattern (default ``logs-*``)
ES_TIME_FIELD      time_field                 time field (default ``@timestamp``)
ES_TIMEOUT         timeout                    request timeout in seconds (default 10)
=================  =========================  =====================================

Credentials are never put in messages, ``info`` or logs; URLs are shown without
user info. Queries are compiled by :mod:`core.logquery` to explicit DSL; paging
uses a point in time with ``search_after``; the histogram is a ``date_histogram``
with a ``terms`` sub-aggregation, facets are ``terms`` aggregations.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from core.config import (
    DEFAULT_ES_INDEX, DEFAULT_ES_TIMEOUT_S, ElasticSettings, Settings, display_url, load_settings, settings,
)
from core.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from core.logquery import FieldKind, compile_query
from core.models import TimeWindow, utc
from core.redact import redact, unparsable_url
from core.sources.logs import (
    LEVEL_FIELD, MESSAGE_FIELD, NO_VALUE, SERVICE_FIELD, FieldFacet, Histogram, HistogramBucket,
    LogHit, SearchPage, SourceInfo, check_page_size, decode_cursor, encode_cursor, pick_interval,
)

DEFAULT_INDEX = DEFAULT_ES_INDEX
DEFAULT_TIMEOUT_S = DEFAULT_ES_TIMEOUT_S
PIT_KEEP_ALIVE = "2m"
MESSAGES_PAGE = 5_000
DEFAULT_MESSAGE_LIMIT = 2_000_000
PATTERN_SAMPLE = 200_000  # messages per window the pattern diff reads at most (sampled_messages)
SAMPLE_SEED = 20_240_501  # the server-side sample is the same on every run

_KINDS = {
    "text": FieldKind.TEXT, "match_only_text": FieldKind.TEXT,
    "keyword": FieldKind.KEYWORD, "constant_keyword": FieldKind.KEYWORD, "wildcard": FieldKind.KEYWORD,
    "ip": FieldKind.KEYWORD, "version": FieldKind.KEYWORD,
    "long": FieldKind.NUMBER, "integer": FieldKind.NUMBER, "short": FieldKind.NUMBER, "byte": FieldKind.NUMBER,
    "double": FieldKind.NUMBER, "float": FieldKind.NUMBER, "half_float": FieldKind.NUMBER,
    "scaled_float": FieldKind.NUMBER, "unsigned_long": FieldKind.NUMBER,
    "date": FieldKind.DATE, "date_nanos": FieldKind.DATE, "boolean": FieldKind.BOOLEAN,
}


def safe_url(url: str) -> str:
    """``url`` without user name and password; a URL that does not parse (a bad port) is redacted instead."""
    return display_url(url)


class ElasticConfig(ElasticSettings):
    """Connection settings (:class:`core.config.ElasticSettings`) and the client they open; ``repr`` hides the secrets."""

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> "ElasticConfig":
        """The ``elasticsearch`` section of ``config`` (default: :func:`core.config.settings`).

        Raises:
            InvalidInputError: no URL is configured, or a setting is malformed.
        """
        es = (config or settings()).elasticsearch
        if not es.url:
            raise InvalidInputError(
                "Elasticsearch is not configured: set ES_URL (and ES_API_KEY or ES_USERNAME/ES_PASSWORD, ES_INDEX) "
                "or an [elasticsearch] table in .streamlit/secrets.toml")
        return cls(**{f.name: getattr(es, f.name) for f in fields(es)})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 secrets_path: Path | str | None = None) -> "ElasticConfig":
        """Settings from ``env`` (default: the process environment), falling back to the secrets file's
        ``[elasticsearch]`` table (``secrets_path``, default ``.streamlit/secrets.toml``).

        Raises:
            InvalidInputError: no URL is configured, or a setting is malformed.
        """
        if env is None and secrets_path is None:
            return cls.from_settings()
        return cls.from_settings(load_settings(env, secrets_path))

    def client(self):
        """An ``elasticsearch.Elasticsearch`` client with explicit timeouts and no retry storms."""
        from elasticsearch import Elasticsearch

        kwargs: dict[str, Any] = {"request_timeout": self.timeout_s, "max_retries": 1, "retry_on_timeout": False}
        if self.api_key:
            kwargs["api_key"] = tuple(self.api_key.split(":", 1)) if ":" in self.api_key else self.api_key
        elif self.username:
            kwargs["basic_auth"] = (self.username, self.password or "")
        if self.ca_certs:
            if not Path(self.ca_certs).is_file():
                raise InvalidInputError(f"CA certificate {self.ca_certs} not found; fix ES_CA_CERT")
            kwargs["ca_certs"] = self.ca_certs
        try:
            urlsplit(self.url).port  # noqa: B018 - raises ValueError for a port that is not a number
            return Elasticsearch(self.url, **kwargs)
        except ValueError:  # the parser's message quotes a piece of the URL: not shown
            raise InvalidInputError(
                f"ES_URL ({unparsable_url(self.url)}) is not usable: it does not parse (a port that is not a "
                "number, or ambiguous punctuation); write it as https://host:9200") from None


def _flatten_mapping(props: Mapping[str, Any], prefix: str = "") -> dict[str, FieldKind]:
    out: dict[str, FieldKind] = {}
    for name, spec in props.items():
        full = f"{prefix}{name}"
        if "properties" in spec:
            out.update(_flatten_mapping(spec["properties"], full + "."))
            continue
        kind = _KINDS.get(spec.get("type", "object"))
        if kind is not None:
            out[full] = kind
        for sub, subspec in (spec.get("fields") or {}).items():
            sk = _KINDS.get(subspec.get("type", ""))
            if sk is not None:
                out[f"{full}.{sub}"] = sk
    return out


def _flatten_source(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flatten_source(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _ms(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class ElasticsearchLogSource:
    """Logs in an Elasticsearch index pattern.

    Args:
        config: connection settings (see :class:`ElasticConfig`).
        client: an ``Elasticsearch`` client to use instead of one built from ``config``.

    Raises:
        SourceUnavailableError: the cluster cannot be reached or refuses the credentials.
        NotFoundError: the index pattern matches no index.
    """

    def __init__(self, config: ElasticConfig, client: Any = None):
        self._config = config
        self._es = client if client is not None else config.client()
        mapping = self._call(lambda: self._es.indices.get_mapping(index=config.index), "read the index mapping")
        body = getattr(mapping, "body", mapping)
        fields: dict[str, FieldKind] = {}
        for spec in body.values():
            fields.update(_flatten_mapping(spec.get("mappings", {}).get("properties", {})))
        if not body:
            raise NotFoundError(
                f"index pattern '{config.index}' matches no index on {safe_url(config.url)}; set ES_INDEX")
        tf = config.time_field
        if fields.get(tf) != FieldKind.DATE:
            raise InvalidInputError(
                f"'{tf}' is not a date field in '{config.index}'; set ES_TIME_FIELD to the index's time field")
        self._fields = fields
        self._info = SourceInfo(name=f"Elasticsearch {safe_url(config.url)} / {config.index}", kind="elasticsearch",
                                fields=dict(fields), time_field=tf)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ElasticsearchLogSource":
        return cls(ElasticConfig.from_env(env))

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> "ElasticsearchLogSource":
        """The cluster of ``config``'s ``elasticsearch`` section (default: :func:`core.config.settings`)."""
        return cls(ElasticConfig.from_settings(config))

    @property
    def info(self) -> SourceInfo:
        return self._info

    # ------------------------------------------------------------ errors
    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout, TransportError
        from elasticsearch import (
            ApiError, AuthenticationException, AuthorizationException, BadRequestError,
        )
        from elasticsearch import NotFoundError as EsNotFound

        url = safe_url(self._config.url)
        try:
            return fn()
        except ConnectionTimeout:
            raise SourceUnavailableError(
                f"Elasticsearch at {url} did not answer within {self._config.timeout_s:.0f} s while trying to {what}; "
                "check the cluster's health or raise ES_TIMEOUT") from None
        except TransportConnectionError:
            raise SourceUnavailableError(
                f"Elasticsearch at {url} is unreachable; check ES_URL, the network and that the cluster is up"
            ) from None
        except AuthenticationException:
            raise SourceUnavailableError(
                f"Elasticsearch at {url} refused the credentials (401); check ES_API_KEY or ES_USERNAME/ES_PASSWORD"
            ) from None
        except AuthorizationException:
            raise SourceUnavailableError(
                f"the Elasticsearch user may not read '{self._config.index}' at {url} (403); grant the read "
                "privilege on the index pattern") from None
        except EsNotFound:
            raise NotFoundError(
                f"index pattern '{self._config.index}' not found on {url}; set ES_INDEX to an existing index or "
                "pattern") from None
        except BadRequestError as exc:
            reason = redact(_reason(exc), self._config.secrets())  # servers may echo the request headers
            raise InvalidInputError(f"Elasticsearch rejected the query: {reason}") from None
        except (ApiError, TransportError) as exc:
            reason = redact(_reason(exc), self._config.secrets())
            raise SourceUnavailableError(
                f"Elasticsearch at {url} failed to {what} ({type(exc).__name__}: {reason})") from None

    # ------------------------------------------------------------ requests
    def _query(self, query: str, window: TimeWindow) -> dict[str, Any]:
        c = compile_query(query, self._fields)
        time_range = {"range": {self._config.time_field: {
            "gte": _ms(window.start), "lt": _ms(window.end), "format": "strict_date_optional_time"}}}
        return {"bool": {"filter": [time_range, c.es]}}

    def _agg_field(self, name: str) -> str | None:
        kind = self._fields.get(name)
        if kind in (FieldKind.KEYWORD, FieldKind.NUMBER, FieldKind.BOOLEAN):
            return name
        if kind == FieldKind.TEXT and self._fields.get(f"{name}.keyword") == FieldKind.KEYWORD:
            return f"{name}.keyword"
        return None

    def _hit(self, raw: Mapping[str, Any]) -> LogHit:
        fields = _flatten_source(raw.get("_source", {}))
        ts_raw = fields.pop(self._config.time_field, None)
        try:
            ts = utc(ts_raw) if isinstance(ts_raw, str) else None
        except InvalidInputError:
            ts = None
        return LogHit(id=str(raw.get("_id")), timestamp=ts, fields=fields, sort=tuple(raw.get("sort") or ()))

    def _sort(self, order: str = "desc") -> list[dict[str, Any]]:
        return [{self._config.time_field: {"order": order, "format": "strict_date_optional_time_nanos"}},
                {"_shard_doc": {"order": order}}]

    def count(self, query: str, window: TimeWindow) -> int:
        resp = self._call(lambda: self._es.count(index=self._config.index, query=self._query(query, window)),
                          "count hits")
        return int(resp["count"])

    def search(self, query: str, window: TimeWindow, *, size: int = 50, cursor: str | None = None) -> SearchPage:
        check_page_size(size)
        q = self._query(query, window)
        if cursor:
            pit_id, after = decode_cursor(cursor)
        else:
            pit = self._call(lambda: self._es.open_point_in_time(index=self._config.index,
                                                                 keep_alive=PIT_KEEP_ALIVE), "open a point in time")
            pit_id, after = pit["id"], None
        kwargs: dict[str, Any] = {"pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, "query": q, "size": size,
                                  "sort": self._sort(), "track_total_hits": True}
        if after:
            kwargs["search_after"] = after
        resp = self._call(lambda: self._es.search(**kwargs), "search")
        hits = tuple(self._hit(h) for h in resp["hits"]["hits"])
        total = int(resp["hits"]["total"]["value"])
        new_pit = resp.get("pit_id", pit_id)
        nxt = encode_cursor((new_pit, list(hits[-1].sort))) if len(hits) == size and hits else None
        return SearchPage(query=query, window=window, total=total, hits=hits, cursor=nxt)

    def histogram(self, query: str, window: TimeWindow, *, buckets: int = 60,
                  split_field: str = LEVEL_FIELD) -> Histogram:
        step = pick_interval(window, buckets)
        agg: dict[str, Any] = {"date_histogram": {"field": self._config.time_field, "fixed_interval": f"{step}s",
                                                  "min_doc_count": 1}}
        split = self._agg_field(split_field)
        if split:
            agg["aggs"] = {"split": {"terms": {"field": split, "size": 20, "missing": NO_VALUE}}}
        resp = self._call(lambda: self._es.search(index=self._config.index, query=self._query(query, window), size=0,
                                                  aggs={"h": agg}), "build the histogram")
        out = []
        for b in resp["aggregations"]["h"]["buckets"]:
            start = datetime.fromtimestamp(b["key"] / 1000, tz=timezone.utc)
            if split:
                for sb in b["split"]["buckets"]:
                    out.append(HistogramBucket(start, str(sb["key"]), int(sb["doc_count"])))
            else:
                out.append(HistogramBucket(start, NO_VALUE, int(b["doc_count"])))
        return Histogram(step, split_field, tuple(out))

    def top_values(self, query: str, window: TimeWindow, fields: list[str] | None = None, *,
                   size: int = 8) -> tuple[FieldFacet, ...]:
        if fields is None:
            fields = [f for f, k in self._fields.items() if k in (FieldKind.KEYWORD, FieldKind.NUMBER,
                                                                   FieldKind.BOOLEAN) and not f.endswith(".keyword")]
        aggs = {}
        for i, f in enumerate(fields):
            if f not in self._fields:
                raise InvalidInputError(f"unknown field '{f}'")
            af = self._agg_field(f)
            if af:
                aggs[f"f{i}"] = {"terms": {"field": af, "size": size}}
        if not aggs:
            return ()
        resp = self._call(lambda: self._es.search(index=self._config.index, query=self._query(query, window), size=0,
                                                  aggs=aggs), "compute top values")
        out = []
        for i, f in enumerate(fields):
            a = resp["aggregations"].get(f"f{i}")
            if not a or not a["buckets"]:
                continue
            vals = tuple((b.get("key_as_string", b["key"]) if isinstance(b["key"], bool) else b["key"],
                          int(b["doc_count"])) for b in a["buckets"])
            out.append(FieldFacet(f, vals, int(a.get("sum_other_doc_count", 0))))
        return tuple(out)

    def surrounding(self, hit: LogHit, *, n: int = 5, same_field: str = SERVICE_FIELD) -> tuple[LogHit, ...]:
        if hit.timestamp is None:
            return (hit,)
        tf = self._config.time_field
        base: list[dict[str, Any]] = []
        value = hit.fields.get(same_field)
        agg = self._agg_field(same_field)
        if value is not None and agg:
            base.append({"term": {agg: value}})
        t = _ms(hit.timestamp)

        def side(op: str, order: str) -> list[LogHit]:
            q = {"bool": {"filter": base + [{"range": {tf: {op: t}}}]}}
            resp = self._call(lambda: self._es.search(index=self._config.index, query=q, size=n,
                                                      sort=[{tf: {"order": order}}]), "read surrounding lines")
            return [self._hit(h) for h in resp["hits"]["hits"]]

        before = side("lt", "desc")
        after = side("gt", "asc")
        return tuple([*reversed(before), hit, *after])

    def sampled_messages(self, query: str, baseline: TimeWindow, window: TimeWindow, *,
                         limit: int = PATTERN_SAMPLE) -> tuple[list[str], list[str], float]:
        """Messages of both windows for the pattern diff, sampled by the cluster at one shared rate.

        The two windows are counted server-side (``size: 0``); when the larger holds more than
        ``limit`` hits, both are read as the same seeded Bernoulli sample (``random_score`` with
        ``min_score``), so template shares and the rate ratio between the windows keep their meaning
        and at most about ``limit`` messages per window leave the cluster.

        Returns:
            (baseline messages, window messages, the fraction sampled: 1.0 when all were read)
        """
        if limit < 1:
            raise InvalidInputError(f"the pattern sample must be at least 1 message, got {limit}")
        largest = max(self.count(query, baseline), self.count(query, window))
        fraction = 1.0 if largest <= limit else limit / largest
        return (self.messages(query, baseline, limit=2 * limit, fraction=fraction),
                self.messages(query, window, limit=2 * limit, fraction=fraction), fraction)

    def messages(self, query: str, window: TimeWindow, *, limit: int | None = None,
                 fraction: float | None = None) -> list[str]:
        """Messages of one window in time order (at most ``limit``); with ``fraction`` < 1, a seeded
        server-side Bernoulli sample at that rate (in score order, which is random)."""
        if MESSAGE_FIELD not in self._fields:
            raise InvalidInputError(f"the index has no '{MESSAGE_FIELD}' field to mine patterns from")
        limit = limit or DEFAULT_MESSAGE_LIMIT
        q = self._query(query, window)
        sort = self._sort("asc")
        if fraction is not None and fraction < 1.0:
            if not 0.0 < fraction:
                raise InvalidInputError(f"the sample fraction must be in (0, 1], got {fraction}")
            q = {"function_score": {"query": q, "random_score": {"seed": SAMPLE_SEED, "field": "_seq_no"},
                                    "boost_mode": "replace", "min_score": 1.0 - fraction}}
            sort = [{"_score": {"order": "desc"}}, {"_shard_doc": {"order": "asc"}}]
        pit = self._call(lambda: self._es.open_point_in_time(index=self._config.index, keep_alive=PIT_KEEP_ALIVE),
                         "open a point in time")
        pit_id = pit["id"]
        out: list[str] = []
        after = None
        try:
            while len(out) < limit:
                kwargs: dict[str, Any] = {"pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}, "query": q,
                                          "size": min(MESSAGES_PAGE, limit - len(out)), "sort": sort,
                                          "source": [MESSAGE_FIELD], "track_total_hits": False}
                if after:
                    kwargs["search_after"] = after
                resp = self._call(lambda: self._es.search(**kwargs), "read messages")
                hits = resp["hits"]["hits"]
                if not hits:
                    break
                out.extend(str(_flatten_source(h.get("_source", {})).get(MESSAGE_FIELD, "")) for h in hits)
                pit_id = resp.get("pit_id", pit_id)
                after = hits[-1]["sort"]
        finally:
            self._close_pit(pit_id)
        return out

    def _close_pit(self, pit_id: str) -> None:
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        try:
            self._es.close_point_in_time(id=pit_id)
        except (ApiError, TransportError):  # the PIT expires on its own after keep_alive
            pass


def _reason(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            root = (err.get("root_cause") or [{}])[0]
            return str(root.get("reason") or err.get("reason") or err.get("type"))
        if err:
            return str(err)
    return str(getattr(exc, "message", "")) or type(exc).__name__


