"""Streamlit helpers of the Timeline page: cached bundle reads, selection parsing, edit and import panels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd
import streamlit as st

from core.analysis.correlate import ChangeRanking, rank_changes
from core.errors import ConcurrentEditError, InvalidInputError, WorkbenchError
from core.models import EventKind, Incident, TimelineEvent, TimeWindow, format_duration, iso
from core.onset import DETECTED, IncidentOnset, incident_onset
from core.onset import load_kpi as read_kpi
from core.store import Store
from core.timerange import box_selection_window
from core.flows import pin as flows_pin
from core.store.timeline import add_event, event_history, update_event
from core.flows.timeline_io import ColumnMapping, apply_import, guess_mapping, parse_time, preview_import, read_event_table
from ui import state
from ui.incidents import md_text

NONE = "—"
COMMON_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
                "America/Los_Angeles", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney"]
KINDS = [k.value for k in EventKind]


def zones() -> list[str]:
    rest = sorted(z for z in available_timezones() if z not in COMMON_ZONES and "/" in z)
    return COMMON_ZONES + rest


@st.cache_data(show_spinner=False, max_entries=8)
def load_kpi(bundle_path: str, metric: str) -> pd.DataFrame | None:
    """The bundle's KPI series (the one loader, core.onset.load_kpi), or None when the incident has none."""
    return read_kpi(bundle_path, metric)


@st.cache_data(show_spinner="Finding the KPI onset…", max_entries=8)
def _onset(bundle_path: str | None, metric: str, direction: str, window: TimeWindow | None,
           baseline: TimeWindow | None, started: datetime | None) -> IncidentOnset:
    kpi = load_kpi(bundle_path, metric) if bundle_path and metric and not started else None
    found = incident_onset(started=started, kpi=kpi, metric=metric or "kpi", direction=direction,
                           window=window, baseline=baseline)
    return IncidentOnset(found.at, found.source)


def onset_for(incident: Incident) -> IncidentOnset:
    """The impact start by the one onset policy (core.onset): the ``started`` milestone, else the detected
    KPI onset, else the baseline end, else the window start.

    Raises:
        InvalidInputError: none of them is known.
    """
    return _onset(incident.bundle_path, incident.kpi_metric, incident.kpi_direction, incident.window,
                  incident.baseline, incident.milestone("started"))


def detected_onset(bundle_path: str, metric: str, direction: str) -> datetime | None:
    """The KPI onset the one policy detects in the bundle's window (None when no change made the KPI worse)."""
    from ui.bundle_cache import read_bundle_cached

    try:
        bundle = read_bundle_cached(bundle_path)
    except WorkbenchError:
        return None
    found = _onset(bundle_path, metric, direction, bundle.window, bundle.baseline, None)
    return found.at if found.source == DETECTED else None


def ranking_table(ranking: ChangeRanking, tz: str) -> pd.DataFrame:
    rows = [{
        "rank": c.rank, "score": round(c.score, 3),
        "time": c.event.timestamp.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
        "before onset": format_duration(c.age), "kind": c.event.kind, "title": c.event.title,
        "evidence": "; ".join(c.evidence[2:] if len(c.evidence) > 2 else c.evidence),
    } for c in ranking.changes]
    return pd.DataFrame(rows)


def changes_summary(events: list[TimelineEvent], ranking: ChangeRanking | None, tz: str, top: int = 3) -> None:
    """The first-screen answer to "what changed before the onset": stopped routine jobs, then the top changes."""
    from core.analysis.routine import stopped_routines

    if ranking is None:
        return
    zone = ZoneInfo(tz)
    lines = []
    for r in stopped_routines(events, before=ranking.onset):
        lines.append(f"- :red[**{md_text(r.key)}: runs stopped at {r.last.astimezone(zone):%H:%M}**] — "
                     f"{r.count} runs until {r.last.astimezone(zone):%Y-%m-%d %H:%M}, then none "
                     f"({format_duration(ranking.onset - r.last)} before the onset; the next was due "
                     f"{format_duration(r.interval)} after the last)")
    for c in ranking.changes[:top]:
        lines.append(f"- **{c.rank}. {md_text(c.event.title)}** — {str(getattr(c.event.kind, 'value', c.event.kind)).replace('_', ' ')}, "
                     f"{format_duration(c.age)} before the onset")
    with st.container(border=True):
        st.markdown(f"**What changed before the onset** ({ranking.onset.astimezone(zone):%Y-%m-%d %H:%M} "
                    f"{tz}, {ranking.onset_source})")
        st.markdown("\n".join(lines) if lines else f"No change events in the {format_duration(ranking.lookback)} "
                    "before the onset.")


def selected_window(selection: Any, tz: str) -> TimeWindow | None:
    """The x span of a box selection on the chart (wall-clock in ``tz``) as a UTC window, or None."""
    return box_selection_window(selection, tz)


def in_window(events: list[TimelineEvent], window: TimeWindow, kinds: list[str]) -> list[TimelineEvent]:
    return [e for e in events if e.kind.value in kinds and e.timestamp < window.end
            and (e.end or e.timestamp) >= window.start]


def add_form(store: Store, incident: Incident, tz: str, author: str) -> None:
    """A form for a manual entry: title, kind, local date and time (default: the incident's window), duration.

    Adding confirms and clears the title; the same entry submitted again (a double click) is not added twice.
    """
    default = entry_default(incident)
    local = default.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    if st.session_state.get("timeline_add_for") != (incident.id, tz):  # a new incident or zone: its own default
        st.session_state["timeline_add_for"] = (incident.id, tz)
        st.session_state["timeline_add_date"] = local.date()
        st.session_state["timeline_add_time"] = local.time()
    message = st.session_state.get("timeline_add_message")
    slot = st.empty()  # one element always: the message coming or going never moves the form
    if message:
        (slot.success if message[0] == "success" else slot.error)(message[1])
    with st.form("timeline_add_form", clear_on_submit=False):
        st.text_input("What happened", key="timeline_add_title")
        c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
        c1.selectbox("Kind", KINDS, index=KINDS.index("annotation"), key="timeline_add_kind")
        c2.date_input("Date", key="timeline_add_date")
        c3.time_input("Time", key="timeline_add_time", step=60)
        c4.number_input("Minutes", 0, 100_000, 0, key="timeline_add_minutes",
                        help="Duration for a span; 0 for a point in time.")
        st.form_submit_button("Add to timeline", type="primary", on_click=_add_entry, args=(store, incident, tz, author))
    st.caption(f"Date and time in {tz}; the default is the incident's impact start or window.")


def entry_default(incident: Incident) -> datetime:
    """Where a new entry starts: impact start, else detection, else the incident's window start, else now."""
    for name in ("started", "detected"):
        if incident.milestone(name):
            return incident.milestone(name)
    full = incident.time_range()
    if full is not None:
        return full.start
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def _add_entry(store: Store, incident: Incident, tz: str, author: str) -> None:
    ss = st.session_state
    title = (ss.get("timeline_add_title") or "").strip()
    try:
        ts = parse_time(datetime.combine(ss["timeline_add_date"], ss["timeline_add_time"]), zone=ZoneInfo(tz))
        minutes = int(ss.get("timeline_add_minutes") or 0)
        fingerprint = (incident.id, title.casefold(), ts, minutes, ss.get("timeline_add_kind"))
        if ss.get("timeline_add_last") == fingerprint:
            ss["timeline_add_message"] = ("success", f"'{title}' at {iso(ts)} is already on the timeline; "
                                                     "it was not added twice.")
            return
        add_event(store, incident.id, timestamp=ts, end=ts + timedelta(minutes=minutes) if minutes else None,
                  kind=ss.get("timeline_add_kind"), title=title, author=author, source="manual")
    except WorkbenchError as exc:
        ss["timeline_add_message"] = ("error", f"**Not added.** {exc}")
        return
    ss["timeline_add_last"] = fingerprint
    ss["timeline_add_title"] = ""
    ss["timeline_add_minutes"] = 0
    ss["timeline_add_message"] = ("success", f"Added '{title}' at {ts.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}.")


def edit_panel(store: Store, events: list[TimelineEvent], tz: str, author: str) -> None:
    """Edit events in place (table) and see each event's revisions."""
    if not events:
        st.caption("No events to edit in this range.")
        return
    zone = ZoneInfo(tz)
    frame = pd.DataFrame([{
        "id": e.id, "time": e.timestamp.astimezone(zone).replace(tzinfo=None), "kind": e.kind.value,
        "title": e.title, "author": e.author, "source": e.source,
    } for e in events[:2000]])
    edited = st.data_editor(
        frame, key="timeline_editor", hide_index=True, width="stretch", disabled=["id", "source"],
        column_config={
            "time": st.column_config.DatetimeColumn(f"time ({tz})", format="YYYY-MM-DD HH:mm:ss"),
            "kind": st.column_config.SelectboxColumn("kind", options=KINDS, required=True),
            "title": st.column_config.TextColumn("title", required=True),
        },
    )
    if len(events) > 2000:
        st.caption(f"Showing the first 2,000 of {len(events):,} events; narrow the range or the kinds to edit others.")
    if st.button("Save table edits", key="timeline_save_edits"):
        by_id = {e.id: e for e in events}
        saved = 0
        for before, after in zip(frame.to_dict("records"), edited.to_dict("records")):
            changes = {k: after[k] for k in ("kind", "title", "author") if after[k] != before[k]}
            if pd.Timestamp(after["time"]) != pd.Timestamp(before["time"]):
                changes["timestamp"] = parse_time(pd.Timestamp(after["time"]).to_pydatetime(), zone=zone)
            if changes:
                try:
                    update_event(store, int(before["id"]), version=by_id[before["id"]].version,
                                 author=author, **changes)
                    saved += 1
                except WorkbenchError as exc:
                    state.show_error(exc, f"Event {before['id']} not saved.")
        st.toast(f"Saved {saved} edit(s)")
    titles = {e.id: e.title for e in events}
    pick = st.selectbox("Event", list(titles), key="timeline_edit_pick",
                        format_func=lambda i: f"#{i} · {titles.get(i, '?')}")
    ev = next((e for e in events if e.id == pick), events[0])
    edit_form(store, ev, author)
    history = event_history(store, ev.id)
    st.caption(f"History of #{ev.id}: {len(history)} revision(s)")
    for h in history:
        before, after = h["before"] or {}, h["after"] or {}
        diff = ", ".join(f"{k}: {before.get(k)!r} → {after.get(k)!r}" for k in sorted(set(before) | set(after))
                         if before.get(k) != after.get(k)) or ("deleted" if not after else "no change")
        st.text(f"{iso(h['changed_at'])} · {h['author'] or 'unknown'} · {diff}")


def _shown(ev: TimelineEvent) -> tuple[int, dict[str, Any]]:
    """The form's generation and what it was opened with (version, title, kind).

    The form keeps showing, and saving against, the version it was opened with while it is on screen:
    typed text reaches the server only when the form is submitted, so re-creating the form when
    someone else saves would throw away what is being typed. A save after their change is refused
    and keeps the entry. Drawn afresh (another event picked, coming back to the page) the form
    shows the current version; "Show their version" re-creates it from the store.
    """
    ss = st.session_state
    seen_key, gen_key = f"timeline_edit_seen_{ev.id}", f"timeline_edit_gen_{ev.id}"
    gen = ss.setdefault(gen_key, 0)
    if seen_key not in ss or f"timeline_edit_title_{ev.id}_{gen}" not in ss:
        ss[seen_key] = {"version": ev.version, "title": ev.title, "kind": ev.kind.value}
    return gen, ss[seen_key]


def _recreate(event_id: int) -> None:
    """Forget what the event's form showed: the next run draws it anew from the store."""
    st.session_state.pop(f"timeline_edit_seen_{event_id}", None)
    gen_key = f"timeline_edit_gen_{event_id}"
    st.session_state[gen_key] = st.session_state.get(gen_key, 0) + 1


def edit_form(store: Store, ev: TimelineEvent, author: str) -> None:
    """Edit one event's title and kind; a refused (stale) save keeps what was typed in the form."""
    ss = st.session_state
    gen, shown = _shown(ev)
    # one element always: a message or notice coming or going never moves the form (see ui.fishbone.editor)
    slot = st.empty()
    message = ss.get("timeline_edit_message")
    if message and message[0] != ev.id:
        message = None
    stale = shown["version"] != ev.version
    above = slot.container() if message or stale else None
    if message:
        (above.success if message[1] == "success" else above.error)(message[2])
    if stale:
        c1, c2 = above.columns([4, 1], vertical_alignment="center")
        c1.warning(f"Someone else changed this event since you opened it; it now reads '{md_text(ev.title)}'. "
                   "Saving here is refused and keeps your entry.", icon=":material/group:")
        c2.button("Show their version", key=f"timeline_edit_fresh_{ev.id}_{gen}", on_click=_recreate, args=(ev.id,))
    with st.form(f"timeline_edit_form_{ev.id}"):
        title = st.text_input("Title", shown["title"], key=f"timeline_edit_title_{ev.id}_{gen}")
        kind = st.selectbox("Kind", KINDS, index=KINDS.index(shown["kind"]), key=f"timeline_edit_kind_{ev.id}_{gen}")
        save = st.form_submit_button("Save event", key=f"timeline_edit_save_{ev.id}_{gen}")
    if not save:
        return
    try:
        update_event(store, ev.id, version=shown["version"], author=author, title=title, kind=kind)
    except ConcurrentEditError as exc:
        current = exc.current
        if current is not None:  # keep the typed values; saving again applies them to the current version
            ss[f"timeline_edit_seen_{ev.id}"] = {**shown, "version": current.version}
        now = f" It now reads '{md_text(current.title)}'." if current is not None else " It was deleted meanwhile."
        ss["timeline_edit_message"] = (ev.id, "error", f"**Not saved.** {md_text(str(exc))}{now} Your entry "
                                                       f"'{md_text(title)}' is kept "
                                                       "in the form: save again to apply it to the current version.")
        st.rerun()
    except WorkbenchError as exc:
        ss["timeline_edit_message"] = (ev.id, "error", f"**Not saved.** {exc} Your entry is kept in the form.")
        st.rerun()
    ss["timeline_edit_message"] = (ev.id, "success", f"Saved '{md_text(title)}'.")
    _recreate(ev.id)  # the form shows what is now stored
    st.rerun()


def import_panel(store: Store, incident: Incident, existing: list[TimelineEvent], author: str) -> None:
    """Upload, map columns, preview, then import all or nothing."""
    upload = st.file_uploader("CSV or JSONL (a chat export with timestamp, author and text works too)",
                              type=["csv", "jsonl", "ndjson", "json", "txt"], key="timeline_import_file")
    if upload is None:
        return
    try:
        frame = read_event_table(upload.getvalue(), name=upload.name)
        guess = guess_mapping(frame.columns)
    except InvalidInputError as exc:
        state.show_error(exc, "Cannot read the file.")
        return
    cols = [NONE] + [str(c) for c in frame.columns]
    fields = ("timestamp", "title", "text", "kind", "end", "author", "source", "link", "id")
    grid = st.columns(5)
    chosen = {}
    for i, f in enumerate(fields):
        current = getattr(guess, f)
        chosen[f] = grid[i % 5].selectbox(f, cols, index=cols.index(current) if current in cols else 0,
                                          key=f"timeline_map_{f}")
    c1, c2, c3 = st.columns(3)
    zone = c1.selectbox("Zone of times without an offset", [NONE] + zones(), key="timeline_import_tz")
    order = c2.selectbox("Date order of dd/mm dates", [NONE, "DMY", "MDY"], key="timeline_import_order")
    kind = c3.selectbox("Kind of rows without one", KINDS, index=KINDS.index("annotation"), key="timeline_import_kind")
    try:
        mapping = ColumnMapping(
            **{f: (v if v != NONE else None) for f, v in chosen.items() if f != "timestamp"},
            timestamp=chosen["timestamp"] if chosen["timestamp"] != NONE else "",
            timezone=None if zone == NONE else zone, date_order=None if order == NONE else order,
            default_kind=kind, default_source=f"import:{upload.name}"[:100],
        )
        if not mapping.timestamp:
            raise InvalidInputError("map a column to 'timestamp'")
        preview = preview_import(frame, mapping, existing=existing, author=author)
    except InvalidInputError as exc:
        state.show_error(exc, "Cannot import with this mapping.")
        return
    (st.info if preview.ok else st.warning)(preview.summary())
    for p in preview.problems[:20]:
        st.error(str(p))
    if preview.rows:
        st.dataframe(pd.DataFrame(preview.table()[:500]), hide_index=True, width="stretch")
    n = preview.counts()["new"]
    if st.button(f"Import {n} event(s)", key="timeline_import_go", disabled=not preview.ok or n == 0, type="primary"):
        try:
            apply_import(store, incident.id, preview)
            st.success(f"Imported {n} event(s).")
        except WorkbenchError as exc:
            state.show_error(exc, "Nothing imported.")


@st.cache_data(show_spinner="Rendering the image…", max_entries=2)
def png_bytes(fig_json: str) -> bytes:
    import plotly.io as pio

    return pio.from_json(fig_json).to_image(format="png", width=1600, height=900, scale=1)


def rank(events: list[TimelineEvent], onset: IncidentOnset, lookback_hours: float) -> ChangeRanking:
    return rank_changes(events, onset.at, lookback=timedelta(hours=lookback_hours), onset_source=onset.source)


def pin_ranking(store: Store, incident: Incident, ranking: ChangeRanking, author: str) -> None:
    """Freeze the ranked list (with its onset, look-back and priors) as evidence on the incident (core.flows.pin)."""
    try:
        flows_pin.pin_ranking(store, incident, ranking, author)
        st.toast("Pinned as evidence")
    except WorkbenchError as exc:
        state.show_error(exc, "Not pinned.")
