"""Several analysts edit one fishbone at once (war room), each with their own database connection pool.

Runs against SQLite (file, WAL) and a fresh PostgreSQL database. Threads share nothing but the URL:
every editor opens its own engine, like separate app replicas would.
"""

from __future__ import annotations

import threading

import pytest

from core.errors import ConcurrentEditError, InvalidInputError
from core.store import open_store
from core.store import fishbone as fb
from core.store.incidents import create_incident

EDITORS = 4


def _run(url: str, work, n: int = EDITORS) -> list:
    """Start ``n`` editors at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def editor(i: int) -> None:
        store = open_store(url, migrate=False)
        try:
            barrier.wait()
            results[i] = work(store, i)
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            store.dispose()

    threads = [threading.Thread(target=editor, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def shared(store):
    create_incident(store, id="war-room", title="Fraud scores collapsed")
    f = fb.get_fishbone(store, "war-room")
    return store.url, f.categories[0].id


def test_concurrent_adds_are_all_kept(shared):
    url, cat = shared
    results = _run(url, lambda s, i: [fb.add_cause(s, "war-room", category_id=cat, text=f"cause {i}-{k}")
                                      for k in range(5)])
    assert not [r for r in results if isinstance(r, Exception)], results
    store = open_store(url, migrate=False)
    assert len(fb.get_fishbone(store, "war-room").causes) == EDITORS * 5
    store.dispose()


def test_concurrent_duplicates_only_one_wins(shared):
    url, cat = shared
    results = _run(url, lambda s, i: fb.add_cause(s, "war-room", category_id=cat, text="Feature feed went STALE"
                                                  if i % 2 else "feature feed went stale"))
    wins = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InvalidInputError)]
    assert len(wins) == 1 and len(refused) == EDITORS - 1
    assert "already on the fishbone" in str(refused[0])


def test_stale_edits_are_refused_with_fresh_state(shared):
    url, cat = shared
    store = open_store(url, migrate=False)
    cause = fb.add_cause(store, "war-room", category_id=cat, text="Feed stale")
    results = _run(url, lambda s, i: fb.update_cause(s, cause.id, version=cause.version, notes=f"editor {i}"))
    wins = [r for r in results if not isinstance(r, Exception)]
    stale = [r for r in results if isinstance(r, ConcurrentEditError)]
    assert len(wins) == 1 and len(stale) == EDITORS - 1
    fresh = fb.get_cause(store, cause.id)
    assert fresh.notes == wins[0].notes and fresh.version == 2
    assert all(e.current == fresh for e in stale)  # each loser sees the winner's state
    assert "changed by someone else" in str(stale[0])
    store.dispose()


def test_no_update_is_lost_with_reload_and_retry(shared):
    """Each editor appends its mark with read-modify-write, retrying when refused: every mark survives."""
    url, cat = shared
    store = open_store(url, migrate=False)
    cause = fb.add_cause(store, "war-room", category_id=cat, text="Model default score")
    rounds = 3

    def work(s, i):
        refusals = 0
        for r in range(rounds):
            while True:
                current = fb.get_cause(s, cause.id)
                try:
                    fb.update_cause(s, cause.id, version=current.version, notes=f"{current.notes}[{i}.{r}]")
                    break
                except ConcurrentEditError:
                    refusals += 1
        return refusals

    results = _run(url, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    final = fb.get_cause(store, cause.id)
    marks = {f"[{i}.{r}]" for i in range(EDITORS) for r in range(rounds)}
    assert all(m in final.notes for m in marks)
    assert final.version == 1 + EDITORS * rounds
    store.dispose()


def test_structure_stays_two_levels_under_races(shared):
    """One editor nests A under B while another nests B under A: never a cycle or a third level."""
    url, cat = shared
    store = open_store(url, migrate=False)
    a = fb.add_cause(store, "war-room", category_id=cat, text="A")
    b = fb.add_cause(store, "war-room", category_id=cat, text="B")
    pairs = [(a, b), (b, a)]
    results = _run(url, lambda s, i: fb.update_cause(s, pairs[i][0].id, version=1, parent_id=pairs[i][1].id), n=2)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    causes = {c.id: c for c in fb.get_fishbone(store, "war-room").causes}
    for c in causes.values():
        if c.parent_id is not None:
            assert causes[c.parent_id].parent_id is None
    store.dispose()


def test_demo_seeding_from_several_processes_draws_once(shared):
    from core.demo.fishbones import demo_fishbone_spec, seed_fishbone

    url, _cat = shared
    spec = demo_fishbone_spec("demo-fraud-stale")
    results = _run(url, lambda s, i: seed_fishbone(s, "war-room", spec, only_if_empty=True))
    assert sorted(results) == [False] * (EDITORS - 1) + [True], results
    store = open_store(url, migrate=False)
    assert len(fb.get_fishbone(store, "war-room").causes) == 6
    store.dispose()
