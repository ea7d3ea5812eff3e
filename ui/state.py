"""Shared state of every page: the store, the selected incident and the absolute time range.

The incident and time range live in ``st.session_state`` and in the URL
(``?incident=ID&from=ISO&to=ISO``), so a copied link reopens the same view.
Pages call :func:`current_incident` and :func:`time_range`; only ``app.py``
draws the sidebar widgets that change them.

A page's own focus is in the URL too: its widgets use ``bind="query-params"`` (the
parameter is the widget key, e.g. ``logs_query``; Streamlit keeps it per page), and
state that is not a widget (filter chips, a selected document, a column) goes through
:func:`focus` / :func:`set_focus`, which :func:`begin_run` restores after a page switch.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import streamlit as st

from core.errors import InvalidInputError, StoreError, WorkbenchError
from core.models import Incident, TimeWindow, iso, utc
from core.store import Store, open_store
from core.store.incidents import find_incident, list_incidents

INCIDENT_KEY = "app_incident"
RANGE_KEY = "app_range"
PRESENT_KEY = "app_present"
MESSAGES_KEY = "app_messages"
MISSING_KEY = "app_missing_incident"
RANGE_LABEL_KEY = "app_range_label"
PAGE_KEY = "app_page"
FOCUS_KEY = "app_focus"
SYNCED_KEY = "app_focus_synced"
PENDING_KEY = "app_pending_demo"
PROGRESS_SHOWN_KEY = "app_demo_progress_shown"
PROVISIONAL_KEY = "app_default_while_building"
TIMER_RERUN_KEY = "app_timer_rerun_asked"  # set by the page's timer just before it reruns the page
TIMER_RUN_KEY = "app_run_by_timer"  # this full run was started by the timer, not by a click


@st.cache_resource(show_spinner="Opening the incident store…")
def _store() -> Store:
    return open_store()


WARM_UP_DELAY = 2.0  # seconds: let the first page's run finish before importing in the background


def warm_up(store: Store, delay: float = 0.0) -> None:
    """Import every module the pages import (and MLflow), then profile the incidents' bundle images,
    in the background once per process.

    A page's first visit otherwise pays for them: ruptures and scipy.stats (Timeline, Metrics,
    Distributions), drain3 (Logs), MLflow (Models), 1-1.5 s each on this machine, and the Images
    panel about a second per 500 images. Runs after the demo build, or shortly after the first
    page when the demos exist already.
    """
    import importlib
    import logging
    import pkgutil
    import time

    import ui

    time.sleep(delay)
    for name in [f"ui.{m.name}" for m in pkgutil.iter_modules(ui.__path__)] + ["mlflow"]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a page that needs it reports the problem when it runs
            logging.getLogger(__name__).debug("warm-up import of %s failed", name, exc_info=True)
    try:
        from ui.images import prefetch

        prefetch(list_incidents(store))
    except Exception:  # noqa: BLE001 - the panel computes (and reports) it when opened
        logging.getLogger(__name__).debug("warm-up of the image profiles failed", exc_info=True)


class DemoBuild:
    """The demo incidents being built in a background thread (one per process and store).

    The thread only calls core (never streamlit), then :func:`warm_up`; pages read :attr:`step`, :attr:`done`,
    :attr:`total` and :attr:`finished` to show progress and refresh when it ends.
    """

    def __init__(self, store: Store) -> None:
        import threading

        from core.demo import DEMO_IDS, demos_complete

        self.total = len(DEMO_IDS)
        self.done = 0
        self.step = "Starting…"
        self.error: str | None = None
        self.finished = demos_complete(store)
        if self.finished:
            self.done = self.total
            threading.Thread(target=warm_up, args=(store, WARM_UP_DELAY), name="warm-up", daemon=True).start()
            return
        self._thread = threading.Thread(target=self._run, args=(store,), name="demo-build", daemon=True)
        self._thread.start()

    def _progress(self, step: str, done: int, total: int) -> None:
        self.step, self.done, self.total = step, done, total

    def _run(self, store: Store) -> None:
        from core.demo import ensure_demo_incidents

        try:
            ensure_demo_incidents(store, progress=self._progress)
        except WorkbenchError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the page; the thread must not die silently
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.finished = True
        warm_up(store)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the build ends (for scripts and tests); True when it has."""
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout)
        return self.finished


@st.cache_resource(show_spinner=False)
def _demo_build(_url: str) -> DemoBuild:
    return DemoBuild(_store())


def demo_build() -> DemoBuild:
    """The background build of the demo incidents for this store (started on first use)."""
    store = _store()
    return _demo_build(store.url)


def demos_building() -> bool:
    """True while the demo incidents are still being built in the background."""
    return not demo_build().finished


def demo_progress_text(build: DemoBuild | None = None) -> str:
    """"the demo incidents are still being built — N of 3 ready" (with the current step)."""
    build = build or demo_build()
    return (f"The demo incidents are still being built — {build.done} of {build.total} ready. "
            f"{build.step}")


def get_store() -> Store:
    """The store (demo incidents are built in the background); stops the page with a clear message if it cannot open."""
    try:
        store = _store()
        demo_build()
        return __import__("ui.team", fromlist=["bind"]).bind(store)  # writes checked and audited as this person
    except StoreError as exc:
        st.error(f"**The incident store is unavailable.** {exc}")
        st.stop()
        raise  # unreachable; for type checkers


def requested_page() -> str | None:
    """The page name the address asks for (``/nosuchpage`` -> 'nosuchpage'), read before st.navigation resolves it."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    manager = getattr(ctx, "pages_manager", None)
    if manager is None or getattr(manager, "intended_page_script_hash", None):
        return None
    return getattr(manager, "intended_page_name", None) or None


def note(message: str) -> None:
    """Queue a message for the next render (shown once at the top of the page)."""
    st.session_state.setdefault(MESSAGES_KEY, []).append(message)


def show_notes() -> None:
    messages = take_once(MESSAGES_KEY, [])
    slot = st.empty()  # always one element: a note coming or going never moves what follows
    if messages:
        box = slot.container()
        for message in messages:
            box.warning(message)


def mark_timer_rerun() -> None:
    """The page's timer is about to rerun the page (another person's edit): nobody clicked."""
    st.session_state[TIMER_RERUN_KEY] = True


def take_once(key: str, default=None):
    """A one-shot value (a confirmation, a refusal) for this render, then gone.

    A rerun started by the page's timer (someone else's edit) shows it again instead of
    using it up, so it stays on screen until this person's next click.
    """
    shown = f"{key}_last_shown"
    if st.session_state.get(TIMER_RUN_KEY) and key not in st.session_state:
        return st.session_state.get(shown, default)
    value = st.session_state.pop(key, default)
    st.session_state[shown] = value
    return value


def incident_id() -> str | None:
    """The selected incident's id; None when there is none or the link names an unknown one."""
    if st.session_state.get(MISSING_KEY):
        return None
    return st.session_state.get(INCIDENT_KEY)


def missing_incident() -> str | None:
    """The id the address names when no such incident exists (shown as an error on every page)."""
    return st.session_state.get(MISSING_KEY)


def select_incident(incident_id: str | None) -> None:
    """Select an incident, reset the time range to its natural range, and update the URL."""
    st.session_state[INCIDENT_KEY] = incident_id
    st.session_state.pop(MISSING_KEY, None)
    st.session_state.pop(RANGE_KEY, None)
    st.session_state.pop(RANGE_LABEL_KEY, None)
    if incident_id:
        st.query_params["incident"] = incident_id
    else:
        st.query_params.pop("incident", None)
    st.query_params.pop("from", None)
    st.query_params.pop("to", None)


def begin_run(store: Store, page: str) -> None:
    """Called by app.py before every page: read the address, then write the whole shared state back.

    Streamlit drops unbound query parameters when the sidebar switches page, so the incident,
    the absolute range and the page's own focus (remembered per page) are put back here.
    """
    st.session_state[TIMER_RUN_KEY] = st.session_state.pop(TIMER_RERUN_KEY, False)
    sync_from_url(store)
    switched = st.session_state.get(PAGE_KEY) != page
    st.session_state[PAGE_KEY] = page
    if switched:
        for name, value in st.session_state.get(FOCUS_KEY, {}).get(page, {}).items():
            if name not in st.query_params:
                st.query_params[name] = value
    write_url()
    if page not in ("", "incidents") and demos_building():
        pending = st.session_state.get(PENDING_KEY)
        if pending or st.session_state.get(INCIDENT_KEY) is None:
            demo_progress(f"This page opens {pending} when it is ready." if pending else "")
        if pending:
            st.stop()


@st.fragment(run_every=1.0)
def demo_progress(extra: str = "") -> None:
    """While the demos build: their progress, refreshed every second; the whole page reruns when they are ready."""
    build = demo_build()
    shown = st.session_state.get(PROGRESS_SHOWN_KEY)
    if build.finished:
        st.session_state.pop(PROGRESS_SHOWN_KEY, None)
        if build.error:
            st.error(f"**The demo incidents could not be built.** {build.error}")
        elif shown is not None:
            st.rerun(scope="app")
        return
    st.session_state[PROGRESS_SHOWN_KEY] = build.done
    if shown is not None and shown != build.done:  # one more demo is in the store: list it
        st.rerun(scope="app")
    st.info(f"{demo_progress_text(build)} {extra}".strip(), icon=":material/hourglass_top:")
    st.progress(min(build.done / max(build.total, 1), 1.0))


def write_url() -> None:
    """Put incident and absolute range into the address (only what differs, to avoid needless messages)."""
    wanted: dict[str, str] = {}
    iid = st.session_state.get(MISSING_KEY) or st.session_state.get(INCIDENT_KEY)
    if iid:
        wanted["incident"] = iid
    if iid and not st.session_state.get(MISSING_KEY):
        window = time_range()
        wanted["from"], wanted["to"] = iso(window.start), iso(window.end)
    changed = {k: v for k, v in wanted.items() if st.query_params.get(k) != v}
    if changed:
        st.query_params.update(changed)


def sync_from_url(store: Store) -> None:
    """Read incident and time range from the URL; bad values give a message naming them, not a crash."""
    params = st.query_params
    wanted = params.get("incident")
    st.session_state.pop(PENDING_KEY, None)
    if wanted and wanted != (st.session_state.get(MISSING_KEY) or st.session_state.get(INCIDENT_KEY)):
        if find_incident(store, wanted) is None:
            if _is_demo(wanted) and demos_building():  # the link names a demo that is still being built
                st.session_state[PENDING_KEY] = wanted
                st.session_state.pop(MISSING_KEY, None)
                st.session_state[INCIDENT_KEY] = None
            else:
                st.session_state[MISSING_KEY] = wanted
        else:
            st.session_state.pop(MISSING_KEY, None)
            st.session_state[INCIDENT_KEY] = wanted
            st.session_state.pop(RANGE_KEY, None)
            st.session_state.pop(RANGE_LABEL_KEY, None)
    provisional = st.session_state.get(PROVISIONAL_KEY) and st.session_state.get(INCIDENT_KEY) is None
    if (INCIDENT_KEY not in st.session_state or provisional) and not st.session_state.get(MISSING_KEY) \
            and not st.session_state.get(PENDING_KEY):
        default = default_incident(list_incidents(store))
        st.session_state[INCIDENT_KEY] = default.id if default else None
        # chosen while the demos build and nothing was there: choose again once something is
        st.session_state[PROVISIONAL_KEY] = default is None and demos_building()
    f, t = params.get("from"), params.get("to")
    if f or t:
        try:
            if not (f and t):
                raise InvalidInputError("it gives only one end (from=…&to=… are both needed)")
            window = TimeWindow(utc(f), utc(t))
            current = st.session_state.get(RANGE_KEY)
            if current is None or (iso(current.start), iso(current.end)) != (f, t):
                st.session_state[RANGE_KEY] = window
                st.session_state.pop(RANGE_LABEL_KEY, None)
        except InvalidInputError as exc:
            typed = "&".join(f"{k}={v}" for k, v in (("from", f), ("to", t)) if v)
            note(f"The link's time range was ignored ({typed}): {exc}.")
            st.query_params.pop("from", None)
            st.query_params.pop("to", None)


def _is_demo(incident_id: str) -> bool:
    from core.demo import DEMO_IDS

    return incident_id in DEMO_IDS


OPEN_STATUSES = ("investigating", "identified", "mitigated")


def default_incident(incidents: list[Incident]) -> Incident | None:
    """The incident shown when the address names none: the most recent open one, else the most recent."""
    if not incidents:
        return None
    return next((i for i in incidents if i.status.value in OPEN_STATUSES), incidents[0])


def focus(name: str) -> str | None:
    """A page's own focus parameter from the address ('' counts as none), remembered for page switches."""
    value = st.query_params.get(name) or None
    _remember(name, value)
    return value


def set_focus(name: str, value: str | None) -> None:
    """Write (or clear) a page's focus parameter in the address and remember it for this page."""
    if value:
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    elif name in st.query_params:
        st.query_params.pop(name, None)
    _remember(name, value or None)


def sync_focus(name: str, current: str | None) -> str | None:
    """Two-way sync of a non-widget focus value: a changed address (a link, a restored page) wins,
    otherwise ``current`` (the page's own state) is written to the address. An empty parameter
    (``?logs_filters=``) clears the value explicitly.
    """
    page = st.session_state.get(PAGE_KEY, "")
    synced = st.session_state.setdefault(SYNCED_KEY, {})
    url = st.query_params.get(name)
    value = (url or None) if url is not None and url != synced.get(f"{page}:{name}", "") else current
    set_focus(name, value)
    synced[f"{page}:{name}"] = value or ""
    return value


def _remember(name: str, value: str | None) -> None:
    page = st.session_state.get(PAGE_KEY, "")
    memory = st.session_state.setdefault(FOCUS_KEY, {}).setdefault(page, {})
    if value:
        memory[name] = value
    else:
        memory.pop(name, None)


def current_incident() -> Incident | None:
    """The selected incident, freshly read from the store (None when there is none)."""
    iid = incident_id()
    if not iid:
        return None
    return find_incident(get_store(), iid)


def default_range(incident: Incident | None) -> TimeWindow:
    if incident is not None and incident.time_range() is not None:
        return incident.time_range()
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return TimeWindow(now - timedelta(days=1), now)


def time_range() -> TimeWindow:
    """The shared absolute time range (UTC)."""
    window = st.session_state.get(RANGE_KEY)
    if window is None:
        window = default_range(current_incident())
    return window


def set_time_range(window: TimeWindow, label: str | None = None) -> None:
    """Make ``window`` the shared range; the address gets the incident and the absolute range."""
    st.session_state[RANGE_KEY] = window
    if label:
        st.session_state[RANGE_LABEL_KEY] = label
    else:
        st.session_state.pop(RANGE_LABEL_KEY, None)
    write_url()


def range_label() -> str | None:
    """How the current range was chosen ("±2 h around onset"), when a quick range chose it."""
    return st.session_state.get(RANGE_LABEL_KEY)


def presentation_mode() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def show_error(exc: WorkbenchError, what: str = "") -> None:
    """Show an expected error with its fix; the caller then stops that panel."""
    prefix = f"**{what}** " if what else ""
    st.error(f"{prefix}{exc}")
