"""The next-response SLA target (issue 6): after the first response, a customer message starts the clock,
the next agent reply stops it; a late answer's breach is recorded, the escalation scan counts it, and the
workspace shows it next to the other clocks."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tickets import sla
from tickets.intake import InboundMessage, receive
from tickets.models import EscalationFiring, EscalationRule, SlaPolicy, Ticket
from tickets.services import escalation, replies, transitions
from tickets.services import sla as sla_clocks

pytestmark = pytest.mark.django_db

SENDER = "nr@example.com"


def write(text: str, number: str | None = None):
    subject = f"Re: [{number}] Help" if number else "Help"
    return receive(InboundMessage(channel="email", sender=SENDER, text=text, subject=subject))


@pytest.fixture
def answered(agent) -> Ticket:
    """A ticket whose first response went out; the team counts 24/7 so due times are plain arithmetic."""
    ticket = Ticket.objects.get(pk=int(write("My modem is dead").ticket[2:]))
    ticket.team.calendar = None
    ticket.team.save()
    SlaPolicy.objects.update_or_create(
        priority=ticket.priority,
        team=None,
        defaults={"first_response_minutes": 60, "resolution_minutes": 600, "next_response_minutes": 120},
    )
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Please restart it")
    ticket.refresh_from_db()
    assert ticket.first_responded_at and ticket.next_response_due is None
    return ticket


def test_no_next_response_before_the_first_response():
    first = write("My modem is dead")
    write("Hello? Anyone?", first.ticket)
    ticket = Ticket.objects.get(pk=int(first.ticket[2:]))
    assert ticket.first_responded_at is None and ticket.next_response_due is None


def test_a_customer_message_after_the_first_response_starts_the_clock(answered):
    before = timezone.now()
    write("Restarted, still dead", answered.number)
    answered.refresh_from_db()
    assert before <= answered.next_response_started_at <= timezone.now()
    assert answered.next_response_due == answered.next_response_started_at + timedelta(minutes=120)


def test_a_second_message_does_not_push_the_due_time_back(answered):
    write("Restarted, still dead", answered.number)
    answered.refresh_from_db()
    due = answered.next_response_due
    write("Hello??", answered.number)
    answered.refresh_from_db()
    assert answered.next_response_due == due  # timed from the oldest unanswered message


def test_the_next_reply_stops_it_in_time_with_no_breach(answered, agent):
    write("Restarted, still dead", answered.number)
    replies.reply(ticket=answered, actor=agent.user, body="Sending an engineer")
    answered.refresh_from_db()
    assert answered.next_response_due is None and answered.next_response_breached_at is None
    assert not answered.sla_breached


def test_a_late_reply_records_the_breach_at_the_due_time(answered, agent):
    write("Restarted, still dead", answered.number)
    due = timezone.now() - timedelta(minutes=5)
    Ticket.objects.filter(pk=answered.pk).update(next_response_due=due)
    replies.reply(ticket=answered, actor=agent.user, body="Sorry for the wait")
    answered.refresh_from_db()
    assert answered.next_response_breached_at == due and answered.sla_breached
    assert answered.next_response_due is None
    event = answered.events.get(kind="sla_breach")
    assert event.data["clock"] == "next_response" and event.to_value == "next response"


def test_the_scan_records_a_running_breach_once_per_due_time_and_escalates(answered, agent):
    EscalationRule.objects.all().delete()
    rule = EscalationRule.objects.create(
        name="Next response breached",
        trigger=EscalationRule.Trigger.BREACHED,
        target=EscalationRule.Target.NEXT_RESPONSE,
        action=EscalationRule.Action.NOTIFY_SUPERVISOR,
    )
    write("Restarted, still dead", answered.number)
    answered.refresh_from_db()
    later = answered.next_response_due + timedelta(minutes=1)
    assert escalation.scan(later) == {"breaches": 1, "fired": 1}
    assert escalation.scan(later) == {"breaches": 0, "fired": 0}
    answered.refresh_from_db()
    assert answered.next_response_breached_at == answered.next_response_due and answered.escalated
    assert EscalationFiring.objects.filter(rule=rule, ticket=answered).count() == 1
    # Answered, then a new message: a new cycle, whose breach is recorded again.
    replies.reply(ticket=answered, actor=agent.user, body="Engineer booked")
    write("The engineer did not come", answered.number)
    answered.refresh_from_db()
    assert sla_clocks.clock_states(answered, now=timezone.now())["next_response"] == sla.OK
    assert escalation.scan(answered.next_response_due + timedelta(minutes=1))["breaches"] == 1
    assert answered.events.filter(kind="sla_breach", data__clock="next_response").count() == 2


def test_at_risk_by_the_one_definition(answered):
    write("Restarted, still dead", answered.number)
    answered.refresh_from_db()
    start, due = answered.next_response_started_at, answered.next_response_due
    share = sla.at_risk_share()
    assert (
        sla_clocks.clock_states(answered, now=start + (due - start) * share - timedelta(seconds=5))[
            "next_response"
        ]
        == sla.OK
    )
    assert (
        sla_clocks.clock_states(answered, now=start + (due - start) * share + timedelta(seconds=5))[
            "next_response"
        ]
        == sla.AT_RISK
    )


def test_pending_pauses_it_and_resuming_gives_back_the_time(answered, agent):
    write("Restarted, still dead", answered.number)
    answered.refresh_from_db()
    due = answered.next_response_due
    transitions.pend(ticket=answered, actor=agent.user, reason="Waiting on the engineer's slot")
    # Five hours spent waiting on the customer (the clock stood still meanwhile).
    Ticket.objects.filter(pk=answered.pk).update(sla_paused_at=timezone.now() - timedelta(hours=5))
    write("Any news?", answered.number)  # the customer's reply: pending → open, the clock resumes
    answered.refresh_from_db()
    assert answered.sla_paused_at is None
    assert abs((answered.next_response_due - (due + timedelta(hours=5))).total_seconds()) < 5


def test_resolving_stops_it(answered, agent):
    write("Restarted, still dead", answered.number)
    transitions.resolve(ticket=answered, actor=agent.user, resolution_type="fixed", notes="Replaced")
    answered.refresh_from_db()
    assert answered.next_response_due is None


def test_the_workspace_shows_the_next_response_clock(client, answered, agent):
    client.force_login(agent.user)
    page = client.get(reverse("desk:ticket_header", args=[answered.pk])).content.decode()
    assert "Next response" in page and "no answer owed" in page
    write("Restarted, still dead", answered.number)
    page = client.get(reverse("desk:ticket_header", args=[answered.pk])).content.decode()
    assert "Next response" in page and ("1 h 59 min left" in page or "2 h left" in page)
