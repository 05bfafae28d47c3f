from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.errors import PermissionDenied
from tickets.lifecycle import Status
from tickets.models import Agent, Ticket
from tickets.services import transitions
from tickets.services.routing import overflow, set_presence, take_next

pytestmark = pytest.mark.django_db


def test_take_next_pulls_the_best_ticket_within_the_limit(front_office):
    agent = AgentFactory(teams=[front_office], max_active_assignments=1)
    TicketFactory(priority=3)
    urgent = TicketFactory(priority=1)
    taken = take_next(actor=agent.user)
    assert taken.pk == urgent.pk and taken.assignee == agent
    assert taken.events.last().reason == "taken by the agent (take next)"
    from tickets.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="maximum of 1"):
        take_next(actor=agent.user)


def test_take_next_with_an_empty_queue(front_office):
    assert take_next(actor=AgentFactory(teams=[front_office]).user) is None


def test_presence_by_the_agent_or_their_supervisor_only(front_office, back_office):
    agent = AgentFactory(teams=[front_office], presence=Agent.Presence.OFFLINE)
    boss = AgentFactory(role=Agent.Role.SUPERVISOR, teams=[front_office])
    stranger = AgentFactory(role=Agent.Role.SUPERVISOR, teams=[back_office])
    assert set_presence(agent=agent, presence="online", actor=agent.user).presence == "online"
    assert set_presence(agent=agent, presence="away", actor=boss.user).presence == "away"
    with pytest.raises(PermissionDenied):
        set_presence(agent=agent, presence="online", actor=stranger.user)


def test_overflow_moves_tickets_nobody_could_take_after_the_wait(front_office):
    fallback = TeamFactory(name="Overflow desk", slug="overflow")
    front_office.fallback_team = fallback
    front_office.overflow_after_minutes = 30
    front_office.save()
    old, fresh = TicketFactory(), TicketFactory()
    Ticket.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(minutes=31))
    Ticket.objects.filter(pk=fresh.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    moved = overflow()
    assert [m.ticket for m in moved] == [old.number]
    old.refresh_from_db()
    assert (old.team, old.status) == (fallback, Status.NEW)
    assert "overflow" in old.events.get(kind="transfer").reason
    assert overflow() == []  # safe to run twice


def test_no_overflow_while_an_agent_can_take_work(front_office):
    front_office.fallback_team = TeamFactory(slug="fb")
    front_office.save()
    AgentFactory(teams=[front_office])
    ticket = TicketFactory()
    Ticket.objects.filter(pk=ticket.pk).update(queued_at=timezone.now() - timedelta(hours=5))
    assert overflow() == []


def test_transfer_restarts_the_queue_clock(front_office, back_office, agent):
    ticket = transitions.assign(ticket=TicketFactory(), actor=None, agent=agent)
    moved = transitions.transfer(ticket=ticket, actor=agent.user, team=back_office, reason="technical")
    assert moved.queued_at is not None and moved.queued_at >= moved.assigned_at
