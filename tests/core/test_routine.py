"""Routine jobs: regular runs fold into one entry; a job whose next run never came is flagged as stopped."""

from datetime import datetime, timedelta, timezone

from core.analysis.routine import find_routines, fold_routines, stopped_routines
from core.models import EventKind, TimelineEvent

T0 = datetime(2026, 2, 3, 22, 5, tzinfo=timezone.utc)


def ev(i, t, title, kind=EventKind.DATA_PIPELINE, **details):
    return TimelineEvent(id=i, incident_id="x", timestamp=t, kind=kind, title=title, details=details)


def refresh_runs(n=5):
    return [ev(i, T0 + timedelta(hours=i), f"features-refresh run #{100 + i} succeeded", job="features-refresh",
               state="success") for i in range(n)]


def test_regular_runs_fold_into_one_entry_that_says_they_stopped():
    deploy = ev(99, T0 + timedelta(hours=2, minutes=10), "api 2.0 deployed", EventKind.DEPLOY)
    folded = fold_routines(refresh_runs() + [deploy], until=T0 + timedelta(hours=12))
    assert [e.title for e in folded] == [
        "api 2.0 deployed", "features-refresh ran 5× (hourly), last at 02:05, then stopped"]
    assert folded[1].timestamp == T0 + timedelta(hours=4)
    assert folded[1].details["runs"] == 5 and folded[1].details["stopped"] is True


def test_runs_that_continue_are_not_stopped_and_titles_without_a_job_match_by_template():
    runs = [ev(i, T0 + timedelta(days=i), f"nightly export #{i} done") for i in range(4)]
    (routine,) = find_routines(runs, until=T0 + timedelta(days=3, hours=20))
    assert routine.key == "nightly export # done" and not routine.stopped
    assert routine.summary() == "nightly export # done ran 4× (daily), last at 22:05"


def test_irregular_or_few_events_are_not_a_routine():
    irregular = [ev(i, T0 + timedelta(hours=h), "deploy api", EventKind.DEPLOY) for i, h in enumerate((0, 1, 9))]
    assert find_routines(irregular) == []
    assert find_routines(refresh_runs(2)) == []
    assert len(fold_routines(irregular)) == 3


def test_a_routine_overdue_at_the_onset_is_flagged():
    onset = T0 + timedelta(hours=5, minutes=10)  # the 03:05 run never came
    (stopped,) = stopped_routines(refresh_runs(), before=onset)
    assert stopped.last == T0 + timedelta(hours=4)
    assert stopped_routines(refresh_runs(), before=T0 + timedelta(hours=4, minutes=30)) == []
