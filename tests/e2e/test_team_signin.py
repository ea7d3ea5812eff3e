"""War-room team mode in real Chromium: the real OpenID Connect sign-in flow (``st.login``) against a real
provider process (oidc-provider-mock), on PostgreSQL, with several people at once.

Checks sign-in, roles from the token and from the team list, a role downgrade while editing (refused,
typed text kept), a token without a role claim, ICS handover and the audit log, presence between
two people, "follow the commander", an expired sign-in (read only, typed text kept, "Sign in again"), and
an unreachable provider.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, screenshot_dir
from tests.servers import free_port, http_ok, running

INCIDENT = "INC-WAR-1"
USERS = {
    "cora": {"email": "cora@example.com", "name": "Cora Commander", "workbench_role": "commander"},
    "rob": {"email": "rob@example.com", "name": "Rob Responder", "workbench_role": "responder"},
    "nora": {"email": "nora@example.com", "name": "Nora Norole"},
    # her ID token says it was issued two days ago: past the 12 h a sign-in allows saving
    "eve": {"email": "eve@example.com", "name": "Eve Expired", "workbench_role": "responder",
            "iat": int(time.time()) - 2 * 24 * 3600},
}
IDLE = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const header = document.querySelector('[data-testid="stHeader"]');
    const running = header && [...header.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop');
    return main && main.querySelector('h1') && !running;
}"""


@pytest.fixture(scope="module")
def pg_db(pg_admin_url):
    import sqlalchemy

    name = f"wb_team_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": name})
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """A real OpenID Connect provider (oidc-provider-mock) with three predefined people."""
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    cmd = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for sub, claims in USERS.items():
        cmd += ["--user-claims", json.dumps({"sub": sub, **claims})]
    base = f"http://127.0.0.1:{port}"
    with running(cmd, log, lambda: http_ok(f"{base}/.well-known/openid-configuration"), what="oidc provider") as proc:
        yield base, proc


@pytest.fixture(scope="module")
def team_app(provider, pg_db, tmp_path_factory):
    """``streamlit run app.py`` with [auth] pointing at the provider, on PostgreSQL, with one incident."""
    from core.store import open_store
    from core.store.incidents import create_incident

    store = open_store(pg_db)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    create_incident(store, id=INCIDENT, title="Checkout model scores all zero", severity="SEV2",
                    roles={"incident_commander": "Cora Commander"},
                    milestones={"started": now - timedelta(hours=2)})
    store.dispose()
    home = tmp_path_factory.mktemp("team-home")
    port = free_port()
    cmd, env = _replica(home, port, provider[0], pg_db, f"{uuid.uuid4().hex}{uuid.uuid4().hex}")
    base = f"http://127.0.0.1:{port}"
    with running(cmd, home / "streamlit.log", lambda: http_ok(f"{base}/_stcore/health"), what="streamlit",
                 cwd=ROOT, env=env):
        yield base


def _replica(home: Path, port: int, provider: str, database: str, cookie_secret: str) -> tuple[list[str], dict]:
    """The command and environment of one app replica with [auth] pointing at ``provider``."""
    base = f"http://127.0.0.1:{port}"
    (home / ".streamlit").mkdir(exist_ok=True)
    (home / ".streamlit" / "secrets.toml").write_text(f"""
[auth]
redirect_uri = "{base}/oauth2callback"
cookie_secret = "{cookie_secret}"
client_id = "workbench"
client_secret = "workbench-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[team]
role_claim = "workbench_role"
""")
    env = {**os.environ, "HOME": str(home), "WORKBENCH_HOME": str(home / "wb"), "DATABASE_URL": database}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    return cmd, env


def _idle(page, timeout=90_000):
    page.wait_for_function(IDLE, timeout=timeout, polling=250)


def _sign_in(browser, base: str, who: str, path: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(90_000)  # two cores shared with the demo build and the other browser
    context.set_default_navigation_timeout(120_000)
    page = context.new_page()
    page.goto(f"{base}/{path}?incident={INCIDENT}")
    page.get_by_text("Sign in to join the war room").wait_for(timeout=90_000)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=who, exact=True).click()  # the provider's own page
    page.wait_for_url(re.compile(re.escape(base)), timeout=60_000)
    _idle(page)
    page.goto(f"{base}/{path}?incident={INCIDENT}")  # the sign-in returns to the app's home page
    _idle(page)
    return context, page


def _sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def _open_expander(page, label: str, inside, tries: int = 6) -> None:
    """Open an expander and wait for something inside it. A click that lands while the page is rerunning
    (presence refreshes every few seconds) can hit the element being replaced; a person clicks again."""
    for attempt in range(tries):
        page.get_by_text(label).first.click()
        try:
            inside.wait_for(state="visible", timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's timeout; try the click again
            if attempt == tries - 1:
                raise


def _open_selected_incident(page):
    page.get_by_role("tab", name="Selected incident").click()
    page.get_by_text("Incident command", exact=True).wait_for(timeout=90_000)


def _switch_on(page, label: str) -> None:
    """Turn a toggle on; click again if the first click landed on an element a rerun was replacing."""
    switch = page.get_by_role("switch", name=label, exact=True)
    for _ in range(4):
        page.get_by_text(label, exact=True).click()
        try:
            page.wait_for_function("(el) => el.checked", arg=switch.element_handle(), timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - the element was replaced, or the click was lost: look again
            if switch.is_checked():
                return
    assert switch.is_checked(), f"{label} could not be switched on"


def test_war_room_sign_in_roles_handover_audit_presence_and_follow(browser, team_app, pg_db):
    from core.store import open_store
    from core.store.audit import list_audit
    from core.store.incidents import get_incident, update_incident
    from core.team.members import set_role

    shots = screenshot_dir()
    cora_ctx, cora = _sign_in(browser, team_app, "cora")
    rob_ctx, rob = _sign_in(browser, team_app, "rob")
    try:
        assert "Cora Commander · commander" in _sidebar(cora)
        assert "Rob Responder · responder" in _sidebar(rob)
        # presence: each sees the other on this incident within a few heartbeats
        try:
            cora.get_by_text("Rob Responder · responder").wait_for(timeout=90_000)
        finally:
            cora.screenshot(path=str(shots / "team_presence.png"), full_page=True)
        rob.get_by_text("Cora Commander · commander").first.wait_for(timeout=90_000)

        # a responder cannot hand over command; the commander can, and it is audited
        _open_selected_incident(rob)
        _open_expander(rob, "Hand over a role", rob.get_by_text("Only a commander can hand over roles; you are a responder"))
        _open_selected_incident(cora)
        _open_expander(cora, "Hand over a role", cora.get_by_role("textbox", name="Incoming person"))
        cora.get_by_role("textbox", name="Incoming person").fill("Dana Duty")
        cora.get_by_role("textbox", name="Handover summary (required)").fill(
            "Scores are zero since the 14:02 deploy; rollback started; next check 15:00")
        cora.get_by_role("button", name="Hand over").click()
        # the page reruns (and, while the demo incidents are still being built, may reopen its first tab)
        cora.get_by_text("Handovers", exact=True).wait_for(state="attached", timeout=90_000)
        _open_selected_incident(cora)
        cora.get_by_text("Handovers", exact=True).wait_for(timeout=90_000)
        assert "Dana Duty" in cora.inner_text("body")
        cora.screenshot(path=str(shots / "team_handover.png"), full_page=True)
        store = open_store(pg_db)
        try:
            assert get_incident(store, INCIDENT).roles["incident_commander"] == "Dana Duty"
            handover = [e for e in list_audit(store, INCIDENT) if e.object_type == "handovers"]
            assert [(e.user, e.role, e.via) for e in handover] == [("cora@example.com", "commander", "page:incidents")]

            # follow the commander: Rob's page follows Cora to the Timeline
            _switch_on(rob, "Follow the commander")
            cora.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Timeline").click()
            rob.wait_for_url(re.compile(r"/timeline"), timeout=90_000)
            # the Timeline's title is drawn (presence keeps refreshing, so the page is seldom fully idle)
            rob.locator('[data-testid="stMain"] h1', has_text="Timeline").wait_for(timeout=90_000)
            rob.screenshot(path=str(shots / "team_follow.png"), full_page=True)

            # others' edits reach an open page by themselves (the sidebar's timer sees the new revision)
            incident = get_incident(store, INCIDENT)
            update_incident(store, INCIDENT, version=incident.version, title=incident.title + " (rollback started)")
            rob.locator('[data-testid="stMain"]').get_by_text("(rollback started)").wait_for(timeout=60_000)

            # a role downgrade while editing: the save is refused, nothing lost
            rob.goto(f"{team_app}/?incident={INCIDENT}")
            _idle(rob)
            _open_selected_incident(rob)
            summary = rob.get_by_role("textbox", name="Summary", exact=True)
            summary.fill("Typed by Rob before his role changed")
            set_role(store, "rob@example.com", "viewer", by="cora@example.com")
            rob.get_by_role("button", name="Save changes").click()
            rob.get_by_text("Nothing was saved").wait_for(state="attached", timeout=90_000)
            rob.get_by_role("tab", name="Selected incident").click()  # see above: the tab may have been reset
            try:
                rob.get_by_text("Nothing was saved").wait_for(timeout=90_000)
            finally:
                rob.screenshot(path=str(shots / "team_downgrade.png"), full_page=True)
            body = rob.inner_text("body")
            assert "is a viewer (role assigned in the team list)" in body, body[body.find("Nothing") - 300:][:600]
            assert rob.get_by_role("textbox", name="Summary", exact=True).input_value() == "Typed by Rob before his role changed"
            assert get_incident(store, INCIDENT).summary == ""
            rob.screenshot(path=str(shots / "team_downgrade.png"), full_page=True)
        finally:
            store.dispose()
    finally:
        cora_ctx.close()
        rob_ctx.close()


def test_a_token_without_a_role_claim_can_read_only(browser, team_app):
    ctx, page = _sign_in(browser, team_app, "nora")
    try:
        side = _sidebar(page)
        assert "Nora Norole · viewer" in side and "carries no role" in side
        _open_selected_incident(page)
        page.get_by_text("Hand over a role").click()
        page.get_by_text("you are a viewer").wait_for()
    finally:
        ctx.close()


def test_signing_out_returns_to_the_sign_in_page(browser, team_app):
    ctx, page = _sign_in(browser, team_app, "rob")
    try:
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="End session").click()  # the provider's own logout page
        page.get_by_text("Sign in to join the war room").wait_for(timeout=90_000)
    finally:
        ctx.close()


def test_an_expired_sign_in_reads_only_keeps_what_was_typed_and_offers_to_sign_in_again(browser, team_app, pg_db):
    from core.store import open_store
    from core.store.incidents import get_incident

    store = open_store(pg_db)
    try:
        before = get_incident(store, INCIDENT)
        ctx, page = _sign_in(browser, team_app, "eve")
        try:
            side = _sidebar(page)
            assert "Eve Expired" in side and "Your sign-in has expired" in side, side
            _open_selected_incident(page)
            summary = page.get_by_role("textbox", name="Summary", exact=True)
            summary.fill("Typed by Eve after her sign-in expired")
            page.get_by_role("button", name="Save changes").click()
            page.get_by_text("sign-in session has expired").wait_for(state="attached", timeout=90_000)
            page.get_by_role("tab", name="Selected incident").click()  # a rerun may reopen the first tab
            page.get_by_text("sign-in session has expired").wait_for(timeout=90_000)
            page.screenshot(path=str(screenshot_dir() / "team_expired.png"), full_page=True)
            assert summary.input_value() == "Typed by Eve after her sign-in expired"
            after = get_incident(store, INCIDENT)
            assert (after.summary, after.version) == (before.summary, before.version)
            page.get_by_role("button", name="Sign in again").click()
            page.get_by_role("button", name="End session").click()  # the provider's own logout page
            page.get_by_text("Sign in to join the war room").wait_for(timeout=90_000)
        finally:
            ctx.close()
    finally:
        store.dispose()


def test_a_replica_restarting_mid_edit_keeps_what_was_typed_and_the_save_lands_when_it_is_back(
        browser, team_app, provider, pg_db, tmp_path):
    """The replica a person is on restarts while they type: the page reconnects by itself (the sign-in
    cookie is valid on the restarted process), the typed summary is still in the form, and saving it
    after the restart writes it, once."""
    from core.store import open_store
    from core.store.audit import list_audit
    from core.store.incidents import get_incident

    port = free_port()
    cmd, env = _replica(tmp_path, port, provider[0], pg_db, f"{uuid.uuid4().hex}{uuid.uuid4().hex}")
    base = f"http://127.0.0.1:{port}"
    typed = "Typed while the replica restarted: rollback of scorer 3.2 started at 14:20"
    store = open_store(pg_db)
    try:
        with running(cmd, tmp_path / "first.log", lambda: http_ok(f"{base}/_stcore/health"), what="replica",
                     cwd=ROOT, env=env) as first:
            ctx, page = _sign_in(browser, base, "cora")
            _open_selected_incident(page)
            summary = page.get_by_role("textbox", name="Summary", exact=True)
            summary.fill(typed)
            first.terminate()
            first.wait(timeout=30)
        try:
            with running(cmd, tmp_path / "second.log", lambda: http_ok(f"{base}/_stcore/health"),
                         what="restarted replica", cwd=ROOT, env=env):
                _idle(page)  # the page reconnected to the restarted process and ran again
                page.get_by_text("Cora Commander · commander").first.wait_for(timeout=90_000)  # still signed in
                assert summary.input_value() == typed
                page.get_by_role("button", name="Save changes").click()
                for _ in range(90):
                    if get_incident(store, INCIDENT).summary == typed:
                        break
                    time.sleep(1)
                page.screenshot(path=str(screenshot_dir() / "team_replica_restarted.png"), full_page=True)
                assert get_incident(store, INCIDENT).summary == typed
                saves = [e for e in list_audit(store, INCIDENT)
                         if e.object_type == "incidents" and (e.after or {}).get("summary") == typed]
                assert [(e.user, e.via) for e in saves] == [("cora@example.com", "page:incidents")]
        finally:
            ctx.close()
    finally:
        store.dispose()


def test_an_unreachable_provider_is_named_on_the_sign_in_page(browser, team_app, provider):
    provider[1].terminate()
    provider[1].wait(timeout=15)
    ctx = browser.new_context()
    ctx.set_default_timeout(90_000)
    page = ctx.new_page()
    try:
        page.goto(team_app)
        page.get_by_text("Sign in to join the war room").wait_for(timeout=90_000)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("cannot be reached").wait_for(timeout=90_000)
        assert f"{provider[0]}/.well-known/openid-configuration" in page.inner_text("body")
        page.screenshot(path=str(screenshot_dir() / "team_provider_down.png"), full_page=True)
    finally:
        ctx.close()
