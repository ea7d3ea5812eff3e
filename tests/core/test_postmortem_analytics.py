"""Incident analytics: counts over time, duration distributions (median, p90), recurring causes, overdue actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from core.analysis.incident_analytics import (
    CauseRecord,
    analytics_frame,
    analyze_incidents,
    cause_key,
    counts_over_time,
    duration_distributions,
    overdue_actions,
    recurring_causes,
)
from core.errors import InvalidInputError
from core.models import ActionItem, ActionStatus, CauseStatus, Incident, RootCause, Severity
from core.store.analytics import load_analytics_inputs
from core.viz.analytics import counts_figure, durations_figure

T0 = datetime(2025, 1, 15, 8, 0, tzinfo=timezone.utc)


def incidents(n: int = 30, seed: int = 11) -> list[Incident]:
    """``n`` incidents over six months with skewed (log-normal) detection and repair times."""
    rng = np.random.default_rng(seed)
    out = []
    causes = list(RootCause)
    for i in range(n):
        start = T0 + timedelta(days=int(rng.integers(0, 180)), hours=int(rng.integers(0, 24)))
        ttd = timedelta(minutes=float(rng.lognormal(3.0, 1.0)))
        ttm = ttd + timedelta(minutes=float(rng.lognormal(4.0, 0.8)))
        ttr = ttm + timedelta(minutes=float(rng.lognormal(5.0, 0.7)))
        out.append(Incident(
            id=f"i{i}", title=f"incident {i}", service=("recs", "fraud", "search")[i % 3],
            severity=list(Severity)[i % 4], root_cause=causes[i % len(causes)] if i % 5 else None,
            milestones={"started": start, "detected": start + ttd, "mitigated": start + ttm, "resolved": start + ttr},
        ))
    return out


def test_counts_over_time_by_each_grouping():
    incs = incidents()
    for by in ("root_cause", "service", "severity"):
        frame = counts_over_time(incs, by, "month")
        assert frame["count"].sum() == len(incs)
        assert list(frame.columns) == ["period", "key", "count"]
        assert frame["period"].dt.day.eq(1).all()
    by_service = counts_over_time(incs, "service").groupby("key")["count"].sum().to_dict()
    assert by_service == {"recs": 10, "fraud": 10, "search": 10}
    assert counts_over_time(incs, "root_cause").query("key == 'unknown'")["count"].sum() == 6
    weekly = counts_over_time(incs, "severity", "week")
    assert weekly["period"].dt.dayofweek.eq(0).all()  # weeks start on Monday
    assert counts_over_time([], "service").empty


def test_bad_grouping_and_period_are_refused():
    with pytest.raises(InvalidInputError, match="not a grouping"):
        counts_over_time(incidents(3), "team")
    with pytest.raises(InvalidInputError, match="not a period"):
        counts_over_time(incidents(3), "service", "day")
    with pytest.raises(InvalidInputError, match="not a duration"):
        duration_distributions(incidents(3), ["MTBF"])


def test_duration_distributions_match_numpy():
    incs = incidents()
    dists = duration_distributions(incs)
    assert set(dists) == {"TTD", "TTM", "TTR"}
    for name, d in dists.items():
        secs = np.array([i.durations()[name].total_seconds() for i in incs])
        assert d.n == len(incs) == len(d.incidents)
        assert d.median.total_seconds() == pytest.approx(np.quantile(secs, 0.5))
        assert d.p90.total_seconds() == pytest.approx(np.quantile(secs, 0.9))
        assert d.mean.total_seconds() == pytest.approx(secs.mean())
        assert list(d.values) == sorted(d.values)
        # skewed: the mean sits above the median, which is why both median and p90 are reported
        assert d.mean > d.median


def test_durations_skip_incidents_without_milestones():
    incs = incidents(4) + [Incident(id="open", title="still open")]
    assert duration_distributions(incs)["TTR"].n == 4
    assert duration_distributions([])["TTD"].median is None


def test_recurring_causes_ignore_versions_case_and_ruled_out():
    causes = [
        CauseRecord("a", "recs-ranker v42 changed a feature transform", CauseStatus.CONFIRMED, "Model"),
        CauseRecord("b", "Recs-ranker V43 changed a feature transform.", CauseStatus.SUSPECTED, "Model"),
        CauseRecord("c", "recs-ranker v44 changed a feature transform", CauseStatus.RULED_OUT, "Model"),
        CauseRecord("a", "No schema contract", CauseStatus.CONFIRMED, "Data"),
        CauseRecord("a", "no schema   contract", CauseStatus.CONFIRMED, "Data"),  # same incident twice: once
        CauseRecord("d", "Stale feature cache", CauseStatus.CONFIRMED, "Data"),
    ]
    rec = recurring_causes(causes)
    assert len(rec) == 1
    assert rec[0].incidents == ("a", "b") and rec[0].confirmed_in == ("a",) and rec[0].count == 2
    assert cause_key("Batch size 50 -> 80") == cause_key("batch size 64 -> 128")
    assert len(recurring_causes(causes, min_incidents=1)) == 3


def test_overdue_actions():
    items = [
        ActionItem(1, "a", "fix A", due=date(2025, 1, 1), status=ActionStatus.OPEN),
        ActionItem(2, "a", "fix B", due=date(2025, 2, 1), status=ActionStatus.IN_PROGRESS),
        ActionItem(3, "b", "fix C", due=date(2025, 1, 1), status=ActionStatus.DONE),
        ActionItem(4, "b", "fix D", due=None),
        ActionItem(5, "b", "fix E", due=date(2025, 3, 1)),
    ]
    got = overdue_actions(items, today=date(2025, 3, 1))
    assert [(o.item.id, o.days_overdue) for o in got] == [(1, 59), (2, 28)]


def test_analyze_and_figures():
    result = analyze_incidents(incidents(), [], [], frequency="quarter", today=date(2025, 6, 1))
    assert result.stats.total == 30 and result.frequency == "quarter"
    tables = analytics_frame(result)
    assert list(tables["durations"]["measure"]) == ["TTD", "TTM", "TTR"]
    assert tables["recurring"].empty and tables["overdue"].empty
    fig = counts_figure(result.counts["root_cause"], "root_cause")
    assert {t.name for t in fig.data} >= {"Data drift", "unknown"}
    dfig = durations_figure(result.durations, dark=True)
    labels = [t.text[0] for t in dfig.data if t.type == "scatter"]
    assert any(label.startswith("median ") for label in labels) and any(label.startswith("p90 ") for label in labels)
    assert dfig.layout.template.layout.paper_bgcolor is not None


def test_load_from_store(sqlite_store):
    from core.store import action_items as ai
    from core.store import fishbone as fb
    from core.store.incidents import create_incident

    for iid in ("s1", "s2"):
        create_incident(sqlite_store, id=iid, title=iid, service="recs",
                        milestones={"started": T0, "detected": T0 + timedelta(minutes=10)})
        fb.ensure_fishbone(sqlite_store, iid)
        cat = fb.get_fishbone(sqlite_store, iid).categories[0].id
        fb.add_cause(sqlite_store, iid, category_id=cat, text="Upstream export renamed a column", status="confirmed")
    ai.add_action_item(sqlite_store, "s1", text="Add a contract test", due=date(2020, 1, 1))
    incs, causes, actions = load_analytics_inputs(sqlite_store)
    result = analyze_incidents(incs, causes, actions)
    assert result.recurring[0].incidents == ("s1", "s2") and result.recurring[0].categories == ("Data",)
    assert [o.item.text for o in result.overdue] == ["Add a contract test"]
    assert result.durations["TTD"].median == timedelta(minutes=10)


def test_one_definition_of_durations_and_their_summary():
    from core.models import durations_from, summarize_durations

    inc = Incident(id="d", title="d", milestones={"started": T0, "detected": T0 + timedelta(minutes=20),
                                                   "resolved": T0 + timedelta(hours=3)})
    assert inc.durations() == durations_from(inc, T0) == {
        "TTD": timedelta(minutes=20), "TTA": None, "TTM": None, "TTR": timedelta(hours=3)}
    # measured from a later impact start: a milestone before it has no duration
    later = durations_from(inc, T0 + timedelta(minutes=30))
    assert later["TTD"] is None and later["TTR"] == timedelta(hours=2, minutes=30)
    assert durations_from(inc, None) == dict.fromkeys(("TTD", "TTA", "TTM", "TTR"))
    s = summarize_durations([timedelta(minutes=m) for m in (10, 20, 30, 40, 100)])
    assert (s.n, s.median, s.p90, s.mean) == (5, timedelta(minutes=30), timedelta(minutes=76), timedelta(minutes=40))
    assert summarize_durations([]) == type(s)(0, None, None, None)
