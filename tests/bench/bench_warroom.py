"""War-room load: signed-in people in headless Chromium on two `streamlit run` replicas of one PostgreSQL store,
editors changing the same incident's timeline and fishbone through the page widgets while the others read,
navigate and follow the commander.

    python tests/bench/bench_warroom.py [--sessions 20] [--editors 10] [--seconds 300] [--browsers 4]
    python tests/bench/bench_warroom.py --store-only [--sessions 10] [--seconds 60]

The browser run creates a scratch database, builds the demo incidents into it (not timed), starts a real
OpenID Connect provider (oidc-provider-mock) and two app replicas with ``[auth]`` secrets sharing one
``cookie_secret``, signs every session in through the provider's page, then for ``--seconds``:

* each editor loops: open the Timeline, save a new title of one shared event ("Edit & history"), add an
  entry, open the Fishbone, save new notes of one shared cause (twice); a short think time between steps;
* the first reader is a commander who moves between pages; half of the other readers "Follow the
  commander"; the rest open pages themselves.

It prints p50/p95 page-interaction latency (from the click until the page has finished its run and shows
the outcome) per kind and overall, accepted and refused writes, and checks at the end, against the store
and the audit log, that every accepted write is there (lost writes), that no refused write was written, and
that every refusal showed "changed by someone else" with the typed value still in the form. Everything
listens on 127.0.0.1 only; the run is bounded by ``--seconds`` plus sign-in and a grace period.

``--store-only`` drives the store from threads instead (two engines as two replicas): the cost of the
version checks, role checks and audit without browsers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from core.errors import ConcurrentEditError  # noqa: E402
from core.store import open_store  # noqa: E402
from core.store.audit import list_audit  # noqa: E402
from core.store.fishbone import add_cause, get_cause, get_fishbone, update_cause  # noqa: E402
from core.store.incidents import create_incident  # noqa: E402
from core.store.timeline import add_event, get_event, list_events, update_event  # noqa: E402
from core.team import AccessRole, Identity  # noqa: E402
from tests.servers import free_port, http_ok  # noqa: E402

ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
INCIDENT = "INC-LOAD"
REFUSED_TEXT = "changed by someone else"
CPU_OF = {"app replicas": "streamlit run app.py", "Chromium": "chromium", "PostgreSQL": "postgres",
          "Playwright driver": "run-driver"}
BUSY = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const s = app && app.getAttribute('data-test-script-state');
    return !app || s === 'running' || s === 'rerunRequested';
}"""
WATCH = """() => {
    window.__wbRan = false;
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && window.__wbApp !== app) {
        window.__wbApp = app;
        new MutationObserver(() => {
            const s = app.getAttribute('data-test-script-state');
            if (s === 'running' || s === 'rerunRequested') window.__wbRan = true;
        }).observe(app, {attributes: true});
    }
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store-only", action="store_true", help="drive the store from threads, no browsers")
    ap.add_argument("--sessions", type=int, default=None, help="browser sessions (default 20; store-only: 10 editors)")
    ap.add_argument("--editors", type=int, default=10, help="sessions that edit (default 10)")
    ap.add_argument("--seconds", type=float, default=None, help="measured time (default 300; store-only: 60)")
    ap.add_argument("--browsers", type=int, default=4, help="Chromium processes the sessions share (default 4)")
    ap.add_argument("--think", type=float, default=1.0, help="mean pause between a person's steps, s (default 1)")
    ap.add_argument("--database", default=ADMIN, help="admin URL; a scratch database is created and dropped")
    ap.add_argument("--shots", type=Path, default=None, help="folder for screenshots of refusals")
    args = ap.parse_args()
    for name in ("sessions", "seconds", "editors", "browsers"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            ap.error(f"--{name} must be more than 0, not {value}")
    name = f"wb_warroom_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(args.database, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError as exc:
        sys.exit(f"error: PostgreSQL is not reachable at {args.database}: {str(exc.orig).strip().splitlines()[0]}")
    url = f"{args.database.rsplit('/', 1)[0]}/{name}"
    try:
        if args.store_only:
            replicas = [open_store(url), open_store(url)]
            try:
                run_store(replicas, args.sessions or 10, args.seconds or 60)
            finally:
                for r in replicas:
                    r.dispose()
        else:
            sessions = args.sessions or 20
            if args.editors > sessions:
                ap.error(f"--editors ({args.editors}) cannot be more than --sessions ({sessions})")
            BrowserRun(url, sessions=sessions, editors=args.editors, seconds=args.seconds or 300,
                       browsers=args.browsers, think=args.think, shots=args.shots).run()
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def cpu_seconds(match: str) -> float:
    """CPU time (user + system) so far of every process whose command line contains ``match``."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if match not in f.read().replace(b"\0", b" ").decode(errors="replace"):
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
    return total


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every process and the kernel), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- store only


def run_store(replicas, sessions: int, seconds: float) -> None:
    base = replicas[0]
    create_incident(base, id=INCIDENT, title="load")
    shared = add_event(base, INCIDENT, timestamp=datetime.now(timezone.utc), kind="annotation", title="shared")
    cat = get_fishbone(base, INCIDENT).categories[0]
    cause = add_cause(base, INCIDENT, category_id=cat.id, text="shared cause")
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
                        list_events(store, INCIDENT)
                    elif step == "edit":
                        ev = get_event(store, shared.id)
                        update_event(store, ev.id, version=ev.version, title=f"shared by {i} #{n}")
                        with lock:
                            accepted.append(("edit", f"shared by {i} #{n}"))
                    elif step == "add":
                        ev = add_event(store, INCIDENT, timestamp=datetime.now(timezone.utc), kind="annotation",
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
    added = {e.id for e in list_events(base, INCIDENT)}
    lost = [x for kind, x in accepted if kind == "add" and x not in added]
    audit = list_audit(base, INCIDENT)
    audited_updates = sum(1 for e in audit if e.action == "update" and e.object_type in ("timeline_events", "causes"))
    edits = sum(1 for k, _ in accepted if k in ("edit", "cause"))
    print(f"store only: editors {sessions} on 2 engines, {seconds:.0f} s: {len(lat)} interactions; "
          f"load average {load_average()}")
    print(f"latency p50 {pct(lat, 0.5) * 1000:.1f} ms  p95 {pct(lat, 0.95) * 1000:.1f} ms  "
          f"mean {statistics.mean(lat) * 1000:.1f} ms")
    print(f"writes accepted {len(accepted)}, refused as changed by someone else {refused[0]}")
    print(f"lost accepted adds {len(lost)}; accepted edits {edits}, audited edits {audited_updates}")


# ---------------------------------------------------------------- browsers


@dataclass
class Person:
    index: int
    sub: str
    name: str
    role: str
    editor: bool
    replica: str = ""
    page: object = None
    context: object = None


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=dict)
    accepted: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, user, value)
    refused: list[tuple[str, str, str, bool, bool]] = field(default_factory=list)  # (kind, user, value, msg, kept)
    failures: list[str] = field(default_factory=list)
    follows: int = 0

    def time(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)


class BrowserRun:
    def __init__(self, url: str, *, sessions: int, editors: int, seconds: float, browsers: int, think: float,
                 shots: Path | None) -> None:
        self.url, self.sessions, self.n_editors, self.seconds = url, sessions, editors, seconds
        self.n_browsers = max(1, min(browsers, sessions))
        self.think, self.shots = think, shots
        self.tmp = Path(tempfile.mkdtemp(prefix="wb-warroom-"))
        self.home = self.tmp / "wb"
        self.procs: list[subprocess.Popen] = []
        self.tally = Tally()
        self.people = [Person(i, f"e{i:02d}", f"Editor {i:02d}", "responder", True) for i in range(editors)]
        self.people += [Person(editors + j, f"r{j:02d}", "Commander" if j == 0 else f"Reader {j:02d}",
                               "commander" if j == 0 else "viewer", False) for j in range(sessions - editors)]
        self.random = random.Random(20260301)

    # -- setup

    def _start(self, cmd: list[str], log: str, ready, what: str, timeout: float = 180, **popen) -> subprocess.Popen:
        out = open(self.tmp / log, "w")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
        self.procs.append(proc)
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"error: {what} did not start; see {self.tmp / log}")
            time.sleep(0.25)
        return proc

    def _stop_all(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def setup(self) -> None:
        env = {**os.environ, "WORKBENCH_HOME": str(self.home), "DATABASE_URL": self.url}
        t0 = time.monotonic()
        build = subprocess.run([sys.executable, "-c", "from core.demo import ensure_demo_incidents\n"
                                "from core.store import open_store\nensure_demo_incidents(open_store())"],
                               cwd=ROOT, env=env, capture_output=True, text=True)
        if build.returncode:
            raise SystemExit(f"error: building the demo incidents failed:\n{build.stderr[-1500:]}")
        print(f"setup: demo incidents built in {time.monotonic() - t0:.0f} s (not measured)", flush=True)
        store = open_store(self.url)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        started = now - timedelta(hours=2)
        create_incident(store, id=INCIDENT, title="Checkout scores all zero (load test)", severity="SEV2",
                        roles={"incident_commander": "Commander"}, milestones={"started": started})
        self.window = (started - timedelta(hours=6), now + timedelta(hours=2))
        self.shared = add_event(store, INCIDENT, timestamp=started - timedelta(hours=5), kind="annotation",
                                title="shared event")
        cat = get_fishbone(store, INCIDENT).categories[0]
        self.cause = add_cause(store, INCIDENT, category_id=cat.id, text="shared cause")
        store.dispose()
        port = free_port()
        self.provider = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
        for p in self.people:
            cmd += ["--user-claims", json.dumps({"sub": p.sub, "email": f"{p.sub}@example.com", "name": p.name,
                                                 "workbench_role": p.role})]
        self._start(cmd, "provider.log", lambda: http_ok(f"{self.provider}/.well-known/openid-configuration"),
                    "the OpenID Connect provider")
        secret = uuid.uuid4().hex * 2
        self.replicas = []
        for r in range(2):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            home = self.tmp / f"replica{r}"
            (home / ".streamlit").mkdir(parents=True)
            (home / ".streamlit" / "secrets.toml").write_text(
                f'[auth]\nredirect_uri = "{base}/oauth2callback"\ncookie_secret = "{secret}"\n'
                f'client_id = "workbench"\nclient_secret = "workbench-secret"\n'
                f'server_metadata_url = "{self.provider}/.well-known/openid-configuration"\n')
            cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]
            self._start(cmd, f"replica{r}.log", lambda b=base: http_ok(f"{b}/_stcore/health"), f"replica {r}",
                        cwd=ROOT, env={**env, "HOME": str(home)})
            self.replicas.append(base)
        for p in self.people:
            p.replica = self.replicas[p.index % 2]
        print(f"setup: provider and 2 replicas up ({', '.join(self.replicas)}); {self.sessions} sessions, "
              f"{self.n_editors} editing, {self.n_browsers} Chromium processes", flush=True)

    def link(self, person: Person, path: str = "") -> str:
        start, end = (t.isoformat().replace("+00:00", "Z") for t in self.window)
        return f"{person.replica}/{path}?incident={INCIDENT}&from={start}&to={end}"

    # -- page helpers

    async def settle(self, page, outcome: str = "() => true", timeout: float = 120_000) -> None:
        """Wait until the run the last action caused has finished and ``outcome`` holds."""
        await self.until(page, f"() => window.__wbRan && !({BUSY})() && ({outcome})()", timeout)

    async def until(self, page, condition: str, timeout: float = 120_000) -> None:
        """Wait until ``condition`` holds, looking again when the page changes (a MutationObserver, at
        most every 50 ms) rather than polling: twenty sessions polling at once would load the
        browsers being measured."""
        done = await page.evaluate(f"""(ms) => new Promise((resolve) => {{
            const ok = {condition};
            let timer = null;
            const stop = (value) => {{ obs.disconnect(); clearTimeout(limit); clearTimeout(timer); resolve(value); }};
            const look = () => {{ timer = null; if (ok()) stop(true); }};
            const obs = new MutationObserver(() => {{ if (timer === null) timer = setTimeout(look, 50); }});
            const limit = setTimeout(() => stop(ok()), ms);
            if (ok()) {{ stop(true); return; }}
            obs.observe(document.documentElement, {{subtree: true, childList: true, attributes: true,
                                                     characterData: true}});
        }})""", timeout)
        if not done:
            from playwright.async_api import TimeoutError as PlaywrightTimeout

            raise PlaywrightTimeout(f"waited {timeout / 1000:.0f} s for the page to settle")

    async def idle(self, page) -> None:
        """Wait until no run is going on (a rerun shows old and new elements side by side for a moment)."""
        await self.until(page, f"() => !({BUSY})()")

    async def act(self, person: Person, kind: str, action, outcome: str = "() => true") -> float:
        page = person.page
        await self.idle(page)
        await page.evaluate(WATCH)
        t0 = time.perf_counter()
        await action()
        await self.settle(page, outcome)
        took = time.perf_counter() - t0
        self.tally.time(kind, took)
        return took

    async def goto_page(self, person: Person, title: str) -> None:
        page = person.page
        nav = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
        heading = json.dumps(title)
        await self.act(person, "open page", nav.click, f"""() => {{
            const h = document.querySelector('[data-testid="stMain"] h1');
            return h && h.innerText.trim().startsWith({heading});
        }}""")

    async def sign_in(self, browser, person: Person, attempts: int = 3) -> bool:
        """Sign ``person`` in through the provider's page (a few attempts on a loaded machine); False if never."""
        from playwright.async_api import Error as PlaywrightError

        for attempt in range(1, attempts + 1):
            try:
                await self._sign_in(browser, person)
                return True
            except PlaywrightError as exc:
                if person.context is not None:
                    await person.context.close()
                    person.context = person.page = None
                note = f"{person.sub}: sign-in attempt {attempt} failed: {str(exc).splitlines()[0][:160]}"
                print(f"setup: {note}", flush=True)
                if attempt == attempts:
                    self.tally.failures.append(note)
        return False

    async def _sign_in(self, browser, person: Person) -> None:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(120_000)
        context.set_default_navigation_timeout(120_000)
        page = await context.new_page()
        person.context, person.page = context, page
        await page.goto(self.link(person), wait_until="commit")
        await page.get_by_text("Sign in to join the war room").wait_for()
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name=person.sub, exact=True).click()  # the provider's own page
        await page.wait_for_url(lambda u: u.startswith(person.replica))
        start = "fishbone" if person.editor and person.index % 2 else ""
        await page.goto(self.link(person, start), wait_until="commit")
        await page.locator('[data-testid="stMain"] h1').first.wait_for()
        await page.wait_for_function(f"() => !({BUSY})()", timeout=120_000)

    # -- what people do

    async def pause(self) -> None:
        await asyncio.sleep(self.random.uniform(0.5, 1.5) * self.think)

    async def edit_event(self, person: Person, n: int) -> None:
        page = person.page
        await self.idle(page)
        await page.get_by_role("tab", name="Edit & history").click()
        title = page.get_by_role("textbox", name="Title", exact=True)
        value = f"title {person.sub} {n}"
        await title.fill(value)
        quoted = json.dumps(value)
        took = await self.act(person, "save event", page.get_by_role("button", name="Save event").click, f"""() => {{
            const t = document.querySelector('[data-testid="stMain"]').innerText;
            return t.includes("Saved '" + {quoted} + "'") || t.includes("Your entry '" + {quoted} + "' is kept");
        }}""")
        text = await page.locator('[data-testid="stMain"]').inner_text()
        if f"Saved '{value}'" in text:
            self.tally.accepted.append(("event", person.sub, value))
        else:
            kept = await title.input_value() == value
            self.tally.refused.append(("event", person.sub, value, REFUSED_TEXT in text, kept))
            await self.shot(page, "event", took, kept)

    async def add_entry(self, person: Person, n: int) -> None:
        page = person.page
        await self.idle(page)
        await page.get_by_role("tab", name="Add entry").click()
        value = f"note {person.sub} {n}"
        await page.get_by_role("textbox", name="What happened").fill(value)
        quoted = json.dumps(value)
        await self.act(person, "add entry", page.get_by_role("button", name="Add to timeline").click, f"""() =>
            document.querySelector('[data-testid="stMain"]').innerText.includes("Added '" + {quoted} + "'")""")
        self.tally.accepted.append(("add", person.sub, value))

    async def edit_cause(self, person: Person, n: int) -> None:
        page = person.page
        await self.idle(page)
        dismiss = page.get_by_role("button", name="Dismiss")
        if await dismiss.count():  # the last save's message stays until dismissed: clear it (not timed)
            await page.evaluate(WATCH)
            await dismiss.first.click()
            await self.settle(page, """() => !document.querySelector('[data-testid="stMain"]').innerText
                .match(/Cause saved\\.|changed by someone else/)""")
        await page.get_by_role("tab", name="Cause", exact=True).first.click()
        notes = page.get_by_role("textbox", name="Notes")
        value = f"notes {person.sub} {n}"
        await notes.fill(value)
        took = await self.act(person, "save cause", page.get_by_role("button", name="Save cause").click, """() => {
            const t = document.querySelector('[data-testid="stMain"]').innerText;
            return t.includes('Cause saved.') || t.includes('changed by someone else');
        }""")
        text = await page.locator('[data-testid="stMain"]').inner_text()
        if "Cause saved." in text:
            self.tally.accepted.append(("cause", person.sub, value))
        else:
            kept = await notes.input_value() == value
            self.tally.refused.append(("cause", person.sub, value, REFUSED_TEXT in text, kept))
            await self.shot(page, "cause", took, kept)

    async def shot(self, page, kind: str, took: float, kept: bool = True) -> None:
        """The first refusal of each kind, and every refusal whose typed value was not in the form."""
        if self.shots is None:
            return
        name = f"refused_{kind}.png" if kept else f"refused_{kind}_not_kept_{len(self.tally.refused)}.png"
        if (self.shots / name).exists():
            return
        self.shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(self.shots / name), full_page=True)

    async def recover(self, person: Person, exc: Exception, path: str = "") -> None:
        """Note a step that failed (with a screenshot) and reopen the page, so the session goes on."""
        self.tally.failures.append(f"{person.sub}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            try:
                await person.page.screenshot(path=str(self.shots / f"failed_{person.sub}_{len(self.tally.failures)}.png"),
                                             full_page=True)
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
        await person.page.goto(self.link(person, path), wait_until="commit")
        await person.page.wait_for_function(f"() => !({BUSY})()", timeout=120_000)

    async def editor_loop(self, person: Person, stop: float) -> None:
        from playwright.async_api import Error as PlaywrightError

        n = 0
        pages = ["Timeline", "Fishbone"] if person.index % 2 == 0 else ["Fishbone", "Timeline"]
        while time.monotonic() < stop:
            for title in pages:
                if time.monotonic() >= stop:
                    return
                try:
                    await self.goto_page(person, title)
                    steps = [self.edit_event, self.add_entry] if title == "Timeline" else [self.edit_cause] * 2
                    for step in steps:
                        if time.monotonic() >= stop:
                            return
                        await self.pause()
                        n += 1
                        await step(person, n)
                except PlaywrightError as exc:
                    await self.recover(person, exc, title.lower())

    async def reader_loop(self, person: Person, stop: float, follow: bool) -> None:
        page = person.page
        if follow:
            await self.act(person, "follow", page.get_by_text("Follow the commander").click)
            self.tally.follows += 1
            while time.monotonic() < stop:  # the page follows the commander by itself
                await asyncio.sleep(1)
            return
        from playwright.async_api import Error as PlaywrightError

        tour = ["Timeline", "Fishbone", "Incidents"]
        i = 0
        while time.monotonic() < stop:
            try:
                await self.goto_page(person, tour[i % len(tour)])
            except PlaywrightError as exc:
                await self.recover(person, exc)
            i += 1
            await asyncio.sleep(self.random.uniform(2, 4) * self.think)

    async def guarded(self, coro, person: Person) -> None:
        from playwright.async_api import Error as PlaywrightError

        try:
            await coro
        except PlaywrightError as exc:  # a session that cannot go on is reported; the others go on
            self.tally.failures.append(f"{person.sub} stopped: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

    async def drive(self) -> None:
        from playwright.async_api import async_playwright
        from screenshot import ARGS, CHROMIUM

        async with async_playwright() as pw:
            browsers = [await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                        for _ in range(self.n_browsers)]
            try:
                t0 = time.monotonic()
                gate = asyncio.Semaphore(3)

                async def signed(p: Person) -> None:
                    async with gate:
                        if not await self.sign_in(browsers[p.index % len(browsers)], p):
                            self.people.remove(p)

                await asyncio.gather(*(signed(p) for p in list(self.people)))
                if not any(p.editor for p in self.people):
                    raise SystemExit("error: no editor could sign in; see the replica logs in " + str(self.tmp))
                print(f"setup: {len(self.people)} sessions signed in in {time.monotonic() - t0:.0f} s; "
                      f"load average {load_average()}", flush=True)
                self.load_before = load_average()
                stop = time.monotonic() + self.seconds
                readers = [p for p in self.people if not p.editor]
                tasks = [self.guarded(self.editor_loop(p, stop), p) for p in self.people if p.editor]
                tasks += [self.guarded(self.reader_loop(p, stop, follow=0 < k <= len(readers) // 2), p)
                          for k, p in enumerate(readers)]
                self.started = time.monotonic()
                cpu0 = {k: cpu_seconds(m) for k, m in CPU_OF.items()}
                cpu0["whole machine"] = machine_cpu_seconds()
                await asyncio.gather(*tasks)
                self.elapsed = time.monotonic() - self.started
                self.cpu = {k: cpu_seconds(m) - cpu0[k] for k, m in CPU_OF.items()}
                self.cpu["whole machine"] = machine_cpu_seconds() - cpu0["whole machine"]
                self.load_after = load_average()
            finally:
                for b in browsers:
                    await b.close()

    # -- the check and the table

    def verify(self) -> dict:
        store = open_store(self.url)
        try:
            titles = {e.title for e in list_events(store, INCIDENT)}
            audit = list_audit(store, INCIDENT)
        finally:
            store.dispose()
        written = {("event", (e.after or {}).get("title")) for e in audit
                   if e.object_type == "timeline_events" and e.object_id == str(self.shared.id) and e.action == "update"}
        written |= {("cause", (e.after or {}).get("notes")) for e in audit
                    if e.object_type == "causes" and e.object_id == str(self.cause.id) and e.action == "update"}
        by_user = {(e.object_type, e.user) for e in audit}
        lost = [a for a in self.tally.accepted
                if (a[0] == "add" and a[2] not in titles) or (a[0] != "add" and (a[0], a[2]) not in written)]
        ghosts = [r for r in self.tally.refused if (r[0], r[2]) in written]
        seen = {(k, v) for k, _, v in self.tally.accepted if k != "add"}
        unreported = [w for w in written if w[1] and w[1].startswith(("title e", "notes e")) and w not in seen]
        unaudited_adds = sum(1 for a in self.tally.accepted if a[0] == "add"
                             and ("timeline_events", f"{a[1]}@example.com") not in by_user)
        return {"lost": lost, "ghosts": ghosts, "unreported": unreported, "unaudited_adds": unaudited_adds}

    def report(self, check: dict) -> bool:
        t = self.tally
        every = [x for v in t.latency.values() for x in v]
        print()
        editing = sum(1 for p in self.people if p.editor)
        print(f"War room: {len(self.people)} of {self.sessions} sessions signed in ({editing} editing) on 2 replicas, "
              f"one PostgreSQL, {self.elapsed:.0f} s measured")
        print(f"load average (1, 5, 15 min) before {self.load_before}, after {self.load_after}; "
              f"{os.cpu_count()} cores")
        print("CPU used while measured: " + ", ".join(
            f"{k} {v:.0f} s ({v / self.elapsed:.2f} cores)" for k, v in self.cpu.items()))
        print()
        print(f"{'interaction':<14}{'n':>7}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
        for kind in sorted(t.latency):
            v = t.latency[kind]
            print(f"{kind:<14}{len(v):>7}{pct(v, .5):>9.2f}{pct(v, .95):>9.2f}{max(v):>9.2f}")
        print(f"{'all':<14}{len(every):>7}{pct(every, .5):>9.2f}{pct(every, .95):>9.2f}"
              f"{max(every) if every else float('nan'):>9.2f}")
        print()
        kinds = ("event", "add", "cause")
        print(f"{'writes':<14}" + "".join(f"{k:>9}" for k in kinds) + f"{'total':>9}")
        print(f"{'accepted':<14}" + "".join(f"{sum(1 for a in t.accepted if a[0] == k):>9}" for k in kinds)
              + f"{len(t.accepted):>9}")
        print(f"{'refused':<14}" + "".join(f"{sum(1 for r in t.refused if r[0] == k):>9}" for k in kinds)
              + f"{len(t.refused):>9}")
        no_message = [r for r in t.refused if not r[3]]
        not_kept = [r for r in t.refused if not r[4]]
        print()
        print(f"accepted writes lost (not in the store / audit log): {len(check['lost'])}")
        print(f"refused writes that were written anyway: {len(check['ghosts'])}")
        print(f"writes in the audit log that no page reported as saved: {len(check['unreported'])}")
        print(f"refusals without the 'changed by someone else' message: {len(no_message)}; "
              f"without the typed value kept: {len(not_kept)}")
        print(f"added entries without an audit entry naming their author: {check['unaudited_adds']}")
        print(f"readers following the commander: {t.follows}; sessions that failed: {len(t.failures)}")
        for f in t.failures[:10]:
            print(f"  {f}")
        for r in not_kept[:5]:
            print(f"  typed value not kept: {r[:3]}")
        for name in ("lost", "ghosts", "unreported"):
            for item in check[name][:5]:
                print(f"  {name}: {item}")
        p95 = pct(every, .95)
        ok = (p95 < 2.0 and not check["lost"] and not check["ghosts"] and not no_message and not not_kept
              and not t.failures)
        print()
        print(f"target p95 < 2 s: {'met' if p95 < 2.0 else 'NOT met'} (p95 {p95:.2f} s); zero lost writes: "
              f"{'met' if not check['lost'] else 'NOT met'}")
        return ok

    def run(self) -> None:
        try:
            self.setup()
            asyncio.run(self.drive())
            ok = self.report(self.verify())
        finally:
            self._stop_all()
        print(f"logs of the provider and replicas: {self.tmp}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
