"""Team mode in the app: the sign-in gate, who is acting (sidebar), the store bound to them, the ICS
role board with handover, the incident's audit log and the team list.

Sign-in is on when ``.streamlit/secrets.toml`` has an ``[auth]`` table (Streamlit's ``st.login``,
OpenID Connect). Without it the app is the embedded single-user workbench: no sign-in, and the one
person at the machine acts as the incident commander (the sidebar says so).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import streamlit as st

from core.errors import InvalidInputError, WorkbenchError
from core.models import ROLE_LABELS, Incident, Role, iso
from core.report.text import md_text
from core.store import Store
from core.store.audit import export_audit, list_audit
from core.store.drafts import drop_draft, get_draft, save_draft
from core.team import LOCAL, ROLE_HELP, AccessRole, Identity
from core.team.handover import MIN_SUMMARY_CHARS, hand_over, list_handovers
from core.team.members import list_members, resolve_identity, set_role
from core.team.oidc import SignInSettings, open_access_warning, provider_problem, session_expiry, sign_in_settings

IDENTITY_KEY = "team_identity"
SETTINGS_ERROR_KEY = "team_settings_error"
LOGIN_ERROR_KEY = "team_login_error"
OPEN_ACCESS_KEY = "team_open_access"
CONFIRMATION_SECONDS = 600  # a handover confirmation stays this long (or until the next handover)


def _settings() -> SignInSettings:
    try:
        return sign_in_settings()
    except InvalidInputError as exc:
        st.error(f"**Sign-in settings are invalid.** {exc}")
        st.stop()
        raise


def _login(cfg: SignInSettings) -> None:
    problem = provider_problem(cfg.metadata_url) if cfg.metadata_url else None
    if problem:
        st.session_state[LOGIN_ERROR_KEY] = problem
        return
    st.session_state.pop(LOGIN_ERROR_KEY, None)
    st.login()


def _sign_in_screen(cfg: SignInSettings) -> None:
    st.title("ML Incident Workbench")
    st.markdown("### Sign in to join the war room")
    st.write("This workbench is shared by a team: sign in with your organisation's account. Your access role "
             "(viewer, responder or commander) comes from your sign-in or from the team list.")
    if cfg.missing:
        st.error("Sign-in is configured but incomplete: `[auth]` in .streamlit/secrets.toml needs "
                 f"{', '.join(cfg.missing)}. See docs/team.md.")
        return
    if st.session_state.get(LOGIN_ERROR_KEY):
        st.error(st.session_state[LOGIN_ERROR_KEY])
    st.button("Sign in", type="primary", key="team_sign_in", icon=":material/login:", on_click=_login, args=(cfg,))


def gate(store: Store) -> Identity:
    """Who is using this session; shows the sign-in screen and stops the run when nobody is signed in."""
    cfg = _settings()
    st.session_state[OPEN_ACCESS_KEY] = open_access_warning(store.dialect, cfg)
    if not cfg.enabled:
        ident = LOCAL
    else:
        if not st.user.is_logged_in:
            _sign_in_screen(cfg)
            st.stop()
        claims = st.user.to_dict()
        try:
            ident = resolve_identity(store, claims, cfg.role_claim)
        except InvalidInputError as exc:
            st.error(f"**Your sign-in cannot be used.** {exc}")
            st.button("Sign out", key="team_sign_out_bad", on_click=st.logout)
            st.stop()
            raise
        expiry = session_expiry(claims, cfg.session)
        if expiry is not None and expiry < datetime.now(timezone.utc):
            ident = ident.with_role(AccessRole.VIEWER, "expired")
    st.session_state[IDENTITY_KEY] = ident
    return ident


def identity() -> Identity:
    """The identity of this run (the local commander when no gate ran: single-user mode)."""
    return st.session_state.get(IDENTITY_KEY) or LOCAL


def bind(store: Store) -> Store:
    """``store`` acting as this session's person, audited as coming from the current page."""
    page = st.session_state.get("app_page") or "incidents"
    return store.as_user(identity(), via=f"page:{page}")


def sidebar(ident: Identity) -> None:
    """Who you are and what you may do, at the top of the sidebar."""
    side = st.sidebar
    if ident.source == "local":
        open_access = st.session_state.get(OPEN_ACCESS_KEY)
        if open_access:
            side.warning(f"**No sign-in.** {open_access}", icon=":material/lock_open:")
            st.warning(f"**Anyone can edit everything here.** {open_access}", icon=":material/lock_open:")
            return
        side.caption("**Single-user mode** — no sign-in on this machine; you act as the incident commander. "
                     "A team signs in when `[auth]` is set in .streamlit/secrets.toml (docs/team.md).")
        return
    role = ident.role.value
    side.markdown(f"**{ident.label}** · {role}")
    if ident.source == "expired":
        side.warning("Your sign-in has expired: you can read, but saving is refused until you sign in again. "
                     "Copy anything you typed first.")
        side.button("Sign in again", key="team_sign_in_again", on_click=st.logout, width="stretch")
        return
    if ident.source == "default":
        side.info("Your sign-in carries no role and the team list does not name you: you can read only. "
                  "Ask an incident commander for the responder role.")
    else:
        side.caption(ROLE_HELP[ident.role].capitalize() + ".")
    side.button("Sign out", key="team_sign_out", on_click=st.logout, icon=":material/logout:")


# ---------------------------------------------------------------- incident command


def _handover(store: Store, incident: Incident) -> None:
    ss = st.session_state
    ss.pop("team_handover_done", None)
    try:
        done = hand_over(store, incident.id, role=ss["team_handover_role"], incoming=ss["team_handover_to"],
                         summary=ss["team_handover_summary"], version=incident.version,
                         recorded_by=identity().user)
    except WorkbenchError as exc:
        ss["team_handover_error"] = str(exc)
        return
    ss.pop("team_handover_error", None)
    drop_draft(store, identity().user, _draft_purpose(incident))
    # Kept for a while, not shown once: a rerun from the page's timer, or the summary field reporting
    # its old text once more, must not take the confirmation away before it is read.
    names = f"{md_text(done.outgoing or 'nobody')} → {md_text(done.incoming)}"  # typed text, shown as text
    ss["team_handover_done"] = (incident.id, f"{done.role_label}: {names}. The handover is on the timeline.",
                                time.monotonic())
    ss["team_handover_summary"] = ""
    ss["team_handover_to"] = ""


def _draft_purpose(incident: Incident) -> str:
    return f"handover:{incident.id}"


def _keep_draft(store: Store, incident: Incident) -> None:
    save_draft(store, identity().user, _draft_purpose(incident), st.session_state.get("team_handover_summary") or "")


def _restore_draft(store: Store, incident: Incident) -> None:
    """A summary typed before a reload of the tab (kept in the store per person and incident) comes back."""
    ss = st.session_state
    if ss.get("team_handover_draft_for") == incident.id:
        return
    ss["team_handover_draft_for"] = incident.id
    draft = get_draft(store, identity().user, _draft_purpose(incident))
    if draft and not ss.get("team_handover_summary"):
        ss["team_handover_summary"] = draft
        ss["team_handover_restored"] = True


def role_board(store: Store, incident: Incident) -> None:
    """The ICS roles of the incident and the handover form (commanders)."""
    st.markdown("#### Incident command")
    board = [{"ICS role": ROLE_LABELS[r], "person": incident.roles.get(r.value, "") or "—"} for r in Role]
    st.dataframe(board, hide_index=True, width="stretch")
    ident = identity()
    _restore_draft(store, incident)
    restored = st.session_state.pop("team_handover_restored", False)
    with st.expander("Hand over a role", expanded=restored):
        if not ident.can(AccessRole.COMMANDER):
            st.caption(f"Only a commander can hand over roles; you are a {ident.role.value}.")
        roles = [r.value for r in Role]
        st.selectbox("Role", roles, format_func=lambda v: ROLE_LABELS[Role(v)], key="team_handover_role")
        st.text_input("Incoming person", key="team_handover_to", placeholder="who takes the role now")
        st.text_area("Handover summary (required)", key="team_handover_summary", height=110,
                     placeholder="Current state, what is being tried, open actions, the next decision and when",
                     help=f"At least {MIN_SUMMARY_CHARS} characters; it goes on the timeline. What you type is "
                          "kept as your draft (also after a reload) until the handover is done.",
                     on_change=_keep_draft, args=(store, incident))
        if restored:
            st.caption("Your unsent summary from before the reload is back.")
        st.button("Hand over", key="team_handover_go", type="primary", on_click=_handover, args=(store, incident),
                  disabled=not ident.can(AccessRole.COMMANDER))
    if st.session_state.get("team_handover_error"):
        st.error(f"Not handed over: {md_text(st.session_state['team_handover_error'])} Your entries are kept in the form.")
    done = st.session_state.get("team_handover_done")
    if done and done[0] == incident.id and time.monotonic() - done[2] < CONFIRMATION_SECONDS:
        st.success(done[1])
    past = list_handovers(store, incident.id)
    if past:
        st.caption("Handovers")
        st.dataframe([{"when (UTC)": iso(h.at)[:16].replace("T", " "), "role": h.role_label,
                       "from": h.outgoing or "—", "to": h.incoming, "summary": h.summary, "by": h.recorded_by}
                      for h in reversed(past)], hide_index=True, width="stretch")


def audit_panel(store: Store, incident: Incident) -> None:
    """The incident's audit log, newest first, with CSV and JSON downloads."""
    entries = list_audit(store, incident.id)
    with st.expander(f"Audit log — who changed what ({len(entries)})", expanded=False):
        if not entries:
            st.caption("No change recorded yet.")
            return
        st.dataframe([{"when (UTC)": iso(e.at)[:19].replace("T", " "), "who": e.user, "role": e.role,
                       "what": e.sentence().split(f"({e.role}) ", 1)[-1], "from": e.via or "—"}
                      for e in reversed(entries)], hide_index=True, width="stretch", key="team_audit_table")
        c1, c2 = st.columns(2)
        c1.download_button("Download CSV", export_audit(entries, "csv"), file_name=f"{incident.id}-audit.csv",
                           mime="text/csv", key="team_audit_csv", icon=":material/download:")
        c2.download_button("Download JSON", export_audit(entries, "json"), file_name=f"{incident.id}-audit.json",
                           mime="application/json", key="team_audit_json", icon=":material/download:")


def _set_member(store: Store) -> None:
    ss = st.session_state
    try:
        set_role(store, ss.get("team_member_user", ""), ss.get("team_member_role", ""), by=identity().user)
        ss["team_member_note"] = f"{md_text(ss['team_member_user'].strip().lower())} is now a {ss['team_member_role']}."
        ss.pop("team_member_error", None)
    except WorkbenchError as exc:
        ss["team_member_error"] = str(exc)


def team_panel(store: Store) -> None:
    """The team list (access roles kept in the store); commanders change it."""
    ident = identity()
    if ident.source == "local":
        return
    with st.expander("Team roles", expanded=False):
        members = list_members(store)
        st.dataframe([{"user": m["user_name"], "role": m["role"], "set by": m["updated_by"]} for m in members]
                     or [{"user": "—", "role": "", "set by": ""}], hide_index=True, width="stretch")
        st.caption("The team list wins over the role in a sign-in token: a change applies at the person's next click.")
        c1, c2, c3 = st.columns([3, 2, 1])
        c1.text_input("E-mail", key="team_member_user", placeholder="name@example.com")
        c2.selectbox("Role", [r.value for r in AccessRole], key="team_member_role")
        c3.button("Set", key="team_member_set", on_click=_set_member, args=(store,),
                  disabled=not ident.can(AccessRole.COMMANDER))
        if st.session_state.get("team_member_error"):
            st.error(st.session_state["team_member_error"])
        if st.session_state.get("team_member_note"):
            from ui.state import take_once  # ui.state imports this module

            st.success(take_once("team_member_note"))


def incident_panel(store: Store, incident: Incident) -> None:
    """Role board, handover, audit log and team list for the selected incident."""
    role_board(store, incident)
    audit_panel(store, incident)
    team_panel(store)
