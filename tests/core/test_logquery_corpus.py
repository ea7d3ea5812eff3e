"""The query corpus: Lucene queries over the demo logs with expected counts and compiled DSL.

The same corpus runs three ways:

* against :class:`LocalLogSource` (always);
* as a DSL check: every query compiles to the Elasticsearch DSL stored in the corpus,
  using only clause types the compiler is meant to emit (always);
* against a real Elasticsearch cluster when ``ES_URL`` is set: the demo logs are
  indexed into a fresh index and every query must return the same count.

Regenerate the expectations after a deliberate change of the demo data or the
compiler with ``python -m tests.core.test_logquery_corpus`` and review the diff.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from core.bundle import read_bundle
from core.logquery import to_es_dsl
from core.models import TimeWindow
from core.sources.local_logs import LocalLogSource

CORPUS = Path(__file__).with_name("query_corpus.json")
ALLOWED_CLAUSES = {"bool", "term", "match_phrase", "range", "exists", "wildcard", "regexp", "match_all"}
ALLOWED_BOOL = {"filter", "should", "must_not", "minimum_should_match"}


def load_corpus() -> list[dict]:
    return json.loads(CORPUS.read_text(encoding="utf-8"))["queries"]


def window_of(bundle, name: str) -> TimeWindow:
    if name == "incident":
        return bundle.window
    if name == "baseline":
        return bundle.baseline
    return TimeWindow(bundle.baseline.start, bundle.window.end)


@pytest.fixture(scope="module")
def local_sources(demo_bundles):
    out = {}
    for bid, path in demo_bundles.items():
        bundle = read_bundle(path)
        out[bid] = (bundle, LocalLogSource(bundle.log_files(), name=bid))
    return out


def _ids(entries):
    return [f"{e['bundle'][5:9]}:{e['window'][:4]}:{e['query']}" for e in entries]


ENTRIES = load_corpus()


def test_corpus_is_large_enough_and_covers_the_syntax():
    assert len(ENTRIES) >= 40
    text = " ".join(e["query"] for e in ENTRIES)
    for construct in ('"', " AND ", " OR ", "NOT ", "+", "-", "*", "?", "/", "[", "}", "_exists_", "(", ":"):
        assert construct in text, construct
    assert {e["bundle"] for e in ENTRIES} == {"demo-fraud-stale", "demo-ctr-drop", "demo-schema-change"}
    assert any(e["count"] == 0 for e in ENTRIES) and sum(e["count"] > 0 for e in ENTRIES) >= 35


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_local_source_count(entry, local_sources):
    bundle, source = local_sources[entry["bundle"]]
    assert source.count(entry["query"], window_of(bundle, entry["window"])) == entry["count"]


def _walk(clause: dict) -> None:
    assert len(clause) == 1, clause
    (kind, body), = clause.items()
    assert kind in ALLOWED_CLAUSES, kind
    if kind == "bool":
        assert set(body) <= ALLOWED_BOOL, body
        for key in ("filter", "should", "must_not"):
            for sub in body.get(key, []):
                _walk(sub)
        if "should" in body:
            assert body["minimum_should_match"] == 1


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_compiled_dsl(entry, local_sources):
    _, source = local_sources[entry["bundle"]]
    dsl = to_es_dsl(entry["query"], source.info.fields)
    assert dsl == entry["es"]
    _walk(dsl)
    json.dumps(dsl)  # serialisable as sent by the client


# ---------------------------------------------------------------- real cluster (only with ES_URL)

ES_MAPPING = {
    "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}],
    "properties": {"@timestamp": {"type": "date"}, "message": {"type": "text"}},
}


@pytest.fixture(scope="module")
def es_index(demo_bundles):
    if not os.environ.get("ES_URL"):
        pytest.skip("ES_URL is not set: the corpus runs against a real Elasticsearch cluster only when one is given")
    from elasticsearch import helpers

    from core.sources.elastic import ElasticConfig

    config = ElasticConfig.from_env()
    es = config.client()
    name = f"workbench-corpus-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=name, mappings=ES_MAPPING)
    try:
        def actions():
            for bid, path in demo_bundles.items():
                for f in read_bundle(path).log_files():
                    with f.open(encoding="utf-8") as fh:
                        for line in fh:
                            doc = json.loads(line)
                            doc["bundle"] = bid
                            yield {"_index": name, "_source": doc}

        helpers.bulk(es, actions(), chunk_size=5000, request_timeout=120)
        es.indices.refresh(index=name)
        yield config, es, name
    finally:
        es.indices.delete(index=name, ignore_unavailable=True)


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_elasticsearch_count(entry, es_index, local_sources):
    from core.sources.elastic import ElasticConfig, ElasticsearchLogSource

    config, es, name = es_index
    source = ElasticsearchLogSource(ElasticConfig(**{**config.__dict__, "index": name}), client=es)
    bundle, _ = local_sources[entry["bundle"]]
    query = f"bundle:{entry['bundle']} AND ({entry['query']})"
    assert source.count(query, window_of(bundle, entry["window"])) == entry["count"]


# ---------------------------------------------------------------- regeneration

def regenerate(target_dir: Path) -> None:
    """Recompute counts and DSL of every corpus entry from freshly generated demo bundles."""
    from core.demo import generate_demo_bundles

    bundles = generate_demo_bundles(target_dir)
    doc = json.loads(CORPUS.read_text(encoding="utf-8"))
    sources = {}
    for bid, path in bundles.items():
        b = read_bundle(path)
        sources[bid] = (b, LocalLogSource(b.log_files(), name=bid))
    for e in doc["queries"]:
        bundle, source = sources[e["bundle"]]
        e["count"] = source.count(e["query"], window_of(bundle, e["window"]))
        e["es"] = to_es_dsl(e["query"], source.info.fields)
    CORPUS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        regenerate(Path(tmp))
    print(f"rewrote {CORPUS}")
