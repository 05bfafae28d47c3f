"""Distribution of a team's queue (DOMAIN.md, "Routing")."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.factories import AgentFactory, TicketFactory
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Ticket
from tickets.routing import Candidate, choose_agent
from tickets.services.routing import distribute


def test_choose_agent_prefers_free_capacity_then_longest_wait():
    now = timezone.now()
    a = Candidate(1, load=2, maximum=3, last_assigned_at=now)
    b = Candidate(2, load=0, maximum=2, last_assigned_at=now)
    c = Candidate(3, load=0, maximum=2, last_assigned_at=now - timedelta(hours=1))
    full = Candidate(4, load=5, maximum=5, last_assigned_at=None)
    assert choose_agent([a, b, c, full]).agent_id == 3
    assert choose_agent([full]) is None
    assert choose_agent([]) is None


@pytest.mark.django_db
def test_queue_goes_out_in_priority_order_within_limits(front_office):
    agent = AgentFactory(teams=[front_office], max_active_assignments=2)
    AgentFactory(teams=[front_office], presence=Agent.Presence.OFFLINE)  # never gets work
    low = TicketFactory(priority=4)
    urgent = TicketFactory(priority=1)
    medium = TicketFactory(priority=3)
    assigned = distribute(team=front_office)
    assert [a.ticket for a in assigned] == [urgent.number, medium.number]
    assert Ticket.objects.get(pk=low.pk).status == Status.NEW
    assert set(Ticket.objects.filter(assignee=agent).values_list("pk", flat=True)) == {urgent.pk, medium.pk}
    event = Ticket.objects.get(pk=urgent.pk).events.get(kind="assign")
    assert event.reason.startswith("most free capacity 0/2")


@pytest.mark.django_db
def test_route_command_prints_assignments(front_office, capsys):
    AgentFactory(user__username="rita", teams=[front_office])
    ticket = TicketFactory()
    call_command("route")
    out = capsys.readouterr().out
    assert f"{ticket.number} → rita" in out and "1 ticket(s) assigned" in out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_distributors_never_double_assign_or_exceed_limits(front_office):
    agents = [AgentFactory(teams=[front_office], max_active_assignments=3) for _ in range(8)]
    tickets = [TicketFactory(with_case=False) for _ in range(100)]
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            distribute(team=front_office)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for agent in agents:
        assert Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES).count() == 3
    assert Ticket.objects.filter(status=Status.ASSIGNED).count() == 24
    # Each assigned ticket was assigned exactly once.
    from tickets.models import TicketEvent

    assert TicketEvent.objects.filter(kind="assign").count() == 24
    assert Ticket.objects.filter(status=Status.NEW).count() == len(tickets) - 24


@pytest.mark.django_db
def test_routing_rules_choose_the_starting_team_in_order(front_office, back_office):
    from tests.factories import TeamFactory
    from tickets.intake import InboundMessage, receive
    from tickets.models import Customer, RoutingRule

    billing = TeamFactory(name="Billing", slug="billing")
    vip_desk = TeamFactory(name="VIP desk", slug="vip")
    RoutingRule.objects.create(name="VIPs", position=1, customer_tier="vip", team=vip_desk)
    RoutingRule.objects.create(name="Money words", position=2, keywords="invoice, refund", team=billing)
    RoutingRule.objects.create(name="Calls", position=3, channel="voice", team=back_office)
    RoutingRule.objects.create(name="Off", position=0, active=False, team=back_office)
    Customer.objects.create(unique_id="V1", tier="vip")

    def team_of(**kw):
        result = receive(InboundMessage(**kw))
        ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
        return ticket.team.slug, ticket.team_rule

    assert team_of(channel="email", sender="v@example.com", customer_unique_id="V1", text="My REFUND") == (
        "vip",
        "rule 'VIPs'",
    )
    assert team_of(channel="email", sender="a@example.com", text="Where is my Refund?") == (
        "billing",
        "rule 'Money words'",
    )
    assert team_of(channel="voice", sender="+447700900800", text="call") == ("technical", "rule 'Calls'")
    assert team_of(channel="sms", sender="+447700900801", text="hello") == (
        "front-office",
        "default team Front office",
    )
