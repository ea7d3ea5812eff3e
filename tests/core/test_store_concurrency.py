"""Several processes edit one incident at once: no accepted write is lost, every refusal is reported."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from core.store.incidents import create_incident, get_incident

WORKERS = 4
ATTEMPTS = 75  # 300 writes in all


def _editor(url: str, worker: int, attempts: int, queue) -> None:
    from core.errors import ConcurrentEditError
    from core.store import open_store
    from core.store.incidents import get_incident, update_incident

    store = open_store(url, migrate=False)
    accepted, refused = [], 0
    for n in range(attempts):
        current = get_incident(store, "race")
        token = f"w{worker}-{n}"
        try:
            update_incident(store, "race", version=current.version,
                            participants=[*current.participants, token])
            accepted.append(token)
        except ConcurrentEditError:
            refused += 1
    store.dispose()
    queue.put((accepted, refused))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_editors_lose_nothing(backend, request):
    store = request.getfixturevalue("sqlite_store" if backend == "sqlite" else "pg_store")
    create_incident(store, id="race", title="shared incident")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_editor, args=(store.url, w, ATTEMPTS, queue)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    accepted = [t for acc, _ in results for t in acc]
    refused = sum(r for _, r in results)
    assert len(accepted) + refused == WORKERS * ATTEMPTS
    final = get_incident(store, "race")
    # every accepted write is present, in order per writer, and nothing else is
    assert sorted(final.participants) == sorted(accepted)
    assert final.version == 1 + len(accepted)
    assert refused > 0, "the editors never collided; the test did not exercise concurrency"
