"""Log query resource limits: query size, nesting, the timeout, page size, and the longest line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from core.logquery import (
    DEFAULT_MAX_CHARS, DEFAULT_MAX_DEPTH, DEFAULT_MAX_TERMS, QueryLimits, QueryTooLargeError, compile_query,
)
from core.sources.local_logs import MAX_LINE_BYTES, LocalLogSource, scan_lines
from core.sources.logs import MAX_PAGE_SIZE

FIELDS = {"message": "text", "service.name": "keyword", "http.status": "number"}
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def write_logs(path: Path, n: int) -> Path:
    words = ["checkout", "payment", "timeout", "cache", "miss", "retry", "user", "order"]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"@timestamp": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                                 "log.level": "INFO", "service.name": f"svc-{i % 7}",
                                 "message": f"{words[i % 8]} {words[(i * 3) % 8]} request {i} took {i % 97} ms"}) + "\n")
    return path


def or_query(n: int) -> str:
    return " OR ".join(f"t{i}" for i in range(n))


# ---------------------------------------------------------------- query size, up front


def test_a_50000_term_query_is_refused_at_once_naming_the_limit():
    started = time.monotonic()
    with pytest.raises(QueryTooLargeError, match=r"488,886 characters, more than the 10,000 allowed "
                                                 r"\(WORKBENCH_QUERY_MAX_CHARS\); narrow the query"):
        compile_query(or_query(50_000), FIELDS)
    assert time.monotonic() - started < 0.5  # refused before parsing (parsing it took minutes)


def test_term_count_is_bounded():
    compile_query(or_query(DEFAULT_MAX_TERMS), FIELDS)
    with pytest.raises(QueryTooLargeError, match=r"1,001 terms, more than the 1,000 allowed \(WORKBENCH_QUERY_MAX_TERMS\)"):
        compile_query(or_query(DEFAULT_MAX_TERMS + 1), FIELDS)


@pytest.mark.parametrize("query", [
    "(" * 1000 + "a" + ")" * 1000,  # the reported case
    "(" * 1000 + "a",  # also when unbalanced
    "NOT " * 1000 + "a",
    "a:" * 2000 + "x",
    "-" * 3000 + "a",
    "(" * (DEFAULT_MAX_DEPTH + 1) + "a" + ")" * (DEFAULT_MAX_DEPTH + 1),
], ids=["1000-parens", "unbalanced", "not-chain", "field-chain", "minus-chain", "limit+1"])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(query):
    with pytest.raises(QueryTooLargeError, match=r"nests .* more than the 30 levels allowed \(WORKBENCH_QUERY_MAX_DEPTH\)"):
        compile_query(query, FIELDS)


def test_nesting_within_the_limit_and_parentheses_in_phrases_are_fine():
    deep = "(" * DEFAULT_MAX_DEPTH + "checkout" + ")" * DEFAULT_MAX_DEPTH
    assert compile_query(deep, FIELDS).params == compile_query("checkout", FIELDS).params
    compile_query('"' + "(" * 200 + ' checkout"', FIELDS)


def test_limits_are_configurable(monkeypatch):
    assert QueryLimits.from_env({}) == QueryLimits(DEFAULT_MAX_CHARS, DEFAULT_MAX_TERMS, DEFAULT_MAX_DEPTH)
    monkeypatch.setenv("WORKBENCH_QUERY_MAX_TERMS", "3")
    with pytest.raises(QueryTooLargeError, match="4 terms, more than the 3 allowed"):
        compile_query("a OR b OR c OR d", FIELDS)
    compile_query(or_query(2000), FIELDS, limits=QueryLimits(max_chars=100_000, max_terms=5_000))
    monkeypatch.setenv("WORKBENCH_QUERY_MAX_DEPTH", "-1")
    with pytest.raises(InvalidInputError, match="WORKBENCH_QUERY_MAX_DEPTH='-1' is not a positive whole number"):
        compile_query("a", FIELDS)


# ---------------------------------------------------------------- the timeout holds


def test_the_timeout_holds_for_a_slow_local_query(tmp_path):
    source = LocalLogSource(write_logs(tmp_path / "app.jsonl", 100_000), timeout_s=0.1)
    window = source.info.span
    query = or_query(300)  # 300 word tests over 100,000 lines: about a second of DuckDB scanning
    try:
        for call in (lambda: source.count(query, window), lambda: source.search(query, window),
                     lambda: source.histogram(query, window), lambda: source.top_values(query, window)):
            started = time.monotonic()
            with pytest.raises(InvalidInputError, match=r"took longer than 0.1 s and was stopped; narrow"):
                call()
            assert time.monotonic() - started < 2.5
        # a quick query still answers, and the source is usable while the stopped ones wind down
        assert source.count("checkout", window) > 0
    finally:
        for t in threading.enumerate():
            if t.name.startswith("log-query"):
                t.join(120)
        source.close()


# ---------------------------------------------------------------- page size


@pytest.mark.parametrize("size", [-1, 0, MAX_PAGE_SIZE + 1, 10**12])
def test_page_size_is_bounded_in_the_source(tmp_path, size):
    source = LocalLogSource(write_logs(tmp_path / "app.jsonl", 10))
    with pytest.raises(InvalidInputError, match="page size must be a whole number of hits from 1 to 10,000"):
        source.search("", source.info.span, size=size)
    assert len(source.search("", source.info.span, size=MAX_PAGE_SIZE).hits) == 10


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("size", ["-1", "0", "100000000000"])
def test_cli_size_out_of_range_is_a_usage_error(tmp_path, size):
    proc = run_cli("logs", "search", str(write_logs(tmp_path / "app.jsonl", 10)), "--from", "2024-05-01T00:00:00Z",
                   "--to", "2024-05-02T00:00:00Z", "--size", size)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: --size must be from 1 to 10,000 (the hits printed), not {int(size)}; "
                                        "narrow the query or the time range to see fewer hits"]


def test_cli_deep_nesting_is_one_line(tmp_path):
    proc = run_cli("logs", "search", str(write_logs(tmp_path / "app.jsonl", 10)), "(" * 1000 + "a" + ")" * 1000,
                   "--from", "2024-05-01T00:00:00Z", "--to", "2024-05-02T00:00:00Z")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "WORKBENCH_QUERY_MAX_DEPTH" in proc.stderr


# ---------------------------------------------------------------- the longest line


def test_a_line_over_the_limit_is_skipped_and_reported_as_file_line(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps({"@timestamp": "2024-05-01T12:00:00Z", "message": "first"}) + "\n")
        fh.write('{"@timestamp": "2024-05-01T12:00:01Z", "message": "' + "x" * (2 * MAX_LINE_BYTES + 1) + '"}\n')
        fh.write(json.dumps({"@timestamp": "2024-05-01T12:00:02Z", "message": "third"}) + "\n")
    source = LocalLogSource(path)
    assert source.info.records == 2
    assert any(w.startswith("big.jsonl:2 (32.0 MiB): longer than the 16 MiB") for w in source.info.warnings)
    assert [h.message for h in source.search("", source.info.span).hits] == ["third", "first"]


def test_scan_lines_finds_every_long_line_and_bad_utf8(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"aa\nbbbbbb\nc\n" + b"d" * 10 + b"\nee\xff")
    long, utf8 = scan_lines(path, limit=5)
    assert [(x.line, x.start, x.length) for x in long] == [(2, 3, 6), (4, 12, 10)]
    assert utf8 is False
    assert scan_lines(path, limit=100) == ([], False)


def test_bundle_validation_refuses_the_same_long_line_with_file_and_line(demo_bundles, tmp_path):
    import shutil

    from core.bundle import validate_bundle

    bundle = tmp_path / "b"
    shutil.copytree(demo_bundles["demo-fraud-stale"], bundle)
    log = sorted((bundle / "logs").glob("*.jsonl"))[0]
    lines = sum(1 for _ in log.open("rb"))
    with log.open("a") as fh:
        fh.write('{"@timestamp": "2026-02-03T12:00:00Z", "message": "' + "x" * MAX_LINE_BYTES + '"}\n')
    problems = [p for p in validate_bundle(bundle) if p.line == lines + 1]
    assert [(p.file, p.message) for p in problems] == [
        (f"logs/{log.name}", "the line has 16.0 MiB, more than the 16 MiB of one log record")]
    # and the log search skips exactly that line, reporting the same place
    warnings = LocalLogSource(log).info.warnings
    assert any(w.startswith(f"{log.name}:{lines + 1} (16.0 MiB): longer than the 16 MiB") for w in warnings)
