"""Team mode in core: identities from token claims and the team list, automation tokens, the audit log,
ICS handover, presence across replicas, and the command line's --as."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import ConcurrentEditError, InvalidInputError
from core.models import TimeWindow
from core.report.audit import who_did_what
from core.store import open_store
from core.store.audit import export_audit, list_audit
from core.store.incidents import create_incident, get_incident, update_incident
from core.store.presence import commander_view, heartbeat, people_here, present
from core.store.timeline import add_event, list_events, update_event
from core.team import AccessRole, Identity, PermissionDeniedError, SessionExpiredError, identity_from_claims
from core.team.handover import hand_over, list_handovers
from core.team.members import create_token, identity_for_token, resolve_identity, revoke_tokens, set_role

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
CORA = Identity("cora@example.com", "cora@example.com", AccessRole.COMMANDER, "store")
ROB = Identity("rob@example.com", "rob@example.com", AccessRole.RESPONDER, "claim")


@pytest.mark.parametrize("claims, user, role, source", [
    ({"sub": "1", "email": "ann@x.org", "workbench_role": "Responder"}, "ann@x.org", "responder", "claim"),
    ({"sub": "1", "email": "ann@x.org", "workbench_role": ["viewer", "wb-commander"]}, "ann@x.org", "commander",
     "claim"),
    ({"sub": "1", "preferred_username": "ann"}, "ann", "viewer", "default"),
    ({"sub": "abc", "workbench_role": "janitor"}, "abc", "viewer", "default"),
])
def test_identity_from_claims(claims, user, role, source):
    ident = identity_from_claims(claims)
    assert (ident.user, ident.role.value, ident.source) == (user, role, source)


def test_a_token_naming_nobody_is_refused_with_the_fix():
    with pytest.raises(InvalidInputError, match="names nobody.*openid email profile"):
        identity_from_claims({"workbench_role": "commander"})


def test_the_team_list_wins_over_the_claim_so_a_downgrade_applies_at_once(sqlite_store):
    claims = {"sub": "1", "email": "Rob@Example.com", "workbench_role": "commander"}
    assert resolve_identity(sqlite_store, claims).role is AccessRole.COMMANDER
    set_role(sqlite_store, "rob@example.com", "viewer", by="cora")
    ident = resolve_identity(sqlite_store, claims)
    assert (ident.role, ident.source) == (AccessRole.VIEWER, "store")
    create_incident(sqlite_store, id="INC-D", title="t")
    with pytest.raises(PermissionDeniedError, match="viewer \\(role assigned in the team list\\)"):
        add_event(sqlite_store.as_user(ident), "INC-D", timestamp=T0, kind="annotation", title="typed note")
    assert list_events(sqlite_store, "INC-D") == []


def test_only_a_commander_manages_the_team(sqlite_store):
    with pytest.raises(PermissionDeniedError, match="only a commander can change team roles"):
        set_role(sqlite_store.as_user(ROB), "rob@example.com", "commander")
    set_role(sqlite_store.as_user(CORA), "rob@example.com", "commander")


def test_automation_tokens(sqlite_store):
    set_role(sqlite_store, "bot@example.com", "responder")
    token = create_token(sqlite_store, "bot@example.com")
    ident = identity_for_token(sqlite_store, "bot@example.com", token)
    assert (ident.user, ident.role, ident.source) == ("bot@example.com", AccessRole.RESPONDER, "token")
    with pytest.raises(SessionExpiredError, match="not a valid token of other@example.com"):
        identity_for_token(sqlite_store, "other@example.com", token)
    with pytest.raises(SessionExpiredError, match="WORKBENCH_TOKEN"):
        identity_for_token(sqlite_store, "bot@example.com", None)
    assert revoke_tokens(sqlite_store, "bot@example.com") == 1
    with pytest.raises(SessionExpiredError, match="revoked"):
        identity_for_token(sqlite_store, "bot@example.com", token)


def test_the_audit_log_records_who_what_versions_and_where(store):
    create_incident(store, id="INC-A", title="CTR drop")
    rob = store.as_user(ROB, via="page:timeline")
    ev = add_event(rob, "INC-A", timestamp=T0, kind="deploy", title="Deploy v2")
    update_event(rob, ev.id, version=1, title="Deploy v2 (canary)")
    entries = list_audit(store, "INC-A")
    assert [(e.user, e.object_type, e.action) for e in entries] == [
        ("system", "incidents", "insert"), (ROB.user, "timeline_events", "insert"),
        (ROB.user, "timeline_events", "update")]
    edit = entries[-1]
    assert (edit.version_before, edit.version_after, edit.changed, edit.via) == (1, 2, ("title",), "page:timeline")
    assert edit.before == {"title": "Deploy v2"} and edit.after == {"title": "Deploy v2 (canary)"}
    assert edit.object_id == str(ev.id) and edit.role == "responder"
    rows = list(csv.DictReader(io.StringIO(export_audit(entries, "csv"))))
    assert rows[-1]["user"] == ROB.user and rows[-1]["version_before"] == "1" and rows[-1]["changed"] == "title"
    assert json.loads(export_audit(entries, "json"))[-1]["after"] == {"title": "Deploy v2 (canary)"}
    with pytest.raises(InvalidInputError, match="not an audit export format"):
        export_audit(entries, "xml")


def test_a_refused_or_stale_write_leaves_no_audit_entry(sqlite_store):
    create_incident(sqlite_store, id="INC-S", title="t")
    n = len(list_audit(sqlite_store, "INC-S"))
    update_incident(sqlite_store.as_user(ROB), "INC-S", version=1, summary="first")
    with pytest.raises(ConcurrentEditError):
        update_incident(sqlite_store.as_user(ROB), "INC-S", version=1, summary="second")
    with pytest.raises(PermissionDeniedError):
        update_incident(sqlite_store.as_user(ROB), "INC-S", version=2, status="closed")
    assert len(list_audit(sqlite_store, "INC-S")) == n + 1


def test_handover_records_people_summary_and_a_timeline_event(store):
    create_incident(store, id="INC-H", title="t", roles={"incident_commander": "cora"})
    cora = store.as_user(CORA, via="page:incidents")
    summary = "CTR still 20% down; rollback of v2 running; next decision at 10:30"
    done = hand_over(cora, "INC-H", role="incident_commander", incoming="dan", summary=summary, version=1,
                     recorded_by=CORA.user, at=T0)
    assert (done.outgoing, done.incoming) == ("cora", "dan")
    assert get_incident(store, "INC-H").roles["incident_commander"] == "dan"
    (event,) = list_events(store, "INC-H")
    assert event.title == "Incident commander handed over: cora → dan" and event.details["summary"] == summary
    assert list_handovers(store, "INC-H")[0].event_id == event.id
    with pytest.raises(InvalidInputError, match="summary of at least 20"):
        hand_over(cora, "INC-H", role="scribe", incoming="eve", summary="ok", version=2)
    with pytest.raises(ConcurrentEditError):
        hand_over(cora, "INC-H", role="scribe", incoming="eve", summary=summary, version=1)
    with pytest.raises(PermissionDeniedError, match="only a commander"):
        hand_over(store.as_user(ROB), "INC-H", role="scribe", incoming="eve", summary=summary, version=2)
    assert len(list_handovers(store, "INC-H")) == 1 and len(list_events(store, "INC-H")) == 1
    md = who_did_what(store, "INC-H")
    assert "| cora@example.com (commander) | added handover" in md and "page:incidents" in md


def test_presence_is_shared_by_two_replicas_of_one_postgresql_store(pg_url):
    a, b = open_store(pg_url), open_store(pg_url)  # two processes' engines on one database
    try:
        create_incident(a, id="INC-W", title="t")
        window = TimeWindow(T0, T0 + timedelta(hours=2))
        heartbeat(a, "s1", user="cora@example.com", name="Cora", role="commander", incident_id="INC-W",
                  page="timeline", window=window, replica="r1")
        heartbeat(b, "s2", user="rob@example.com", role="responder", incident_id="INC-W", page="fishbone",
                  replica="r2")
        heartbeat(b, "s3", user="old@example.com", role="viewer", incident_id="INC-W", page="logs",
                  at=datetime.now(timezone.utc) - timedelta(minutes=5))
        seen = present(b, "INC-W")
        assert {(p.user, p.page, p.replica) for p in seen} == {("cora@example.com", "timeline", "r1"),
                                                               ("rob@example.com", "fishbone", "r2")}
        lead = commander_view(b, "INC-W", "cora", exclude_session="s2")
        assert lead.session_id == "s1" and lead.window == window and lead.page == "timeline"
        heartbeat(a, "s1", user="cora@example.com", role="commander", incident_id="INC-W", page="logs",
                  window=window, replica="r1")
        assert commander_view(b, "INC-W", "cora@example.com").page == "logs"
        assert commander_view(b, "INC-W", None, exclude_session="s1") is None
    finally:
        a.dispose()
        b.dispose()



def test_presence_lists_each_person_once_with_their_tabs(sqlite_store):
    create_incident(sqlite_store, id="INC-T", title="t")
    now = datetime.now(timezone.utc)
    for sid, user, page, ago in (("a1", "ann@example.com", "timeline", 1), ("a2", "ann@example.com", "fishbone", 3),
                                 ("a3", "ann@example.com", "timeline", 5), ("b1", "bob@example.com", "logs", 2)):
        heartbeat(sqlite_store, sid, user=user, name="Ann" if sid == "a2" else "", role="responder",
                  incident_id="INC-T", page=page, at=now - timedelta(seconds=ago))
    people = people_here(present(sqlite_store, "INC-T"))
    assert [(p.label, p.tabs, p.pages) for p in people] == [("Ann", 3, ("timeline", "fishbone")),
                                                           ("bob@example.com", 1, ("logs",))]
    assert set(people[0].session_ids) == {"a1", "a2", "a3"}


def test_a_shared_store_without_sign_in_is_named_as_open_to_everyone():
    from core.team.oidc import SignInSettings, open_access_warning

    assert open_access_warning("sqlite", SignInSettings(enabled=False)) is None
    assert open_access_warning("postgresql", SignInSettings(enabled=True)) is None
    warning = open_access_warning("postgresql", SignInSettings(enabled=False))
    assert "anyone who can reach this workbench can change everything" in warning and "[auth]" in warning


def test_cli_team_list_warns_on_a_shared_store_without_sign_in(pg_url, tmp_path):
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path), "HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    run = [sys.executable, "-m", "core", "team", "--database", pg_url, "role", "set", "rob@example.com", "responder"]
    shared = subprocess.run(run, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=120)
    assert shared.returncode == 0, shared.stderr
    assert "warning: Sign-in is off on a shared store" in shared.stderr and "[auth]" in shared.stderr
    assert "Traceback" not in shared.stderr
    local = _cli("team", "role", "list", home=tmp_path)
    assert local.returncode == 0 and "Sign-in is off" not in local.stderr


def _cli(*args, env=None, home):
    full = {**os.environ, "WORKBENCH_HOME": str(home), **(env or {})}
    full.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def test_cli_acts_as_a_person_with_their_token(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'workbench.db'}")
    create_incident(store, id="INC-C", title="t")
    set_role(store, "rob@example.com", "responder")
    token = create_token(store, "rob@example.com")
    store.dispose()
    summary = "all quiet, the rollback finished at 09:40"
    refused = _cli("--as", "rob@example.com", "team", "handover", "INC-C", "--to", "dan", "--summary", summary,
                   env={"WORKBENCH_TOKEN": token}, home=tmp_path)
    assert refused.returncode == 5 and "rob@example.com is a responder" in refused.stderr
    assert "Traceback" not in refused.stderr
    no_token = _cli("--as", "rob@example.com", "team", "audit", "INC-C", home=tmp_path)
    assert no_token.returncode == 5 and "WORKBENCH_TOKEN" in no_token.stderr
    plain = _cli("team", "handover", "INC-C", "--to", "dan", "--summary", summary, "--json", home=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["incoming"] == "dan"
    audit = _cli("team", "audit", "INC-C", "--format", "json", home=tmp_path)
    entries = json.loads(audit.stdout)
    assert entries[-1]["via"] == "cli: team handover" and entries[-1]["user"] == "system"


def test_the_post_mortem_response_section_can_name_who_did_what(sqlite_store, tmp_path, monkeypatch):
    from dataclasses import replace

    from core.report.postmortem import build_postmortem, gather_inputs

    create_incident(sqlite_store, id="INC-P", title="CTR drop", roles={"incident_commander": "cora"})
    rob = sqlite_store.as_user(ROB, via="page:timeline")
    add_event(rob, "INC-P", timestamp=T0, kind="deploy", title="Deploy v2")
    inputs = gather_inputs(sqlite_store, "INC-P")
    plain = build_postmortem(inputs, charts=False).section("response").text
    assert "Who did what" not in plain and ROB.user not in plain  # blameless by default
    named = build_postmortem(replace(inputs, who_did_what=who_did_what(sqlite_store, "INC-P")),
                             charts=False).section("response").text
    assert named.startswith(plain) and "**Who did what, when**" in named
    assert f"| {ROB.user} (responder) | added timeline event" in named and "page:timeline" in named


def test_postmortem_cli_adds_who_did_what_on_request(tmp_path):
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    store = open_store(url)
    create_incident(store, id="INC-C", title="CTR drop")
    add_event(store.as_user(ROB, via="page:timeline"), "INC-C", timestamp=T0, kind="deploy", title="Deploy v2")
    store.dispose()
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "core", "postmortem", "INC-C", "--database", url, "--no-charts"]
    plain = subprocess.run(run, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[2])
    named = subprocess.run(run + ["--who-did-what"], capture_output=True, text=True, env=env,
                           cwd=Path(__file__).parents[2])
    assert plain.returncode == 0 and named.returncode == 0, named.stderr
    assert ROB.user not in plain.stdout
    assert "Who did what, when" in named.stdout and f"{ROB.user} (responder)" in named.stdout
