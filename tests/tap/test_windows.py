from datetime import UTC, datetime, timedelta, timezone

import pytest

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.tap.timestamps import format_interval, format_tap_time, parse_tap_time
from fn_pp_tap_functions.tap.windows import (
    DEFAULT_CURRENT_MARGIN,
    DEFAULT_LOOKBACK_MARGIN,
    DEFERRED_TOO_RECENT,
    DEFERRED_TOO_SHORT,
    DEFERRED_WINDOW_LIMIT,
    MAX_WINDOW,
    MIN_WINDOW,
    Window,
    plan_windows,
    split_span,
)

NOW = datetime(2024, 3, 31, 12, 0, 0, tzinfo=UTC)  # a DST switch day in Europe: must not matter
H = timedelta(hours=1)
S = timedelta(seconds=1)


def _contiguous(plan) -> bool:
    return all(a.end == b.start for a, b in zip(plan.windows, plan.windows[1:], strict=False))


def _valid(plan) -> bool:
    return all(MIN_WINDOW <= w.duration <= MAX_WINDOW for w in plan.windows)


def test_exactly_30_seconds_is_one_window():
    end = NOW - H
    plan = plan_windows(end - 30 * S, end, now=NOW)
    assert [w.duration for w in plan.windows] == [30 * S]
    assert plan.skipped is None and plan.deferred_tail is None


def test_29_seconds_is_deferred_not_dropped():
    end = NOW - H
    plan = plan_windows(end - 29 * S, end, now=NOW)
    assert plan.windows == ()
    assert plan.deferred_tail == Window(end - 29 * S, end)
    assert plan.deferred_reason == DEFERRED_TOO_SHORT
    assert plan.next_start == end - 29 * S


def test_exactly_one_hour_is_one_window():
    start = NOW - 3 * H
    plan = plan_windows(start, start + H, now=NOW)
    assert plan.windows == (Window(start, start + H),)
    assert plan.windows[0].interval == "2024-03-31T09:00:00Z/2024-03-31T10:00:00Z"


def test_one_hour_and_a_second_borrows_so_last_window_is_30s():
    start = NOW - 5 * H
    plan = plan_windows(start, start + H + S, now=NOW)
    assert len(plan.windows) == 2
    assert plan.windows[-1].duration == MIN_WINDOW
    assert plan.windows[0].start == start and plan.windows[-1].end == start + H + S
    assert _contiguous(plan) and _valid(plan)


def test_long_outage_splits_into_many_hour_windows():
    start = NOW - timedelta(days=3, minutes=17)
    end = NOW - 10 * timedelta(minutes=1)
    plan = plan_windows(start, end, now=NOW)
    assert len(plan.windows) == 73
    assert plan.windows[0].start == start and plan.windows[-1].end == end
    assert _contiguous(plan) and _valid(plan)
    assert plan.skipped is None and plan.deferred_tail is None


def test_seven_day_clamp_reports_skipped_span():
    start = NOW - timedelta(days=9)
    plan = plan_windows(start, now=NOW)
    earliest = NOW - timedelta(days=7) + DEFAULT_LOOKBACK_MARGIN
    assert plan.skipped == Window(start, earliest)
    assert plan.windows[0].start == earliest
    assert plan.windows[-1].end == NOW - DEFAULT_CURRENT_MARGIN
    assert _contiguous(plan) and _valid(plan)
    assert plan.to_dict()["skipped"] == {"start": "2024-03-22T12:00:00Z", "end": "2024-03-24T12:10:00Z"}


def test_span_entirely_older_than_lookback_is_all_skipped():
    start = NOW - timedelta(days=10)
    end = NOW - timedelta(days=8)
    plan = plan_windows(start, end, now=NOW)
    assert plan.windows == ()
    assert plan.skipped == Window(start, end)
    assert plan.deferred_tail is None
    assert plan.next_start == end


def test_still_current_tail_is_deferred_and_reported():
    start = NOW - timedelta(minutes=30)
    plan = plan_windows(start, NOW, now=NOW)
    latest = NOW - DEFAULT_CURRENT_MARGIN
    assert plan.windows == (Window(start, latest),)
    assert plan.deferred_tail == Window(latest, NOW)
    assert plan.deferred_reason == DEFERRED_TOO_RECENT
    assert plan.next_start == latest


def test_end_in_the_future_is_never_requested():
    plan = plan_windows(NOW - H, NOW + H, now=NOW)
    assert all(w.end <= NOW - DEFAULT_CURRENT_MARGIN for w in plan.windows)
    assert plan.deferred_tail.end == NOW + H


def test_recent_span_shorter_than_30s_after_margin_is_deferred_whole():
    start = NOW - DEFAULT_CURRENT_MARGIN - 10 * S
    plan = plan_windows(start, NOW, now=NOW)
    assert plan.windows == ()
    assert plan.deferred_tail == Window(start, NOW)
    assert plan.deferred_reason == DEFERRED_TOO_RECENT


def test_max_windows_defers_the_rest():
    start = NOW - timedelta(hours=10)
    plan = plan_windows(start, NOW - H, now=NOW, max_windows=3)
    assert len(plan.windows) == 3
    assert plan.deferred_tail == Window(start + 3 * H, NOW - H)
    assert plan.deferred_reason == DEFERRED_WINDOW_LIMIT
    assert plan.next_start == start + 3 * H


def test_non_utc_input_is_converted_and_output_is_utc_z():
    cest = timezone(timedelta(hours=2))
    start = datetime(2024, 3, 31, 10, 0, tzinfo=cest)  # 08:00Z
    plan = plan_windows(start, start + H, now=NOW)
    assert plan.windows[0].interval == "2024-03-31T08:00:00Z/2024-03-31T09:00:00Z"
    assert plan.windows[0].start.tzinfo is UTC


def test_sub_millisecond_precision_is_floored():
    start = NOW - 2 * H + timedelta(microseconds=123456)
    plan = plan_windows(start, NOW - H, now=NOW)
    assert plan.windows[0].start.microsecond == 123000
    assert plan.windows[0].interval.startswith("2024-03-31T10:00:00.123Z/")


@pytest.mark.parametrize(
    "start,end",
    [
        (NOW - H, NOW - 2 * H),
        (NOW - H, NOW - H),
        (datetime(2024, 1, 1), NOW),
    ],
)
def test_invalid_inputs_raise_input_error(start, end):
    with pytest.raises(InputError):
        plan_windows(start, end, now=NOW)


def test_naive_now_is_rejected():
    with pytest.raises(InputError):
        plan_windows(NOW - H, NOW, now=datetime(2024, 1, 1))


def test_split_span_never_leaves_short_tail():
    for extra in range(0, 3600, 7):
        start = NOW - 10 * H
        end = start + 2 * H + extra * S
        windows = split_span(start, end)
        assert windows[0].start == start and windows[-1].end == end
        assert all(MIN_WINDOW <= w.duration <= MAX_WINDOW for w in windows)


def test_timestamp_round_trip():
    assert parse_tap_time("2022-03-30T10:11:12.000Z") == datetime(2022, 3, 30, 10, 11, 12, tzinfo=UTC)
    assert parse_tap_time("2022-03-30T10:11:12.05Z").microsecond == 50000
    assert parse_tap_time("2022-03-30T12:11:12+02:00") == datetime(2022, 3, 30, 10, 11, 12, tzinfo=UTC)
    assert parse_tap_time("2022-03-30T10:11:12.1234567Z").microsecond == 123456
    assert parse_tap_time("garbage") is None and parse_tap_time(None) is None and parse_tap_time(12) is None
    assert format_tap_time(datetime(2022, 3, 30, 10, 11, 12, tzinfo=UTC)) == "2022-03-30T10:11:12Z"
    assert format_tap_time(datetime(2022, 3, 30, 10, 11, 12, 250000, tzinfo=UTC)) == "2022-03-30T10:11:12.250Z"
    assert format_interval(NOW - H, NOW) == "2024-03-31T11:00:00Z/2024-03-31T12:00:00Z"
    with pytest.raises(ValueError):
        format_tap_time(datetime(2022, 1, 1))
