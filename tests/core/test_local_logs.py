"""LocalLogSource: formats, flattening, bad input, paging, facets, context lines, and the logs CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InvalidInputError, NotFoundError
from core.logquery import FieldKind, QuerySyntaxError, UnknownFieldError
from core.models import TimeWindow
from core.sources.local_logs import LocalLogSource
from core.sources.logs import LogSource

DAY = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z")
REPO = Path(__file__).resolve().parents[2]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path) -> LocalLogSource:
    recs = [
        {"@timestamp": f"2024-05-01T12:00:{i:02d}Z", "message": f"request {i} ok", "log": {"level": "INFO"},
         "service": {"name": "api" if i % 2 else "worker"}, "latency_ms": i}
        for i in range(20)
    ]
    recs.append({"@timestamp": "2024-05-01T14:00:30+02:00", "message": "boom failed", "log.level": "ERROR",
                 "service.name": "api", "latency_ms": 99})
    return LocalLogSource(write_jsonl(tmp_path / "a.jsonl", recs))


def test_nested_and_dotted_keys_become_one_field(mixed):
    assert isinstance(mixed, LogSource)
    assert mixed.info.fields == {"@timestamp": FieldKind.DATE, "message": FieldKind.TEXT,
                                 "log.level": FieldKind.KEYWORD, "service.name": FieldKind.KEYWORD,
                                 "latency_ms": FieldKind.NUMBER}
    assert mixed.count("log.level:ERROR AND service.name:api", DAY) == 1
    assert mixed.count("log.level:INFO", DAY) == 20
    assert mixed.info.records == 21 and mixed.info.warnings == ()


def test_mixed_time_zones_are_converted_to_utc(mixed):
    # 14:00:30+02:00 is 12:00:30Z: the newest record
    page = mixed.search("", DAY, size=1)
    assert page.hits[0].message == "boom failed"
    assert page.hits[0].timestamp.isoformat() == "2024-05-01T12:00:30+00:00"
    assert mixed.count("", TimeWindow.parse("2024-05-01T12:00:30Z/2024-05-01T12:00:31Z")) == 1


def test_paging_with_a_cursor_visits_every_hit_once(mixed):
    seen, cursor = [], None
    while True:
        page = mixed.search("request", DAY, size=6, cursor=cursor)
        assert page.total == 20
        seen += [h.id for h in page.hits]
        cursor = page.cursor
        if cursor is None:
            break
    assert len(seen) == 20 and len(set(seen)) == 20
    times = [h.timestamp for h in mixed.search("request", DAY, size=20).hits]
    assert times == sorted(times, reverse=True)
    with pytest.raises(InvalidInputError, match="cursor"):
        mixed.search("", DAY, cursor="{not json")


def test_histogram_buckets_sum_to_the_count_and_split_by_level(mixed):
    hist = mixed.histogram("", DAY, buckets=60)
    assert hist.interval_seconds == 1800 and hist.total == 21
    assert set(hist.keys()) == {"INFO", "ERROR"}
    fine = mixed.histogram("", TimeWindow.parse("2024-05-01T12:00:00Z/2024-05-01T12:01:00Z"), buckets=60)
    assert fine.interval_seconds == 1 and len(fine.buckets) == 21
    assert mixed.histogram("", DAY, split_field="nope").keys() == ["(none)"]


def test_top_values_and_other(mixed):
    facets = {f.field: f for f in mixed.top_values("", DAY, size=1)}
    assert facets["log.level"].values == (("INFO", 20),) and facets["log.level"].other == 1
    assert facets["service.name"].values == (("api", 11),) and facets["service.name"].other == 10
    with pytest.raises(InvalidInputError, match="unknown field"):
        mixed.top_values("", DAY, ["nope"])


def test_surrounding_lines_come_from_the_same_service(mixed):
    hit = next(h for h in mixed.search("request", DAY, size=20).hits if h.message == "request 9 ok")
    around = mixed.surrounding(hit, n=2)
    assert [h.message for h in around] == ["request 5 ok", "request 7 ok", "request 9 ok", "request 11 ok",
                                          "request 13 ok"]
    everything = mixed.surrounding(hit, n=1, same_field="nope")
    assert [h.message for h in everything] == ["request 8 ok", "request 9 ok", "request 10 ok"]


def test_bad_queries_raise_clear_errors(mixed):
    with pytest.raises(QuerySyntaxError, match="at the end: the query ends too early"):
        mixed.count("request AND (", DAY)
    with pytest.raises(QuerySyntaxError, match="at position 8"):
        mixed.count("request ) x", DAY)
    with pytest.raises(UnknownFieldError, match="did you mean log.level"):
        mixed.count("log.lvel:INFO", DAY)


def test_malformed_lines_missing_times_and_naive_times_are_reported(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(
        '{"@timestamp":"2024-05-01T12:00:00Z","message":"good"}\n'
        "this is not json\n"
        '{"message":"no time at all"}\n'
        '{"@timestamp":"2024-05-01T12:00:01","message":"naive time"}\n'
        '{"@timestamp":"yesterday","message":"bad time"}\n', encoding="utf-8")
    src = LocalLogSource(path)
    warnings = " | ".join(src.info.warnings)
    assert "1 line(s) are not valid records" in warnings
    assert "2 record(s) have no readable '@timestamp' time" in warnings
    assert "1 record(s) have times without a zone; they were read as UTC" in warnings
    assert src.count("", DAY) == 2


def test_non_utf8_lines_are_kept_with_replacement_characters(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"@timestamp":"2024-05-01T12:00:00Z","message":"caf\xe9 \xff broken"}\n'
                     b'{"@timestamp":"2024-05-01T12:00:01Z","message":"fine"}\n')
    src = LocalLogSource(path)
    assert any("1 line(s) had invalid UTF-8" in w for w in src.info.warnings)
    assert src.count("broken", DAY) == 1 and src.count("", DAY) == 2
    assert "\ufffd" in src.search("broken", DAY).hits[0].message


def test_plain_text_with_the_default_and_a_custom_pattern(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("2024-05-01T12:00:00Z INFO [api] started ok\r\n"
                    "2024-05-01 12:00:05,123 ERROR [api] boom failed\r\n"
                    "  at stack frame without a time\r\n"
                    "2024-05-01T14:00:10+02:00 WARN slow request\r\n", encoding="utf-8")
    src = LocalLogSource(path)
    assert src.count("log.level:ERROR AND service.name:api", DAY) == 1
    assert src.count("", DAY) == 3
    assert any("no readable" in w for w in src.info.warnings)
    assert src.search("boom", DAY).hits[0].timestamp.isoformat() == "2024-05-01T12:00:05.123000+00:00"
    custom = tmp_path / "custom.txt"
    custom.write_text("1714564800|checkout|paid order 7\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="message"):
        LocalLogSource(custom, line_pattern=r"^(?P<timestamp>\d+)\|(?P<service__name>[^|]*)\|(?P<msg>.*)$")
    src = LocalLogSource(custom, line_pattern=r"^(?P<ts>\d+)\|(?P<service__name>[^|]*)\|(?P<message>.*)$",
                         time_field="ts")
    assert src.info.fields["service.name"] == FieldKind.KEYWORD
    assert src.count("", DAY) == 0  # "ts" is text here, so no time could be read
    assert any("no readable" in w for w in src.info.warnings)


def test_csv_with_epoch_milliseconds(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("ts,level,message,latency\n1714564800000,INFO,hello,3\n1714564860000,ERROR,bad thing,10\n")
    src = LocalLogSource(path, time_field="ts")
    assert src.count("level:ERROR AND latency:>5", DAY) == 1
    assert src.search("", DAY).hits[0].timestamp.isoformat() == "2024-05-01T12:01:00+00:00"


def test_files_without_time_field_or_records(tmp_path):
    with pytest.raises(InvalidInputError, match="no time field"):
        LocalLogSource(write_jsonl(tmp_path / "n.jsonl", [{"message": "x", "level": "INFO"}]))
    empty = tmp_path / "e.jsonl"
    empty.write_text("not json\n")
    with pytest.raises(InvalidInputError):
        LocalLogSource(empty)
    with pytest.raises(NotFoundError, match="not found"):
        LocalLogSource(tmp_path / "missing.jsonl")


def test_a_2gb_file_is_refused_at_once_with_a_fix(tmp_path):
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as fh:  # sparse: takes no disk space
        fh.truncate(2_000_000_000)
    with pytest.raises(InvalidInputError, match=r"2\.0 GB.*Elasticsearch.*WORKBENCH_LOG_MAX_BYTES"):
        LocalLogSource(huge)


def test_demo_bundle_source_and_messages(demo_bundles):
    src = LocalLogSource.from_path(demo_bundles["demo-fraud-stale"])
    assert src.info.name == "bundle demo-fraud-stale" and src.info.warnings == ()
    assert src.info.span is not None and src.info.records > 50_000
    msgs = src.messages("service.name:fraud-scorer", src.info.span, limit=10)
    assert len(msgs) == 10 and all(isinstance(m, str) for m in msgs)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from core.__main__ import main

    code = main(["logs", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_search_and_patterns(demo_bundles, capsys):
    bundle = str(demo_bundles["demo-fraud-stale"])
    code, out, err = run_cli(capsys, "search", bundle, '"feature cache miss"', "--json", "--size", "2")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["total"] == 6687 and len(doc["hits"]) == 2 and doc["cursor"]
    assert "feature cache miss" in doc["hits"][0]["fields"]["message"]
    code, out, _ = run_cli(capsys, "search", bundle, "log.level:ERROR", "--from", "2026-02-01T00:00:00Z",
                           "--to", "2026-02-06T00:00:00Z", "--size", "1")
    assert code == 0 and out.startswith("2024 hit(s)")
    code, out, err = run_cli(capsys, "patterns", bundle, "--json")
    assert code == 0, err
    diff = json.loads(out)
    assert "feature cache miss for account <*>, using default" in [
        t["template"] for t in diff["templates"] if t["status"] == "new"]
    code, out, _ = run_cli(capsys, "patterns", bundle, "--query", "service.name:fraud-scorer")
    assert code == 0 and "NEW (1)" in out and "feature cache miss for account <*>, using default" in out
    code, _, err = run_cli(capsys, "search", bundle, "log.lvel:ERROR")
    assert code == 2 and err.startswith("error: unknown field 'log.lvel'")
    code, _, err = run_cli(capsys, "search", bundle, "a AND (b")
    assert code == 2 and "query syntax error" in err
    code, _, err = run_cli(capsys, "patterns", bundle, "--window", "2030-01-01T00:00:00Z/2030-01-02T00:00:00Z")
    assert code == 2 and "has no log lines" in err
    code, _, err = run_cli(capsys, "search", "/nonexistent/file.jsonl", "x", "--from", "2024-01-01T00:00:00Z",
                           "--to", "2024-01-02T00:00:00Z")
    assert code == 2 and "not found" in err


def test_cli_es_source_without_configuration_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ES_")}
    es = subprocess.run([sys.executable, "-m", "core", "logs", "search", "es", "x", "--from", "2024-01-01T00:00:00Z",
                         "--to", "2024-01-02T00:00:00Z"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                        env={**env, "PYTHONPATH": str(REPO)})
    assert es.returncode == 2 and es.stderr.startswith("error: Elasticsearch is not configured: set ES_URL")
