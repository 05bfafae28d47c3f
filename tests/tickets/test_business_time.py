"""Business-time arithmetic (``tickets.sla``): nights, weekends, holidays, DST, and its invariants."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.sla import (
    BusinessHours,
    CalendarError,
    add_working_minutes,
    parse_weekly_hours,
    working_minutes_between,
)

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = BusinessHours(timezone="Europe/London", weekly=WEEKDAYS_9_TO_5, holiday_country="GB")


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_within_a_day():
    assert add_working_minutes(london(2026, 11, 24, 10, 0), 60, OFFICE) == london(2026, 11, 24, 11, 0)


def test_across_the_night():
    # Tuesday 16:30 + 2 h = 30 min on Tuesday, 90 min on Wednesday → Wednesday 10:30.
    assert add_working_minutes(london(2026, 11, 24, 16, 30), 120, OFFICE) == london(2026, 11, 25, 10, 30)


def test_a_message_at_night_starts_counting_at_opening():
    assert add_working_minutes(london(2026, 11, 24, 22, 0), 30, OFFICE) == london(2026, 11, 25, 9, 30)


def test_across_the_weekend():
    # Friday 16:00 + 4 h → 1 h Friday, 3 h Monday → Monday 12:00.
    assert add_working_minutes(london(2026, 11, 27, 16, 0), 240, OFFICE) == london(2026, 11, 30, 12, 0)


def test_across_christmas_and_boxing_day():
    # Thursday 24 Dec 2026 16:00 + 2 h: 25 Dec (Fri) and 28 Dec (Mon, Boxing Day substitute) are holidays.
    due = add_working_minutes(london(2026, 12, 24, 16, 0), 120, OFFICE)
    assert due == london(2026, 12, 29, 10, 0)


def test_custom_closed_dates_count_as_holidays():
    hours = BusinessHours(
        timezone="Europe/London", weekly=WEEKDAYS_9_TO_5, closed_dates=frozenset({date(2026, 11, 25)})
    )
    assert add_working_minutes(london(2026, 11, 24, 16, 0), 120, hours) == london(2026, 11, 26, 10, 0)


def test_dst_forward_keeps_wall_clock_hours():
    # Clocks go forward at 01:00 on Sunday 29 March 2026: 24/7 wall-clock calendar, 00:00–24:00.
    all_day = BusinessHours(
        timezone="Europe/London", weekly={d: [["00:00", "24:00"]] for d in ("sat", "sun", "mon")}
    )
    start = london(2026, 3, 29, 0, 30)
    due = add_working_minutes(start, 120, all_day)
    # Two real hours of elapsed time: 00:30 GMT → 03:30 BST (01:00–02:00 does not exist).
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=2)
    assert due == london(2026, 3, 29, 3, 30)


def test_dst_back_an_office_day_is_still_eight_hours():
    # Clocks go back on Sunday 25 October 2026; Monday 9–17 is eight hours in both.
    assert (
        working_minutes_between(london(2026, 10, 23, 0, 0), london(2026, 10, 27, 0, 0), OFFICE) == 2 * 8 * 60
    )


def test_working_minutes_between_counts_only_open_time():
    assert working_minutes_between(london(2026, 11, 27, 16, 0), london(2026, 11, 30, 12, 0), OFFICE) == 240
    assert working_minutes_between(london(2026, 11, 30, 12, 0), london(2026, 11, 27, 16, 0), OFFICE) == 0


def test_no_calendar_or_always_open_is_plain_time():
    start = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert add_working_minutes(start, 90, None) == start + timedelta(minutes=90)
    assert add_working_minutes(start, 90, BusinessHours(always_open=True)) == start + timedelta(minutes=90)


@pytest.mark.parametrize(
    "weekly, reason",
    [
        ({"mon": [["17:00", "09:00"]]}, "ends before it starts"),
        ({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, "overlap"),
        ({"someday": [["09:00", "17:00"]]}, "is not a day"),
        ({"mon": [["9am", "17:00"]]}, "is not a time of day"),
        ({"mon": [["09:00"]]}, "each opening is [start, end]"),
    ],
)
def test_bad_hours_are_refused_with_the_reason(weekly, reason):
    with pytest.raises(CalendarError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_weekly_hours(weekly)


def test_unknown_zone_or_country_is_refused():
    with pytest.raises(CalendarError, match="time zone"):
        BusinessHours(timezone="Mars/Olympus")
    with pytest.raises(CalendarError, match="no public holiday data"):
        add_working_minutes(
            london(2026, 11, 24, 10), 10, BusinessHours(weekly=WEEKDAYS_9_TO_5, holiday_country="ZZ")
        )


def test_a_calendar_that_never_opens_says_so():
    with pytest.raises(CalendarError, match="no opening hours"):
        add_working_minutes(london(2026, 11, 24, 10), 10, BusinessHours(timezone="Europe/London"))


# --- invariants ----------------------------------------------------------------------------------

CALENDARS = [
    OFFICE,
    BusinessHours(
        timezone="America/New_York",
        weekly={
            d: [["08:00", "12:00"], ["13:00", "18:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")
        },
        holiday_country="US",
    ),
    BusinessHours(
        timezone="Australia/Sydney", weekly={d: [["00:00", "24:00"]] for d in ("mon", "tue", "sun")}
    ),
    BusinessHours(
        timezone="Europe/Berlin",
        weekly={"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]},
        holiday_country="DE",
    ),
]
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
minutes = st.integers(min_value=0, max_value=5 * 24 * 60)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(calendar=st.sampled_from(CALENDARS), start=moments, m=minutes)
def test_a_due_time_is_never_inside_closed_hours_and_counts_back_exactly(calendar, start, m):
    due = add_working_minutes(start, m, calendar)
    assert due >= start
    if m > 0:
        assert calendar.within_hours(due)
    assert working_minutes_between(start, due, calendar) == pytest.approx(m)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    calendar=st.sampled_from(CALENDARS),
    start=moments,
    worked=minutes,
    target=minutes,
    pause=st.integers(0, 10 * 24 * 60),
)
def test_pausing_then_resuming_never_shortens_the_remaining_time(calendar, start, worked, target, pause):
    worked = min(worked, target)
    paused_at = add_working_minutes(start, worked, calendar)
    resumed_at = paused_at + timedelta(minutes=pause)
    due_after_pause = add_working_minutes(resumed_at, target - worked, calendar)
    due_without_pause = add_working_minutes(start, target, calendar)
    assert due_after_pause >= due_without_pause
    assert working_minutes_between(start, paused_at, calendar) + working_minutes_between(
        resumed_at, due_after_pause, calendar
    ) == pytest.approx(target)


@pytest.mark.django_db
def test_the_admin_refuses_a_calendar_the_arithmetic_cannot_use(admin_client):
    form = {
        "name": "Night shift",
        "timezone": "Europe/London",
        "weekly_hours": '{"mon": [["22:00", "06:00"]]}',
        "holiday_country": "ZZ",
    }
    response = admin_client.post("/admin/tickets/businesscalendar/add/", form)
    assert response.status_code == 200
    text = response.content.decode()
    assert "ends before it starts (split a night shift at 24:00)" in text
    assert "no public holiday data" in text
    form.update(
        weekly_hours='{"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]}', holiday_country="gb-sct"
    )
    assert admin_client.post("/admin/tickets/businesscalendar/add/", form).status_code == 302
