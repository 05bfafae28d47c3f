"""SLA clocks through the lifecycle services and real database rows (``tickets.services.sla``): pending
pauses them, resuming gives back exactly the time that was left, the first agent reply meets the first
response, breaches are recorded once with their time, compliance is stored on close.

Time is controlled: ``django.utils.timezone.now`` is the test's clock, and the scan is given ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import TicketFactory
from tickets import sla
from tickets.lifecycle import Status
from tickets.models import BusinessCalendar, Ticket, TicketEvent
from tickets.services import escalation, replies
from tickets.services import sla as sla_clocks
from tickets.services import transitions as tr

pytestmark = pytest.mark.django_db

MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 2 March 2026
RESOLUTION = {"resolution_type": "fixed", "notes": "Replaced the router"}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def at(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MONDAY_9)
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


@pytest.fixture
def office_hours(front_office) -> BusinessCalendar:
    """Monday to Friday, 09:00–17:00 UTC, for the front office."""
    calendar = BusinessCalendar.objects.create(
        name="Office",
        weekly_hours={day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    front_office.calendar = calendar
    front_office.save(update_fields=["calendar"])
    return calendar


def new_ticket(clock: Clock, *, priority: int = 3) -> Ticket:
    """A ticket created now, with its policy's due times (P3: 4 h first response, 24 h resolution)."""
    ticket = TicketFactory(priority=priority, created_at=clock.now, updated_at=clock.now)
    sla_clocks.apply_targets(ticket)
    ticket.save()
    return ticket


def working(ticket: Ticket, clock: Clock, moment: datetime, due: datetime) -> float:
    return sla.working_minutes_between(moment, due, sla_clocks.business_hours(ticket.team.calendar))


def opened(ticket: Ticket, agent) -> Ticket:
    tr.assign(ticket=ticket, actor=None, agent=agent)
    return tr.open_ticket(ticket=ticket, actor=agent.user)


# Pausing ---------------------------------------------------------------------------------------------------


def test_pending_pauses_the_clocks_and_resuming_gives_back_the_time_left(clock, agent):
    ticket = new_ticket(clock)
    first_due, resolution_due = ticket.first_response_due, ticket.resolution_due
    opened(ticket, agent)
    clock.at(MONDAY_9 + timedelta(hours=1))
    tr.pend(ticket=ticket, actor=agent.user, reason="waiting for the router's serial number")
    ticket.refresh_from_db()
    assert ticket.sla_paused_at == clock.now
    assert (ticket.first_response_due, ticket.resolution_due) == (first_due, resolution_due)

    clock.at(MONDAY_9 + timedelta(hours=6))  # five hours waiting on the customer
    tr.customer_reply(ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is None and ticket.sla_paused_minutes == 300
    assert ticket.first_response_due == first_due + timedelta(hours=5)
    assert ticket.resolution_due == resolution_due + timedelta(hours=5)


@pytest.mark.parametrize(
    "pause_at, resume_at, paused_minutes",
    [
        # Friday 16:00 → Monday 10:00: one hour of Friday and one of Monday were business time.
        (datetime(2026, 3, 6, 16, 0, tzinfo=UTC), datetime(2026, 3, 9, 10, 0, tzinfo=UTC), 120),
        # Paused and resumed over the weekend, both outside business hours: nothing was paused.
        (datetime(2026, 3, 6, 18, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC), 0),
        # Within one working day.
        (datetime(2026, 3, 3, 10, 15, tzinfo=UTC), datetime(2026, 3, 3, 14, 45, tzinfo=UTC), 270),
    ],
)
def test_resuming_never_shortens_the_remaining_business_time(
    clock, agent, office_hours, pause_at, resume_at, paused_minutes
):
    ticket = new_ticket(clock, priority=4)  # 8 h first response, 72 h resolution: beyond every pause here
    opened(ticket, agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Looking into it")
    ticket.refresh_from_db()
    clock.at(pause_at)
    tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")
    ticket.refresh_from_db()
    left_at_pause = working(ticket, clock, pause_at, ticket.resolution_due)

    clock.at(resume_at)
    tr.customer_reply(ticket=ticket)
    ticket.refresh_from_db()
    assert working(ticket, clock, resume_at, ticket.resolution_due) == pytest.approx(left_at_pause)
    assert ticket.sla_paused_minutes == pytest.approx(paused_minutes)
    # The same due time as counting target + paused minutes from creation (a priority change re-times so).
    recomputed = Ticket.objects.get(pk=ticket.pk)
    sla_clocks.apply_targets(recomputed)
    assert recomputed.resolution_due == ticket.resolution_due


def test_a_paused_ticket_is_neither_breached_nor_at_risk(clock, agent):
    ticket = new_ticket(clock)
    opened(ticket, agent)
    tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")
    later = ticket.resolution_due + timedelta(days=3)
    assert escalation.scan(later)["breaches"] == 0
    ticket.refresh_from_db()
    assert ticket.resolution_breached_at is None and not ticket.sla_breached
    assert sla_clocks.clock_states(ticket, now=later) == {"first_response": sla.OK, "resolution": sla.OK}


def test_resolving_a_pending_ticket_counts_only_the_time_before_the_pause(clock, agent):
    ticket = new_ticket(clock)
    opened(ticket, agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Try restarting it")
    tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")
    clock.at(ticket.resolution_due + timedelta(days=2))  # the customer took two days to confirm
    tr.resolve(ticket=ticket, actor=agent.user, **RESOLUTION)
    tr.close(ticket=ticket, actor=agent.user)
    ticket.refresh_from_db()
    assert ticket.resolution_breached_at is None
    assert (ticket.sla_first_response_met, ticket.sla_resolution_met) == (True, True)


# First response ----------------------------------------------------------------------------------------------


def test_the_first_agent_reply_meets_the_first_response(clock, agent):
    ticket = new_ticket(clock)
    opened(ticket, agent)
    clock.at(MONDAY_9 + timedelta(minutes=20))
    replies.reply(ticket=ticket, actor=agent.user, body="We are on it")
    clock.at(MONDAY_9 + timedelta(hours=9))
    replies.reply(ticket=ticket, actor=agent.user, body="Still on it")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == MONDAY_9 + timedelta(minutes=20)
    assert ticket.first_response_breached_at is None
    assert sla_clocks.clock_states(ticket, now=clock.now)["first_response"] == sla.OK


def test_a_late_first_reply_records_the_breach_at_the_due_time(clock, agent):
    ticket = new_ticket(clock)
    due = ticket.first_response_due
    opened(ticket, agent)
    clock.at(due + timedelta(minutes=7))
    replies.reply(ticket=ticket, actor=agent.user, body="Sorry for the wait")
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == due and ticket.sla_breached
    assert ticket.resolution_breached_at is None
    event = TicketEvent.objects.get(ticket=ticket, kind="sla_breach")
    assert event.data == {"clock": "first_response", "due": due.isoformat()}


# Breaches and compliance ---------------------------------------------------------------------------------


def test_a_breach_is_recorded_once_with_its_time(clock, agent):
    ticket = new_ticket(clock)
    opened(ticket, agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Looking")
    due = Ticket.objects.get(pk=ticket.pk).resolution_due
    assert escalation.scan(due - timedelta(seconds=1))["breaches"] == 0
    assert escalation.scan(due + timedelta(minutes=3))["breaches"] == 1
    assert escalation.scan(due + timedelta(hours=5))["breaches"] == 0
    ticket.refresh_from_db()
    assert ticket.resolution_breached_at == due and ticket.sla_breached
    assert ticket.first_response_breached_at is None
    assert TicketEvent.objects.filter(ticket=ticket, kind="sla_breach").count() == 1


def test_compliance_is_stored_on_close_and_cleared_by_a_reopen(clock, agent):
    met = new_ticket(clock)
    late = new_ticket(clock)
    for ticket in (met, late):
        opened(ticket, agent)
        replies.reply(ticket=ticket, actor=agent.user, body="On it")
    tr.resolve(ticket=met, actor=agent.user, **RESOLUTION)
    clock.at(late.resolution_due + timedelta(hours=1))
    tr.resolve(ticket=late, actor=agent.user, **RESOLUTION)
    for ticket in (met, late):
        tr.close(ticket=ticket, actor=None)
        ticket.refresh_from_db()
    assert (met.sla_first_response_met, met.sla_resolution_met) == (True, True)
    assert (late.sla_first_response_met, late.sla_resolution_met) == (True, False)
    assert late.resolution_breached_at == late.resolution_due

    tr.reopen(ticket=met, actor=None, reason="still broken")
    met.refresh_from_db()
    assert (met.sla_first_response_met, met.sla_resolution_met) == (None, None)


def test_spam_has_no_compliance(clock, agent):
    ticket = new_ticket(clock)
    tr.mark_spam(ticket=ticket, actor=None)
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert (ticket.sla_first_response_met, ticket.sla_resolution_met) == (None, None)


# At risk: one definition ----------------------------------------------------------------------------------


ONE_SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    "since_creation, expected",
    [
        (timedelta(minutes=192) - ONE_SECOND, sla.OK),
        (timedelta(minutes=192), sla.AT_RISK),  # 0.8 × 240 minutes: the edge itself
        (timedelta(minutes=240) - ONE_SECOND, sla.AT_RISK),
        (timedelta(minutes=240), sla.BREACHED),
    ],
)
def test_the_at_risk_threshold_edge(clock, since_creation, expected):
    """The one definition (``tickets.sla.clock_state``) the queue, the board and the scan share."""
    ticket = new_ticket(clock)  # P3, 24/7: 240 minutes to the first response
    now = MONDAY_9 + since_creation
    assert sla_clocks.clock_states(ticket, now=now)["first_response"] == expected


def test_the_at_risk_share_is_a_checked_setting(settings):
    settings.HELPDESK = {**settings.HELPDESK, "SLA_AT_RISK_SHARE": 0.5}
    assert sla.at_risk_share() == 0.5
    settings.HELPDESK = {**settings.HELPDESK, "SLA_AT_RISK_SHARE": 1.5}
    with pytest.raises(ValueError, match="between 0 and 1"):
        sla.at_risk_share()
