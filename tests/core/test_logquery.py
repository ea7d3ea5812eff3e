"""Lucene parsing and compilation to Elasticsearch DSL and parameterised DuckDB SQL."""

from __future__ import annotations

import duckdb
import pytest

from core.errors import InvalidInputError
from core.logquery import (
    FieldKind, QuerySyntaxError, UnknownFieldError, add_filters, compile_query, parse_query, to_es_dsl, to_sql,
)

FIELDS = {
    "@timestamp": FieldKind.DATE, "message": FieldKind.TEXT, "log.level": FieldKind.KEYWORD,
    "service.name": FieldKind.KEYWORD, "latency_ms": FieldKind.NUMBER, "ok": FieldKind.BOOLEAN,
}
ROWS = [
    ("2024-05-01T12:00:00Z", "feature cache miss for account acc-1, using default", "WARN", "fraud-scorer", 5, True),
    ("2024-05-01T12:00:01Z", "scored txn txn-1 score=0.5 in 9 ms", "INFO", "fraud-scorer", 9, True),
    ("2024-05-01T12:00:02Z", "timeout waiting for fraud decision after 3000 ms", "ERROR", "txn-processor", 3000, False),
    ("2024-05-01T12:00:03Z", "Processed txn OK", "INFO", "txn-processor", None, None),
    ("2024-05-01T12:00:04Z", "it's 100% done_now", "DEBUG", "it's", 1, True),
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone='UTC'")
    c.execute('CREATE TABLE t ("@timestamp" TIMESTAMPTZ, message VARCHAR, "log.level" VARCHAR, '
              '"service.name" VARCHAR, latency_ms BIGINT, ok BOOLEAN)')
    c.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    return c


def matches(con, query: str) -> list[int]:
    sql, params = to_sql(query, FIELDS)
    rows = con.execute(f'SELECT latency_ms, message FROM t WHERE {sql} ORDER BY "@timestamp"', list(params)).fetchall()
    return [ROWS.index(next(r for r in ROWS if r[1] == m)) for _, m in rows]


@pytest.mark.parametrize("query, expected", [
    ("", [0, 1, 2, 3, 4]),
    ("cache", [0]),
    ("CACHE", [0]),
    ("cach", []),
    ('"cache miss"', [0]),
    ('"miss cache"', []),
    ("cache timeout", [0, 2]),
    ("cache AND timeout", []),
    ("+txn -timeout", [1, 3]),
    ("txn OR -timeout", [0, 1, 3, 4]),
    ("NOT txn", [0, 2, 4]),
    ("log.level:INFO", [1, 3]),
    ("log.level:info", []),
    ("log.level:(WARN OR ERROR)", [0, 2]),
    ("service.name:fraud-*", [0, 1]),
    ("service.name:*scorer", [0, 1]),
    ("service.name:txn-processo?", [2, 3]),
    ("service.name:/txn-.*/", [2, 3]),
    ("latency_ms:[5 TO 9]", [0, 1]),
    ("latency_ms:{5 TO 9]", [1]),
    ("latency_ms:>=9", [1, 2]),
    ("latency_ms:<5", [4]),
    ("latency_ms:[* TO 5]", [0, 4]),
    ("latency_ms:3000", [2]),
    ("_exists_:latency_ms", [0, 1, 2, 4]),
    ("NOT _exists_:latency_ms", [3]),
    ("latency_ms:*", [0, 1, 2, 4]),
    ("*:*", [0, 1, 2, 3, 4]),
    ("NOT *:*", []),
    ("ok:true", [0, 1, 4]),
    ("NOT ok:true", [2, 3]),
    ("@timestamp:[2024-05-01T12:00:01Z TO 2024-05-01T12:00:02Z]", [1, 2]),
    ("@timestamp:>=2024-05-01T12:00:03Z", [3, 4]),
    ("txn-processor", []),
    ("message:timeout AND service.name:txn-processor", [2]),
    ("sco*", [1]),
    ("scor?", [1]),
    ("0.5", [1]),
    ('"score 0.5"', [1]),
    ('service.name:"it\'s"', [4]),
    ("done_now", [4]),
    ("(cache OR scored) AND NOT log.level:WARN", [1]),
    ("cache^2 OR timeout", [0, 2]),
])
def test_sql_semantics(con, query, expected):
    assert matches(con, query) == expected


def test_values_are_parameters_never_sql(con):
    evil = "x' OR 1=1; DROP TABLE t; --"
    sql, params = to_sql(f'service.name:"{evil}"', FIELDS)
    assert evil not in sql and evil in params
    assert matches(con, f'service.name:"{evil}"') == []
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == len(ROWS)


def test_like_wildcards_escape_percent_and_underscore(con):
    # "%" and "_" in a keyword wildcard are literal characters, not LIKE wildcards
    sql, params = to_sql("service.name:fraud%*", FIELDS)
    assert params == ("fraud\\%%",)
    assert matches(con, "service.name:fraud%*") == []


@pytest.mark.parametrize("query, dsl", [
    ("", {"match_all": {}}),
    ("*:*", {"match_all": {}}),
    ("log.level:ERROR", {"term": {"log.level": "ERROR"}}),
    ('"cache miss"', {"match_phrase": {"message": "cache miss"}}),
    ("a AND b", {"bool": {"filter": [{"match_phrase": {"message": "a"}}, {"match_phrase": {"message": "b"}}]}}),
    ("a OR b", {"bool": {"should": [{"match_phrase": {"message": "a"}}, {"match_phrase": {"message": "b"}}],
                         "minimum_should_match": 1}}),
    ("NOT a", {"bool": {"must_not": [{"match_phrase": {"message": "a"}}]}}),
    ("+a -b", {"bool": {"filter": [{"match_phrase": {"message": "a"}},
                                   {"bool": {"must_not": [{"match_phrase": {"message": "b"}}]}}]}}),
    ("service.name:fraud-*", {"wildcard": {"service.name": {"value": "fraud-*"}}}),
    ("cach*", {"wildcard": {"message": {"value": "cach*", "case_insensitive": True}}}),
    ("latency_ms:[5 TO 9}", {"range": {"latency_ms": {"gte": 5, "lt": 9}}}),
    ("latency_ms:>2.5", {"range": {"latency_ms": {"gt": 2.5}}}),
    ('@timestamp:["2024-05-01T12:00:00+02:00" TO *]', {"range": {"@timestamp": {"gte": "2024-05-01T10:00:00.000Z"}}}),
    ("_exists_:service.name", {"exists": {"field": "service.name"}}),
    ("log.level:/ERR.*/", {"regexp": {"log.level": {"value": "ERR.*"}}}),
    ("ok:false", {"term": {"ok": False}}),
])
def test_es_dsl(query, dsl):
    assert to_es_dsl(query, FIELDS) == dsl


@pytest.mark.parametrize("query, position, words", [
    ("a AND (b", None, "not closed"),
    ('a "b', 2, "quote"),
    ("a AND ) b", 6, "closing parenthesis"),
    (":b", 0, "field name"),
    ("a AND", None, "operator"),
    ("a && b", 2, "AND, OR and NOT"),
    ("a:b:c", 0, "one field per value"),
    ("x~2", None, None),
])
def test_syntax_errors_give_position_and_hint(query, position, words):
    fields = {**FIELDS, "a": FieldKind.KEYWORD, "x": FieldKind.KEYWORD}
    with pytest.raises(QuerySyntaxError) as info:
        compile_query(query, fields)
    err = info.value
    if words is not None:
        assert err.position == position
        assert words in str(err)
    assert isinstance(err, InvalidInputError)
    assert err.caret().splitlines()[0] == query


def test_unknown_field_suggests_close_names():
    with pytest.raises(UnknownFieldError, match=r"unknown field 'log\.levl'.*did you mean log\.level"):
        compile_query("log.levl:ERROR", FIELDS)
    with pytest.raises(UnknownFieldError, match="known fields"):
        compile_query("zzz:1", FIELDS)
    with pytest.raises(UnknownFieldError, match="_exists_|unknown field 'nope'"):
        compile_query("_exists_:nope", FIELDS)


@pytest.mark.parametrize("query, words", [
    ("latency_ms:abc", "not a number"),
    ("message:[a TO b]", "free text"),
    ("message:/re/", "keyword fields"),
    ("ok:maybe", "true/false"),
    ("@timestamp:yesterday", "ISO 8601"),
    ("latency_ms:5*", "wildcards work on text and keyword"),
    ("log.level:/[/", "not a valid regular expression"),
])
def test_values_that_do_not_fit_their_field(query, words):
    with pytest.raises(InvalidInputError, match=words):
        compile_query(query, FIELDS)


def test_free_text_needs_a_message_field():
    with pytest.raises(UnknownFieldError, match="free-text terms search the 'message' field"):
        compile_query("boom", {"level": FieldKind.KEYWORD})


def test_add_filters_builds_escaped_pills(con):
    q = add_filters("txn", [("service.name", "txn-processor", True), ("log.level", 'ERR"OR', False)])
    assert q == '(txn) AND service.name:"txn-processor" AND NOT log.level:"ERR\\"OR"'
    assert parse_query(q) is not None
    assert matches(con, q) == [3]
    assert add_filters("", [("log.level", "INFO", True)]) == 'log.level:"INFO"'
