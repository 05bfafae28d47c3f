"""The one access decision: which tickets a user may see, and what a user may do to a ticket.

Every view, partial, export, download and task asks here. The lifecycle table says which *relations*
may take an action; this module works out the relations between a user and a ticket.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tickets import lifecycle
from tickets.models import Agent, Ticket


def agent_of(user) -> Agent | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.agent
    except Agent.DoesNotExist:
        return None


def is_admin(user) -> bool:
    agent = agent_of(user)
    return bool(getattr(user, "is_superuser", False) or (agent and agent.role == Agent.Role.ADMIN))


def team_ids(agent: Agent) -> set[int]:
    # Cached on the instance: one query per request however many tickets are checked.
    if not hasattr(agent, "_team_ids"):
        agent._team_ids = set(agent.teams.values_list("id", flat=True))
    return agent._team_ids


def relations(user, ticket: Ticket) -> frozenset[str]:
    """The lifecycle relations between ``user`` and ``ticket``; ``None`` is the system itself."""
    if user is None:
        return frozenset({lifecycle.SYSTEM})
    if is_admin(user):
        return frozenset({lifecycle.SUPERVISOR, lifecycle.TEAM})
    agent = agent_of(user)
    if agent is None:
        return frozenset()
    rel = set()
    if ticket.assignee_id == agent.pk:
        rel.add(lifecycle.OWNER)
    if ticket.team_id in team_ids(agent):
        rel.add(lifecycle.TEAM)
        if agent.role == Agent.Role.SUPERVISOR:
            rel.add(lifecycle.SUPERVISOR)
    return frozenset(rel)


def visible_tickets(user) -> QuerySet[Ticket]:
    """Tickets a user may see: admins all; agents and supervisors their teams' tickets and their own."""
    if is_admin(user):
        return Ticket.objects.all()
    agent = agent_of(user)
    if agent is None:
        return Ticket.objects.none()
    return Ticket.objects.filter(Q(team__in=team_ids(agent)) | Q(assignee=agent))


def can_view(user, ticket: Ticket) -> bool:
    return is_admin(user) or bool(relations(user, ticket))


def can(user, action: str, ticket: Ticket) -> bool:
    """May ``user`` take ``action`` on ``ticket`` now (role and state)?"""
    return lifecycle.allowed_from(action, ticket.status) and lifecycle.allowed_for(
        action, relations(user, ticket)
    )
