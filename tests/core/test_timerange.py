"""The shared time picker's arithmetic: quick ranges, zoom out, shift and typed times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core import timerange as tr
from core.errors import InvalidInputError
from core.models import TimeWindow

T0 = datetime(2026, 3, 12, 6, 0, tzinfo=timezone.utc)
INCIDENT = TimeWindow(T0, T0 + timedelta(hours=24))
BASELINE = TimeWindow(T0 - timedelta(days=7), T0)
ANCHORS = tr.Anchors(now=datetime(2026, 11, 30, 13, 37, 21, tzinfo=timezone.utc), incident=INCIDENT,
                     baseline=BASELINE, onset=T0 + timedelta(hours=9, minutes=5))


def test_onset_ranges_are_centred_on_the_onset():
    w = tr.quick_range("onset2", ANCHORS)
    assert (w.start, w.end) == (ANCHORS.onset - timedelta(hours=2), ANCHORS.onset + timedelta(hours=2))


def test_last_hours_end_now_on_the_minute():
    w = tr.quick_range("last6", ANCHORS)
    assert w.end == datetime(2026, 11, 30, 13, 37, tzinfo=timezone.utc)
    assert w.duration == timedelta(hours=6)


def test_incident_and_baseline_ranges():
    assert tr.quick_range("incident", ANCHORS) == INCIDENT
    assert tr.quick_range("baseline", ANCHORS) == TimeWindow(BASELINE.start, INCIDENT.end)


@pytest.mark.parametrize("key, missing", [("onset2", "no onset"), ("incident", "no window"), ("baseline", "no window")])
def test_missing_anchor_says_what_is_missing(key, missing):
    with pytest.raises(InvalidInputError, match=missing):
        tr.quick_range(key, tr.Anchors(now=ANCHORS.now))


def test_zoom_out_doubles_around_the_centre_and_shift_moves_half():
    z = tr.zoom_out(INCIDENT)
    assert z == TimeWindow(T0 - timedelta(hours=12), T0 + timedelta(hours=36))
    assert tr.shift(INCIDENT, -1) == TimeWindow(T0 - timedelta(hours=12), T0 + timedelta(hours=12))
    assert tr.shift(tr.shift(INCIDENT, 1), -1) == INCIDENT


def test_typed_times_in_the_hint_format_and_iso():
    assert tr.parse_input("2026-03-12 06:00", "From") == T0
    assert tr.parse_input(" 2026-03-12T07:00:00+01:00 ", "From") == T0
    assert tr.parse_input("2026-03-12T06:00:00Z", "From") == T0
    assert tr.parse_input("", "From") is None


def test_errors_echo_the_input_as_typed_and_show_the_hint_format():
    with pytest.raises(InvalidInputError) as info:
        tr.parse_input("12/03/2026 6am", "From")
    assert str(info.value) == f"From: '12/03/2026 6am' is not a time; write it like {tr.EXAMPLE} (UTC)"
    with pytest.raises(InvalidInputError, match="'2026-03-12 05:00' is not after '2026-03-12 06:00'"):
        tr.parse_range("2026-03-12 06:00", "2026-03-12 05:00")


def test_describe_shows_the_absolute_range_in_the_input_format():
    assert tr.describe(INCIDENT) == "2026-03-12 06:00 → 2026-03-13 06:00 UTC (24h 00m)"


def test_box_selection_is_a_utc_window_in_either_order():
    box = {"selection": {"box": [{"x": ["2026-02-04 03:00:00", "2026-02-04 01:30:00"]}]}}
    assert tr.box_selection_window(box) == TimeWindow(datetime(2026, 2, 4, 1, 30, tzinfo=timezone.utc),
                                                      datetime(2026, 2, 4, 3, tzinfo=timezone.utc))


def test_box_selection_reads_wall_clock_in_the_chart_zone():
    box = {"selection": {"box": [{"x": ["2026-07-01 10:00", "2026-07-01 11:15:30.5"]}]}}
    window = tr.box_selection_window(box, "Europe/Berlin")  # summer time: UTC+2
    assert window == TimeWindow(datetime(2026, 7, 1, 8, tzinfo=timezone.utc),
                                datetime(2026, 7, 1, 9, 15, 30, 500000, tzinfo=timezone.utc))
    zoned = {"selection": {"box": [{"x": ["2026-07-01T10:00:00+02:00", "2026-07-01T11:00:00+02:00"]}]}}
    assert tr.box_selection_window(zoned, "America/New_York").start == datetime(2026, 7, 1, 8, tzinfo=timezone.utc)


def test_box_selection_as_attributes_like_the_chart_event():
    class Sel:
        box = [{"x": ["2026-02-04 01:00", "2026-02-04 02:00"]}]

    class Event:
        selection = Sel()

    assert tr.box_selection_window(Event()) == TimeWindow(datetime(2026, 2, 4, 1, tzinfo=timezone.utc),
                                                          datetime(2026, 2, 4, 2, tzinfo=timezone.utc))


@pytest.mark.parametrize("selection", [
    None, {}, {"selection": None}, {"selection": {"box": []}}, {"selection": {"box": [{"x": ["2026-02-04"]}]}},
    {"selection": {"box": [{"x": ["not a time", "2026-02-04"]}]}},
    {"selection": {"box": [{"x": ["2026-02-04 01:00", "2026-02-04 01:00"]}]}},  # empty span
    {"selection": {"points": [{"x": "2026-02-04 01:00"}]}},  # a click, not a box
])
def test_no_box_no_window(selection):
    assert tr.box_selection_window(selection) is None
