from __future__ import annotations

from tickets.lifecycle import ACTIVE_STATUSES
from tickets.models import Agent, Ticket


def active_assignment_count(agent: Agent) -> int:
    """An agent's load: tickets they own in assigned, open or pending (DOMAIN.md, "Routing")."""
    return Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES).count()
