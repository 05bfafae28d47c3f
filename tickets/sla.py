"""Priority and SLA decisions, pure (DOMAIN.md, "Priority and SLA"). No ORM.

Priority comes from impact × urgency (the admin-edited matrix, ``tickets.services.priority``; the built-in
one below when a cell is missing); triage rules raise it (``tickets.services.rules``).
Due times are counted in *business time*: a calendar's weekly opening hours in its own time zone, minus
public holidays (the ``holidays`` package, by country or ``country-subdivision`` such as ``GB-SCT``) and the
calendar's own closed dates. Opening hours are wall-clock times, so a DST change moves them with the clock:
the day the clocks go forward an 09:00–17:00 day is still eight hours; a time that does not exist that day
(02:30 in spring) is read as the same wall time before the change.

The two operations SLA clocks need are inverses of each other:

- ``add_working_minutes(start, n, hours)``: the moment ``n`` working minutes after ``start``;
- ``working_minutes_between(a, b, hours)``: how many working minutes lie between two moments.

Pausing a clock (a ticket pending on the customer) is therefore "remaining = target − worked so far",
and resuming is ``add_working_minutes(resumed_at, remaining)``: never shorter than not pausing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_data

# impact (1 high … 3 low) × urgency (1 high … 3 low) → priority (1 = P1 … 4 = P4): the defaults of the
# editable matrix (``PriorityMatrixCell``, installed by migration 0016).
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 4,
}

# Used when no SlaPolicy row exists for a priority: (first response, resolution) in minutes.
DEFAULT_TARGETS = {1: (30, 4 * 60), 2: (60, 8 * 60), 3: (4 * 60, 24 * 60), 4: (8 * 60, 72 * 60)}
# Used when the policy leaves the next-response target blank: minutes from a customer message (after the first
# response) to the agent's answer.
DEFAULT_NEXT_RESPONSE = {1: 60, 2: 2 * 60, 3: 8 * 60, 4: 24 * 60}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no opening at all would make every due time infinite: give up after this many days.
SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar that cannot be used as it is written (bad hours, unknown zone or country)."""


def _clock(text: str, day: str) -> time | None:
    """ "09:00" → 09:00; "24:00" → None (the end of the day)."""
    if text in ("24:00", "24:00:00"):
        return None
    try:
        return time.fromisoformat(text)
    except (TypeError, ValueError):
        raise CalendarError(f"{day}: {text!r} is not a time of day like 09:00") from None


def parse_weekly_hours(weekly: Mapping[str, Iterable]) -> dict[int, tuple[tuple[time, time | None], ...]]:
    """``{"mon": [["09:00", "17:00"]], …}`` → weekday → sorted, non-overlapping (start, end) pairs.

    A missing day is closed; "24:00" ends a day at midnight. Raises ``CalendarError`` with the reason.
    """
    parsed: dict[int, tuple[tuple[time, time | None], ...]] = {}
    for day, spans in (weekly or {}).items():
        key = str(day).strip().lower()[:3]
        if key not in DAYS:
            raise CalendarError(f"{day!r} is not a day; use {', '.join(DAYS)}")
        pairs = []
        for span in spans or []:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise CalendarError(f"{key}: each opening is [start, end], got {span!r}")
            start, end = _clock(span[0], key), _clock(span[1], key)
            if start is None:
                raise CalendarError(f"{key}: an opening cannot start at 24:00")
            if end is not None and end <= start:
                raise CalendarError(
                    f"{key}: {span[0]}–{span[1]} ends before it starts (split a night shift at 24:00)"
                )
            pairs.append((start, end))
        pairs.sort(key=lambda p: p[0])
        for (_, end), (next_start, _) in zip(pairs, pairs[1:], strict=False):
            if end is None or end > next_start:
                raise CalendarError(f"{key}: openings overlap")
        parsed[DAYS.index(key)] = tuple(pairs)
    return parsed


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """A country's (or ``CC-SUBDIV`` subdivision's) public holidays in one year."""
    code, _, subdiv = country.strip().upper().partition("-")
    try:
        return frozenset(holiday_data.country_holidays(code, subdiv=subdiv or None, years=year))
    except (NotImplementedError, KeyError) as exc:
        raise CalendarError(f"no public holiday data for {country!r}: {exc}") from None


@dataclass(frozen=True)
class BusinessHours:
    """A calendar reduced to what the arithmetic needs (built from a ``BusinessCalendar`` row or by hand)."""

    timezone: str = "UTC"
    weekly: Mapping[str, Iterable] = field(default_factory=dict)
    holiday_country: str = ""
    closed_dates: frozenset[date] = frozenset()
    always_open: bool = False

    def __post_init__(self):
        try:
            object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        except (KeyError, ValueError) as exc:
            raise CalendarError(f"{self.timezone!r} is not a time zone") from exc
        object.__setattr__(self, "_week", parse_weekly_hours(self.weekly))

    @classmethod
    def of(cls, calendar) -> BusinessHours | None:
        """From a ``BusinessCalendar`` (duck-typed; ``None`` means 24/7)."""
        if calendar is None:
            return None
        closed = getattr(calendar, "closed_dates", None) or ()
        return cls(
            timezone=calendar.timezone or "UTC",
            weekly=calendar.weekly_hours or {},
            holiday_country=calendar.holiday_country or "",
            closed_dates=frozenset(date.fromisoformat(str(d)) for d in closed),
            always_open=calendar.always_open,
        )

    def is_closed_day(self, day: date) -> bool:
        if day in self.closed_dates:
            return True
        return bool(self.holiday_country) and day in public_holidays(self.holiday_country, day.year)

    def openings(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening intervals as aware UTC datetimes (empty on a closed day)."""
        if self.is_closed_day(day):
            return []
        zone = self._zone
        result = []
        for start, end in self._week.get(day.weekday(), ()):
            s = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
            e_local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            if end is not None:
                e_local = datetime.combine(day, end, tzinfo=zone)
            e = e_local.astimezone(UTC)
            if e > s:
                result.append((s, e))
        return result

    def intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals (UTC) that end after ``moment``, clipped to start no earlier than it."""
        local_day = moment.astimezone(self._zone).date() - timedelta(
            days=1
        )  # an interval may span midnight UTC
        for offset in range(SEARCH_DAYS):
            for s, e in self.openings(local_day + timedelta(days=offset)):
                if e <= moment:
                    continue
                yield max(s, moment), e
        raise CalendarError(f"no opening hours in the {SEARCH_DAYS} days after {moment:%Y-%m-%d}")

    def is_open(self, moment: datetime) -> bool:
        if self.always_open:
            return True
        moment = _aware(moment)
        day = moment.astimezone(self._zone).date()
        return any(
            s <= moment < e for offset in (-1, 0, 1) for s, e in self.openings(day + timedelta(days=offset))
        )

    def within_hours(self, moment: datetime) -> bool:
        """Open at ``moment`` or at the very end of an opening (where a due time may fall)."""
        if self.always_open:
            return True
        moment = _aware(moment)
        day = moment.astimezone(self._zone).date()
        return any(
            s <= moment <= e for offset in (-1, 0, 1) for s, e in self.openings(day + timedelta(days=offset))
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business-time arithmetic needs aware datetimes")
    return moment.astimezone(UTC)


def add_working_minutes(start: datetime, minutes: float, calendar=None) -> datetime:
    """``start`` plus ``minutes`` of working time. ``calendar`` is a ``BusinessHours``, a ``BusinessCalendar``
    row, or ``None`` (24/7). The result is never inside closed hours (it may be the end of an opening)."""
    hours = (
        calendar if isinstance(calendar, BusinessHours) or calendar is None else BusinessHours.of(calendar)
    )
    if hours is None or hours.always_open:
        return start + timedelta(minutes=minutes)
    if minutes < 0:
        raise ValueError("working minutes cannot be negative")
    remaining = timedelta(minutes=minutes)
    for s, e in hours.intervals_from(_aware(start)):
        if remaining <= e - s:
            return (s + remaining).astimezone(start.tzinfo)
        remaining -= e - s
    raise AssertionError("unreachable: intervals_from raises when the calendar never opens")


def working_minutes_between(start: datetime, end: datetime, calendar=None) -> float:
    """Working minutes from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
    hours = (
        calendar if isinstance(calendar, BusinessHours) or calendar is None else BusinessHours.of(calendar)
    )
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0.0
    if hours is None or hours.always_open:
        return (end - start).total_seconds() / 60
    total = timedelta()
    for s, e in hours.intervals_from(start):
        if s >= end:
            break
        total += min(e, end) - s
    return total.total_seconds() / 60


# A running clock is *at risk* once this share of its time (from its start to its due time) has passed.
# The one definition: the queue, the board (``tickets.selectors.sla_state``) and the escalation scan use it.
DEFAULT_AT_RISK_SHARE = 0.8

BREACHED, AT_RISK, OK = "breached", "at_risk", "ok"


def at_risk_share() -> float:
    """``HELPDESK["SLA_AT_RISK_SHARE"]`` (default 0.8), checked: 0 < share < 1."""
    from django.conf import settings  # read at call time: tests and admins change it

    share = float(getattr(settings, "HELPDESK", {}).get("SLA_AT_RISK_SHARE", DEFAULT_AT_RISK_SHARE))
    if not 0 < share < 1:
        raise ValueError(f"HELPDESK['SLA_AT_RISK_SHARE'] must be between 0 and 1, not {share}")
    return share


def clock_state(*, started: datetime, due: datetime, now: datetime, share: float | None = None) -> str:
    """breached / at_risk / ok for one running clock: breached at its due time, at risk once ``share`` of
    the time from ``started`` to ``due`` has passed."""
    share = at_risk_share() if share is None else share
    if due <= now:
        return BREACHED
    if due - now <= (due - started) * (1 - share):
        return AT_RISK
    return OK
