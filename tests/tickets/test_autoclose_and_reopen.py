"""Auto-close of unanswered resolved tickets and the per-team reopen policy, at their edges (issue 6)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TicketFactory
from tickets import tasks
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Team, Ticket
from tickets.services import autoclose, linking, transitions

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


# Auto-close -------------------------------------------------------------------------------------------------


def resolved_ticket(agent, *, ago: timedelta, customer_wrote_after: bool = False) -> Ticket:
    ticket = TicketFactory()
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    transitions.resolve(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Router replaced")
    resolved_at = timezone.now() - ago
    wrote = resolved_at + MINUTE if customer_wrote_after else resolved_at - MINUTE
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=resolved_at, last_customer_message_at=wrote)
    return ticket


@pytest.fixture
def window(settings):
    settings.HELPDESK = {**settings.HELPDESK, "AUTO_CLOSE_HOURS": 72}
    return timedelta(hours=72)


def test_not_closed_just_before_the_window_ends(agent, window):
    ticket = resolved_ticket(agent, ago=window - MINUTE)
    assert autoclose.close_unanswered() == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_closed_just_after_the_window_ends_through_the_lifecycle(agent, window):
    ticket = resolved_ticket(agent, ago=window + MINUTE)
    assert tasks.auto_close() == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.resolution_type == "fixed"
    event = ticket.events.filter(kind="close").get()
    assert event.actor is None and event.from_value == Status.RESOLVED
    assert "no answer from the customer within 72 h" in event.reason
    assert ticket.cases.get().status == "closed"


def test_repeating_the_sweep_is_safe(agent, window):
    resolved_ticket(agent, ago=window + MINUTE)
    assert autoclose.close_unanswered() == 1
    assert autoclose.close_unanswered() == 0
    assert Ticket.objects.get().events.filter(kind="close").count() == 1


def test_a_customer_answer_after_the_resolution_keeps_it_open(agent, window):
    ticket = resolved_ticket(agent, ago=window + timedelta(hours=5), customer_wrote_after=True)
    assert autoclose.close_unanswered() == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_a_ticket_reopened_before_the_sweep_takes_its_lock_is_left_alone(agent, window):
    ticket = resolved_ticket(agent, ago=window + MINUTE)
    transitions.reopen(ticket=ticket, actor=agent.user, reason="Not fixed")
    assert autoclose.close_one(ticket.pk, now=timezone.now()) is False
    ticket.refresh_from_db()
    assert ticket.status != Status.CLOSED


def test_the_window_is_a_setting_and_zero_turns_it_off(agent, settings):
    ticket = resolved_ticket(agent, ago=timedelta(hours=3))
    settings.HELPDESK = {**settings.HELPDESK, "AUTO_CLOSE_HOURS": 0}
    assert autoclose.close_unanswered() == 0
    settings.HELPDESK = {**settings.HELPDESK, "AUTO_CLOSE_HOURS": 2}
    assert autoclose.close_unanswered() == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


# Reopen policy: the decision at its edges -------------------------------------------------------------------

NOW = timezone.now()


def team(policy="", days=None) -> Team:
    return Team(name="t", slug="t", reopen_policy=policy, reopen_after_days=days)


@pytest.mark.parametrize(
    ("policy", "days", "closed_ago", "reopens"),
    [
        ("", None, timedelta(hours=72) - MINUTE, True),  # the default: HELPDESK_REOPEN_WINDOW_HOURS (72)
        ("", None, timedelta(hours=72), True),  # its last moment still reopens
        ("", None, timedelta(hours=72) + MINUTE, False),
        ("after_days", 3, timedelta(days=3) - MINUTE, True),
        ("after_days", 3, timedelta(days=3) + MINUTE, False),
        ("after_days", 10, timedelta(days=9), True),  # longer than the default window
        ("freely", None, timedelta(days=400), True),
        ("never", None, MINUTE, False),
    ],
)
def test_reopen_policy_edges(settings, policy, days, closed_ago, reopens):
    settings.HELPDESK = {**settings.HELPDESK, "REOPEN_WINDOW_HOURS": 72}
    assert linking.reopens(team(policy, days), NOW - closed_ago, NOW) is reopens


# Reopen policy: a customer's follow-up through intake -------------------------------------------------------


def closed_ticket(agent, *, closed_ago: timedelta, policy: str = "", days=None) -> Ticket:
    Team.objects.filter(pk=agent.teams.get().pk).update(reopen_policy=policy, reopen_after_days=days)
    first = receive(InboundMessage(channel="email", sender="r@example.com", text="Broken", reference="ORD-9"))
    ticket = Ticket.objects.get(pk=int(first.ticket[2:]))
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    transitions.close(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Done")
    Ticket.objects.filter(pk=ticket.pk).update(closed_at=timezone.now() - closed_ago)
    return ticket


def follow_up():
    return receive(
        InboundMessage(
            channel="sms",
            sender="+441632960099",
            text="About ORD-9 again",
            reference="ORD-9",
            customer_unique_id=Ticket.objects.first().customer.unique_id,
        )
    )


@pytest.mark.parametrize(
    ("policy", "days", "closed_ago", "reopened"),
    [
        ("after_days", 5, timedelta(days=5) - MINUTE, True),
        ("after_days", 5, timedelta(days=5) + MINUTE, False),
        ("never", None, MINUTE, False),
        ("freely", None, timedelta(days=90), True),
        ("", None, timedelta(hours=72) - MINUTE, True),
        ("", None, timedelta(hours=72) + MINUTE, False),
    ],
)
def test_a_follow_up_reopens_or_opens_a_linked_ticket_per_team(agent, policy, days, closed_ago, reopened):
    closed = closed_ticket(agent, closed_ago=closed_ago, policy=policy, days=days)
    result = follow_up()
    closed.refresh_from_db()
    if reopened:
        assert (result.ticket, result.link_rule) == (closed.number, "reopened")
        assert closed.status == Status.ASSIGNED and closed.reopen_count == 1
    else:
        assert result.new_ticket and result.ticket != closed.number
        new = Ticket.objects.get(pk=int(result.ticket[2:]))
        assert new.follows == closed and closed.status == Status.CLOSED
