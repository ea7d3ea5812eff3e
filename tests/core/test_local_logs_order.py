"""LocalLogSource's load paths (already in time order, sorted at load, a field named rowid) and the text
pre-test of core.logquery: every path gives the same records, ids and matches."""

from __future__ import annotations

import json
import random
import re

import duckdb
import pytest

from core.logquery import FieldKind, compile_query
from core.models import TimeWindow
from core.sources.local_logs import LocalLogSource

DAY = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z")
WORDS = ["Timeout", "ſtatus", "status", "STATUS", "\u212aill", "kill", "İstanbul", "payment", "pay_ment", "o'neil",
         "v1.2", "straße", "café", "err", "→timeout", "étimeout", "timeout_x"]


def _records(n: int, seed: int, step: int, offset: int = 0, *, ascii_only: bool = False) -> list[dict]:
    rng = random.Random(seed)
    words = [w for w in WORDS if w.isascii()] if ascii_only else WORDS
    out = []
    for i in range(n):
        sec = offset + i // 2 * step  # pairs of records share a time
        out.append({"@timestamp": f"2024-05-01T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}Z",
                    "message": " ".join(rng.choice(words) for _ in range(3)), "service.name": rng.choice("ab"),
                    "i": i})
    return out


def _write(path, records, extra_lines=()):
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _all(src: LocalLogSource, query: str = "") -> list[tuple[str, int]]:
    hits, cursor = [], None
    while True:
        page = src.search(query, DAY, size=7, cursor=cursor)
        hits += [(h.id, h.fields["i"]) for h in page.hits]
        cursor = page.cursor
        if cursor is None:
            return hits


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("order")
    recs = _records(60, 1, 7)
    shuffled = list(recs)
    random.Random(2).shuffle(shuffled)
    return {
        "sorted": _write(d / "sorted.jsonl", recs),
        "shuffled": _write(d / "shuffled.jsonl", shuffled),
        "bad": _write(d / "bad.jsonl", recs[:30], ["{not json"]),
        "bad_tail": _write(d / "bad_tail.jsonl", recs[30:]),
        "rowid": _write(d / "rowid.jsonl", [{**r, "rowid": 1000 - r["i"]} for r in recs]),
        "recs": recs,
    }


def _expected(recs: list[dict]) -> list[tuple[str, int]]:
    """Newest first; records of the same time in reverse file order; ids are positions in time order."""
    in_order = sorted(range(len(recs)), key=lambda k: (recs[k]["@timestamp"], k))
    return [(str(pos + 1), recs[k]["i"]) for pos, k in reversed(list(enumerate(in_order)))]


@pytest.mark.parametrize("name", ["sorted", "shuffled", "rowid"])
def test_sorted_and_unsorted_files_give_the_same_ids_and_order(files, name):
    src = LocalLogSource(files[name])
    got = _all(src)
    if name == "shuffled":
        # the same records as the sorted file, with ties broken by line number in the shuffled file
        assert sorted(i for _, i in got) == list(range(60))
        times = [h.timestamp for h in src.search("", DAY, size=60).hits]
        assert times == sorted(times, reverse=True)
        assert [h for h, _ in got] == [str(k) for k in range(60, 0, -1)]
    else:
        assert got == _expected(files["recs"])
    if name == "rowid":  # the field keeps its values, the ids stay positions
        assert src.search("", DAY, size=1).hits[0].fields["rowid"] == 1000 - 59
    mid = src.search("", DAY, size=30).hits[-1]
    around = src.surrounding(mid, n=2, same_field="nope")
    assert [int(h.id) for h in around] == [int(mid.id) + k for k in (-2, -1, 0, 1, 2)]


def test_files_loaded_together_and_a_bad_line_keep_time_order_and_dense_ids(files):
    src = LocalLogSource([files["bad"], files["bad_tail"]])
    assert any("not valid records" in w for w in src.info.warnings)
    assert _all(src) == _expected(files["recs"])
    assert src.messages("", DAY) == [r["message"] for r in sorted(files["recs"], key=lambda r: r["@timestamp"])]


# ---------------------------------------------------------------- text matching pre-test

def _reference(values: list[str | None], query: str) -> list[bool]:
    """Matches by the plain case-insensitive regex with Unicode word boundaries (no pre-test)."""
    nonword = r"[^\pL\pN_]"
    word = r"[\pL\pN_]"
    if "*" in query or "?" in query:
        body = "".join(word + "*" if c == "*" else word if c == "?" else re.escape(c) for c in query.lower())
    else:
        body = f"{nonword}+".join(re.escape(t) for t in re.findall(r"\w+(?:[.']\w+)*", query.lower()))
    rx = f"(?i)(?:^|{nonword}){body}(?:$|{nonword})"
    con = duckdb.connect()
    return [bool(con.execute("SELECT COALESCE(regexp_matches(?, ?), FALSE)", [v, rx]).fetchone()[0])
            for v in values]


@pytest.mark.parametrize("query", ["status", "STATUS", "kill", "istanbul", "timeout", "stra*", "st?tus", "café",
                                   "o'neil", "v1.2", "pay_ment", '"payment status"', "err*", "tim*"])
def test_the_text_pre_test_never_changes_which_values_match(query):
    values = [" ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)) for i in range(len(WORDS) * 3)]
    values += WORDS + [None, "", "ſtatus", "Kill", "x→timeout←y", "TIMEOUT"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, message VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    fields = {"message": FieldKind.TEXT}
    c = compile_query(query, fields)
    assert ("ILIKE" in c.sql) == (query != "st?tus")  # a piece of 3+ safe characters gets the pre-test
    got = [bool(r[0]) for r in con.execute(f"SELECT {c.sql} FROM t ORDER BY i", list(c.params)).fetchall()]
    assert got == _reference(values, query)
    negated = [bool(r[0]) for r in con.execute(f"SELECT NOT ({c.sql}) FROM t ORDER BY i", list(c.params)).fetchall()]
    assert negated == [not g for g in got]  # never NULL, so NOT keeps the rows without a message
    ascii_values = [v for v in values if v is None or v.isascii()]
    con.execute("CREATE TABLE a AS SELECT * FROM t WHERE message IS NULL OR strlen(message) = length(message)")
    fast = compile_query(query, fields, ascii_fields={"message"})
    assert r"\pL" not in "".join(map(str, fast.params))
    got = [bool(r[0]) for r in con.execute(f"SELECT {fast.sql} FROM a ORDER BY i", list(fast.params)).fetchall()]
    assert got == _reference(ascii_values, query)


def test_ascii_only_logs_use_ascii_classes_with_the_same_matches(tmp_path):
    plain = _records(40, 5, 3, ascii_only=True)
    src = LocalLogSource(_write(tmp_path / "plain.jsonl", plain))
    mixed = LocalLogSource(_write(tmp_path / "mixed.jsonl", plain + [{**plain[0], "message": "café timeout"}]))
    assert src._ascii_fields == {"message"} and mixed._ascii_fields == frozenset()
    for q in ("timeout", "kill", "tim*", '"payment status"', "NOT status"):
        expected = sum(_reference([r["message"] for r in plain], q.removeprefix("NOT ")))
        n = src.count(q, DAY)
        assert n == (len(plain) - expected if q.startswith("NOT ") else expected)
