"""Sweeps run twice at once (PostgreSQL: row locks, real concurrent transactions): auto-close and the rule
sweep act once per ticket, and a customer's reopen racing the auto-close always wins."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.concurrency import race
from tests.factories import TicketFactory
from tickets.lifecycle import Status
from tickets.models import Rule, RuleFiring, Ticket, TicketEvent
from tickets.services import autoclose, rules, transitions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def resolved(agent, n: int) -> list[Ticket]:
    tickets = []
    for _ in range(n):
        t = TicketFactory()
        transitions.assign(ticket=t, actor=None, agent=agent)
        transitions.open_ticket(ticket=t, actor=agent.user)
        transitions.resolve(ticket=t, actor=agent.user, resolution_type="fixed", notes="Done")
        tickets.append(t)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        resolved_at=timezone.now() - timedelta(days=5)
    )
    return tickets


def test_two_auto_close_sweeps_at_once_close_each_ticket_once(agent):
    agent.max_active_assignments = 10
    agent.save()
    tickets = resolved(agent, 4)
    first, second = race(autoclose.close_unanswered, autoclose.close_unanswered)
    assert first + second == 4
    assert Ticket.objects.filter(status=Status.CLOSED).count() == 4
    assert TicketEvent.objects.filter(kind="close", ticket__in=tickets).count() == 4


def test_a_reopen_racing_the_auto_close_leaves_the_ticket_open(agent):
    agent.max_active_assignments = 10
    agent.save()
    for _ in range(3):
        (ticket,) = resolved(agent, 1)
        race(
            lambda t=ticket: autoclose.close_one(t.pk, now=timezone.now()),
            lambda t=ticket: transitions.reopen(ticket=t.pk, actor=None, reason="The customer wrote again"),
        )
        ticket.refresh_from_db()
        assert ticket.status != Status.CLOSED


def test_two_rule_sweeps_at_once_fire_each_rule_once_per_ticket():
    Rule.objects.update(active=False)
    rule = Rule.objects.create(
        name="Idle: P2", on_sweep=True, idle_hours=1, action=Rule.Action.RAISE_PRIORITY, new_priority=2
    )
    tickets = [TicketFactory() for _ in range(4)]
    Ticket.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    first, second = race(rules.sweep, rules.sweep)
    assert first + second == 4
    assert RuleFiring.objects.filter(rule=rule).count() == 4
    assert TicketEvent.objects.filter(kind="rule", ticket__in=tickets).count() == 4
    assert set(Ticket.objects.values_list("priority", flat=True)) == {2}
