"""Fishbone store: categories, causes (two levels), Five Whys, action items, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import ConcurrentEditError, InvalidInputError, NotFoundError
from core.models import ActionStatus, CauseStatus, Hypothesis, RootCause
from core.store import action_items as ai
from core.store import fishbone as fb
from core.store.incidents import create_incident


@pytest.fixture
def incident(store):
    create_incident(store, id="inc-1", title="CTR dropped")
    return "inc-1"


def _cat(store, incident, name):
    return next(c for c in fb.get_fishbone(store, incident).categories if c.name == name)


def test_default_categories_and_problem(store, incident):
    f = fb.get_fishbone(store, incident)
    assert [c.name for c in f.categories] == list(fb.DEFAULT_CATEGORIES)
    assert f.problem == "" and f.version == 1
    f2 = fb.update_problem(store, incident, "  CTR dropped\n15%  ", version=1)
    assert f2.problem == "CTR dropped 15%" and f2.version == 2
    with pytest.raises(ConcurrentEditError) as err:
        fb.update_problem(store, incident, "other", version=1)
    assert err.value.current.problem == "CTR dropped 15%"
    assert fb.fishbone_revision(store, incident) == fb.get_fishbone(store, incident).revision
    with pytest.raises(NotFoundError, match="no incident"):
        fb.get_fishbone(store, "missing")


def test_categories_rename_add_delete_moves_causes(store, incident):
    data = _cat(store, incident, "Data")
    renamed = fb.rename_category(store, data.id, "Data & labels", version=data.version)
    assert renamed.name == "Data & labels" and renamed.version == 2
    with pytest.raises(ConcurrentEditError):
        fb.rename_category(store, data.id, "Again", version=1)
    with pytest.raises(InvalidInputError, match="already a category 'Model'"):
        fb.rename_category(store, data.id, " model ", version=2)
    extra = fb.add_category(store, incident, "Vendors")
    assert extra.position == len(fb.DEFAULT_CATEGORIES)
    with pytest.raises(InvalidInputError, match="empty"):
        fb.add_category(store, incident, "   ")
    parent = fb.add_cause(store, incident, category_id=extra.id, text="Vendor API changed")
    fb.add_cause(store, incident, parent_id=parent.id, text="No contract test")
    with pytest.raises(fb.CategoryHasCausesError, match="holds 2 cause"):
        fb.delete_category(store, extra.id, version=extra.version)
    assert fb.delete_category(store, extra.id, version=extra.version, move_to=renamed.id) == 2
    f = fb.get_fishbone(store, incident)
    assert "Vendors" not in [c.name for c in f.categories]
    assert {c.category_id for c in f.causes} == {renamed.id}
    empty = _cat(store, incident, "Process & people")
    assert fb.delete_category(store, empty.id, version=1) == 0


def test_cause_validation_duplicates_and_levels(store, incident):
    data = _cat(store, incident, "Data")
    model = _cat(store, incident, "Model")
    c = fb.add_cause(store, incident, category_id=data.id, text="Upstream column renamed",
                     evidence=[{"type": "timeline_event", "id": 3, "title": "export v2"}])
    assert c.status == CauseStatus.SUSPECTED and c.evidence[0]["title"] == "export v2"
    with pytest.raises(InvalidInputError, match="already on the fishbone \\(category 'Data'\\)"):
        fb.add_cause(store, incident, category_id=model.id, text="  upstream COLUMN   renamed ")
    with pytest.raises(InvalidInputError, match="empty"):
        fb.add_cause(store, incident, category_id=data.id, text=" \n ")
    with pytest.raises(InvalidInputError, match="301 characters long; keep it under 300"):
        fb.add_cause(store, incident, category_id=data.id, text="x" * 301)
    with pytest.raises(InvalidInputError, match="not a cause status"):
        fb.add_cause(store, incident, category_id=data.id, text="y", status="maybe")
    with pytest.raises(InvalidInputError, match="evidence link needs a title"):
        fb.add_cause(store, incident, category_id=data.id, text="y", evidence=[{"type": "evidence", "id": 1}])
    with pytest.raises(InvalidInputError, match="category 9999 is not part"):
        fb.add_cause(store, incident, category_id=9999, text="y")
    sub = fb.add_cause(store, incident, parent_id=c.id, category_id=model.id, text="No schema check")
    assert sub.category_id == data.id  # a sub-cause takes its parent's category
    with pytest.raises(InvalidInputError, match="two levels"):
        fb.add_cause(store, incident, parent_id=sub.id, text="third level")
    # circular and self links
    with pytest.raises(InvalidInputError, match="own sub-cause"):
        fb.update_cause(store, c.id, version=c.version, parent_id=c.id)
    with pytest.raises(InvalidInputError, match="circle"):
        fb.update_cause(store, c.id, version=c.version, parent_id=sub.id)
    other = fb.add_cause(store, incident, category_id=model.id, text="Model retrained")
    with pytest.raises(InvalidInputError, match="has sub-causes of its own"):
        fb.update_cause(store, c.id, version=c.version, parent_id=other.id)
    with pytest.raises(InvalidInputError, match="stays in its parent's category"):
        fb.update_cause(store, sub.id, version=sub.version, category_id=model.id)
    # pasted HTML/Markdown is stored as typed (the views escape it)
    html = fb.add_cause(store, incident, category_id=model.id, text="<script>alert(1)</script> **bold**")
    assert html.text == "<script>alert(1)</script> **bold**"


def test_update_move_and_delete_cause(store, incident):
    data, model = _cat(store, incident, "Data"), _cat(store, incident, "Model")
    c = fb.add_cause(store, incident, category_id=data.id, text="Feature feed stale")
    sub = fb.add_cause(store, incident, parent_id=c.id, text="No freshness alert")
    moved = fb.update_cause(store, c.id, version=c.version, category_id=model.id, status="confirmed", notes="n")
    assert (moved.category_id, moved.status, moved.notes, moved.version) == (model.id, CauseStatus.CONFIRMED, "n", 2)
    assert fb.get_cause(store, sub.id).category_id == model.id  # sub-causes move along
    with pytest.raises(ConcurrentEditError) as err:
        fb.update_cause(store, c.id, version=1, text="Feed stale")
    assert err.value.current.version == 2
    detached = fb.update_cause(store, sub.id, version=fb.get_cause(store, sub.id).version, parent_id=None,
                               category_id=data.id)
    assert detached.parent_id is None and detached.category_id == data.id
    why = fb.add_why(store, incident, question="Why?", cause_id=c.id)
    item = ai.add_action_item(store, incident, text="Add alert", cause_id=c.id)
    with pytest.raises(ConcurrentEditError):
        fb.delete_cause(store, c.id, version=1)
    fb.delete_cause(store, c.id, version=2)
    f = fb.get_fishbone(store, incident)
    assert [x.id for x in f.causes] == [sub.id]
    assert f.whys[0].id == why.id and f.whys[0].cause_id is None
    assert f.actions[0].id == item.id and f.actions[0].cause_id is None
    with pytest.raises(NotFoundError):
        fb.update_cause(store, c.id, version=2, text="gone")
    before = fb.fishbone_revision(store, incident)
    assert before == f.revision
    fb.update_cause(store, sub.id, version=detached.version, notes="x")
    assert fb.fishbone_revision(store, incident) != before == f.revision


def test_whys_branch_and_refuse_circles(store, incident):
    data = _cat(store, incident, "Data")
    cause = fb.add_cause(store, incident, category_id=data.id, text="Schema changed")
    root = fb.add_why(store, incident, question="Why did accuracy drop?", answer="inputs wrong", chain="main")
    a = fb.add_why(store, incident, parent_id=root.id, question="Why were inputs wrong?", cause_id=cause.id)
    b = fb.add_why(store, incident, parent_id=root.id, question="Why not caught?", chain="ignored")
    assert b.chain == "main"  # a step continues its parent's chain
    other = fb.add_why(store, incident, question="Why slow detection?", chain="detection")
    paths = fb.why_paths(fb.list_whys(store, incident))
    assert [[s.id for s in p] for p in paths] == [[other.id], [root.id, a.id], [root.id, b.id]]
    with pytest.raises(InvalidInputError, match="circle"):
        fb.update_why(store, root.id, version=root.version, parent_id=a.id)
    with pytest.raises(InvalidInputError, match="question is empty"):
        fb.add_why(store, incident, question="")
    with pytest.raises(InvalidInputError, match="cause 999 is not on this fishbone"):
        fb.add_why(store, incident, question="q", cause_id=999)
    moved = fb.update_why(store, other.id, version=1, parent_id=b.id, answer="no alert")
    assert moved.chain == "main" and moved.parent_id == b.id
    with pytest.raises(ConcurrentEditError):
        fb.update_why(store, other.id, version=1, answer="stale")
    fb.delete_why(store, root.id, version=root.version)
    assert fb.list_whys(store, incident) == []  # the step and everything after it


def test_action_items_crud(store, incident):
    cause = fb.add_cause(store, incident, category_id=_cat(store, incident, "Data").id, text="Stale feed")
    item = ai.add_action_item(store, incident, text=" Add freshness alert ", owner="ana", due="2026-12-01",
                              cause_id=cause.id)
    assert (item.text, item.owner, item.due, item.status, item.cause_id) == (
        "Add freshness alert", "ana", date(2026, 12, 1), ActionStatus.OPEN, cause.id)
    done = ai.update_action_item(store, item.id, version=1, status="done", due=None)
    assert done.status == ActionStatus.DONE and done.due is None and done.version == 2
    with pytest.raises(ConcurrentEditError) as err:
        ai.update_action_item(store, item.id, version=1, owner="bo")
    assert err.value.current.status == ActionStatus.DONE
    with pytest.raises(InvalidInputError, match="not a date"):
        ai.add_action_item(store, incident, text="x", due="tomorrow")
    with pytest.raises(InvalidInputError, match="not an action status"):
        ai.update_action_item(store, item.id, version=2, status="finished")
    second = ai.add_action_item(store, incident, text="Runbook")
    assert [a.id for a in ai.list_action_items(store, incident)] == [item.id, second.id]
    assert [a.id for a in ai.list_action_items(store, incident, cause_id=cause.id)] == [item.id]
    with pytest.raises(ConcurrentEditError):
        ai.delete_action_item(store, item.id, version=1)
    ai.delete_action_item(store, item.id, version=2)
    with pytest.raises(ConcurrentEditError) as err:
        ai.delete_action_item(store, item.id, version=2)
    assert err.value.current is None
    with pytest.raises(NotFoundError):
        ai.add_action_item(store, "missing", text="x")


def test_accept_hypothesis_creates_suspected_cause_and_whys(store, incident):
    from core.flows.accept import CATEGORY_FOR_ROOT_CAUSE, accept_hypothesis, category_for

    assert set(CATEGORY_FOR_ROOT_CAUSE) == set(RootCause)
    assert set(CATEGORY_FOR_ROOT_CAUSE.values()) <= set(fb.DEFAULT_CATEGORIES)
    fb.update_problem(store, incident, "CTR dropped 15%", version=1)
    hyp = Hypothesis(root_cause=RootCause.CODE_REGRESSION, score=0.82, confidence=0.7,
                     explanation="recs-ranker v42 was promoted 30 min before the onset. Nothing else changed.",
                     evidence=({"type": "timeline_event", "id": 1, "title": "recs-ranker v42 promoted"},
                               {"kind": "changepoint", "summary": "onset 06:00"}))
    got = accept_hypothesis(store, incident, hyp, author="ana")
    assert got.created
    assert got.cause.status == CauseStatus.SUSPECTED
    assert got.cause.text == "Code or model regression: recs-ranker v42 was promoted 30 min before the onset"
    assert _cat(store, incident, category_for("code_regression")).id == got.cause.category_id == \
        _cat(store, incident, "Model").id
    assert [e["title"] for e in got.cause.evidence] == ["recs-ranker v42 promoted", "changepoint"]
    assert "ana" in got.cause.notes and "0.82" in got.cause.notes
    assert got.whys[0].question == "Why did CTR dropped 15% happen?" and got.whys[1].cause_id == got.cause.id
    again = accept_hypothesis(store, incident, hyp, author="bo")
    assert not again.created and again.cause.id == got.cause.id
    # a deleted default category is re-created
    env = _cat(store, incident, "Environment & external")
    fb.delete_category(store, env.id, version=env.version)
    ext = accept_hypothesis(store, incident, Hypothesis(RootCause.EXTERNAL_EVENT, 0.3, 0.2, "Marketing campaign"),
                            author="ana")
    assert fb.get_fishbone(store, incident).category(ext.cause.category_id).name == "Environment & external"


def test_accepted_hypothesis_gets_a_short_label_and_keeps_the_explanation_and_name_in_notes(store, incident):
    from core.flows.accept import MAX_LABEL, accept_hypothesis

    explanation = ("Code or model regression (score 0.94): model_version 'recs-ranker v42 promoted to champion' "
                   "35m before the onset; the run diff shows a changed learning rate and a new feature set.")
    got = accept_hypothesis(store, incident, Hypothesis(RootCause.CODE_REGRESSION, 0.94, 0.9, explanation),
                            author="Ana Ruiz")
    assert got.cause.text == "Code or model regression: model_version 'recs-ranker v42 promoted to champion'…"
    assert len(got.cause.text) <= MAX_LABEL
    assert "Accepted from triage by Ana Ruiz" in got.cause.notes and explanation in got.cause.notes
