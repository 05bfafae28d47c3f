"""Routing triggered for real: a new ticket is committed, the django-q2 cluster hands it out."""

import time

import pytest
from django_q.brokers import get_broker
from django_q.cluster import Cluster

from tests.factories import AgentFactory
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Team, Ticket

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_new_ticket_and_a_freed_slot_are_routed_by_the_cluster():
    team = Team.objects.get(slug="front-office")
    agent = AgentFactory(user__username="cara", teams=[team], max_active_assignments=1)
    cluster = Cluster(get_broker())
    cluster.start()
    try:
        first = receive(InboundMessage(channel="sms", sender="+447700900201", text="Help with ORD-300"))
        second = receive(InboundMessage(channel="sms", sender="+447700900202", text="Help with ORD-301"))
        t1 = Ticket.objects.get(pk=int(first.ticket[2:]))
        t2 = Ticket.objects.get(pk=int(second.ticket[2:]))
        assert wait_for(lambda: Ticket.objects.filter(pk=t1.pk, assignee=agent).exists())
        # The agent is at the limit: the second ticket waits in the queue.
        assert Ticket.objects.get(pk=t2.pk).status == Status.NEW

        from tickets.services import transitions

        transitions.open_ticket(ticket=t1, actor=agent.user)
        transitions.close(ticket=t1, actor=agent.user, resolution_type="fixed", notes="Done")
        # Closing freed the slot: the queued ticket follows by itself.
        assert wait_for(lambda: Ticket.objects.filter(pk=t2.pk, assignee=agent).exists())
    finally:
        cluster.stop()
