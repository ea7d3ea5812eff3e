"""Logs at scale on Elasticsearch: aggregates run on the cluster, the pattern diff reads a shared sample.

Uses the recording stand-in HTTP server of ``test_logquery_elasticsearch.py`` (it is NOT
Elasticsearch: no cluster can run here); these tests check what is sent.
"""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.models import TimeWindow
from tests.core.test_logquery_elasticsearch import StandInElasticsearchServer, make_hits, searches, source_for

BASELINE = TimeWindow.parse("2024-04-30T00:00:00Z/2024-05-01T00:00:00Z")
WINDOW = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z")


@pytest.fixture
def standin():
    with StandInElasticsearchServer(hits=make_hits(40)) as srv:
        yield srv


def test_histogram_and_facets_pull_no_hits(standin):
    source = source_for(standin)
    source.histogram("log.level:ERROR", WINDOW)
    source.top_values("", WINDOW, ["service.name", "log.level"])
    bodies = [r.body for r in searches(standin)]
    assert len(bodies) == 2 and all(b["size"] == 0 and b["aggs"] for b in bodies)


def test_pattern_messages_are_one_seeded_sample_at_one_rate_for_both_windows(standin):
    source = source_for(standin)
    base, win, fraction = source.sampled_messages("", BASELINE, WINDOW, limit=10)
    assert fraction == pytest.approx(10 / 40)
    counts = [r for r in standin.requests if r.path.endswith("/_count")]
    assert len(counts) == 2  # both windows counted on the cluster first
    sampled = [r.body for r in searches(standin)]
    assert sampled and all(b["query"]["function_score"]["min_score"] == pytest.approx(0.75) for b in sampled)
    scores = {str(b["query"]["function_score"]["random_score"]) for b in sampled}
    assert len(scores) == 1 and "seed" in next(iter(scores))  # the same seeded sample in both windows
    assert all(b["size"] <= 20 and b["_source"] == ["message"] for b in sampled)
    assert base and win


def test_small_windows_are_read_whole(standin):
    base, win, fraction = source_for(standin).sampled_messages("", BASELINE, WINDOW, limit=1000)
    assert fraction == 1.0 and len(win) == 40
    assert all("function_score" not in r.body["query"] for r in searches(standin))


def test_a_bad_sample_size_is_refused(standin):
    with pytest.raises(InvalidInputError, match="at least 1"):
        source_for(standin).sampled_messages("", BASELINE, WINDOW, limit=0)


def test_the_pattern_diff_reads_elasticsearch_through_its_server_side_sample(standin, tmp_path):
    """The Logs page and `logs --patterns` take both windows' messages through one call: on
    Elasticsearch that is the bounded, same-rate sample; on local files every line."""
    from core.sources.local_logs import LocalLogSource
    from core.sources.logs import pattern_messages

    source = source_for(standin)
    base, win, fraction = pattern_messages(source, "", BASELINE, WINDOW, limit=10)
    assert fraction == pytest.approx(10 / 40)
    assert any("function_score" in r.body["query"] for r in searches(standin))
    path = tmp_path / "app.log.jsonl"
    path.write_text('{"@timestamp": "2024-05-01T01:00:00Z", "message": "a"}\n'
                    '{"@timestamp": "2024-04-30T01:00:00Z", "message": "b"}\n')
    local = LocalLogSource(path)
    assert pattern_messages(local, "", BASELINE, WINDOW) == (["b"], ["a"], 1.0)
