"""Auto-close for real: the django-q2 cluster runs the task the schedule names, and the resolved ticket
left unanswered closes through the lifecycle."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.cluster import Cluster
from django_q.tasks import async_task

from helpdesk.schedules import SCHEDULES
from tests.factories import AgentFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Team, Ticket
from tickets.services import transitions

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_the_cluster_closes_an_unanswered_resolved_ticket():
    func = next(s["func"] for s in SCHEDULES if s["func"].endswith(".auto_close"))
    agent = AgentFactory(user__username="ace", teams=[Team.objects.get(slug="front-office")])
    ticket = TicketFactory()
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    transitions.resolve(ticket=ticket, actor=agent.user, resolution_type="fixed", notes="Replaced")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=4))
    cluster = Cluster(get_broker())
    cluster.start()
    try:
        async_task(func)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Ticket.objects.get(pk=ticket.pk).status != Status.CLOSED:
            time.sleep(0.2)
    finally:
        cluster.stop()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.events.get(kind="close").actor is None
