from __future__ import annotations

from django.db.models import QuerySet

from tickets.lifecycle import Status
from tickets.models import Agent, Ticket
from tickets.routing import Candidate
from tickets.selectors.agents import with_load

# The order a team's queue is handed out in (DOMAIN.md): priority, SLA due time, age.
QUEUE_ORDER = ("priority", "resolution_due", "created_at", "id")


def queued_tickets(team_id: int) -> QuerySet[Ticket]:
    return Ticket.objects.filter(team_id=team_id, status=Status.NEW).order_by(*QUEUE_ORDER)


def routing_candidates(team_id: int) -> list[Candidate]:
    """Online, active agents of the team with their current load (one query)."""
    agents = with_load(
        Agent.objects.filter(teams=team_id, presence=Agent.Presence.ONLINE, user__is_active=True)
        .exclude(role=Agent.Role.ADMIN)
        .select_related("user")
    )
    return [Candidate(a.pk, a.load, a.max_active_assignments, a.last_assigned_at, str(a)) for a in agents]
