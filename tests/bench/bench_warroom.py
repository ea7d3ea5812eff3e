"""War-room load on the store: N editors on two "replicas" (two engines on one PostgreSQL) editing the same
incident's timeline and fishbone at once, as signed-in responders (role check and audit on every write).

    python tests/bench/bench_warroom.py [--sessions 10] [--seconds 60] [--database URL]

Each editor loops: read the timeline, edit one shared event (version-checked), add an event, and edit
one shared fishbone cause. It reports p50/p95 latency of these interactions, accepted and refused
(changed by someone else) writes, and checks that every accepted write is in the store and in the
audit log. This measures the store and the checks the browser sessions go through; it does not drive
browsers (the browser version of this benchmark, 20 Chromium sessions on two `streamlit run`
replicas, is not written yet).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import sqlalchemy

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from core.errors import ConcurrentEditError
from core.store import open_store
from core.store.audit import list_audit
from core.store.fishbone import add_cause, get_cause, get_fishbone, update_cause
from core.store.incidents import create_incident
from core.store.timeline import add_event, get_event, list_events, update_event
from core.team import AccessRole, Identity

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--database", default=ADMIN, help="admin URL; a scratch database is created and dropped")
    args = ap.parse_args()
    name = f"wb_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = f"{args.database.rsplit('/', 1)[0]}/{name}"
    replicas = [open_store(url), open_store(url)]
    try:
        run(replicas, args.sessions, args.seconds)
    finally:
        for r in replicas:
            r.dispose()
        with admin.connect() as c:
            c.execute(sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))


def run(replicas, sessions: int, seconds: float) -> None:
    base = replicas[0]
    create_incident(base, id="INC-LOAD", title="load")
    shared = add_event(base, "INC-LOAD", timestamp=datetime.now(timezone.utc), kind="annotation", title="shared")
    cat = get_fishbone(base, "INC-LOAD").categories[0]
    cause = add_cause(base, "INC-LOAD", category_id=cat.id, text="shared cause")
    lat: list[float] = []
    accepted: list[tuple[str, int | str]] = []
    refused = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def editor(i: int) -> None:
        who = Identity(f"editor{i}@example.com", f"editor{i}@example.com", AccessRole.RESPONDER, "claim")
        store = replicas[i % 2].as_user(who, via="bench")
        n = 0
        while time.monotonic() < stop:
            n += 1
            for step in ("read", "edit", "add", "cause"):
                t0 = time.perf_counter()
                try:
                    if step == "read":
                        list_events(store, "INC-LOAD")
                    elif step == "edit":
                        ev = get_event(store, shared.id)
                        update_event(store, ev.id, version=ev.version, title=f"shared by {i} #{n}")
                        with lock:
                            accepted.append(("edit", f"shared by {i} #{n}"))
                    elif step == "add":
                        ev = add_event(store, "INC-LOAD", timestamp=datetime.now(timezone.utc), kind="annotation",
                                       title=f"note {i}-{n}")
                        with lock:
                            accepted.append(("add", ev.id))
                    else:
                        c = get_cause(store, cause.id)
                        update_cause(store, c.id, version=c.version, notes=f"{i}-{n}")
                        with lock:
                            accepted.append(("cause", f"{i}-{n}"))
                except ConcurrentEditError:
                    with lock:
                        refused[0] += 1
                with lock:
                    lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=editor, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    added = {e.id for e in list_events(base, "INC-LOAD")}
    lost = [x for kind, x in accepted if kind == "add" and x not in added]
    audit = list_audit(base, "INC-LOAD")
    audited_updates = sum(1 for e in audit if e.action == "update" and e.object_type in ("timeline_events", "causes"))
    edits = sum(1 for k, _ in accepted if k in ("edit", "cause"))
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(f"editors {sessions} on 2 engines, {seconds:.0f} s: {len(lat)} interactions")
    print(f"latency p50 {p(0.5):.1f} ms  p95 {p(0.95):.1f} ms  mean {statistics.mean(lat) * 1000:.1f} ms")
    print(f"writes accepted {len(accepted)}, refused as changed by someone else {refused[0]}")
    print(f"lost accepted adds {len(lost)}; accepted edits {edits}, audited edits {audited_updates}")


if __name__ == "__main__":
    main()
